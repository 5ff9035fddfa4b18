//! The subscriber API a publisher's CMS calls: its own token, the web form's validation with
//! each bad field named in JSON, double opt-in unless the caller vouches for the consent.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::signup::confirmation_link;

const TOKEN: &str = "api-token-for-the-cms-0123456789abcdef";

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

fn fields(errors: &Value) -> Vec<&str> {
    errors["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect()
}

async fn only_the_api_token_opens_the_api(app: TestApp) {
    for token in [None, Some("wrong-token-wrong-token-wrong-token!"), Some("push-token-0123456789")] {
        let mut request = app.http.get(app.url("/api/v1/subscribers"));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
    }
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/subscribers", None).await.0, StatusCode::OK);
}

async fn a_cms_signs_readers_up_with_double_opt_in(app: TestApp) {
    app.collect().await;
    let (status, answer) = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/subscribers",
        Some(json!({ "email": "Reader@Example.org", "keywords": ["داعش", "تنظيم الدولة"] })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let link = confirmation_link(&app, 1).await;
    let (_, reader) = call(&app, reqwest::Method::GET, "/api/v1/subscribers/reader@example.org", None).await;
    assert_eq!(reader["status"], "pending");
    assert_eq!(reader["keywords"], json!(["داعش"]), "an alias is its keyword");
    assert_eq!(app.http.post(&link).send().await.unwrap().status(), StatusCode::OK);
    let (_, reader) = call(&app, reqwest::Method::GET, "/api/v1/subscribers/READER@example.org", None).await;
    assert_eq!(reader["status"], "active");
    // The same answer for an address already subscribed, and nothing sent.
    let again = json!({ "email": "reader@example.org", "keywords": ["الإرهاب"] });
    assert_eq!(call(&app, reqwest::Method::POST, "/api/v1/subscribers", Some(again)).await.0, StatusCode::ACCEPTED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.outbox_messages().len(), 1);

    // Every bad field named; nothing written.
    let bad = json!({ "email": "not an address", "keywords": ["كرة القدم"], "editions": "daily", "colour": 1 });
    let (status, errors) = call(&app, reqwest::Method::POST, "/api/v1/subscribers", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&errors), ["body", "editions"], "{errors}");
    let bad = json!({ "email": "not an address", "keywords": ["كرة القدم"] });
    let (status, errors) = call(&app, reqwest::Method::POST, "/api/v1/subscribers", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&errors), ["email", "keywords"], "{errors}");
    assert!(errors.to_string().contains("«كرة القدم» ليس من موضوعات الموقع"), "the form's Arabic message: {errors}");
    let r = app.http.post(app.url("/api/v1/subscribers")).bearer_auth(TOKEN).body("email=x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = app
        .http
        .post(app.url("/api/v1/subscribers"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn a_cms_manages_readers_it_vouches_for(app: TestApp) {
    app.collect().await;
    let body = json!({ "email": "cms@example.org", "keywords": ["داعش"], "confirmed": true });
    let (status, reader) = call(&app, reqwest::Method::POST, "/api/v1/subscribers", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{reader}");
    assert_eq!(reader["status"], "active");
    assert_eq!(reader["editions"], json!(["daily"]));
    assert_eq!(call(&app, reqwest::Method::POST, "/api/v1/subscribers", Some(body.clone())).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(app.outbox_messages().is_empty(), "no confirmation for a reader the caller vouches for");

    let patch = json!({ "keywords": ["الإرهاب", "داعش"], "paused_until": "2099-01-01T00:00:00+02:00" });
    let (status, reader) = call(&app, reqwest::Method::PATCH, "/api/v1/subscribers/cms@example.org", Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{reader}");
    assert_eq!(reader["keywords"], json!(["الإرهاب", "داعش"]));
    assert_eq!(reader["paused_until"], "2098-12-31T22:00:00+00:00");
    // null ends the pause as the reader's page does: now, so its articles are not sent later.
    let (_, reader) = call(
        &app,
        reqwest::Method::PATCH,
        "/api/v1/subscribers/cms@example.org",
        Some(json!({ "paused_until": null })),
    )
    .await;
    assert_eq!(reader["paused_until"], Value::Null);
    let stored = app.app.store.subscriber_by_email("cms@example.org").await.unwrap().unwrap();
    let ended = stored.paused_until.expect("the pause's end is kept");
    assert!((chrono::Utc::now() - ended).num_seconds().abs() < 60, "{ended}");
    assert_eq!(reader["keywords"], json!(["الإرهاب", "داعش"]), "what the PATCH did not name is left alone");
    let patch = json!({ "keywords": [], "editions": ["monthly"], "paused_until": "soon" });
    let (status, errors) = call(&app, reqwest::Method::PATCH, "/api/v1/subscribers/cms@example.org", Some(patch)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&errors), ["paused_until", "keywords", "editions"], "{errors}");
    let (_, reader) = call(&app, reqwest::Method::GET, "/api/v1/subscribers/cms@example.org", None).await;
    assert_eq!(reader["keywords"], json!(["الإرهاب", "داعش"]), "a refused change changes nothing");
    let (status, _) =
        call(&app, reqwest::Method::PATCH, "/api/v1/subscribers/nobody@example.org", Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Pages of the list, by id.
    for i in 0..4 {
        let body = json!({ "email": format!("r{i}@example.org"), "keywords": ["داعش"], "confirmed": true });
        assert_eq!(call(&app, reqwest::Method::POST, "/api/v1/subscribers", Some(body)).await.0, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let (_, page) =
            call(&app, reqwest::Method::GET, &format!("/api/v1/subscribers?after={after}&limit=2"), None).await;
        seen.extend(page["subscribers"].as_array().unwrap().iter().map(|s| s["email"].as_str().unwrap().to_owned()));
        match page["next"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(seen, ["cms@example.org", "r0@example.org", "r1@example.org", "r2@example.org", "r3@example.org"]);

    // DELETE unsubscribes (and a vouching POST does not bring the reader back); erase forgets.
    let (status, _) = call(&app, reqwest::Method::DELETE, "/api/v1/subscribers/cms@example.org", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, reader) = call(&app, reqwest::Method::GET, "/api/v1/subscribers/cms@example.org", None).await;
    assert_eq!(reader["status"], "unsubscribed");
    let (status, answer) = call(&app, reqwest::Method::POST, "/api/v1/subscribers", Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let (status, _) = call(&app, reqwest::Method::DELETE, "/api/v1/subscribers/cms@example.org?erase=true", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, reqwest::Method::GET, "/api/v1/subscribers/cms@example.org", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

crate::on_both_backends!(
    with crate::helpers::Options {
        extra_toml: format!(
            "[[sources]]\nname = \"cms\"\nkind = \"push\"\ntoken = \"push-token-0123456789\"\n\n[api]\nsubscribers_token = \"{}\"\n",
            crate::subscribers_api::TOKEN
        ),
        ..crate::helpers::Options::default()
    };
    only_the_api_token_opens_the_api,
    a_cms_signs_readers_up_with_double_opt_in,
    a_cms_manages_readers_it_vouches_for,
);
