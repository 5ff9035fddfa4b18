-- A running job holds its (job, tick) row under a lease renewed while it works (milliseconds
-- since the epoch by the database's clock): when its process dies, another run of the same tick
-- (a restart, a retry by hand) may take it over as soon as the lease runs out.
ALTER TABLE job_runs ADD COLUMN lease_until BIGINT;
