//! Collective bookings: one appointment that occupies several hosts at once.
//!
//! Each host's time is held by an ordinary confirmed booking row of that host, so every guarantee
//! of a single-host booking (the overlap check or PostgreSQL's exclusion constraint, the
//! per-host limits, busy time) holds for each host without a second mechanism. The rows are
//! tied together under the lead booking, the one the caller sees.

use async_trait::async_trait;

use crate::*;

/// One host's part of a collective booking: the booking row that holds the host's time and
/// the limits re-counted for that host when it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBooking {
    pub booking: NewBooking,
    pub caps: Vec<BookingCap>,
}

/// Writing and reading collective bookings.
#[async_trait]
pub trait CollectiveStore: Send + Sync {
    /// Books every host of `hosts` (the first is the lead) in one transaction, each exactly as
    /// [`BookingStore::create_capped_booking`] would (time taken, caps, busy event, busy
    /// version), and ties the rows together. The `jobs` and `response` go with the lead. Hosts
    /// are locked in id order, so two collective bookings sharing hosts never deadlock.
    ///
    /// # Errors
    /// As `create_capped_booking` for any host: nothing is written when one host fails.
    async fn create_collective_booking(
        &self,
        tenant: TenantId,
        hosts: &[HostBooking],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Vec<Booking>>;

    /// The rows of the collective booking `id` belongs to (as lead or as a host's row), lead
    /// first; empty for a single-host booking or an unknown id.
    async fn booking_group(&self, tenant: TenantId, id: BookingId) -> StoreResult<Vec<Booking>>;
}
