//! Tenants' own wording of their notification messages: a subject and a body per kind of
//! message. Without one, the server's built-in wording is used.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::*;

/// A tenant's subject and body for one kind of message (`booking_created`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationTemplate {
    pub tenant_id: TenantId,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub updated_at: Timestamp,
}

impl FromStored for NotificationTemplate {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(NotificationTemplate {
            tenant_id: row.get("tenant_id")?,
            kind: row.get("kind")?,
            subject: row.get("subject")?,
            body: row.get("body")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// Tenants' own notification templates.
#[async_trait]
pub trait NotificationTemplateStore: Send + Sync {
    /// The tenant's template for `kind`, if it wrote one.
    async fn get_notification_template(
        &self,
        tenant: TenantId,
        kind: &str,
    ) -> StoreResult<Option<NotificationTemplate>>;
    /// Creates or replaces the tenant's template for `kind`.
    async fn put_notification_template(
        &self,
        tenant: TenantId,
        kind: &str,
        subject: &str,
        body: &str,
    ) -> StoreResult<NotificationTemplate>;
    /// Removes the tenant's template for `kind` (back to the built-in one); false if none.
    async fn delete_notification_template(&self, tenant: TenantId, kind: &str)
    -> StoreResult<bool>;
}
