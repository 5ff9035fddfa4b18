//! The scheduler: when each job is due, and the trigger that runs it. The truth about "due" is
//! nashra's own (`cron::Schedule`, read in the job's time zone at every tick, and the job-run rows
//! in the store); `tokio-cron-scheduler` only provides a heartbeat, because it freezes a
//! time-zone job's UTC offset at creation (its issue #107) and would fire an hour off after a
//! daylight-saving change. On each heartbeat, every job whose latest tick has not been claimed is
//! claimed (one unique row per job and tick, so one instance runs it) and run — which also means a
//! tick missed while the service was down is caught up at start (the latest one only).

mod runner;

pub use crate::spec::Schedule;
pub use runner::{Heartbeat, Job, JobOutput, Scheduled, heartbeat, run_job, run_job_with, scheduled_jobs, start};
