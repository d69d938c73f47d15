-- Payments (issue 8). Keep in step with the other backend's 0006_payments.sql.
-- One row per payment the customer asked for in the chat, driven by crates/payments' state
-- machine. Plaintext: ids, the idempotency keys, product, currency, state, the bank's opaque
-- payment id and ISO 20022 reason code, instants. Sealed with the customer's data key: the
-- amount, both IBANs, the payee's name and the reference.
CREATE TABLE payments (
    id               TEXT PRIMARY KEY NOT NULL,
    customer_id      TEXT NOT NULL,
    -- The chat action's idempotency key: a retried message or a double click finds this row.
    action_key       TEXT NOT NULL,
    -- X-Request-ID sent to the bank on every initiation attempt, before and after restarts.
    request_id       TEXT NOT NULL UNIQUE,
    product          TEXT NOT NULL,
    currency         TEXT NOT NULL,
    state            TEXT NOT NULL,
    bank_payment_id  TEXT,
    reason           TEXT,
    sealed           BYTEA NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (customer_id, action_key)
);
CREATE INDEX payments_state ON payments (state);
CREATE INDEX payments_customer ON payments (customer_id, created_at);
