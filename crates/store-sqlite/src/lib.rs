//! [`Store`] on SQLite: a single file in WAL mode.
//!
//! SQLite has one writer at a time. A deferred transaction that reads and then writes fails with
//! `SQLITE_BUSY` under concurrency instead of waiting, so every multi-statement write starts with
//! `BEGIN IMMEDIATE` and waits on the busy timeout for its turn.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use pillow_store::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool, Transaction};
use uuid::Uuid;

mod agents;
mod api_keys;
mod appointment_types;
mod backup;
mod bookings;
mod collective;
mod connections;
mod events;
mod idempotency;
mod notices;
mod notification_templates;
mod outbox;
mod rules;
mod secrets;
mod series;
mod sessions;
mod sms_opt_outs;
mod stored;
mod tenants;
mod users;
mod webhooks;
mod widget_keys;

pub use backup::restore;

use stored::*;

/// The SQLite-backed store.
#[derive(Clone)]
pub struct SqliteStore {
    /// Reads, several at once (WAL lets them run beside the writer).
    pool: SqlitePool,
    /// Writes: one connection, so this process's writers queue for it in turn instead of
    /// meeting SQLite's lock, whose busy handler retries after sleeps of 1 to 100 ms and
    /// would put those sleeps into a booking's answer. Another process's writer is still met
    /// at the lock, with the busy timeout.
    writes: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or `sqlite::memory:`)
    /// and runs the migrations.
    ///
    /// # Errors
    /// A malformed URL, an unwritable file or a failed migration.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let (url, busy_timeout) = busy_timeout_of(url)?;
        let url = url.as_str();
        let options = SqliteConnectOptions::from_str(url)
            .map_err(db)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(busy_timeout)
            .foreign_keys(true);
        // An in-memory database exists once per connection: keep exactly one.
        let max = if url.contains(":memory:") { 1 } else { 8 };
        // A request that waits longer than this for a connection answers 503 (see `db`).
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await
            .map_err(db)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let writes = if max == 1 {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(1)
                // Waiting in turn is waiting for the lock: as long as the busy timeout.
                .acquire_timeout(busy_timeout.max(Duration::from_secs(1)))
                .connect_with(options)
                .await
                .map_err(db)?
        };
        Ok(Self { pool, writes })
    }

    /// The pool, for tests that look underneath the trait.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Begins a write transaction that takes the write lock at once (see the crate docs).
    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writes.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
}

/// Commits and hands back what the transaction produced.
async fn commit<T>(tx: Transaction<'static, Sqlite>, value: T) -> StoreResult<T> {
    tx.commit().await.map_err(db)?;
    Ok(value)
}

/// Rolls back and hands back the answer: for a write that found nothing to change.
async fn rollback<T>(tx: Transaction<'static, Sqlite>, answer: StoreResult<T>) -> StoreResult<T> {
    tx.rollback().await.map_err(db)?;
    answer
}

/// How long a statement waits for another connection's lock unless the URL says otherwise.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Our own URL parameter, `busy_timeout_ms`: how long a statement waits for another writer's
/// lock before the store gives up with [`StoreError::Unavailable`]. Answers the URL without it
/// (sqlx does not know it) and the wait.
fn busy_timeout_of(url: &str) -> StoreResult<(String, Duration)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), BUSY_TIMEOUT));
    };
    let mut timeout = BUSY_TIMEOUT;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("busy_timeout_ms=") {
            Some(ms) => {
                let ms: u64 = ms.parse().map_err(|_| {
                    StoreError::Database(format!("busy_timeout_ms={ms:?} is not a number"))
                })?;
                timeout = Duration::from_millis(ms);
            }
            None => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, timeout))
}

/// SQLite's primary result codes `SQLITE_BUSY` (5) and `SQLITE_LOCKED` (6), under any of their
/// extended codes (`SQLITE_BUSY_SNAPSHOT` is 517, for one).
fn is_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

fn db(error: sqlx::Error) -> StoreError {
    if matches!(
        error,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    ) {
        return StoreError::Unavailable(error.to_string());
    }
    // Another writer held the lock past the busy timeout: the request may succeed in a moment,
    // so it is a 503 with `Retry-After`, never a 500.
    if let sqlx::Error::Database(e) = &error
        && is_busy(e.code().as_deref())
    {
        return StoreError::Unavailable(error.to_string());
    }
    if let sqlx::Error::Database(e) = &error {
        // 2067 = SQLITE_CONSTRAINT_UNIQUE, 1555 = SQLITE_CONSTRAINT_PRIMARYKEY
        if matches!(e.code().as_deref(), Some("2067") | Some("1555")) {
            return StoreError::Conflict(Constraint::from_name(&unique_constraint(e.message())));
        }
        if e.code().as_deref() == Some("787") {
            return StoreError::MissingReference(Entity::Other("row".into()));
        }
    }
    StoreError::Database(error.to_string())
}

/// The name of the index behind a failed UNIQUE constraint, as PostgreSQL would report it.
///
/// SQLite names an index only when it is on expressions (`UNIQUE constraint failed: index
/// 'users_tenant_email'`); otherwise it lists the columns (`UNIQUE constraint failed:
/// calendar_events.provider_id, calendar_events.external_id`). Column lists of the indexes in
/// the migrations map to those indexes' names (which the PostgreSQL migrations share), a lone
/// `table.id` to `table_pkey` (PostgreSQL's name for a primary key), and any other list to
/// `table_column_column`: always a short, stable string, never the whole message.
fn unique_constraint(message: &str) -> String {
    let detail = message
        .strip_prefix("UNIQUE constraint failed: ")
        .unwrap_or(message)
        .trim();
    if let Some(name) = detail
        .strip_prefix("index '")
        .and_then(|rest| rest.strip_suffix('\''))
    {
        return name.to_string();
    }
    match detail {
        "api_keys.prefix" => return "api_keys_prefix".into(),
        "users.tenant_id, users.id" => return "users_tenant_id".into(),
        "availability_rules.user_id" => return "availability_rules_one_default".into(),
        "bookings.tenant_id, bookings.confirmation_code" => {
            return "bookings_tenant_code".into();
        }
        "calendar_events.provider_id, calendar_events.external_id" => {
            return "calendar_events_external".into();
        }
        _ => {}
    }
    let mut table = None;
    let mut columns = Vec::new();
    for qualified in detail.split(", ") {
        let (t, column) = qualified.split_once('.').unwrap_or(("", qualified));
        table.get_or_insert(t);
        columns.push(column);
    }
    match (table, columns.as_slice()) {
        (Some(table), ["id"]) => format!("{table}_pkey"),
        (Some(table), columns) if !table.is_empty() => format!("{table}_{}", columns.join("_")),
        _ => "unknown".into(),
    }
}

fn missing_user() -> StoreError {
    StoreError::MissingReference(Entity::User)
}

/// Ids as one JSON array of hex strings, for `IN (SELECT unhex(value) FROM json_each(?))`:
/// SQLite has no array parameters, and this keeps one cached statement for any number of ids.
fn id_list<I: Copy + Into<Uuid>>(ids: &[I]) -> String {
    let mut json = String::with_capacity(2 + ids.len() * 35);
    json.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push('"');
        json.push_str(
            (*id)
                .into()
                .simple()
                .encode_lower(&mut Uuid::encode_buffer()),
        );
        json.push('"');
    }
    json.push(']');
    json
}

/// Bumps the user's busy version; false when the user is not in the tenant (or removed).
async fn bump(conn: &mut SqliteConnection, tenant: TenantId, user: UserId) -> StoreResult<bool> {
    let sql = "UPDATE users SET busy_version = busy_version + 1 \
               WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL";
    Ok(execute(conn, sql, stored![tenant, user]).await? > 0)
}

impl SqliteStore {
    /// A write transaction (see [`SqliteStore::write`]) on the rule, event or connection `id`,
    /// whose user (`owner_sql` selects it) has their busy version bumped: the start of every
    /// change to one. `None`, with nothing written, when it is not in the tenant.
    async fn write_owned(
        &self,
        owner_sql: &'static str,
        tenant: TenantId,
        id: impl Into<Uuid>,
    ) -> StoreResult<Option<(Transaction<'static, Sqlite>, UserId)>> {
        let mut tx = self.write().await?;
        let owner: Option<Uuid> = sqlx::query_scalar(owner_sql)
            .bind(tenant.0)
            .bind(id.into())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let Some(user) = owner.map(UserId) else {
            return rollback(tx, Ok(None)).await;
        };
        bump(&mut tx, tenant, user).await?;
        Ok(Some((tx, user)))
    }
}

/// The blocking calendar events of some users (`user_id` meets `$users`, e.g. `= $2`) near a
/// range, each with `$columns`: the events of [`BUSY_EVENTS`], read bounded on both sides of
/// the range. The widened bounds (`$3`, `$4`) apply to all-day carriers, the exact ones (`$5`,
/// `$6`) to timed events. An event at most a day long (86,400,000,000 µs) that ends after a
/// bound starts less than a day before it, so it is found by start in
/// `calendar_events_blocking_short` (timed and all-day apart, each with its own bounds); a
/// longer one by end in `calendar_events_blocking_long`. The status, transparency, source and
/// length terms repeat the WHERE clauses of those partial indexes word for word, so SQLite may
/// use them. A booking's own event is left out: its booking counts, with its buffers.
#[rustfmt::skip]
macro_rules! blocking_events {
    ($columns:literal, $users:literal) => { concat!(
        "SELECT ", $columns, " FROM calendar_events
          WHERE tenant_id = $1 AND user_id ", $users, "
            AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
            AND source <> 'booking' AND end_at - start_at <= 86400000000
            AND all_day = 0 AND start_at > $5 - 86400000000 AND start_at < $6 AND end_at > $5
         UNION ALL
         SELECT ", $columns, " FROM calendar_events
          WHERE tenant_id = $1 AND user_id ", $users, "
            AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
            AND source <> 'booking' AND end_at - start_at <= 86400000000
            AND all_day = 1 AND start_at > $3 - 86400000000 AND start_at < $4 AND end_at > $3
         UNION ALL
         SELECT ", $columns, " FROM calendar_events
          WHERE tenant_id = $1 AND user_id ", $users, "
            AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
            AND source <> 'booking' AND end_at - start_at > 86400000000
            AND end_at > $3 AND start_at < $4
            AND (all_day OR (end_at > $5 AND start_at < $6))"
    ) };
}
pub(crate) use blocking_events;

/// Busy time of some users overlapping a range: blocking calendar events (see
/// [`blocking_events`]), then confirmed bookings' occupied ranges, bounded on both sides like
/// the events: a range at most a day long by start in `bookings_busy_short`, a longer one by
/// end in `bookings_busy_long` (their status and length terms repeated word for word). A test
/// checks the plan.
const BUSY_EVENTS: &str = concat!(
    blocking_events!(
        "user_id, start_at, end_at, all_day",
        "IN (SELECT unhex(value) FROM json_each($2))"
    ),
    "
     UNION ALL
     SELECT user_id, occupied_start_at, occupied_end_at, FALSE FROM bookings
      WHERE tenant_id = $1 AND user_id IN (SELECT unhex(value) FROM json_each($2))
        AND status = 'confirmed' AND occupied_end_at - occupied_start_at <= 86400000000
        AND occupied_start_at > $5 - 86400000000
        AND occupied_start_at < $6 AND occupied_end_at > $5
     UNION ALL
     SELECT user_id, occupied_start_at, occupied_end_at, FALSE FROM bookings
      WHERE tenant_id = $1 AND user_id IN (SELECT unhex(value) FROM json_each($2))
        AND status = 'confirmed' AND occupied_end_at - occupied_start_at > 86400000000
        AND occupied_end_at > $5 AND occupied_start_at < $6"
);

/// Queues jobs in the caller's transaction.
async fn insert_jobs(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    jobs: &[NewJob],
    now: Timestamp,
) -> StoreResult<()> {
    // One statement for all of a change's jobs (a booking with e-mail, texts, reminders and a
    // webhook has eight or more): each statement is a round trip to SQLite's thread, made while
    // the caller holds the one writer.
    for chunk in jobs.chunks(100) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO outbox (id, tenant_id, kind, payload, status, attempts, \
             next_attempt_at, created_at, updated_at) ",
        );
        query.push_values(chunk, |mut row, job| {
            let [id, tenant, kind, payload, due, at] = stored![
                new_id(),
                tenant,
                &job.kind,
                &job.payload,
                job.run_after.unwrap_or(now),
                now
            ];
            row.push_bind(Bound(id))
                .push_bind(Bound(tenant))
                .push_bind(Bound(kind))
                .push_bind(Bound(payload))
                .push("'pending'")
                .push("0")
                .push_bind(Bound(due))
                .push_bind(Bound(at.clone()))
                .push_bind(Bound(at));
        });
        query.build().execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// Records a request's answer (key done), if there is one, in the caller's transaction.
async fn record_response(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    response: Option<&IdempotentResponse>,
    now: Timestamp,
) -> StoreResult<()> {
    let Some(response) = response else {
        return Ok(());
    };
    execute(
        conn,
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, status, body, \
         created_at, updated_at) VALUES ($1, $2, $3, 'done', $4, $5, $6, $6) \
         ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = excluded.request_hash, \
         state = 'done', status = excluded.status, body = excluded.body, \
         updated_at = excluded.updated_at",
        response.record_values(tenant, now),
    )
    .await?;
    Ok(())
}

fn json_value(what: &str, text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn micros(ts: Timestamp) -> i64 {
    ts.as_microsecond()
}

fn instant(us: i64) -> StoreResult<Timestamp> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writers_in_one_process_take_turns_instead_of_finding_the_database_busy() {
        // With no busy wait at all, a writer that met another at SQLite's lock would fail.
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?busy_timeout_ms=0",
            dir.path().join("turns.db").display()
        );
        let store = SqliteStore::connect(&url).await.unwrap();
        let mut writers = tokio::task::JoinSet::new();
        for i in 0..48 {
            let store = store.clone();
            writers.spawn(async move {
                if i % 2 == 0 {
                    store
                        .create_tenant(&format!("Tenant {i}"))
                        .await
                        .map(|_| ())
                } else {
                    let lease = jiff::SignedDuration::from_secs(60);
                    store
                        .claim_jobs(Timestamp::now(), lease, 10)
                        .await
                        .map(|_| ())
                }
            });
        }
        while let Some(written) = writers.join_next().await {
            written.unwrap().expect("no writer finds the database busy");
        }
    }

    #[test]
    fn a_pool_that_gives_no_connection_is_unavailable_not_a_database_error() {
        for error in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            assert!(matches!(db(error), StoreError::Unavailable(_)));
        }
        assert!(matches!(
            db(sqlx::Error::RowNotFound),
            StoreError::Database(_)
        ));
    }

    #[test]
    fn busy_and_locked_are_known_by_their_primary_code() {
        for code in ["5", "6", "261", "517", "773", "262"] {
            assert!(is_busy(Some(code)), "{code}");
        }
        for code in ["2067", "787", "1", "19", "not a number"] {
            assert!(!is_busy(Some(code)), "{code}");
        }
        assert!(!is_busy(None));
    }

    #[test]
    fn the_busy_timeout_is_read_from_the_url_and_left_out_of_it() {
        assert_eq!(
            busy_timeout_of("sqlite:///tmp/a.db").unwrap(),
            ("sqlite:///tmp/a.db".to_string(), BUSY_TIMEOUT)
        );
        assert_eq!(
            busy_timeout_of("sqlite:///tmp/a.db?busy_timeout_ms=250").unwrap(),
            ("sqlite:///tmp/a.db".to_string(), Duration::from_millis(250))
        );
        assert_eq!(
            busy_timeout_of("sqlite:///tmp/a.db?mode=rwc&busy_timeout_ms=0").unwrap(),
            ("sqlite:///tmp/a.db?mode=rwc".to_string(), Duration::ZERO)
        );
        assert!(busy_timeout_of("sqlite:///tmp/a.db?busy_timeout_ms=soon").is_err());
    }

    #[test]
    fn unique_failures_name_the_index() {
        let cases = [
            (
                "UNIQUE constraint failed: index 'users_tenant_email'",
                "users_tenant_email",
            ),
            (
                "UNIQUE constraint failed: api_keys.prefix",
                "api_keys_prefix",
            ),
            ("UNIQUE constraint failed: tenants.id", "tenants_pkey"),
            (
                "UNIQUE constraint failed: availability_rules.user_id",
                "availability_rules_one_default",
            ),
            (
                "UNIQUE constraint failed: calendar_events.provider_id, \
                 calendar_events.external_id",
                "calendar_events_external",
            ),
            ("UNIQUE constraint failed: things.a, things.b", "things_a_b"),
            ("something else entirely", "unknown"),
        ];
        for (message, expected) in cases {
            assert_eq!(unique_constraint(message), expected, "{message}");
        }
    }

    #[test]
    fn id_lists_are_json_arrays_of_hex() {
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(id_list::<Uuid>(&[]), "[]");
        assert_eq!(
            id_list(&[id, id]),
            r#"["0123456789abcdef0123456789abcdef","0123456789abcdef0123456789abcdef"]"#
        );
    }

    #[tokio::test]
    async fn busy_events_search_the_covering_partial_indexes_on_both_sides_of_the_range() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {BUSY_EVENTS}"
        )))
        .bind(new_id())
        .bind(id_list(&[new_id(), new_id()]))
        .bind(0_i64)
        .bind(10_i64)
        .bind(0_i64)
        .bind(10_i64)
        .fetch_all(store.pool())
        .await
        .unwrap();
        let details: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        // Each branch searches its index on both sides of the range (short rows by start,
        // from below and above), or by end in the small index of long rows.
        let searches = |index: &str, terms: &[&str]| {
            details
                .iter()
                .filter(|d| d.contains(index) && d.contains("user_id=?"))
                .filter(|d| terms.iter().all(|term| d.contains(term)))
                .count()
        };
        let short_events = ["COVERING", "all_day=?", "start_at>?", "start_at<?"];
        assert_eq!(
            searches("INDEX calendar_events_blocking_short ", &short_events),
            2,
            "{details:#?}"
        );
        let long_events = ["COVERING", "end_at>?"];
        assert_eq!(
            searches("INDEX calendar_events_blocking_long ", &long_events),
            1,
            "{details:#?}"
        );
        let short_bookings = ["occupied_start_at>?", "occupied_start_at<?"];
        assert_eq!(
            searches("INDEX bookings_busy_short ", &short_bookings),
            1,
            "{details:#?}"
        );
        assert_eq!(
            searches("INDEX bookings_busy_long ", &["occupied_end_at>?"]),
            1,
            "{details:#?}"
        );
        assert!(
            !details
                .iter()
                .any(|d| d.starts_with("SCAN calendar_events"))
        );
        assert!(!details.iter().any(|d| d.starts_with("SCAN bookings")));
    }
}
