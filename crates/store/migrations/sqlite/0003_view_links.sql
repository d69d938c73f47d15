-- Masked replies (issue 4): a financial answer that may not be shown where the customer asked
-- (a platform that reads the content, a room with others) waits here for its single-use link to
-- the bank-owned page. Keep in step with ../postgres/0003_view_links.sql.
-- Only a SHA-256 of the link's token is kept, so a copy of the table opens nothing; the reply is
-- sealed with the customer's data key (bound to the token hash) and cleared when viewed, expired
-- or the customer's data is erased. A viewed or expired row stays, empty, until purged, so a
-- replayed link is recognised (and audited against its customer) rather than unknown.

CREATE TABLE view_links (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    customer_id  TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    lang         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    viewed_at    TEXT,
    sealed       BLOB
);
CREATE INDEX view_links_customer ON view_links (customer_id);
CREATE INDEX view_links_expires ON view_links (expires_at);
