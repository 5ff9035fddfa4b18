-- Polite collection across restarts: when a failing source may be polled again, the cache
-- validators of each fetched URL (kept only after a successful parse) for conditional GET, and
-- the lookups deduplication needs (by GUID, then by content).
ALTER TABLE sources ADD COLUMN next_poll_at TIMESTAMPTZ;
CREATE TABLE http_validators (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    saved_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX articles_by_guid ON articles (guid);
CREATE INDEX articles_by_content_hash ON articles (content_hash);
