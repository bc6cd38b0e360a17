//! The delivery log of webhook subscriptions: one row per subscription and outbox job, updated
//! on every attempt, so a subscriber's history can be read and a delivery is never repeated
//! once it succeeded.

use async_trait::async_trait;
use jiff::Timestamp;
use uuid::Uuid;

use crate::*;

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// The subscriber answered 2xx.
    Delivered,
    /// It failed and will be tried again.
    Retrying,
    /// It failed for good (given up, or refused by the network rules).
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<DeliveryStatus> {
        match name {
            "delivered" => Some(DeliveryStatus::Delivered),
            "retrying" => Some(DeliveryStatus::Retrying),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One subscription's delivery of one job, after its latest attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub webhook_id: Uuid,
    pub job_id: Uuid,
    /// The booking it tells of; deliveries of one booking keep their order.
    pub booking_id: Option<BookingId>,
    /// `BOOKING_CREATED`, …, or `PING`.
    pub event: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub response_code: Option<i32>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    /// When the job that carries it was written: the order of a booking's events.
    pub job_created_at: Timestamp,
    /// When it is tried again, while retrying (the outbox job's next attempt).
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl FromStored for WebhookDelivery {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(WebhookDelivery {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            webhook_id: row.get("webhook_id")?,
            job_id: row.get("job_id")?,
            booking_id: row.get_optional("booking_id")?,
            event: row.get("event")?,
            status: row.get_parsed("status", "delivery status", DeliveryStatus::parse)?,
            attempts: row.get("attempts")?,
            response_code: row.get_optional("response_code")?,
            duration_ms: row.get_optional("duration_ms")?,
            error: row.get_optional("error")?,
            job_created_at: row.get("job_created_at")?,
            next_attempt_at: row.get_optional("next_attempt_at")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// The outcome of one attempt, to be recorded.
#[derive(Debug, Clone)]
pub struct WebhookAttempt {
    pub webhook_id: Uuid,
    pub job_id: Uuid,
    pub booking_id: Option<BookingId>,
    pub event: String,
    pub status: DeliveryStatus,
    pub response_code: Option<i32>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub job_created_at: Timestamp,
}

impl WebhookAttempt {
    /// `$1` to `$11` of both backends' upsert: a new id, tenant, the fields in declaration
    /// order, and `now`.
    pub fn upsert_values(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: Timestamp,
    ) -> [StoredValue<'_>; 12] {
        [
            id.into(),
            tenant.into(),
            self.webhook_id.into(),
            self.job_id.into(),
            self.booking_id.into(),
            (&self.event).into(),
            self.status.as_str().into(),
            self.response_code.into(),
            self.duration_ms.into(),
            self.error.as_ref().into(),
            self.job_created_at.into(),
            now.into(),
        ]
    }
}

/// The delivery log.
#[async_trait]
pub trait WebhookDeliveryStore: Send + Sync {
    /// Records an attempt: the first makes the row, later ones update it and count attempts.
    async fn record_webhook_attempt(
        &self,
        tenant: TenantId,
        attempt: &WebhookAttempt,
    ) -> StoreResult<WebhookDelivery>;
    /// The subscription's delivery of one job, if attempted.
    async fn find_webhook_delivery(
        &self,
        tenant: TenantId,
        webhook_id: Uuid,
        job_id: Uuid,
    ) -> StoreResult<Option<WebhookDelivery>>;
    /// Whether an earlier event of the booking (by its job's creation, then job id) still
    /// waits to reach the subscription: a later one must wait behind it.
    async fn earlier_webhook_delivery_pending(
        &self,
        tenant: TenantId,
        webhook_id: Uuid,
        booking_id: BookingId,
        job_created_at: Timestamp,
        job_id: Uuid,
    ) -> StoreResult<bool>;
    /// The subscription's latest deliveries, newest first, with the outbox's next attempt of
    /// those still retrying.
    async fn list_webhook_deliveries(
        &self,
        tenant: TenantId,
        webhook_id: Uuid,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDelivery>>;
}
