-- Encryption at rest (envelope encryption, see src/vault.rs and src/sealed.rs). Keep in step with
-- ../sqlite/0002_encryption.sql. Each financial row keeps its sensitive fields in one `sealed`
-- BYTEA, encrypted with the customer's data key; only ids, dates, status, kind and currency stay
-- readable. The folded search columns and |amount| are gone: filters run in Rust after decryption.
-- The financial tables are a cache of the bank's data and plaintext cannot be encrypted in SQL, so
-- they are recreated empty and refilled by the next sync. Consent secrets move to `sealed` in Rust
-- at connect (the old plaintext columns stay, always NULL from now on).

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
    sealed            BYTEA NOT NULL,
    seq               BIGINT NOT NULL,
    UNIQUE (consent_id, bank_resource_id)
);
CREATE INDEX accounts_customer ON accounts (customer_id);

CREATE TABLE balances (
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    kind            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    sealed          BYTEA NOT NULL,
    reference_date  TEXT,
    fetched_at      TEXT NOT NULL,
    pos             BIGINT NOT NULL,
    PRIMARY KEY (account_id, pos)
);

CREATE TABLE transactions (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    status        TEXT NOT NULL,
    date          TEXT COLLATE "C" NOT NULL,
    booking_date  TEXT,
    value_date    TEXT,
    currency      TEXT NOT NULL,
    sealed        BYTEA NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX transactions_account_date ON transactions (account_id, date);
CREATE INDEX transactions_account_status ON transactions (account_id, status);

CREATE TABLE sync_state (
    account_id        TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    last_sync_at      TEXT NOT NULL,
    last_booked_date  TEXT
);

ALTER TABLE consents ADD COLUMN sealed BYTEA;

-- One data key per customer, wrapped by the master key `key_id`. Deleting the row shreds the
-- customer's encrypted data. (On SQLite these two tables live in the separate `.keys` file.)
CREATE TABLE customer_keys (
    customer_id  TEXT PRIMARY KEY NOT NULL,
    key_id       TEXT NOT NULL,
    wrapped      BYTEA NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX customer_keys_key_id ON customer_keys (key_id);

CREATE TABLE key_checks (
    key_id       TEXT PRIMARY KEY NOT NULL,
    check_value  BYTEA NOT NULL
);
