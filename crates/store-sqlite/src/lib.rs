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
use sqlx::{FromRow, SqlitePool};
use uuid::Uuid;

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
}

fn db(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(e) = &error {
        // 2067 = SQLITE_CONSTRAINT_UNIQUE, 1555 = SQLITE_CONSTRAINT_PRIMARYKEY
        if matches!(e.code().as_deref(), Some("2067") | Some("1555")) {
            return StoreError::Conflict {
                constraint: e.message().to_string(),
            };
        }
        if e.code().as_deref() == Some("787") {
            return StoreError::MissingReference {
                what: "row".into(),
            };
        }
    }
    StoreError::Database(error.to_string())
}

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

fn all<R, T>(rows: Vec<R>, convert: fn(R) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(convert).collect()
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db)?;
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
}
