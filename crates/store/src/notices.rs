//! What the notices of a booking (its e-mails and their calendar invites) need kept between
//! changes: the invite's `SEQUENCE`, which must rise on every change of the booking.

use async_trait::async_trait;

use crate::*;

/// The `SEQUENCE` a change of a booking gives its invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeSequence(pub i32);

impl FromStored for NoticeSequence {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(NoticeSequence(row.get("sequence")?))
    }
}

/// The invite sequences of bookings' notices.
#[async_trait]
pub trait NoticeStore: Send + Sync {
    /// Counts one more change of a booking and answers its invite's `SEQUENCE`: 1 for the
    /// first change after it was made (which had 0), one more on each after. Called before
    /// the change is written: a change that then fails leaves a gap, which calendars accept.
    /// `None`, counting nothing, when the booking is not in the tenant.
    async fn next_notice_sequence(
        &self,
        tenant: TenantId,
        booking: BookingId,
    ) -> StoreResult<Option<i32>>;
}
