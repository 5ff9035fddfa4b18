//! The scheduler: each job runs once per tick, on any instance; ticks are computed in the job's
//! time zone, so the 07:00 Cairo edition stays at 07:00 local across DST changes; missed ticks
//! are recorded as skipped with their reason; runs of one job never overlap.

use chrono::{DateTime, Duration, TimeZone, Utc};
use nashra::schedule::{Job, run_due, run_job};

use crate::helpers::{TestApp, now};
use crate::on_both_backends;

/// (job, tick) of every recorded run, oldest first.
async fn runs(app: &TestApp) -> Vec<(String, DateTime<Utc>)> {
    let mut runs: Vec<_> =
        app.app.store.recent_job_runs(100).await.unwrap().into_iter().map(|r| (r.job, r.tick)).collect();
    runs.sort_by_key(|(job, tick)| (*tick, job.clone()));
    runs
}

async fn each_due_job_runs_once_per_tick(app: TestApp) {
    app.subscribe("reader@example.org", &["داعش"]).await;
    // Collection and the edition are due together: they run at once (the edition's window ends
    // before a collection still under way, whose articles go to the next edition).
    run_due(&app.app, now() + Duration::seconds(5)).await;
    assert_eq!(runs(&app).await, [("collect".to_owned(), now()), ("digest:daily".to_owned(), now())]);
    assert_eq!(app.app.store.count_articles().await.unwrap(), 11);

    // Later passes over the same tick run nothing, here or on another instance.
    run_due(&app.app, now() + Duration::seconds(40)).await;
    run_due(&app.app, now() + Duration::seconds(50)).await;
    assert_eq!(runs(&app).await.len(), 2);

    // The next collection tick comes ten minutes later; the edition's tick is the same.
    run_due(&app.app, now() + Duration::minutes(10)).await;
    assert_eq!(runs(&app).await.last().unwrap(), &("collect".to_owned(), now() + Duration::minutes(10)));
    assert_eq!(runs(&app).await.len(), 3);

    // After a day down, the latest tick of each job runs and the ones missed are recorded as
    // skipped, with the reason.
    run_due(&app.app, now() + Duration::days(1) + Duration::minutes(1)).await;
    let all = app.app.store.recent_job_runs(1000).await.unwrap();
    let skipped: Vec<_> = all.iter().filter(|r| r.status == "skipped").collect();
    assert_eq!(skipped.iter().filter(|r| r.job == "collect").count(), 24 * 6 - 2, "every ten minutes");
    assert_eq!(skipped.iter().filter(|r| r.job == "digest:daily").count(), 0, "a daily edition missed none");
    assert!(skipped.iter().all(|r| r.summary.as_deref() == Some("nashra was not running")));
    assert!(all.iter().any(|r| r.job == "collect" && r.status == "ok" && r.tick == now() + Duration::days(1)));
    assert!(all.iter().any(|r| r.job == "digest:daily" && r.tick == now() + Duration::days(1)));
}

/// A scheduled run holds its job's lease: a tick of the same job that comes meanwhile — on this
/// instance or another — is recorded as skipped, not run beside it.
async fn a_job_never_overlaps_itself(app: TestApp) {
    let job = Job::Feeds;
    let name = job.name();
    // Another instance's run of this job holds the lease.
    assert!(
        app.app
            .store
            .acquire_lease(&format!("job:{name}"), "another-instance", std::time::Duration::from_secs(60))
            .await
            .unwrap()
    );
    let tick = now();
    assert!(run_job(&app.app, &job, tick, "schedule", now()).await.unwrap().is_none());
    let run = app.app.store.recent_job_runs(1).await.unwrap().remove(0);
    assert_eq!((run.tick, run.status.as_str()), (tick, "skipped"));
    assert!(run.summary.unwrap().contains("still running"));
    // A run by hand is the operator's call: not held back.
    assert!(run_job(&app.app, &job, tick + Duration::seconds(1), "manual", now()).await.unwrap().is_some());
    // Once the other run is over, the next tick runs.
    app.app.store.release_lease(&format!("job:{name}"), "another-instance").await.unwrap();
    let next = tick + Duration::minutes(1);
    assert!(run_job(&app.app, &job, next, "schedule", next).await.unwrap().is_some());
}

async fn the_daily_edition_stays_at_seven_in_cairo_across_the_clock_change(app: TestApp) {
    // Cairo leaves summer time (UTC+3 → UTC+2) at the end of Thursday 29 October 2026.
    let seven_summer = Utc.with_ymd_and_hms(2026, 10, 29, 4, 0, 0).unwrap();
    let seven_winter = Utc.with_ymd_and_hms(2026, 10, 30, 5, 0, 0).unwrap();
    for at in
        [seven_summer + Duration::seconds(3), seven_winter - Duration::hours(1), seven_winter + Duration::seconds(3)]
    {
        run_due(&app.app, at).await;
    }
    let ran = app.app.store.recent_job_runs(1000).await.unwrap().into_iter().filter(|r| r.status != "skipped");
    let mut digest_ticks: Vec<_> = ran.filter(|r| r.job == "digest:daily").map(|r| r.tick).collect();
    digest_ticks.sort();
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
    each_due_job_runs_once_per_tick,
    a_job_never_overlaps_itself,
    the_daily_edition_stays_at_seven_in_cairo_across_the_clock_change,
    a_failed_run_is_tried_again_a_few_times_then_left,
);
