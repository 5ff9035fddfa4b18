-- What changed since a feed build. `feed_revision` is a counter raised in the transaction of every
-- change a feed shows (an article stored or rewritten, keywords added to stored articles, a keyword
-- created or brought into the vocabulary); each keyword keeps the counter's value at its latest
-- change. Writers raise the counter after their article rows and before their keyword rows, and
-- hold its row lock until they commit, so the counter's order is the commit order: a builder that
-- read value N has seen every change numbered N or less, and rebuilds only the keyword feeds above
-- its last N. (A sequence would not do: its numbers are handed out before commit, in any order.)
CREATE TABLE feed_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO feed_revision (id, revision) VALUES (1, 1);
ALTER TABLE keywords ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;
CREATE INDEX keywords_by_revision ON keywords (revision);
-- A keyword feed orders its articles by date from this index, without reading the article rows.
CREATE INDEX articles_recency ON articles (id, published_at);
