-- Web chat sessions shared by several gateway instances (issue 9). Keep in step with
-- ../sqlite/0022_webchat_sessions.sql.
--
-- webchat_sessions: which browser session token belongs to which customer. Only a keyed hash
-- (HMAC under a key derived from the master key) of the token is kept. last_seq is the highest
-- reply seq handed out; it is raised with UPDATE ... RETURNING, so two instances never hand out
-- the same seq. expires_at (RFC 3339 UTC, fixed width) moves with every use.
CREATE TABLE webchat_sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    customer_id  TEXT NOT NULL UNIQUE,
    lang         TEXT NOT NULL,
    last_seq     BIGINT NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX webchat_sessions_expires ON webchat_sessions (expires_at);

-- webchat_replies: the bounded backlog of replies a reconnecting browser may ask for. A reply can
-- hold a balance or transactions, so it is sealed with the customer's data key, bound to
-- (customer, seq); erasure deletes the rows (and the key).
CREATE TABLE webchat_replies (
    customer_id  TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    sealed       BYTEA NOT NULL,
    PRIMARY KEY (customer_id, seq)
);
