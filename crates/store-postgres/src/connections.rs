//! Calendar connections and the events synchronised from them on PostgreSQL.

use super::*;

/// The user a connection belongs to, for [`PostgresStore::scoped_owned`].
const CONNECTION_OWNER: &str =
    "SELECT user_id FROM calendar_providers WHERE tenant_id = $1 AND id = $2";

#[async_trait]
impl ConnectionStore for PostgresStore {
    async fn upsert_calendar_connection(
        &self,
        tenant: TenantId,
        connection: &NewCalendarConnection,
    ) -> StoreResult<CalendarConnection> {
        self.within(Scope::Tenant(tenant), async |tx| {
            fetch_one(
                tx,
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
                connection.upsert_values(tenant, ConnectionId::new(), Timestamp::now()),
            )
            .await
            .map_err(|e| e.missing_means(Entity::User))
        })
        .await
    }

    async fn get_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
    ) -> StoreResult<Option<CalendarConnection>> {
        self.fetch_optional_in(
            Scope::Tenant(tenant),
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
        self.fetch_in(
            Scope::Tenant(tenant),
            "SELECT * FROM calendar_providers
              WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
              ORDER BY created_at, id",
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
        let mut query =
            QueryBuilder::<Postgres>::new("UPDATE calendar_providers SET updated_at = ");
        query.push_bind(Bound(Timestamp::now().into()));
        push_fragments(&mut query, ", ", patch.assignments());
        query.push(" WHERE tenant_id = ").push_bind(tenant.0);
        query.push(" AND id = ").push_bind(id.0);
        query.push(" RETURNING *");
        self.within(Scope::Tenant(tenant), async |tx| {
            // At most one row: the update is by id.
            Ok(fetch_built(&mut query, tx).await?.pop())
        })
        .await
    }

    async fn delete_calendar_connection(
        &self,
        tenant: TenantId,
        id: ConnectionId,
    ) -> StoreResult<bool> {
        let Some((mut tx, _)) = self.scoped_owned(CONNECTION_OWNER, tenant, id).await? else {
            return Ok(false);
        };
        let provider = stored![tenant, id];
        execute(
            &mut *tx,
            "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2
                AND source IN ('google', 'microsoft', 'caldav')",
            provider.clone(),
        )
        .await?;
        execute(
            &mut *tx,
            "UPDATE calendar_events SET provider_id = NULL, external_id = NULL, etag = NULL
              WHERE tenant_id = $1 AND provider_id = $2",
            provider.clone(),
        )
        .await?;
        let deleted = execute(
            &mut *tx,
            "DELETE FROM calendar_providers WHERE tenant_id = $1 AND id = $2",
            provider,
        )
        .await?;
        commit(tx, deleted > 0).await
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
        // The row lock of the UPDATE serialises two processes racing for the same lease; the
        // loser re-reads the winner's lease and matches nothing.
        self.fetch_optional_in(
            Scope::Tenant(tenant),
            "UPDATE calendar_providers SET sync_lock_owner = $3, sync_locked_until = $4
              WHERE tenant_id = $1 AND id = $2
                AND (sync_locked_until IS NULL OR sync_locked_until <= $5
                     OR sync_lock_owner = $3)
             RETURNING *",
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
        self.execute_in(
            Scope::Tenant(tenant),
            "UPDATE calendar_providers SET sync_lock_owner = NULL, sync_locked_until = NULL
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
        let values = stored![owner, until, now, channel_horizon, i64::from(limit)];
        // SKIP LOCKED, as for the outbox: a connection another process is leasing right now
        // is left to it.
        let sync_worker = Scope::Setting("app.sync_worker", "on");
        let mut connections: Vec<CalendarConnection> = self
            .fetch_in(
                sync_worker,
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
                values,
            )
            .await?;
        connections.sort_by_key(|c| (c.next_sync_at, c.id));
        Ok(connections)
    }

    async fn find_calendar_connection_by_channel(
        &self,
        channel_id: &str,
    ) -> StoreResult<Option<CalendarConnection>> {
        let scope = Scope::Setting("app.channel_id", channel_id);
        self.fetch_optional_in(
            scope,
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
        let mut tx = self.scoped(tenant).await?;
        if !bump(&mut tx, tenant, user_id).await? {
            return rollback(tx, Err(missing_user())).await;
        }
        // Many rows per statement: one round trip per chunk instead of per event.
        for chunk in events.chunks(1000) {
            let mut query = QueryBuilder::<Postgres>::new(
                "INSERT INTO calendar_events (id, tenant_id, user_id, provider_id, external_id,
                     etag, title, description, start_at, end_at, all_day, status, transparency,
                     created_at, updated_at, source) ",
            );
            query.push_values(chunk, |mut row, event| {
                for value in event.synced_values(tenant, EventId::new(), user_id, provider_id, now)
                {
                    row.push_bind(Bound(value));
                }
            });
            query.push(
                " ON CONFLICT (provider_id, external_id)
                   WHERE provider_id IS NOT NULL AND external_id IS NOT NULL
                 DO UPDATE SET etag = excluded.etag, title = excluded.title,
                    description = excluded.description, start_at = excluded.start_at,
                    end_at = excluded.end_at, all_day = excluded.all_day,
                    status = excluded.status, transparency = excluded.transparency,
                    updated_at = excluded.updated_at
                  WHERE calendar_events.source IN ('google', 'microsoft', 'caldav')",
            );
            query.build().execute(&mut *tx).await.map_err(db)?;
        }
        if !deleted.is_empty() {
            execute(
                &mut *tx,
                "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2
                    AND source IN ('google', 'microsoft', 'caldav') AND external_id = ANY($3)",
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
        let mut tx = self.scoped(tenant).await?;
        // The user's lock first, like every event write.
        lock_user(&mut tx, tenant, user_id).await?;
        let pruned = execute(
            &mut *tx,
            "DELETE FROM calendar_events WHERE tenant_id = $1 AND provider_id = $2
                AND source IN ('google', 'microsoft', 'caldav') AND NOT (external_id = ANY($3))",
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
        let values = stored![tenant, event_id, provider_id, external_id, etag];
        self.execute_in(
            Scope::Tenant(tenant),
            "UPDATE calendar_events SET provider_id = $3, external_id = $4, etag = $5
              WHERE tenant_id = $1 AND id = $2",
            values,
        )
        .await?;
        Ok(())
    }
}
