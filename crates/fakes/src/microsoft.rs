//! A fake of Microsoft Graph calendars and the Microsoft identity platform's OAuth 2.0 v2
//! endpoints, served over real HTTP, built from Microsoft's public documentation.
//!
//! It reproduces what our sync and write-back must survive: `calendarView/delta` rounds whose
//! pages are followed by `@odata.nextLink` (optionally with empty pages between) to an
//! `@odata.deltaLink`, `@removed` entries for events deleted or moved out of the window, 410
//! `syncStateNotFound` for delta tokens it has forgotten, `transactionId` so a retried create
//! answers the event already made, single-value extended properties (returned only when
//! `$expand`ed), weak ETags with 412 on `If-Match` mismatches, injected 429/503 with
//! `Retry-After`, authorization codes with PKCE, rotating refresh tokens and `invalid_grant`
//! once revoked, and `/subscriptions` that validate the notification URL (POST with
//! `?validationToken=`, answer echoed as `text/plain` within 10 s) and then POST change and
//! lifecycle notifications carrying the `clientState`.
//!
//! Events are stored as single instances in UTC (the fake does not expand series).
//!
//! # Example
//! ```no_run
//! # async fn demo() {
//! use pillow_fakes::microsoft::FakeMicrosoft;
//! let ms = FakeMicrosoft::start().await;
//! ms.add_user("host@contoso.com");
//! let token = ms.issue_access_token("host@contoso.com");
//! ms.create_event("host@contoso.com", serde_json::json!({
//!     "subject": "Dentist",
//!     "start": {"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"},
//!     "end": {"dateTime": "2030-01-01T11:00:00", "timeZone": "UTC"},
//! }));
//! # let _ = token;
//! # }
//! ```

mod events;
mod oauth;
mod routes;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub use oauth::ACCESS_TOKEN_SECONDS;

/// Graph's documented longest subscription lifetime for Outlook events: 10,080 minutes.
pub const MAX_SUBSCRIPTION_MINUTES: i64 = 10_080;

/// The kinds of request the fake counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    Authorize,
    Token,
    Delta,
    CreateEvent,
    GetEvent,
    UpdateEvent,
    DeleteEvent,
    CreateSubscription,
    RenewSubscription,
    DeleteSubscription,
}

/// A subscription as the fake sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub id: String,
    pub user: String,
    pub resource: String,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    pub client_state: Option<String>,
    pub expiration: Timestamp,
}

/// One notification POST the fake made, and what the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub subscription_id: String,
    pub url: String,
    pub body: Value,
    /// The receiver's status, or `None` when it could not be reached.
    pub status: Option<u16>,
}

pub(crate) struct StoredEvent {
    /// The event as Graph answers it, without extended properties.
    pub json: Value,
    pub extended: Vec<(String, String)>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The mailbox change number of its last change.
    pub changed: u64,
    pub deleted: bool,
}

#[derive(Default)]
pub(crate) struct Mailbox {
    pub events: BTreeMap<String, StoredEvent>,
    pub seq: u64,
}

/// A delta round's remaining pages, behind a `$skiptoken`.
pub(crate) struct Pending {
    pub user: String,
    pub items: Vec<Value>,
    pub offset: usize,
    pub window: (Timestamp, Timestamp),
    pub seq: u64,
    pub seen: HashSet<String>,
    pub empty_next: bool,
}

/// What a `$deltatoken` stands for.
#[derive(Clone)]
pub(crate) struct DeltaState {
    pub user: String,
    pub window: (Timestamp, Timestamp),
    pub seq: u64,
    /// The event ids in the view when the token was made.
    pub seen: HashSet<String>,
}

pub(crate) struct FakeState {
    pub oauth: oauth::OAuthState,
    pub mailboxes: HashMap<String, Mailbox>,
    /// Injected failures: status and `Retry-After` seconds.
    pub failures: VecDeque<(u16, Option<u64>)>,
    pub page_size: usize,
    pub empty_pages: bool,
    pub pending: HashMap<String, Pending>,
    pub delta_tokens: HashMap<String, DeltaState>,
    pub subscriptions: HashMap<String, SubscriptionInfo>,
    pub counts: HashMap<Call, usize>,
    pub deliveries: Vec<DeliveryRecord>,
    /// Request instants, for tests of waiting.
    pub request_times: Vec<(Call, std::time::Instant)>,
    /// How long each delta request takes, so overlapping syncs would show.
    pub delta_delay: std::time::Duration,
    /// Delta requests being answered per user, and the most there ever were at once.
    pub deltas_in_flight: HashMap<String, usize>,
    pub max_deltas_in_flight: HashMap<String, usize>,
}

pub(crate) struct Delivery {
    pub subscription_id: String,
    pub url: String,
    pub body: Value,
}

pub(crate) struct Inner {
    state: Mutex<FakeState>,
    pub base: String,
    notify: mpsc::UnboundedSender<Delivery>,
    /// The time spent in handlers, in nanoseconds (see [`FakeMicrosoft::busy_time`]).
    busy_nanos: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
pub(crate) struct Shared(Arc<Inner>);

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a change notification for every live subscription on the user's events.
    pub(crate) fn changed(&self, state: &FakeState, user: &str, id: &str, change: &str) {
        let now = Timestamp::now();
        for s in state.subscriptions.values() {
            if s.user == user && s.expiration > now {
                let resource = format!("Users/{user}/Events/{id}");
                let body = json!({"value": [{
                    "subscriptionId": s.id,
                    "subscriptionExpirationDateTime": s.expiration.to_string(),
                    "changeType": change,
                    "resource": resource,
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.Event",
                        "@odata.id": resource,
                        "id": id,
                    },
                    "clientState": s.client_state,
                    "tenantId": oauth::TENANT_ID,
                }]});
                let _ = self.0.notify.send(Delivery {
                    subscription_id: s.id.clone(),
                    url: s.notification_url.clone(),
                    body,
                });
            }
        }
    }
}

/// The running fake. Dropping it stops the server.
pub struct FakeMicrosoft {
    addr: SocketAddr,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
    notifier: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMicrosoft {
    fn drop(&mut self) {
        self.server.abort();
        self.notifier.abort();
    }
}

impl FakeMicrosoft {
    /// Starts the fake on `127.0.0.1` with a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Microsoft");
        let addr = listener.local_addr().expect("local address");
        let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
        let shared = Shared(Arc::new(Inner {
            state: Mutex::new(FakeState {
                oauth: oauth::OAuthState::default(),
                mailboxes: HashMap::new(),
                failures: VecDeque::new(),
                page_size: 10,
                empty_pages: false,
                pending: HashMap::new(),
                delta_tokens: HashMap::new(),
                subscriptions: HashMap::new(),
                counts: HashMap::new(),
                deliveries: Vec::new(),
                request_times: Vec::new(),
                delta_delay: std::time::Duration::ZERO,
                deltas_in_flight: HashMap::new(),
                max_deltas_in_flight: HashMap::new(),
            }),
            base: format!("http://{addr}"),
            notify: tx,
            busy_nanos: std::sync::atomic::AtomicU64::new(0),
        }));
        // One task posts notifications in order.
        let notifier = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while let Some(d) = rx.recv().await {
                    let status = http
                        .post(&d.url)
                        .json(&d.body)
                        .timeout(std::time::Duration::from_secs(10))
                        .send()
                        .await
                        .ok()
                        .map(|r| r.status().as_u16());
                    shared.lock().deliveries.push(DeliveryRecord {
                        subscription_id: d.subscription_id,
                        url: d.url,
                        body: d.body,
                        status,
                    });
                }
            })
        };
        let app = routes::router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            shared,
            server,
            notifier,
        }
    }

    /// `http://127.0.0.1:PORT`: the identity platform's root (`login.microsoftonline.com`).
    pub fn login_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Graph root, like `https://graph.microsoft.com/v1.0`.
    pub fn graph_base(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.shared.lock()
    }

    // Accounts and OAuth.

    /// Registers an app (as in the Azure portal's app registrations).
    pub fn register_client(&self, client_id: &str, client_secret: &str, redirect_uri: &str) {
        self.lock().oauth.clients.insert(
            client_id.to_owned(),
            oauth::Client {
                secret: client_secret.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
            },
        );
    }

    /// Adds a Microsoft account with an empty primary calendar.
    pub fn add_user(&self, user: &str) {
        self.lock().mailboxes.entry(user.to_owned()).or_default();
    }

    /// An access token for `user`, as if they had connected already.
    pub fn issue_access_token(&self, user: &str) -> String {
        self.lock().oauth.issue_access(user)
    }

    /// The user removes the app's access (or an admin revokes their sessions): every refresh
    /// token answers `invalid_grant` from now on.
    pub fn revoke_grants(&self, user: &str) {
        for grant in self.lock().oauth.grants.values_mut() {
            if grant.user == user {
                grant.revoked = true;
            }
        }
    }

    /// Makes every access token of `user` expired.
    pub fn expire_access_tokens(&self, user: &str) {
        for access in self.lock().oauth.access.values_mut() {
            if access.user == user {
                access.expires = Timestamp::UNIX_EPOCH;
            }
        }
    }

    // The user in Outlook.

    /// Creates an event as the user would in Outlook; answers its id.
    ///
    /// # Panics
    /// If the event has no readable `start`/`end`.
    pub fn create_event(&self, user: &str, event: Value) -> String {
        let mut state = self.lock();
        let created = events::insert(&mut state, user, event).expect("a valid event");
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        self.shared.changed(&state, user, &id, "created");
        id
    }

    /// Changes an event as the user would (a JSON merge of `patch`).
    ///
    /// # Panics
    /// If there is no such event.
    pub fn update_event(&self, user: &str, id: &str, patch: Value) {
        let mut state = self.lock();
        events::update(&mut state, user, id, &patch).expect("an existing event");
        self.shared.changed(&state, user, id, "updated");
    }

    /// Deletes an event as the user would.
    pub fn delete_event(&self, user: &str, id: &str) {
        let mut state = self.lock();
        if events::delete(&mut state, user, id) {
            self.shared.changed(&state, user, id, "deleted");
        }
    }

    /// The user's events that are not deleted, as Graph would answer them.
    pub fn events(&self, user: &str) -> Vec<Value> {
        self.lock()
            .mailboxes
            .get(user)
            .map(|m| {
                m.events
                    .values()
                    .filter(|e| !e.deleted)
                    .map(|e| e.json.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    // Failures and paging.

    /// The next request to Graph answers `status` (429 or 503 are the throttling ones), with
    /// `Retry-After: retry_after` seconds when given.
    pub fn fail_next(&self, status: u16, retry_after: Option<u64>) {
        self.lock().failures.push_back((status, retry_after));
    }

    /// At most `size` events per delta page (Graph's own default is larger).
    pub fn set_page_size(&self, size: usize) {
        self.lock().page_size = size.max(1);
    }

    /// Puts an empty page (with a `nextLink`) before every later page of a round.
    pub fn set_empty_pages(&self, on: bool) {
        self.lock().empty_pages = on;
    }

    /// Makes every delta request take `delay` (answered after it), so two syncs of one
    /// mailbox running together would overlap here.
    pub fn set_delta_delay(&self, delay: std::time::Duration) {
        self.lock().delta_delay = delay;
    }

    /// The most delta requests for `user`'s mailbox ever answered at the same time.
    pub fn max_concurrent_deltas(&self, user: &str) -> usize {
        self.lock()
            .max_deltas_in_flight
            .get(user)
            .copied()
            .unwrap_or(0)
    }

    /// Forgets the maximum of [`FakeMicrosoft::max_concurrent_deltas`].
    pub fn reset_concurrent_deltas(&self) {
        self.lock().max_deltas_in_flight.clear();
    }

    /// Forgets every delta token handed out, as Graph does when its token cache overflows.
    pub fn expire_delta_tokens(&self) {
        self.lock().delta_tokens.clear();
    }

    // Subscriptions.

    pub fn subscriptions(&self) -> Vec<SubscriptionInfo> {
        self.lock().subscriptions.values().cloned().collect()
    }

    /// Every notification POST made so far.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.lock().deliveries.clone()
    }

    /// Sends a lifecycle notification (`reauthorizationRequired`, `subscriptionRemoved`,
    /// `missed`) to the subscription's lifecycle URL (or its notification URL).
    pub fn send_lifecycle(&self, subscription_id: &str, event: &str) {
        let state = self.lock();
        let Some(s) = state.subscriptions.get(subscription_id) else {
            return;
        };
        let body = json!({"value": [{
            "subscriptionId": s.id,
            "subscriptionExpirationDateTime": s.expiration.to_string(),
            "lifecycleEvent": event,
            "clientState": s.client_state,
            "tenantId": oauth::TENANT_ID,
        }]});
        let url = s
            .lifecycle_notification_url
            .clone()
            .unwrap_or_else(|| s.notification_url.clone());
        let _ = self.shared.0.notify.send(Delivery {
            subscription_id: s.id.clone(),
            url,
            body,
        });
    }

    /// Sends a change notification for the subscription with a `clientState` of the caller's
    /// choosing: what a forger who learnt the webhook URL could send.
    pub fn send_forged(&self, subscription_id: &str, client_state: &str) {
        let state = self.lock();
        let Some(s) = state.subscriptions.get(subscription_id) else {
            return;
        };
        let body = json!({"value": [{
            "subscriptionId": s.id,
            "changeType": "updated",
            "resource": format!("Users/{}/Events/forged", s.user),
            "resourceData": {"id": "forged"},
            "clientState": client_state,
            "tenantId": oauth::TENANT_ID,
        }]});
        let _ = self.shared.0.notify.send(Delivery {
            subscription_id: s.id.clone(),
            url: s.notification_url.clone(),
            body,
        });
    }

    // Looking at what the client did.

    pub fn count(&self, call: Call) -> usize {
        self.lock().counts.get(&call).copied().unwrap_or(0)
    }

    /// The time the fake has spent answering requests so far (its handlers, including
    /// building and serialising their answers and any delay set with
    /// [`FakeMicrosoft::set_delta_delay`]; not the network), so a benchmark can take it out.
    pub fn busy_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(
            self.shared
                .0
                .busy_nanos
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// When each request of `call` arrived.
    pub fn request_times(&self, call: Call) -> Vec<std::time::Instant> {
        self.lock()
            .request_times
            .iter()
            .filter(|(c, _)| *c == call)
            .map(|(_, t)| *t)
            .collect()
    }
}
