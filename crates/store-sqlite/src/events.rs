//! Calendar events and the busy time they make on SQLite.

use super::*;

#[async_trait]
impl EventStore for SqliteStore {
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
}

/// `ts` moved by `delta` microseconds, saturating: a bound beyond the ends of time is no bound.
fn shifted(ts: Timestamp, delta: i64) -> i64 {
    micros(ts).saturating_add(delta)
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
