//! Collective bookings on SQLite: every host's row written by the same checks as a single
//! booking, inside one immediate write transaction.

use super::bookings::write_booking;
use super::*;

#[async_trait]
impl CollectiveStore for SqliteStore {
    async fn create_collective_booking(
        &self,
        tenant: TenantId,
        hosts: &[HostBooking],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Vec<Booking>> {
        let Some(lead) = hosts.first() else {
            return Err(StoreError::MissingReference(Entity::User));
        };
        let now = Timestamp::now();
        // The one write lock is held from the first host's check to the commit: no booking of
        // any host can be written in between.
        let mut tx = self.write().await?;
        let mut created = Vec::with_capacity(hosts.len());
        for (position, host) in hosts.iter().enumerate() {
            let booking = write_booking(&mut tx, tenant, &host.booking, &host.caps, now).await?;
            execute(
                &mut *tx,
                INSERT_HOST,
                stored![
                    tenant,
                    lead.booking.id,
                    booking.id,
                    booking.user_id,
                    i32::try_from(position).unwrap_or(i32::MAX)
                ],
            )
            .await?;
            created.push(booking);
        }
        insert_jobs(&mut tx, tenant, jobs, now).await?;
        record_response(&mut tx, tenant, response, now).await?;
        commit(tx, created).await
    }

    async fn booking_group(&self, tenant: TenantId, id: BookingId) -> StoreResult<Vec<Booking>> {
        fetch(&self.pool, GROUP, stored![tenant, id]).await
    }
}

/// Ties a host's booking row to its lead.
const INSERT_HOST: &str = "INSERT INTO booking_hosts \
    (tenant_id, booking_id, host_booking_id, user_id, position) VALUES ($1, $2, $3, $4, $5)";

/// The rows of the collective booking that `$2` is part of, lead first.
const GROUP: &str = "\
    SELECT b.* FROM booking_hosts h
      JOIN bookings b ON b.tenant_id = h.tenant_id AND b.id = h.host_booking_id
     WHERE h.tenant_id = $1
       AND h.booking_id = (SELECT booking_id FROM booking_hosts
                            WHERE tenant_id = $1 AND host_booking_id = $2)
     ORDER BY h.position";

/// Cancels the other hosts' rows of the collective booking led by `lead` (nothing for a
/// single-host booking), inside the caller's write transaction: their time is freed with the
/// lead's.
pub(crate) async fn cancel_hosts(
    tx: &mut SqliteConnection,
    tenant: TenantId,
    lead: BookingId,
    reason: Option<&str>,
    now: Timestamp,
) -> StoreResult<()> {
    let rows: Vec<Booking> = fetch(&mut *tx, GROUP, stored![tenant, lead]).await?;
    for row in rows
        .iter()
        .filter(|b| b.id != lead && b.status == BookingStatus::Confirmed)
    {
        bump(&mut *tx, tenant, row.user_id).await?;
        execute(
            &mut *tx,
            "UPDATE bookings SET status = 'cancelled', cancel_reason = $3, cancelled_at = $4, \
             updated_at = $4 WHERE tenant_id = $1 AND id = $2",
            stored![tenant, row.id, reason, now],
        )
        .await?;
        execute(
            &mut *tx,
            "UPDATE calendar_events SET status = 'cancelled', updated_at = $3 \
             WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
            stored![tenant, row.id, now],
        )
        .await?;
    }
    Ok(())
}
