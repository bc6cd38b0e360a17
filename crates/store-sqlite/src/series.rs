//! Recurring series on SQLite: every occurrence written by the same checks as a single
//! booking, inside one immediate write transaction.

use super::bookings::{follow_up, move_booking, write_booking};
use super::*;

#[async_trait]
impl SeriesStore for SqliteStore {
    async fn create_series(
        &self,
        tenant: TenantId,
        series_id: Uuid,
        rrule: &str,
        occurrences: &[HostBooking],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Vec<Booking>> {
        let now = Timestamp::now();
        let mut tx = self.write().await?;
        let mut created = Vec::with_capacity(occurrences.len());
        for (position, occurrence) in occurrences.iter().enumerate() {
            let booking =
                write_booking(&mut tx, tenant, &occurrence.booking, &occurrence.caps, now).await?;
            sqlx::query(INSERT_OCCURRENCE)
                .bind(tenant.0)
                .bind(series_id)
                .bind(booking.id.0)
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .bind(rrule)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            created.push(booking);
        }
        insert_jobs(&mut tx, tenant, jobs, now).await?;
        record_response(&mut tx, tenant, response, now).await?;
        commit(tx, created).await
    }

    async fn move_series(
        &self,
        tenant: TenantId,
        moves: &[SeriesMove],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Vec<Booking>> {
        let now = Timestamp::now();
        let mut tx = self.write().await?;
        let mut moved = Vec::with_capacity(moves.len());
        for one in moves {
            let booking = move_booking(&mut tx, tenant, one.id, one.start, one.end, &one.caps, now)
                .await?
                .ok_or_else(|| StoreError::MissingReference(Entity::Other("booking".into())))?;
            moved.push(booking);
        }
        follow_up(&mut tx, tenant, jobs, response, now).await?;
        commit(tx, moved).await
    }

    async fn series_of(
        &self,
        tenant: TenantId,
        booking: BookingId,
    ) -> StoreResult<Option<SeriesLink>> {
        let row: Option<(Uuid, i64, String)> = sqlx::query_as(
            "SELECT series_id, position, rrule FROM series_bookings \
             WHERE tenant_id = $1 AND booking_id = $2",
        )
        .bind(tenant.0)
        .bind(booking.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(|(series_id, position, rrule)| SeriesLink {
            series_id,
            position: u32::try_from(position).unwrap_or(u32::MAX),
            rrule,
        }))
    }

    async fn series_bookings(
        &self,
        tenant: TenantId,
        series_id: Uuid,
    ) -> StoreResult<Vec<Booking>> {
        fetch(&self.pool, SERIES, stored![tenant, series_id]).await
    }
}

/// Records one occurrence of a series.
const INSERT_OCCURRENCE: &str = "INSERT INTO series_bookings \
    (tenant_id, series_id, booking_id, position, rrule) VALUES ($1, $2, $3, $4, $5)";

/// The bookings of a series, in order.
const SERIES: &str = "\
    SELECT b.* FROM series_bookings s
      JOIN bookings b ON b.tenant_id = s.tenant_id AND b.id = s.booking_id
     WHERE s.tenant_id = $1 AND s.series_id = $2
     ORDER BY s.position";
