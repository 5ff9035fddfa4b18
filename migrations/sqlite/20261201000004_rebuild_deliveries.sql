-- The outbox, rebuilt so that it stays small and fast at any list size:
-- * a row says what to send (its digest content) instead of holding a rendered copy;
-- * a claim is a lease: `lease_owner` (one sender) until `lease_until`;
-- * `queued_at`, `due_at` and `lease_until` are milliseconds since the epoch by the database's
--   clock, so every sender judges them by the same clock, whatever its own or its --now says;
-- * retries last until `queued_at` plus the retry period; `bounced` is a refusal of the address.
-- Partial indexes hold only the rows waiting or in flight, so a claim costs the same however
-- many were sent before. Messages still waiting from the older outbox are not carried over
-- (their rendered copies are dropped): they are cancelled, and their readers' cursors were not
-- advanced, so those articles go in each reader's next digest.
CREATE TABLE deliveries_v2 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    edition_id    INTEGER NOT NULL REFERENCES digest_editions (id),
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    content_id    INTEGER REFERENCES digest_contents (id),
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    queued_at     INTEGER NOT NULL,
    due_at        INTEGER NOT NULL,
    lease_owner   TEXT,
    lease_until   INTEGER,
    last_error    TEXT,
    sent_at       TEXT,
    UNIQUE (edition_id, subscriber_id)
);
INSERT INTO deliveries_v2 (edition_id, subscriber_id, status, attempts, queued_at, due_at, last_error, sent_at)
SELECT edition_id, subscriber_id,
       CASE WHEN status IN ('pending', 'sending') THEN 'cancelled' ELSE status END,
       attempts, 0, 0,
       CASE WHEN status IN ('pending', 'sending')
            THEN 'planned by an older nashra; its articles go in the next digest'
            ELSE last_error END,
       sent_at
FROM deliveries ORDER BY id;
DROP TABLE deliveries;
ALTER TABLE deliveries_v2 RENAME TO deliveries;
CREATE INDEX deliveries_pending ON deliveries (due_at, content_id) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_by_subscriber ON deliveries (subscriber_id);
