//! The invite sequences of bookings' notices on SQLite.

use super::*;

#[async_trait]
impl NoticeStore for SqliteStore {
    async fn next_notice_sequence(
        &self,
        tenant: TenantId,
        booking: BookingId,
    ) -> StoreResult<Option<i32>> {
        // One statement: concurrent changes of one booking each get their own number.
        let next: Option<NoticeSequence> = fetch_optional(
            &self.writes,
            "INSERT INTO booking_notice_sequences (booking_id, tenant_id, sequence) \
             SELECT id, tenant_id, 1 FROM bookings WHERE tenant_id = $1 AND id = $2 \
             ON CONFLICT (booking_id) DO UPDATE SET sequence = sequence + 1 \
             RETURNING sequence",
            stored![tenant, booking],
        )
        .await?;
        Ok(next.map(|n| n.0))
    }
}
