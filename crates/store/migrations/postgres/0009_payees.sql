-- Payees and payment profiles (issue 8, P2P transfers from the chat). Keep in step with the
-- other backend's 0009_payees.sql.
-- A customer's saved payees: plaintext only the ids and instants; the payee's name and IBAN are
-- sealed with the customer's data key (so erasing the customer, which destroys that key, makes
-- any copy unreadable, and the erasure deletes the rows too).
CREATE TABLE payees (
    id           TEXT PRIMARY KEY NOT NULL,
    customer_id  TEXT NOT NULL,
    sealed       BYTEA NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX payees_customer ON payees (customer_id, created_at);
-- What a payment at the bank needs to know about the customer beyond the order: their login at
-- the bank (PSU-ID, for decoupled approval in the bank app). Sealed like the payees.
CREATE TABLE payment_profiles (
    customer_id  TEXT PRIMARY KEY NOT NULL,
    sealed       BYTEA NOT NULL,
    updated_at   TEXT NOT NULL
);
