//! Calendar connections and the events synchronised from them on SQLite.

use super::*;

#[async_trait]
impl ConnectionStore for SqliteStore {
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
