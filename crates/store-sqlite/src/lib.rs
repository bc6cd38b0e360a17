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
use sqlx::{FromRow, QueryBuilder, Sqlite, SqliteConnection, SqlitePool, Transaction};
use uuid::Uuid;

mod incall;

/// The SQLite-backed store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or `sqlite::memory:`)
    /// and runs the migrations.
    ///
    /// # Errors
    /// A malformed URL, an unwritable file or a failed migration.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(db)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // An in-memory database exists once per connection: keep exactly one.
        let max = if url.contains(":memory:") { 1 } else { 8 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await
            .map_err(db)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(Self { pool })
    }

    /// The pool, for tests that look underneath the trait.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Begins a write transaction that takes the write lock at once (see the crate docs).
    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
}

fn db(error: sqlx::Error) -> StoreError {
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
fn id_list(ids: &[Uuid]) -> String {
    let mut json = String::with_capacity(2 + ids.len() * 35);
    json.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push('"');
        json.push_str(id.simple().encode_lower(&mut Uuid::encode_buffer()));
        json.push('"');
    }
    json.push(']');
    json
}

/// Bumps the user's busy version; false when the user is not in the tenant.
async fn bump(conn: &mut SqliteConnection, tenant: TenantId, user: Uuid) -> StoreResult<bool> {
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
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: Uuid,
    keep: Uuid,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE availability_rules SET is_default = 0, updated_at = $4 \
         WHERE tenant_id = $1 AND user_id = $2 AND is_default AND id <> $3",
    )
    .bind(tenant.0)
    .bind(user)
    .bind(keep)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The user a rule or event belongs to; `table` is one of ours, never input.
async fn owner(
    conn: &mut SqliteConnection,
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

#[derive(Clone, Copy)]
enum Owned {
    Rule,
    Event,
}

/// Busy time of some users overlapping a range: blocking calendar events, then confirmed
/// bookings' occupied ranges. The events' status, transparency and source terms repeat the
/// WHERE clause of the partial index `calendar_events_blocking` word for word, so SQLite may use
/// it; the widened bounds (`$3`, `$4`) drive the index, the exact ones (`$5`, `$6`) apply to
/// timed events and bookings. A booking's own event is left out: its booking counts, with its
/// buffers. A test checks the plan.
const BUSY_EVENTS: &str = "\
    SELECT user_id, start_at, end_at, all_day FROM calendar_events
     WHERE tenant_id = $1 AND user_id IN (SELECT unhex(value) FROM json_each($2))
       AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
       AND source <> 'booking'
       AND end_at > $3 AND start_at < $4
       AND (all_day OR (end_at > $5 AND start_at < $6))
    UNION ALL
    SELECT user_id, occupied_start_at, occupied_end_at, FALSE FROM bookings
     WHERE tenant_id = $1 AND user_id IN (SELECT unhex(value) FROM json_each($2))
       AND status = 'confirmed'
       AND occupied_end_at > $5 AND occupied_start_at < $6";

/// The blocking calendar events of one user near a booking's occupied range: the events half
/// of [`BUSY_EVENTS`] for one user. All-day candidates are refined in Rust by zone.
const BLOCKING_EVENTS: &str = "\
    SELECT user_id, start_at, end_at, all_day FROM calendar_events
     WHERE tenant_id = $1 AND user_id = $2
       AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
       AND source <> 'booking'
       AND end_at > $3 AND start_at < $4
       AND (all_day OR (end_at > $5 AND start_at < $6))";

/// Whether another confirmed booking of the user occupies part of the range.
const OVERLAPPING_BOOKING: &str = "\
    SELECT EXISTS (SELECT 1 FROM bookings
                    WHERE tenant_id = $1 AND user_id = $2 AND status = 'confirmed'
                      AND id <> $3 AND occupied_end_at > $4 AND occupied_start_at < $5)";

/// The zones all-day events are read in for a user: the default rule's, then the user's own.
const USER_ZONES: &str = "\
    SELECT (SELECT json_extract(document, '$.timezone') FROM availability_rules
             WHERE tenant_id = $1 AND user_id = $2 AND is_default
               AND json_type(document, '$.timezone') = 'text'),
           time_zone
      FROM users WHERE tenant_id = $1 AND id = $2";

fn overlap() -> StoreError {
    StoreError::Conflict(Constraint::BookingOverlap)
}

/// Whether `occupied` (of `booking`, or a new booking) of the user is taken, by another
/// confirmed booking or a blocking event. Run inside the write transaction that then writes.
async fn taken(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: Uuid,
    booking: Uuid,
    occupied: (Timestamp, Timestamp),
) -> StoreResult<bool> {
    let (start, end) = (micros(occupied.0), micros(occupied.1));
    let clash: bool = sqlx::query_scalar(OVERLAPPING_BOOKING)
        .bind(tenant.0)
        .bind(user)
        .bind(booking)
        .bind(start)
        .bind(end)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    if clash {
        return Ok(true);
    }
    let rows = sqlx::query_as::<_, BusyRow>(BLOCKING_EVENTS)
        .bind(tenant.0)
        .bind(user)
        .bind(start.saturating_sub(WIDENING_MICROS))
        .bind(end.saturating_add(WIDENING_MICROS))
        .bind(start)
        .bind(end)
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

/// Queues jobs in the caller's transaction.
async fn insert_jobs(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    jobs: &[NewJob],
    now: i64,
) -> StoreResult<()> {
    for job in jobs {
        sqlx::query(
            "INSERT INTO outbox (id, tenant_id, kind, payload, status, attempts, \
             next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(&job.kind)
        .bind(json_text(&job.payload)?)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Records a request's answer (key done) in the caller's transaction.
async fn record_response(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    response: &IdempotentResponse,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, status, body, \
         created_at, updated_at) VALUES ($1, $2, $3, 'done', $4, $5, $6, $6) \
         ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = excluded.request_hash, \
         state = 'done', status = excluded.status, body = excluded.body, \
         updated_at = excluded.updated_at",
    )
    .bind(tenant.0)
    .bind(&response.key)
    .bind(&response.request_hash)
    .bind(i64::from(response.status))
    .bind(json_text(&response.body)?)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Jobs and response: the tail of every booking write.
async fn follow_up(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    jobs: &[NewJob],
    response: Option<&IdempotentResponse>,
    now: i64,
) -> StoreResult<()> {
    insert_jobs(conn, tenant, jobs, now).await?;
    if let Some(response) = response {
        record_response(conn, tenant, response, now).await?;
    }
    Ok(())
}

async fn booking_row(
    conn: &mut SqliteConnection,
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

fn json_text(value: &serde_json::Value) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(e.to_string()))
}

fn json_value(what: &str, text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn document_text(document: &serde_json::Value) -> StoreResult<String> {
    serde_json::to_string(document).map_err(|e| StoreError::Database(e.to_string()))
}

/// `ts` moved by `delta` microseconds, saturating: a bound beyond the ends of time is no bound.
fn shifted(ts: Timestamp, delta: i64) -> i64 {
    micros(ts).saturating_add(delta)
}

const WIDENING_MICROS: i64 = ALL_DAY_WIDENING.as_micros() as i64;

fn micros(ts: Timestamp) -> i64 {
    ts.as_microsecond()
}

fn instant(us: i64) -> StoreResult<Timestamp> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[derive(FromRow)]
struct TenantRow {
    id: Uuid,
    name: String,
    created_at: i64,
}

impl TenantRow {
    fn into_model(self) -> StoreResult<Tenant> {
        Ok(Tenant {
            id: TenantId(self.id),
            name: self.name,
            created_at: instant(self.created_at)?,
        })
    }
}

#[derive(FromRow)]
struct UserRow {
    id: Uuid,
    tenant_id: Uuid,
    email: String,
    name: String,
    role: String,
    time_zone: String,
    password_hash: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl UserRow {
    fn into_login(self) -> StoreResult<UserLogin> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| StoreError::Corrupt(format!("role {:?}", self.role)))?;
        Ok(UserLogin {
            user: User {
                id: self.id,
                tenant_id: TenantId(self.tenant_id),
                email: self.email,
                name: self.name,
                role,
                time_zone: self.time_zone,
                created_at: instant(self.created_at)?,
                updated_at: instant(self.updated_at)?,
            },
            password_hash: self.password_hash,
        })
    }

    fn into_model(self) -> StoreResult<User> {
        Ok(self.into_login()?.user)
    }
}

#[derive(FromRow)]
struct ApiKeyRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    prefix: String,
    secret_hash: String,
    created_at: i64,
}

impl ApiKeyRow {
    fn into_model(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            name: self.name,
            prefix: self.prefix,
            secret_hash: self.secret_hash,
            created_at: instant(self.created_at)?,
        })
    }
}

#[derive(FromRow)]
struct AgentRow {
    id: Uuid,
    tenant_id: Uuid,
    name: String,
    time_zone: String,
    backend: String,
    cal_enabled: bool,
    cal_api_key_encrypted: Option<String>,
    cal_event_type_slug: Option<String>,
    cal_timezone: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl AgentRow {
    fn into_model(self) -> StoreResult<Agent> {
        Ok(Agent {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            name: self.name,
            time_zone: self.time_zone,
            backend: AgentBackend::parse(&self.backend)
                .ok_or_else(|| StoreError::Corrupt(format!("backend {:?}", self.backend)))?,
            cal_enabled: self.cal_enabled,
            cal_api_key_encrypted: self.cal_api_key_encrypted,
            cal_event_type_slug: self.cal_event_type_slug,
            cal_timezone: self.cal_timezone,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}

#[derive(FromRow)]
struct RuleRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    name: Option<String>,
    is_default: bool,
    document: String,
    created_at: i64,
    updated_at: i64,
}

impl RuleRow {
    fn into_model(self) -> StoreResult<AvailabilityRule> {
        Ok(AvailabilityRule {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            user_id: self.user_id,
            name: self.name,
            is_default: self.is_default,
            document: serde_json::from_str(&self.document)
                .map_err(|e| StoreError::Corrupt(format!("rule document: {e}")))?,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}

#[derive(FromRow)]
struct EventRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    provider_id: Option<Uuid>,
    external_id: Option<String>,
    etag: Option<String>,
    title: String,
    description: Option<String>,
    start_at: i64,
    end_at: i64,
    all_day: bool,
    status: String,
    transparency: String,
    source: String,
    booking_id: Option<Uuid>,
    created_at: i64,
    updated_at: i64,
}

impl EventRow {
    fn into_model(self) -> StoreResult<CalendarEvent> {
        Ok(CalendarEvent {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            user_id: self.user_id,
            provider_id: self.provider_id,
            external_id: self.external_id,
            etag: self.etag,
            title: self.title,
            description: self.description,
            start: instant(self.start_at)?,
            end: instant(self.end_at)?,
            all_day: self.all_day,
            status: EventStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("status {:?}", self.status)))?,
            transparency: Transparency::parse(&self.transparency).ok_or_else(|| {
                StoreError::Corrupt(format!("transparency {:?}", self.transparency))
            })?,
            source: EventSource::parse(&self.source)
                .ok_or_else(|| StoreError::Corrupt(format!("source {:?}", self.source)))?,
            booking_id: self.booking_id,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}

#[derive(FromRow)]
struct BusyRow {
    user_id: Uuid,
    start_at: i64,
    end_at: i64,
    all_day: bool,
}

impl BusyRow {
    fn into_model(self) -> StoreResult<BusyEvent> {
        Ok(BusyEvent {
            user_id: self.user_id,
            start: instant(self.start_at)?,
            end: instant(self.end_at)?,
            all_day: self.all_day,
        })
    }
}

#[derive(FromRow)]
struct BookingRow {
    id: Uuid,
    tenant_id: Uuid,
    agent_id: Option<Uuid>,
    user_id: Uuid,
    confirmation_code: String,
    start_at: i64,
    end_at: i64,
    buffer_before_minutes: i32,
    buffer_after_minutes: i32,
    attendee_name: String,
    attendee_email: Option<String>,
    attendee_phone: Option<String>,
    notes: Option<String>,
    title: String,
    description: Option<String>,
    status: String,
    cancel_reason: Option<String>,
    cancelled_at: Option<i64>,
    call_id: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl BookingRow {
    fn into_model(self) -> StoreResult<Booking> {
        Ok(Booking {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            agent_id: self.agent_id,
            user_id: self.user_id,
            confirmation_code: self.confirmation_code,
            start: instant(self.start_at)?,
            end: instant(self.end_at)?,
            buffer_before_minutes: self.buffer_before_minutes,
            buffer_after_minutes: self.buffer_after_minutes,
            attendee: Attendee {
                name: self.attendee_name,
                email: self.attendee_email,
                phone: self.attendee_phone,
            },
            notes: self.notes,
            title: self.title,
            description: self.description,
            status: BookingStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("status {:?}", self.status)))?,
            cancel_reason: self.cancel_reason,
            cancelled_at: self.cancelled_at.map(instant).transpose()?,
            call_id: self.call_id,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}

#[derive(FromRow)]
struct JobRow {
    id: Uuid,
    tenant_id: Uuid,
    kind: String,
    payload: String,
    status: String,
    attempts: i32,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl JobRow {
    fn into_model(self) -> StoreResult<Job> {
        Ok(Job {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            kind: self.kind,
            payload: json_value("job payload", &self.payload)?,
            status: JobStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("job status {:?}", self.status)))?,
            attempts: self.attempts,
            next_attempt_at: instant(self.next_attempt_at)?,
            last_error: self.last_error,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}

#[derive(FromRow)]
struct IdempotencyRow {
    request_hash: String,
    state: String,
    status: Option<i64>,
    body: Option<String>,
}

impl IdempotencyRow {
    fn into_model(self) -> StoreResult<IdempotencyState> {
        match (self.state.as_str(), self.status, self.body) {
            ("in_progress", _, _) => Ok(IdempotencyState::InProgress {
                request_hash: self.request_hash,
            }),
            ("done", Some(status), Some(body)) => Ok(IdempotencyState::Done {
                request_hash: self.request_hash,
                status: u16::try_from(status)
                    .map_err(|_| StoreError::Corrupt(format!("response status {status}")))?,
                body: json_value("response body", &body)?,
            }),
            (state, _, _) => Err(StoreError::Corrupt(format!("idempotency state {state:?}"))),
        }
    }
}

fn all<R, T>(rows: Vec<R>, convert: fn(R) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(convert).collect()
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant> {
        sqlx::query_as::<_, TenantRow>(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) RETURNING *",
        )
        .bind(new_id())
        .bind(name)
        .bind(micros(Timestamp::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(db)?
        .into_model()
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>("SELECT * FROM tenants WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(TenantRow::into_model)
            .transpose()
    }

    async fn find_tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>(
            "SELECT * FROM tenants WHERE name = $1 ORDER BY created_at LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(TenantRow::into_model)
        .transpose()
    }

    async fn create_user(&self, tenant: TenantId, user: &NewUser) -> StoreResult<User> {
        let now = micros(Timestamp::now());
        sqlx::query_as::<_, UserRow>(
            "INSERT INTO users (id, tenant_id, email, name, role, time_zone, password_hash, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(&user.email)
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(&user.time_zone)
        .bind(&user.password_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?
        .into_model()
    }

    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>> {
        let rows = sqlx::query_as::<_, UserRow>(
            "SELECT * FROM users WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, UserRow::into_model)
    }

    async fn get_user(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(UserRow::into_model)
            .transpose()
    }

    async fn update_user(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &UserPatch,
    ) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(
            "UPDATE users SET email = COALESCE($3, email), name = COALESCE($4, name), \
             role = COALESCE($5, role), time_zone = COALESCE($6, time_zone), \
             password_hash = COALESCE($7, password_hash), updated_at = $8 \
             WHERE tenant_id = $1 AND id = $2 RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(&patch.email)
        .bind(&patch.name)
        .bind(patch.role.map(Role::as_str))
        .bind(&patch.time_zone)
        .bind(&patch.password_hash)
        .bind(micros(Timestamp::now()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(UserRow::into_model)
        .transpose()
    }

    async fn delete_user(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_logins(&self, email: &str) -> StoreResult<Vec<UserLogin>> {
        let rows = sqlx::query_as::<_, UserRow>(
            "SELECT * FROM users WHERE lower(email) = lower($1) ORDER BY created_at",
        )
        .bind(email)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, UserRow::into_login)
    }

    async fn find_user(&self, id: Uuid) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(UserRow::into_model)
            .transpose()
    }

    async fn create_api_key(&self, tenant: TenantId, key: &NewApiKey) -> StoreResult<ApiKey> {
        sqlx::query_as::<_, ApiKeyRow>(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.secret_hash)
        .bind(micros(Timestamp::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(db)?
        .into_model()
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys WHERE prefix = $1")
            .bind(prefix)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(ApiKeyRow::into_model)
            .transpose()
    }

    async fn create_agent(&self, tenant: TenantId, agent: &NewAgent) -> StoreResult<Agent> {
        sqlx::query_as::<_, AgentRow>(
            "INSERT INTO agents (id, tenant_id, name, time_zone, backend, cal_enabled, \
             cal_api_key_encrypted, cal_event_type_slug, cal_timezone, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING *",
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
        .bind(micros(Timestamp::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(db)?
        .into_model()
    }

    async fn list_agents(&self, tenant: TenantId) -> StoreResult<Vec<Agent>> {
        let rows = sqlx::query_as::<_, AgentRow>(
            "SELECT * FROM agents WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, AgentRow::into_model)
    }

    async fn get_agent(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Agent>> {
        sqlx::query_as::<_, AgentRow>("SELECT * FROM agents WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(AgentRow::into_model)
            .transpose()
    }

    async fn update_agent(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &AgentPatch,
    ) -> StoreResult<Option<Agent>> {
        // For the clearable fields, a flag says whether to touch the column at all.
        sqlx::query_as::<_, AgentRow>(
            "UPDATE agents SET name = COALESCE($3, name), time_zone = COALESCE($4, time_zone), \
             backend = COALESCE($5, backend), cal_enabled = COALESCE($6, cal_enabled), \
             cal_api_key_encrypted = CASE WHEN $7 THEN $8 ELSE cal_api_key_encrypted END, \
             cal_event_type_slug = CASE WHEN $9 THEN $10 ELSE cal_event_type_slug END, \
             cal_timezone = CASE WHEN $11 THEN $12 ELSE cal_timezone END, updated_at = $13 \
             WHERE tenant_id = $1 AND id = $2 RETURNING *",
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
        .bind(micros(Timestamp::now()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(AgentRow::into_model)
        .transpose()
    }

    async fn delete_agent(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM agents WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_agent(&self, id: Uuid) -> StoreResult<Option<Agent>> {
        sqlx::query_as::<_, AgentRow>("SELECT * FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(AgentRow::into_model)
            .transpose()
    }

    // ---- availability rules ----

    async fn create_rule(
        &self,
        tenant: TenantId,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<AvailabilityRule> {
        let id = new_id();
        let now = micros(Timestamp::now());
        let document = document_text(&rule.document)?;
        let mut tx = self.write().await?;
        // The bump also proves the user is in this tenant.
        if !bump(&mut tx, tenant, rule.user_id).await? {
            tx.rollback().await.map_err(db)?;
            return Err(missing_user());
        }
        if rule.is_default {
            demote(&mut tx, tenant, rule.user_id, id, now).await?;
        }
        let row = sqlx::query_as::<_, RuleRow>(
            "INSERT INTO availability_rules (id, tenant_id, user_id, name, is_default, document, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *",
        )
        .bind(id)
        .bind(tenant.0)
        .bind(rule.user_id)
        .bind(&rule.name)
        .bind(rule.is_default)
        .bind(document)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        row.into_model()
    }

    async fn replace_rule(
        &self,
        tenant: TenantId,
        id: Uuid,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<Option<AvailabilityRule>> {
        let now = micros(Timestamp::now());
        let document = document_text(&rule.document)?;
        let mut tx = self.write().await?;
        let Some(user) = owner(&mut tx, Owned::Rule, tenant, id).await? else {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        bump(&mut tx, tenant, user).await?;
        if rule.is_default {
            demote(&mut tx, tenant, user, id, now).await?;
        }
        let row = sqlx::query_as::<_, RuleRow>(
            "UPDATE availability_rules SET name = $3, is_default = $4, document = $5, \
             updated_at = $6 WHERE tenant_id = $1 AND id = $2 RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(&rule.name)
        .bind(rule.is_default)
        .bind(document)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        row.map(RuleRow::into_model).transpose()
    }

    async fn get_rule(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<AvailabilityRule>> {
        sqlx::query_as::<_, RuleRow>(
            "SELECT * FROM availability_rules WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(RuleRow::into_model)
        .transpose()
    }

    async fn list_rules(
        &self,
        tenant: TenantId,
        user_id: Option<Uuid>,
    ) -> StoreResult<Vec<AvailabilityRule>> {
        let rows = sqlx::query_as::<_, RuleRow>(
            "SELECT * FROM availability_rules \
             WHERE tenant_id = $1 AND ($2 IS NULL OR user_id = $2) ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, RuleRow::into_model)
    }

    async fn delete_rule(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.write().await?;
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
        tx.commit().await.map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn default_rules(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<AvailabilityRule>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query_as::<_, RuleRow>(
            "SELECT * FROM availability_rules WHERE tenant_id = $1 AND is_default \
             AND user_id IN (SELECT unhex(value) FROM json_each($2))",
        )
        .bind(tenant.0)
        .bind(id_list(user_ids))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, RuleRow::into_model)
    }

    async fn users_with_default_rule(&self, tenant: TenantId) -> StoreResult<Vec<Uuid>> {
        sqlx::query_scalar(
            "SELECT user_id FROM availability_rules WHERE tenant_id = $1 AND is_default \
             ORDER BY user_id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    // ---- calendar events ----

    async fn create_event(
        &self,
        tenant: TenantId,
        id: Uuid,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<CalendarEvent> {
        let now = micros(Timestamp::now());
        let mut tx = self.write().await?;
        if !bump(&mut tx, tenant, event.user_id).await? {
            tx.rollback().await.map_err(db)?;
            return Err(missing_user());
        }
        let row = sqlx::query_as::<_, EventRow>(
            "INSERT INTO calendar_events (id, tenant_id, user_id, provider_id, external_id, etag, \
             title, description, start_at, end_at, all_day, status, transparency, source, \
             booking_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) \
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
        .bind(micros(event.start))
        .bind(micros(event.end))
        .bind(event.all_day)
        .bind(event.status.as_str())
        .bind(event.transparency.as_str())
        .bind(event.source.as_str())
        .bind(event.booking_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        insert_jobs(&mut tx, tenant, jobs, now).await?;
        tx.commit().await.map_err(db)?;
        row.into_model()
    }

    async fn get_event(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<CalendarEvent>> {
        sqlx::query_as::<_, EventRow>(
            "SELECT * FROM calendar_events WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(EventRow::into_model)
        .transpose()
    }

    async fn replace_event(
        &self,
        tenant: TenantId,
        id: Uuid,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<Option<CalendarEvent>> {
        let now = micros(Timestamp::now());
        let mut tx = self.write().await?;
        let Some(user) = owner(&mut tx, Owned::Event, tenant, id).await? else {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        bump(&mut tx, tenant, user).await?;
        let row = sqlx::query_as::<_, EventRow>(
            "UPDATE calendar_events SET provider_id = $3, external_id = $4, etag = $5, \
             title = $6, description = $7, start_at = $8, end_at = $9, all_day = $10, \
             status = $11, transparency = $12, source = $13, booking_id = $14, updated_at = $15 \
             WHERE tenant_id = $1 AND id = $2 RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(event.provider_id)
        .bind(&event.external_id)
        .bind(&event.etag)
        .bind(&event.title)
        .bind(&event.description)
        .bind(micros(event.start))
        .bind(micros(event.end))
        .bind(event.all_day)
        .bind(event.status.as_str())
        .bind(event.transparency.as_str())
        .bind(event.source.as_str())
        .bind(event.booking_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        insert_jobs(&mut tx, tenant, jobs, now).await?;
        tx.commit().await.map_err(db)?;
        row.into_model().map(Some)
    }

    async fn delete_event(&self, tenant: TenantId, id: Uuid, jobs: &[NewJob]) -> StoreResult<bool> {
        let mut tx = self.write().await?;
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
        insert_jobs(&mut tx, tenant, jobs, micros(Timestamp::now())).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn list_events(
        &self,
        tenant: TenantId,
        filter: &EventFilter,
    ) -> StoreResult<Vec<CalendarEvent>> {
        // Only fixed fragments are pushed; every value is bound.
        let mut query =
            QueryBuilder::<Sqlite>::new("SELECT * FROM calendar_events WHERE tenant_id = ");
        query.push_bind(tenant.0);
        if !filter.user_ids.is_empty() {
            query.push(" AND user_id IN (SELECT unhex(value) FROM json_each(");
            query.push_bind(id_list(&filter.user_ids));
            query.push("))");
        }
        if !filter.include_cancelled {
            query.push(" AND status <> 'cancelled'");
        }
        if let Some(from) = filter.from {
            query.push(" AND end_at > ");
            query.push_bind(shifted(from, -WIDENING_MICROS));
            query.push(" AND (all_day OR end_at > ");
            query.push_bind(micros(from));
            query.push(")");
        }
        if let Some(to) = filter.to {
            query.push(" AND start_at < ");
            query.push_bind(shifted(to, WIDENING_MICROS));
            query.push(" AND (all_day OR start_at < ");
            query.push_bind(micros(to));
            query.push(")");
        }
        query.push(" ORDER BY start_at, id");
        let rows = query
            .build_query_as::<EventRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        all(rows, EventRow::into_model)
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
        let rows = sqlx::query_as::<_, BusyRow>(BUSY_EVENTS)
            .bind(tenant.0)
            .bind(id_list(user_ids))
            .bind(shifted(from, -WIDENING_MICROS))
            .bind(shifted(to, WIDENING_MICROS))
            .bind(micros(from))
            .bind(micros(to))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        all(rows, BusyRow::into_model)
    }

    async fn busy_versions(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<(Uuid, i64)>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_as::<_, (Uuid, i64)>(
            "SELECT id, busy_version FROM users \
             WHERE tenant_id = $1 AND id IN (SELECT unhex(value) FROM json_each($2))",
        )
        .bind(tenant.0)
        .bind(id_list(user_ids))
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    // ---- bookings ----

    async fn create_booking(
        &self,
        tenant: TenantId,
        booking: &NewBooking,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Booking> {
        let now = micros(Timestamp::now());
        // IMMEDIATE: the write lock is ours from the overlap check to the commit, so no other
        // booking can slip in between (concurrent callers wait on the busy timeout).
        let mut tx = self.write().await?;
        if !bump(&mut tx, tenant, booking.user_id).await? {
            return Err(missing_user());
        }
        if let Some(agent) = booking.agent_id {
            let known: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM agents WHERE tenant_id = $1 AND id = $2)",
            )
            .bind(tenant.0)
            .bind(agent)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            if !known {
                return Err(StoreError::MissingReference(Entity::Agent));
            }
        }
        if taken(
            &mut tx,
            tenant,
            booking.user_id,
            booking.id,
            booking.occupied(),
        )
        .await?
        {
            return Err(overlap());
        }
        let row = sqlx::query_as::<_, BookingRow>(
            "INSERT INTO bookings (id, tenant_id, agent_id, user_id, confirmation_code, \
             start_at, end_at, buffer_before_minutes, buffer_after_minutes, attendee_name, \
             attendee_email, attendee_phone, notes, title, description, status, call_id, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
             'confirmed', $16, $17, $17) RETURNING *",
        )
        .bind(booking.id)
        .bind(tenant.0)
        .bind(booking.agent_id)
        .bind(booking.user_id)
        .bind(&booking.confirmation_code)
        .bind(micros(booking.start))
        .bind(micros(booking.end))
        .bind(booking.buffer_before_minutes)
        .bind(booking.buffer_after_minutes)
        .bind(&booking.attendee.name)
        .bind(&booking.attendee.email)
        .bind(&booking.attendee.phone)
        .bind(&booking.notes)
        .bind(&booking.title)
        .bind(&booking.description)
        .bind(&booking.call_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO calendar_events (id, tenant_id, user_id, title, description, start_at, \
             end_at, all_day, status, transparency, source, booking_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 'confirmed', 'opaque', 'booking', $8, $9, $9)",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(booking.user_id)
        .bind(&booking.title)
        .bind(&booking.description)
        .bind(micros(booking.start))
        .bind(micros(booking.end))
        .bind(booking.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        follow_up(&mut tx, tenant, jobs, response, now).await?;
        tx.commit().await.map_err(db)?;
        row.into_model()
    }

    async fn get_booking(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Booking>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        booking_row(&mut conn, tenant, id)
            .await?
            .map(BookingRow::into_model)
            .transpose()
    }

    async fn find_booking_by_code(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> StoreResult<Option<Booking>> {
        sqlx::query_as::<_, BookingRow>(
            "SELECT * FROM bookings WHERE tenant_id = $1 AND confirmation_code = $2",
        )
        .bind(tenant.0)
        .bind(code)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(BookingRow::into_model)
        .transpose()
    }

    async fn list_bookings(
        &self,
        tenant: TenantId,
        filter: &BookingFilter,
    ) -> StoreResult<Vec<Booking>> {
        // Only fixed fragments are pushed; every value is bound.
        let mut query = QueryBuilder::<Sqlite>::new("SELECT * FROM bookings WHERE tenant_id = ");
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
            query.push_bind(micros(from));
        }
        if let Some(to) = filter.to {
            query.push(" AND start_at < ");
            query.push_bind(micros(to));
        }
        query.push(" ORDER BY start_at, id LIMIT ");
        query.push_bind(i64::from(filter.limit.unwrap_or(DEFAULT_BOOKING_LIMIT)));
        let rows = query
            .build_query_as::<BookingRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        all(rows, BookingRow::into_model)
    }

    async fn cancel_booking(
        &self,
        tenant: TenantId,
        id: Uuid,
        reason: Option<&str>,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>> {
        let now = micros(Timestamp::now());
        let mut tx = self.write().await?;
        let Some(current) = booking_row(&mut tx, tenant, id).await? else {
            return Ok(None);
        };
        if current.status != BookingStatus::Confirmed.as_str() {
            // Already cancelled: nothing changes, but the request still gets its answer.
            if let Some(response) = response {
                record_response(&mut tx, tenant, response, now).await?;
            }
            tx.commit().await.map_err(db)?;
            return current.into_model().map(Some);
        }
        bump(&mut tx, tenant, current.user_id).await?;
        let row = sqlx::query_as::<_, BookingRow>(
            "UPDATE bookings SET status = 'cancelled', cancel_reason = $3, cancelled_at = $4, \
             updated_at = $4 WHERE tenant_id = $1 AND id = $2 RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(reason)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE calendar_events SET status = 'cancelled', updated_at = $3 \
             WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        follow_up(&mut tx, tenant, jobs, response, now).await?;
        tx.commit().await.map_err(db)?;
        row.into_model().map(Some)
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
        let now = micros(Timestamp::now());
        let mut tx = self.write().await?;
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
        // The booking itself is left out of the check: moving by less than its length is fine.
        if taken(&mut tx, tenant, current.user_id, id, occupied).await? {
            return Err(overlap());
        }
        bump(&mut tx, tenant, current.user_id).await?;
        let row = sqlx::query_as::<_, BookingRow>(
            "UPDATE bookings SET start_at = $3, end_at = $4, updated_at = $5 \
             WHERE tenant_id = $1 AND id = $2 RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(micros(start))
        .bind(micros(end))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE calendar_events SET start_at = $3, end_at = $4, updated_at = $5 \
             WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(micros(start))
        .bind(micros(end))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        follow_up(&mut tx, tenant, jobs, response, now).await?;
        tx.commit().await.map_err(db)?;
        row.into_model().map(Some)
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
        let rows: Vec<(Uuid, Option<i64>, i64)> = sqlx::query_as(
            "SELECT u.id,
                    max(b.created_at) FILTER (WHERE b.status = 'confirmed'),
                    count(b.id) FILTER (WHERE b.status = 'confirmed' AND b.start_at >= $3)
               FROM users u
               LEFT JOIN bookings b ON b.tenant_id = u.tenant_id AND b.user_id = u.id
              WHERE u.tenant_id = $1 AND u.id IN (SELECT unhex(value) FROM json_each($2))
              GROUP BY u.id",
        )
        .bind(tenant.0)
        .bind(id_list(user_ids))
        .bind(micros(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(user_id, last, upcoming)| {
                Ok(MemberStats {
                    user_id,
                    last_booked_at: last.map(instant).transpose()?,
                    upcoming: u32::try_from(upcoming).unwrap_or(u32::MAX),
                })
            })
            .collect()
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
        let mut tx = self.write().await?;
        // Inserts a new record, or takes over a stale in-progress one; RETURNING says which.
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, created_at, \
             updated_at) VALUES ($1, $2, $3, 'in_progress', $4, $4) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = excluded.request_hash, \
             created_at = excluded.created_at, updated_at = excluded.updated_at \
             WHERE idempotency_keys.state = 'in_progress' \
               AND idempotency_keys.updated_at <= $5 \
             RETURNING 1",
        )
        .bind(tenant.0)
        .bind(key)
        .bind(request_hash)
        .bind(micros(now))
        .bind(micros(stale_before))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let state = if claimed.is_some() {
            IdempotencyState::Started
        } else {
            sqlx::query_as::<_, IdempotencyRow>(
                "SELECT request_hash, state, status, body FROM idempotency_keys \
                 WHERE tenant_id = $1 AND key = $2",
            )
            .bind(tenant.0)
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?
            .into_model()?
        };
        tx.commit().await.map_err(db)?;
        Ok(state)
    }

    async fn finish_idempotent(
        &self,
        tenant: TenantId,
        response: &IdempotentResponse,
    ) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        record_response(&mut conn, tenant, response, micros(Timestamp::now())).await
    }

    async fn abandon_idempotent(&self, tenant: TenantId, key: &str) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys \
             WHERE tenant_id = $1 AND key = $2 AND state = 'in_progress'",
        )
        .bind(tenant.0)
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    // ---- outbox ----

    async fn enqueue_jobs(&self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        insert_jobs(&mut tx, tenant, jobs, micros(Timestamp::now())).await?;
        tx.commit().await.map_err(db)
    }

    async fn claim_jobs(
        &self,
        now: Timestamp,
        lease: jiff::SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let until = now.checked_add(lease).unwrap_or(Timestamp::MAX);
        // One writer at a time: a job is claimed by exactly one caller until its lease ends.
        let mut tx = self.write().await?;
        let rows = sqlx::query_as::<_, JobRow>(
            "UPDATE outbox SET status = 'running', attempts = attempts + 1, \
             next_attempt_at = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM outbox \
                           WHERE status IN ('pending', 'running') AND next_attempt_at <= $1 \
                           ORDER BY next_attempt_at, id LIMIT $4) \
             RETURNING *",
        )
        .bind(micros(now))
        .bind(micros(until))
        .bind(micros(Timestamp::now()))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut jobs = all(rows, JobRow::into_model)?;
        jobs.sort_by_key(|j| (j.created_at, j.id));
        Ok(jobs)
    }

    async fn complete_job(&self, id: Uuid) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(micros(Timestamp::now()))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn purge_expired(
        &self,
        keys_before: Timestamp,
        jobs_before: Timestamp,
    ) -> StoreResult<(u64, u64)> {
        let mut tx = self.write().await?;
        let keys = sqlx::query("DELETE FROM idempotency_keys WHERE updated_at < $1")
            .bind(micros(keys_before))
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        let jobs = sqlx::query("DELETE FROM outbox WHERE status = 'done' AND updated_at < $1")
            .bind(micros(jobs_before))
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        tx.commit().await.map_err(db)?;
        Ok((keys, jobs))
    }

    async fn complete_jobs(&self, ids: &[Uuid]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = micros(Timestamp::now());
        let mut tx = self.write().await?;
        for id in ids {
            sqlx::query("UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn fail_job(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        let now = micros(Timestamp::now());
        sqlx::query(
            "UPDATE outbox SET status = CASE WHEN $3 IS NULL THEN 'failed' ELSE 'pending' END, \
             next_attempt_at = COALESCE($3, next_attempt_at), last_error = $2, updated_at = $4 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at.map(micros))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn list_jobs(&self, tenant: TenantId, kind: Option<&str>) -> StoreResult<Vec<Job>> {
        let rows = sqlx::query_as::<_, JobRow>(
            "SELECT * FROM outbox WHERE tenant_id = $1 AND ($2 IS NULL OR kind = $2) \
             ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(kind)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, JobRow::into_model)
    }

    async fn outbox_backlog(&self) -> StoreResult<(i64, Option<Timestamp>)> {
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT count(*), min(created_at) FILTER (WHERE status = 'pending') FROM outbox \
             WHERE status IN ('pending', 'running')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok((count, oldest.map(instant).transpose()?))
    }

    // ---- booking settings ----

    async fn get_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Option<serde_json::Value>> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT settings FROM booking_settings WHERE tenant_id = $1 AND agent_id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        text.map(|t| json_value("booking settings", &t)).transpose()
    }

    async fn put_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        settings: &serde_json::Value,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO booking_settings (tenant_id, agent_id, settings, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (tenant_id, agent_id) DO UPDATE SET settings = excluded.settings, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .bind(json_text(settings)?)
        .bind(micros(Timestamp::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| match db(e) {
            // The (tenant_id, agent_id) foreign key: no such agent in this tenant.
            StoreError::MissingReference(_) => StoreError::MissingReference(Entity::Agent),
            other => other,
        })?;
        Ok(())
    }

    async fn set_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        retell_agent_id: Option<&str>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE agents SET retell_agent_id = $3, updated_at = $4 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .bind(retell_agent_id)
        .bind(micros(Timestamp::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| match db(e) {
            StoreError::Conflict(_) => StoreError::Conflict(Constraint::RetellAgentId),
            other => other,
        })?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Option<String>> {
        let found: Option<Option<String>> = sqlx::query_scalar(
            "SELECT retell_agent_id FROM agents WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(found.flatten())
    }

    async fn find_agents_by_retell_id(&self, retell_agent_id: &str) -> StoreResult<Vec<Agent>> {
        let rows = sqlx::query_as::<_, AgentRow>(
            "SELECT * FROM agents WHERE retell_agent_id = $1 ORDER BY id",
        )
        .bind(retell_agent_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, AgentRow::into_model)
    }

    async fn get_retell_key(&self, tenant: TenantId) -> StoreResult<Option<String>> {
        let found: Option<Option<String>> = sqlx::query_scalar(
            "SELECT retell_api_key_encrypted FROM voice_settings WHERE tenant_id = $1",
        )
        .bind(tenant.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(found.flatten())
    }

    async fn set_retell_key(&self, tenant: TenantId, sealed: Option<&str>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO voice_settings (tenant_id, retell_api_key_encrypted, created_at, \
             updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET \
             retell_api_key_encrypted = excluded.retell_api_key_encrypted, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(sealed)
        .bind(micros(Timestamp::now()))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
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
        let now = micros(Timestamp::now());
        let row = sqlx::query_as::<_, ConnectionRow>(
            "INSERT INTO calendar_providers (id, tenant_id, user_id, kind, calendar_id, \
             account_email, access_token_encrypted, refresh_token_encrypted, token_expires_at, \
             scopes, sync_enabled, status, next_sync_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, 'active', $11, $11, $11) \
             ON CONFLICT (tenant_id, user_id, kind, calendar_id, account_email) DO UPDATE SET \
             access_token_encrypted = excluded.access_token_encrypted, \
             refresh_token_encrypted = COALESCE(excluded.refresh_token_encrypted, \
                                                calendar_providers.refresh_token_encrypted), \
             token_expires_at = excluded.token_expires_at, scopes = excluded.scopes, \
             sync_enabled = 1, status = 'active', last_error = NULL, failure_count = 0, \
             next_sync_at = excluded.next_sync_at, updated_at = excluded.updated_at \
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
        .bind(micros(connection.token_expires_at))
        .bind(connection.scopes.join(" "))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match db(e) {
            StoreError::MissingReference(_) => missing_user(),
            other => other,
        })?;
        row.into_model()
    }

    async fn get_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> StoreResult<Option<CalendarConnection>> {
        sqlx::query_as::<_, ConnectionRow>(
            "SELECT * FROM calendar_providers WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(ConnectionRow::into_model)
        .transpose()
    }

    async fn list_calendar_connections(
        &self,
        tenant: TenantId,
        user_id: Option<Uuid>,
    ) -> StoreResult<Vec<CalendarConnection>> {
        let rows = sqlx::query_as::<_, ConnectionRow>(
            "SELECT * FROM calendar_providers WHERE tenant_id = $1 \
             AND ($2 IS NULL OR user_id = $2) ORDER BY created_at, id",
        )
        .bind(tenant.0)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        all(rows, ConnectionRow::into_model)
    }

    async fn update_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &ConnectionPatch,
    ) -> StoreResult<Option<CalendarConnection>> {
        let mut query = QueryBuilder::<Sqlite>::new("UPDATE calendar_providers SET updated_at = ");
        query.push_bind(micros(Timestamp::now()));
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
            query.push(", token_expires_at = ").push_bind(micros(v));
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
            query.push(", last_synced_at = ").push_bind(micros(v));
        }
        if let Some(v) = &patch.last_error {
            query.push(", last_error = ").push_bind(v.clone());
        }
        if let Some(v) = patch.next_sync_at {
            query.push(", next_sync_at = ").push_bind(micros(v));
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
                .push_bind(c.map(|c| micros(c.expires_at)));
        }
        query.push(" WHERE tenant_id = ").push_bind(tenant.0);
        query.push(" AND id = ").push_bind(id);
        query.push(" RETURNING *");
        query
            .build_query_as::<ConnectionRow>()
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(ConnectionRow::into_model)
            .transpose()
    }

    async fn delete_calendar_connection(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let user: Option<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM calendar_providers WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(user) = user else {
            return Ok(false);
        };
        bump(&mut tx, tenant, user).await?;
        sqlx::query(
            "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2 \
             AND source = 'google'",
        )
        .bind(tenant.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE calendar_events SET provider_id = NULL, external_id = NULL, etag = NULL \
             WHERE tenant_id = $1 AND provider_id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("DELETE FROM calendar_providers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
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
        sqlx::query_as::<_, ConnectionRow>(
            "UPDATE calendar_providers SET sync_lock_owner = $3, sync_locked_until = $4 \
             WHERE tenant_id = $1 AND id = $2 AND (sync_locked_until IS NULL \
             OR sync_locked_until <= $5 OR sync_lock_owner = $3) RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(owner)
        .bind(micros(until))
        .bind(micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(ConnectionRow::into_model)
        .transpose()
    }

    async fn release_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
        owner: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE calendar_providers SET sync_lock_owner = NULL, sync_locked_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND sync_lock_owner = $3",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
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
        // One writer at a time: a connection is leased by exactly one caller.
        let mut tx = self.write().await?;
        let rows = sqlx::query_as::<_, ConnectionRow>(
            "UPDATE calendar_providers SET sync_lock_owner = $1, sync_locked_until = $2 \
             WHERE id IN (SELECT id FROM calendar_providers \
                           WHERE sync_enabled AND status IN ('active', 'error') \
                             AND (sync_locked_until IS NULL OR sync_locked_until <= $3) \
                             AND (next_sync_at <= $3 \
                                  OR (channel_expires_at IS NOT NULL AND channel_expires_at < $4)) \
                           ORDER BY next_sync_at, id LIMIT $5) \
             RETURNING *",
        )
        .bind(owner)
        .bind(micros(until))
        .bind(micros(now))
        .bind(micros(channel_horizon))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut connections = all(rows, ConnectionRow::into_model)?;
        connections.sort_by_key(|c| (c.next_sync_at, c.id));
        Ok(connections)
    }

    async fn find_calendar_connection_by_channel(
        &self,
        channel_id: &str,
    ) -> StoreResult<Option<CalendarConnection>> {
        sqlx::query_as::<_, ConnectionRow>("SELECT * FROM calendar_providers WHERE channel_id = $1")
            .bind(channel_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(ConnectionRow::into_model)
            .transpose()
    }

    async fn apply_synced_events(
        &self,
        tenant: TenantId,
        provider_id: Uuid,
        user_id: Uuid,
        events: &[NewCalendarEvent],
        deleted: &[String],
    ) -> StoreResult<()> {
        let now = micros(Timestamp::now());
        let mut tx = self.write().await?;
        if !bump(&mut tx, tenant, user_id).await? {
            return Err(missing_user());
        }
        // Many rows per statement: one round trip per chunk instead of per event.
        for chunk in events.chunks(500) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "INSERT INTO calendar_events (id, tenant_id, user_id, provider_id, external_id, \
                 etag, title, description, start_at, end_at, all_day, status, transparency, \
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
                    .push_bind(micros(event.start))
                    .push_bind(micros(event.end))
                    .push_bind(event.all_day)
                    .push_bind(event.status.as_str())
                    .push_bind(event.transparency.as_str())
                    .push("'google'")
                    .push_bind(now)
                    .push_bind(now);
            });
            query.push(
                " ON CONFLICT (provider_id, external_id) \
                 WHERE provider_id IS NOT NULL AND external_id IS NOT NULL DO UPDATE SET \
                 etag = excluded.etag, title = excluded.title, \
                 description = excluded.description, start_at = excluded.start_at, \
                 end_at = excluded.end_at, all_day = excluded.all_day, status = excluded.status, \
                 transparency = excluded.transparency, updated_at = excluded.updated_at \
                 WHERE calendar_events.source = 'google'",
            );
            query.build().execute(&mut *tx).await.map_err(db)?;
        }
        if !deleted.is_empty() {
            sqlx::query(
                "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2 \
                 AND source = 'google' AND external_id IN (SELECT value FROM json_each($3))",
            )
            .bind(tenant.0)
            .bind(provider_id)
            .bind(json_text(&serde_json::json!(deleted))?)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn prune_synced_events(
        &self,
        tenant: TenantId,
        provider_id: Uuid,
        user_id: Uuid,
        keep: &[String],
    ) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2 \
             AND source = 'google' \
             AND external_id NOT IN (SELECT value FROM json_each($3))",
        )
        .bind(tenant.0)
        .bind(provider_id)
        .bind(json_text(&serde_json::json!(keep))?)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() > 0 {
            bump(&mut tx, tenant, user_id).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn set_event_provider_ref(
        &self,
        tenant: TenantId,
        event_id: Uuid,
        provider_id: Option<Uuid>,
        external_id: Option<&str>,
        etag: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE calendar_events SET provider_id = $3, external_id = $4, etag = $5 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(event_id)
        .bind(provider_id)
        .bind(external_id)
        .bind(etag)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn booking_event(
        &self,
        tenant: TenantId,
        booking_id: Uuid,
    ) -> StoreResult<Option<CalendarEvent>> {
        sqlx::query_as::<_, EventRow>(
            "SELECT * FROM calendar_events WHERE tenant_id = $1 AND booking_id = $2 \
             AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(booking_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(EventRow::into_model)
        .transpose()
    }

    async fn sealed_secrets(&self) -> StoreResult<Vec<SealedSecret>> {
        let rows: Vec<(String, Uuid, String)> = sqlx::query_as(
            "SELECT 'access', id, access_token_encrypted FROM calendar_providers \
              WHERE access_token_encrypted IS NOT NULL \
             UNION ALL SELECT 'refresh', id, refresh_token_encrypted FROM calendar_providers \
              WHERE refresh_token_encrypted IS NOT NULL \
             UNION ALL SELECT 'agent', id, cal_api_key_encrypted FROM agents \
              WHERE cal_api_key_encrypted IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(sealed_secret).collect())
    }

    async fn replace_sealed_secret(&self, secret: &SealedSecret, old: &str) -> StoreResult<bool> {
        let sql = match secret.column {
            SealedColumn::ConnectionAccessToken => {
                "UPDATE calendar_providers SET access_token_encrypted = $2 \
                 WHERE id = $1 AND access_token_encrypted = $3"
            }
            SealedColumn::ConnectionRefreshToken => {
                "UPDATE calendar_providers SET refresh_token_encrypted = $2 \
                 WHERE id = $1 AND refresh_token_encrypted = $3"
            }
            SealedColumn::AgentCalApiKey => {
                "UPDATE agents SET cal_api_key_encrypted = $2 \
                 WHERE id = $1 AND cal_api_key_encrypted = $3"
            }
        };
        let done = sqlx::query(sql)
            .bind(secret.id)
            .bind(&secret.value)
            .bind(old)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}

#[derive(FromRow)]
struct ConnectionRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    kind: String,
    calendar_id: String,
    account_email: String,
    access_token_encrypted: Option<String>,
    refresh_token_encrypted: Option<String>,
    token_expires_at: Option<i64>,
    scopes: String,
    sync_token: Option<String>,
    sync_enabled: bool,
    status: String,
    last_synced_at: Option<i64>,
    last_error: Option<String>,
    next_sync_at: i64,
    failure_count: i32,
    channel_id: Option<String>,
    channel_resource_id: Option<String>,
    channel_token_hash: Option<String>,
    channel_expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl ConnectionRow {
    fn into_model(self) -> StoreResult<CalendarConnection> {
        let channel = match (
            self.channel_id,
            self.channel_resource_id,
            self.channel_token_hash,
            self.channel_expires_at,
        ) {
            (Some(id), Some(resource_id), Some(token_hash), Some(expires_at)) => {
                Some(PushChannel {
                    id,
                    resource_id,
                    token_hash,
                    expires_at: instant(expires_at)?,
                })
            }
            _ => None,
        };
        Ok(CalendarConnection {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            user_id: self.user_id,
            kind: self.kind,
            calendar_id: self.calendar_id,
            account_email: self.account_email,
            access_token_encrypted: self.access_token_encrypted,
            refresh_token_encrypted: self.refresh_token_encrypted,
            token_expires_at: self.token_expires_at.map(instant).transpose()?,
            scopes: self.scopes.split_whitespace().map(str::to_string).collect(),
            sync_token: self.sync_token,
            sync_enabled: self.sync_enabled,
            status: ConnectionStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("status {:?}", self.status)))?,
            last_synced_at: self.last_synced_at.map(instant).transpose()?,
            last_error: self.last_error,
            next_sync_at: instant(self.next_sync_at)?,
            failure_count: self.failure_count,
            channel,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
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
        assert_eq!(id_list(&[]), "[]");
        assert_eq!(
            id_list(&[id, id]),
            r#"["0123456789abcdef0123456789abcdef","0123456789abcdef0123456789abcdef"]"#
        );
    }

    #[tokio::test]
    async fn busy_events_search_the_covering_partial_indexes() {
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
        assert!(
            details
                .iter()
                .any(|d| d.contains("COVERING INDEX calendar_events_blocking")
                    && d.contains("user_id=?")
                    && d.contains("end_at>?")),
            "{details:#?}"
        );
    }
}
