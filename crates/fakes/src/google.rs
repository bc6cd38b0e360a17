//! A fake of the Google Calendar API v3 and Google OAuth 2.0, served over real HTTP.
//!
//! It reproduces what our sync and write-back must survive (DESIGN.md §7): sync tokens only on
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

    // ---- OAuth control ----

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

    // ---- the user in Google's UI ----

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

    // ---- sync, paging and failures ----

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

    // ---- push channels ----

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

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/o/oauth2/v2/auth", get(oauth::authorize))
        .route("/token", post(oauth::token))
        .route("/revoke", post(oauth::revoke))
        .route(
            "/calendar/v3/calendars/{calendar_id}/events",
            get(list_events).post(insert_event),
        )
        .route(
            "/calendar/v3/calendars/{calendar_id}/events/watch",
            post(watch),
        )
        .route(
            "/calendar/v3/calendars/{calendar_id}/events/{event_id}",
            get(get_event).patch(patch_event).delete(delete_event),
        )
        .route("/calendar/v3/channels/stop", post(stop_channel))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), timed))
        .with_state(shared)
}

/// Adds each request's handling time to [`FakeGoogle::busy_time`].
async fn timed(
    State(shared): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    shared
        .0
        .busy_nanos
        .fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
    response
}

/// Google's error body: `{"error":{"errors":[{domain,reason,message}],"code","message"}}`.
fn api_error(status: u16, reason: &str, message: &str) -> Response {
    let domain = match reason {
        "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded" => "usageLimits",
        _ => "global",
    };
    let body = json!({"error": {
        "errors": [{"domain": domain, "reason": reason, "message": message}],
        "code": status,
        "message": message,
    }});
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

fn default_message(reason: &str) -> &'static str {
    match reason {
        "rateLimitExceeded" => "Rate Limit Exceeded",
        "userRateLimitExceeded" => "User Rate Limit Exceeded",
        "backendError" => "Backend Error",
        _ => "Injected failure",
    }
}

/// Counting, outage, injected failures, Bearer auth, scope and calendar access: what every
/// Calendar API call goes through first. Returns the locked state and the real calendar id.
fn begin<'a>(
    shared: &'a Shared,
    call: Call,
    headers: &HeaderMap,
    calendar_id: Option<&str>,
) -> Result<(MutexGuard<'a, FakeState>, String), Box<Response>> {
    let mut state = shared.lock();
    *state.counts.entry(call).or_default() += 1;
    if state.down {
        return Err(Box::new(api_error(503, "backendError", "Backend Error")));
    }
    if let Some((status, reason)) = state.failures.pop_front() {
        let mut response = api_error(status, &reason, default_message(&reason));
        if let Some(seconds) = state.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        return Err(Box::new(response));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(access) = state
        .oauth
        .access
        .get(token)
        .filter(|a| a.expires > Timestamp::now())
        .cloned()
    else {
        let body = json!({"error": {
            "errors": [{"domain": "global", "reason": "authError", "message": "Invalid Credentials",
                        "locationType": "header", "location": "Authorization"}],
            "code": 401, "message": "Invalid Credentials",
        }});
        return Err(Box::new(
            (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response(),
        ));
    };
    if !access
        .scopes
        .iter()
        .any(|s| s == CALENDAR_EVENTS_SCOPE || s == CALENDAR_SCOPE)
    {
        return Err(Box::new(api_error(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )));
    }
    let calendar_id = match calendar_id {
        Some("primary") => access.email.clone(),
        Some(id) => id.to_owned(),
        None => access.email.clone(),
    };
    // A user sees only their own calendar; Google answers 404 for the rest.
    if calendar_id != access.email || !state.calendars.contains_key(&calendar_id) {
        return Err(Box::new(api_error(404, "notFound", "Not Found")));
    }
    Ok((state, calendar_id))
}

fn json_ok(value: Value) -> Response {
    axum::Json(value).into_response()
}

/// One `events.list` call being answered; counted in and out of the calendar's in-flight
/// number, whatever way the handler returns.
struct ListInFlight {
    shared: Shared,
    calendar_id: String,
}

impl ListInFlight {
    fn enter(shared: &Shared, calendar_id: &str) -> Self {
        let mut state = shared.lock();
        let now = state
            .lists_in_flight
            .entry(calendar_id.to_owned())
            .or_default();
        *now += 1;
        let now = *now;
        let max = state
            .max_lists_in_flight
            .entry(calendar_id.to_owned())
            .or_default();
        *max = (*max).max(now);
        Self {
            shared: shared.clone(),
            calendar_id: calendar_id.to_owned(),
        }
    }
}

impl Drop for ListInFlight {
    fn drop(&mut self) {
        if let Some(n) = self
            .shared
            .lock()
            .lists_in_flight
            .get_mut(&self.calendar_id)
        {
            *n = n.saturating_sub(1);
        }
    }
}

async fn list_events(
    State(shared): State<Shared>,
    Path(calendar_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (calendar_id, delay) = match begin(&shared, Call::List, &headers, Some(&calendar_id)) {
        Ok((state, calendar_id)) => (calendar_id, state.list_delay),
        Err(response) => return *response,
    };
    // Declared before the state's guard, so it is dropped (and locks) after the guard goes.
    let _in_flight = ListInFlight::enter(&shared, &calendar_id);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut state = shared.lock();
    let state = &mut *state;
    if let Some(page_token) = q.get("pageToken") {
        return match state.pages.remove(page_token) {
            Some(page) if page.calendar_id == calendar_id => serve_page(state, &calendar_id, page),
            _ => api_error(400, "invalid", "Invalid page token value."),
        };
    }
    let calendar = &state.calendars[&calendar_id];
    let parse_time = |key: &str| -> Result<Option<Timestamp>, Box<Response>> {
        q.get(key)
            .map(|t| {
                t.parse::<Timestamp>()
                    .map_err(|_| Box::new(api_error(400, "invalid", &format!("Bad {key} value."))))
            })
            .transpose()
    };
    let (time_min, time_max) = match (parse_time("timeMin"), parse_time("timeMax")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return *e,
    };
    let since = match q.get("syncToken") {
        Some(token) => {
            if time_min.is_some() || time_max.is_some() || q.contains_key("updatedMin") {
                return api_error(
                    400,
                    "invalid",
                    "Sync token cannot be used with timeMin, timeMax or updatedMin.",
                );
            }
            match calendar.parse_sync_token(token) {
                Ok(seq) => Some(seq),
                Err(_) => {
                    return api_error(
                        410,
                        "fullSyncRequired",
                        "Sync token is no longer valid, a full sync is required.",
                    );
                }
            }
        }
        None => None,
    };
    let query = ListQuery {
        since,
        time_min,
        time_max,
        single_events: q.get("singleEvents").is_some_and(|v| v == "true"),
        // Incremental results always include deletions.
        show_deleted: since.is_some() || q.get("showDeleted").is_some_and(|v| v == "true"),
    };
    let items = match calendar.list(&query) {
        Ok(items) => items,
        Err(message) => return api_error(400, "invalid", &message),
    };
    let asked = q
        .get("maxResults")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let page = Page {
        calendar_id: calendar_id.clone(),
        items: Arc::new(items),
        offset: 0,
        size: state.page_size.map_or(asked, |cap| asked.min(cap.max(1))),
        sync_token: calendar.sync_token(),
        empty_next: state.empty_pages,
    };
    serve_page(state, &calendar_id, page)
}

/// One page of a list snapshot; the sync token only on the last one.
fn serve_page(state: &mut FakeState, calendar_id: &str, mut page: Page) -> Response {
    let calendar = &state.calendars[calendar_id];
    let mut body = json!({
        "kind": "calendar#events",
        "etag": format!("\"p{}\"", calendar.seq),
        "summary": calendar.id,
        "updated": rfc3339(Timestamp::now()),
        "timeZone": calendar.time_zone,
        "accessRole": "owner",
        "defaultReminders": [],
    });
    let remaining = page.items.len() - page.offset;
    let items: Vec<Value> = if page.empty_next && remaining > 0 {
        page.empty_next = false;
        Vec::new()
    } else {
        let end = (page.offset + page.size).min(page.items.len());
        let chunk = page.items[page.offset..end].to_vec();
        page.offset = end;
        page.empty_next = state.empty_pages;
        chunk
    };
    body["items"] = Value::Array(items);
    if page.offset < page.items.len() {
        let token = random_id(32);
        body["nextPageToken"] = json!(token);
        state.pages.insert(token, page);
    } else {
        body["nextSyncToken"] = json!(page.sync_token);
    }
    json_ok(body)
}

async fn get_event(
    State(shared): State<Shared>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (state, calendar_id) = match begin(&shared, Call::Get, &headers, Some(&calendar_id)) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    match state.calendars[&calendar_id].events.get(&event_id) {
        Some(stored) => json_ok(Value::Object(stored.json.clone())),
        None => api_error(404, "notFound", "Not Found"),
    }
}

async fn insert_event(
    State(shared): State<Shared>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (mut state, calendar_id) = match begin(&shared, Call::Insert, &headers, Some(&calendar_id))
    {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(&body) else {
        return api_error(400, "parseError", "Parse Error");
    };
    if let Some(id) = event.get("id") {
        let Some(id) = id.as_str().filter(|id| valid_event_id(id)) else {
            return api_error(400, "invalid", "Invalid resource id value.");
        };
        if state.calendars[&calendar_id].events.contains_key(id) {
            return api_error(409, "duplicate", "The requested identifier already exists.");
        }
    }
    for key in ["start", "end"] {
        if !event.get(key).is_some_and(Value::is_object) {
            return api_error(400, "required", &format!("Missing {key} time."));
        }
    }
    let base = shared.0.base.clone();
    let created = state
        .calendars
        .get_mut(&calendar_id)
        .map(|c| c.insert(event, &base))
        .unwrap_or_default();
    shared.changed(&mut state, &calendar_id);
    json_ok(Value::Object(created))
}

fn if_match_fails(headers: &HeaderMap, etag: Option<&Value>) -> bool {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|wanted| Some(wanted) != etag.and_then(Value::as_str))
}

async fn patch_event(
    State(shared): State<Shared>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (mut state, calendar_id) = match begin(&shared, Call::Patch, &headers, Some(&calendar_id)) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(&body) else {
        return api_error(400, "parseError", "Parse Error");
    };
    let calendar = state.calendars.get_mut(&calendar_id).expect("checked");
    let Some(stored) = calendar.events.get(&event_id) else {
        return api_error(404, "notFound", "Not Found");
    };
    if if_match_fails(&headers, stored.json.get("etag")) {
        return api_error(412, "conditionNotMet", "Precondition Failed");
    }
    let updated = calendar.patch(&event_id, &patch).unwrap_or_default();
    shared.changed(&mut state, &calendar_id);
    json_ok(Value::Object(updated))
}

async fn delete_event(
    State(shared): State<Shared>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (mut state, calendar_id) = match begin(&shared, Call::Delete, &headers, Some(&calendar_id))
    {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let calendar = state.calendars.get_mut(&calendar_id).expect("checked");
    match calendar.events.get(&event_id) {
        None => return api_error(404, "notFound", "Not Found"),
        Some(stored) if stored.deleted => {
            return api_error(410, "deleted", "Resource has been deleted");
        }
        Some(stored) if if_match_fails(&headers, stored.json.get("etag")) => {
            return api_error(412, "conditionNotMet", "Precondition Failed");
        }
        Some(_) => {}
    }
    calendar.delete(&event_id);
    shared.changed(&mut state, &calendar_id);
    StatusCode::NO_CONTENT.into_response()
}

async fn watch(
    State(shared): State<Shared>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (mut state, calendar_id) = match begin(&shared, Call::Watch, &headers, Some(&calendar_id)) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return api_error(400, "parseError", "Parse Error");
    };
    let text = |key: &str| request.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(id), Some(address)) = (text("id"), text("address")) else {
        return api_error(400, "required", "Required");
    };
    if !matches!(text("type").as_deref(), Some("web_hook" | "webhook")) {
        return api_error(400, "invalid", "Invalid value for: type");
    }
    if state.channels.contains_key(&id) {
        return api_error(400, "channelIdNotUnique", "Channel id not unique");
    }
    let ttl = request
        .get("params")
        .and_then(|p| p.get("ttl"))
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(DEFAULT_CHANNEL_TTL)
        .clamp(1, MAX_CHANNEL_TTL);
    let calendar = &state.calendars[&calendar_id];
    let channel = ChannelInfo {
        id: id.clone(),
        resource_id: calendar.resource_id.clone(),
        calendar_id: calendar_id.clone(),
        address,
        token: text("token"),
        expiration: Timestamp::now() + SignedDuration::from_secs(ttl),
        message_number: 1,
    };
    let _ = shared
        .0
        .notify
        .send(delivery(&shared.0.base, &channel, "sync"));
    let mut body = json!({
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": format!("{}/calendar/v3/calendars/{}/events?alt=json", shared.0.base, calendar_id),
        "expiration": channel.expiration.as_millisecond().to_string(),
    });
    if let Some(token) = &channel.token {
        body["token"] = json!(token);
    }
    state.channels.insert(id, channel);
    json_ok(body)
}

async fn stop_channel(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (mut state, email) = match begin(&shared, Call::StopChannel, &headers, None) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let Ok(request) = serde_json::from_slice::<Map<String, Value>>(&body) else {
        return api_error(400, "parseError", "Parse Error");
    };
    let id = request
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let resource = request
        .get("resourceId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let found = state
        .channels
        .get(id)
        .is_some_and(|c| c.resource_id == resource && c.calendar_id == email);
    if !found {
        return api_error(
            404,
            "notFound",
            &format!("Channel '{id}' not found for project"),
        );
    }
    state.channels.remove(id);
    StatusCode::NO_CONTENT.into_response()
}
