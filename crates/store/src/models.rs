//! Domain rows as the rest of the server sees them. Field names follow docs/contracts.md.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The tenant every scoped query is filtered by. A newtype so it cannot be confused with the
/// other ids that travel next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// New time-ordered id: v7 keeps recent rows together in indexes.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: Timestamp,
}

/// What a user may do inside their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Owners and admins manage other members' data.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// IANA zone name, e.g. `America/Los_Angeles`.
    pub time_zone: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub time_zone: String,
    /// Argon2 PHC string; `None` for users who only act through API keys.
    pub password_hash: Option<String>,
}

/// A partial update; `None` leaves the field alone.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<Role>,
    pub time_zone: Option<String>,
    pub password_hash: Option<String>,
}

/// A user with the secret login needs; never serialised.
#[derive(Debug, Clone)]
pub struct UserLogin {
    pub user: User,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    /// Public part shown in listings and used to find the key; the secret part is only hashed.
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
}

/// Where an agent's calendar lives: here, or still on Cal.com (the in-call API's Cal.com fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentBackend {
    Native,
    Calcom,
}

impl AgentBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentBackend::Native => "native",
            AgentBackend::Calcom => "calcom",
        }
    }

    pub fn parse(value: &str) -> Option<AgentBackend> {
        match value {
            "native" => Some(AgentBackend::Native),
            "calcom" => Some(AgentBackend::Calcom),
            _ => None,
        }
    }
}

/// A voice agent. `cal_api_key` is stored encrypted; the store only ever sees ciphertext.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub time_zone: String,
    pub backend: AgentBackend,
    pub cal_enabled: bool,
    pub cal_api_key_encrypted: Option<String>,
    pub cal_event_type_slug: Option<String>,
    pub cal_timezone: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub name: String,
    pub time_zone: String,
    pub backend: AgentBackend,
    pub cal_enabled: bool,
    pub cal_api_key_encrypted: Option<String>,
    pub cal_event_type_slug: Option<String>,
    pub cal_timezone: Option<String>,
}

/// A partial update. The doubly optional fields distinguish "leave alone" (`None`) from
/// "clear" (`Some(None)`).
#[derive(Debug, Clone, Default)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub backend: Option<AgentBackend>,
    pub cal_enabled: Option<bool>,
    pub cal_api_key_encrypted: Option<Option<String>>,
    pub cal_event_type_slug: Option<Option<String>>,
    pub cal_timezone: Option<Option<String>>,
}

/// An availability rule of one user. `document` is the rule JSON exactly as validated by the
/// engine (`pillow_engine::RuleDocument` serialised), kept whole so a stored rule reads back
/// identical (as a JSON value: PostgreSQL keeps it as `jsonb`, which does not keep key order or
/// whitespace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityRule {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub user_id: Uuid,
    pub name: Option<String>,
    /// At most one rule per user is the default; making one the default demotes the other.
    pub is_default: bool,
    pub document: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAvailabilityRule {
    pub user_id: Uuid,
    pub name: Option<String>,
    pub is_default: bool,
    pub document: serde_json::Value,
}

/// Whether an event happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Confirmed,
    Tentative,
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "confirmed",
            EventStatus::Tentative => "tentative",
            EventStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<EventStatus> {
        match value {
            "confirmed" => Some(EventStatus::Confirmed),
            "tentative" => Some(EventStatus::Tentative),
            "cancelled" => Some(EventStatus::Cancelled),
            _ => None,
        }
    }
}

/// Whether an event blocks time (`opaque`) or not (`transparent`), as in iCalendar and Google.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transparency {
    Opaque,
    Transparent,
}

impl Transparency {
    pub fn as_str(self) -> &'static str {
        match self {
            Transparency::Opaque => "opaque",
            Transparency::Transparent => "transparent",
        }
    }

    pub fn parse(value: &str) -> Option<Transparency> {
        match value {
            "opaque" => Some(Transparency::Opaque),
            "transparent" => Some(Transparency::Transparent),
            _ => None,
        }
    }
}

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    /// Made through this server's API.
    Internal,
    /// Synchronised from Google Calendar.
    Google,
    /// The calendar entry of a booking.
    Booking,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Internal => "internal",
            EventSource::Google => "google",
            EventSource::Booking => "booking",
        }
    }

    pub fn parse(value: &str) -> Option<EventSource> {
        match value {
            "internal" => Some(EventSource::Internal),
            "google" => Some(EventSource::Google),
            "booking" => Some(EventSource::Booking),
            _ => None,
        }
    }
}

/// An event in a user's calendar.
///
/// For all-day events (`all_day = true`), `start` and `end` carry local *dates*, each at
/// 00:00 UTC, with `end` exclusive (like Google's `date`): a one-day event on 2024-12-25 is
/// `2024-12-25T00:00Z .. 2024-12-26T00:00Z`. They are not instants: readers convert the dates to
/// the user's zone. Timed events carry real instants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarEvent {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub user_id: Uuid,
    /// The calendar connection this event was synchronised from, if any.
    pub provider_id: Option<Uuid>,
    /// The event's id at the provider; unique per provider.
    pub external_id: Option<String>,
    pub etag: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub all_day: bool,
    pub status: EventStatus,
    pub transparency: Transparency,
    pub source: EventSource,
    /// The booking this event is the calendar entry of, if any.
    pub booking_id: Option<Uuid>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A calendar event to create, or the new state of one to replace. See [`CalendarEvent`] for
/// how all-day events carry their dates.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCalendarEvent {
    pub user_id: Uuid,
    pub provider_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub etag: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub all_day: bool,
    pub status: EventStatus,
    pub transparency: Transparency,
    pub source: EventSource,
    pub booking_id: Option<Uuid>,
}

/// Which events [`crate::Store::list_events`] returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    /// Only these users' events; empty means every user of the tenant.
    pub user_ids: Vec<Uuid>,
    /// Only events ending after this instant.
    pub from: Option<Timestamp>,
    /// Only events starting before this instant.
    pub to: Option<Timestamp>,
    /// Whether cancelled events are included.
    pub include_cancelled: bool,
}

/// A busy interval for availability: only events that block time (confirmed or tentative, and
/// opaque). For all-day events `start`/`end` carry dates as in [`CalendarEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyEvent {
    pub user_id: Uuid,
    pub start: Timestamp,
    pub end: Timestamp,
    pub all_day: bool,
}

/// How far [`crate::Store::list_events`] and [`crate::Store::busy_events`] widen a range for
/// all-day events, whose dates are carried at 00:00 UTC: no zone is a whole day from UTC, so a
/// local date that overlaps the range has carriers within one day of it.
pub const ALL_DAY_WIDENING: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

impl BusyEvent {
    /// The instants this busy time covers. Timed events are what they say; an all-day event
    /// covers its local dates in `zone` (`[start 00:00 local, end 00:00 local)`, with the
    /// "compatible" disambiguation the engine uses), or, without a zone, its carriers widened
    /// by [`ALL_DAY_WIDENING`] on both sides: a bound that contains the dates in every zone.
    pub fn instants(&self, zone: Option<&jiff::tz::TimeZone>) -> (Timestamp, Timestamp) {
        if !self.all_day {
            return (self.start, self.end);
        }
        let local_midnight = |carrier: Timestamp, tz: &jiff::tz::TimeZone| {
            let date = carrier.to_zoned(jiff::tz::TimeZone::UTC).date();
            tz.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        };
        if let Some(tz) = zone
            && let (Some(start), Some(end)) =
                (local_midnight(self.start, tz), local_midnight(self.end, tz))
        {
            return (start, end);
        }
        (
            self.start
                .checked_sub(ALL_DAY_WIDENING)
                .unwrap_or(Timestamp::MIN),
            self.end
                .checked_add(ALL_DAY_WIDENING)
                .unwrap_or(Timestamp::MAX),
        )
    }
}

/// Whether two half-open ranges `[a.0, a.1)` and `[b.0, b.1)` share an instant.
pub fn overlaps(a: (Timestamp, Timestamp), b: (Timestamp, Timestamp)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Whether any of these busy events of one user blocks `range`. All-day events are read in
/// the first of `zone_names` that names a known zone (see [`BusyEvent::instants`]); with none,
/// they block their carriers widened by [`ALL_DAY_WIDENING`].
pub fn blocks_any(
    events: &[BusyEvent],
    zone_names: &[&str],
    range: (Timestamp, Timestamp),
) -> bool {
    let zone = || {
        zone_names
            .iter()
            .find_map(|name| jiff::tz::TimeZone::get(name).ok())
    };
    let mut resolved: Option<Option<jiff::tz::TimeZone>> = None;
    events.iter().any(|event| {
        let zone = if event.all_day {
            resolved.get_or_insert_with(zone).as_ref()
        } else {
            None
        };
        overlaps(event.instants(zone), range)
    })
}

/// The range a booking occupies: `[start - before, end + after)`, saturating at the ends of
/// time.
pub fn occupied_range(
    start: Timestamp,
    end: Timestamp,
    buffer_before_minutes: i32,
    buffer_after_minutes: i32,
) -> (Timestamp, Timestamp) {
    let minutes = |m: i32| jiff::SignedDuration::from_mins(i64::from(m));
    (
        start
            .checked_sub(minutes(buffer_before_minutes))
            .unwrap_or(Timestamp::MIN),
        end.checked_add(minutes(buffer_after_minutes))
            .unwrap_or(Timestamp::MAX),
    )
}

/// Whether a booking holds its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<BookingStatus> {
        match value {
            "confirmed" => Some(BookingStatus::Confirmed),
            "cancelled" => Some(BookingStatus::Cancelled),
            _ => None,
        }
    }
}

/// The person a booking is for (the booking body's `attendee`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A booking of one user's time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// The voice agent that booked it, if any.
    pub agent_id: Option<Uuid>,
    /// The user whose time is booked.
    pub user_id: Uuid,
    /// Unique per tenant; what a caller reads aloud to find the booking again.
    pub confirmation_code: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The booking occupies `[start - before, end + after)`: see [`Booking::occupied`].
    pub buffer_before_minutes: i32,
    pub buffer_after_minutes: i32,
    pub attendee: Attendee,
    pub notes: Option<String>,
    /// The title of its calendar event.
    pub title: String,
    pub description: Option<String>,
    pub status: BookingStatus,
    pub cancel_reason: Option<String>,
    pub cancelled_at: Option<Timestamp>,
    /// The phone call it was made in, if any.
    pub call_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Booking {
    /// The range the booking keeps free of other bookings: `[start - before, end + after)`.
    pub fn occupied(&self) -> (Timestamp, Timestamp) {
        occupied_range(
            self.start,
            self.end,
            self.buffer_before_minutes,
            self.buffer_after_minutes,
        )
    }
}

/// A booking to create. The caller picks the id ([`new_id`]) so that it can render its
/// response (and the outbox jobs' payloads) before the transaction commits.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBooking {
    pub id: Uuid,
    pub agent_id: Option<Uuid>,
    pub user_id: Uuid,
    pub confirmation_code: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Not negative (a CHECK constraint refuses it).
    pub buffer_before_minutes: i32,
    pub buffer_after_minutes: i32,
    pub attendee: Attendee,
    pub notes: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub call_id: Option<String>,
}

impl NewBooking {
    /// See [`Booking::occupied`].
    pub fn occupied(&self) -> (Timestamp, Timestamp) {
        occupied_range(
            self.start,
            self.end,
            self.buffer_before_minutes,
            self.buffer_after_minutes,
        )
    }
}

/// The recorded answer to an idempotent request. Written in the same transaction as the change
/// it belongs to, so a committed change always has its recorded answer.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotentResponse {
    /// The client's `Idempotency-Key` (or one derived from a call and a slot).
    pub key: String,
    /// A hash of the request body: the same key with another body is refused.
    pub request_hash: String,
    /// The HTTP status replayed.
    pub status: u16,
    /// The body replayed.
    pub body: serde_json::Value,
}

/// What [`crate::Store::begin_idempotent`] found for a key.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyState {
    /// The key is new (or its previous owner went stale): this caller owns it now and must
    /// finish, abandon, or write a response with its change.
    Started,
    /// Another request with this key is running.
    InProgress { request_hash: String },
    /// The key has an answer to replay.
    Done {
        request_hash: String,
        status: u16,
        body: serde_json::Value,
    },
}

/// Which bookings [`crate::Store::list_bookings`] returns; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BookingFilter {
    pub status: Option<BookingStatus>,
    pub user_id: Option<Uuid>,
    pub agent_id: Option<Uuid>,
    /// Only bookings ending after this instant.
    pub from: Option<Timestamp>,
    /// Only bookings starting before this instant.
    pub to: Option<Timestamp>,
    /// At most this many (default [`DEFAULT_BOOKING_LIMIT`]).
    pub limit: Option<u32>,
}

/// How many bookings [`crate::Store::list_bookings`] returns when the filter names no limit.
pub const DEFAULT_BOOKING_LIMIT: u32 = 500;

/// What team assignment needs to know about a member's bookings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStats {
    pub user_id: Uuid,
    /// The latest `created_at` of the member's confirmed bookings.
    pub last_booked_at: Option<Timestamp>,
    /// Confirmed bookings starting at or after `now`.
    pub upcoming: u32,
}

/// A job for the outbox, written in the transaction of the change it follows from.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What the worker does with it, e.g. `google.write_event`, `webhook.booking_created`.
    pub kind: String,
    pub payload: serde_json::Value,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for `next_attempt_at`.
    Pending,
    /// Claimed by a worker whose lease ends at `next_attempt_at`.
    Running,
    Done,
    /// Given up for good.
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<JobStatus> {
        match value {
            "pending" => Some(JobStatus::Pending),
            "running" => Some(JobStatus::Running),
            "done" => Some(JobStatus::Done),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        }
    }
}

/// A durable job of the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    /// Claims so far, including the current one.
    pub attempts: i32,
    /// Pending: when the job may run. Running: when the lease ends and another worker may
    /// claim it (its worker is presumed dead).
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A publishable widget key (`pk_…`): lets browsers on its allowed origins read one agent's
/// slots and book with that agent, nothing else. Public-ish, but still only hashed at rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetKey {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub agent_id: Uuid,
    pub name: String,
    /// Public part, used to find the key; the rest is only hashed.
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: String,
    /// Origins (`scheme://host[:port]`) whose pages may use the key; the server's own pages
    /// always may.
    pub allowed_origins: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewWidgetKey {
    pub agent_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub allowed_origins: Vec<String>,
}

/// A partial update; `None` leaves the field alone. `secret` (prefix, hash) rotates the key.
#[derive(Debug, Clone, Default)]
pub struct WidgetKeyPatch {
    pub name: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub secret: Option<(String, String)>,
}
