-- Read generations move on with transactions too (issue 9), SQLite only.
-- The gateway keeps a customer's merchant names (read from their sealed transactions before
-- every transactions question, for the NLU) in memory between questions (src/read_cache.rs),
-- under the same rule as accounts and balances (0025): every write to the customer's
-- transactions, whoever makes it, moves their generation on, and a kept copy is used only while
-- its generation is the stored one.
CREATE TRIGGER read_gen_transaction_insert AFTER INSERT ON transactions BEGIN
    INSERT INTO read_generations (customer_id, gen)
        SELECT customer_id, 1 FROM accounts WHERE id = NEW.account_id
        ON CONFLICT (customer_id) DO UPDATE SET gen = gen + 1;
END;

CREATE TRIGGER read_gen_transaction_update AFTER UPDATE ON transactions BEGIN
    INSERT INTO read_generations (customer_id, gen)
        SELECT customer_id, 1 FROM accounts WHERE id IN (OLD.account_id, NEW.account_id)
        ON CONFLICT (customer_id) DO UPDATE SET gen = gen + 1;
END;

CREATE TRIGGER read_gen_transaction_delete AFTER DELETE ON transactions BEGIN
    INSERT INTO read_generations (customer_id, gen)
        SELECT customer_id, 1 FROM accounts WHERE id = OLD.account_id
        ON CONFLICT (customer_id) DO UPDATE SET gen = gen + 1;
END;
