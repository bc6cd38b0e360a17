//! Tenants' notification templates on SQLite.

use super::*;

#[async_trait]
impl NotificationTemplateStore for SqliteStore {
    async fn get_notification_template(
        &self,
        tenant: TenantId,
        kind: &str,
    ) -> StoreResult<Option<NotificationTemplate>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM notification_templates WHERE tenant_id = $1 AND kind = $2",
            stored![tenant, kind],
        )
        .await
    }

    async fn put_notification_template(
        &self,
        tenant: TenantId,
        kind: &str,
        subject: &str,
        body: &str,
    ) -> StoreResult<NotificationTemplate> {
        fetch_one(
            &self.writes,
            "INSERT INTO notification_templates (tenant_id, kind, subject, body, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, kind) DO UPDATE SET subject = excluded.subject, \
             body = excluded.body, updated_at = excluded.updated_at RETURNING *",
            stored![tenant, kind, subject, body, Timestamp::now()],
        )
        .await
    }

    async fn delete_notification_template(
        &self,
        tenant: TenantId,
        kind: &str,
    ) -> StoreResult<bool> {
        let deleted = execute(
            &self.writes,
            "DELETE FROM notification_templates WHERE tenant_id = $1 AND kind = $2",
            stored![tenant, kind],
        )
        .await?;
        Ok(deleted > 0)
    }
}
