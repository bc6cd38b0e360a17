//! Webhooks: booking changes posted to each subscriber of the tenant, Cal.com-compatible so
//! consumers written for Cal.com keep working: the body is
//! `{"triggerEvent", "createdAt", "payload"}` and `X-Cal-Signature-256` is the hex HMAC-SHA256
//! of the raw body under the subscription's secret.
//!
//! One `webhook.booking` job per change; the delivery log (one row per subscription and job)
//! remembers who already has it, so a retry posts only to those who do not, and a booking's
//! later event waits while an earlier one is still retrying for that subscriber.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use pillow_providers::crypto::SecretBox;
use pillow_store::{
    Booking, BookingStatus, DeliveryStatus, Job, Store, TenantId, Webhook, WebhookAttempt,
};
use serde_json::{Value, json};
use sha2::Sha256;

use super::network::{Refused, checked_address};
use crate::config::{ConfigError, Source};
use crate::outbox::{Change, Deliverer, DeliveryError, JobKind, MAX_ATTEMPTS, OutboxJob};

/// How long a subscriber may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How many redirects are followed, each checked like the first address.
const MAX_REDIRECTS: usize = 3;
/// The signature header, as Cal.com names it.
pub const SIGNATURE_HEADER: &str = "X-Cal-Signature-256";

/// The trigger name of a booking change.
pub fn trigger(change: Change) -> &'static str {
    match change {
        Change::Created => "BOOKING_CREATED",
        Change::Rescheduled => "BOOKING_RESCHEDULED",
        Change::Cancelled => "BOOKING_CANCELLED",
    }
}

/// The triggers a subscription may ask for.
pub const TRIGGERS: [&str; 3] = [
    "BOOKING_CREATED",
    "BOOKING_RESCHEDULED",
    "BOOKING_CANCELLED",
];

/// Whether internal addresses may be posted to: `WEBHOOK_ALLOW_PRIVATE_NETWORKS`.
///
/// # Errors
/// A value other than `true` or `false`.
pub fn allow_private_networks(source: &dyn Source) -> Result<bool, ConfigError> {
    match source.get("WEBHOOK_ALLOW_PRIVATE_NETWORKS").as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ConfigError {
            variable: "WEBHOOK_ALLOW_PRIVATE_NETWORKS",
            problem: format!("is {other:?}"),
            fix: "Set it to true (webhooks may go to loopback and private addresses) or false."
                .into(),
        }),
    }
}

/// The hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// What one post came to.
struct Outcome {
    /// The subscriber answered 2xx.
    delivered: bool,
    /// Retrying cannot help (the address is refused).
    refused: bool,
    code: Option<i32>,
    duration_ms: i64,
    error: Option<String>,
}

/// The deliverer of webhook jobs.
pub struct WebhookDeliverer {
    store: Arc<dyn Store>,
    secrets: SecretBox,
    allow_private: bool,
}

impl WebhookDeliverer {
    pub fn new(store: Arc<dyn Store>, secrets: SecretBox, allow_private: bool) -> Self {
        if allow_private {
            tracing::warn!(
                "WEBHOOK_ALLOW_PRIVATE_NETWORKS=true: webhooks may be posted to internal addresses"
            );
        }
        WebhookDeliverer {
            store,
            secrets,
            allow_private,
        }
    }

    /// Posts `body` to the subscriber, signed, following a few redirects, each to an address
    /// checked after resolving it.
    async fn post(&self, webhook: &Webhook, event: &str, body: &[u8]) -> Outcome {
        let started = Instant::now();
        let outcome = |delivered, refused, code, error: Option<String>| Outcome {
            delivered,
            refused,
            code,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            error,
        };
        let secret = match self.secrets.open(&webhook.secret_sealed) {
            Ok(secret) => secret,
            Err(e) => return outcome(false, true, None, Some(format!("secret unreadable: {e}"))),
        };
        let signature = signature(&secret, body);
        let mut url = match reqwest::Url::parse(&webhook.subscriber_url) {
            Ok(url) => url,
            Err(e) => return outcome(false, true, None, Some(format!("bad URL: {e}"))),
        };
        for _ in 0..=MAX_REDIRECTS {
            let address = match checked_address(&url, self.allow_private).await {
                Ok(address) => address,
                Err(refused @ (Refused::Internal { .. } | Refused::BadUrl(_))) => {
                    return outcome(false, true, None, Some(refused.to_string()));
                }
                Err(other) => return outcome(false, false, None, Some(other.to_string())),
            };
            let host = url.host_str().unwrap_or_default().to_string();
            // Connect to the address just checked, whatever DNS says a moment later.
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(TIMEOUT)
                .resolve(&host, address)
                .build();
            let client = match client {
                Ok(client) => client,
                Err(e) => return outcome(false, false, None, Some(e.to_string())),
            };
            let sent = client
                .post(url.clone())
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, &signature)
                .header("user-agent", "Pillow-Calendar-Webhooks")
                .header("x-pillow-event", event)
                .body(body.to_vec())
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e) => return outcome(false, false, None, Some(e.to_string())),
            };
            let status = response.status();
            let code = Some(i32::from(status.as_u16()));
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok());
                match next {
                    Some(next) => {
                        url = next;
                        continue;
                    }
                    None => {
                        return outcome(
                            false,
                            false,
                            code,
                            Some("redirect without a Location".into()),
                        );
                    }
                }
            }
            if status.is_success() {
                return outcome(true, false, code, None);
            }
            return outcome(false, false, code, Some(format!("HTTP {status}")));
        }
        outcome(
            false,
            false,
            None,
            Some(format!("more than {MAX_REDIRECTS} redirects")),
        )
    }

    /// The body Cal.com's consumers expect for a booking change.
    async fn booking_body(
        &self,
        tenant: TenantId,
        booking: &Booking,
        change: Change,
        at: Timestamp,
    ) -> Result<Vec<u8>, DeliveryError> {
        let member = self
            .store
            .get_user(tenant, booking.user_id)
            .await
            .map_err(DeliveryError::retry)?;
        let agent = match booking.agent_id {
            Some(id) => self
                .store
                .get_agent(tenant, id)
                .await
                .map_err(DeliveryError::retry)?,
            None => None,
        };
        let zone = agent
            .as_ref()
            .map(|a| a.time_zone.clone())
            .or_else(|| member.as_ref().map(|m| m.time_zone.clone()))
            .unwrap_or_else(|| "UTC".into());
        let organizer = member.as_ref().map_or(Value::Null, |m| {
            json!({"name": m.name, "email": m.email, "timeZone": m.time_zone,
                   "language": {"locale": "en"}})
        });
        let mut payload = json!({
            "type": agent.as_ref().map_or("booking", |a| a.name.as_str()),
            "title": booking.title,
            "description": booking.description,
            "additionalNotes": booking.notes,
            "startTime": booking.start.to_string(),
            "endTime": booking.end.to_string(),
            "organizer": organizer,
            "attendees": [{
                "name": booking.attendee.name,
                "email": booking.attendee.email,
                "phoneNumber": booking.attendee.phone,
                "timeZone": zone,
                "language": {"locale": "en"},
            }],
            "uid": booking.id.to_string(),
            "bookingId": booking.id.to_string(),
            "confirmationCode": booking.confirmation_code,
            "status": if booking.status == BookingStatus::Cancelled { "CANCELLED" } else { "ACCEPTED" },
            "metadata": {},
        });
        if change == Change::Cancelled {
            payload["cancellationReason"] = json!(booking.cancel_reason);
        }
        if change == Change::Rescheduled {
            payload["rescheduleUid"] = json!(booking.id.to_string());
        }
        envelope(trigger(change), at, payload)
    }

    async fn deliver_booking(
        &self,
        job: &Job,
        booking_id: pillow_store::BookingId,
        change: Change,
    ) -> Result<(), DeliveryError> {
        let tenant = job.tenant_id;
        let event = trigger(change);
        let subscribers: Vec<Webhook> = self
            .store
            .list_webhooks(tenant)
            .await
            .map_err(DeliveryError::retry)?
            .into_iter()
            // A subscription made after the change did not ask for it.
            .filter(|w| {
                w.active && w.events.iter().any(|e| e == event) && w.created_at <= job.created_at
            })
            .collect();
        if subscribers.is_empty() {
            return Ok(());
        }
        let Some(booking) = self
            .store
            .get_booking(tenant, booking_id)
            .await
            .map_err(DeliveryError::retry)?
        else {
            return Err(DeliveryError::Permanent(
                "the booking no longer exists".into(),
            ));
        };
        let body = self
            .booking_body(tenant, &booking, change, job.created_at)
            .await?;
        let last = job.attempts >= MAX_ATTEMPTS;
        let (mut failed, mut waiting) = (0, 0);
        for webhook in subscribers {
            let done = self
                .store
                .find_webhook_delivery(tenant, webhook.id, job.id)
                .await
                .map_err(DeliveryError::retry)?
                .is_some_and(|d| d.status != DeliveryStatus::Retrying);
            if done {
                continue;
            }
            let behind = self
                .store
                .earlier_webhook_delivery_pending(
                    tenant,
                    webhook.id,
                    booking.id,
                    job.created_at,
                    job.id,
                )
                .await
                .map_err(DeliveryError::retry)?;
            let attempt = |status, code, duration_ms, error| WebhookAttempt {
                webhook_id: webhook.id,
                job_id: job.id,
                booking_id: Some(booking.id),
                event: event.to_string(),
                status,
                response_code: code,
                duration_ms,
                error,
                job_created_at: job.created_at,
            };
            if behind {
                waiting += 1;
                if last {
                    let error = Some("given up waiting for an earlier event of the booking".into());
                    self.record(tenant, &attempt(DeliveryStatus::Failed, None, None, error))
                        .await?;
                }
                continue;
            }
            let outcome = self.post(&webhook, event, &body).await;
            let status = if outcome.delivered {
                DeliveryStatus::Delivered
            } else if outcome.refused || last {
                DeliveryStatus::Failed
            } else {
                DeliveryStatus::Retrying
            };
            // A refused address is final for that subscriber; anything else keeps the job going
            // (on its last attempt, so that the outbox gives it up loudly).
            if !outcome.delivered && !outcome.refused {
                failed += 1;
            }
            metrics::counter!("notifications_total", "channel" => "webhook",
                "outcome" => status.as_str())
            .increment(1);
            metrics::histogram!("notifications_latency_seconds", "channel" => "webhook")
                .record(outcome.duration_ms as f64 / 1000.0);
            self.record(
                tenant,
                &attempt(
                    status,
                    outcome.code,
                    Some(outcome.duration_ms),
                    outcome.error,
                ),
            )
            .await?;
        }
        if failed + waiting > 0 {
            return Err(DeliveryError::Retry(format!(
                "{failed} subscriber(s) failed, {waiting} waiting behind an earlier event"
            )));
        }
        Ok(())
    }

    async fn record(
        &self,
        tenant: TenantId,
        attempt: &WebhookAttempt,
    ) -> Result<(), DeliveryError> {
        self.store
            .record_webhook_attempt(tenant, attempt)
            .await
            .map(|_| ())
            .map_err(DeliveryError::retry)
    }

    async fn deliver_ping(&self, job: &Job, webhook_id: uuid::Uuid) -> Result<(), DeliveryError> {
        let tenant = job.tenant_id;
        let Some(webhook) = self
            .store
            .get_webhook(tenant, webhook_id)
            .await
            .map_err(DeliveryError::retry)?
        else {
            return Ok(());
        };
        let body = envelope(
            "PING",
            job.created_at,
            json!({"message": "A test ping from Pillow Calendar", "webhookId": webhook.id}),
        )?;
        let outcome = self.post(&webhook, "PING", &body).await;
        let status = if outcome.delivered {
            DeliveryStatus::Delivered
        } else {
            DeliveryStatus::Failed
        };
        // A ping is tried once: its answer is what the caller wants to see.
        self.record(
            tenant,
            &WebhookAttempt {
                webhook_id: webhook.id,
                job_id: job.id,
                booking_id: None,
                event: "PING".into(),
                status,
                response_code: outcome.code,
                duration_ms: Some(outcome.duration_ms),
                error: outcome.error,
                job_created_at: job.created_at,
            },
        )
        .await
    }
}

impl WebhookDeliverer {
    /// Sends a logged event to its one subscriber again, as the booking is now; logged under
    /// this job. Retried like any delivery while the subscriber fails.
    async fn deliver_replay(
        &self,
        job: &Job,
        replay: &crate::outbox::WebhookReplay,
    ) -> Result<(), DeliveryError> {
        let tenant = job.tenant_id;
        let Some(webhook) = self
            .store
            .get_webhook(tenant, replay.webhook_id)
            .await
            .map_err(DeliveryError::retry)?
        else {
            return Ok(());
        };
        let change = [Change::Created, Change::Rescheduled, Change::Cancelled]
            .into_iter()
            .find(|c| trigger(*c) == replay.event);
        let body = match (change, replay.booking_id) {
            (Some(change), Some(booking_id)) => {
                let booking = self
                    .store
                    .get_booking(tenant, booking_id)
                    .await
                    .map_err(DeliveryError::retry)?
                    .ok_or_else(|| {
                        DeliveryError::Permanent("the booking no longer exists".into())
                    })?;
                self.booking_body(tenant, &booking, change, job.created_at)
                    .await?
            }
            _ => envelope(
                "PING",
                job.created_at,
                json!({"message": "A test ping from Pillow Calendar", "webhookId": webhook.id}),
            )?,
        };
        let event = if change.is_some() {
            replay.event.as_str()
        } else {
            "PING"
        };
        let outcome = self.post(&webhook, event, &body).await;
        let last = job.attempts >= MAX_ATTEMPTS;
        let status = if outcome.delivered {
            DeliveryStatus::Delivered
        } else if outcome.refused || last {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Retrying
        };
        let retry = status == DeliveryStatus::Retrying;
        let error = outcome.error.clone();
        self.record(
            tenant,
            &WebhookAttempt {
                webhook_id: webhook.id,
                job_id: job.id,
                booking_id: replay.booking_id,
                event: event.to_string(),
                status,
                response_code: outcome.code,
                duration_ms: Some(outcome.duration_ms),
                error: outcome.error,
                job_created_at: job.created_at,
            },
        )
        .await?;
        if retry {
            return Err(DeliveryError::Retry(
                error.unwrap_or_else(|| "the subscriber did not answer 2xx".into()),
            ));
        }
        Ok(())
    }
}

/// The Cal.com envelope, as the bytes that are signed and sent.
fn envelope(trigger: &str, at: Timestamp, payload: Value) -> Result<Vec<u8>, DeliveryError> {
    let body = json!({
        "triggerEvent": trigger,
        "createdAt": at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "payload": payload,
    });
    serde_json::to_vec(&body).map_err(|e| DeliveryError::Permanent(e.to_string()))
}

#[async_trait::async_trait]
impl Deliverer for WebhookDeliverer {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn kinds(&self) -> Vec<JobKind> {
        vec![
            JobKind::WebhookBooking,
            JobKind::WebhookPing,
            JobKind::WebhookReplay,
        ]
    }

    async fn deliver(&self, job: &Job, what: &OutboxJob) -> Result<(), DeliveryError> {
        match what {
            OutboxJob::Webhook(_, event) => {
                self.deliver_booking(job, event.booking_id, event.change)
                    .await
            }
            OutboxJob::Ping(ping) => self.deliver_ping(job, ping.webhook_id).await,
            OutboxJob::Replay(replay) => self.deliver_replay(job, replay).await,
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_raw_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_envelope_has_the_trigger_the_time_and_the_payload() {
        let at: Timestamp = "2026-03-10T18:30:00Z".parse().unwrap();
        let body = envelope("BOOKING_CREATED", at, json!({"uid": "x"})).unwrap();
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            json!({"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-03-10T18:30:00.000Z",
                   "payload": {"uid": "x"}})
        );
    }
}
