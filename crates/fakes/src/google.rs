//! A fake of the Google Calendar API v3 and Google OAuth 2.0, served over real HTTP.
//!
//! It reproduces what our sync and write-back must survive: sync tokens only on
//! the last page, empty pages, 410 `fullSyncRequired` on demand, tombstones, recurring
//! instances, all-day events, ETags and 412, duplicate ids and 409, 410 on a second delete,
//! injected 403/429/5xx, `invalid_grant`, refreshes without a new refresh token, and push
//! channels whose notifications have an empty body. The control methods play the user in
//! Google's UI and let a test look at what the client did (including how many `events.list`
//! calls on one calendar overlapped, with a configurable delay to widen the window).
//!
//! # Example
//! ```no_run
//! # async fn demo() {
//! use pillow_fakes::google::FakeGoogle;
//! let google = FakeGoogle::start().await;
//! google.add_user("host@example.com");
//! let token = google.issue_access_token("host@example.com");
//! google.create_event("host@example.com", serde_json::json!({
//!     "summary": "Dentist",
//!     "start": {"dateTime": "2030-01-01T10:00:00Z"},
//!     "end": {"dateTime": "2030-01-01T11:00:00Z"},
//! }));
//! # let _ = token;
//! # }
//! ```

mod calendar;
mod oauth;
mod recurrence;
mod routes;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use calendar::{Calendar, ListQuery, random_id, rfc3339, valid_event_id};
pub use oauth::{ACCESS_TOKEN_SECONDS, CALENDAR_EVENTS_SCOPE, CALENDAR_SCOPE};
use routes::router;

/// Google's default page size for `events.list`.
const DEFAULT_PAGE_SIZE: usize = 250;
/// Google's largest `maxResults`.
const MAX_PAGE_SIZE: usize = 2500;
/// Default and longest lifetime of a push channel.
const DEFAULT_CHANNEL_TTL: i64 = 7 * 24 * 3600;
const MAX_CHANNEL_TTL: i64 = 30 * 24 * 3600;

/// The kinds of request the fake counts, so tests can assert what the client did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    List,
    Get,
    Insert,
    Patch,
    Delete,
    Watch,
    StopChannel,
    TokenExchange,
    TokenRefresh,
    Revoke,
}

/// A push channel as the fake sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub id: String,
    pub resource_id: String,
    pub calendar_id: String,
    pub address: String,
    pub token: Option<String>,
    pub expiration: Timestamp,
    /// The `X-Goog-Message-Number` of the last notification sent.
    pub message_number: u64,
}

/// One notification the fake tried to deliver, and what the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub channel_id: String,
    pub resource_state: String,
    pub message_number: u64,
    /// The receiver's status, or `None` when it could not be reached.
    pub status: Option<u16>,
}

struct Delivery {
    address: String,
    headers: Vec<(&'static str, String)>,
    record: DeliveryRecord,
}

struct Page {
    calendar_id: String,
    items: Arc<Vec<Value>>,
    offset: usize,
    size: usize,
    sync_token: String,
    /// With empty pages switched on: the next page served is an empty one.
    empty_next: bool,
}

pub(crate) struct FakeState {
    oauth: oauth::OAuthState,
    calendars: HashMap<String, Calendar>,
    down: bool,
    failures: VecDeque<(u16, String)>,
    retry_after: Option<u64>,
    page_size: Option<usize>,
    empty_pages: bool,
    pages: HashMap<String, Page>,
    channels: HashMap<String, ChannelInfo>,
    counts: HashMap<Call, usize>,
    deliveries: Vec<DeliveryRecord>,
    /// How long each `events.list` answer is held back.
    list_delay: std::time::Duration,
    /// `events.list` calls being answered now, and the most ever at once, per calendar.
    lists_in_flight: HashMap<String, usize>,
    max_lists_in_flight: HashMap<String, usize>,
}

struct Inner {
    state: Mutex<FakeState>,
    base: String,
    notify: mpsc::UnboundedSender<Delivery>,
    /// Time spent answering requests (handlers and their JSON), for benchmarks that leave the
    /// fake's own work out of their figures.
    busy_nanos: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
pub(crate) struct Shared(Arc<Inner>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, call: Call) {
        *self.lock().counts.entry(call).or_default() += 1;
    }

    /// Queues an `exists` notification on every live channel of the calendar.
    fn changed(&self, state: &mut FakeState, calendar_id: &str) {
        let now = Timestamp::now();
        let base = &self.0.base;
        for channel in state.channels.values_mut() {
            if channel.calendar_id == calendar_id && channel.expiration > now {
                channel.message_number += 1;
                let _ = self.0.notify.send(delivery(base, channel, "exists"));
            }
        }
    }
}

fn delivery(base: &str, channel: &ChannelInfo, resource_state: &str) -> Delivery {
    let mut headers = vec![
        ("X-Goog-Channel-ID", channel.id.clone()),
        (
            "X-Goog-Channel-Expiration",
            channel
                .expiration
                .strftime("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        ),
        ("X-Goog-Resource-ID", channel.resource_id.clone()),
        (
            "X-Goog-Resource-URI",
            format!(
                "{base}/calendar/v3/calendars/{}/events?alt=json",
                channel.calendar_id
            ),
        ),
        ("X-Goog-Resource-State", resource_state.to_owned()),
        ("X-Goog-Message-Number", channel.message_number.to_string()),
    ];
    if let Some(token) = &channel.token {
        headers.push(("X-Goog-Channel-Token", token.clone()));
    }
    Delivery {
        address: channel.address.clone(),
        headers,
        record: DeliveryRecord {
            channel_id: channel.id.clone(),
            resource_state: resource_state.to_owned(),
            message_number: channel.message_number,
            status: None,
        },
    }
}

/// The running fake. Dropping it stops the server.
pub struct FakeGoogle {
    addr: SocketAddr,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
    notifier: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.server.abort();
        self.notifier.abort();
    }
}

impl FakeGoogle {
    /// Starts the fake on `127.0.0.1` with a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("loopback address")).await
    }

    /// Starts the fake on a chosen address (for a local demo).
    ///
    /// # Panics
    /// If the address cannot be bound.
    pub async fn start_on(addr: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the fake Google");
        let addr = listener.local_addr().expect("local address");
        let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
        let shared = Shared(Arc::new(Inner {
            state: Mutex::new(FakeState {
                oauth: oauth::OAuthState::default(),
                calendars: HashMap::new(),
                down: false,
                failures: VecDeque::new(),
                retry_after: None,
                page_size: None,
                empty_pages: false,
                pages: HashMap::new(),
                channels: HashMap::new(),
                counts: HashMap::new(),
                deliveries: Vec::new(),
                list_delay: std::time::Duration::ZERO,
                lists_in_flight: HashMap::new(),
                max_lists_in_flight: HashMap::new(),
            }),
            base: format!("http://{addr}"),
            notify: tx,
            busy_nanos: std::sync::atomic::AtomicU64::new(0),
        }));
        // One task delivers notifications in order, as Google numbers them.
        let notifier = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while let Some(mut d) = rx.recv().await {
                    let mut request = http.post(&d.address);
                    for (name, value) in &d.headers {
                        request = request.header(*name, value);
                    }
                    d.record.status = request.send().await.ok().map(|r| r.status().as_u16());
                    shared.lock().deliveries.push(d.record);
                }
            })
        };
        let app = router(shared.clone());
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

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn authorize_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.base_url())
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.base_url())
    }

    /// The Calendar API root, like `https://www.googleapis.com/calendar/v3`.
    pub fn calendar_base(&self) -> String {
        format!("{}/calendar/v3", self.base_url())
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.shared.lock()
    }

    // OAuth control.

    /// Registers an OAuth client (as in Google Cloud Console).
    pub fn register_client(&self, client_id: &str, client_secret: &str, redirect_uri: &str) {
        self.lock().oauth.clients.insert(
            client_id.to_owned(),
            oauth::Client {
                secret: client_secret.to_owned(),
                redirect_uris: vec![redirect_uri.to_owned()],
            },
        );
    }

    /// Adds a Google account whose primary calendar (id = email) is in UTC.
    pub fn add_user(&self, email: &str) {
        self.add_user_in_zone(email, "UTC");
    }

    /// Adds a Google account whose primary calendar is in `time_zone` (IANA).
    pub fn add_user_in_zone(&self, email: &str, time_zone: &str) {
        self.lock()
            .calendars
            .entry(email.to_owned())
            .or_insert_with(|| Calendar::new(email.to_owned(), time_zone.to_owned()));
    }

    /// An access token for `email` with the calendar scope, without the consent dance.
    pub fn issue_access_token(&self, email: &str) -> String {
        self.lock().oauth.issue_access(
            email,
            vec![CALENDAR_EVENTS_SCOPE.to_owned(), "email".to_owned()],
            None,
        )
    }

    /// The user `email` clicks Allow on the consent page of `authorize_url` (the URL our
    /// client built). Returns the redirect back to the client (with `code` and `state`), or
    /// the consent page's error.
    ///
    /// # Errors
    /// The message Google's error page would show (unknown client, redirect mismatch, …).
    pub fn approve(&self, authorize_url: &str, email: &str) -> Result<String, String> {
        self.decide(authorize_url, Some(email), None, false)
    }

    /// Like [`FakeGoogle::approve`], but the user leaves only `scopes` ticked.
    ///
    /// # Errors
    /// As for [`FakeGoogle::approve`].
    pub fn approve_with_scopes(
        &self,
        authorize_url: &str,
        email: &str,
        scopes: &[&str],
    ) -> Result<String, String> {
        let granted = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.decide(authorize_url, Some(email), Some(granted), false)
    }

    /// The user clicks Cancel: the redirect carries `error=access_denied`.
    ///
    /// # Errors
    /// As for [`FakeGoogle::approve`].
    pub fn deny(&self, authorize_url: &str) -> Result<String, String> {
        self.decide(authorize_url, None, None, true)
    }

    fn decide(
        &self,
        authorize_url: &str,
        email: Option<&str>,
        granted: Option<Vec<String>>,
        deny: bool,
    ) -> Result<String, String> {
        let url = reqwest::Url::parse(authorize_url).map_err(|e| e.to_string())?;
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        match oauth::consent(&self.shared, &query, email, granted, deny) {
            oauth::Consent::Redirect(to) => Ok(to),
            oauth::Consent::Error(e) => Err(e),
            oauth::Consent::Page(_) => Err("no decision".into()),
        }
    }

    /// Refreshes answer with a new refresh token too (Google normally keeps the old one).
    pub fn rotate_refresh_tokens(&self, rotate: bool) {
        self.lock().oauth.rotate_refresh_tokens = rotate;
    }

    /// The user removes our access in their Google account: refreshes answer `invalid_grant`
    /// and access tokens stop working.
    pub fn revoke_user_grants(&self, email: &str) {
        let mut state = self.lock();
        let tokens: Vec<String> = state
            .oauth
            .grants
            .iter()
            .filter(|(_, g)| g.email == email)
            .map(|(t, _)| t.clone())
            .collect();
        for token in tokens {
            state.oauth.revoke(&token);
        }
        state.oauth.access.retain(|_, a| a.email != email);
    }

    /// Every access token issued so far expires now (401 from the Calendar API).
    pub fn expire_access_tokens(&self) {
        let past = Timestamp::now() - SignedDuration::from_secs(1);
        for token in self.lock().oauth.access.values_mut() {
            token.expires = past;
        }
    }

    // the user in Google's UI.

    /// Creates an event as the user would; Google fills in id (unless given), etag, times.
    ///
    /// # Panics
    /// If the calendar does not exist or `event` is not a JSON object.
    pub fn create_event(&self, calendar_id: &str, event: Value) -> Value {
        let Value::Object(event) = event else {
            panic!("an event is a JSON object")
        };
        let base = self.base_url();
        let mut state = self.lock();
        let created = state
            .calendars
            .get_mut(calendar_id)
            .expect("no such calendar")
            .insert(event, &base);
        self.shared.changed(&mut state, calendar_id);
        Value::Object(created)
    }

    /// Edits an event as the user would (PATCH semantics). `None` if there is no such event.
    pub fn update_event(&self, calendar_id: &str, event_id: &str, patch: Value) -> Option<Value> {
        let Value::Object(patch) = patch else {
            return None;
        };
        let mut state = self.lock();
        let updated = state
            .calendars
            .get_mut(calendar_id)?
            .patch(event_id, &patch)?;
        self.shared.changed(&mut state, calendar_id);
        Some(Value::Object(updated))
    }

    /// Deletes an event as the user would; it stays a tombstone for incremental sync.
    pub fn delete_event(&self, calendar_id: &str, event_id: &str) -> bool {
        let mut state = self.lock();
        let deleted = state
            .calendars
            .get_mut(calendar_id)
            .is_some_and(|c| c.delete(event_id));
        if deleted {
            self.shared.changed(&mut state, calendar_id);
        }
        deleted
    }

    /// "Delete only this event" on one instance of a recurring event; `instance_id` is
    /// `<base>_<YYYYMMDDTHHMMSSZ>` (or `<base>_<YYYYMMDD>` for all-day series).
    pub fn cancel_instance(&self, calendar_id: &str, base_id: &str, instance_id: &str) -> bool {
        let mut state = self.lock();
        let done = state
            .calendars
            .get_mut(calendar_id)
            .is_some_and(|c| c.cancel_instance(base_id, instance_id));
        if done {
            self.shared.changed(&mut state, calendar_id);
        }
        done
    }

    /// Moves an event to another calendar: a tombstone in the source, a new event (same id)
    /// in the destination.
    pub fn move_event(&self, from: &str, event_id: &str, to: &str) -> bool {
        let base = self.base_url();
        let mut state = self.lock();
        let Some(json) = state
            .calendars
            .get(from)
            .and_then(|c| c.events.get(event_id))
            .filter(|e| !e.deleted)
            .map(|e| e.json.clone())
        else {
            return false;
        };
        let Some(target) = state.calendars.get_mut(to) else {
            return false;
        };
        target.events.remove(event_id);
        target.insert(json, &base);
        if let Some(source) = state.calendars.get_mut(from) {
            source.delete(event_id);
        }
        self.shared.changed(&mut state, from);
        self.shared.changed(&mut state, to);
        true
    }

    /// One stored event (deleted ones have status `cancelled`).
    pub fn event(&self, calendar_id: &str, event_id: &str) -> Option<Value> {
        let state = self.lock();
        let stored = state.calendars.get(calendar_id)?.events.get(event_id)?;
        Some(Value::Object(stored.json.clone()))
    }

    /// Every stored event of the calendar, deleted ones included, by id.
    pub fn events(&self, calendar_id: &str) -> Vec<Value> {
        let state = self.lock();
        state
            .calendars
            .get(calendar_id)
            .map(|c| {
                c.events
                    .values()
                    .map(|s| Value::Object(s.json.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    // sync, paging and failures.

    /// Every sync token handed out so far answers 410 `fullSyncRequired`.
    pub fn expire_sync_tokens(&self) {
        for calendar in self.lock().calendars.values_mut() {
            calendar.generation += 1;
        }
    }

    /// Caps page size below what the client asks for (`None`: Google's 250 / `maxResults`).
    pub fn set_page_size(&self, size: Option<usize>) {
        self.lock().page_size = size;
    }

    /// Interleaves empty pages (no items, a `nextPageToken`) before every page with items.
    pub fn set_empty_pages(&self, on: bool) {
        self.lock().empty_pages = on;
    }

    /// The next `n` Calendar API calls fail with `status` and `reason` (e.g. 403
    /// `rateLimitExceeded`, 429 `rateLimitExceeded`, 500 `backendError`, 503 `backendError`).
    pub fn fail_next(&self, n: usize, status: u16, reason: &str) {
        let mut state = self.lock();
        for _ in 0..n {
            state.failures.push_back((status, reason.to_owned()));
        }
    }

    /// Injected failures carry `Retry-After: seconds`.
    pub fn set_retry_after(&self, seconds: Option<u64>) {
        self.lock().retry_after = seconds;
    }

    /// Google is down: every call (API and token endpoint) answers 503.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// How many requests of a kind arrived (failed ones included).
    pub fn calls(&self, call: Call) -> usize {
        self.lock().counts.get(&call).copied().unwrap_or(0)
    }

    pub fn reset_calls(&self) {
        self.lock().counts.clear();
    }

    /// The time the fake has spent answering requests so far (its handlers, including
    /// building and serialising their answers; not the network).
    pub fn busy_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(
            self.shared
                .0
                .busy_nanos
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Holds every `events.list` answer back this long (after authorisation, before the
    /// page is cut), so overlapping syncs of one calendar really overlap.
    pub fn set_list_delay(&self, delay: std::time::Duration) {
        self.lock().list_delay = delay;
    }

    /// The most `events.list` calls on this calendar (an email) ever answered at the same
    /// time: 1 when syncs of it never overlapped.
    pub fn max_concurrent_lists(&self, calendar_id: &str) -> usize {
        self.lock()
            .max_lists_in_flight
            .get(calendar_id)
            .copied()
            .unwrap_or(0)
    }

    /// Forgets the maximum of [`FakeGoogle::max_concurrent_lists`].
    pub fn reset_concurrent_lists(&self) {
        self.lock().max_lists_in_flight.clear();
    }

    // push channels.

    /// The open channels.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        self.lock().channels.values().cloned().collect()
    }

    /// Every channel expires now: no more notifications.
    pub fn expire_channels(&self) {
        let past = Timestamp::now() - SignedDuration::from_secs(1);
        for channel in self.lock().channels.values_mut() {
            channel.expiration = past;
        }
    }

    /// Notifications delivered so far, in order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.lock().deliveries.clone()
    }
}
