-- Encryption at rest (envelope encryption, see src/vault.rs and src/sealed.rs). Each financial row
-- keeps its sensitive fields in one `sealed` BLOB, encrypted with the customer's data key; only ids,
-- dates, status, kind and currency stay readable. The folded search columns and |amount| are gone:
-- filters run in Rust after decryption.
-- The financial tables are a cache of the bank's data and plaintext cannot be encrypted in SQL, so
-- they are recreated empty and refilled by the next sync. Consent secrets move to `sealed` in Rust
-- at connect (the old plaintext columns stay, always NULL from now on).
-- The wrapped data keys live in a separate file attached as `keys` (created in Rust).

DROP TABLE sync_state;
DROP TABLE transactions;
DROP TABLE balances;
DROP TABLE accounts;

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY NOT NULL,
    customer_id       TEXT NOT NULL,
    consent_id        TEXT NOT NULL,
    bank_resource_id  TEXT NOT NULL,
    currency          TEXT NOT NULL,
    -- {iban, name}
    sealed            BLOB NOT NULL,
    seq               INTEGER NOT NULL,
    UNIQUE (consent_id, bank_resource_id)
);
CREATE INDEX accounts_customer ON accounts (customer_id);

CREATE TABLE balances (
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    kind            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    -- {amount_minor}
    sealed          BLOB NOT NULL,
    reference_date  TEXT,
    fetched_at      TEXT NOT NULL,
    pos             BIGINT NOT NULL,
    PRIMARY KEY (account_id, pos)
);

CREATE TABLE transactions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    status        TEXT NOT NULL,
    date          TEXT NOT NULL,
    booking_date  TEXT,
    value_date    TEXT,
    currency      TEXT NOT NULL,
    -- {amount_minor, bank_transaction_id, merchant, raw_description, category, counterparty_iban,
    --  end_to_end_id, fingerprint}
    sealed        BLOB NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX transactions_account_date ON transactions (account_id, date);
CREATE INDEX transactions_account_status ON transactions (account_id, status);

CREATE TABLE sync_state (
    account_id        TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    last_sync_at      TEXT NOT NULL,
    last_booked_date  TEXT
);

-- {access_token, pkce_verifier}, NULL when there is neither.
ALTER TABLE consents ADD COLUMN sealed BLOB;
