//! Polling: providers without push (CalDAV) are synced when due, one small step at a time.
//! When Google is configured its poller runs instead and hands these connections over.

use std::sync::Arc;
use std::time::Duration;

use pillow_store::StoreError;

use super::SyncEngine;
use crate::outbox::Step;

/// The engine's poller.
#[derive(Clone)]
pub struct Scheduler {
    engine: Arc<SyncEngine>,
}

impl Scheduler {
    pub fn new(engine: Arc<SyncEngine>) -> Self {
        Self { engine }
    }

    /// Syncs a batch of due connections.
    ///
    /// # Errors
    /// Only database failures; a failing sync is recorded on its connection.
    pub async fn try_execute_task(&self) -> Result<Step, StoreError> {
        match self.engine.sync_due().await? {
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
