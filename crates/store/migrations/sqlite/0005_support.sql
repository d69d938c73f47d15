-- Human support (issue 6): staff accounts and their sessions, support cases (what lets an agent
-- read a customer's data through the privacy gate), handed-over conversations and their
-- transcripts. Keep in step with ../postgres/0005_support.sql.
-- Transcript text is sealed with the customer's data key (like financial rows), so revoking the
-- consent and erasing the customer leaves nothing readable; everything else is ids, times and codes.

CREATE TABLE staff (
    id             TEXT PRIMARY KEY NOT NULL,
    bank           TEXT NOT NULL,
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    team           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX staff_bank ON staff (bank);

-- Only a hash of each session token is kept: a copy of the table cannot sign anyone in.
CREATE TABLE staff_sessions (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    staff_id    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

CREATE TABLE support_cases (
    id           TEXT PRIMARY KEY NOT NULL,
    agent        TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    opened_at    TEXT NOT NULL,
    closed_at    TEXT
);
CREATE INDEX support_cases_agent ON support_cases (agent, closed_at);

-- One row per handover. owner is the staff id holding it, NULL while it waits in the queue;
-- claiming is "UPDATE … WHERE owner IS NULL AND status = 'queued'", checked by rows affected.
CREATE TABLE support_conversations (
    id                 TEXT PRIMARY KEY NOT NULL,
    bank               TEXT NOT NULL,
    customer_id        TEXT NOT NULL,
    team               TEXT NOT NULL,
    owner              TEXT,
    status             TEXT NOT NULL,
    reason             TEXT NOT NULL,
    lang               TEXT NOT NULL,
    case_id            TEXT,
    requested_at       TEXT NOT NULL,
    claimed_at         TEXT,
    first_response_at  TEXT,
    closed_at          TEXT,
    resolution         TEXT,
    escalated          BIGINT NOT NULL DEFAULT 0,
    csat               BIGINT
);
CREATE INDEX support_conversations_queue ON support_conversations (bank, status, requested_at);
CREATE INDEX support_conversations_customer ON support_conversations (customer_id, status);

CREATE TABLE support_messages (
    id               TEXT PRIMARY KEY NOT NULL,
    conversation_id  TEXT NOT NULL,
    customer_id      TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    sender           TEXT NOT NULL,
    kind             TEXT NOT NULL,
    at               TEXT NOT NULL,
    sealed           BLOB NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE INDEX support_messages_customer ON support_messages (customer_id);
