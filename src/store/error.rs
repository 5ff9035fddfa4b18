//! The store's one error type. Every query error carries a sentence saying what nashra was doing
//! ("cannot upsert article https://…"), so a log line is enough to find the failing step.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {reason}")]
    Open { url: String, reason: String },
    #[error("cannot apply migrations to {url}: {reason}")]
    Migrate { url: String, reason: String },
    #[error("{context}: {source}")]
    Query { context: String, source: sqlx::Error },
    /// A statement inside a transaction failed before its context was known.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

pub(crate) trait Context<T> {
    fn context(self, context: impl Into<String>) -> StoreResult<T>;
    fn with_context(self, context: impl FnOnce() -> String) -> StoreResult<T>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, context: impl Into<String>) -> StoreResult<T> {
        self.map_err(|source| StoreError::Query { context: context.into(), source })
    }

    fn with_context(self, context: impl FnOnce() -> String) -> StoreResult<T> {
        self.map_err(|source| StoreError::Query { context: context(), source })
    }
}

impl<T> Context<T> for StoreResult<T> {
    fn context(self, context: impl Into<String>) -> StoreResult<T> {
        self.map_err(|e| match e {
            StoreError::Sqlx(source) => StoreError::Query { context: context.into(), source },
            other => other,
        })
    }

    fn with_context(self, context: impl FnOnce() -> String) -> StoreResult<T> {
        self.map_err(|e| match e {
            StoreError::Sqlx(source) => StoreError::Query { context: context(), source },
            other => other,
        })
    }
}
