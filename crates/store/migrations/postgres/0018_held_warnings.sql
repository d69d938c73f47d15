-- Warnings waiting for a customer's quiet hours to end (issue 5), so a restart of the gateway
-- delivers them when the quiet hours end, exactly once. Keep in step with
-- ../sqlite/0018_held_warnings.sql.
--
-- bank_warnings: a scam-campaign warning as the bank's analyst published it (its id, the bank
-- and its two texts). It describes a campaign, not a customer: nothing here is personal or
-- financial, so nothing is sealed. A later publish of the same id replaces the texts.
CREATE TABLE bank_warnings (
    notice_id     TEXT PRIMARY KEY NOT NULL,
    bank          TEXT NOT NULL,
    text_pl       TEXT NOT NULL,
    text_en       TEXT NOT NULL,
    published_at  TEXT NOT NULL
);

-- held_warnings: one warning held for one customer: ids and kinds only (the text is rebuilt at
-- delivery from bank_warnings, or for a fraud warning through the privacy gate), the instant it
-- is due and the channel it was meant for when it was held (a channel name such as "web_chat",
-- NULL = every open chat). Delivery claims the warning in notice_deliveries before it is sent,
-- then deletes the row, so a crash in between never sends it twice.
CREATE TABLE held_warnings (
    customer_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    ref_id       TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    held_at      TEXT NOT NULL,
    channel      TEXT,
    PRIMARY KEY (customer_id, kind, ref_id)
);
CREATE INDEX held_warnings_due ON held_warnings (due_at);
