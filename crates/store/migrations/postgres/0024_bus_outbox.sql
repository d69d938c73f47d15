-- The bus outbox (issue 9): events waiting to be published on the event bus. Keep in step with
-- ../sqlite/0024_bus_outbox.sql.
--
-- A row is written in the transaction (or right after the commit) of the change it announces,
-- so a bus that is down, or a process that dies, loses no announcement: every gateway instance
-- runs a relay that claims due rows, publishes each under its id (the bus's idempotency id, so a
-- publish repeated after a crash is stored once) and deletes it, or moves next_attempt_at on
-- after a failure (capped exponential backoff, never giving up).
--
-- The event is the bus's JSON: ids and closed states only, never amounts, IBANs or texts (the
-- bus sits outside the privacy gate), so nothing here is sealed. Instants are RFC 3339 UTC text
-- of fixed width, so text order is time order. A relay claims a row by setting claimed_by (its
-- random token) and claimed_until (a lease): with several instances on one database only one
-- relays a row at a time, and a row whose relay died is due again when its lease runs out.
CREATE TABLE bus_outbox (
    id               TEXT PRIMARY KEY NOT NULL,
    topic            TEXT NOT NULL,
    event            TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    claimed_until    TEXT,
    claimed_by       TEXT
);
CREATE INDEX bus_outbox_due ON bus_outbox (next_attempt_at);
