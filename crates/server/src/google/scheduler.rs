//! When syncs run: the due-connection poller, catch-up after downtime, and the write-back jobs of
//! an event.

use super::*;
use crate::outbox::{BookingChange, EventChange, JobKind, OutboxJob};
use pillow_store::{BookingId, EventId, UserId};

/// The internal sync scheduler: polls due connections and renews push channels.
#[derive(Clone)]
pub struct Scheduler {
    sync: Arc<GoogleSync>,
}
impl Scheduler {
    pub fn new(sync: Arc<GoogleSync>) -> Self {
        Self { sync }
    }

    /// Syncs a batch of due connections.
    ///
    /// # Errors
    /// Only database failures; a failing sync is recorded on its connection.
    pub async fn try_execute_task(&self) -> Result<Step, StoreError> {
        match self.sync.sync_due().await? {
            0 => Ok(Step::Empty),
            n => Ok(Step::Done(n)),
        }
    }

    /// Runs until the process ends, checking for due connections every few seconds.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.try_execute_task().await {
                    Ok(Step::Done(_)) => continue,
                    Ok(Step::Empty) => tokio::time::sleep(Duration::from_secs(5)).await,
                    Err(error) => {
                        tracing::warn!(%error, "sync scheduler could not reach the database");
                        tokio::time::sleep(Duration::from_secs(15)).await;
                    }
                }
            }
        })
    }
}
/// Queues the write-back jobs that bring a member's Google Calendar up to date with what is
/// here from now on: every upcoming booking (written, or removed if it was cancelled) and
/// internal event. Called when a calendar is connected, and when its sync resumes, since
/// changes made meanwhile were not written. Writes are idempotent (our deterministic event
/// ids), so what Google already has is not duplicated.
///
/// # Errors
/// Database failures.
pub async fn queue_catch_up(
    state: &crate::AppState,
    tenant: TenantId,
    user: UserId,
) -> Result<(), StoreError> {
    let now = jiff::Timestamp::now();
    let bookings = state
        .store
        .list_bookings(
            tenant,
            &pillow_store::BookingFilter {
                user_id: Some(user),
                from: Some(now),
                limit: Some(10_000),
                ..Default::default()
            },
        )
        .await?;
    let events = state
        .store
        .list_events(
            tenant,
            &pillow_store::EventFilter {
                user_ids: vec![user],
                from: Some(now),
                to: None,
                include_cancelled: false,
            },
        )
        .await?;
    let booking_job = |booking_id: BookingId| {
        let change = BookingChange {
            booking_id,
            user_id: user,
            origin: None,
            send_email: false,
            send_sms: false,
        };
        OutboxJob::booking(JobKind::GoogleBookingWrite, change).to_new_job()
    };
    let event_job = |event_id: EventId| {
        let change = EventChange {
            event_id,
            user_id: user,
        };
        OutboxJob::event(JobKind::GoogleEventUpsert, change).to_new_job()
    };
    let jobs: Vec<NewJob> = bookings
        .iter()
        .map(|b| booking_job(b.id))
        .chain(
            events
                .iter()
                .filter(|e| e.source == pillow_store::EventSource::Internal)
                .map(|e| event_job(e.id)),
        )
        .collect();
    state.store.enqueue_jobs(tenant, &jobs).await
}
/// The write-back job of an internal event change (`delete` when the event goes), or none
/// when Google is not configured or the member has no Google connection. The caller hands it
/// to the store with the change itself, so the change and its write-back commit together.
pub async fn event_write_jobs(
    state: &crate::AppState,
    tenant: TenantId,
    user: UserId,
    event: EventId,
    delete: bool,
) -> Result<Vec<NewJob>, StoreError> {
    if state.google.is_none() {
        return Ok(Vec::new());
    }
    let connected = state
        .store
        .list_calendar_connections(tenant, Some(user))
        .await?
        .iter()
        .any(|c| c.kind == "google");
    if !connected {
        return Ok(Vec::new());
    }
    let kind = if delete {
        JobKind::GoogleEventDelete
    } else {
        JobKind::GoogleEventUpsert
    };
    let change = EventChange {
        event_id: event,
        user_id: user,
    };
    Ok(vec![OutboxJob::event(kind, change).to_new_job()])
}

impl GoogleSync {
    /// Leases and syncs up to a batch of due connections (of any tenant).
    pub(crate) async fn sync_due(&self) -> Result<usize, StoreError> {
        let now = Timestamp::now();
        let owner = self.run_owner();
        let due = self
            .store
            .lease_due_calendar_connections(&owner, now, LEASE, now + CHANNEL_RENEW_BEFORE, 8)
            .await?;
        let count = due.len();
        for connection in due {
            if connection.kind != "google" {
                if let Some(engine) = self.others.get()
                    && let Err(crate::sync::EngineError::Store(error)) = engine
                        .run_leased(connection, crate::sync::Trigger::Poll, &owner)
                        .await
                {
                    return Err(error);
                }
                continue;
            }
            // The outcome is recorded on the connection; a store failure ends the step.
            if let Err(SyncError::Store(error)) =
                self.run_leased(connection, Trigger::Poll, &owner).await
            {
                return Err(error);
            }
        }
        Ok(count)
    }
}
