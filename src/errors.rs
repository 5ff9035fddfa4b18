//! Errors, by stage. Each stage has one `thiserror` enum that names the input at fault
//! (`collect::PageError` / `CollectError`, `store::StoreError`, `feeds::FeedError`,
//! `digest::DigestError` with `RenderError`, `delivery::SendError`); configuration problems are
//! `config::Problem`s, collected rather than returned one at a time. `anyhow` is used only at the
//! top (`app`, `cli`, `schedule`), where errors are reported, not handled. The web layer maps
//! errors to HTTP answers in one place (`web::error`), logging the full cause chain.

use std::error::Error;

/// An error and all its causes on one line: "cannot fetch …: connection refused: …".
pub fn chain(e: &dyn Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !s.ends_with(&cause_text) {
            s.push_str(": ");
            s.push_str(&cause_text);
        }
        source = cause.source();
    }
    s
}
