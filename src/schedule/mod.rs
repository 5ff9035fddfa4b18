//! The scheduler: when each job is due, and the trigger that runs it. The truth about "due" is
//! nashra's own (`spec::Schedule`, read in the job's time zone for every tick, and the job-run
//! rows in the store): each job has its own task that sleeps until its next tick — to the
//! millisecond, no polling — claims it (one unique row per job and tick, so one instance runs it)
//! and runs it, so jobs due together run at once, each recorded with its real start.
//! `tokio-cron-scheduler` drives the outbox beat (due retries, housekeeping) every 10 seconds; it
//! does not time the jobs, because it freezes a time-zone job's UTC offset at creation (its issue
//! #107) and would fire an hour off after a daylight-saving change.
//!
//! The misfire policy:
//! - at start, a job whose latest tick passed unrun runs it once (catch-up); the ticks before it
//!   since the job's last recorded tick are recorded as skipped ("nashra was not running");
//! - a scheduled run holds its job's lease (`job:<name>`) while it works: a tick that comes while
//!   the job is still running — here or on another instance — is recorded as skipped ("the
//!   previous run was still running"), never queued, and runs never overlap;
//! - after a late wake-up (a suspended machine) the latest passed tick runs and the ones before
//!   it are recorded as skipped;
//! - until a tick has settled (run well, or skipped) or the next is due, it is claimed again
//!   every 30 s: a run that failed is retried (up to three attempts, two minutes apart), one left
//!   `running` by an instance that died is taken over once its lease ran out, one whose claim
//!   failed (the database was away) is claimed at last; one stopped by a shutdown is taken up
//!   by the next start;
//! - a run whose job lease is lost (the database out of reach for longer than the lease, and
//!   another instance took it) stops where it is, as after a kill.
//!
//! At most the latest 1,000 skipped ticks of a gap are recorded one by one (the log counts all).
//! Runs from the admin API take the job's lease too; runs from the command line (`nashra
//! collect`, `digest send`) are recorded the same way but do not.

mod runner;

pub use crate::spec::Schedule;
pub use runner::{
    BY_API, Heartbeat, Job, JobOutput, Scheduled, catch_up, run_due, run_job, run_job_with, scheduled_jobs, start,
};
