//! SMS opt-outs on PostgreSQL: one table for the whole server (no tenant, no row security).

use super::*;

#[async_trait]
impl SmsOptOutStore for PostgresStore {
    async fn set_sms_opt_out(
        &self,
        phone: &str,
        opted_out: bool,
        at: Timestamp,
    ) -> StoreResult<()> {
        // Not tenant-owned: no tenant scope to set (see the migration).
        if opted_out {
            self.execute_in(
                Scope::Worker,
                "INSERT INTO sms_opt_outs (phone, opted_out_at) VALUES ($1, $2)
                 ON CONFLICT (phone) DO NOTHING",
                stored![phone, at],
            )
            .await?;
        } else {
            self.execute_in(
                Scope::Worker,
                "DELETE FROM sms_opt_outs WHERE phone = $1",
                stored![phone],
            )
            .await?;
        }
        Ok(())
    }

    async fn get_sms_opt_out(&self, phone: &str) -> StoreResult<Option<SmsOptOut>> {
        self.fetch_optional_in(
            Scope::Worker,
            "SELECT * FROM sms_opt_outs WHERE phone = $1",
            stored![phone],
        )
        .await
    }
}
