-- Alert settings and proactive notices (issue 10). Keep in step with ../postgres/0007_alerts.sql.
-- Settings (thresholds, quiet hours, channel) are sealed with the customer's data key: a
-- threshold says something about the customer's money. The notice ledger names events by id
-- only ("large_payment:<transaction id>"); a notice's text waits sealed until it is sent (at
-- once, after quiet hours, or in the daily digest) and is cleared then. Erasure deletes the
-- settings and clears unsent texts; the keys stay so a re-sync never repeats a notice.

CREATE TABLE alert_settings (
    customer_id  TEXT PRIMARY KEY NOT NULL,
    updated_at   TEXT NOT NULL,
    sealed       BLOB NOT NULL
);

-- Customers whose history the notice watcher has taken as its baseline (first sync seen).
CREATE TABLE notice_baselines (
    customer_id  TEXT PRIMARY KEY NOT NULL,
    taken_at     TEXT NOT NULL
);

-- One row per notice event and customer: each event is noticed exactly once.
CREATE TABLE notices (
    customer_id  TEXT NOT NULL,
    event_key    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    -- When it is to be sent (quiet hours end, the digest hour); NULL once sent or dropped.
    due_at       TEXT,
    sent_at      TEXT,
    -- 1 when it goes into the daily digest rather than on its own.
    digest       BIGINT NOT NULL,
    sealed       BLOB,
    PRIMARY KEY (customer_id, event_key)
);
CREATE INDEX notices_due ON notices (due_at);

-- Which customer got a digest on which local day: at most one a day.
CREATE TABLE notice_digests (
    customer_id  TEXT NOT NULL,
    day          TEXT NOT NULL,
    sent_at      TEXT NOT NULL,
    PRIMARY KEY (customer_id, day)
);
