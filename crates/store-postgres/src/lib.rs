//! [`Store`] on PostgreSQL, with row-level security as a second wall between tenants.
//!
//! Every tenant-scoped method filters by `tenant_id` in its own SQL, and also runs in a
//! transaction that first sets the transaction-local `app.tenant_id`; the policies in
//! `migrations/0001_foundation.sql` hide every row of any other tenant. The few lookups that
//! must cross tenants (login by e-mail, user by id, API key by prefix, agent by id, tenant by
//! name) each set their own narrow setting instead, which reveals only the rows they look for.
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

mod rows;
pub mod testing;

use std::str::FromStr;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff_sqlx::ToSqlx;
use pillow_store::*;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use rows::{AgentRow, ApiKeyRow, TenantRow, UserRow, all};

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
}

impl Scope<'_> {
    fn setting(&self) -> (&'static str, String) {
        match self {
            Scope::Tenant(id) => ("app.tenant_id", id.0.to_string()),
            Scope::TenantName(name) => ("app.tenant_name", (*name).to_string()),
            Scope::LoginEmail(email) => ("app.login_email", (*email).to_string()),
            Scope::User(id) => ("app.user_id", id.to_string()),
            Scope::ApiKeyPrefix(prefix) => ("app.api_key_prefix", (*prefix).to_string()),
            Scope::Agent(id) => ("app.agent_id", id.to_string()),
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
                return StoreError::Conflict {
                    constraint: constraint(),
                };
            }
            // foreign_key_violation
            Some("23503") => return StoreError::MissingReference { what: constraint() },
            _ => {}
        }
    }
    StoreError::Database(error.to_string())
}

/// Now, as PostgreSQL stores it (microseconds).
fn now() -> jiff_sqlx::Timestamp {
    Timestamp::now().to_sqlx()
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
}
