-- okienko store schema, SQLite flavour. Keep in step with ../postgres/0001_init.sql: the column
-- names and types the Rust code binds are the same on both backends.
-- Money: BIGINT minor units + ISO 4217 code. Dates: ISO TEXT 'YYYY-MM-DD'. Instants: RFC 3339 TEXT
-- in UTC with microseconds ('2026-01-02T03:04:05.000000Z'), so text order is time order.

CREATE TABLE customers (
    id          TEXT PRIMARY KEY NOT NULL,
    lang        TEXT NOT NULL,
    tz          TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE consents (
    id                 TEXT PRIMARY KEY NOT NULL,
    customer_id        TEXT NOT NULL,
    bank               TEXT NOT NULL,
    bank_consent_id    TEXT,
    status             TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    valid_until        TEXT NOT NULL,
    frequency_per_day  BIGINT NOT NULL,
    recurring          BIGINT NOT NULL,
    access_token       TEXT,
    oauth_state        TEXT UNIQUE,
    pkce_verifier      TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX consents_customer ON consents (customer_id, created_at);
CREATE INDEX consents_status ON consents (status);

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY NOT NULL,
    customer_id       TEXT NOT NULL,
    consent_id        TEXT NOT NULL,
    bank_resource_id  TEXT NOT NULL,
    iban              TEXT,
    currency          TEXT NOT NULL,
    name              TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    UNIQUE (consent_id, bank_resource_id)
);
CREATE INDEX accounts_customer ON accounts (customer_id);

CREATE TABLE balances (
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    kind            TEXT NOT NULL,
    amount_minor    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    reference_date  TEXT,
    fetched_at      TEXT NOT NULL,
    pos             BIGINT NOT NULL,
    PRIMARY KEY (account_id, pos)
);

CREATE TABLE transactions (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    id                   TEXT NOT NULL UNIQUE,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    bank_transaction_id  TEXT,
    status               TEXT NOT NULL,
    date                 TEXT NOT NULL,
    booking_date         TEXT,
    value_date           TEXT,
    amount_minor         BIGINT NOT NULL,
    currency             TEXT NOT NULL,
    -- |amount| * 10^4, currency-independent, for the filter's amount bounds.
    amount_abs_e4        BIGINT NOT NULL,
    merchant             TEXT,
    merchant_folded      TEXT,
    raw_description      TEXT NOT NULL,
    description_folded   TEXT NOT NULL,
    category             TEXT,
    counterparty_iban    TEXT,
    end_to_end_id        TEXT,
    fingerprint          TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX transactions_account_date ON transactions (account_id, date);
CREATE INDEX transactions_account_status ON transactions (account_id, status);

CREATE TABLE sync_state (
    account_id        TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id),
    last_sync_at      TEXT NOT NULL,
    last_booked_date  TEXT
);

CREATE TABLE access_budget (
    consent_id   TEXT NOT NULL,
    account_key  TEXT NOT NULL,
    day          TEXT NOT NULL,
    used         BIGINT NOT NULL,
    PRIMARY KEY (consent_id, account_key, day)
);

CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY NOT NULL,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    subject    TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    action     TEXT NOT NULL,
    decision   TEXT NOT NULL,
    channel    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);

-- The audit log is append-only: the database itself refuses to change or remove a row.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
