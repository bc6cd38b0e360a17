//! The shared store story, each case on a fresh SQLite file, and the SQLite-only checks.

use pillow_store_sqlite::SqliteStore;

async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("story.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    (dir, store)
}

/// The story's fresh store: the file goes with its temporary directory.
async fn story_store() -> Option<pillow_store_story::Fresh> {
    let (dir, store) = fresh().await;
    Some(pillow_store_story::Fresh::new(store).then(async move { drop(dir) }))
}

pillow_store_story::store_story_cases!(story_store());

#[tokio::test]
async fn the_database_file_is_in_wal_mode() {
    let (_dir, store) = fresh().await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn unique_violations_map_to_the_constraint_postgresql_names() {
    use pillow_store::{Constraint, NewUser, Role, StoreError, TenantStore, UserStore};
    let (_dir, store) = fresh().await;
    let acme = store.create_tenant("Acme").await.unwrap();
    let user = |email: &str| NewUser {
        email: email.into(),
        name: email.into(),
        role: Role::Member,
        time_zone: "Europe/London".into(),
        password_hash: None,
    };
    store
        .create_user(acme.id, &user("ada@acme.test"))
        .await
        .unwrap();
    match store.create_user(acme.id, &user("Ada@Acme.test")).await {
        Err(StoreError::Conflict(constraint)) => assert_eq!(constraint, Constraint::UserEmail),
        other => panic!("expected a conflict, got {other:?}"),
    }
}
