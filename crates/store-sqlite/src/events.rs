//! Calendar events and the busy time they make on SQLite.

use super::*;

/// The user an event belongs to, for [`SqliteStore::write_owned`].
const EVENT_OWNER: &str = "SELECT user_id FROM calendar_events WHERE tenant_id = $1 AND id = $2";

/// The events half of [`BUSY_EVENTS`] with each title, in start order.
const TITLED_BUSY_EVENTS: &str = concat!(
    "SELECT user_id, title, start_at, end_at, all_day FROM (",
    blocking_events!(
        "id, user_id, title, start_at, end_at, all_day",
        "IN (SELECT unhex(value) FROM json_each($2))"
    ),
    ") ORDER BY start_at, id"
);

#[async_trait]
impl EventStore for SqliteStore {
    async fn create_event(
        &self,
        tenant: TenantId,
        id: EventId,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<CalendarEvent> {
        let now = Timestamp::now();
        let mut tx = self.write().await?;
        if !bump(&mut tx, tenant, event.user_id).await? {
            return rollback(tx, Err(missing_user())).await;
        }
        let created = fetch_one(
            &mut *tx,
            "INSERT INTO calendar_events (id, tenant_id, user_id, provider_id, external_id, etag, \
             title, description, start_at, end_at, all_day, status, transparency, source, \
             booking_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) \
             RETURNING *",
            event.insert_values(tenant, id, now),
        )
        .await?;
        insert_jobs(&mut tx, tenant, jobs, now).await?;
        commit(tx, created).await
    }

    async fn get_event(&self, tenant: TenantId, id: EventId) -> StoreResult<Option<CalendarEvent>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM calendar_events WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id],
        )
        .await
    }

    async fn replace_event(
        &self,
        tenant: TenantId,
        id: EventId,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<Option<CalendarEvent>> {
        let now = Timestamp::now();
        let Some((mut tx, _)) = self.write_owned(EVENT_OWNER, tenant, id).await? else {
            return Ok(None);
        };
        let replaced = fetch_optional(
            &mut *tx,
            "UPDATE calendar_events SET provider_id = $3, external_id = $4, etag = $5, \
             title = $6, description = $7, start_at = $8, end_at = $9, all_day = $10, \
             status = $11, transparency = $12, source = $13, booking_id = $14, updated_at = $15 \
             WHERE tenant_id = $1 AND id = $2 RETURNING *",
            event.replace_values(tenant, id, now),
        )
        .await?;
        if replaced.is_none() {
            return rollback(tx, Ok(None)).await;
        }
        insert_jobs(&mut tx, tenant, jobs, now).await?;
        commit(tx, replaced).await
    }

    async fn delete_event(
        &self,
        tenant: TenantId,
        id: EventId,
        jobs: &[NewJob],
    ) -> StoreResult<bool> {
        let Some((mut tx, _)) = self.write_owned(EVENT_OWNER, tenant, id).await? else {
            return Ok(false);
        };
        let deleted = execute(
            &mut *tx,
            "DELETE FROM calendar_events WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id],
        )
        .await?;
        if deleted == 0 {
            return rollback(tx, Ok(false)).await;
        }
        insert_jobs(&mut tx, tenant, jobs, Timestamp::now()).await?;
        commit(tx, true).await
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
        push_fragments(&mut query, " AND ", filter.conditions());
        query.push(" ORDER BY start_at, id");
        fetch_built(&mut query, &self.pool).await
    }

    async fn busy_events(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<BusyEvent>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let values = busy_values(tenant, user_ids, (from, to));
        fetch(&self.pool, BUSY_EVENTS, values).await
    }

    async fn titled_busy_events(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<TitledBusyEvent>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let values = busy_values(tenant, user_ids, (from, to));
        fetch(&self.pool, TITLED_BUSY_EVENTS, values).await
    }

    async fn busy_versions(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
    ) -> StoreResult<Vec<(UserId, i64)>> {
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
        .map(|rows| {
            rows.into_iter()
                .map(|(id, version)| (UserId(id), version))
                .collect()
        })
    }

    async fn booking_event(
        &self,
        tenant: TenantId,
        booking_id: BookingId,
    ) -> StoreResult<Option<CalendarEvent>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM calendar_events WHERE tenant_id = $1 AND booking_id = $2 \
             AND source = 'booking'",
            stored![tenant, booking_id],
        )
        .await
    }
}
