//! When syncs run (the engine's poller, reached through Google), catch-up after downtime, and
//! the write-back jobs of an internal event.

use super::*;
use crate::outbox::{EventChange, JobKind, OutboxJob};
use pillow_store::{EventId, UserId};

/// The sync engine's poller, reached through Google (the cron endpoint and callers that hold
/// Google): every kind's due connections are synced, each by its adapter.
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
        match self.sync.engine() {
            Some(engine) => crate::sync::Scheduler::new(engine).try_execute_task().await,
            None => Ok(Step::Empty),
        }
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
    crate::sync::connections::queue_catch_up(&state.sync, tenant, user).await?;
    let now = jiff::Timestamp::now();
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
    let event_job = |event_id: EventId| {
        let change = EventChange {
            event_id,
            user_id: user,
        };
        OutboxJob::event(JobKind::GoogleEventUpsert, change).to_new_job()
    };
    let jobs: Vec<NewJob> = events
        .iter()
        .filter(|e| e.source == pillow_store::EventSource::Internal)
        .map(|e| event_job(e.id))
        .collect();
    if jobs.is_empty() {
        return Ok(());
    }
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
