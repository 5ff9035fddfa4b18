-- What a digest says, once per edition however many readers get the same: the keywords and the
-- articles under each ("kw:a,a;kw:a", ids). A message is rendered from it when it is sent.
CREATE TABLE digest_contents (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    edition_id INTEGER NOT NULL REFERENCES digest_editions (id) ON DELETE CASCADE,
    sections   TEXT NOT NULL,
    UNIQUE (edition_id, sections)
);
