//! Users and their logins on SQLite.

use super::*;

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, tenant: TenantId, user: &NewUser) -> StoreResult<User> {
        fetch_one(
            &self.writes,
            "INSERT INTO users (id, tenant_id, email, name, role, time_zone, password_hash, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *",
            user.insert_values(tenant, UserId::new(), Timestamp::now()),
        )
        .await
    }

    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>> {
        fetch(
            &self.pool,
            "SELECT * FROM users WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at, id",
            stored![tenant],
        )
        .await
    }

    async fn get_user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
            stored![tenant, id],
        )
        .await
    }

    async fn update_user(
        &self,
        tenant: TenantId,
        id: UserId,
        patch: &UserPatch,
    ) -> StoreResult<Option<User>> {
        // BEGIN IMMEDIATE: the owner check and the change share the write lock.
        let mut tx = self.write().await?;
        if patch.role.is_some_and(|role| role != Role::Owner) {
            let owners = owners(&mut tx, tenant).await?;
            if let Err(refused) = ensure_owner_remains(&owners, id) {
                return rollback(tx, Err(refused)).await;
            }
        }
        let user = fetch_optional(
            &mut *tx,
            "UPDATE users SET email = COALESCE($3, email), name = COALESCE($4, name), \
             role = COALESCE($5, role), time_zone = COALESCE($6, time_zone), \
             password_hash = COALESCE($7, password_hash), updated_at = $8 \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING *",
            patch.update_values(tenant, id, Timestamp::now()),
        )
        .await?;
        commit(tx, user).await
    }

    async fn remove_user(
        &self,
        tenant: TenantId,
        id: UserId,
        reassign: &[Reassignment],
        jobs: &[NewJob],
        now: Timestamp,
    ) -> StoreResult<bool> {
        // BEGIN IMMEDIATE: no booking of theirs can be written between the checks and the end.
        let mut tx = self.write().await?;
        let owners = owners(&mut tx, tenant).await?;
        if let Err(refused) = ensure_owner_remains(&owners, id) {
            return rollback(tx, Err(refused)).await;
        }
        // The bump also says whether they are still here; cached calendars see the change.
        if !bump(&mut tx, tenant, id).await? {
            return rollback(tx, Ok(false)).await;
        }
        for reassignment in reassign {
            super::bookings::reassign(&mut tx, tenant, id, reassignment, now).await?;
        }
        if super::bookings::has_upcoming(&mut tx, tenant, id, now).await? {
            return Err(StoreError::Conflict(Constraint::MemberHasBookings));
        }
        for sql in [
            "DELETE FROM availability_rules WHERE tenant_id = $1 AND user_id = $2",
            "DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2",
            // Their own busy time (synced and internal events) goes with them; a booking's
            // event stays with the booking, whose code a caller may still hold.
            "DELETE FROM calendar_events WHERE tenant_id = $1 AND user_id = $2 \
             AND booking_id IS NULL",
        ] {
            execute(&mut *tx, sql, stored![tenant, id]).await?;
        }
        execute(
            &mut *tx,
            "UPDATE users SET deleted_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id, now],
        )
        .await?;
        insert_jobs(&mut tx, tenant, jobs, now).await?;
        commit(tx, true).await
    }

    async fn find_logins(&self, email: &str) -> StoreResult<Vec<UserLogin>> {
        fetch(
            &self.pool,
            "SELECT * FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL \
             ORDER BY created_at",
            stored![email],
        )
        .await
    }

    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM users WHERE id = $1 AND deleted_at IS NULL",
            stored![id],
        )
        .await
    }
}

/// The tenant's owners, read inside the caller's write transaction.
async fn owners(conn: &mut SqliteConnection, tenant: TenantId) -> StoreResult<Vec<User>> {
    fetch(
        conn,
        "SELECT * FROM users WHERE tenant_id = $1 AND role = 'owner' AND deleted_at IS NULL \
         ORDER BY id",
        stored![tenant],
    )
    .await
}
