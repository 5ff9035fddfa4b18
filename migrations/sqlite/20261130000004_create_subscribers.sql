-- Subscribers and the keywords each follows, in the order they chose (digest headings follow it).
CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    token           TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    confirmed_at    TEXT,
    unsubscribed_at TEXT
);
CREATE TABLE subscriber_keywords (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    keyword_id    INTEGER NOT NULL REFERENCES keywords (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    PRIMARY KEY (subscriber_id, keyword_id)
);
