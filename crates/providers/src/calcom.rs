//! A client for the Cal.com API v2, for agents whose backend is still Cal.com.
//!
//! Every endpoint of API v2 is versioned by a `cal-api-version` header, and each one we call
//! answers a different version: a request without the right one is silently served by an older
//! controller with another wire format. So each method sends its own version ([`SLOTS_VERSION`],
//! [`BOOKINGS_VERSION`], [`EVENT_TYPES_VERSION`]).
//!
//! Reads (`GET`) are retried with jittered exponential backoff on 429, 5xx and transport
//! failures. Writes (`POST`) are never retried here: Cal.com takes no idempotency key, so a
//! booking whose answer was lost may already exist, and a blind retry would either book twice or
//! report our own booking as "slot taken". The caller decides what to do with an ambiguous write.
//!
//! API keys are passed per call as [`SecretString`] and only ever leave in the `Authorization`
//! header; no error or `Debug` output contains them.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use rand::Rng;
use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// Cal.com's hosted API.
pub const DEFAULT_BASE_URL: &str = "https://api.cal.com";
/// `cal-api-version` of `GET /v2/slots`.
pub const SLOTS_VERSION: &str = "2024-09-04";
/// `cal-api-version` of `/v2/bookings` and its sub-resources.
pub const BOOKINGS_VERSION: &str = "2024-08-13";
/// `cal-api-version` of `/v2/event-types`.
pub const EVENT_TYPES_VERSION: &str = "2024-06-14";
/// The header that selects an endpoint's version.
pub const VERSION_HEADER: &str = "cal-api-version";

/// Why a Cal.com call failed, in the terms the server needs to answer its own caller.
#[derive(Debug, Error)]
pub enum CalcomError {
    /// 401: the API key is missing, revoked or wrong.
    #[error("Cal.com refused the API key")]
    Unauthorized,
    /// 403: the key is valid but may not do this.
    #[error("Cal.com forbids this for the API key: {message}")]
    Forbidden { message: String },
    /// The requested time can no longer be booked (409, or the older 400 with the same code).
    #[error("the slot is not available on Cal.com: {message}")]
    SlotUnavailable { message: String },
    /// 404: no such booking or event type.
    #[error("not found on Cal.com: {message}")]
    NotFound { message: String },
    /// 429 after our retries (or on a write, which is not retried).
    #[error("Cal.com is rate limiting us (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx after our retries (or on a write).
    #[error("Cal.com failed with status {0}")]
    Server(u16),
    /// The request did not get an HTTP answer (DNS, connection, timeout).
    #[error("could not reach Cal.com: {0}")]
    Transport(#[source] reqwest::Error),
    /// A 2xx answer we could not read.
    #[error("unexpected answer from Cal.com: {0}")]
    Decode(String),
    /// Any other 4xx, with Cal.com's own error code and message.
    #[error("Cal.com rejected the request ({status} {code}): {message}")]
    BadRequest {
        status: u16,
        code: String,
        message: String,
    },
}

impl CalcomError {
    /// Whether a read that failed this way may succeed if tried again shortly.
    fn is_transient(&self) -> bool {
        matches!(
            self,
            CalcomError::RateLimited { .. } | CalcomError::Server(_) | CalcomError::Transport(_)
        )
    }
}

/// How reads are retried. Writes are never retried (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// The backoff before the second attempt; it doubles after each failure.
    pub base_delay: Duration,
    /// No single wait is longer, and a `Retry-After` beyond it is not waited for: the callers
    /// are people on the phone, who are better told "try again" than kept waiting.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry): "full jitter", a random
    /// duration up to the exponential bound, so many clients do not retry in lockstep. A
    /// server-given `Retry-After` is a floor.
    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max_delay);
        let jittered = rand::thread_rng().gen_range(Duration::ZERO..=exp);
        match retry_after {
            Some(after) => after.max(jittered),
            None => jittered,
        }
    }
}

/// Which event type a slots query is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTypeRef {
    /// By id, for user and team event types.
    Id(i64),
    /// By slug and the owner's username (and organisation, for users inside one).
    Slug {
        slug: String,
        username: String,
        organization_slug: Option<String>,
    },
}

/// `GET /v2/slots`: the bookable starts of an event type between two instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotsQuery {
    pub event_type: EventTypeRef,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The zone Cal.com groups days by and writes offsets in; UTC when absent.
    pub time_zone: Option<String>,
    /// Only for event types with several lengths: the length wanted, in minutes.
    pub duration_minutes: Option<u32>,
}

/// One bookable slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalSlot {
    pub start: Timestamp,
    /// Present because we ask for `format=range`.
    pub end: Option<Timestamp>,
}

/// An event type of the key's owner (`GET /v2/event-types`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalEventType {
    pub id: i64,
    pub slug: String,
    #[serde(default)]
    pub title: String,
    pub length_in_minutes: u32,
    #[serde(default)]
    pub owner_id: Option<i64>,
    #[serde(default)]
    pub users: Vec<CalEventTypeUser>,
}

/// A host of an event type, as listed in it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalEventTypeUser {
    pub id: i64,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// The key's owner (`GET /v2/me`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalMe {
    pub id: i64,
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// The person a booking is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalAttendee {
    pub name: String,
    /// Cal.com needs an e-mail address or a phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// IANA zone the attendee's confirmation is written in.
    pub time_zone: String,
    /// International format, e.g. `+4915112345678`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// `POST /v2/bookings`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCalBooking {
    pub start: Timestamp,
    pub event_type_id: i64,
    pub attendee: CalAttendee,
    /// Only for event types with several lengths.
    pub length_in_minutes: Option<u32>,
    /// Answers to the event type's booking questions, e.g. `notes`.
    pub booking_fields_responses: BTreeMap<String, Value>,
    /// Free-form strings Cal.com keeps with the booking (at most 50 keys, values ≤ 500 chars).
    pub metadata: BTreeMap<String, String>,
}

/// A booking as Cal.com describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalBooking {
    pub id: i64,
    pub uid: String,
    #[serde(default)]
    pub title: String,
    /// `accepted`, `pending`, `cancelled` or `rejected`.
    pub status: String,
    pub start: Timestamp,
    pub end: Timestamp,
    #[serde(default)]
    pub duration: Option<u32>,
    #[serde(default)]
    pub event_type_id: Option<i64>,
    #[serde(default)]
    pub attendees: Vec<CalBookingAttendee>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub meeting_url: Option<String>,
    #[serde(default)]
    pub cancellation_reason: Option<String>,
    #[serde(default)]
    pub rescheduling_reason: Option<String>,
    #[serde(default)]
    pub rescheduled_from_uid: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, Value>,
}

/// An attendee as listed in a booking.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalBookingAttendee {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
}

/// Cal.com's success envelope: `{"status":"success","data":...}`.
#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

/// Cal.com's error envelope: `{"status":"error","error":{"code","message"}}`.
#[derive(Deserialize)]
struct ErrorEnvelope {
    error: Option<ErrorBody>,
    message: Option<Value>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<Value>,
}

/// A slot as `GET /v2/slots` writes it: `{"start"}`, `{"start","end"}` (with `format=range`),
/// or a bare string in the oldest form of the default format.
#[derive(Deserialize)]
#[serde(untagged)]
enum WireSlot {
    Object {
        start: Timestamp,
        end: Option<Timestamp>,
    },
    Bare(Timestamp),
}

/// Cal.com error codes that mean "this time cannot be booked any more".
const SLOT_TAKEN_CODES: &[&str] = &[
    "no_available_users_found_error",
    "fixed_hosts_unavailable_for_booking",
    "round_robin_host_unavailable_for_booking",
    "booking_conflict_error",
    "booking_seats_full_error",
    "not_enough_available_seats_error",
    "already_signed_up_for_this_booking_error",
];

/// A Cal.com API v2 client. Cheap to clone; clones share the connection pool.
#[derive(Clone, Debug)]
pub struct CalcomClient {
    base_url: String,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl CalcomClient {
    /// A client for `base_url` (e.g. [`DEFAULT_BASE_URL`], or a fake's address in tests).
    pub fn new(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            http,
            retry: RetryPolicy::default(),
        }
    }

    /// A client with its own connection pool and timeouts fit for calls made during a phone
    /// call: a few seconds, not the minutes a default client would wait.
    pub fn with_default_http(base_url: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("pillow-calendar/", env!("CARGO_PKG_VERSION")))
            .build()
            // Building fails only when the TLS backend cannot initialise: nothing would work.
            .expect("the HTTP client can be built");
        Self::new(base_url, http)
    }

    /// The same client (and connection pool) pointed at another base URL.
    pub fn with_base_url(&self, base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            ..self.clone()
        }
    }

    /// Replaces the retry policy for reads.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The key's owner.
    ///
    /// # Errors
    /// [`CalcomError::Unauthorized`] for a bad key; otherwise see [`CalcomError`].
    pub async fn me(&self, key: &SecretString) -> Result<CalMe, CalcomError> {
        self.read(key, "/v2/me", None, &[]).await
    }

    /// The event types of the key's owner. Cal.com answers 404 when there are none; that is
    /// returned as an empty list.
    ///
    /// # Errors
    /// [`CalcomError::Unauthorized`] for a bad key; otherwise see [`CalcomError`].
    pub async fn event_types(&self, key: &SecretString) -> Result<Vec<CalEventType>, CalcomError> {
        match self
            .read(key, "/v2/event-types", Some(EVENT_TYPES_VERSION), &[])
            .await
        {
            Err(CalcomError::NotFound { .. }) => Ok(Vec::new()),
            other => other,
        }
    }

    /// The bookable slots of an event type, in time order. Cal.com groups them by day in the
    /// query's zone; the days are flattened here.
    ///
    /// # Errors
    /// See [`CalcomError`]; a slots query Cal.com cannot understand (unknown event type, bad
    /// zone) is [`CalcomError::BadRequest`] or [`CalcomError::NotFound`].
    pub async fn slots(
        &self,
        key: &SecretString,
        query: &SlotsQuery,
    ) -> Result<Vec<CalSlot>, CalcomError> {
        let mut params: Vec<(&str, String)> = Vec::new();
        match &query.event_type {
            EventTypeRef::Id(id) => params.push(("eventTypeId", id.to_string())),
            EventTypeRef::Slug {
                slug,
                username,
                organization_slug,
            } => {
                params.push(("eventTypeSlug", slug.clone()));
                params.push(("username", username.clone()));
                if let Some(org) = organization_slug {
                    params.push(("organizationSlug", org.clone()));
                }
            }
        }
        params.push(("start", query.start.to_string()));
        params.push(("end", query.end.to_string()));
        if let Some(zone) = &query.time_zone {
            params.push(("timeZone", zone.clone()));
        }
        if let Some(minutes) = query.duration_minutes {
            params.push(("duration", minutes.to_string()));
        }
        params.push(("format", "range".to_string()));

        let days: BTreeMap<String, Vec<WireSlot>> = self
            .read(key, "/v2/slots", Some(SLOTS_VERSION), &params)
            .await?;
        let mut slots: Vec<CalSlot> = days
            .into_values()
            .flatten()
            .map(|slot| match slot {
                WireSlot::Object { start, end } => CalSlot { start, end },
                WireSlot::Bare(start) => CalSlot { start, end: None },
            })
            .collect();
        // Day keys sort as dates, but do not rely on Cal.com's order within a day.
        slots.sort_by_key(|slot| slot.start);
        slots.dedup();
        Ok(slots)
    }

    /// Books an event type. Not retried (see the module documentation).
    ///
    /// # Errors
    /// [`CalcomError::SlotUnavailable`] when the time is taken or outside the host's hours;
    /// otherwise see [`CalcomError`].
    pub async fn create_booking(
        &self,
        key: &SecretString,
        booking: &NewCalBooking,
    ) -> Result<CalBooking, CalcomError> {
        let mut body = serde_json::json!({
            "start": booking.start.to_string(),
            "eventTypeId": booking.event_type_id,
            "attendee": booking.attendee,
        });
        if let Some(length) = booking.length_in_minutes {
            body["lengthInMinutes"] = length.into();
        }
        if !booking.booking_fields_responses.is_empty() {
            body["bookingFieldsResponses"] =
                serde_json::to_value(&booking.booking_fields_responses).unwrap_or_default();
        }
        if !booking.metadata.is_empty() {
            body["metadata"] = serde_json::to_value(&booking.metadata).unwrap_or_default();
        }
        self.write(key, "/v2/bookings", &body).await
    }

    /// One booking by uid.
    ///
    /// # Errors
    /// [`CalcomError::NotFound`] for an unknown uid; otherwise see [`CalcomError`].
    pub async fn get_booking(
        &self,
        key: &SecretString,
        uid: &str,
    ) -> Result<CalBooking, CalcomError> {
        let path = format!("/v2/bookings/{}", checked_uid(uid)?);
        self.read(key, &path, Some(BOOKINGS_VERSION), &[]).await
    }

    /// The key owner's bookings of one event type that start at or after `after_start` and end
    /// at or before `before_end` (`GET /v2/bookings`, first 100), whatever their status.
    ///
    /// # Errors
    /// [`CalcomError::Unauthorized`] for a bad key; otherwise see [`CalcomError`].
    pub async fn bookings_between(
        &self,
        key: &SecretString,
        event_type_id: i64,
        after_start: Timestamp,
        before_end: Timestamp,
    ) -> Result<Vec<CalBooking>, CalcomError> {
        let params = [
            ("eventTypeId", event_type_id.to_string()),
            ("afterStart", after_start.to_string()),
            ("beforeEnd", before_end.to_string()),
            ("take", "100".to_string()),
        ];
        self.read(key, "/v2/bookings", Some(BOOKINGS_VERSION), &params)
            .await
    }

    /// One page (`take` at most 100, from `skip`) of the key owner's upcoming accepted
    /// bookings of one event type, soonest first (`GET /v2/bookings?status=upcoming`).
    ///
    /// # Errors
    /// [`CalcomError::Unauthorized`] for a bad key; otherwise see [`CalcomError`].
    pub async fn upcoming_bookings(
        &self,
        key: &SecretString,
        event_type_id: i64,
        take: usize,
        skip: usize,
    ) -> Result<Vec<CalBooking>, CalcomError> {
        let params = [
            ("eventTypeId", event_type_id.to_string()),
            ("status", "upcoming".to_string()),
            ("sortStart", "asc".to_string()),
            ("take", take.clamp(1, 100).to_string()),
            ("skip", skip.to_string()),
        ];
        self.read(key, "/v2/bookings", Some(BOOKINGS_VERSION), &params)
            .await
    }

    /// Cancels a booking; its time becomes bookable again. Not retried.
    ///
    /// # Errors
    /// [`CalcomError::NotFound`] for an unknown uid, [`CalcomError::BadRequest`] when it is
    /// already cancelled; otherwise see [`CalcomError`].
    pub async fn cancel_booking(
        &self,
        key: &SecretString,
        uid: &str,
        reason: Option<&str>,
    ) -> Result<CalBooking, CalcomError> {
        let path = format!("/v2/bookings/{}/cancel", checked_uid(uid)?);
        let mut body = serde_json::json!({});
        if let Some(reason) = reason {
            body["cancellationReason"] = reason.into();
        }
        self.write(key, &path, &body).await
    }

    /// Moves a booking. Cal.com answers with a *new* booking (new uid, `rescheduledFromUid` set)
    /// and cancels the old one. Not retried.
    ///
    /// # Errors
    /// [`CalcomError::SlotUnavailable`] when the new time is taken; otherwise see
    /// [`CalcomError`].
    pub async fn reschedule_booking(
        &self,
        key: &SecretString,
        uid: &str,
        start: Timestamp,
        reason: Option<&str>,
    ) -> Result<CalBooking, CalcomError> {
        let path = format!("/v2/bookings/{}/reschedule", checked_uid(uid)?);
        let mut body = serde_json::json!({ "start": start.to_string() });
        if let Some(reason) = reason {
            body["reschedulingReason"] = reason.into();
        }
        self.write(key, &path, &body).await
    }

    fn request(
        &self,
        method: Method,
        key: &SecretString,
        path: &str,
        version: Option<&str>,
    ) -> RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(key.expose_secret());
        if let Some(version) = version {
            request = request.header(VERSION_HEADER, version);
        }
        request
    }

    /// A `GET`, retried on transient failures.
    async fn read<T: DeserializeOwned>(
        &self,
        key: &SecretString,
        path: &str,
        version: Option<&str>,
        params: &[(&str, String)],
    ) -> Result<T, CalcomError> {
        let mut attempt = 1;
        loop {
            let request = self.request(Method::GET, key, path, version).query(params);
            match send(request).await {
                Err(error) if error.is_transient() && attempt < self.retry.max_attempts => {
                    let retry_after = match &error {
                        CalcomError::RateLimited { retry_after } => *retry_after,
                        _ => None,
                    };
                    if retry_after.is_some_and(|after| after > self.retry.max_delay) {
                        return Err(error);
                    }
                    tokio::time::sleep(self.retry.delay(attempt, retry_after)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// A `POST` with a JSON body, sent once.
    async fn write<T: DeserializeOwned>(
        &self,
        key: &SecretString,
        path: &str,
        body: &Value,
    ) -> Result<T, CalcomError> {
        send(
            self.request(Method::POST, key, path, Some(BOOKINGS_VERSION))
                .json(body),
        )
        .await
    }
}

/// Checks that a uid is one path segment of Cal.com's alphabet. Uids come from our callers, and
/// one like `..` or `a/b` must not be able to reach another path with the agent's key.
fn checked_uid(uid: &str) -> Result<&str, CalcomError> {
    if !uid.is_empty()
        && uid.len() <= 100
        && uid
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    {
        Ok(uid)
    } else {
        Err(CalcomError::NotFound {
            message: "not a Cal.com booking uid".to_string(),
        })
    }
}

async fn send<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, CalcomError> {
    let response = request.send().await.map_err(CalcomError::Transport)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let bytes = response.bytes().await.map_err(CalcomError::Transport)?;
    if status.is_success() {
        return serde_json::from_slice::<Envelope<T>>(&bytes)
            .map(|envelope| envelope.data)
            .map_err(|error| CalcomError::Decode(error.to_string()));
    }
    Err(classify(status, retry_after, &bytes))
}

/// Turns a non-2xx answer into a [`CalcomError`].
fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> CalcomError {
    let (code, message) = error_details(body);
    let slot_taken = SLOT_TAKEN_CODES.contains(&code.as_str())
        || message.contains("already has booking")
        || message.contains("no_available_users_found_error");
    match status.as_u16() {
        401 => CalcomError::Unauthorized,
        403 => CalcomError::Forbidden { message },
        404 => CalcomError::NotFound { message },
        409 => CalcomError::SlotUnavailable { message },
        // Older Cal.com versions answered a taken slot with 400 and the code in the message.
        400 if slot_taken => CalcomError::SlotUnavailable { message },
        429 => CalcomError::RateLimited { retry_after },
        500..=599 => CalcomError::Server(status.as_u16()),
        other => CalcomError::BadRequest {
            status: other,
            code,
            message,
        },
    }
}

/// Cal.com's `error.code` and `error.message` (or top-level `message`), as far as present.
fn error_details(body: &[u8]) -> (String, String) {
    let text = |value: Option<Value>| match value {
        Some(Value::String(text)) => Some(text),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(envelope) => {
            let (code, message) = match envelope.error {
                Some(error) => (error.code, text(error.message)),
                None => (None, None),
            };
            (
                code.unwrap_or_default(),
                message
                    .or_else(|| text(envelope.message))
                    .unwrap_or_default(),
            )
        }
        Err(_) => (
            String::new(),
            String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_slot_is_recognised_in_both_the_current_and_the_older_answer() {
        let current = br#"{"status":"error","error":{"code":"no_available_users_found_error","message":"User either already has booking at this time or is not available"}}"#;
        assert!(matches!(
            classify(StatusCode::CONFLICT, None, current),
            CalcomError::SlotUnavailable { .. }
        ));
        let older = br#"{"status":"error","error":{"code":"BadRequestException","message":"no_available_users_found_error"}}"#;
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, None, older),
            CalcomError::SlotUnavailable { .. }
        ));
        let validation = br#"{"status":"error","error":{"code":"BadRequestException","message":"attendee.timeZone must be a valid IANA time zone"}}"#;
        match classify(StatusCode::BAD_REQUEST, None, validation) {
            CalcomError::BadRequest {
                status,
                code,
                message,
            } => {
                assert_eq!(status, 400);
                assert_eq!(code, "BadRequestException");
                assert!(message.contains("timeZone"));
            }
            other => panic!("expected BadRequest, got {other:?}"),
        }
    }

    #[test]
    fn statuses_map_to_their_errors() {
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, None, b"{}"),
            CalcomError::Unauthorized
        ));
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, None, b"not json"),
            CalcomError::NotFound { .. }
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, None, b""),
            CalcomError::Server(502)
        ));
        match classify(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(3)),
            b"",
        ) {
            CalcomError::RateLimited { retry_after } => {
                assert_eq!(retry_after, Some(Duration::from_secs(3)));
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }

    #[test]
    fn backoff_grows_stays_bounded_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
        };
        for retry in 1..12 {
            let bound = Duration::from_millis(100 * (1 << (retry - 1).min(3)));
            for _ in 0..50 {
                assert!(policy.delay(retry, None) <= bound);
            }
        }
        assert!(policy.delay(1, Some(Duration::from_millis(700))) >= Duration::from_millis(700));
    }

    #[test]
    fn uids_cannot_escape_their_path_segment() {
        assert_eq!(checked_uid("abcXYZ09-_").unwrap(), "abcXYZ09-_");
        for bad in ["", "..", "../me", "a/b", "a b", "a?b", "%2e%2e"] {
            assert!(
                matches!(checked_uid(bad), Err(CalcomError::NotFound { .. })),
                "{bad}"
            );
        }
    }
}
