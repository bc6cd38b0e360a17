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

/// An ISO 8601 instant, or a bare date (its start, or its end for `end`) in `tz`.
fn parse_instant(text: &str, tz: &TimeZone, end_of_day: bool) -> Option<Timestamp> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Some(instant);
    }
    let date: Date = text.parse().ok()?;
    let time = if end_of_day {
        Time::constant(23, 59, 59, 0)
    } else {
        Time::midnight()
    };
    date.to_datetime(time)
        .to_zoned(tz.clone())
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// Writes an instant as Cal.com (luxon) does: milliseconds, and `Z` in UTC or the zone's offset.
fn luxon_iso(instant: Timestamp, tz: &TimeZone, utc: bool) -> String {
    if utc {
        instant.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
    } else {
        instant
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S.000%:z")
            .to_string()
    }
}

fn utc_iso(instant: Timestamp) -> String {
    instant.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

/// Whether the host has an accepted booking overlapping `[start, end)`, other than `except`.
fn host_busy(
    inner: &Inner,
    host: i64,
    start: Timestamp,
    end: Timestamp,
    except: Option<&str>,
) -> bool {
    inner.bookings.iter().any(|booking| {
        booking.host_id == host
            && booking.status == "accepted"
            && Some(booking.uid.as_str()) != except
            && booking.start < end
            && start < booking.end
    })
}

/// The host's working ranges that touch `[from, to]`, as instants.
fn working_ranges(user: &User, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    let first = from.to_zoned(user.tz.clone()).date().yesterday().ok();
    let last = to.to_zoned(user.tz.clone()).date().tomorrow().ok();
    let (Some(mut date), Some(last)) = (first, last) else {
        return Vec::new();
    };
    let mut ranges = Vec::new();
    while date <= last {
        for hours in &user.spec.hours {
            if !hours.weekdays.contains(&date.weekday()) {
                continue;
            }
            let start = date.to_datetime(hours.start).to_zoned(user.tz.clone());
            let end = date.to_datetime(hours.end).to_zoned(user.tz.clone());
            if let (Ok(start), Ok(end)) = (start, end) {
                ranges.push((start.timestamp(), end.timestamp()));
            }
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    ranges.sort();
    ranges
}

/// Whether `[start, end)` fits in one working range and the host is free then.
fn bookable(
    inner: &Inner,
    host: &User,
    start: Timestamp,
    end: Timestamp,
    except: Option<&str>,
) -> bool {
    working_ranges(host, start, end)
        .iter()
        .any(|(from, to)| *from <= start && end <= *to)
        && !host_busy(inner, host.id, start, end, except)
}

fn earliest_bookable(inner: &Inner, event_type: &EventType) -> Timestamp {
    inner.now()
        + SignedDuration::from_mins(i64::from(event_type.spec.minimum_booking_notice_minutes))
}

const SLOTS_PARAMETERS: &[&str] = &[
    "start",
    "end",
    "timeZone",
    "duration",
    "format",
    "slotFormat",
    "eventTypeId",
    "eventTypeSlug",
    "username",
    "organizationSlug",
    "teamSlug",
    "usernames",
    "bookingUidToReschedule",
];

fn slots(inner: &Inner, request: &Request<'_>) -> Answer {
    let path = request.full_path;
    if request.version != Some(SLOTS_VERSION) {
        // The 2024-04-15 controller has only `/v2/slots/available`.
        return Answer::not_found(&format!("Cannot GET {path}"), path);
    }
    if let Some((name, _)) = request
        .query
        .iter()
        .find(|(name, _)| !SLOTS_PARAMETERS.contains(&name.as_str()))
    {
        return Answer::bad_request(&format!("property {name} should not exist"), path);
    }
    let event_type = if let Some(id) = request.param("eventTypeId") {
        let Ok(id) = id.parse::<i64>() else {
            return Answer::bad_request(
                "eventTypeId property is wrong,eventTypeId must be a number conforming to the specified constraints",
                path,
            );
        };
        inner
            .event_types
            .iter()
            .find(|event_type| event_type.id == id)
    } else if let (Some(slug), Some(username)) =
        (request.param("eventTypeSlug"), request.param("username"))
    {
        inner.event_types.iter().find(|event_type| {
            event_type.spec.slug == slug
                && inner
                    .user(event_type.owner_id)
                    .is_some_and(|owner| owner.spec.username == username)
        })
    } else {
        return Answer::bad_request(
            "usernames property is wrong,The array must contain at least 2 elements.",
            path,
        );
    };
    let Some(event_type) = event_type else {
        return Answer::not_found("Event Type not found", path);
    };
    let Some(host) = inner.user(event_type.owner_id) else {
        return Answer::not_found("Event Type not found", path);
    };

    let zone_name = request.param("timeZone");
    let (tz, utc) = match zone_name {
        None => (TimeZone::UTC, true),
        Some(name) => match TimeZone::get(name) {
            Ok(tz) => (tz, false),
            Err(_) => {
                return Answer::bad_request(
                    "timeZone property is wrong,timeZone must be a valid IANA time zone",
                    path,
                );
            }
        },
    };
    let (Some(start), Some(end)) = (
        request
            .param("start")
            .and_then(|s| parse_instant(s, &tz, false)),
        request
            .param("end")
            .and_then(|s| parse_instant(s, &tz, true)),
    ) else {
        return Answer::bad_request(
            "start property is wrong,start must be a valid ISO 8601 date string",
            path,
        );
    };
    // Cal.com clamps `end` to a year from now.
    let end = end.min(inner.now() + SignedDuration::from_hours(366 * 24));
    let length = match request.param("duration") {
        None => event_type.spec.length_minutes,
        Some(duration) => match duration.parse::<u32>() {
            Ok(minutes)
                if minutes == event_type.spec.length_minutes
                    || event_type.spec.other_lengths.contains(&minutes) =>
            {
                minutes
            }
            _ => {
                return Answer::bad_request(
                    "duration property is wrong,duration must be one of the event type's lengths",
                    path,
                );
            }
        },
    };
    let range = matches!(
        request
            .param("format")
            .or(request.param("slotFormat"))
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("range")
    );
    let step = SignedDuration::from_mins(i64::from(
        event_type.spec.slot_interval_minutes.unwrap_or(length),
    ));
    let length = SignedDuration::from_mins(i64::from(length));
    let earliest = earliest_bookable(inner, event_type);

    let mut days: Map<String, Value> = Map::new();
    for (from, to) in working_ranges(host, start, end) {
        let mut slot = from;
        while slot + length <= to {
            if slot >= start
                && slot <= end
                && slot >= earliest
                && !host_busy(inner, host.id, slot, slot + length, None)
            {
                let day = slot.to_zoned(tz.clone()).date().to_string();
                let mut entry = json!({ "start": luxon_iso(slot, &tz, utc) });
                if range {
                    entry["end"] = luxon_iso(slot + length, &tz, utc).into();
                }
                days.entry(day)
                    .or_insert_with(|| Value::Array(Vec::new()))
                    .as_array_mut()
                    .expect("days hold arrays")
                    .push(entry);
            }
            slot += step;
        }
    }
    Answer::ok(StatusCode::OK, Value::Object(days))
}

fn booking_json(inner: &Inner, booking: &FakeBooking) -> Value {
    let event_type = inner
        .event_types
        .iter()
        .find(|event_type| event_type.id == booking.event_type_id);
    let host = inner.user(booking.host_id);
    let attendee_name = booking.attendee["name"].as_str().unwrap_or_default();
    let title = match (event_type, host) {
        (Some(event_type), Some(host)) => format!(
            "{} between {} and {attendee_name}",
            event_type.spec.title, host.spec.name
        ),
        _ => String::new(),
    };
    let mut attendee = booking.attendee.clone();
    attendee["absent"] = false.into();
    attendee["language"] = attendee
        .get("language")
        .cloned()
        .unwrap_or_else(|| "en".into());
    let mut out = json!({
        "id": booking.id,
        "uid": booking.uid,
        "title": title,
        "description": "",
        "hosts": host.map(|host| vec![json!({
            "id": host.id,
            "name": host.spec.name,
            "email": host.spec.email,
            "username": host.spec.username,
            "timeZone": host.spec.time_zone,
        })]).unwrap_or_default(),
        "status": booking.status,
        "start": utc_iso(booking.start),
        "end": utc_iso(booking.end),
        "duration": booking.end.duration_since(booking.start).as_mins(),
        "eventTypeId": booking.event_type_id,
        "eventType": {
            "id": booking.event_type_id,
            "slug": event_type.map(|event_type| event_type.spec.slug.clone()).unwrap_or_default(),
        },
        "meetingUrl": format!("https://app.cal.com/video/{}", booking.uid),
        "location": format!("https://app.cal.com/video/{}", booking.uid),
        "absentHost": false,
        "attendees": [attendee],
        "guests": [],
        "bookingFieldsResponses": booking.booking_fields_responses,
        "metadata": booking.metadata,
    });
    let optional = [
        ("cancellationReason", &booking.cancellation_reason),
        ("reschedulingReason", &booking.rescheduling_reason),
        ("rescheduledFromUid", &booking.rescheduled_from_uid),
        ("rescheduledToUid", &booking.rescheduled_to_uid),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            out[name] = value.clone().into();
        }
    }
    if booking.rescheduled_to_uid.is_some() {
        out["rescheduled"] = true.into();
    }
    out
}

/// A short random uid, like Cal.com's (alphanumeric, 22 characters).
fn new_uid() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = uuid::Uuid::new_v4().as_u128();
    (0..22)
        .map(|_| {
            let c = ALPHABET[(n % 62) as usize] as char;
            n /= 62;
            c
        })
        .collect()
}

const BOOKING_FIELDS: &[&str] = &[
    "start",
    "lengthInMinutes",
    "eventTypeId",
    "eventTypeSlug",
    "username",
    "teamSlug",
    "organizationSlug",
    "attendee",
    "guests",
    "meetingUrl",
    "location",
    "metadata",
    "bookingFieldsResponses",
    "instant",
    "recurrenceCount",
];

/// Checks the attendee object the way Cal.com's validators do.
fn check_attendee(attendee: Option<&Value>) -> Result<Value, String> {
    let Some(attendee) = attendee.and_then(Value::as_object) else {
        return Err(
            "attendee property is wrong,nested property attendee must be either object or array"
                .into(),
        );
    };
    if !attendee.get("name").is_some_and(Value::is_string) {
        return Err("attendee property is wrong,name must be a string".into());
    }
    let zone = attendee.get("timeZone").and_then(Value::as_str);
    if zone.is_none_or(|zone| TimeZone::get(zone).is_err()) {
        return Err("attendee property is wrong,timeZone must be a valid IANA time zone".into());
    }
    let email = attendee.get("email").and_then(Value::as_str).unwrap_or("");
    let phone = attendee
        .get("phoneNumber")
        .and_then(Value::as_str)
        .unwrap_or("");
    if email.trim().is_empty() && phone.trim().is_empty() {
        return Err("attendee property is wrong,At least one contact method (email or phone number) must be provided".into());
    }
    let email_ok = email.is_empty() || (email.contains('@') && email.contains('.'));
    if !email_ok {
        return Err("attendee property is wrong,Invalid email format".into());
    }
    let phone_ok = phone.is_empty()
        || (phone.starts_with('+')
            && phone.len() >= 8
            && phone[1..].bytes().all(|b| b.is_ascii_digit()));
    if !phone_ok {
        return Err(
            "attendee property is wrong,Invalid phone number format. Please use international format."
                .into(),
        );
    }
    Ok(Value::Object(attendee.clone()))
}

fn check_metadata(metadata: Option<&Value>) -> Result<Value, String> {
    const MESSAGE: &str = "metadata property is wrong,Metadata must have at most 50 keys, each key up to 40 characters, and string values up to 500 characters.";
    match metadata {
        None => Ok(json!({})),
        Some(Value::Object(map)) => {
            let fits = map.len() <= 50
                && map.iter().all(|(key, value)| {
                    key.chars().count() <= 40
                        && value
                            .as_str()
                            .is_none_or(|text| text.chars().count() <= 500)
                });
            if fits {
                Ok(Value::Object(map.clone()))
            } else {
                Err(MESSAGE.into())
            }
        }
        Some(_) => Err(MESSAGE.into()),
    }
}

/// The answer to a time that cannot be booked.
fn conflict(inner: &Inner, path: &str) -> Answer {
    if inner.legacy_conflicts {
        Answer::bad_request("no_available_users_found_error", path)
    } else {
        let mut answer = Answer::error(
            StatusCode::CONFLICT,
            "no_available_users_found_error",
            CONFLICT_MESSAGE,
            path,
        );
        answer.body["message"] = CONFLICT_MESSAGE.into();
        answer
    }
}

fn out_of_bounds(path: &str) -> Answer {
    Answer::error(
        StatusCode::BAD_REQUEST,
        "booking_time_out_of_bounds_error",
        "booking_time_out_of_bounds_error",
        path,
    )
}

fn create_booking(inner: &mut Inner, request: &Request<'_>) -> Answer {
    let path = request.full_path;
    if let Err(answer) = optional_user(request) {
        return answer;
    }
    if request.version != Some(BOOKINGS_VERSION) {
        // The 2024-04-15 controller wants another body (`responses`, `timeZone`, …).
        return Answer::bad_request(
            "responses property is wrong,responses must be an object",
            path,
        );
    }
    let Some(body) = request.body.and_then(Value::as_object) else {
        return Answer::bad_request("Body should be an object", path);
    };
    if let Some(name) = body
        .keys()
        .find(|key| !BOOKING_FIELDS.contains(&key.as_str()))
    {
        return Answer::bad_request(&format!("property {name} should not exist"), path);
    }
    let Some(start) = body
        .get("start")
        .and_then(Value::as_str)
        .and_then(|start| start.parse::<Timestamp>().ok())
    else {
        return Answer::bad_request(
            "start property is wrong,start must be a valid ISO 8601 date string",
            path,
        );
    };
    let event_type = if let Some(id) = body.get("eventTypeId") {
        let Some(id) = id.as_i64() else {
            return Answer::bad_request(
                "eventTypeId property is wrong,eventTypeId must be an integer number",
                path,
            );
        };
        inner
            .event_types
            .iter()
            .find(|event_type| event_type.id == id)
    } else if let (Some(slug), Some(username)) = (
        body.get("eventTypeSlug").and_then(Value::as_str),
        body.get("username").and_then(Value::as_str),
    ) {
        inner.event_types.iter().find(|event_type| {
            event_type.spec.slug == slug
                && inner
                    .user(event_type.owner_id)
                    .is_some_and(|owner| owner.spec.username == username)
        })
    } else {
        return Answer::bad_request(
            "Either eventTypeId or eventTypeSlug + username or eventTypeSlug + teamSlug must be provided",
            path,
        );
    };
    let Some(event_type) = event_type.cloned() else {
        return Answer::not_found("Event type not found", path);
    };
    let attendee = match check_attendee(body.get("attendee")) {
        Ok(attendee) => attendee,
        Err(message) => return Answer::bad_request(&message, path),
    };
    let metadata = match check_metadata(body.get("metadata")) {
        Ok(metadata) => metadata,
        Err(message) => return Answer::bad_request(&message, path),
    };
    let length = match body.get("lengthInMinutes") {
        None => event_type.spec.length_minutes,
        Some(value) => match value.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(minutes)
                if minutes == event_type.spec.length_minutes
                    || event_type.spec.other_lengths.contains(&minutes) =>
            {
                minutes
            }
            _ => {
                return Answer::bad_request(
                    "lengthInMinutes must be one of the event type's lengths",
                    path,
                );
            }
        },
    };
    let end = start + SignedDuration::from_mins(i64::from(length));
    let Some(host) = inner.user(event_type.owner_id).cloned() else {
        return Answer::not_found("Event type not found", path);
    };
    if start < earliest_bookable(inner, &event_type) {
        return out_of_bounds(path);
    }
    if !bookable(inner, &host, start, end, None) {
        return conflict(inner, path);
    }

    let mut responses = body
        .get("bookingFieldsResponses")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    responses.insert("name".into(), attendee["name"].clone());
    if let Some(email) = attendee.get("email") {
        responses.insert("email".into(), email.clone());
    }
    if let Some(phone) = attendee.get("phoneNumber") {
        responses.insert("attendeePhoneNumber".into(), phone.clone());
    }
    let booking = FakeBooking {
        id: inner.next_id(),
        uid: new_uid(),
        event_type_id: event_type.id,
        host_id: host.id,
        start,
        end,
        status: "accepted".into(),
        attendee,
        booking_fields_responses: Value::Object(responses),
        metadata,
        cancellation_reason: None,
        rescheduling_reason: None,
        rescheduled_from_uid: None,
        rescheduled_to_uid: None,
    };
    let data = booking_json(inner, &booking);
    inner.bookings.push(booking);
    Answer::ok(StatusCode::CREATED, data)
}

fn find_booking(inner: &Inner, uid: &str) -> Option<usize> {
    inner.bookings.iter().position(|booking| booking.uid == uid)
}

fn booking_not_found(uid: &str, path: &str) -> Answer {
    Answer::not_found(
        &format!("Booking with uid={uid} was not found in the database"),
        path,
    )
}

const LIST_PARAMETERS: &[&str] = &[
    "status",
    "attendeeEmail",
    "attendeeName",
    "bookingUid",
    "eventTypeIds",
    "eventTypeId",
    "teamsIds",
    "teamId",
    "afterStart",
    "beforeEnd",
    "afterCreatedAt",
    "beforeCreatedAt",
    "sortStart",
    "sortEnd",
    "sortCreated",
    "take",
    "skip",
];

/// `GET /v2/bookings`: the caller's bookings as host, filtered and paged.
fn list_bookings(inner: &Inner, request: &Request<'_>) -> Answer {
    let path = request.full_path;
    let host = match require_user(request) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    if request.version != Some(BOOKINGS_VERSION) {
        return Answer::bad_request("property take should not exist", path);
    }
    if let Some((name, _)) = request
        .query
        .iter()
        .find(|(name, _)| !LIST_PARAMETERS.contains(&name.as_str()))
    {
        return Answer::bad_request(&format!("property {name} should not exist"), path);
    }
    let instant = |name: &str| match request.param(name) {
        None => Ok(None),
        Some(text) => text.parse::<Timestamp>().map(Some).map_err(|_| {
            Answer::bad_request(
                &format!("{name} must be a valid ISO 8601 date string"),
                path,
            )
        }),
    };
    let (after_start, before_end) = match (instant("afterStart"), instant("beforeEnd")) {
        (Ok(after), Ok(before)) => (after, before),
        (Err(answer), _) | (_, Err(answer)) => return answer,
    };
    let event_type = match request.param("eventTypeId").map(str::parse::<i64>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            return Answer::bad_request("eventTypeId must be an integer number", path);
        }
    };
    let number = |name: &str, default: usize| {
        request
            .param(name)
            .map_or(Some(default), |text| text.parse::<usize>().ok())
    };
    let (Some(take), Some(skip)) = (number("take", 100), number("skip", 0)) else {
        return Answer::bad_request("take and skip must be numbers", path);
    };
    if take == 0 {
        return Answer::bad_request("take must not be less than 1", path);
    }
    let now = inner.now();
    let mut matching: Vec<&FakeBooking> = inner
        .bookings
        .iter()
        .filter(|booking| booking.host_id == host)
        .filter(|booking| event_type.is_none_or(|id| booking.event_type_id == id))
        .filter(|booking| after_start.is_none_or(|after| booking.start >= after))
        .filter(|booking| before_end.is_none_or(|before| booking.end <= before))
        .filter(|booking| match request.param("status") {
            None => true,
            Some(statuses) => statuses.split(',').any(|status| match status.trim() {
                "upcoming" => booking.status == "accepted" && booking.end >= now,
                "past" => booking.end < now,
                "cancelled" => booking.status == "cancelled",
                _ => false,
            }),
        })
        .collect();
    match request.param("sortStart") {
        None => {}
        Some("asc") => matching.sort_by_key(|booking| booking.start),
        Some("desc") => matching.sort_by_key(|booking| std::cmp::Reverse(booking.start)),
        Some(_) => {
            return Answer::bad_request(
                "sortStart must be one of the following values: asc, desc",
                path,
            );
        }
    }
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(skip)
        .take(take)
        .map(|booking| booking_json(inner, booking))
        .collect();
    let returned = page.len();
    let mut answer = Answer::ok(StatusCode::OK, Value::Array(page));
    answer.body["pagination"] = json!({
        "totalItems": total,
        "remainingItems": total.saturating_sub(skip + returned),
        "returnedItems": returned,
        "itemsPerPage": take,
        "currentPage": skip / take + 1,
        "totalPages": total.div_ceil(take),
        "hasNextPage": skip + returned < total,
        "hasPreviousPage": skip > 0,
    });
    answer
}

fn get_booking(inner: &Inner, request: &Request<'_>, uid: &str) -> Answer {
    let path = request.full_path;
    if let Err(answer) = optional_user(request) {
        return answer;
    }
    let Some(index) = find_booking(inner, uid) else {
        return booking_not_found(uid, path);
    };
    let booking = &inner.bookings[index];
    if request.version != Some(BOOKINGS_VERSION) {
        // The older controller's shape.
        return Answer::ok(
            StatusCode::OK,
            json!({
                "id": booking.id,
                "uid": booking.uid,
                "startTime": utc_iso(booking.start),
                "endTime": utc_iso(booking.end),
                "status": booking.status.to_ascii_uppercase(),
            }),
        );
    }
    Answer::ok(StatusCode::OK, booking_json(inner, booking))
}

fn cancel_booking(inner: &mut Inner, request: &Request<'_>, uid: &str) -> Answer {
    let path = request.full_path;
    if let Err(answer) = optional_user(request) {
        return answer;
    }
    if request.version != Some(BOOKINGS_VERSION) {
        return Answer::bad_request("Validation failed (numeric string is expected)", path);
    }
    let Some(index) = find_booking(inner, uid) else {
        return booking_not_found(uid, path);
    };
    if inner.bookings[index].status == "cancelled" {
        return Answer::bad_request("This booking has already been cancelled.", path);
    }
    let reason = request
        .body
        .and_then(|body| body.get("cancellationReason"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let booking = &mut inner.bookings[index];
    booking.status = "cancelled".into();
    booking.cancellation_reason = reason;
    let booking = booking.clone();
    Answer::ok(StatusCode::OK, booking_json(inner, &booking))
}

fn reschedule_booking(inner: &mut Inner, request: &Request<'_>, uid: &str) -> Answer {
    let path = request.full_path;
    if let Err(answer) = optional_user(request) {
        return answer;
    }
    if request.version != Some(BOOKINGS_VERSION) {
        return Answer::not_found(&format!("Cannot POST {path}"), path);
    }
    let Some(index) = find_booking(inner, uid) else {
        return booking_not_found(uid, path);
    };
    let Some(start) = request
        .body
        .and_then(|body| body.get("start"))
        .and_then(Value::as_str)
        .and_then(|start| start.parse::<Timestamp>().ok())
    else {
        return Answer::bad_request(
            "start property is wrong,start must be a valid ISO 8601 date string",
            path,
        );
    };
    let old = inner.bookings[index].clone();
    if old.status == "cancelled" {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "cancelled_bookings_cannot_be_rescheduled",
            "cancelled_bookings_cannot_be_rescheduled",
            path,
        );
    }
    let Some(event_type) = inner
        .event_types
        .iter()
        .find(|event_type| event_type.id == old.event_type_id)
        .cloned()
    else {
        return Answer::not_found("Event type not found", path);
    };
    let Some(host) = inner.user(old.host_id).cloned() else {
        return Answer::not_found("Event type not found", path);
    };
    let end = start + old.end.duration_since(old.start);
    if start < earliest_bookable(inner, &event_type) {
        return out_of_bounds(path);
    }
    // The booking being moved does not block its own new time.
    if !bookable(inner, &host, start, end, Some(&old.uid)) {
        return conflict(inner, path);
    }
    let reason = request
        .body
        .and_then(|body| body.get("reschedulingReason"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let new = FakeBooking {
        id: inner.next_id(),
        uid: new_uid(),
        start,
        end,
        status: "accepted".into(),
        cancellation_reason: None,
        rescheduling_reason: reason,
        rescheduled_from_uid: Some(old.uid.clone()),
        rescheduled_to_uid: None,
        ..old
    };
    let moved = &mut inner.bookings[index];
    moved.status = "cancelled".into();
    moved.rescheduled_to_uid = Some(new.uid.clone());
    let data = booking_json(inner, &new);
    inner.bookings.push(new);
    Answer::ok(StatusCode::CREATED, data)
}

#[cfg(test)]
mod tests;
