//! The invite sequences of bookings' notices on PostgreSQL.

use super::*;

#[async_trait]
impl NoticeStore for PostgresStore {
    async fn next_notice_sequence(
        &self,
        tenant: TenantId,
        booking: BookingId,
    ) -> StoreResult<Option<i32>> {
        // One statement: concurrent changes of one booking each get their own number.
        let next: Option<NoticeSequence> = self
            .fetch_optional_in(
                Scope::Tenant(tenant),
                "INSERT INTO booking_notice_sequences (booking_id, tenant_id, sequence)
                 SELECT id, tenant_id, 1 FROM bookings WHERE tenant_id = $1 AND id = $2
                 ON CONFLICT (booking_id)
                 DO UPDATE SET sequence = booking_notice_sequences.sequence + 1
                 RETURNING sequence",
                stored![tenant, booking],
            )
            .await?;
        Ok(next.map(|n| n.0))
    }
}
