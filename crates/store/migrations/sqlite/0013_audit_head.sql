-- The audit log's keyed checkpoint (see crates/store/src/audit.rs): the seq and hash of the last
-- row, MACed under the audit key and moved in the same transaction as every append, so deleting
-- the last rows or rewriting the chain is detected. One row (id = 1), created by the first keyed
-- append; `keyed_from` is that append's seq (older rows carry the unkeyed SHA-256 link).
CREATE TABLE audit_head (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    keyed_from  BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    mac         TEXT NOT NULL
);
