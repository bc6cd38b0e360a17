//! Calendar connections and the events synchronised from them on SQLite.

use super::*;

/// The user a connection belongs to, for [`SqliteStore::write_owned`].
const CONNECTION_OWNER: &str =
    "SELECT user_id FROM calendar_providers WHERE tenant_id = $1 AND id = $2";

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn upsert_calendar_connection(
        &self,
        tenant: TenantId,
        connection: &NewCalendarConnection,
    ) -> StoreResult<CalendarConnection> {
        fetch_one(
            &self.writes,
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
            connection.upsert_values(tenant, ConnectionId::new(), Timestamp::now()),
        )
        .await
        .map_err(|e| e.missing_means(Entity::User))
    }

    async fn get_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
    ) -> StoreResult<Option<CalendarConnection>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM calendar_providers WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id],
        )
        .await
    }

    async fn list_calendar_connections(
        &self,
        tenant: TenantId,
        user_id: Option<UserId>,
    ) -> StoreResult<Vec<CalendarConnection>> {
        fetch(
            &self.pool,
            "SELECT * FROM calendar_providers WHERE tenant_id = $1 \
             AND ($2 IS NULL OR user_id = $2) ORDER BY created_at, id",
            stored![tenant, user_id],
        )
        .await
    }

    async fn update_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        patch: &ConnectionPatch,
    ) -> StoreResult<Option<CalendarConnection>> {
        let mut query = QueryBuilder::<Sqlite>::new("UPDATE calendar_providers SET updated_at = ");
        query.push_bind(Bound(Timestamp::now().into()));
        push_fragments(&mut query, ", ", patch.assignments());
        query.push(" WHERE tenant_id = ").push_bind(tenant.0);
        query.push(" AND id = ").push_bind(id.0);
        query.push(" RETURNING *");
        // At most one row: the update is by id.
        Ok(fetch_built(&mut query, &self.pool).await?.pop())
    }

    async fn delete_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
    ) -> StoreResult<bool> {
        let Some((mut tx, _)) = self.write_owned(CONNECTION_OWNER, tenant, id).await? else {
            return Ok(false);
        };
        let provider = stored![tenant, id];
        execute(
            &mut *tx,
            "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2 \
             AND source IN ('google', 'microsoft', 'caldav')",
            provider.clone(),
        )
        .await?;
        execute(
            &mut *tx,
            "UPDATE calendar_events SET provider_id = NULL, external_id = NULL, etag = NULL \
             WHERE tenant_id = $1 AND provider_id = $2",
            provider.clone(),
        )
        .await?;
        execute(
            &mut *tx,
            "DELETE FROM calendar_providers WHERE tenant_id = $1 AND id = $2",
            provider,
        )
        .await?;
        commit(tx, true).await
    }

    async fn lease_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        owner: &str,
        now: Timestamp,
        lease: jiff::SignedDuration,
    ) -> StoreResult<Option<CalendarConnection>> {
        let until = lease_until(now, lease);
        fetch_optional(
            &self.writes,
            "UPDATE calendar_providers SET sync_lock_owner = $3, sync_locked_until = $4 \
             WHERE tenant_id = $1 AND id = $2 AND (sync_locked_until IS NULL \
             OR sync_locked_until <= $5 OR sync_lock_owner = $3) RETURNING *",
            stored![tenant, id, owner, until, now],
        )
        .await
    }

    async fn release_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        owner: &str,
    ) -> StoreResult<()> {
        execute(
            &self.writes,
            "UPDATE calendar_providers SET sync_lock_owner = NULL, sync_locked_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND sync_lock_owner = $3",
            stored![tenant, id, owner],
        )
        .await?;
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
        let until = lease_until(now, lease);
        // One writer at a time: a connection is leased by exactly one caller.
        let mut tx = self.write().await?;
        let mut connections: Vec<CalendarConnection> = fetch(
            &mut *tx,
            "UPDATE calendar_providers SET sync_lock_owner = $1, sync_locked_until = $2 \
             WHERE id IN (SELECT id FROM calendar_providers \
                           WHERE sync_enabled AND status IN ('active', 'error') \
                             AND (sync_locked_until IS NULL OR sync_locked_until <= $3) \
                             AND (next_sync_at <= $3 \
                                  OR (channel_expires_at IS NOT NULL AND channel_expires_at < $4)) \
                           ORDER BY next_sync_at, id LIMIT $5) \
             RETURNING *",
            stored![owner, until, now, channel_horizon, i64::from(limit)],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        connections.sort_by_key(|c| (c.next_sync_at, c.id));
        Ok(connections)
    }

    async fn find_calendar_connection_by_channel(
        &self,
        channel_id: &str,
    ) -> StoreResult<Option<CalendarConnection>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM calendar_providers WHERE channel_id = $1",
            stored![channel_id],
        )
        .await
    }

    async fn apply_synced_events(
        &self,
        tenant: TenantId,
        provider_id: ConnectionId,
        user_id: UserId,
        events: &[NewCalendarEvent],
        deleted: &[String],
    ) -> StoreResult<()> {
        let now = Timestamp::now();
        let mut tx = self.write().await?;
        if !bump(&mut tx, tenant, user_id).await? {
            return Err(missing_user());
        }
        // Many rows per statement: one round trip per chunk instead of per event.
        for chunk in events.chunks(500) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "INSERT INTO calendar_events (id, tenant_id, user_id, provider_id, external_id, \
                 etag, title, description, start_at, end_at, all_day, status, transparency, \
                 created_at, updated_at, source) ",
            );
            query.push_values(chunk, |mut row, event| {
                for value in event.synced_values(tenant, EventId::new(), user_id, provider_id, now)
                {
                    row.push_bind(Bound(value));
                }
            });
            query.push(
                " ON CONFLICT (provider_id, external_id) \
                 WHERE provider_id IS NOT NULL AND external_id IS NOT NULL DO UPDATE SET \
                 etag = excluded.etag, title = excluded.title, \
                 description = excluded.description, start_at = excluded.start_at, \
                 end_at = excluded.end_at, all_day = excluded.all_day, status = excluded.status, \
                 transparency = excluded.transparency, updated_at = excluded.updated_at \
                 WHERE calendar_events.source IN ('google', 'microsoft', 'caldav')",
            );
            query.build().execute(&mut *tx).await.map_err(db)?;
        }
        if !deleted.is_empty() {
            execute(
                &mut *tx,
                "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2 \
                 AND source IN ('google', 'microsoft', 'caldav') AND external_id IN (SELECT value FROM json_each($3))",
                stored![tenant, provider_id, deleted],
            )
            .await?;
        }
        commit(tx, ()).await
    }

    async fn prune_synced_events(
        &self,
        tenant: TenantId,
        provider_id: ConnectionId,
        user_id: UserId,
        keep: &[String],
    ) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        let pruned = execute(
            &mut *tx,
            "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2 \
             AND source IN ('google', 'microsoft', 'caldav') \
             AND external_id NOT IN (SELECT value FROM json_each($3))",
            stored![tenant, provider_id, keep],
        )
        .await?;
        if pruned > 0 {
            bump(&mut tx, tenant, user_id).await?;
        }
        commit(tx, pruned).await
    }

    async fn set_event_provider_ref(
        &self,
        tenant: TenantId,
        event_id: EventId,
        provider_id: Option<ConnectionId>,
        external_id: Option<&str>,
        etag: Option<&str>,
    ) -> StoreResult<()> {
        execute(
            &self.writes,
            "UPDATE calendar_events SET provider_id = $3, external_id = $4, etag = $5 \
             WHERE tenant_id = $1 AND id = $2",
            stored![tenant, event_id, provider_id, external_id, etag],
        )
        .await?;
        Ok(())
    }
}
