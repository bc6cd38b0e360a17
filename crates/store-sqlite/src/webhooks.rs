//! Webhook subscriptions and their delivery log on SQLite.

use super::*;

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, tenant: TenantId, webhook: &NewWebhook) -> StoreResult<Webhook> {
        fetch_one(
            &self.writes,
            "INSERT INTO webhooks (id, tenant_id, subscriber_url, events, secret_sealed, active, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *",
            webhook.insert_values(tenant, new_id(), Timestamp::now()),
        )
        .await
    }

    async fn list_webhooks(&self, tenant: TenantId) -> StoreResult<Vec<Webhook>> {
        fetch(
            &self.pool,
            "SELECT * FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id",
            stored![tenant],
        )
        .await
    }

    async fn get_webhook(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Webhook>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM webhooks WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id],
        )
        .await
    }

    async fn update_webhook(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &WebhookPatch,
    ) -> StoreResult<Option<Webhook>> {
        fetch_optional(
            &self.writes,
            "UPDATE webhooks SET subscriber_url = COALESCE($3, subscriber_url), \
             events = COALESCE($4, events), secret_sealed = COALESCE($5, secret_sealed), \
             active = COALESCE($6, active), updated_at = $7 \
             WHERE tenant_id = $1 AND id = $2 RETURNING *",
            patch.update_values(tenant, id, Timestamp::now()),
        )
        .await
    }

    async fn delete_webhook(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let deleted = execute(
            &self.writes,
            "DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2",
            stored![tenant, id],
        )
        .await?;
        Ok(deleted > 0)
    }
}

#[async_trait]
impl WebhookDeliveryStore for SqliteStore {
    async fn record_webhook_attempt(
        &self,
        tenant: TenantId,
        attempt: &WebhookAttempt,
    ) -> StoreResult<WebhookDelivery> {
        fetch_one(
            &self.writes,
            "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, job_id, booking_id, event, \
             status, response_code, duration_ms, error, job_created_at, attempts, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12) \
             ON CONFLICT (webhook_id, job_id) DO UPDATE SET status = excluded.status, \
             response_code = excluded.response_code, duration_ms = excluded.duration_ms, \
             error = excluded.error, attempts = attempts + 1, updated_at = excluded.updated_at \
             RETURNING *, NULL AS next_attempt_at",
            attempt.upsert_values(tenant, new_id(), Timestamp::now()),
        )
        .await
    }

    async fn find_webhook_delivery(
        &self,
        tenant: TenantId,
        webhook_id: Uuid,
        job_id: Uuid,
    ) -> StoreResult<Option<WebhookDelivery>> {
        fetch_optional(
            &self.pool,
            "SELECT *, NULL AS next_attempt_at FROM webhook_deliveries \
             WHERE tenant_id = $1 AND webhook_id = $2 AND job_id = $3",
            stored![tenant, webhook_id, job_id],
        )
        .await
    }

    async fn earlier_webhook_delivery_pending(
        &self,
        tenant: TenantId,
        webhook_id: Uuid,
        booking_id: BookingId,
        job_created_at: Timestamp,
        job_id: Uuid,
    ) -> StoreResult<bool> {
        let waiting: Option<WebhookDelivery> = fetch_optional(
            &self.pool,
            "SELECT *, NULL AS next_attempt_at FROM webhook_deliveries \
             WHERE tenant_id = $1 AND webhook_id = $2 AND booking_id = $3 \
               AND status = 'retrying' AND job_id <> $5 \
               AND (job_created_at < $4 OR (job_created_at = $4 AND job_id < $5)) \
             LIMIT 1",
            stored![tenant, webhook_id, booking_id, job_created_at, job_id],
        )
        .await?;
        Ok(waiting.is_some())
    }

    async fn list_webhook_deliveries(
        &self,
        tenant: TenantId,
        webhook_id: Uuid,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        fetch(
            &self.pool,
            "SELECT d.*, CASE WHEN d.status = 'retrying' AND o.status = 'pending' \
                              THEN o.next_attempt_at END AS next_attempt_at \
               FROM webhook_deliveries d \
               LEFT JOIN outbox o ON o.id = d.job_id AND o.tenant_id = d.tenant_id \
              WHERE d.tenant_id = $1 AND d.webhook_id = $2 \
              ORDER BY d.created_at DESC, d.id DESC LIMIT $3",
            stored![tenant, webhook_id, limit],
        )
        .await
    }
}
