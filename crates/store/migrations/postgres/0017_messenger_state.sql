-- Messenger state that must survive a restart (issue 7). Keep in step with
-- ../sqlite/0017_messenger_state.sql.
--
-- messenger_replays: the webhook events already handled, so a correctly signed delivery played
-- again after a restart is still refused. Only a keyed hash (HMAC under the channel's PSID key)
-- of each event's key is kept (a fallback key names the PSID); rows older than the replay window
-- are purged (older events are refused by their timestamp anyway).
CREATE TABLE messenger_replays (
    key_hash  TEXT PRIMARY KEY NOT NULL,
    seen_at   TEXT NOT NULL
);
CREATE INDEX messenger_replays_seen ON messenger_replays (seen_at);

-- messenger_links: which page-scoped id (PSID) a Messenger customer is reached at, for pushes
-- after a restart. The row is keyed by the customer id, itself a keyed HMAC of page and PSID
-- (pseudonymous); the PSID and page id are sealed with the customer's data key (bound to the
-- customer id), so a copy of the table names nobody and erasing the customer's key forgets it.
-- account_linked_at: when Meta's account linking completed with a code this gateway issued.
CREATE TABLE messenger_links (
    customer_id        TEXT PRIMARY KEY NOT NULL,
    last_inbound       TEXT NOT NULL,
    account_linked_at  TEXT,
    sealed             BYTEA NOT NULL
);

-- messenger_link_codes: single-use secrets of Meta's account linking. kind 'state' rides in the
-- account-link URL the bot sent to one PSID; kind 'code' is the authorization code handed back
-- to Meta and expected in the account_linking webhook of that same PSID. Only SHA-256 hashes of
-- the random secrets are kept; used or expired rows are purged.
CREATE TABLE messenger_link_codes (
    code_hash    TEXT PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);
CREATE INDEX messenger_link_codes_expires ON messenger_link_codes (expires_at);
