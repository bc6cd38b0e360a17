//! Online backups of the SQLite database, and restoring one.
//!
//! `VACUUM INTO` writes the database as one read transaction sees it: a consistent copy, taken
//! while the server keeps writing (in WAL mode writers go on beside a reader), and compacted.
//! A restore checks the copy first, then puts it in place of the database file.

use std::path::{Path, PathBuf};

use sqlx::Connection;

use super::*;

impl SqliteStore {
    /// Writes a consistent copy of the database to `to`, a file that must not exist yet;
    /// writes by others go on meanwhile.
    ///
    /// # Errors
    /// `to` exists or cannot be written; a database failure.
    pub async fn backup_to(&self, to: &Path) -> StoreResult<()> {
        if to.exists() {
            return Err(StoreError::Database(format!(
                "{} already exists; back up to a new file",
                to.display()
            )));
        }
        let mut conn = self.pool.acquire().await.map_err(db)?;
        sqlx::query("VACUUM INTO $1")
            .bind(path_text(to)?)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        Ok(())
    }
}

/// Replaces the database at `url` with the backup at `from`, then opens it (running any
/// migrations newer than the backup). The backup must pass `PRAGMA integrity_check` first, so
/// a damaged copy never replaces a good database. Run it while no server uses the database.
///
/// # Errors
/// An in-memory or malformed URL; a backup that cannot be read or fails the check; a file
/// that cannot be replaced.
pub async fn restore(url: &str, from: &Path) -> StoreResult<SqliteStore> {
    let (plain, _) = busy_timeout_of(url)?;
    if plain.contains(":memory:") {
        return Err(StoreError::Database(
            "an in-memory database cannot be restored".into(),
        ));
    }
    let target: PathBuf = SqliteConnectOptions::from_str(&plain)
        .map_err(db)?
        .get_filename()
        .to_path_buf();
    if !from.is_file() {
        return Err(StoreError::Database(format!(
            "{} is not a backup file",
            from.display()
        )));
    }
    let options = SqliteConnectOptions::new()
        .filename(from)
        .create_if_missing(false);
    let mut source = sqlx::SqliteConnection::connect_with(&options)
        .await
        .map_err(db)?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut source)
        .await
        .map_err(db)?;
    if check != "ok" {
        return Err(StoreError::Corrupt(format!("{}: {check}", from.display())));
    }
    // A fresh copy beside the target, so the last step is one rename on the same disk.
    let mut staging = target.clone().into_os_string();
    staging.push(".restoring");
    let staging = PathBuf::from(staging);
    remove_if_present(&staging)?;
    sqlx::query("VACUUM INTO $1")
        .bind(path_text(&staging)?)
        .execute(&mut source)
        .await
        .map_err(db)?;
    source.close().await.map_err(db)?;
    // The old database's log must go first: left behind, SQLite would replay it onto the copy.
    for suffix in ["-wal", "-shm"] {
        let mut side = target.clone().into_os_string();
        side.push(suffix);
        remove_if_present(Path::new(&side))?;
    }
    std::fs::rename(&staging, &target).map_err(|e| io_error(&target, e))?;
    SqliteStore::connect(url).await
}

fn path_text(path: &Path) -> StoreResult<&str> {
    path.to_str()
        .ok_or_else(|| StoreError::Database(format!("{} is not a UTF-8 path", path.display())))
}

fn remove_if_present(path: &Path) -> StoreResult<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(path, e)),
    }
}

fn io_error(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Database(format!("{}: {error}", path.display()))
}
