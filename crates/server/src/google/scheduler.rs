//! When syncs run: the due-connection poller, catch-up after downtime, and the write-back jobs of
//! an event.

use super::*;

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
    user: Uuid,
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
    let job = |kind: &str, key: &str, id: Uuid| NewJob {
        kind: kind.to_string(),
        payload: serde_json::json!({key: id.to_string(), "user_id": user.to_string()}),
    };
    let jobs: Vec<NewJob> = bookings
        .iter()
        .map(|b| job(BOOKING_WRITE_JOB, "booking_id", b.id))
        .chain(
            events
                .iter()
                .filter(|e| e.source == pillow_store::EventSource::Internal)
                .map(|e| job(EVENT_UPSERT_JOB, "event_id", e.id)),
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
    user: Uuid,
    event: Uuid,
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
        EVENT_DELETE_JOB
    } else {
        EVENT_UPSERT_JOB
    };
    Ok(vec![NewJob {
        kind: kind.to_string(),
        payload: serde_json::json!({
            "event_id": event.to_string(),
            "user_id": user.to_string(),
        }),
    }])
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
