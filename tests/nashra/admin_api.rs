//! The admin API: the operator's views and actions over HTTP with their own bearer token — the
//! same data as the command line (one implementation behind both).

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Backend, Options, TestApp, now};
use crate::processes::nashra_output;

const ADMIN: &str = "admin-0123456789abcdef0123456789abcdef";

async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

async fn app() -> TestApp {
    let options = Options { extra_toml: format!("[api]\nadmin_token = \"{ADMIN}\"\n"), ..Options::default() };
    TestApp::spawn_with(Backend::Sqlite, options).await.unwrap()
}

impl TestApp {
    async fn admin_get(&self, path: &str) -> (u16, Value) {
        json(self.http.get(self.url(path)).bearer_auth(ADMIN).send().await.unwrap()).await
    }

    async fn admin_post(&self, path: &str, body: &str) -> (u16, Value) {
        let request = self.http.post(self.url(path)).bearer_auth(ADMIN).header("content-type", "application/json");
        json(request.body(body.to_owned()).send().await.unwrap()).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_admin_token_opens_it() {
    let app = app().await;
    let anonymous = app.http.get(app.url("/api/v1/admin/jobs")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let wrong = app.http.get(app.url("/api/v1/admin/jobs")).bearer_auth("admin-0123456789abcdef0123456789abcdeX");
    assert_eq!(wrong.send().await.unwrap().status(), 401);
    // Not configured: closed to everyone.
    let closed = TestApp::spawn_with(Backend::Sqlite, Options::default()).await.unwrap();
    let response = closed.http.get(closed.url("/api/v1/admin/jobs")).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_seen_paused_resumed_and_run_as_from_the_command_line() {
    let app = app().await;
    let (status, jobs) = app.admin_get("/api/v1/admin/jobs").await;
    assert_eq!(status, 200, "{jobs}");
    let names: Vec<&str> = jobs["jobs"].as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["collect", "digest:daily"]);
    let daily = &jobs["jobs"][1];
    assert_eq!(daily["time_zone"], "Africa/Cairo");
    assert_eq!(daily["next_runs"].as_array().unwrap().len(), 3);
    assert!(daily["next_runs"][0]["local"].as_str().unwrap().ends_with("T07:00:00+02:00"), "{daily}");
    // The command line shows the same next runs.
    let (ok, out, err) = nashra_output(&app, &["jobs"]);
    assert!(ok, "{err}");
    assert!(out.contains(daily["next_runs"][0]["shown"].as_str().unwrap()), "{out}");

    // Paused: a scheduled tick is recorded as skipped, on any instance.
    let (status, paused) = app.admin_post("/api/v1/admin/jobs/collect/pause", "").await;
    assert_eq!((status, &paused["changed"]), (200, &Value::Bool(true)));
    assert!(app.admin_get("/api/v1/admin/jobs").await.1["jobs"][0]["paused_since"].is_string());
    let (_, out, _) = nashra_output(&app, &["jobs"]);
    assert!(out.contains("PAUSED since"), "{out}");
    let job = nashra::schedule::Job::Collect(None);
    assert!(nashra::schedule::run_job(&app.app, &job, now(), "schedule", now()).await.unwrap().is_none());
    let run = app.app.store.recent_job_runs(1).await.unwrap().remove(0);
    assert_eq!((run.status.as_str(), run.summary.as_deref()), ("skipped", Some("paused by an operator")));
    let (_, resumed) = app.admin_post("/api/v1/admin/jobs/collect/resume", "").await;
    assert_eq!(resumed["changed"], true);
    let (_, out, _) = nashra_output(&app, &["jobs", "resume", "collect"]);
    assert!(out.contains("already resumed"), "{out}");

    // Run now: accepted at once, then in the history.
    let (status, started) = app.admin_post("/api/v1/admin/jobs/collect/run", "").await;
    assert_eq!((status, &started["started"]), (202, &Value::Bool(true)));
    let mut ran = false;
    for _ in 0..100 {
        let runs = app.admin_get("/api/v1/admin/jobs").await.1["recent_runs"].clone();
        ran = runs.as_array().unwrap().iter().any(|r| r["trigger"] == "api" && r["status"] == "ok");
        if ran {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ran, "the run by hand finished");
    assert_eq!(app.app.store.count_articles().await.unwrap(), 11);
    let (status, missing) = app.admin_post("/api/v1/admin/jobs/nothing/run", "").await;
    assert_eq!(status, 404);
    assert!(missing["error"].as_str().unwrap().contains("collect, digest:daily"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_and_the_sources_are_seen_and_failed_messages_put_back() {
    let app = app().await;
    app.subscribe("reader@example.org", &["داعش"]).await;
    app.collect().await;
    app.send_digest(now()).await;
    let (status, outbox) = app.admin_get("/api/v1/admin/outbox").await;
    assert_eq!(status, 200);
    assert_eq!(outbox["editions"][0]["deliveries"]["sent"], 1, "{outbox}");
    let (_, out, _) = nashra_output(&app, &["outbox"]);
    assert!(out.contains(&format!("#{}", outbox["editions"][0]["edition"])) && out.contains("1 sent"), "{out}");
    let (status, retried) = app.admin_post("/api/v1/admin/outbox/retry", r#"{"failed": true}"#).await;
    assert_eq!((status, &retried["requeued"]), (200, &Value::from(0)));
    assert_eq!(app.admin_post("/api/v1/admin/outbox/retry", r#"{"edition": "x"}"#).await.0, 422);
    assert_eq!(app.admin_post("/api/v1/admin/outbox/retry", "not json").await.0, 400);
    let (status, sources) = app.admin_get("/api/v1/admin/sources").await;
    assert_eq!(status, 200);
    assert_eq!(sources[0]["name"], "demo");
    assert_eq!(sources[0]["kind"], "html");
    assert!(sources[0]["last_success_at"].is_string(), "{sources}");
    let (_, out, _) = nashra_output(&app, &["sources"]);
    assert!(out.contains("demo") && out.contains("0 failure(s) in a row"), "{out}");
}
