-- The keyword vocabulary (one row per canonical keyword, whatever its spelling) and the keywords of
-- each article. `normalized` is the Arabic matching form; `slug` names the keyword's feed URL.
CREATE TABLE keywords (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    normalized TEXT NOT NULL UNIQUE,
    slug       TEXT NOT NULL UNIQUE,
    origin     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE article_keywords (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    keyword_id INTEGER NOT NULL REFERENCES keywords (id) ON DELETE CASCADE,
    origin     TEXT NOT NULL,
    PRIMARY KEY (article_id, keyword_id)
);
CREATE INDEX article_keywords_by_keyword ON article_keywords (keyword_id, article_id);
