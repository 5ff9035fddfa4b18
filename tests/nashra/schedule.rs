//! The scheduler's heartbeat: each job runs once per tick, on any instance; ticks are computed in
//! the job's time zone, so the 07:00 Cairo edition stays at 07:00 local across DST changes.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use nashra::schedule::{Job, heartbeat, run_job};

use crate::helpers::{TestApp, now};
use crate::on_both_backends;

/// (job, tick) of every recorded run, oldest first.
async fn runs(app: &TestApp) -> Vec<(String, DateTime<Utc>)> {
    let mut runs: Vec<_> =
        app.app.store.recent_job_runs(100).await.unwrap().into_iter().map(|r| (r.job, r.tick)).collect();
    runs.sort_by_key(|(job, tick)| (*tick, job.clone()));
    runs
}

async fn a_heartbeat_runs_each_due_job_once(app: TestApp) {
    app.subscribe("reader@example.org", &["داعش"]).await;
    let mut claimed = HashMap::new();
    heartbeat(&app.app, now() + Duration::seconds(5), &mut claimed).await;
    assert_eq!(runs(&app).await, [("collect".to_owned(), now()), ("digest:daily".to_owned(), now())]);
    assert_eq!(app.app.store.count_articles().await.unwrap(), 11, "collection ran first");
    assert_eq!(app.outbox_messages().len(), 1, "then the digest, then the outbox");

    // Later beats of the same tick run nothing, here or on another instance (no shared memory).
    heartbeat(&app.app, now() + Duration::seconds(40), &mut claimed).await;
    heartbeat(&app.app, now() + Duration::seconds(50), &mut HashMap::new()).await;
    assert_eq!(runs(&app).await.len(), 2);
    assert_eq!(app.outbox_messages().len(), 1);

    // The next collection tick comes ten minutes later.
    heartbeat(&app.app, now() + Duration::minutes(10), &mut claimed).await;
    assert_eq!(runs(&app).await.last().unwrap(), &("collect".to_owned(), now() + Duration::minutes(10)));
}

async fn the_daily_edition_stays_at_seven_in_cairo_across_the_clock_change(app: TestApp) {
    // Cairo leaves summer time (UTC+3 → UTC+2) at the end of Thursday 29 October 2026.
    let seven_summer = Utc.with_ymd_and_hms(2026, 10, 29, 4, 0, 0).unwrap();
    let seven_winter = Utc.with_ymd_and_hms(2026, 10, 30, 5, 0, 0).unwrap();
    let mut claimed = HashMap::new();
    for at in
        [seven_summer + Duration::seconds(3), seven_winter - Duration::hours(1), seven_winter + Duration::seconds(3)]
    {
        heartbeat(&app.app, at, &mut claimed).await;
    }
    let digest_ticks: Vec<_> =
        runs(&app).await.into_iter().filter(|(j, _)| j == "digest:daily").map(|(_, t)| t).collect();
    assert_eq!(
        digest_ticks,
        [seven_summer, seven_winter],
        "06:00 local on the 30th (07:00 of the old offset) is not a tick"
    );
}

async fn a_failed_run_is_tried_again_a_few_times_then_left(app: TestApp) {
    let job = Job::Digest("no-such-edition".into());
    let tick = now();
    let attempt = |at: DateTime<Utc>| run_job(&app.app, &job, tick, "schedule", at);
    assert!(attempt(now()).await.is_err(), "the run fails");
    assert!(matches!(attempt(now() + Duration::seconds(30)).await, Ok(None)), "not again at once");
    assert!(attempt(now() + Duration::minutes(3)).await.is_err(), "a second attempt after a pause");
    assert!(attempt(now() + Duration::minutes(6)).await.is_err(), "a third");
    assert!(matches!(attempt(now() + Duration::minutes(9)).await, Ok(None)), "then it is left failed");
    let run = app.app.store.recent_job_runs(1).await.unwrap().remove(0);
    assert_eq!(run.status, "failed");
    assert!(run.error.unwrap().contains("no-such-edition"));
}

on_both_backends!(
    a_heartbeat_runs_each_due_job_once,
    the_daily_edition_stays_at_seven_in_cairo_across_the_clock_change,
    a_failed_run_is_tried_again_a_few_times_then_left,
);
