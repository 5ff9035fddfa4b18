//! What the next edition would say, planned by the same code as the edition itself but written
//! nowhere: for one reader (`digest preview --subscriber`), or for the whole edition — every
//! keyword of the vocabulary that has new articles — for a test send (`digest test --to`); and
//! what a past edition said as a whole, for the public archive.

use super::{DigestError, EditionRun, Section, Window, window};
use crate::config::Config;
use crate::store::{Edition, KeywordId, Store, SubscriberId};

/// Whose digest to plan.
#[derive(Debug, Clone, Copy)]
pub enum Audience {
    /// One reader, as the edition would plan their message now (their topics, their editions,
    /// their pause, their last digest).
    Reader(SubscriberId),
    /// Every keyword of the vocabulary, as a reader following all of them would get it.
    Everything,
}

/// The sections the edition of `run` would send to `audience` now; empty when it would send
/// nothing (nothing new, or a reader who gets no such edition).
pub async fn sections_for(run: &EditionRun<'_>, audience: Audience) -> Result<Vec<Section>, DigestError> {
    let (start, end) = window(run).await?;
    let window = Window::load(run, start, end).await?;
    match audience {
        Audience::Reader(id) => {
            let readers = run.store.readers_after(&run.edition.name, end, id - 1, 1).await?;
            Ok(readers
                .into_iter()
                .find(|r| r.id == id)
                .map(|r| window.sections(&r.follows, r.covered_until))
                .unwrap_or_default())
        }
        Audience::Everything => {
            let follows: Vec<KeywordId> = run.store.vocabulary().await?.into_iter().map(|k| k.id).collect();
            Ok(window.sections(&follows, None))
        }
    }
}

/// What a past edition said as a whole: every keyword of the vocabulary with articles new in
/// its window (at most `max_per_keyword` each, as in the readers' messages). Empty when the
/// edition is not a configured one any more, or had nothing.
pub async fn archived_sections(store: &Store, config: &Config, edition: &Edition) -> Result<Vec<Section>, DigestError> {
    let Some(cfg) = config.editions.iter().find(|e| e.name == edition.schedule) else { return Ok(Vec::new()) };
    let span = (edition.window_start, edition.window_end);
    let window = Window::of(store, edition.window_start, span, cfg.max_per_keyword).await?;
    let follows: Vec<KeywordId> = store.vocabulary().await?.into_iter().map(|k| k.id).collect();
    Ok(window.sections(&follows, None))
}
