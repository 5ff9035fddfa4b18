-- Job history. The unique (job, tick) row is the claim that makes one scheduled tick run once,
-- whichever instance gets there first.
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job         TEXT NOT NULL,
    tick        TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    summary     TEXT,
    error       TEXT,
    UNIQUE (job, tick)
);
CREATE INDEX job_runs_recent ON job_runs (job, started_at DESC);
