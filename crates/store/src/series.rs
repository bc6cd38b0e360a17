//! Recurring series: occurrences of one appointment, each an ordinary booking, written together.

use async_trait::async_trait;
use uuid::Uuid;

use crate::*;

/// Where a booking stands in its series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesLink {
    pub series_id: Uuid,
    /// 0 for the first occurrence booked.
    pub position: u32,
    /// The series' RFC 5545 `RRULE`, as expanded in the agent's zone.
    pub rrule: String,
}

/// One occurrence's new time in [`SeriesStore::move_series`], with the host's caps there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesMove {
    pub id: BookingId,
    pub start: jiff::Timestamp,
    pub end: jiff::Timestamp,
    pub caps: Vec<BookingCap>,
}

/// Writing and reading recurring series.
#[async_trait]
pub trait SeriesStore: Send + Sync {
    /// Books every occurrence (each a [`HostBooking`]: the row and the host's caps) in one
    /// transaction, each exactly as [`BookingStore::create_capped_booking`] would, and records
    /// them as series `series_id` in the order given. The `jobs` and `response` are written
    /// once, with the first. Hosts are locked in id order.
    ///
    /// # Errors
    /// As `create_capped_booking` for any occurrence: nothing is written when one fails.
    async fn create_series(
        &self,
        tenant: TenantId,
        series_id: Uuid,
        rrule: &str,
        occurrences: &[HostBooking],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Vec<Booking>>;

    /// Moves several occurrences in one transaction, each exactly as
    /// [`BookingStore::reschedule_capped_booking`] would, in the order given (give them in the
    /// direction they move, latest first for a later time, so they never pass through one
    /// another). The `jobs` and `response` are written once. Hosts are locked in id order.
    ///
    /// # Errors
    /// As `reschedule_capped_booking` for any occurrence; [`StoreError::MissingReference`] of
    /// `Entity::Other("booking")` for an unknown booking. Nothing is written when one fails.
    async fn move_series(
        &self,
        tenant: TenantId,
        moves: &[SeriesMove],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Vec<Booking>>;

    /// The series a booking belongs to; `None` for a booking outside any series.
    async fn series_of(
        &self,
        tenant: TenantId,
        booking: BookingId,
    ) -> StoreResult<Option<SeriesLink>>;

    /// The bookings of a series (cancelled ones too), in series order.
    async fn series_bookings(&self, tenant: TenantId, series_id: Uuid)
    -> StoreResult<Vec<Booking>>;
}
