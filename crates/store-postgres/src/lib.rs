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

mod incall;
mod rows;
pub mod testing;

use std::str::FromStr;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use pillow_store::*;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use rows::ConnectionRow;
use rows::{
    AgentRow, ApiKeyRow, BookingRow, BusyRow, EventRow, IdempotencyRow, JobRow, RuleRow, TenantRow,
    UserRow, all,
};

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
    User(Uuid),
    /// The API key with this prefix (`app.api_key_prefix`).
    ApiKeyPrefix(&'a str),
    /// The agent with this id (`app.agent_id`).
    Agent(Uuid),
    /// The outbox of every tenant, for the job worker (`app.worker`).
    Worker,
}

impl Scope<'_> {
    /// The setting when its value is an id, which is safe to write into SQL as a literal.
    fn id_setting(&self) -> Option<(&'static str, Uuid)> {
        match self {
            Scope::Tenant(id) => Some(("app.tenant_id", id.0)),
            Scope::User(id) => Some(("app.user_id", *id)),
            Scope::Agent(id) => Some(("app.agent_id", *id)),
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

        let pool = PgPoolOptions::new()
            .max_connections(10)
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

/// Maps database errors onto [`StoreError`]; constraint names come from the migrations.
fn db(error: sqlx::Error) -> StoreError {
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

/// Busy time of some users overlapping a range: blocking calendar events, then confirmed
/// bookings' occupied ranges. The events' status, transparency and source terms repeat the
/// WHERE clause of the partial index `calendar_events_blocking`, and the bookings' status term
/// that of `bookings_busy`, so the planner may use them; the widened bounds (`$3`, `$4`) drive
/// the events index, the exact ones (`$5`, `$6`) apply to timed events and bookings. A
/// booking's own event is left out: its booking counts, with its buffers. A test checks the
/// plan.
const BUSY_EVENTS: &str = "\
    SELECT user_id, start_at, end_at, all_day FROM calendar_events
     WHERE tenant_id = $1 AND user_id = ANY($2)
       AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
       AND source <> 'booking'
       AND end_at > $3 AND start_at < $4
       AND (all_day OR (end_at > $5 AND start_at < $6))
    UNION ALL
    SELECT user_id, occupied_start_at, occupied_end_at, false FROM bookings
     WHERE tenant_id = $1 AND user_id = ANY($2) AND status = 'confirmed'
       AND occupied_end_at > $5 AND occupied_start_at < $6";

fn missing_user() -> StoreError {
    StoreError::MissingReference(Entity::User)
}

/// `ts` a day earlier, for the all-day widening; the start of time when there is no earlier.
fn widened_back(ts: Timestamp) -> jiff_sqlx::Timestamp {
    ts.checked_sub(ALL_DAY_WIDENING)
        .unwrap_or(Timestamp::MIN)
        .to_sqlx()
}

/// `ts` a day later, for the all-day widening; the end of time when there is no later.
fn widened_forward(ts: Timestamp) -> jiff_sqlx::Timestamp {
    ts.checked_add(ALL_DAY_WIDENING)
        .unwrap_or(Timestamp::MAX)
        .to_sqlx()
}

/// Bumps the user's busy version; false when the user is not in the tenant. It also locks the
/// user's row until the transaction ends, so every write to a user's rules or events takes the
/// user's lock first: two of them never wait on each other in opposite orders, and two
/// defaults for one user are made one after the other.
async fn bump(conn: &mut PgConnection, tenant: TenantId, user: Uuid) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE users SET busy_version = busy_version + 1 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(user)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() > 0)
}

/// Ends the user's current default rule, except `keep`: the first step of making another one
/// the default (the partial unique index allows one at a time).
async fn demote(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: Uuid,
    keep: Uuid,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE availability_rules SET is_default = false, updated_at = $4
          WHERE tenant_id = $1 AND user_id = $2 AND is_default AND id <> $3",
    )
    .bind(tenant.0)
    .bind(user)
    .bind(keep)
    .bind(now())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The blocking calendar events of one user near a booking's occupied range: the events half
/// of [`BUSY_EVENTS`] for one user. All-day candidates are refined in Rust by zone.
const BLOCKING_EVENTS: &str = "\
    SELECT user_id, start_at, end_at, all_day FROM calendar_events
     WHERE tenant_id = $1 AND user_id = $2
       AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
       AND source <> 'booking'
       AND end_at > $3 AND start_at < $4
       AND (all_day OR (end_at > $5 AND start_at < $6))";

/// The zones all-day events are read in for a user: the default rule's, then the user's own.
const USER_ZONES: &str = "\
    SELECT (SELECT document->>'timezone' FROM availability_rules
             WHERE tenant_id = $1 AND user_id = $2 AND is_default
               AND jsonb_typeof(document->'timezone') = 'string'),
           time_zone
      FROM users WHERE tenant_id = $1 AND id = $2";

/// Writes a booking with everything that must commit with it, in one statement: the booking
/// (only if its agent, when named, is in the tenant), the member's busy event, the outbox jobs
/// and the idempotent answer. No row back means the agent check failed; an overlap is the
/// exclusion constraint's error.
const INSERT_BOOKING: &str = "
WITH agent_ok AS (
    SELECT $3::uuid IS NULL
        OR EXISTS (SELECT 1 FROM agents WHERE tenant_id = $2 AND id = $3) AS ok
), booking AS (
    INSERT INTO bookings (id, tenant_id, agent_id, user_id, confirmation_code, start_at, end_at,
                          buffer_before_minutes, buffer_after_minutes, occupied_start_at,
                          occupied_end_at, attendee_name, attendee_email, attendee_phone, notes,
                          title, description, status, call_id, created_at, updated_at)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
           'confirmed', $18, $19, $19
      FROM agent_ok WHERE agent_ok.ok
    RETURNING *
), busy_event AS (
    INSERT INTO calendar_events (id, tenant_id, user_id, title, description, start_at, end_at,
                                 all_day, status, transparency, source, booking_id, created_at,
                                 updated_at)
    SELECT $20, tenant_id, user_id, title, description, start_at, end_at, false, 'confirmed',
           'opaque', 'booking', id, created_at, created_at
      FROM booking
), jobs AS (
    INSERT INTO outbox (id, tenant_id, kind, payload, status, attempts, next_attempt_at,
                        created_at, updated_at)
    SELECT job.id, booking.tenant_id, job.kind, job.payload::jsonb, 'pending', 0,
           booking.created_at, booking.created_at, booking.created_at
      FROM booking, unnest($21::uuid[], $22::text[], $23::text[]) AS job (id, kind, payload)
), answer AS (
    INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, status, body, created_at,
                                  updated_at)
    SELECT booking.tenant_id, $24, $25, 'done', $26, $27, booking.created_at, booking.created_at
      FROM booking WHERE $24::text IS NOT NULL
    ON CONFLICT (tenant_id, key) DO UPDATE
       SET request_hash = excluded.request_hash, state = 'done', status = excluded.status,
           body = excluded.body, updated_at = excluded.updated_at
)
SELECT * FROM booking";

fn overlap() -> StoreError {
    StoreError::Conflict(Constraint::BookingOverlap)
}

/// Whether a blocking calendar event of the user meets `occupied`. Bookings are not checked
/// here: the exclusion constraint `bookings_no_overlap` does that on write. The caller holds
/// the user's lock (see [`bump`]), and every event write takes it too, so no event can be
/// committed between this check and the caller's commit.
async fn blocked_by_event(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: Uuid,
    occupied: (Timestamp, Timestamp),
) -> StoreResult<bool> {
    let rows = sqlx::query_as::<_, BusyRow>(BLOCKING_EVENTS)
        .bind(tenant.0)
        .bind(user)
        .bind(widened_back(occupied.0))
        .bind(widened_forward(occupied.1))
        .bind(occupied.0.to_sqlx())
        .bind(occupied.1.to_sqlx())
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    if rows.is_empty() {
        return Ok(false);
    }
    let events = all(rows, BusyRow::into_model)?;
    let zones: Option<(Option<String>, String)> = if events.iter().any(|e| e.all_day) {
        sqlx::query_as(USER_ZONES)
            .bind(tenant.0)
            .bind(user)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
    } else {
        None
    };
    let names: Vec<&str> = zones
        .as_ref()
        .map(|(rule, user)| {
            rule.iter()
                .map(String::as_str)
                .chain([user.as_str()])
                .collect()
        })
        .unwrap_or_default();
    Ok(blocks_any(&events, &names, occupied))
}

/// Locks the user's row like [`bump`] does, without bumping: for writes that may turn out to
/// change nothing. False when the user is not in the tenant.
async fn lock_user(conn: &mut PgConnection, tenant: TenantId, user: Uuid) -> StoreResult<bool> {
    let found =
        sqlx::query("SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE")
            .bind(tenant.0)
            .bind(user)
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
            .push_bind(now)
            .push_bind(now)
            .push_bind(now);
    });
    query.build().execute(conn).await.map_err(db)?;
    Ok(())
}

/// Records a request's answer (key done) in the caller's transaction.
async fn record_response(
    conn: &mut PgConnection,
    tenant: TenantId,
    response: &IdempotentResponse,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, status, body,
                                       created_at, updated_at)
         VALUES ($1, $2, $3, 'done', $4, $5, $6, $6)
         ON CONFLICT (tenant_id, key) DO UPDATE
            SET request_hash = excluded.request_hash, state = 'done', status = excluded.status,
                body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(tenant.0)
    .bind(&response.key)
    .bind(&response.request_hash)
    .bind(i32::from(response.status))
    .bind(&response.body)
    .bind(now())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Jobs and response: the tail of every booking write.
async fn follow_up(
    conn: &mut PgConnection,
    tenant: TenantId,
    jobs: &[NewJob],
    response: Option<&IdempotentResponse>,
) -> StoreResult<()> {
    insert_jobs(conn, tenant, jobs).await?;
    if let Some(response) = response {
        record_response(conn, tenant, response).await?;
    }
    Ok(())
}

async fn booking_row(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<BookingRow>> {
    sqlx::query_as::<_, BookingRow>("SELECT * FROM bookings WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

#[derive(Clone, Copy)]
enum Owned {
    Rule,
    Event,
}

/// The user a rule or event belongs to. Read without a lock: the user never changes, and the
/// caller locks the user (see [`bump`]) before touching the row.
async fn owner(
    conn: &mut PgConnection,
    table: Owned,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<Uuid>> {
    let sql = match table {
        Owned::Rule => "SELECT user_id FROM availability_rules WHERE tenant_id = $1 AND id = $2",
        Owned::Event => "SELECT user_id FROM calendar_events WHERE tenant_id = $1 AND id = $2",
    };
    sqlx::query_scalar(sql)
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    // ---- tenants ----

    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant> {
        let id = TenantId(new_id());
        // Scoped to the new id, so the insert passes the policy and RETURNING may read it back.
        let mut tx = self.scoped(id).await?;
        let row = sqlx::query_as::<_, TenantRow>(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) RETURNING *",
        )
        .bind(id.0)
        .bind(name)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.into_model()?).await
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let mut tx = self.scoped(id).await?;
        let row = sqlx::query_as::<_, TenantRow>("SELECT * FROM tenants WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, row.map(TenantRow::into_model).transpose()?).await
    }

    async fn find_tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>> {
        let mut tx = self.begin(Scope::TenantName(name)).await?;
        let row = sqlx::query_as::<_, TenantRow>(
            "SELECT * FROM tenants WHERE name = $1 ORDER BY created_at, id LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(TenantRow::into_model).transpose()?).await
    }

    // ---- users ----

    async fn create_user(&self, tenant: TenantId, user: &NewUser) -> StoreResult<User> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, UserRow>(
            "INSERT INTO users (id, tenant_id, email, name, role, time_zone, password_hash,
                                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
             RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(&user.email)
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(&user.time_zone)
        .bind(&user.password_hash)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.into_model()?).await
    }

    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, UserRow>(
            "SELECT * FROM users WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, UserRow::into_model)?).await
    }

    async fn get_user(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<User>> {
        let mut tx = self.scoped(tenant).await?;
        let row =
            sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        commit(tx, row.map(UserRow::into_model).transpose()?).await
    }

    async fn update_user(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &UserPatch,
    ) -> StoreResult<Option<User>> {
        let mut tx = self.scoped(tenant).await?;
        // NULL leaves a column alone.
        let row = sqlx::query_as::<_, UserRow>(
            "UPDATE users
                SET email         = COALESCE($3, email),
                    name          = COALESCE($4, name),
                    role          = COALESCE($5, role),
                    time_zone     = COALESCE($6, time_zone),
                    password_hash = COALESCE($7, password_hash),
                    updated_at    = $8
              WHERE tenant_id = $1 AND id = $2
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(&patch.email)
        .bind(&patch.name)
        .bind(patch.role.map(Role::as_str))
        .bind(&patch.time_zone)
        .bind(&patch.password_hash)
        .bind(now())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(UserRow::into_model).transpose()?).await
    }

    async fn delete_user(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, done.rows_affected() > 0).await
    }

    async fn find_logins(&self, email: &str) -> StoreResult<Vec<UserLogin>> {
        let mut tx = self.begin(Scope::LoginEmail(email)).await?;
        let rows = sqlx::query_as::<_, UserRow>(
            "SELECT * FROM users WHERE lower(email) = lower($1) ORDER BY created_at, id",
        )
        .bind(email)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, UserRow::into_login)?).await
    }

    async fn find_user(&self, id: Uuid) -> StoreResult<Option<User>> {
        let mut tx = self.begin(Scope::User(id)).await?;
        let row = sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, row.map(UserRow::into_model).transpose()?).await
    }

    // ---- API keys ----

    async fn create_api_key(&self, tenant: TenantId, key: &NewApiKey) -> StoreResult<ApiKey> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, ApiKeyRow>(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.secret_hash)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.into_model()?).await
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        let mut tx = self.begin(Scope::ApiKeyPrefix(prefix)).await?;
        let row = sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys WHERE prefix = $1")
            .bind(prefix)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, row.map(ApiKeyRow::into_model).transpose()?).await
    }

    // ---- voice agents ----

    async fn create_agent(&self, tenant: TenantId, agent: &NewAgent) -> StoreResult<Agent> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, AgentRow>(
            "INSERT INTO agents (id, tenant_id, name, time_zone, backend, cal_enabled,
                                 cal_api_key_encrypted, cal_event_type_slug, cal_timezone,
                                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
             RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(&agent.name)
        .bind(&agent.time_zone)
        .bind(agent.backend.as_str())
        .bind(agent.cal_enabled)
        .bind(&agent.cal_api_key_encrypted)
        .bind(&agent.cal_event_type_slug)
        .bind(&agent.cal_timezone)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.into_model()?).await
    }

    async fn list_agents(&self, tenant: TenantId) -> StoreResult<Vec<Agent>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, AgentRow>(
            "SELECT * FROM agents WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, AgentRow::into_model)?).await
    }

    async fn get_agent(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Agent>> {
        let mut tx = self.scoped(tenant).await?;
        let row =
            sqlx::query_as::<_, AgentRow>("SELECT * FROM agents WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        commit(tx, row.map(AgentRow::into_model).transpose()?).await
    }

    async fn update_agent(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &AgentPatch,
    ) -> StoreResult<Option<Agent>> {
        let mut tx = self.scoped(tenant).await?;
        // NULL leaves a column alone; the clearable columns carry a flag saying whether to touch
        // them at all, since for them NULL is a value.
        let row = sqlx::query_as::<_, AgentRow>(
            "UPDATE agents
                SET name                  = COALESCE($3, name),
                    time_zone             = COALESCE($4, time_zone),
                    backend               = COALESCE($5, backend),
                    cal_enabled           = COALESCE($6, cal_enabled),
                    cal_api_key_encrypted = CASE WHEN $7 THEN $8 ELSE cal_api_key_encrypted END,
                    cal_event_type_slug   = CASE WHEN $9 THEN $10 ELSE cal_event_type_slug END,
                    cal_timezone          = CASE WHEN $11 THEN $12 ELSE cal_timezone END,
                    updated_at            = $13
              WHERE tenant_id = $1 AND id = $2
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(&patch.name)
        .bind(&patch.time_zone)
        .bind(patch.backend.map(AgentBackend::as_str))
        .bind(patch.cal_enabled)
        .bind(patch.cal_api_key_encrypted.is_some())
        .bind(patch.cal_api_key_encrypted.clone().flatten())
        .bind(patch.cal_event_type_slug.is_some())
        .bind(patch.cal_event_type_slug.clone().flatten())
        .bind(patch.cal_timezone.is_some())
        .bind(patch.cal_timezone.clone().flatten())
        .bind(now())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(AgentRow::into_model).transpose()?).await
    }

    async fn delete_agent(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query("DELETE FROM agents WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, done.rows_affected() > 0).await
    }

    async fn find_agent(&self, id: Uuid) -> StoreResult<Option<Agent>> {
        let mut tx = self.begin(Scope::Agent(id)).await?;
        let row = sqlx::query_as::<_, AgentRow>("SELECT * FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, row.map(AgentRow::into_model).transpose()?).await
    }

    // ---- availability rules ----

    async fn create_rule(
        &self,
        tenant: TenantId,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<AvailabilityRule> {
        let id = new_id();
        let mut tx = self.scoped(tenant).await?;
        // The bump also proves the user is in this tenant, and locks the user.
        if !bump(&mut tx, tenant, rule.user_id).await? {
            tx.rollback().await.map_err(db)?;
            return Err(missing_user());
        }
        if rule.is_default {
            demote(&mut tx, tenant, rule.user_id, id).await?;
        }
        let row = sqlx::query_as::<_, RuleRow>(
            "INSERT INTO availability_rules (id, tenant_id, user_id, name, is_default, document,
                                             created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             RETURNING *",
        )
        .bind(id)
        .bind(tenant.0)
        .bind(rule.user_id)
        .bind(&rule.name)
        .bind(rule.is_default)
        .bind(&rule.document)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.into_model()?).await
    }

    async fn replace_rule(
        &self,
        tenant: TenantId,
        id: Uuid,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<Option<AvailabilityRule>> {
        let mut tx = self.scoped(tenant).await?;
        let Some(user) = owner(&mut tx, Owned::Rule, tenant, id).await? else {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        bump(&mut tx, tenant, user).await?;
        if rule.is_default {
            demote(&mut tx, tenant, user, id).await?;
        }
        let row = sqlx::query_as::<_, RuleRow>(
            "UPDATE availability_rules
                SET name = $3, is_default = $4, document = $5, updated_at = $6
              WHERE tenant_id = $1 AND id = $2
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(&rule.name)
        .bind(rule.is_default)
        .bind(&rule.document)
        .bind(now())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            // Deleted between the look-up and the update: undo the bump.
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        commit(tx, Some(row.into_model()?)).await
    }

    async fn get_rule(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<AvailabilityRule>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, RuleRow>(
            "SELECT * FROM availability_rules WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(RuleRow::into_model).transpose()?).await
    }

    async fn list_rules(
        &self,
        tenant: TenantId,
        user_id: Option<Uuid>,
    ) -> StoreResult<Vec<AvailabilityRule>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, RuleRow>(
            "SELECT * FROM availability_rules
              WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
              ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, RuleRow::into_model)?).await
    }

    async fn delete_rule(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let Some(user) = owner(&mut tx, Owned::Rule, tenant, id).await? else {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        };
        bump(&mut tx, tenant, user).await?;
        let done = sqlx::query("DELETE FROM availability_rules WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        }
        commit(tx, true).await
    }

    async fn default_rules(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<AvailabilityRule>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, RuleRow>(
            "SELECT * FROM availability_rules
              WHERE tenant_id = $1 AND user_id = ANY($2) AND is_default",
        )
        .bind(tenant.0)
        .bind(user_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, RuleRow::into_model)?).await
    }

    async fn users_with_default_rule(&self, tenant: TenantId) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.scoped(tenant).await?;
        let users = sqlx::query_scalar(
            "SELECT user_id FROM availability_rules
              WHERE tenant_id = $1 AND is_default
              ORDER BY user_id",
        )
        .bind(tenant.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, users).await
    }

    // ---- calendar events ----

    async fn create_event(
        &self,
        tenant: TenantId,
        id: Uuid,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<CalendarEvent> {
        let mut tx = self.scoped(tenant).await?;
        if !bump(&mut tx, tenant, event.user_id).await? {
            tx.rollback().await.map_err(db)?;
            return Err(missing_user());
        }
        let row = sqlx::query_as::<_, EventRow>(
            "INSERT INTO calendar_events (id, tenant_id, user_id, provider_id, external_id, etag,
                                          title, description, start_at, end_at, all_day, status,
                                          transparency, source, booking_id, created_at,
                                          updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
             RETURNING *",
        )
        .bind(id)
        .bind(tenant.0)
        .bind(event.user_id)
        .bind(event.provider_id)
        .bind(&event.external_id)
        .bind(&event.etag)
        .bind(&event.title)
        .bind(&event.description)
        .bind(event.start.to_sqlx())
        .bind(event.end.to_sqlx())
        .bind(event.all_day)
        .bind(event.status.as_str())
        .bind(event.transparency.as_str())
        .bind(event.source.as_str())
        .bind(event.booking_id)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        insert_jobs(&mut tx, tenant, jobs).await?;
        commit(tx, row.into_model()?).await
    }

    async fn get_event(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<CalendarEvent>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, EventRow>(
            "SELECT * FROM calendar_events WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(EventRow::into_model).transpose()?).await
    }

    async fn replace_event(
        &self,
        tenant: TenantId,
        id: Uuid,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<Option<CalendarEvent>> {
        let mut tx = self.scoped(tenant).await?;
        let Some(user) = owner(&mut tx, Owned::Event, tenant, id).await? else {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        bump(&mut tx, tenant, user).await?;
        let row = sqlx::query_as::<_, EventRow>(
            "UPDATE calendar_events
                SET provider_id = $3, external_id = $4, etag = $5, title = $6, description = $7,
                    start_at = $8, end_at = $9, all_day = $10, status = $11, transparency = $12,
                    source = $13, booking_id = $14, updated_at = $15
              WHERE tenant_id = $1 AND id = $2
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(event.provider_id)
        .bind(&event.external_id)
        .bind(&event.etag)
        .bind(&event.title)
        .bind(&event.description)
        .bind(event.start.to_sqlx())
        .bind(event.end.to_sqlx())
        .bind(event.all_day)
        .bind(event.status.as_str())
        .bind(event.transparency.as_str())
        .bind(event.source.as_str())
        .bind(event.booking_id)
        .bind(now())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            // Deleted between the look-up and the update: undo the bump.
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        insert_jobs(&mut tx, tenant, jobs).await?;
        commit(tx, Some(row.into_model()?)).await
    }

    async fn delete_event(&self, tenant: TenantId, id: Uuid, jobs: &[NewJob]) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let Some(user) = owner(&mut tx, Owned::Event, tenant, id).await? else {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        };
        bump(&mut tx, tenant, user).await?;
        let done = sqlx::query("DELETE FROM calendar_events WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        }
        insert_jobs(&mut tx, tenant, jobs).await?;
        commit(tx, true).await
    }

    async fn list_events(
        &self,
        tenant: TenantId,
        filter: &EventFilter,
    ) -> StoreResult<Vec<CalendarEvent>> {
        // Only fixed fragments are pushed; every value is bound.
        let mut query =
            QueryBuilder::<Postgres>::new("SELECT * FROM calendar_events WHERE tenant_id = ");
        query.push_bind(tenant.0);
        if !filter.user_ids.is_empty() {
            query.push(" AND user_id = ANY(");
            query.push_bind(filter.user_ids.clone());
            query.push(")");
        }
        if !filter.include_cancelled {
            query.push(" AND status <> 'cancelled'");
        }
        if let Some(from) = filter.from {
            query.push(" AND end_at > ");
            query.push_bind(widened_back(from));
            query.push(" AND (all_day OR end_at > ");
            query.push_bind(from.to_sqlx());
            query.push(")");
        }
        if let Some(to) = filter.to {
            query.push(" AND start_at < ");
            query.push_bind(widened_forward(to));
            query.push(" AND (all_day OR start_at < ");
            query.push_bind(to.to_sqlx());
            query.push(")");
        }
        query.push(" ORDER BY start_at, id");
        let mut tx = self.scoped(tenant).await?;
        let rows = query
            .build_query_as::<EventRow>()
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, all(rows, EventRow::into_model)?).await
    }

    async fn busy_events(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<BusyEvent>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, BusyRow>(BUSY_EVENTS)
            .bind(tenant.0)
            .bind(user_ids)
            .bind(widened_back(from))
            .bind(widened_forward(to))
            .bind(from.to_sqlx())
            .bind(to.to_sqlx())
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, all(rows, BusyRow::into_model)?).await
    }

    async fn busy_versions(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<(Uuid, i64)>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Asked before every availability answer and booking, so it takes one round trip: the
        // scope and the query go as one simple-protocol message, which PostgreSQL runs as one
        // implicit transaction, so the transaction-local setting holds for the query and ends
        // with it. Only UUIDs we formatted ourselves are written into the text.
        let ids = user_ids
            .iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let statement = format!(
            "SELECT set_config('app.tenant_id', '{tenant}', true); \
             SELECT id, busy_version FROM users WHERE tenant_id = '{tenant}' AND id IN ({ids})",
            tenant = tenant.0,
        );
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            // The first statement's single row is the setting's value.
            .filter(|row| row.columns().len() == 2)
            .map(|row| Ok((row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?)))
            .collect()
    }

    // ---- bookings ----

    async fn create_booking(
        &self,
        tenant: TenantId,
        booking: &NewBooking,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Booking> {
        let occupied = booking.occupied();
        // Three round trips in all, the hottest write path: the BEGIN that scopes the
        // transaction also takes the user's lock (see [`bump`]); then the blocking-event check;
        // then one statement that writes the booking, its busy event, its jobs and the
        // idempotent answer. The lock comes first so that the check's snapshot already sees
        // every event committed before it: event writes take the same lock.
        let statement = format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true); \
             UPDATE users SET busy_version = busy_version + 1 \
              WHERE tenant_id = '{tenant}' AND id = '{user}'",
            tenant = tenant.0,
            user = booking.user_id,
        );
        let mut tx = self
            .pool
            .begin_with(sqlx::AssertSqlSafe(statement))
            .await
            .map_err(db)?;
        if blocked_by_event(&mut tx, tenant, booking.user_id, occupied).await? {
            return Err(overlap());
        }
        let now = now();
        let job_ids: Vec<Uuid> = jobs.iter().map(|_| new_id()).collect();
        let job_kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
        let job_payloads: Vec<String> = jobs.iter().map(|j| j.payload.to_string()).collect();
        let row = sqlx::query_as::<_, BookingRow>(INSERT_BOOKING)
            .bind(booking.id)
            .bind(tenant.0)
            .bind(booking.agent_id)
            .bind(booking.user_id)
            .bind(&booking.confirmation_code)
            .bind(booking.start.to_sqlx())
            .bind(booking.end.to_sqlx())
            .bind(booking.buffer_before_minutes)
            .bind(booking.buffer_after_minutes)
            .bind(occupied.0.to_sqlx())
            .bind(occupied.1.to_sqlx())
            .bind(&booking.attendee.name)
            .bind(&booking.attendee.email)
            .bind(&booking.attendee.phone)
            .bind(&booking.notes)
            .bind(&booking.title)
            .bind(&booking.description)
            .bind(&booking.call_id)
            .bind(now)
            .bind(new_id())
            .bind(&job_ids)
            .bind(&job_kinds)
            .bind(&job_payloads)
            .bind(response.map(|r| r.key.as_str()))
            .bind(response.map(|r| r.request_hash.as_str()))
            .bind(response.map(|r| i32::from(r.status)))
            .bind(response.map(|r| &r.body))
            .fetch_optional(&mut *tx)
            .await
            .map_err(|error| match db(error) {
                StoreError::MissingReference(Entity::Other(name)) if name == "bookings_user_fk" => {
                    missing_user()
                }
                other => other,
            })?;
        // No row: the agent named is not in this tenant.
        let row = row.ok_or(StoreError::MissingReference(Entity::Agent))?;
        commit(tx, row.into_model()?).await
    }

    async fn get_booking(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        let row = booking_row(&mut tx, tenant, id).await?;
        commit(tx, row.map(BookingRow::into_model).transpose()?).await
    }

    async fn find_booking_by_code(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> StoreResult<Option<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, BookingRow>(
            "SELECT * FROM bookings WHERE tenant_id = $1 AND confirmation_code = $2",
        )
        .bind(tenant.0)
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(BookingRow::into_model).transpose()?).await
    }

    async fn list_bookings(
        &self,
        tenant: TenantId,
        filter: &BookingFilter,
    ) -> StoreResult<Vec<Booking>> {
        // Only fixed fragments are pushed; every value is bound.
        let mut query = QueryBuilder::<Postgres>::new("SELECT * FROM bookings WHERE tenant_id = ");
        query.push_bind(tenant.0);
        if let Some(status) = filter.status {
            query.push(" AND status = ");
            query.push_bind(status.as_str());
        }
        if let Some(user) = filter.user_id {
            query.push(" AND user_id = ");
            query.push_bind(user);
        }
        if let Some(agent) = filter.agent_id {
            query.push(" AND agent_id = ");
            query.push_bind(agent);
        }
        if let Some(from) = filter.from {
            query.push(" AND end_at > ");
            query.push_bind(from.to_sqlx());
        }
        if let Some(to) = filter.to {
            query.push(" AND start_at < ");
            query.push_bind(to.to_sqlx());
        }
        query.push(" ORDER BY start_at, id LIMIT ");
        query.push_bind(i64::from(filter.limit.unwrap_or(DEFAULT_BOOKING_LIMIT)));
        let mut tx = self.scoped(tenant).await?;
        let rows = query
            .build_query_as::<BookingRow>()
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, all(rows, BookingRow::into_model)?).await
    }

    async fn cancel_booking(
        &self,
        tenant: TenantId,
        id: Uuid,
        reason: Option<&str>,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        let Some(found) = booking_row(&mut tx, tenant, id).await? else {
            return Ok(None);
        };
        // User first, then the booking: the lock order of every booking write.
        lock_user(&mut tx, tenant, found.user_id).await?;
        let now = now();
        let row = sqlx::query_as::<_, BookingRow>(
            "UPDATE bookings SET status = 'cancelled', cancel_reason = $3, cancelled_at = $4,
                                 updated_at = $4
              WHERE tenant_id = $1 AND id = $2 AND status = 'confirmed'
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(reason)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            // Already cancelled: nothing changes, but the request still gets its answer.
            let Some(current) = booking_row(&mut tx, tenant, id).await? else {
                return Ok(None);
            };
            if let Some(response) = response {
                record_response(&mut tx, tenant, response).await?;
            }
            return commit(tx, Some(current.into_model()?)).await;
        };
        bump(&mut tx, tenant, row.user_id).await?;
        sqlx::query(
            "UPDATE calendar_events SET status = 'cancelled', updated_at = $3
              WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        follow_up(&mut tx, tenant, jobs, response).await?;
        commit(tx, Some(row.into_model()?)).await
    }

    async fn reschedule_booking(
        &self,
        tenant: TenantId,
        id: Uuid,
        start: Timestamp,
        end: Timestamp,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        let Some(found) = booking_row(&mut tx, tenant, id).await? else {
            return Ok(None);
        };
        // User first (the bump locks it), then the booking; a refusal rolls the bump back.
        bump(&mut tx, tenant, found.user_id).await?;
        let Some(current) = booking_row(&mut tx, tenant, id).await? else {
            return Ok(None);
        };
        if current.status != BookingStatus::Confirmed.as_str() {
            return Err(StoreError::Conflict(Constraint::BookingNotConfirmed));
        }
        let occupied = occupied_range(
            start,
            end,
            current.buffer_before_minutes,
            current.buffer_after_minutes,
        );
        if blocked_by_event(&mut tx, tenant, current.user_id, occupied).await? {
            return Err(overlap());
        }
        let now = now();
        // One UPDATE under the exclusion constraint, which compares the new range with every
        // other confirmed booking: the old time is released only if the new one is taken.
        let row = sqlx::query_as::<_, BookingRow>(
            "UPDATE bookings SET start_at = $3, end_at = $4, occupied_start_at = $5,
                                 occupied_end_at = $6, updated_at = $7
              WHERE tenant_id = $1 AND id = $2
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(start.to_sqlx())
        .bind(end.to_sqlx())
        .bind(occupied.0.to_sqlx())
        .bind(occupied.1.to_sqlx())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE calendar_events SET start_at = $3, end_at = $4, updated_at = $5
              WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(start.to_sqlx())
        .bind(end.to_sqlx())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        follow_up(&mut tx, tenant, jobs, response).await?;
        commit(tx, Some(row.into_model()?)).await
    }

    async fn member_stats(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
        now: Timestamp,
    ) -> StoreResult<Vec<MemberStats>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.scoped(tenant).await?;
        let rows: Vec<(Uuid, Option<jiff_sqlx::Timestamp>, i64)> = sqlx::query_as(
            "SELECT u.id,
                    max(b.created_at) FILTER (WHERE b.status = 'confirmed'),
                    count(b.id) FILTER (WHERE b.status = 'confirmed' AND b.start_at >= $3)
               FROM users u
               LEFT JOIN bookings b ON b.tenant_id = u.tenant_id AND b.user_id = u.id
              WHERE u.tenant_id = $1 AND u.id = ANY($2)
              GROUP BY u.id",
        )
        .bind(tenant.0)
        .bind(user_ids)
        .bind(now.to_sqlx())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let stats = rows
            .into_iter()
            .map(|(user_id, last, upcoming)| MemberStats {
                user_id,
                last_booked_at: last.map(|t| t.to_jiff()),
                upcoming: u32::try_from(upcoming).unwrap_or(u32::MAX),
            })
            .collect();
        commit(tx, stats).await
    }

    // ---- idempotency ----

    async fn begin_idempotent(
        &self,
        tenant: TenantId,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        stale_after: jiff::SignedDuration,
    ) -> StoreResult<IdempotencyState> {
        let stale_before = now.checked_sub(stale_after).unwrap_or(Timestamp::MIN);
        let mut tx = self.scoped(tenant).await?;
        // Inserts a new record, or takes over a stale in-progress one; RETURNING says which.
        // On a conflict the row is locked either way, so the read below sees it as it stays.
        let claimed: Option<bool> = sqlx::query_scalar(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, created_at,
                                           updated_at)
             VALUES ($1, $2, $3, 'in_progress', $4, $4)
             ON CONFLICT (tenant_id, key) DO UPDATE
                SET request_hash = excluded.request_hash, created_at = excluded.created_at,
                    updated_at = excluded.updated_at
              WHERE idempotency_keys.state = 'in_progress'
                AND idempotency_keys.updated_at <= $5
             RETURNING true",
        )
        .bind(tenant.0)
        .bind(key)
        .bind(request_hash)
        .bind(now.to_sqlx())
        .bind(stale_before.to_sqlx())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let state = if claimed.is_some() {
            IdempotencyState::Started
        } else {
            sqlx::query_as::<_, IdempotencyRow>(
                "SELECT request_hash, state, status, body FROM idempotency_keys
                  WHERE tenant_id = $1 AND key = $2",
            )
            .bind(tenant.0)
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?
            .into_model()?
        };
        commit(tx, state).await
    }

    async fn finish_idempotent(
        &self,
        tenant: TenantId,
        response: &IdempotentResponse,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        record_response(&mut tx, tenant, response).await?;
        commit(tx, ()).await
    }

    async fn abandon_idempotent(&self, tenant: TenantId, key: &str) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "DELETE FROM idempotency_keys
              WHERE tenant_id = $1 AND key = $2 AND state = 'in_progress'",
        )
        .bind(tenant.0)
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, ()).await
    }

    // ---- outbox ----

    async fn enqueue_jobs(&self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut tx = self.scoped(tenant).await?;
        insert_jobs(&mut tx, tenant, jobs).await?;
        commit(tx, ()).await
    }

    async fn claim_jobs(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let until = now.checked_add(lease).unwrap_or(Timestamp::MAX);
        let mut tx = self.begin(Scope::Worker).await?;
        // SKIP LOCKED: a job another process is claiming right now is left to it, so
        // concurrent claims neither wait on each other nor return the same job.
        let rows = sqlx::query_as::<_, JobRow>(
            "WITH due AS (
                 SELECT id FROM outbox
                  WHERE status IN ('pending', 'running') AND next_attempt_at <= $1
                  ORDER BY next_attempt_at, id
                  LIMIT $3
                    FOR UPDATE SKIP LOCKED)
             UPDATE outbox o
                SET status = 'running', attempts = o.attempts + 1, next_attempt_at = $2,
                    updated_at = $4
               FROM due
              WHERE o.id = due.id
             RETURNING o.*",
        )
        .bind(now.to_sqlx())
        .bind(until.to_sqlx())
        .bind(i64::from(limit))
        .bind(self::now())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut jobs = all(rows, JobRow::into_model)?;
        jobs.sort_by_key(|j| (j.created_at, j.id));
        commit(tx, jobs).await
    }

    async fn complete_job(&self, id: Uuid) -> StoreResult<()> {
        let mut tx = self.begin(Scope::Worker).await?;
        sqlx::query("UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, ()).await
    }

    async fn purge_expired(
        &self,
        keys_before: Timestamp,
        jobs_before: Timestamp,
    ) -> StoreResult<(u64, u64)> {
        // The worker's scope reveals both tables across tenants (migration 0007).
        let mut tx = self.begin(Scope::Worker).await?;
        let keys = sqlx::query("DELETE FROM idempotency_keys WHERE updated_at < $1")
            .bind(keys_before.to_sqlx())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        let jobs = sqlx::query("DELETE FROM outbox WHERE status = 'done' AND updated_at < $1")
            .bind(jobs_before.to_sqlx())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        commit(tx, (keys, jobs)).await
    }

    async fn complete_jobs(&self, ids: &[Uuid]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin(Scope::Worker).await?;
        sqlx::query("UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = ANY($1)")
            .bind(ids)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, ()).await
    }

    async fn fail_job(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        let mut tx = self.begin(Scope::Worker).await?;
        sqlx::query(
            "UPDATE outbox
                SET status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                    next_attempt_at = COALESCE($3::timestamptz, next_attempt_at),
                    last_error = $2, updated_at = $4
              WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at.map(|t| t.to_sqlx()))
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, ()).await
    }

    async fn list_jobs(&self, tenant: TenantId, kind: Option<&str>) -> StoreResult<Vec<Job>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM outbox WHERE tenant_id = $1 AND ($2::text IS NULL OR kind = $2)
              ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(kind)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, JobRow::into_model)?).await
    }

    async fn outbox_backlog(&self) -> StoreResult<(i64, Option<Timestamp>)> {
        let mut tx = self.begin(Scope::Worker).await?;
        let (count, oldest): (i64, Option<jiff_sqlx::Timestamp>) = sqlx::query_as(
            "SELECT count(*), min(created_at) FILTER (WHERE status = 'pending') FROM outbox
              WHERE status IN ('pending', 'running')",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, (count, oldest.map(|t| t.to_jiff()))).await
    }

    // ---- booking settings ----

    async fn get_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Option<sqlx::types::JsonValue>> {
        let mut tx = self.scoped(tenant).await?;
        let settings = sqlx::query_scalar(
            "SELECT settings FROM booking_settings WHERE tenant_id = $1 AND agent_id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, settings).await
    }

    async fn put_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        settings: &sqlx::types::JsonValue,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "INSERT INTO booking_settings (tenant_id, agent_id, settings, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (tenant_id, agent_id) DO UPDATE
                SET settings = excluded.settings, updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .bind(settings)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(|e| match db(e) {
            // booking_settings_agent_fk: no such agent in this tenant.
            StoreError::MissingReference(_) => StoreError::MissingReference(Entity::Agent),
            other => other,
        })?;
        commit(tx, ()).await
    }

    async fn set_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        retell_agent_id: Option<&str>,
    ) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let done = sqlx::query(
            "UPDATE agents SET retell_agent_id = $3, updated_at = $4
              WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .bind(retell_agent_id)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, done.rows_affected() > 0).await
    }

    async fn get_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Option<String>> {
        let mut tx = self.scoped(tenant).await?;
        let found: Option<Option<String>> = sqlx::query_scalar(
            "SELECT retell_agent_id FROM agents WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, found.flatten()).await
    }

    async fn find_agents_by_retell_id(&self, retell_agent_id: &str) -> StoreResult<Vec<Agent>> {
        // The narrow policy agents_by_retell_id reveals only the agents with this Retell id.
        let mut tx = self
            .begin_voice_scope("app.retell_agent_id", retell_agent_id)
            .await?;
        let rows = sqlx::query_as::<_, AgentRow>(
            "SELECT * FROM agents WHERE retell_agent_id = $1 ORDER BY id",
        )
        .bind(retell_agent_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, AgentRow::into_model)?).await
    }

    async fn get_retell_key(&self, tenant: TenantId) -> StoreResult<Option<String>> {
        let mut tx = self.scoped(tenant).await?;
        let found: Option<Option<String>> = sqlx::query_scalar(
            "SELECT retell_api_key_encrypted FROM voice_settings WHERE tenant_id = $1",
        )
        .bind(tenant.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, found.flatten()).await
    }

    async fn set_retell_key(&self, tenant: TenantId, sealed: Option<&str>) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "INSERT INTO voice_settings (tenant_id, retell_api_key_encrypted, created_at,
                                         updated_at)
             VALUES ($1, $2, $3, $3)
             ON CONFLICT (tenant_id) DO UPDATE
                SET retell_api_key_encrypted = excluded.retell_api_key_encrypted,
                    updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(sealed)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, ()).await
    }

    async fn create_widget_key(
        &self,
        tenant: TenantId,
        key: &NewWidgetKey,
    ) -> StoreResult<WidgetKey> {
        self.incall_create_widget_key(tenant, key).await
    }

    async fn list_widget_keys(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Vec<WidgetKey>> {
        self.incall_list_widget_keys(tenant, agent_id).await
    }

    async fn update_widget_key(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        id: Uuid,
        patch: &WidgetKeyPatch,
    ) -> StoreResult<Option<WidgetKey>> {
        self.incall_update_widget_key(tenant, agent_id, id, patch)
            .await
    }

    async fn delete_widget_key(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        id: Uuid,
    ) -> StoreResult<bool> {
        self.incall_delete_widget_key(tenant, agent_id, id).await
    }

    async fn find_widget_key(&self, prefix: &str) -> StoreResult<Option<WidgetKey>> {
        self.incall_find_widget_key(prefix).await
    }

    async fn upsert_calendar_connection(
        &self,
        tenant: TenantId,
        connection: &NewCalendarConnection,
    ) -> StoreResult<CalendarConnection> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, ConnectionRow>(
            "INSERT INTO calendar_providers (id, tenant_id, user_id, kind, calendar_id,
                 account_email, access_token_encrypted, refresh_token_encrypted,
                 token_expires_at, scopes, sync_enabled, status, next_sync_at, created_at,
                 updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true, 'active', $11, $11, $11)
             ON CONFLICT (tenant_id, user_id, kind, calendar_id, account_email) DO UPDATE
                SET access_token_encrypted = excluded.access_token_encrypted,
                    refresh_token_encrypted = COALESCE(excluded.refresh_token_encrypted,
                                                calendar_providers.refresh_token_encrypted),
                    token_expires_at = excluded.token_expires_at, scopes = excluded.scopes,
                    sync_enabled = true, status = 'active', last_error = NULL,
                    failure_count = 0, next_sync_at = excluded.next_sync_at,
                    updated_at = excluded.updated_at
             RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(connection.user_id)
        .bind(&connection.kind)
        .bind(&connection.calendar_id)
        .bind(&connection.account_email)
        .bind(&connection.access_token_encrypted)
        .bind(&connection.refresh_token_encrypted)
        .bind(connection.token_expires_at.to_sqlx())
        .bind(connection.scopes.join(" "))
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match db(e) {
            StoreError::MissingReference(_) => missing_user(),
            other => other,
        })?;
        commit(tx, row.into_model()?).await
    }

    async fn get_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> StoreResult<Option<CalendarConnection>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, ConnectionRow>(
            "SELECT * FROM calendar_providers WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(ConnectionRow::into_model).transpose()?).await
    }

    async fn list_calendar_connections(
        &self,
        tenant: TenantId,
        user_id: Option<Uuid>,
    ) -> StoreResult<Vec<CalendarConnection>> {
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, ConnectionRow>(
            "SELECT * FROM calendar_providers
              WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
              ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, all(rows, ConnectionRow::into_model)?).await
    }

    async fn update_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &ConnectionPatch,
    ) -> StoreResult<Option<CalendarConnection>> {
        let mut query =
            QueryBuilder::<Postgres>::new("UPDATE calendar_providers SET updated_at = ");
        query.push_bind(now());
        if let Some(v) = &patch.access_token_encrypted {
            query
                .push(", access_token_encrypted = ")
                .push_bind(v.clone());
        }
        if let Some(v) = &patch.refresh_token_encrypted {
            query
                .push(", refresh_token_encrypted = ")
                .push_bind(v.clone());
        }
        if let Some(v) = patch.token_expires_at {
            query.push(", token_expires_at = ").push_bind(v.to_sqlx());
        }
        if let Some(v) = &patch.scopes {
            query.push(", scopes = ").push_bind(v.join(" "));
        }
        if let Some(v) = &patch.sync_token {
            query.push(", sync_token = ").push_bind(v.clone());
        }
        if let Some(v) = patch.sync_enabled {
            query.push(", sync_enabled = ").push_bind(v);
        }
        if let Some(v) = patch.status {
            query.push(", status = ").push_bind(v.as_str());
        }
        if let Some(v) = patch.last_synced_at {
            query.push(", last_synced_at = ").push_bind(v.to_sqlx());
        }
        if let Some(v) = &patch.last_error {
            query.push(", last_error = ").push_bind(v.clone());
        }
        if let Some(v) = patch.next_sync_at {
            query.push(", next_sync_at = ").push_bind(v.to_sqlx());
        }
        if let Some(v) = patch.failure_count {
            query.push(", failure_count = ").push_bind(v);
        }
        if let Some(channel) = &patch.channel {
            let c = channel.as_ref();
            query
                .push(", channel_id = ")
                .push_bind(c.map(|c| c.id.clone()))
                .push(", channel_resource_id = ")
                .push_bind(c.map(|c| c.resource_id.clone()))
                .push(", channel_token_hash = ")
                .push_bind(c.map(|c| c.token_hash.clone()))
                .push(", channel_expires_at = ")
                .push_bind(c.map(|c| c.expires_at.to_sqlx()));
        }
        query.push(" WHERE tenant_id = ").push_bind(tenant.0);
        query.push(" AND id = ").push_bind(id);
        query.push(" RETURNING *");
        let mut tx = self.scoped(tenant).await?;
        let row = query
            .build_query_as::<ConnectionRow>()
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, row.map(ConnectionRow::into_model).transpose()?).await
    }

    async fn delete_calendar_connection(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
        let user: Option<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM calendar_providers WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(user) = user else {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        };
        bump(&mut tx, tenant, user).await?;
        sqlx::query(
            "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2
                AND source = 'google'",
        )
        .bind(tenant.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE calendar_events SET provider_id = NULL, external_id = NULL, etag = NULL
              WHERE tenant_id = $1 AND provider_id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let done = sqlx::query("DELETE FROM calendar_providers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, done.rows_affected() > 0).await
    }

    async fn lease_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
        owner: &str,
        now: Timestamp,
        lease: jiff::SignedDuration,
    ) -> StoreResult<Option<CalendarConnection>> {
        let until = now.checked_add(lease).unwrap_or(Timestamp::MAX);
        let mut tx = self.scoped(tenant).await?;
        // The row lock of the UPDATE serialises two processes racing for the same lease; the
        // loser re-reads the winner's lease and matches nothing.
        let row = sqlx::query_as::<_, ConnectionRow>(
            "UPDATE calendar_providers SET sync_lock_owner = $3, sync_locked_until = $4
              WHERE tenant_id = $1 AND id = $2
                AND (sync_locked_until IS NULL OR sync_locked_until <= $5
                     OR sync_lock_owner = $3)
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(owner)
        .bind(until.to_sqlx())
        .bind(now.to_sqlx())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(ConnectionRow::into_model).transpose()?).await
    }

    async fn release_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
        owner: &str,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "UPDATE calendar_providers SET sync_lock_owner = NULL, sync_locked_until = NULL
              WHERE tenant_id = $1 AND id = $2 AND sync_lock_owner = $3",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, ()).await
    }

    async fn lease_due_calendar_connections(
        &self,
        owner: &str,
        now: Timestamp,
        lease: jiff::SignedDuration,
        channel_horizon: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<CalendarConnection>> {
        let until = now.checked_add(lease).unwrap_or(Timestamp::MAX);
        let mut tx = self.begin_setting("app.sync_worker", "on").await?;
        // SKIP LOCKED, as for the outbox: a connection another process is leasing right now
        // is left to it.
        let rows = sqlx::query_as::<_, ConnectionRow>(
            "WITH due AS (
                 SELECT id FROM calendar_providers
                  WHERE sync_enabled AND status IN ('active', 'error')
                    AND (sync_locked_until IS NULL OR sync_locked_until <= $3)
                    AND (next_sync_at <= $3
                         OR (channel_expires_at IS NOT NULL AND channel_expires_at < $4))
                  ORDER BY next_sync_at, id
                  LIMIT $5
                    FOR UPDATE SKIP LOCKED)
             UPDATE calendar_providers c
                SET sync_lock_owner = $1, sync_locked_until = $2
               FROM due
              WHERE c.id = due.id
             RETURNING c.*",
        )
        .bind(owner)
        .bind(until.to_sqlx())
        .bind(now.to_sqlx())
        .bind(channel_horizon.to_sqlx())
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut connections = all(rows, ConnectionRow::into_model)?;
        connections.sort_by_key(|c| (c.next_sync_at, c.id));
        commit(tx, connections).await
    }

    async fn find_calendar_connection_by_channel(
        &self,
        channel_id: &str,
    ) -> StoreResult<Option<CalendarConnection>> {
        let mut tx = self.begin_setting("app.channel_id", channel_id).await?;
        let row = sqlx::query_as::<_, ConnectionRow>(
            "SELECT * FROM calendar_providers WHERE channel_id = $1",
        )
        .bind(channel_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(ConnectionRow::into_model).transpose()?).await
    }

    async fn apply_synced_events(
        &self,
        tenant: TenantId,
        provider_id: Uuid,
        user_id: Uuid,
        events: &[NewCalendarEvent],
        deleted: &[String],
    ) -> StoreResult<()> {
        let now = now();
        let mut tx = self.scoped(tenant).await?;
        if !bump(&mut tx, tenant, user_id).await? {
            tx.rollback().await.map_err(db)?;
            return Err(missing_user());
        }
        // Many rows per statement: one round trip per chunk instead of per event.
        for chunk in events.chunks(1000) {
            let mut query = QueryBuilder::<Postgres>::new(
                "INSERT INTO calendar_events (id, tenant_id, user_id, provider_id, external_id,
                     etag, title, description, start_at, end_at, all_day, status, transparency,
                     source, created_at, updated_at) ",
            );
            query.push_values(chunk, |mut row, event| {
                row.push_bind(new_id())
                    .push_bind(tenant.0)
                    .push_bind(user_id)
                    .push_bind(provider_id)
                    .push_bind(event.external_id.clone())
                    .push_bind(event.etag.clone())
                    .push_bind(event.title.clone())
                    .push_bind(event.description.clone())
                    .push_bind(event.start.to_sqlx())
                    .push_bind(event.end.to_sqlx())
                    .push_bind(event.all_day)
                    .push_bind(event.status.as_str())
                    .push_bind(event.transparency.as_str())
                    .push("'google'")
                    .push_bind(now)
                    .push_bind(now);
            });
            query.push(
                " ON CONFLICT (provider_id, external_id)
                   WHERE provider_id IS NOT NULL AND external_id IS NOT NULL
                 DO UPDATE SET etag = excluded.etag, title = excluded.title,
                    description = excluded.description, start_at = excluded.start_at,
                    end_at = excluded.end_at, all_day = excluded.all_day,
                    status = excluded.status, transparency = excluded.transparency,
                    updated_at = excluded.updated_at
                  WHERE calendar_events.source = 'google'",
            );
            query.build().execute(&mut *tx).await.map_err(db)?;
        }
        if !deleted.is_empty() {
            sqlx::query(
                "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2
                    AND source = 'google' AND external_id = ANY($3)",
            )
            .bind(tenant.0)
            .bind(provider_id)
            .bind(deleted)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        commit(tx, ()).await
    }

    async fn prune_synced_events(
        &self,
        tenant: TenantId,
        provider_id: Uuid,
        user_id: Uuid,
        keep: &[String],
    ) -> StoreResult<u64> {
        let mut tx = self.scoped(tenant).await?;
        // The user's lock first, like every event write.
        lock_user(&mut tx, tenant, user_id).await?;
        let done = sqlx::query(
            "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2
                AND source = 'google' AND NOT (external_id = ANY($3))",
        )
        .bind(tenant.0)
        .bind(provider_id)
        .bind(keep)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() > 0 {
            bump(&mut tx, tenant, user_id).await?;
        }
        commit(tx, done.rows_affected()).await
    }

    async fn set_event_provider_ref(
        &self,
        tenant: TenantId,
        event_id: Uuid,
        provider_id: Option<Uuid>,
        external_id: Option<&str>,
        etag: Option<&str>,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(
            "UPDATE calendar_events SET provider_id = $3, external_id = $4, etag = $5
              WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(event_id)
        .bind(provider_id)
        .bind(external_id)
        .bind(etag)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, ()).await
    }

    async fn booking_event(
        &self,
        tenant: TenantId,
        booking_id: Uuid,
    ) -> StoreResult<Option<CalendarEvent>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, EventRow>(
            "SELECT * FROM calendar_events WHERE tenant_id = $1 AND booking_id = $2
                AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(booking_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(EventRow::into_model).transpose()?).await
    }

    async fn sealed_secrets(&self) -> StoreResult<Vec<SealedSecret>> {
        let mut tx = self.begin_setting("app.maintenance", "on").await?;
        let rows: Vec<(String, Uuid, String)> = sqlx::query_as(
            "SELECT 'access', id, access_token_encrypted FROM calendar_providers
              WHERE access_token_encrypted IS NOT NULL
             UNION ALL SELECT 'refresh', id, refresh_token_encrypted FROM calendar_providers
              WHERE refresh_token_encrypted IS NOT NULL
             UNION ALL SELECT 'agent', id, cal_api_key_encrypted FROM agents
              WHERE cal_api_key_encrypted IS NOT NULL",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, rows.into_iter().map(sealed_secret).collect()).await
    }

    async fn replace_sealed_secret(&self, secret: &SealedSecret, old: &str) -> StoreResult<bool> {
        let sql = match secret.column {
            SealedColumn::ConnectionAccessToken => {
                "UPDATE calendar_providers SET access_token_encrypted = $2
                  WHERE id = $1 AND access_token_encrypted = $3"
            }
            SealedColumn::ConnectionRefreshToken => {
                "UPDATE calendar_providers SET refresh_token_encrypted = $2
                  WHERE id = $1 AND refresh_token_encrypted = $3"
            }
            SealedColumn::AgentCalApiKey => {
                "UPDATE agents SET cal_api_key_encrypted = $2
                  WHERE id = $1 AND cal_api_key_encrypted = $3"
            }
        };
        let mut tx = self.begin_setting("app.maintenance", "on").await?;
        let done = sqlx::query(sql)
            .bind(secret.id)
            .bind(&secret.value)
            .bind(old)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, done.rows_affected() > 0).await
    }
}

impl PostgresStore {
    /// Begins a transaction with one narrow, text-valued setting of the voice lookups (the
    /// `Scope` enum is left alone so other branches' additions merge cleanly).
    async fn begin_voice_scope(
        &self,
        name: &'static str,
        value: &str,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // is_local = true: the setting ends with the transaction.
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        Ok(tx)
    }
}

impl PostgresStore {
    /// Begins a transaction with one narrow transaction-local setting that a policy of
    /// `0004_google.sql` reads (`app.sync_worker`, `app.channel_id`,
    /// `app.maintenance`).
    async fn begin_setting(
        &self,
        name: &'static str,
        value: &str,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        Ok(tx)
    }
}

fn sealed_secret((column, id, value): (String, Uuid, String)) -> SealedSecret {
    let column = match column.as_str() {
        "access" => SealedColumn::ConnectionAccessToken,
        "refresh" => SealedColumn::ConnectionRefreshToken,
        _ => SealedColumn::AgentCalApiKey,
    };
    SealedSecret { column, id, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn busy_events_use_the_partial_index() {
        let Some(db) = testing::fresh_database().await else {
            return;
        };
        let store = PostgresStore::connect(&db.url).await.unwrap();
        let mut tx = store.pool().begin().await.unwrap();
        // Tables this small would be read whole; ask what the plan is when that is not an
        // option, i.e. whether the index can serve the query at all.
        sqlx::query("SET LOCAL enable_seqscan = off")
            .execute(&mut *tx)
            .await
            .unwrap();
        let now = Timestamp::now();
        let plan: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {BUSY_EVENTS}")))
                .bind(new_id())
                .bind(vec![new_id(), new_id()])
                .bind(widened_back(now))
                .bind(widened_forward(now))
                .bind(now.to_sqlx())
                .bind(now.to_sqlx())
                .fetch_all(&mut *tx)
                .await
                .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("calendar_events_blocking"), "{plan}");
        assert!(plan.contains("bookings_busy"), "{plan}");
        tx.rollback().await.unwrap();
        drop(store);
        db.drop_database().await;
    }
}
