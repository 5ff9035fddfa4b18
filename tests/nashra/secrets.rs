//! Personal data at rest: the SQLite database (and its WAL), the outbox folder and its messages
//! are the owner's only, whatever the umask; an old database file readable by others is
//! tightened at start.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::helpers::{Backend, Options, TestApp, now};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_and_the_outbox_are_the_owners_only() {
    let app = TestApp::spawn_with(Backend::Sqlite, Options::default()).await.unwrap();
    app.subscribe("reader@example.org", &["العراق"]).await;
    app.collect().await;
    let (_, sent) = app.send_digest(now()).await;
    assert_eq!(sent.sent, 1);
    let db = app.dir.path().join("nashra.db");
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&app.dir.path().join("nashra.db-wal")), 0o600);
    assert_eq!(mode(&app.outbox()), 0o700);
    let messages: Vec<_> = std::fs::read_dir(app.outbox()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!messages.is_empty());
    for message in messages {
        assert_eq!(mode(&message), 0o600, "{}", message.display());
    }
    // A database file made readable by others (by hand, or before this rule) is tightened.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    nashra::store::Store::connect(&app.app.config.database.url, 1).await.unwrap();
    assert_eq!(mode(&db), 0o600);
}
