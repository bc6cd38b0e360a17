//! Calendar events and the busy time they make on PostgreSQL.

use super::*;

#[async_trait]
impl EventStore for PostgresStore {
    async fn create_event(
        &self,
        tenant: TenantId,
        id: Uuid,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<CalendarEvent> {
        let mut tx = self.scoped(tenant).await?;
        if !bump(&mut tx, tenant, event.user_id).await? {
            tx.rollback().await.map_err(db)?;
            return Err(missing_user());
        }
        let row = sqlx::query_as::<_, EventRow>(
            "INSERT INTO calendar_events (id, tenant_id, user_id, provider_id, external_id, etag,
                                          title, description, start_at, end_at, all_day, status,
                                          transparency, source, booking_id, created_at,
                                          updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
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
        .bind(event.start.to_sqlx())
        .bind(event.end.to_sqlx())
        .bind(event.all_day)
        .bind(event.status.as_str())
        .bind(event.transparency.as_str())
        .bind(event.source.as_str())
        .bind(event.booking_id)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        insert_jobs(&mut tx, tenant, jobs).await?;
        commit(tx, row.into_model()?).await
    }

    async fn get_event(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<CalendarEvent>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, EventRow>(
            "SELECT * FROM calendar_events WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(EventRow::into_model).transpose()?).await
    }

    async fn replace_event(
        &self,
        tenant: TenantId,
        id: Uuid,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<Option<CalendarEvent>> {
        let mut tx = self.scoped(tenant).await?;
        let Some(user) = owner(&mut tx, Owned::Event, tenant, id).await? else {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        bump(&mut tx, tenant, user).await?;
        let row = sqlx::query_as::<_, EventRow>(
            "UPDATE calendar_events
                SET provider_id = $3, external_id = $4, etag = $5, title = $6, description = $7,
                    start_at = $8, end_at = $9, all_day = $10, status = $11, transparency = $12,
                    source = $13, booking_id = $14, updated_at = $15
              WHERE tenant_id = $1 AND id = $2
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(event.provider_id)
        .bind(&event.external_id)
        .bind(&event.etag)
        .bind(&event.title)
        .bind(&event.description)
        .bind(event.start.to_sqlx())
        .bind(event.end.to_sqlx())
        .bind(event.all_day)
        .bind(event.status.as_str())
        .bind(event.transparency.as_str())
        .bind(event.source.as_str())
        .bind(event.booking_id)
        .bind(now())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            // Deleted between the look-up and the update: undo the bump.
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        };
        insert_jobs(&mut tx, tenant, jobs).await?;
        commit(tx, Some(row.into_model()?)).await
    }

    async fn delete_event(&self, tenant: TenantId, id: Uuid, jobs: &[NewJob]) -> StoreResult<bool> {
        let mut tx = self.scoped(tenant).await?;
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
        insert_jobs(&mut tx, tenant, jobs).await?;
        commit(tx, true).await
    }

    async fn list_events(
        &self,
        tenant: TenantId,
        filter: &EventFilter,
    ) -> StoreResult<Vec<CalendarEvent>> {
        // Only fixed fragments are pushed; every value is bound.
        let mut query =
            QueryBuilder::<Postgres>::new("SELECT * FROM calendar_events WHERE tenant_id = ");
        query.push_bind(tenant.0);
        if !filter.user_ids.is_empty() {
            query.push(" AND user_id = ANY(");
            query.push_bind(filter.user_ids.clone());
            query.push(")");
        }
        if !filter.include_cancelled {
            query.push(" AND status <> 'cancelled'");
        }
        if let Some(from) = filter.from {
            query.push(" AND end_at > ");
            query.push_bind(widened_back(from));
            query.push(" AND (all_day OR end_at > ");
            query.push_bind(from.to_sqlx());
            query.push(")");
        }
        if let Some(to) = filter.to {
            query.push(" AND start_at < ");
            query.push_bind(widened_forward(to));
            query.push(" AND (all_day OR start_at < ");
            query.push_bind(to.to_sqlx());
            query.push(")");
        }
        query.push(" ORDER BY start_at, id");
        let mut tx = self.scoped(tenant).await?;
        let rows = query
            .build_query_as::<EventRow>()
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, all(rows, EventRow::into_model)?).await
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
        let mut tx = self.scoped(tenant).await?;
        let rows = sqlx::query_as::<_, BusyRow>(BUSY_EVENTS)
            .bind(tenant.0)
            .bind(user_ids)
            .bind(widened_back(from))
            .bind(widened_forward(to))
            .bind(from.to_sqlx())
            .bind(to.to_sqlx())
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, all(rows, BusyRow::into_model)?).await
    }

    async fn busy_versions(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<(Uuid, i64)>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Asked before every availability answer and booking, so it takes one round trip: the
        // scope and the query go as one simple-protocol message, which PostgreSQL runs as one
        // implicit transaction, so the transaction-local setting holds for the query and ends
        // with it. Only UUIDs we formatted ourselves are written into the text.
        let ids = user_ids
            .iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let statement = format!(
            "SELECT set_config('app.tenant_id', '{tenant}', true); \
             SELECT id, busy_version FROM users WHERE tenant_id = '{tenant}' AND id IN ({ids})",
            tenant = tenant.0,
        );
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            // The first statement's single row is the setting's value.
            .filter(|row| row.columns().len() == 2)
            .map(|row| Ok((row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?)))
            .collect()
    }

    async fn booking_event(
        &self,
        tenant: TenantId,
        booking_id: Uuid,
    ) -> StoreResult<Option<CalendarEvent>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, EventRow>(
            "SELECT * FROM calendar_events WHERE tenant_id = $1 AND booking_id = $2
                AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(booking_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(EventRow::into_model).transpose()?).await
    }
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
    start_at: jiff_sqlx::Timestamp,
    end_at: jiff_sqlx::Timestamp,
    all_day: bool,
    status: String,
    transparency: String,
    source: String,
    booking_id: Option<Uuid>,
    created_at: jiff_sqlx::Timestamp,
    updated_at: jiff_sqlx::Timestamp,
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
            start: self.start_at.to_jiff(),
            end: self.end_at.to_jiff(),
            all_day: self.all_day,
            status: EventStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", &self.status))?,
            transparency: Transparency::parse(&self.transparency)
                .ok_or_else(|| corrupt("transparency", &self.transparency))?,
            source: EventSource::parse(&self.source)
                .ok_or_else(|| corrupt("source", &self.source))?,
            booking_id: self.booking_id,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}
