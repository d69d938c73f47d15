-- Payment notices (issue 9). Keep in step with the other backend's 0023_payment_notices.sql.
-- When the customer was told how their payment ended (the receipt or the rejection in the
-- chat); NULL while nobody has. An instance takes the right to tell by setting it with
-- `... WHERE notified_at IS NULL` right before the push, so of several gateways following one
-- payment exactly one pushes; a leader sweep pushes for final payments still NULL (the instance
-- that ended the payment died before telling).
ALTER TABLE payments ADD COLUMN notified_at TEXT;
-- Payments that ended before this migration were told by the code of that time: the sweep must
-- not send all their receipts again at once.
UPDATE payments SET notified_at = updated_at
    WHERE state IN ('executed', 'rejected', 'cancelled');
CREATE INDEX payments_unnotified ON payments (updated_at) WHERE notified_at IS NULL;
