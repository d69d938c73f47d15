-- View links as bearer links, reduced (issue 4): when a link that was already opened is opened
-- again, the customer is told in the chat once ("Ten link został już otwarty o 10:42 — jeśli to
-- nie Ty, …"), so a leaked link is visible. This column records that the notice was given, so
-- it is given once per link even with several gateway processes.
-- Keep in step with ../sqlite/0011_view_link_replays.sql.

ALTER TABLE view_links ADD COLUMN replay_noticed_at TEXT;
