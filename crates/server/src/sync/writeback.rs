//! Write-back to every provider the engine syncs: the outbox deliverer that puts a booking, as
//! it is now, into the member's connected calendars (or takes it out once cancelled). Each job
//! reads the booking's current state, so late or repeated jobs converge on what is true now;
//! the adapters make every write idempotent.

use std::sync::Arc;

use pillow_store::{BookingStatus, ConnectionStatus, Job};

use super::provider::{BookingEntry, CalendarProvider, ProviderError};
use super::{EngineError, SyncEngine, origin_of};
use crate::outbox::{DeliveryError, JobKind, OutboxJob};

/// The outbox deliverer for the engine's providers, except those with a deliverer of their
/// own ([`super::CalendarProvider::own_deliverer`]), which run the same write-back.
pub struct ProviderWriteBack(pub Arc<SyncEngine>);

impl SyncEngine {
    /// Delivers one booking job to the member's connections this deliverer serves.
    ///
    /// # Errors
    /// As [`SyncEngine::write_back_to`].
    pub async fn write_back(
        &self,
        tenant: pillow_store::TenantId,
        what: &OutboxJob,
    ) -> Result<(), EngineError> {
        self.write_back_to(tenant, what, |p| !p.own_deliverer())
            .await
    }

    /// Delivers one booking job to the member's connections whose provider `serves` accepts:
    /// the booking as it is now is written (or removed once cancelled, or once it was handed
    /// to another member, whose own job writes it to theirs).
    ///
    /// # Errors
    /// Anything worth retrying (a provider down or rate limiting, a connection that needs
    /// re-authorisation, the database).
    pub async fn write_back_to(
        &self,
        tenant: pillow_store::TenantId,
        what: &OutboxJob,
        serves: impl Fn(&dyn CalendarProvider) -> bool,
    ) -> Result<(), EngineError> {
        let OutboxJob::Booking(_, change) = what else {
            return Ok(());
        };
        let connections = self
            .store
            .list_calendar_connections(tenant, Some(change.user_id))
            .await?;
        let booking = self.store.get_booking(tenant, change.booking_id).await?;
        for connection in connections.iter().filter(|c| c.sync_enabled) {
            let Some(provider) = self.provider(&connection.kind) else {
                continue;
            };
            if !serves(provider.as_ref()) {
                continue;
            }
            // A change that came from this kind of calendar is already there.
            if change.origin.is_some() && change.origin == origin_of(&connection.kind) {
                continue;
            }
            if connection.status == ConnectionStatus::NeedsReauth {
                return Err(ProviderError::NeedsReauth.into());
            }
            match &booking {
                Some(b) if b.status == BookingStatus::Confirmed && b.user_id == change.user_id => {
                    let mut description = b.description.clone().unwrap_or_default();
                    if !description.is_empty() {
                        description.push_str("\n\n");
                    }
                    description.push_str(&format!("Confirmation code: {}", b.confirmation_code));
                    let entry = BookingEntry {
                        booking: b.id,
                        title: b.title.clone(),
                        description: Some(description),
                        start: b.start,
                        end: b.end,
                    };
                    provider.write_booking(connection, &entry).await?;
                }
                _ => {
                    provider
                        .delete_booking(connection, change.booking_id)
                        .await?
                }
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::outbox::Deliverer for ProviderWriteBack {
    fn name(&self) -> &'static str {
        "calendars"
    }

    fn kinds(&self) -> Vec<JobKind> {
        let mut kinds = JobKind::BOOKING_LIFECYCLE.to_vec();
        // The catch-up job: a booking as it is now, without the lifecycle's other deliverers.
        kinds.push(JobKind::GoogleBookingWrite);
        kinds
    }

    async fn deliver(&self, job: &Job, what: &OutboxJob) -> Result<(), DeliveryError> {
        self.0
            .write_back(job.tenant_id, what)
            .await
            .map_err(DeliveryError::retry)
    }
}
