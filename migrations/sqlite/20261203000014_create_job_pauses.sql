-- Jobs an operator paused (admin API or `nashra jobs pause`): their scheduled ticks are recorded
-- as skipped until they are resumed. Shared by every instance on the database.
CREATE TABLE job_pauses (
    job       TEXT PRIMARY KEY,
    paused_at TEXT NOT NULL
);
