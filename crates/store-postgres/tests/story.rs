//! The shared store story and the PostgreSQL-only walls, each on a fresh database.
//!
//! Without `TEST_DATABASE_URL` every test says it is skipped and passes (except in CI).

use pillow_store::{
    AgentStore, BookingStore, Constraint, Entity, EventSource, EventStatus, EventStore,
    NewAvailabilityRule, NewCalendarEvent, NewUser, Role, RuleStore, StoreError, TenantId,
    TenantStore, Transparency, UserStore,
};
use pillow_store_postgres::PostgresStore;
use pillow_store_postgres::testing::fresh_database;
use sqlx::{PgConnection, Postgres, Transaction};

/// The story's fresh store: a database of its own, dropped when the case has passed.
async fn story_store() -> Option<pillow_store_story::Fresh> {
    let db = fresh_database().await?;
    let store = PostgresStore::connect(&db.url).await.unwrap();
    Some(pillow_store_story::Fresh::new(store).then(db.drop_database()))
}

pillow_store_story::store_story_cases!(story_store());

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        name: email.into(),
        role: Role::Member,
        time_zone: "Europe/London".into(),
        password_hash: None,
    }
}

/// Counts the rows of `table` that `tx` sees, after setting `setting` (if any) for it alone.
async fn count_with(
    tx: &mut Transaction<'static, Postgres>,
    table: &str,
    setting: Option<(&str, String)>,
) -> i64 {
    let conn: &mut PgConnection = tx;
    if let Some((name, value)) = setting {
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(conn)
        .await
        .unwrap()
}

async fn count(store: &PostgresStore, table: &str, setting: Option<(&str, String)>) -> i64 {
    let mut tx = store.pool().begin().await.unwrap();
    let n = count_with(&mut tx, table, setting).await;
    tx.rollback().await.unwrap();
    n
}

fn tenant(id: TenantId) -> Option<(&'static str, String)> {
    Some(("app.tenant_id", id.to_string()))
}

#[tokio::test]
async fn without_the_tenant_setting_a_query_sees_no_rows() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.unwrap();
    let acme = store.create_tenant("Acme").await.unwrap();
    let globex = store.create_tenant("Globex").await.unwrap();
    for email in ["ada@acme.test", "bob@acme.test"] {
        store.create_user(acme.id, &new_user(email)).await.unwrap();
    }
    store
        .create_user(globex.id, &new_user("ada@acme.test"))
        .await
        .unwrap();

    let ada = store.list_users(acme.id).await.unwrap()[0].id;
    store
        .create_rule(
            acme.id,
            &NewAvailabilityRule {
                user_id: ada,
                name: None,
                is_default: true,
                document: r#"{"timezone": "UTC"}"#.parse::<sqlx::types::JsonValue>().unwrap(),
            },
        )
        .await
        .unwrap();
    let start = jiff::Timestamp::now();
    store
        .create_event(
            acme.id,
            pillow_store::EventId::new(),
            &NewCalendarEvent {
                user_id: ada,
                provider_id: None,
                external_id: None,
                etag: None,
                title: "Busy".into(),
                description: None,
                start,
                end: start,
                all_day: false,
                status: EventStatus::Confirmed,
                transparency: Transparency::Opaque,
                source: EventSource::Internal,
                booking_id: None,
            },
            &[],
        )
        .await
        .unwrap();

    // The rows are there...
    assert_eq!(store.list_users(acme.id).await.unwrap().len(), 2);
    // ...yet a query that forgets the tenant sees none of them, nor any tenant.
    for table in [
        "tenants",
        "users",
        "api_keys",
        "agents",
        "availability_rules",
        "calendar_events",
    ] {
        assert_eq!(
            count(&store, table, None).await,
            0,
            "{table} without a tenant"
        );
    }
    assert_eq!(count(&store, "users", tenant(globex.id)).await, 1);
    assert_eq!(count(&store, "users", tenant(acme.id)).await, 2);
    assert_eq!(count(&store, "tenants", tenant(acme.id)).await, 1);
    for table in ["availability_rules", "calendar_events"] {
        assert_eq!(count(&store, table, tenant(acme.id)).await, 1, "{table}");
        assert_eq!(count(&store, table, tenant(globex.id)).await, 0, "{table}");
    }
    let stranger = TenantId::new();
    assert_eq!(
        count(&store, "users", tenant(stranger)).await,
        0,
        "another tenant's id"
    );

    // The login policy reveals only the address asked for, across tenants.
    let login = Some(("app.login_email", "ADA@acme.test".to_string()));
    assert_eq!(count(&store, "users", login).await, 2);

    // The setting is transaction-local: the same connection sees nothing once it has ended.
    let mut conn = store.pool().acquire().await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    let conn_tx: &mut PgConnection = &mut tx;
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(acme.id.to_string())
        .execute(&mut *conn_tx)
        .await
        .unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *conn_tx)
        .await
        .unwrap();
    assert_eq!(seen, 2);
    tx.commit().await.unwrap();
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(after, 0, "the tenant setting outlived its transaction");
    drop(conn);

    db.drop_database().await;
}

#[tokio::test]
async fn the_store_runs_as_the_unprivileged_app_role() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.unwrap();
    let (user, superuser, bypass): (String, bool, bool) = sqlx::query_as(
        "SELECT rolname::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(user, pillow_store_postgres::APP_ROLE);
    assert!(!superuser, "a superuser ignores row-level security");
    assert!(!bypass, "a BYPASSRLS role ignores row-level security");
    db.drop_database().await;
}

#[tokio::test]
async fn every_tenant_owned_table_forces_row_level_security() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.unwrap();
    // Tables with a tenant_id column, plus tenants itself, that lack enabled and forced RLS.
    let unguarded: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r'
            AND (c.relname = 'tenants'
                 OR EXISTS (SELECT 1 FROM pg_attribute a
                             WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                               AND NOT a.attisdropped))
            AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
          ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(
        unguarded.is_empty(),
        "tables without forced RLS: {unguarded:?}"
    );
    db.drop_database().await;
}

#[tokio::test]
async fn migrations_run_twice_on_one_database_are_harmless() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let first = PostgresStore::connect(&db.url).await.unwrap();
    let acme = first.create_tenant("Acme").await.unwrap();
    first.pool().close().await;
    let second = PostgresStore::connect(&db.url).await.unwrap();
    assert_eq!(second.get_tenant(acme.id).await.unwrap(), Some(acme));
    db.drop_database().await;
}

#[tokio::test]
async fn constraint_violations_name_the_constraint() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.unwrap();
    let acme = store.create_tenant("Acme").await.unwrap();
    store
        .create_user(acme.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    match store.create_user(acme.id, &new_user("Ada@Acme.test")).await {
        Err(StoreError::Conflict(constraint)) => assert_eq!(constraint, Constraint::UserEmail),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let nowhere = TenantId::new();
    match store.create_user(nowhere, &new_user("ada@acme.test")).await {
        Err(StoreError::MissingReference(what)) => {
            assert_eq!(what, Entity::Other("users_tenant_fk".into()))
        }
        other => panic!("expected a missing reference, got {other:?}"),
    }
    db.drop_database().await;
}

#[tokio::test]
async fn the_worker_setting_reveals_the_outbox_and_idempotency_records_only() {
    use pillow_store::{Attendee, BookingId, NewBooking, NewJob};
    let Some(db) = fresh_database().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.unwrap();
    let acme = store.create_tenant("Acme").await.unwrap();
    let ada = store
        .create_user(acme.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    let agent = store
        .create_agent(
            acme.id,
            &pillow_store::NewAgent {
                name: "Desk".into(),
                time_zone: "UTC".into(),
                backend: pillow_store::AgentBackend::Native,
                cal_enabled: false,
                cal_api_key_encrypted: None,
                cal_event_type_slug: None,
                cal_timezone: None,
            },
        )
        .await
        .unwrap();
    store
        .put_booking_settings(acme.id, agent.id, &sqlx::types::JsonValue::Null)
        .await
        .unwrap();
    let start: jiff::Timestamp = "2025-03-10T10:00:00Z".parse().unwrap();
    store
        .create_booking(
            acme.id,
            &NewBooking {
                id: BookingId::new(),
                agent_id: None,
                user_id: ada.id,
                confirmation_code: "ABCDEFGHJ".into(),
                start,
                end: start + jiff::SignedDuration::from_mins(30),
                buffer_before_minutes: 0,
                buffer_after_minutes: 0,
                attendee: Attendee {
                    name: "Carol".into(),
                    email: None,
                    phone: None,
                },
                notes: None,
                title: "Call".into(),
                description: None,
                channel: None,
                call_id: None,
            },
            &[NewJob {
                kind: "notify".into(),
                payload: sqlx::types::JsonValue::Null,
                run_after: None,
            }],
            Some(&pillow_store::IdempotentResponse {
                key: "k".into(),
                request_hash: "h".into(),
                status: 201,
                body: sqlx::types::JsonValue::Null,
            }),
        )
        .await
        .unwrap();

    let tables = ["bookings", "idempotency_keys", "outbox", "booking_settings"];
    for table in tables {
        assert_eq!(
            count(&store, table, None).await,
            0,
            "{table} without a tenant"
        );
        assert_eq!(count(&store, table, tenant(acme.id)).await, 1, "{table}");
    }
    let worker = || Some(("app.worker", "on".to_string()));
    assert_eq!(count(&store, "outbox", worker()).await, 1);
    // Idempotency records too, which the worker purges when they expire (migration 0007).
    assert_eq!(count(&store, "idempotency_keys", worker()).await, 1);
    for table in ["bookings", "booking_settings", "users", "calendar_events"] {
        assert_eq!(
            count(&store, table, worker()).await,
            0,
            "{table} for the worker"
        );
    }
    db.drop_database().await;
}

#[tokio::test]
async fn the_exclusion_constraint_refuses_overlaps_written_behind_the_store() {
    let Some(db) = fresh_database().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.unwrap();
    let acme = store.create_tenant("Acme").await.unwrap();
    let ada = store
        .create_user(acme.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(acme.id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let insert = |code: &'static str, start: &'static str, end: &'static str, status| {
        sqlx::query(
            "INSERT INTO bookings (id, tenant_id, user_id, confirmation_code, start_at, end_at,
                                   buffer_before_minutes, buffer_after_minutes,
                                   occupied_start_at, occupied_end_at, attendee_name, title,
                                   status, created_at, updated_at)
             VALUES (gen_random_uuid(), $1, $2, $3, $4::timestamptz, $5::timestamptz, 0, 0,
                     $4::timestamptz, $5::timestamptz, 'x', 'x', $6, now(), now())",
        )
        .bind(acme.id.0)
        .bind(ada.id.0)
        .bind(code)
        .bind(start)
        .bind(end)
        .bind(status)
    };
    insert("A", "2025-03-10 10:00Z", "2025-03-10 10:30Z", "confirmed")
        .execute(&mut *tx)
        .await
        .unwrap();
    // A cancelled booking does not hold its time.
    insert("B", "2025-03-10 10:00Z", "2025-03-10 10:30Z", "cancelled")
        .execute(&mut *tx)
        .await
        .unwrap();
    let clash = insert("C", "2025-03-10 10:29Z", "2025-03-10 11:00Z", "confirmed")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    let e = clash.as_database_error().unwrap();
    assert_eq!(e.code().as_deref(), Some("23P01"));
    assert_eq!(e.constraint(), Some("bookings_no_overlap"));
    tx.rollback().await.unwrap();
    db.drop_database().await;
}
