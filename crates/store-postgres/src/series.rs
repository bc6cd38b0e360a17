//! Recurring series on PostgreSQL: every occurrence is an ordinary booking written by the same
//! statement as a single booking, under the exclusion constraint, in one transaction.

use super::bookings::{follow_up, move_booking, write_booking};
use super::*;

#[async_trait]
impl SeriesStore for PostgresStore {
    async fn create_series(
        &self,
        tenant: TenantId,
        series_id: Uuid,
        rrule: &str,
        occurrences: &[HostBooking],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Vec<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        // Every host's lock before any check, in id order (as collective bookings take them).
        let mut users: Vec<UserId> = occurrences.iter().map(|o| o.booking.user_id).collect();
        users.sort_by_key(|u| u.0);
        users.dedup();
        for user in &users {
            if !bump(&mut tx, tenant, *user).await? {
                return Err(missing_user());
            }
        }
        let mut created = Vec::with_capacity(occurrences.len());
        for (position, occurrence) in occurrences.iter().enumerate() {
            // The first occurrence's statement carries the jobs and the idempotent answer.
            let (jobs, response) = if position == 0 {
                (jobs, response)
            } else {
                (&[][..], None)
            };
            let booking = write_booking(
                &mut tx,
                tenant,
                &occurrence.booking,
                &occurrence.caps,
                jobs,
                response,
            )
            .await?;
            sqlx::query(INSERT_OCCURRENCE)
                .bind(tenant.0)
                .bind(series_id)
                .bind(booking.id.0)
                .bind(i32::try_from(position).unwrap_or(i32::MAX))
                .bind(rrule)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            created.push(booking);
        }
        commit(tx, created).await
    }

    async fn move_series(
        &self,
        tenant: TenantId,
        moves: &[SeriesMove],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Vec<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        // Every host's lock before any move, in id order, as when the series was written.
        let mut users = Vec::new();
        for one in moves {
            let found: Option<Booking> =
                fetch_optional(&mut *tx, BOOKING_BY_ID, stored![tenant, one.id]).await?;
            let found = found.ok_or_else(missing_booking)?;
            users.push(found.user_id);
        }
        users.sort_by_key(|u| u.0);
        users.dedup();
        for user in &users {
            bump(&mut tx, tenant, *user).await?;
        }
        let mut moved = Vec::with_capacity(moves.len());
        for one in moves {
            let booking = move_booking(&mut tx, tenant, one.id, one.start, one.end, &one.caps)
                .await?
                .ok_or_else(missing_booking)?;
            moved.push(booking);
        }
        follow_up(&mut tx, tenant, jobs, response).await?;
        commit(tx, moved).await
    }

    async fn series_of(
        &self,
        tenant: TenantId,
        booking: BookingId,
    ) -> StoreResult<Option<SeriesLink>> {
        self.within(Scope::Tenant(tenant), async |tx| {
            let row: Option<(Uuid, i32, String)> = sqlx::query_as(
                "SELECT series_id, position, rrule FROM series_bookings
                  WHERE tenant_id = $1 AND booking_id = $2",
            )
            .bind(tenant.0)
            .bind(booking.0)
            .fetch_optional(tx)
            .await
            .map_err(db)?;
            Ok(row.map(|(series_id, position, rrule)| SeriesLink {
                series_id,
                position: u32::try_from(position).unwrap_or(u32::MAX),
                rrule,
            }))
        })
        .await
    }

    async fn series_bookings(
        &self,
        tenant: TenantId,
        series_id: Uuid,
    ) -> StoreResult<Vec<Booking>> {
        self.within(Scope::Tenant(tenant), async |tx| {
            fetch(tx, SERIES, stored![tenant, series_id]).await
        })
        .await
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

const BOOKING_BY_ID: &str = "SELECT * FROM bookings WHERE tenant_id = $1 AND id = $2";

fn missing_booking() -> StoreError {
    StoreError::MissingReference(Entity::Other("booking".into()))
}
