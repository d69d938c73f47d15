-- Conversation state shared by every gateway instance (issue 9). Keep in step with
-- ../postgres/0020_conversations.sql.
--
-- conversations: one row per customer with what the dialog remembers between messages (the
-- transfer form in progress, the last transactions question and the ids of its rows, a card
-- choice waiting for an answer, the last few messages). The state is sealed with the customer's
-- data key, bound to the customer id and the row's version, so erasing the customer's key makes
-- any copy unreadable; erasure deletes the row too. version is the optimistic-concurrency
-- counter: a write names the version it read, and loses (changes nothing) when another instance
-- wrote first. Rows idle longer than the dialog's expiry are purged by updated_at.
CREATE TABLE conversations (
    customer_id  TEXT PRIMARY KEY NOT NULL,
    version      BIGINT NOT NULL,
    sealed       BLOB NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX conversations_updated ON conversations (updated_at);
