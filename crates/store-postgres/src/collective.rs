//! Collective bookings on PostgreSQL: every host's row is an ordinary booking, written by the
//! same statement as a single booking, so the exclusion constraint `bookings_no_overlap`
//! covers each host of the appointment.

use super::bookings::write_booking;
use super::*;

#[async_trait]
impl CollectiveStore for PostgresStore {
    async fn create_collective_booking(
        &self,
        tenant: TenantId,
        hosts: &[HostBooking],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Vec<Booking>> {
        let Some(lead) = hosts.first() else {
            return Err(missing_user());
        };
        let mut tx = self.scoped(tenant).await?;
        // Every host's lock before any check, in id order: a single booking takes one of these
        // locks, and two collective bookings take theirs in the same order, so none waits on
        // another in a cycle.
        let mut users: Vec<UserId> = hosts.iter().map(|h| h.booking.user_id).collect();
        users.sort_by_key(|u| u.0);
        users.dedup();
        for user in &users {
            if !bump(&mut tx, tenant, *user).await? {
                return Err(missing_user());
            }
        }
        let mut created = Vec::with_capacity(hosts.len());
        for (position, host) in hosts.iter().enumerate() {
            // The lead's row carries the jobs and the idempotent answer.
            let (jobs, response) = if position == 0 {
                (jobs, response)
            } else {
                (&[][..], None)
            };
            let booking =
                write_booking(&mut tx, tenant, &host.booking, &host.caps, jobs, response).await?;
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
        commit(tx, created).await
    }

    async fn booking_group(&self, tenant: TenantId, id: BookingId) -> StoreResult<Vec<Booking>> {
        self.within(Scope::Tenant(tenant), async |tx| {
            fetch(tx, GROUP, stored![tenant, id]).await
        })
        .await
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

/// Locks every host of the collective booking `id` belongs to, in id order (nothing for a
/// single-host booking): the order [`CollectiveStore::create_collective_booking`] takes them.
pub(crate) async fn lock_hosts(
    tx: &mut PgConnection,
    tenant: TenantId,
    id: BookingId,
) -> StoreResult<()> {
    let rows: Vec<Booking> = fetch(&mut *tx, GROUP, stored![tenant, id]).await?;
    let mut users: Vec<UserId> = rows.iter().map(|b| b.user_id).collect();
    users.sort_by_key(|u| u.0);
    users.dedup();
    for user in users {
        lock_user(&mut *tx, tenant, user).await?;
    }
    Ok(())
}

/// Cancels the other hosts' rows of the collective booking led by `lead` (nothing for a
/// single-host booking), inside the caller's transaction, which holds their locks
/// ([`lock_hosts`]): their time is freed with the lead's.
pub(crate) async fn cancel_hosts(
    tx: &mut PgConnection,
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
            "UPDATE bookings SET status = 'cancelled', cancel_reason = $3, cancelled_at = $4,
                                 updated_at = $4
              WHERE tenant_id = $1 AND id = $2",
            stored![tenant, row.id, reason, now],
        )
        .await?;
        execute(
            &mut *tx,
            "UPDATE calendar_events SET status = 'cancelled', updated_at = $3
              WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
            stored![tenant, row.id, now],
        )
        .await?;
    }
    Ok(())
}
