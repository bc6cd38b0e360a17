//! The shared store story, on a fresh SQLite file.

use pillow_store_sqlite::SqliteStore;

async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("story.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn tenants_users_keys_and_agents() {
    let (_dir, store) = fresh().await;
    pillow_store::story::tenants_users_keys_and_agents(&store).await;
}

#[tokio::test]
async fn the_database_file_is_in_wal_mode() {
    let (_dir, store) = fresh().await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}
