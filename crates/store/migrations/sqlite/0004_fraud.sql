-- Fraud warnings (issue 5). Keep in step with the other backend's 0004_fraud.sql.
-- No amounts, merchants or card numbers here: episodes and cases name transactions and accounts
-- by id only; whoever needs the content reads it through the privacy gate.

-- Customers whose history the fraud watcher has taken as its baseline (first sync seen).
CREATE TABLE fraud_baselines (
    customer_id  TEXT PRIMARY KEY NOT NULL,
    taken_at     TEXT NOT NULL
);

-- One row per fraud episode: suspicious transactions close together in time warn once.
CREATE TABLE fraud_episodes (
    id           TEXT PRIMARY KEY NOT NULL,
    customer_id  TEXT NOT NULL,
    opened_at    TEXT NOT NULL,
    last_at      TEXT NOT NULL,
    severity     TEXT NOT NULL,
    status       TEXT NOT NULL,
    warning_tx   TEXT,
    account_id   TEXT,
    warn_due_at  TEXT,
    warned_at    TEXT,
    answered_at  TEXT
);
CREATE INDEX fraud_episodes_customer ON fraud_episodes (customer_id, opened_at);
CREATE INDEX fraud_episodes_due ON fraud_episodes (status, warn_due_at);

-- Fraud cases for bank staff, opened when the customer says a transaction was not theirs.
CREATE TABLE fraud_cases (
    id             TEXT PRIMARY KEY NOT NULL,
    customer_id    TEXT NOT NULL,
    episode_id     TEXT NOT NULL UNIQUE,
    status         TEXT NOT NULL,
    opened_at      TEXT NOT NULL,
    closed_at      TEXT,
    cards_blocked  BIGINT NOT NULL
);
CREATE INDEX fraud_cases_customer ON fraud_cases (customer_id, opened_at);

-- Which bank warning (by the analyst's id) reached which customer: each exactly once.
CREATE TABLE notice_deliveries (
    notice_id     TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    delivered_at  TEXT NOT NULL,
    PRIMARY KEY (notice_id, customer_id)
);
