//! A fresh PostgreSQL database per test, for this crate's tests and the server's.
//!
//! Tests call [`fresh_database`] and return early on `None`, so `cargo test` passes on a machine
//! without PostgreSQL; CI sets `CI=true`, where a missing database is a failure, not a skip.
//!
//! ```no_run
//! # async fn example() {
//! use pillow_store_postgres::{PostgresStore, testing::fresh_database};
//!
//! let Some(db) = fresh_database().await else { return };
//! let store = PostgresStore::connect(&db.url).await.unwrap();
//! // ... drive the store ...
//! drop(store);
//! db.drop_database().await;
//! # }
//! ```

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

/// The variable naming the server to create test databases on.
pub const URL_VARIABLE: &str = "TEST_DATABASE_URL";

/// A database made for one test; drop it with [`TestDatabase::drop_database`].
#[derive(Debug)]
pub struct TestDatabase {
    /// Connection URL of the new database.
    pub url: String,
    name: String,
    admin_url: String,
}

/// Creates an empty database named `pillow_test_<uuid>` on the server at `TEST_DATABASE_URL`.
///
/// Returns `None`, after saying so on stderr, when the variable is unset.
///
/// # Panics
/// When `CI=true` and the variable is unset (PostgreSQL tests must not be skipped silently in
/// CI), or when the server cannot be reached or refuses to create the database.
pub async fn fresh_database() -> Option<TestDatabase> {
    let Ok(admin_url) = std::env::var(URL_VARIABLE) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but {URL_VARIABLE} is unset: PostgreSQL tests must run in CI");
        }
        eprintln!(
            "skipped: PostgreSQL tests need {URL_VARIABLE} \
             (e.g. postgres://postgres@127.0.0.1:5432/test)"
        );
        return None;
    };
    let name = format!("pillow_test_{}", Uuid::new_v4().simple());
    let mut admin = connect(&admin_url).await;
    // The name is ours (a prefix and hex digits), so formatting it into the SQL is safe.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    let _ = admin.close().await;
    Some(TestDatabase {
        url: with_database(&admin_url, &name),
        name,
        admin_url,
    })
}

impl TestDatabase {
    /// Drops the database, ending any connection still open to it.
    ///
    /// # Panics
    /// When the server cannot be reached or refuses.
    pub async fn drop_database(self) {
        let mut admin = connect(&self.admin_url).await;
        let name = &self.name;
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot drop test database {name}: {e}"));
        let _ = admin.close().await;
    }
}

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {URL_VARIABLE}: {e}"))
}

/// `url` with its database (the path) replaced by `name`, keeping any `?query`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_in_a_url_is_replaced_and_the_rest_kept() {
        let cases = [
            ("postgres://u@h:5432/test", "postgres://u@h:5432/db"),
            ("postgres://u@h:5432", "postgres://u@h:5432/db"),
            (
                "postgres://u@h/test?sslmode=disable",
                "postgres://u@h/db?sslmode=disable",
            ),
            ("postgresql://u:p@h/", "postgresql://u:p@h/db"),
        ];
        for (url, expected) in cases {
            assert_eq!(with_database(url, "db"), expected, "{url}");
        }
    }
}
