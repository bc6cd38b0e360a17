use thiserror::Error;

/// What can go wrong below the [`crate::Store`] trait, in terms the server can act on.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness or exclusion constraint refused the write; the name says which.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// A referenced row (in the same tenant) does not exist.
    #[error("referenced {what} does not exist")]
    MissingReference { what: String },
    /// The database is unreachable or answered with an error we cannot attribute to the caller.
    #[error("database error: {0}")]
    Database(String),
    /// Stored data could not be decoded; a bug or a hand-edited row.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Migrations failed at start-up.
    #[error("migration failed: {0}")]
    Migration(String),
}
