//! A fake of the Cal.com API v2 (slots and bookings).
//!
//! Built from Cal.com's public API v2 reference and its open-source controllers: the same paths,
//! `cal-api-version` headers, envelopes (`{"status":"success","data":…}` and
//! `{"status":"error","timestamp","path","error":{"code","message"}}`) and status codes. It is
//! stateful: users with API keys and weekly hours in their zone, event types, and bookings that
//! take their time out of the offered slots until they are cancelled or moved.
//!
//! What it reproduces, because our client depends on it:
//! - each endpoint answers only its own `cal-api-version`; any other value (or none) reaches
//!   Cal.com's older controller: `GET /v2/slots` is then a 404, a booking `POST` a 400, and
//!   `GET /v2/event-types` answers the older `eventTypeGroups` shape;
//! - `GET /v2/slots` ignores credentials, `/v2/me` and `/v2/event-types` need them, the booking
//!   endpoints take them optionally (a wrong key is still a 401);
//! - a taken slot is 409 `no_available_users_found_error` (or, like older versions, a 400 whose
//!   message carries that code: [`FakeCalcom::answer_conflicts_like_older_versions`]);
//! - a start inside the minimum booking notice is 400 `booking_time_out_of_bounds_error`;
//! - rescheduling creates a new booking and cancels the old one;
//! - injected failures ([`FakeCalcom::fail_next`]) for rate limits and outages.
//!
//! Every request is recorded ([`FakeCalcom::requests`]) so tests can check headers and calls.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

mod bookings;
mod slots;

use bookings::*;
use slots::*;

const SLOTS_VERSION: &str = "2024-09-04";
const BOOKINGS_VERSION: &str = "2024-08-13";
const EVENT_TYPES_VERSION: &str = "2024-06-14";
const CONFLICT_MESSAGE: &str = "User either already has booking at this time or is not available";

/// Weekly working hours on some weekdays, in the user's zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyHours {
    pub weekdays: Vec<Weekday>,
    pub start: Time,
    pub end: Time,
}

impl WeeklyHours {
    pub fn new(weekdays: &[Weekday], start: Time, end: Time) -> Self {
        Self {
            weekdays: weekdays.to_vec(),
            start,
            end,
        }
    }
}

/// A Cal.com user to seed.
#[derive(Debug, Clone)]
pub struct NewFakeUser {
    pub username: String,
    pub name: String,
    pub email: String,
    pub api_key: String,
    pub time_zone: String,
    pub hours: Vec<WeeklyHours>,
}

impl NewFakeUser {
    /// A user working Monday to Friday, 09:00–17:00 in `time_zone` (Cal.com's default schedule).
    pub fn new(username: &str, api_key: &str, time_zone: &str) -> Self {
        use Weekday::*;
        Self {
            username: username.to_string(),
            name: format!("{username} (fake)"),
            email: format!("{username}@example.com"),
            api_key: api_key.to_string(),
            time_zone: time_zone.to_string(),
            hours: vec![WeeklyHours::new(
                &[Monday, Tuesday, Wednesday, Thursday, Friday],
                Time::constant(9, 0, 0, 0),
                Time::constant(17, 0, 0, 0),
            )],
        }
    }

    /// Replaces the weekly hours.
    pub fn hours(mut self, hours: Vec<WeeklyHours>) -> Self {
        self.hours = hours;
        self
    }
}

/// A Cal.com event type to seed.
#[derive(Debug, Clone)]
pub struct NewFakeEventType {
    pub slug: String,
    pub title: String,
    pub length_minutes: u32,
    /// Other lengths a booker may pick (Cal.com's "multiple durations").
    pub other_lengths: Vec<u32>,
    /// Cal.com's default is 120 minutes.
    pub minimum_booking_notice_minutes: u32,
    /// Step between slot starts; the length when absent.
    pub slot_interval_minutes: Option<u32>,
}

impl NewFakeEventType {
    pub fn new(slug: &str, length_minutes: u32) -> Self {
        Self {
            slug: slug.to_string(),
            title: slug.replace('-', " "),
            length_minutes,
            other_lengths: Vec::new(),
            minimum_booking_notice_minutes: 120,
            slot_interval_minutes: None,
        }
    }

    pub fn minimum_booking_notice(mut self, minutes: u32) -> Self {
        self.minimum_booking_notice_minutes = minutes;
        self
    }

    pub fn other_lengths(mut self, lengths: &[u32]) -> Self {
        self.other_lengths = lengths.to_vec();
        self
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub api_version: Option<String>,
    pub authorization: Option<String>,
    pub body: Option<Value>,
    /// The status the fake answered with.
    pub status: u16,
}

impl RecordedRequest {
    /// The value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A booking as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeBooking {
    pub id: i64,
    pub uid: String,
    pub event_type_id: i64,
    pub host_id: i64,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `accepted` or `cancelled`.
    pub status: String,
    pub attendee: Value,
    pub booking_fields_responses: Value,
    pub metadata: Value,
    pub cancellation_reason: Option<String>,
    pub rescheduling_reason: Option<String>,
    pub rescheduled_from_uid: Option<String>,
    pub rescheduled_to_uid: Option<String>,
}

#[derive(Debug, Clone)]
struct User {
    id: i64,
    spec: NewFakeUser,
    tz: TimeZone,
}

#[derive(Debug, Clone)]
struct EventType {
    id: i64,
    owner_id: i64,
    spec: NewFakeEventType,
}

#[derive(Default)]
struct Inner {
    now: Option<Timestamp>,
    users: Vec<User>,
    event_types: Vec<EventType>,
    bookings: Vec<FakeBooking>,
    next_id: i64,
    failures: VecDeque<u16>,
    lost_answers: VecDeque<u16>,
    retry_after_seconds: u64,
    legacy_conflicts: bool,
    log: Vec<RecordedRequest>,
}

impl Inner {
    fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }

    fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn user_by_key(&self, key: &str) -> Option<&User> {
        self.users.iter().find(|user| user.spec.api_key == key)
    }

    fn user(&self, id: i64) -> Option<&User> {
        self.users.iter().find(|user| user.id == id)
    }
}

type Shared = Arc<Mutex<Inner>>;

/// The fake Cal.com, serving on `127.0.0.1` until dropped.
pub struct FakeCalcom {
    base_url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCalcom {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeCalcom {
    /// Starts the fake on a free loopback port.
    ///
    /// # Panics
    /// If no loopback port can be bound (the tests could not run anyway).
    pub async fn start() -> FakeCalcom {
        let state: Shared = Arc::default();
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind a loopback port for the Cal.com fake");
        let address = listener.local_addr().expect("a bound address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeCalcom {
            base_url: format!("http://{address}"),
            state,
            server,
        }
    }

    /// Where to point a client, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a user; returns its id.
    ///
    /// # Panics
    /// On an unknown time zone: a test set-up mistake.
    pub fn add_user(&self, user: NewFakeUser) -> i64 {
        let tz = TimeZone::get(&user.time_zone).expect("a known IANA time zone");
        let mut inner = self.lock();
        let id = inner.next_id();
        inner.users.push(User { id, spec: user, tz });
        id
    }

    /// Adds an event type owned by `owner`; returns its id.
    pub fn add_event_type(&self, owner: i64, event_type: NewFakeEventType) -> i64 {
        let mut inner = self.lock();
        let id = inner.next_id();
        inner.event_types.push(EventType {
            id,
            owner_id: owner,
            spec: event_type,
        });
        id
    }

    /// Fixes the fake's clock (slots before now plus the notice are not offered).
    pub fn set_now(&self, now: Timestamp) {
        self.lock().now = Some(now);
    }

    /// Answers the next `n` requests, whatever they are, with `status` (429 carries
    /// `Retry-After`, see [`FakeCalcom::set_retry_after`]).
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut inner = self.lock();
        inner.failures.extend(std::iter::repeat_n(status, n));
    }

    /// Carries out the next request but answers it with `status`, as when Cal.com did the work
    /// and the answer was lost on the way back (a timeout, a proxy's 502).
    pub fn lose_next_answer(&self, status: u16) {
        self.lock().lost_answers.push_back(status);
    }

    /// The `Retry-After` seconds sent with injected 429s (0 by default).
    pub fn set_retry_after(&self, seconds: u64) {
        self.lock().retry_after_seconds = seconds;
    }

    /// Answers a taken slot as older Cal.com versions did: 400 with the code in the message.
    pub fn answer_conflicts_like_older_versions(&self, yes: bool) {
        self.lock().legacy_conflicts = yes;
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().log.clone()
    }

    /// How many requests had this method and path.
    pub fn request_count(&self, method: &str, path: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|request| request.method == method && request.path == path)
            .count()
    }

    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    pub fn bookings(&self) -> Vec<FakeBooking> {
        self.lock().bookings.clone()
    }

    pub fn booking(&self, uid: &str) -> Option<FakeBooking> {
        self.lock()
            .bookings
            .iter()
            .find(|booking| booking.uid == uid)
            .cloned()
    }
}

/// A Cal.com answer before it is recorded.
struct Answer {
    status: StatusCode,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn ok(status: StatusCode, data: Value) -> Self {
        Self {
            status,
            body: json!({ "status": "success", "data": data }),
            headers: Vec::new(),
        }
    }

    /// Cal.com's `HttpExceptionFilter` / `ErrorWithCodeExceptionFilter` shape.
    fn error(status: StatusCode, code: &str, message: &str, path: &str) -> Self {
        Self {
            status,
            body: json!({
                "status": "error",
                "timestamp": Timestamp::now().to_string(),
                "path": path,
                "error": { "code": code, "message": message },
            }),
            headers: Vec::new(),
        }
    }

    fn bad_request(message: &str, path: &str) -> Self {
        Self::error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            message,
            path,
        )
    }

    fn not_found(message: &str, path: &str) -> Self {
        Self::error(StatusCode::NOT_FOUND, "NotFoundException", message, path)
    }

    fn unauthorized(message: &str, path: &str) -> Self {
        Self::error(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedException",
            message,
            path,
        )
    }
}

/// Who the `Authorization` header says the caller is.
enum Caller {
    Anonymous,
    User(i64),
    BadKey,
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: Vec<(String, String)> = Query::try_from_uri(&uri)
        .map(|Query(query)| query)
        .unwrap_or_default();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let api_version = header("cal-api-version");
    let authorization = header("authorization");
    let json_body = if body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null))
    };
    let path = uri.path().to_string();
    let full_path = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| path.clone());

    let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
    let answer = match inner.failures.pop_front() {
        Some(status) => injected_failure(status, inner.retry_after_seconds, &full_path),
        None => {
            let caller = match authorization
                .as_deref()
                .and_then(|value| value.strip_prefix("Bearer "))
            {
                None if authorization.is_none() => Caller::Anonymous,
                None => Caller::BadKey,
                Some(key) => inner
                    .user_by_key(key.trim())
                    .map_or(Caller::BadKey, |user| Caller::User(user.id)),
            };
            let request = Request {
                method: &method,
                path: &path,
                full_path: &full_path,
                query: &query,
                version: api_version.as_deref(),
                caller,
                body: json_body.as_ref(),
            };
            let answer = route(&mut inner, &request);
            match inner.lost_answers.pop_front() {
                Some(status) => injected_failure(status, inner.retry_after_seconds, &full_path),
                None => answer,
            }
        }
    };
    inner.log.push(RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query,
        api_version,
        authorization,
        body: json_body,
        status: answer.status.as_u16(),
    });
    drop(inner);

    let mut response = (answer.status, axum::Json(answer.body)).into_response();
    for (name, value) in answer.headers {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn injected_failure(status: u16, retry_after: u64, path: &str) -> Answer {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::TOO_MANY_REQUESTS {
        let mut answer = Answer::error(status, "ThrottlerException", "Too Many Requests", path);
        let reset = Timestamp::now().as_second() + retry_after as i64;
        answer.headers = vec![
            ("retry-after", retry_after.to_string()),
            ("x-ratelimit-limit-default", "120".to_string()),
            ("x-ratelimit-remaining-default", "0".to_string()),
            ("x-ratelimit-reset-default", reset.to_string()),
        ];
        answer
    } else if status.is_server_error() {
        Answer::error(
            status,
            "InternalServerErrorException",
            "Internal server error",
            path,
        )
    } else {
        Answer::error(status, "HttpException", "Injected failure", path)
    }
}

struct Request<'a> {
    method: &'a Method,
    path: &'a str,
    full_path: &'a str,
    query: &'a [(String, String)],
    version: Option<&'a str>,
    caller: Caller,
    body: Option<&'a Value>,
}

impl Request<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn route(inner: &mut Inner, request: &Request<'_>) -> Answer {
    let segments: Vec<&str> = request
        .path
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let method = request.method.clone();
    let path = request.full_path;
    match (method, segments.as_slice()) {
        (Method::GET, ["v2", "me"]) => me(inner, request),
        (Method::GET, ["v2", "event-types"]) => event_types(inner, request),
        (Method::GET, ["v2", "slots"]) => slots(inner, request),
        (Method::POST, ["v2", "bookings"]) => create_booking(inner, request),
        (Method::GET, ["v2", "bookings"]) => list_bookings(inner, request),
        (Method::GET, ["v2", "bookings", uid]) => get_booking(inner, request, uid),
        (Method::POST, ["v2", "bookings", uid, "cancel"]) => cancel_booking(inner, request, uid),
        (Method::POST, ["v2", "bookings", uid, "reschedule"]) => {
            reschedule_booking(inner, request, uid)
        }
        (method, _) => Answer::not_found(&format!("Cannot {method} {path}"), path),
    }
}

/// The authenticated user, or the 401 Cal.com's `ApiAuthGuard` answers.
fn require_user(request: &Request<'_>) -> Result<i64, Answer> {
    match request.caller {
        Caller::User(id) => Ok(id),
        Caller::BadKey => Err(Answer::unauthorized(
            "ApiAuthStrategy - api key - Invalid API Key",
            request.full_path,
        )),
        Caller::Anonymous => Err(Answer::unauthorized(
            "ApiAuthStrategy - no authorization header provided",
            request.full_path,
        )),
    }
}

/// `OptionalApiAuthGuard`: no credentials is fine, wrong ones are not.
fn optional_user(request: &Request<'_>) -> Result<Option<i64>, Answer> {
    match request.caller {
        Caller::Anonymous => Ok(None),
        _ => require_user(request).map(Some),
    }
}

fn me(inner: &Inner, request: &Request<'_>) -> Answer {
    let id = match require_user(request) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let user = inner.user(id).expect("an authenticated user exists");
    Answer::ok(
        StatusCode::OK,
        json!({
            "id": user.id,
            "username": user.spec.username,
            "email": user.spec.email,
            "name": user.spec.name,
            "timeZone": user.spec.time_zone,
            "weekStart": "Monday",
            "timeFormat": 12,
            "defaultScheduleId": null,
            "organizationId": null,
        }),
    )
}

fn event_type_json(inner: &Inner, event_type: &EventType) -> Value {
    let owner = inner.user(event_type.owner_id);
    json!({
        "id": event_type.id,
        "slug": event_type.spec.slug,
        "title": event_type.spec.title,
        "description": "",
        "lengthInMinutes": event_type.spec.length_minutes,
        "lengthInMinutesOptions": event_type.spec.other_lengths,
        "minimumBookingNotice": event_type.spec.minimum_booking_notice_minutes,
        "slotInterval": event_type.spec.slot_interval_minutes,
        "beforeEventBuffer": 0,
        "afterEventBuffer": 0,
        "hidden": false,
        "ownerId": event_type.owner_id,
        "users": owner.map(|user| vec![json!({
            "id": user.id,
            "name": user.spec.name,
            "username": user.spec.username,
        })]).unwrap_or_default(),
        "bookingFields": [],
    })
}

fn event_types(inner: &Inner, request: &Request<'_>) -> Answer {
    let id = match require_user(request) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let owned: Vec<Value> = inner
        .event_types
        .iter()
        .filter(|event_type| event_type.owner_id == id)
        .map(|event_type| event_type_json(inner, event_type))
        .collect();
    if request.version != Some(EVENT_TYPES_VERSION) {
        // The older controller groups event types and names fields differently.
        return Answer::ok(
            StatusCode::OK,
            json!({ "eventTypeGroups": [{ "eventTypes": owned.iter().map(|event_type| json!({
                "id": event_type["id"],
                "slug": event_type["slug"],
                "title": event_type["title"],
                "length": event_type["lengthInMinutes"],
            })).collect::<Vec<_>>() }] }),
        );
    }
    if owned.is_empty() {
        // Cal.com answers an empty list this way.
        return Answer::not_found("Event types not found", request.full_path);
    }
    Answer::ok(StatusCode::OK, Value::Array(owned))
}

#[cfg(test)]
mod tests;
