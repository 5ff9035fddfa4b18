-- Editions are planned in pages, each in a short transaction, and resume where they stopped:
-- `planning` until every subscriber up to `planned_through` (an id) has been considered. Their
-- messages are due from `send_after` (milliseconds since the epoch by the database's clock).
ALTER TABLE digest_editions ADD COLUMN status TEXT NOT NULL DEFAULT 'planned';
ALTER TABLE digest_editions ADD COLUMN planned_through BIGINT NOT NULL DEFAULT 0;
ALTER TABLE digest_editions ADD COLUMN messages BIGINT NOT NULL DEFAULT 0;
ALTER TABLE digest_editions ADD COLUMN articles BIGINT NOT NULL DEFAULT 0;
ALTER TABLE digest_editions ADD COLUMN send_after BIGINT NOT NULL DEFAULT 0;
