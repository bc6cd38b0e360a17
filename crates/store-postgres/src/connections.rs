//! Calendar connections and the events synchronised from them on PostgreSQL.

use super::*;

#[async_trait]
impl ConnectionStore for PostgresStore {
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
    token_expires_at: Option<jiff_sqlx::Timestamp>,
    scopes: String,
    sync_token: Option<String>,
    sync_enabled: bool,
    status: String,
    last_synced_at: Option<jiff_sqlx::Timestamp>,
    last_error: Option<String>,
    next_sync_at: jiff_sqlx::Timestamp,
    failure_count: i32,
    channel_id: Option<String>,
    channel_resource_id: Option<String>,
    channel_token_hash: Option<String>,
    channel_expires_at: Option<jiff_sqlx::Timestamp>,
    created_at: jiff_sqlx::Timestamp,
    updated_at: jiff_sqlx::Timestamp,
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
                    expires_at: expires_at.to_jiff(),
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
            token_expires_at: self.token_expires_at.map(|t| t.to_jiff()),
            scopes: self.scopes.split_whitespace().map(str::to_string).collect(),
            sync_token: self.sync_token,
            sync_enabled: self.sync_enabled,
            status: ConnectionStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", &self.status))?,
            last_synced_at: self.last_synced_at.map(|t| t.to_jiff()),
            last_error: self.last_error,
            next_sync_at: self.next_sync_at.to_jiff(),
            failure_count: self.failure_count,
            channel,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}
