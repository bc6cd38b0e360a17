//! The live-call bus across processes: `NOTIFY` on one channel carries each message to every
//! server process on the database; a process whose streams received it answers on a second
//! channel, so the sender learns whether a browser was listening anywhere.
//!
//! Each process holds one listening connection and a pool of two for sending, opened on first
//! use (an idle server opens none). Notifications are not stored: a process that is not
//! listening at the moment misses them, which for "open the calendar now" is right.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::{OnceCell, broadcast, mpsc};
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use super::{BusError, CallBus, CallEvent, CallKey, LocalHub};

/// Messages for calls' browsers.
const CHANNEL: &str = "pillow_call_bus";
/// "My streams received message `id`", from each process that had a listener.
const ACK_CHANNEL: &str = "pillow_call_bus_ack";
/// How long a sender waits to hear that some process delivered its message. A listening
/// browser's process answers within milliseconds; this only bounds the wait when none listens.
const ACK_WAIT: Duration = Duration::from_millis(750);

#[derive(Serialize, Deserialize)]
struct Envelope {
    id: Uuid,
    call: CallKey,
    event: CallEvent,
}

#[derive(Serialize, Deserialize)]
struct Ack {
    id: Uuid,
    delivered: usize,
}

type Waiters = Arc<Mutex<HashMap<Uuid, mpsc::UnboundedSender<usize>>>>;

/// The bus over PostgreSQL `LISTEN`/`NOTIFY`.
pub struct PostgresBus {
    url: String,
    hub: Arc<LocalHub>,
    waiters: Waiters,
    pool: OnceCell<PgPool>,
    stop: CancellationToken,
    _stop_on_drop: DropGuard,
}

impl PostgresBus {
    pub fn new(url: &str) -> Self {
        let stop = CancellationToken::new();
        Self {
            url: url.to_string(),
            hub: Arc::default(),
            waiters: Arc::default(),
            pool: OnceCell::new(),
            _stop_on_drop: stop.clone().drop_guard(),
            stop,
        }
    }

    /// The sending pool, after the listening connection is up (so a stream subscribed after
    /// this cannot miss a message sent after it).
    async fn link(&self) -> Result<&PgPool, BusError> {
        self.pool
            .get_or_try_init(|| async {
                let mut listener = PgListener::connect(&self.url).await.map_err(failed)?;
                listener
                    .listen_all([CHANNEL, ACK_CHANNEL])
                    .await
                    .map_err(failed)?;
                let pool = PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&self.url)
                    .await
                    .map_err(failed)?;
                tokio::spawn(listen(
                    listener,
                    pool.clone(),
                    self.hub.clone(),
                    self.waiters.clone(),
                    self.stop.clone(),
                ));
                Ok(pool)
            })
            .await
    }
}

fn failed(error: sqlx::Error) -> BusError {
    BusError(error.to_string())
}

async fn notify(pool: &PgPool, channel: &str, payload: &str) -> Result<(), BusError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(pool)
        .await
        .map_err(failed)?;
    Ok(())
}

/// Delivers each message to this process's streams and acknowledges it; hands acks to the
/// senders waiting for them. Ends when the bus is dropped.
async fn listen(
    mut listener: PgListener,
    pool: PgPool,
    hub: Arc<LocalHub>,
    waiters: Waiters,
    stop: CancellationToken,
) {
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => break,
            received = listener.recv() => received,
        };
        let notification = match received {
            Ok(notification) => notification,
            Err(error) => {
                // `recv` reconnects by itself on the next call; do not spin meanwhile.
                tracing::warn!(%error, "live-call bus: listening connection failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        match notification.channel() {
            CHANNEL => {
                let Ok(envelope) = serde_json::from_str::<Envelope>(notification.payload()) else {
                    continue;
                };
                let delivered = hub.deliver(&envelope.call, envelope.event);
                if delivered > 0 {
                    let ack = serde_json::to_string(&Ack {
                        id: envelope.id,
                        delivered,
                    })
                    .unwrap_or_default();
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        if let Err(error) = notify(&pool, ACK_CHANNEL, &ack).await {
                            tracing::warn!(%error, "live-call bus: acknowledging failed");
                        }
                    });
                }
            }
            ACK_CHANNEL => {
                let Ok(ack) = serde_json::from_str::<Ack>(notification.payload()) else {
                    continue;
                };
                if let Some(waiter) = waiters.lock().expect("waiters lock").get(&ack.id) {
                    let _ = waiter.send(ack.delivered);
                }
            }
            _ => {}
        }
    }
    pool.close().await;
}

#[async_trait]
impl CallBus for PostgresBus {
    async fn publish(&self, call: &CallKey, event: CallEvent) -> Result<usize, BusError> {
        let pool = self.link().await?;
        let id = Uuid::new_v4();
        let payload = serde_json::to_string(&Envelope {
            id,
            call: call.clone(),
            event,
        })
        .map_err(|e| BusError(e.to_string()))?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.waiters.lock().expect("waiters lock").insert(id, tx);
        let sent = notify(pool, CHANNEL, &payload).await;
        // The first process to answer had a listener: that answers the question.
        let delivered = match sent {
            Ok(()) => tokio::time::timeout(ACK_WAIT, rx.recv())
                .await
                .ok()
                .flatten()
                .unwrap_or(0),
            Err(_) => 0,
        };
        self.waiters.lock().expect("waiters lock").remove(&id);
        sent.map(|()| delivered)
    }

    async fn subscribe(&self, call: &CallKey) -> Result<broadcast::Receiver<CallEvent>, BusError> {
        self.link().await?;
        Ok(self.hub.subscribe(call))
    }
}
