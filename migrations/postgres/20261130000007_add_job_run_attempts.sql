-- A failed run may be claimed again (after a pause, a few times): count the attempts.
ALTER TABLE job_runs ADD COLUMN attempts BIGINT NOT NULL DEFAULT 1;
