-- Read generations (issue 9), SQLite only: PostgreSQL reads are not cached.
-- On SQLite the gateway keeps a customer's decrypted accounts and balances in memory between
-- questions (src/read_cache.rs). Every write to them, whoever makes it (this process, another
-- `okienko` process on the same file, an erase), moves the customer's generation on, by these
-- triggers; a kept copy is used only while its generation is the stored one. Rows are never
-- deleted, so a generation never repeats.
CREATE TABLE read_generations (
    customer_id TEXT PRIMARY KEY NOT NULL,
    gen         INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO read_generations (customer_id, gen)
    SELECT DISTINCT customer_id, 1 FROM accounts WHERE true
    ON CONFLICT (customer_id) DO NOTHING;

CREATE TRIGGER read_gen_account_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO read_generations (customer_id, gen) VALUES (NEW.customer_id, 1)
        ON CONFLICT (customer_id) DO UPDATE SET gen = gen + 1;
END;

CREATE TRIGGER read_gen_account_update AFTER UPDATE ON accounts BEGIN
    INSERT INTO read_generations (customer_id, gen) VALUES (OLD.customer_id, 1)
        ON CONFLICT (customer_id) DO UPDATE SET gen = gen + 1;
    INSERT INTO read_generations (customer_id, gen) VALUES (NEW.customer_id, 1)
        ON CONFLICT (customer_id) DO UPDATE SET gen = gen + 1;
END;

CREATE TRIGGER read_gen_account_delete AFTER DELETE ON accounts BEGIN
    INSERT INTO read_generations (customer_id, gen) VALUES (OLD.customer_id, 1)
        ON CONFLICT (customer_id) DO UPDATE SET gen = gen + 1;
END;

CREATE TRIGGER read_gen_balance_insert AFTER INSERT ON balances BEGIN
    INSERT INTO read_generations (customer_id, gen)
        SELECT customer_id, 1 FROM accounts WHERE id = NEW.account_id
        ON CONFLICT (customer_id) DO UPDATE SET gen = gen + 1;
END;

CREATE TRIGGER read_gen_balance_update AFTER UPDATE ON balances BEGIN
    INSERT INTO read_generations (customer_id, gen)
        SELECT customer_id, 1 FROM accounts WHERE id IN (OLD.account_id, NEW.account_id)
        ON CONFLICT (customer_id) DO UPDATE SET gen = gen + 1;
END;

CREATE TRIGGER read_gen_balance_delete AFTER DELETE ON balances BEGIN
    INSERT INTO read_generations (customer_id, gen)
        SELECT customer_id, 1 FROM accounts WHERE id = OLD.account_id
        ON CONFLICT (customer_id) DO UPDATE SET gen = gen + 1;
END;
