//! Users and their logins on SQLite.

use super::*;

#[async_trait]
impl UserStore for SqliteStore {
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
