-- Collected articles, one row per canonical URL. Times are UTC; first_seen_at is when nashra first
-- stored the article (digest windows use it), published_at is what the page says.
CREATE TABLE articles (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id     INTEGER NOT NULL REFERENCES sources (id),
    url           TEXT NOT NULL UNIQUE,
    guid          TEXT,
    title         TEXT NOT NULL,
    author        TEXT,
    section       TEXT,
    summary       TEXT,
    body_html     TEXT NOT NULL,
    body_text     TEXT NOT NULL,
    image_url     TEXT,
    lang          TEXT,
    content_hash  TEXT NOT NULL,
    published_at  TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL
);
CREATE INDEX articles_by_published ON articles (published_at DESC, id DESC);
CREATE INDEX articles_by_first_seen ON articles (first_seen_at);
