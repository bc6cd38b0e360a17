//! Phone numbers that replied STOP to our SMS sender: no text goes to them until they reply
//! START. Kept for the whole server, not per tenant: every tenant sends from the same number,
//! and the carrier's opt-out (which Twilio enforces for the whole account) is for that number.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::*;

/// A number that opted out, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsOptOut {
    /// E.164, e.g. `+15555550123`.
    pub phone: String,
    pub opted_out_at: Timestamp,
}

impl FromStored for SmsOptOut {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(SmsOptOut {
            phone: row.get("phone")?,
            opted_out_at: row.get("opted_out_at")?,
        })
    }
}

/// The numbers that opted out of texts.
#[async_trait]
pub trait SmsOptOutStore: Send + Sync {
    /// Records a STOP (`opted_out`) or a START (not) from `phone` at `at`; repeating either
    /// changes nothing more.
    async fn set_sms_opt_out(&self, phone: &str, opted_out: bool, at: Timestamp)
    -> StoreResult<()>;
    /// The opt-out of `phone`, if it has one.
    async fn get_sms_opt_out(&self, phone: &str) -> StoreResult<Option<SmsOptOut>>;
}
