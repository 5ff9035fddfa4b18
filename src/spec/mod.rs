//! What the operator writes down, as types: a cron schedule in a time zone, the CSS selectors of a
//! source's pages, a feed's declaration, a keyword's name, the database to open, a secret — each parsed and
//! checked once, when the configuration is read. This module sits below `config` and every stage:
//! it depends on `arabic` (a keyword's matching form) and on nothing else of nashra, so the stages
//! and the configuration can all name these types without depending on each other.

mod cron;
mod database_url;
mod feed;
mod keyword;
mod problem;
mod secret;
mod selectors;

pub use cron::Schedule;
pub use database_url::DatabaseUrl;
pub use feed::{ALL, FeedSpec};
pub use keyword::{KeywordError, KeywordName};
pub use problem::Problem;
pub use secret::{Secret, names_a_secret};
pub use selectors::{ArticleSelectors, BadSelector, SelectorsCss};
