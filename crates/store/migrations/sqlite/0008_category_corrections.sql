-- A customer's own category corrections (issue 10): "Żabka is groceries" is remembered for that
-- customer only. Keep in step with ../postgres/0008_category_corrections.sql.
-- The merchant and the category are sealed with the customer's data key, bound to the row id; the
-- rows are deleted when the customer's data is erased, and the key's destruction makes any copy
-- unreadable.

CREATE TABLE category_corrections (
    id           TEXT PRIMARY KEY NOT NULL,
    customer_id  TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    sealed       BLOB NOT NULL
);
CREATE INDEX category_corrections_customer ON category_corrections (customer_id);
