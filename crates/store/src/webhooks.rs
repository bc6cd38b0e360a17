//! Webhook subscriptions: where a tenant wants its booking events posted, signed with a secret
//! we must use (so it is sealed at rest, never hashed).

use async_trait::async_trait;
use jiff::Timestamp;
use uuid::Uuid;

use crate::*;

/// One subscription: `events` are the trigger names it wants (`BOOKING_CREATED`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub subscriber_url: String,
    pub events: Vec<String>,
    /// The signing secret, sealed with the server's key.
    pub secret_sealed: String,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub subscriber_url: String,
    pub events: Vec<String>,
    pub secret_sealed: String,
    pub active: bool,
}

/// A partial update; `None` leaves the field alone.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub subscriber_url: Option<String>,
    pub events: Option<Vec<String>>,
    pub secret_sealed: Option<String>,
    pub active: Option<bool>,
}

impl FromStored for Webhook {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        let events = row.get("events")?;
        Ok(Webhook {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            subscriber_url: row.get("subscriber_url")?,
            events: serde_json::from_value(events)
                .map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))?,
            secret_sealed: row.get("secret_sealed")?,
            active: row.get("active")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl NewWebhook {
    /// `$1` to `$7` of both backends' `INSERT INTO webhooks`: id, tenant, the fields in
    /// declaration order, and `now` for both timestamps.
    pub fn insert_values(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: Timestamp,
    ) -> [StoredValue<'_>; 7] {
        [
            id.into(),
            tenant.into(),
            (&self.subscriber_url).into(),
            serde_json::Value::from(self.events.clone()).into(),
            (&self.secret_sealed).into(),
            self.active.into(),
            now.into(),
        ]
    }
}

impl WebhookPatch {
    /// `$1` to `$7` of both backends' `UPDATE webhooks`: tenant and id, then url, events,
    /// secret and active (`NULL` leaves a column alone), and `now`.
    pub fn update_values(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: Timestamp,
    ) -> [StoredValue<'_>; 7] {
        [
            tenant.into(),
            id.into(),
            self.subscriber_url.as_ref().into(),
            self.events.clone().map(serde_json::Value::from).into(),
            self.secret_sealed.as_ref().into(),
            self.active.into(),
            now.into(),
        ]
    }
}

/// Webhook subscriptions.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook(&self, tenant: TenantId, webhook: &NewWebhook) -> StoreResult<Webhook>;
    /// The tenant's subscriptions, oldest first.
    async fn list_webhooks(&self, tenant: TenantId) -> StoreResult<Vec<Webhook>>;
    async fn get_webhook(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Webhook>>;
    /// Changes what the patch names; `None` if absent.
    async fn update_webhook(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &WebhookPatch,
    ) -> StoreResult<Option<Webhook>>;
    /// Deletes a subscription and its delivery log; false if absent.
    async fn delete_webhook(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;
}
