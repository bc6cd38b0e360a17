//! Write-back: the outbox jobs that put our bookings and events into the member's Google
//! Calendar. Bookings go through the engine's shared write-back (`SyncEngine::write_back_to`,
//! which calls this adapter's `write_booking`/`delete_booking`); internal events, which only
//! Google receives, are written here.
//!
//! Every event we write has a deterministic id ([`g::event_id_for`]) and names its booking or
//! event in `extendedProperties.private`, so a retried insert answers 409 (done, not a second
//! event) and our events are recognised when they sync back. Reschedules patch with
//! `If-Match`; on 412 we read the event again and patch with its new ETag. A delete that finds
//! the event already gone (410, 404) is done. Each job reads the current state of its booking
//! or event, so jobs that run late or out of order still converge on what is true now.

use pillow_store::{CalendarConnection, ConnectionStatus, EventId, Job, TenantId, UserId};
use std::collections::BTreeMap;

use pillow_providers::google::{
    self as g, EventDateTime, ExtendedProperties, GoogleError, GoogleEvent,
};
use secrecy::ExposeSecret;

use super::{BOOKING_PROPERTY, EVENT_PROPERTY, GoogleSync, SyncError};
use crate::outbox::{DeliveryError, JobKind, OutboxJob};
use crate::sync::{BookingEntry, CalendarProvider};

/// The stored names of the job kinds that write an internal event to Google (or delete it
/// there).
pub const EVENT_UPSERT_JOB: &str = JobKind::GoogleEventUpsert.as_str();
pub const EVENT_DELETE_JOB: &str = JobKind::GoogleEventDelete.as_str();
/// The job kind that writes a booking to Google as it is now, without the lifecycle's other
/// deliverers (no second confirmation): queued when a calendar is connected or resumes.
pub const BOOKING_WRITE_JOB: &str = JobKind::GoogleBookingWrite.as_str();

/// What to write for one of our objects.
enum Desired {
    /// The event should exist with this content.
    Present(Box<GoogleEvent>),
    /// The event should not exist.
    Absent,
}

impl GoogleSync {
    /// Delivers one internal event's job to Google. Jobs of users without a Google
    /// connection are done at once.
    ///
    /// # Errors
    /// Anything worth retrying later (Google down or rate limiting, a connection that needs
    /// re-authorisation, the database).
    pub async fn write_event(
        &self,
        tenant: TenantId,
        event: EventId,
        user: UserId,
    ) -> Result<(), SyncError> {
        let Some(connection) = self.connection_of(tenant, user).await? else {
            return Ok(());
        };
        let event_id = g::event_id_for("event", event.0);
        match self.desired_event(tenant, event).await? {
            Desired::Absent => self.delete_remote(&connection, &event_id).await,
            Desired::Present(body) => {
                let written = self.put_remote(&connection, &event_id, *body).await?;
                self.store
                    .set_event_provider_ref(
                        tenant,
                        event,
                        Some(connection.id),
                        Some(&written.id),
                        written.etag.as_deref(),
                    )
                    .await?;
                Ok(())
            }
        }
    }

    /// Makes the booking's event exist as `entry` says (the engine decided it should), and
    /// remembers its Google id and ETag on the booking's local event.
    pub(crate) async fn write_booking_event(
        &self,
        connection: &CalendarConnection,
        entry: &BookingEntry,
    ) -> Result<(), SyncError> {
        let body = GoogleEvent {
            summary: Some(entry.title.clone()),
            description: entry.description.clone(),
            start: Some(EventDateTime::at(entry.start)),
            end: Some(EventDateTime::at(entry.end)),
            extended_properties: Some(ExtendedProperties {
                private: BTreeMap::from([(
                    BOOKING_PROPERTY.to_string(),
                    entry.booking.to_string(),
                )]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let event_id = g::event_id_for("booking", entry.booking.0);
        let written = self.put_remote(connection, &event_id, body).await?;
        let tenant = connection.tenant_id;
        if let Some(local) = self.store.booking_event(tenant, entry.booking).await? {
            self.store
                .set_event_provider_ref(
                    tenant,
                    local.id,
                    Some(connection.id),
                    Some(&written.id),
                    written.etag.as_deref(),
                )
                .await?;
        }
        Ok(())
    }

    /// The user's Google connection that internal events are written to (the first one). One
    /// that needs re-authorisation is an error, so the job waits for the user to connect
    /// again.
    async fn connection_of(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Option<CalendarConnection>, SyncError> {
        let connection = self
            .store
            .list_calendar_connections(tenant, Some(user))
            .await?
            .into_iter()
            .find(|c| c.kind == "google" && c.sync_enabled);
        match connection {
            Some(c) if c.status == ConnectionStatus::NeedsReauth => Err(SyncError::NeedsReauth),
            other => Ok(other),
        }
    }

    async fn desired_event(&self, tenant: TenantId, id: EventId) -> Result<Desired, SyncError> {
        let Some(event) = self.store.get_event(tenant, id).await? else {
            return Ok(Desired::Absent);
        };
        if event.status == pillow_store::EventStatus::Cancelled
            || event.source != pillow_store::EventSource::Internal
        {
            return Ok(Desired::Absent);
        }
        let (start, end) = if event.all_day {
            let date = |t: jiff::Timestamp| EventDateTime::on(crate::domain::time::utc_date(t));
            (date(event.start), date(event.end))
        } else {
            (EventDateTime::at(event.start), EventDateTime::at(event.end))
        };
        Ok(Desired::Present(Box::new(GoogleEvent {
            summary: Some(event.title.clone()),
            description: event.description.clone(),
            start: Some(start),
            end: Some(end),
            status: Some(match event.status {
                pillow_store::EventStatus::Tentative => g::EventStatus::Tentative,
                _ => g::EventStatus::Confirmed,
            }),
            transparency: Some(match event.transparency {
                pillow_store::Transparency::Transparent => g::Transparency::Transparent,
                pillow_store::Transparency::Opaque => g::Transparency::Opaque,
            }),
            extended_properties: Some(ExtendedProperties {
                private: BTreeMap::from([(EVENT_PROPERTY.to_string(), id.to_string())]),
                ..Default::default()
            }),
            ..Default::default()
        })))
    }

    /// Makes the event exist with `body`: insert with our id; if it exists (409), patch it
    /// with `If-Match`, re-reading it on 412.
    async fn put_remote(
        &self,
        connection: &CalendarConnection,
        event_id: &str,
        mut body: GoogleEvent,
    ) -> Result<GoogleEvent, SyncError> {
        body.id = event_id.to_string();
        let calendar = connection.calendar_id.as_str();
        let inserted = self
            .with_token(connection, |token| {
                let body = body.clone();
                async move {
                    self.calendar
                        .insert_event(token.expose_secret(), calendar, &body)
                        .await
                }
            })
            .await;
        match inserted {
            Ok(event) => return Ok(event),
            Err(SyncError::Google(GoogleError::Duplicate)) => {}
            Err(other) => return Err(other),
        }
        // It exists: bring it up to date unless it already is.
        let patch = serde_json::json!({
            "summary": body.summary,
            "description": body.description,
            "start": body.start,
            "end": body.end,
            "status": "confirmed",
        });
        for _ in 0..3 {
            let current = self
                .with_token(connection, |token| async move {
                    self.calendar
                        .get_event(token.expose_secret(), calendar, event_id)
                        .await
                })
                .await?;
            if current.start == body.start
                && current.end == body.end
                && current.summary == body.summary
                && !current.is_cancelled()
            {
                return Ok(current);
            }
            let etag = current.etag.clone();
            let patched = self
                .with_token(connection, |token| {
                    let (patch, etag) = (patch.clone(), etag.clone());
                    async move {
                        self.calendar
                            .patch_event(
                                token.expose_secret(),
                                calendar,
                                event_id,
                                etag.as_deref(),
                                &patch,
                            )
                            .await
                    }
                })
                .await;
            match patched {
                Ok(event) => return Ok(event),
                // Changed in Google between our read and our patch: read again.
                Err(SyncError::Google(GoogleError::PreconditionFailed)) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(SyncError::Google(GoogleError::PreconditionFailed))
    }

    pub(crate) async fn delete_remote(
        &self,
        connection: &CalendarConnection,
        event_id: &str,
    ) -> Result<(), SyncError> {
        let calendar = connection.calendar_id.as_str();
        let deleted = self
            .with_token(connection, |token| async move {
                self.calendar
                    .delete_event(token.expose_secret(), calendar, event_id)
                    .await
            })
            .await;
        match deleted {
            Ok(()) | Err(SyncError::Google(GoogleError::Gone | GoogleError::NotFound)) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

/// The outbox deliverer that writes bookings and internal events to members' Google
/// Calendars: bookings through the engine's shared write-back, for Google connections only.
/// Without Google configured there is nowhere to write, so its jobs are done at once (a
/// server restarted without Google does not pile them up).
pub struct GoogleWriteBack(pub Option<std::sync::Arc<GoogleSync>>);

#[async_trait::async_trait]
impl crate::outbox::Deliverer for GoogleWriteBack {
    fn name(&self) -> &'static str {
        "google"
    }

    fn kinds(&self) -> Vec<JobKind> {
        let mut kinds = JobKind::BOOKING_LIFECYCLE.to_vec();
        kinds.extend([
            JobKind::GoogleEventUpsert,
            JobKind::GoogleEventDelete,
            JobKind::GoogleBookingWrite,
        ]);
        kinds
    }

    async fn deliver(&self, job: &Job, what: &OutboxJob) -> Result<(), DeliveryError> {
        let Some(google) = &self.0 else {
            return Ok(());
        };
        match what {
            OutboxJob::Event(_, change) => google
                .write_event(job.tenant_id, change.event_id, change.user_id)
                .await
                .map_err(DeliveryError::retry),
            OutboxJob::Booking(..) => match google.engine() {
                Some(engine) => engine
                    .write_back_to(job.tenant_id, what, |p| p.kind() == google.kind())
                    .await
                    .map_err(DeliveryError::retry),
                None => Err(DeliveryError::retry("the sync engine is gone")),
            },
            // Jobs of other channels (e-mail, webhooks) and test jobs are not Google's.
            _ => Ok(()),
        }
    }
}
