//! SMS opt-outs on SQLite: one table for the whole server.

use super::*;

#[async_trait]
impl SmsOptOutStore for SqliteStore {
    async fn set_sms_opt_out(
        &self,
        phone: &str,
        opted_out: bool,
        at: Timestamp,
    ) -> StoreResult<()> {
        if opted_out {
            execute(
                &self.writes,
                "INSERT INTO sms_opt_outs (phone, opted_out_at) VALUES ($1, $2) \
                 ON CONFLICT (phone) DO NOTHING",
                stored![phone, at],
            )
            .await?;
        } else {
            execute(
                &self.writes,
                "DELETE FROM sms_opt_outs WHERE phone = $1",
                stored![phone],
            )
            .await?;
        }
        Ok(())
    }

    async fn get_sms_opt_out(&self, phone: &str) -> StoreResult<Option<SmsOptOut>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM sms_opt_outs WHERE phone = $1",
            stored![phone],
        )
        .await
    }
}
