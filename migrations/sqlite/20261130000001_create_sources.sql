-- Where articles come from: one row per configured source, keyed by its name in nashra.toml.
CREATE TABLE sources (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    url             TEXT NOT NULL,
    last_polled_at  TEXT,
    last_success_at TEXT,
    last_error      TEXT,
    failure_count   INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);
