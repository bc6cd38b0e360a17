//! [`Store`] on PostgreSQL, with row-level security as a second wall between tenants.
//!
//! Every tenant-scoped method filters by `tenant_id` in its own SQL, and also runs in a
//! transaction that first sets the transaction-local `app.tenant_id`; the policies in
//! `migrations/` hide every row of any other tenant. The few lookups that
//! must cross tenants (login by e-mail, user by id, API key by prefix, agent by id, tenant by
//! name) each set their own narrow setting instead, which reveals only the rows they look for.
//! The job worker's methods (`claim_jobs`, `complete_job(s)`, `fail_job`, `outbox_backlog`,
//! `purge_expired`) serve every tenant: they set `app.worker = 'on'`, which reveals the outbox
//! and the idempotency records (to purge expired ones) and no other table.
//!
//! Bookings cannot overlap: the exclusion constraint `bookings_no_overlap` refuses two
//! confirmed bookings of one user whose occupied ranges meet, whatever races; calendar events
//! are re-checked inside the booking's transaction, under the user's row lock that every write
//! of the user's events takes too.
//!
//! # The role
//! Superusers and roles with `BYPASSRLS` ignore policies. So:
//! - migrations run first, on a connection of their own, as the connecting user; where that user
//!   may create roles they create the `NOLOGIN` role `pillow_app` (once per cluster) and grant it
//!   the tables (once per database);
//! - every pooled connection then runs `SET ROLE pillow_app` when that role exists and the login
//!   may become it (a superuser, or a member: `GRANT pillow_app TO <login>`);
//! - tables use `FORCE ROW LEVEL SECURITY`, so an ordinary login that owns them is bound too.
//!
//! When the pool would still bypass the policies (no `pillow_app`, and a superuser or
//! `BYPASSRLS` login), [`PostgresStore::connect`] logs a warning: the first wall still holds.

mod agents;
mod api_keys;
mod appointment_types;
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

use stored::*;

pub mod testing;

use std::str::FromStr;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use pillow_store::*;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, QueryBuilder, Row, Transaction};
use uuid::Uuid;

/// The ordinary role the store's connections run as; created by the migrations.
pub const APP_ROLE: &str = "pillow_app";

/// Whether this connection may and should become `pillow_app`. The `CASE` keeps `pg_has_role`
/// from being evaluated (and failing) when the role does not exist.
const CAN_BECOME_APP_ROLE: &str = "\
    SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pillow_app')
                THEN pg_has_role(session_user, 'pillow_app', 'MEMBER')
                     OR (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
                ELSE false
           END";

/// The PostgreSQL-backed store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Which rows a transaction may see: each variant sets the one transaction-local setting that a
/// policy in the migrations reads.
enum Scope<'a> {
    /// Everything of one tenant (`app.tenant_id`).
    Tenant(TenantId),
    /// Tenants with exactly this name (`app.tenant_name`).
    TenantName(&'a str),
    /// Users with this e-mail address, in any tenant (`app.login_email`).
    LoginEmail(&'a str),
    /// The user with this id (`app.user_id`).
    User(UserId),
    /// The API key with this prefix (`app.api_key_prefix`).
    ApiKeyPrefix(&'a str),
    /// The agent with this id (`app.agent_id`).
    Agent(AgentId),
    /// The outbox of every tenant, for the job worker (`app.worker`).
    Worker,
    /// Another narrow setting, by name, that a policy reads: `app.retell_agent_id`,
    /// `app.widget_key_prefix`, and those of `0004_google.sql` (`app.sync_worker`,
    /// `app.channel_id`, `app.maintenance`).
    Setting(&'static str, &'a str),
}

impl Scope<'_> {
    /// The setting when its value is an id, which is safe to write into SQL as a literal.
    fn id_setting(&self) -> Option<(&'static str, Uuid)> {
        match self {
            Scope::Tenant(id) => Some(("app.tenant_id", id.0)),
            Scope::User(id) => Some(("app.user_id", id.0)),
            Scope::Agent(id) => Some(("app.agent_id", id.0)),
            _ => None,
        }
    }

    fn setting(&self) -> (&'static str, String) {
        match self {
            Scope::Tenant(id) => ("app.tenant_id", id.0.to_string()),
            Scope::TenantName(name) => ("app.tenant_name", (*name).to_string()),
            Scope::LoginEmail(email) => ("app.login_email", (*email).to_string()),
            Scope::User(id) => ("app.user_id", id.to_string()),
            Scope::ApiKeyPrefix(prefix) => ("app.api_key_prefix", (*prefix).to_string()),
            Scope::Agent(id) => ("app.agent_id", id.to_string()),
            Scope::Worker => ("app.worker", "on".to_string()),
            Scope::Setting(name, value) => (*name, (*value).to_string()),
        }
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`), runs the migrations as the connecting user, and
    /// opens a pool whose connections run as `pillow_app` where possible (see the crate docs).
    ///
    /// # Errors
    /// A malformed URL, an unreachable server or a failed migration.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url).map_err(db)?;

        let mut migrator = PgConnection::connect_with(&options).await.map_err(db)?;
        sqlx::migrate!("./migrations")
            .run(&mut migrator)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        migrator.close().await.map_err(db)?;

        // A request that waits longer than this for a connection answers 503 (see `db`).
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    let become_app: bool = sqlx::query_scalar(CAN_BECOME_APP_ROLE)
                        .fetch_one(&mut *conn)
                        .await?;
                    if become_app {
                        sqlx::query("SET ROLE pillow_app")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(db)?;

        let bypasses: bool = sqlx::query_scalar(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&pool)
        .await
        .map_err(db)?;
        if bypasses {
            tracing::warn!(
                "PostgreSQL connections bypass row-level security: role {APP_ROLE} is missing \
                 or this login may not become it; only the tenant filters in queries protect data"
            );
        }
        Ok(Self { pool })
    }

    /// The pool, for tests that look underneath the trait.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Begins a transaction that sees only what `scope` allows.
    async fn begin(&self, scope: Scope<'_>) -> StoreResult<Transaction<'static, Postgres>> {
        // Ids are UUIDs (hex digits and dashes only), so they can be written into the BEGIN
        // itself: one round trip instead of two on the hottest path. Every other value is
        // user-supplied text and stays a bound parameter below.
        if let Some((name, id)) = scope.id_setting() {
            let statement = format!("BEGIN; SELECT set_config('{name}', '{id}', true)");
            return self
                .pool
                .begin_with(sqlx::AssertSqlSafe(statement))
                .await
                .map_err(db);
        }
        let (name, value) = scope.setting();
        let mut tx = self.pool.begin().await.map_err(db)?;
        // is_local = true: the setting ends with the transaction, so a pooled connection never
        // carries one tenant's scope into the next caller's work.
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        Ok(tx)
    }

    /// Begins a transaction scoped to one tenant: the start of every tenant-owned query.
    async fn scoped(&self, tenant: TenantId) -> StoreResult<Transaction<'static, Postgres>> {
        self.begin(Scope::Tenant(tenant)).await
    }
}

/// Commits and hands back what the transaction produced.
async fn commit<T>(tx: Transaction<'static, Postgres>, value: T) -> StoreResult<T> {
    tx.commit().await.map_err(db)?;
    Ok(value)
}

/// Rolls back and hands back the answer: for a write that found nothing to change, or whose
/// first steps (a bump, say) must not stay.
async fn rollback<T>(tx: Transaction<'static, Postgres>, answer: StoreResult<T>) -> StoreResult<T> {
    tx.rollback().await.map_err(db)?;
    answer
}

/// Maps database errors onto [`StoreError`]; constraint names come from the migrations.
fn db(error: sqlx::Error) -> StoreError {
    if matches!(
        error,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    ) {
        return StoreError::Unavailable(error.to_string());
    }
    if let sqlx::Error::Database(e) = &error {
        let constraint = || e.constraint().unwrap_or("unknown").to_string();
        match e.code().as_deref() {
            // unique_violation, exclusion_violation
            Some("23505") | Some("23P01") => {
                return StoreError::Conflict(Constraint::from_name(&constraint()));
            }
            // foreign_key_violation
            Some("23503") => return StoreError::MissingReference(Entity::Other(constraint())),
            _ => {}
        }
    }
    StoreError::Database(error.to_string())
}

/// Now, as PostgreSQL stores it (microseconds).
fn now() -> jiff_sqlx::Timestamp {
    Timestamp::now().to_sqlx()
}

/// The blocking calendar events of some users (`user_id` meets `$users`, e.g. `= $2`) near a
/// range, each with `$columns`: the events of [`BUSY_EVENTS`], read bounded on both sides of
/// the range. The widened bounds (`$3`, `$4`) apply to all-day carriers, the exact ones (`$5`,
/// `$6`) to timed events. An event at most a day long (`interval '24 hours'`) that ends after a
/// bound starts less than a day before it, so it is found by start in
/// `calendar_events_blocking_short` (timed and all-day apart, each with its own bounds); a
/// longer one by end in `calendar_events_blocking_long`. The status, transparency, source and
/// length terms repeat the WHERE clauses of those partial indexes, so the planner may use them.
/// A booking's own event is left out: its booking counts, with its buffers.
#[rustfmt::skip]
macro_rules! blocking_events {
    ($columns:literal, $users:literal) => { concat!(
        "SELECT ", $columns, " FROM calendar_events
          WHERE tenant_id = $1 AND user_id ", $users, "
            AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
            AND source <> 'booking' AND end_at - start_at <= interval '24 hours'
            AND NOT all_day AND start_at > $5 - interval '24 hours' AND start_at < $6 AND end_at > $5
         UNION ALL
         SELECT ", $columns, " FROM calendar_events
          WHERE tenant_id = $1 AND user_id ", $users, "
            AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
            AND source <> 'booking' AND end_at - start_at <= interval '24 hours'
            AND all_day AND start_at > $3 - interval '24 hours' AND start_at < $4 AND end_at > $3
         UNION ALL
         SELECT ", $columns, " FROM calendar_events
          WHERE tenant_id = $1 AND user_id ", $users, "
            AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
            AND source <> 'booking' AND end_at - start_at > interval '24 hours'
            AND end_at > $3 AND start_at < $4
            AND (all_day OR (end_at > $5 AND start_at < $6))"
    ) };
}
pub(crate) use blocking_events;

/// Busy time of some users overlapping a range: blocking calendar events (see
/// [`blocking_events`]), then confirmed bookings' occupied ranges, bounded on both sides like
/// the events: a range at most a day long by start in `bookings_busy_short`, a longer one by
/// end in `bookings_busy_long` (their status and length terms repeated here). A test checks
/// the plan.
const BUSY_EVENTS: &str = concat!(
    blocking_events!("user_id, start_at, end_at, all_day", "= ANY($2)"),
    "
     UNION ALL
     SELECT user_id, occupied_start_at, occupied_end_at, false FROM bookings
      WHERE tenant_id = $1 AND user_id = ANY($2) AND status = 'confirmed'
        AND occupied_end_at - occupied_start_at <= interval '24 hours'
        AND occupied_start_at > $5 - interval '24 hours'
        AND occupied_start_at < $6 AND occupied_end_at > $5
     UNION ALL
     SELECT user_id, occupied_start_at, occupied_end_at, false FROM bookings
      WHERE tenant_id = $1 AND user_id = ANY($2) AND status = 'confirmed'
        AND occupied_end_at - occupied_start_at > interval '24 hours'
        AND occupied_end_at > $5 AND occupied_start_at < $6"
);

fn missing_user() -> StoreError {
    StoreError::MissingReference(Entity::User)
}

/// Bumps the user's busy version; false when the user is not in the tenant (or removed). It
/// also locks the
/// user's row until the transaction ends, so every write to a user's rules or events takes the
/// user's lock first: two of them never wait on each other in opposite orders, and two
/// defaults for one user are made one after the other.
async fn bump(conn: &mut PgConnection, tenant: TenantId, user: UserId) -> StoreResult<bool> {
    let sql = "UPDATE users SET busy_version = busy_version + 1 \
               WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL";
    Ok(execute(conn, sql, stored![tenant, user]).await? > 0)
}

fn overlap() -> StoreError {
    StoreError::Conflict(Constraint::BookingOverlap)
}

/// Locks the user's row like [`bump`] does, without bumping: for writes that may turn out to
/// change nothing. False when the user is not in the tenant.
async fn lock_user(conn: &mut PgConnection, tenant: TenantId, user: UserId) -> StoreResult<bool> {
    let found = sqlx::query(
        "SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL \
             FOR NO KEY UPDATE",
    )
    .bind(tenant.0)
    .bind(user.0)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    Ok(found.is_some())
}

/// Queues jobs in the caller's transaction.
async fn insert_jobs(
    conn: &mut PgConnection,
    tenant: TenantId,
    jobs: &[NewJob],
) -> StoreResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let now = now();
    let mut query = QueryBuilder::<Postgres>::new(
        "INSERT INTO outbox (id, tenant_id, kind, payload, status, attempts, next_attempt_at, \
         created_at, updated_at) ",
    );
    query.push_values(jobs, |mut row, job| {
        row.push_bind(new_id())
            .push_bind(tenant.0)
            .push_bind(&job.kind)
            .push_bind(&job.payload)
            .push("'pending'")
            .push("0")
            .push_bind(job.run_after.map_or(now, |at| at.to_sqlx()))
            .push_bind(now)
            .push_bind(now);
    });
    query.build().execute(conn).await.map_err(db)?;
    Ok(())
}

/// Records a request's answer (key done), if there is one, in the caller's transaction.
async fn record_response(
    conn: &mut PgConnection,
    tenant: TenantId,
    response: Option<&IdempotentResponse>,
) -> StoreResult<()> {
    let Some(response) = response else {
        return Ok(());
    };
    execute(
        conn,
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, status, body,
                                       created_at, updated_at)
         VALUES ($1, $2, $3, 'done', $4, $5, $6, $6)
         ON CONFLICT (tenant_id, key) DO UPDATE
            SET request_hash = excluded.request_hash, state = 'done', status = excluded.status,
                body = excluded.body, updated_at = excluded.updated_at",
        response.record_values(tenant, Timestamp::now()),
    )
    .await?;
    Ok(())
}

impl PostgresStore {
    /// A transaction scoped to `tenant` on the rule, event or connection `id`, whose user
    /// (`owner_sql` selects it) has their busy version bumped and is locked (see [`bump`]): the
    /// start of every change to one. `None`, with nothing written, when it is not in the tenant.
    /// The owner is read without a lock: it never changes.
    async fn scoped_owned(
        &self,
        owner_sql: &'static str,
        tenant: TenantId,
        id: impl Into<Uuid>,
    ) -> StoreResult<Option<(Transaction<'static, Postgres>, UserId)>> {
        let mut tx = self.scoped(tenant).await?;
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

impl PostgresStore {
    /// Runs `work` in a transaction that sees only what `scope` allows, and commits what it
    /// made: for methods with more than one statement, or a query the helpers below do not run.
    async fn within<T>(
        &self,
        scope: Scope<'_>,
        work: impl AsyncFnOnce(&mut PgConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut tx = self.begin(scope).await?;
        let value = work(&mut tx).await?;
        commit(tx, value).await
    }

    /// [`fetch`] alone in a transaction scoped by `scope`.
    async fn fetch_in<M: FromStored>(
        &self,
        scope: Scope<'_>,
        sql: &'static str,
        values: impl IntoIterator<Item = StoredValue<'_>>,
    ) -> StoreResult<Vec<M>> {
        self.within(scope, async |tx| fetch(tx, sql, values).await)
            .await
    }

    /// [`fetch_one`] alone in a transaction scoped by `scope`.
    async fn fetch_one_in<M: FromStored>(
        &self,
        scope: Scope<'_>,
        sql: &'static str,
        values: impl IntoIterator<Item = StoredValue<'_>>,
    ) -> StoreResult<M> {
        self.within(scope, async |tx| fetch_one(tx, sql, values).await)
            .await
    }

    /// [`fetch_optional`] alone in a transaction scoped by `scope`.
    async fn fetch_optional_in<M: FromStored>(
        &self,
        scope: Scope<'_>,
        sql: &'static str,
        values: impl IntoIterator<Item = StoredValue<'_>>,
    ) -> StoreResult<Option<M>> {
        self.within(scope, async |tx| fetch_optional(tx, sql, values).await)
            .await
    }

    /// [`execute`] alone in a transaction scoped by `scope`.
    async fn execute_in(
        &self,
        scope: Scope<'_>,
        sql: &'static str,
        values: impl IntoIterator<Item = StoredValue<'_>>,
    ) -> StoreResult<u64> {
        self.within(scope, async |tx| execute(tx, sql, values).await)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn busy_events_search_the_partial_indexes_on_both_sides_of_the_range() {
        let Some(db) = testing::fresh_database().await else {
            return;
        };
        let store = PostgresStore::connect(&db.url).await.unwrap();
        let mut tx = store.pool().begin().await.unwrap();
        // Two months of a member's half-hour events and bookings, analysed, so that the plan
        // weighs real tables (with empty ones every index costs about the same). Our own
        // ids, so formatting them into the SQL is safe.
        let (tenant, user) = (new_id(), new_id());
        let seed = format!(
            "SET LOCAL app.tenant_id = '{tenant}';
             SET LOCAL enable_seqscan = off;
             INSERT INTO tenants (id, name, created_at) VALUES ('{tenant}', 'plans', now());
             INSERT INTO users (id, tenant_id, email, name, role, time_zone, created_at,
                                updated_at)
                  VALUES ('{user}', '{tenant}', 'plans@example.test', 'Plans', 'member', 'UTC',
                          now(), now());
             INSERT INTO calendar_events (id, tenant_id, user_id, title, start_at, end_at,
                                          all_day, status, transparency, source, created_at,
                                          updated_at)
                  SELECT gen_random_uuid(), '{tenant}', '{user}', 'Busy', t,
                         t + interval '30 minutes', false, 'confirmed', 'opaque', 'google',
                         now(), now()
                    FROM generate_series(timestamptz '2030-01-01', timestamptz '2030-03-01',
                                         interval '1 hour') AS t;
             INSERT INTO bookings (id, tenant_id, user_id, confirmation_code, start_at, end_at,
                                   buffer_before_minutes, buffer_after_minutes,
                                   occupied_start_at, occupied_end_at, attendee_name, title,
                                   status, created_at, updated_at)
                  SELECT gen_random_uuid(), '{tenant}', '{user}', md5(t::text), t,
                         t + interval '30 minutes', 0, 0, t, t + interval '30 minutes',
                         'Caller', 'Call', 'confirmed', now(), now()
                    FROM generate_series(timestamptz '2030-01-01 00:30Z',
                                         timestamptz '2030-03-01', interval '1 hour') AS t;
             ANALYZE calendar_events;
             ANALYZE bookings;"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(seed))
            .execute(&mut *tx)
            .await
            .unwrap();
        let day = ("2030-02-01T09:00:00Z", "2030-02-01T17:00:00Z");
        let day: (Timestamp, Timestamp) = (day.0.parse().unwrap(), day.1.parse().unwrap());
        let wide = widened_for_all_day(day);
        let plan: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {BUSY_EVENTS}")))
                .bind(tenant)
                .bind(vec![user, new_id()])
                .bind(wide.0.to_sqlx())
                .bind(wide.1.to_sqlx())
                .bind(day.0.to_sqlx())
                .bind(day.1.to_sqlx())
                .fetch_all(&mut *tx)
                .await
                .unwrap();
        let plan = plan.join("\n");
        // Timed and all-day events by start, long events by end; short and long bookings.
        for (index, scans) in [
            ("calendar_events_blocking_short", 2),
            ("calendar_events_blocking_long", 1),
            ("bookings_busy_short", 1),
            ("bookings_busy_long", 1),
        ] {
            assert_eq!(plan.matches(index).count(), scans, "{index}: {plan}");
        }
        // The three scans by start are bounded on both sides in the index itself.
        let bounded = plan
            .lines()
            .filter(|line| line.contains("Index Cond"))
            .filter(|line| line.contains("start_at > (") && line.contains("start_at < "))
            .count();
        assert_eq!(bounded, 3, "{plan}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
        tx.rollback().await.unwrap();
        drop(store);
        db.drop_database().await;
    }
}
