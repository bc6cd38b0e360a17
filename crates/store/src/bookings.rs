//! Bookings of one member's time.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::*;

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

/// Where a booking was made: which edge of the server took the request. Bookings made before
/// it was recorded have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookingChannel {
    /// Retell's custom functions.
    Retell,
    /// Vapi's server tools.
    Vapi,
    /// An MCP client.
    Mcp,
    /// The in-call widget embedded on a site (or the demo call page).
    Widget,
    /// The hosted booking page.
    Hosted,
    /// The calendar API (`POST /api/calendar/booking` and series).
    Api,
    /// The dashboard.
    Dashboard,
}

impl BookingChannel {
    /// Every channel, in the order pages list them.
    pub const ALL: [BookingChannel; 7] = [
        BookingChannel::Retell,
        BookingChannel::Vapi,
        BookingChannel::Mcp,
        BookingChannel::Widget,
        BookingChannel::Hosted,
        BookingChannel::Api,
        BookingChannel::Dashboard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BookingChannel::Retell => "retell",
            BookingChannel::Vapi => "vapi",
            BookingChannel::Mcp => "mcp",
            BookingChannel::Widget => "widget",
            BookingChannel::Hosted => "hosted",
            BookingChannel::Api => "api",
            BookingChannel::Dashboard => "dashboard",
        }
    }

    pub fn parse(value: &str) -> Option<BookingChannel> {
        BookingChannel::ALL
            .into_iter()
            .find(|channel| channel.as_str() == value)
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
    pub id: BookingId,
    pub tenant_id: TenantId,
    /// The voice agent that booked it, if any.
    pub agent_id: Option<AgentId>,
    /// The user whose time is booked.
    pub user_id: UserId,
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
    /// Where it was made; `None` for bookings older than the record of it.
    pub channel: Option<BookingChannel>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Booking {
    /// The range the booking keeps free of other bookings: `[start - before, end + after)`.
    pub fn occupied(&self) -> (Timestamp, Timestamp) {
        self.occupied_if_moved(self.start, self.end)
    }

    /// The range the booking would occupy moved to `[start, end)`, with the same buffers.
    pub fn occupied_if_moved(&self, start: Timestamp, end: Timestamp) -> (Timestamp, Timestamp) {
        occupied_range(
            start,
            end,
            self.buffer_before_minutes,
            self.buffer_after_minutes,
        )
    }

    /// Refuses to move a booking that is no longer confirmed.
    ///
    /// # Errors
    /// [`Constraint::BookingNotConfirmed`] when it is cancelled.
    pub fn ensure_confirmed(&self) -> StoreResult<()> {
        match self.status {
            BookingStatus::Confirmed => Ok(()),
            BookingStatus::Cancelled => Err(StoreError::Conflict(Constraint::BookingNotConfirmed)),
        }
    }
}

/// A booking to create. The caller picks the id ([`new_id`]) so that it can render its
/// response (and the outbox jobs' payloads) before the transaction commits.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBooking {
    pub id: BookingId,
    pub agent_id: Option<AgentId>,
    pub user_id: UserId,
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
    /// Where it is being made.
    pub channel: Option<BookingChannel>,
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

/// A per-member limit checked when a booking is written: at most `max` confirmed bookings of the
/// member may start in `[from, to)`, the new one included (a local day or week, worked out by
/// the caller in the member's zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingCap {
    pub from: Timestamp,
    pub to: Timestamp,
    pub max: u32,
}

/// Which bookings [`crate::BookingStore::list_bookings`] returns; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BookingFilter {
    pub status: Option<BookingStatus>,
    pub user_id: Option<UserId>,
    pub agent_id: Option<AgentId>,
    /// Only bookings made through this channel.
    pub channel: Option<BookingChannel>,
    /// Only bookings ending after this instant.
    pub from: Option<Timestamp>,
    /// Only bookings starting before this instant.
    pub to: Option<Timestamp>,
    /// At most this many (default [`DEFAULT_BOOKING_LIMIT`]).
    pub limit: Option<u32>,
}

/// How many bookings [`crate::BookingStore::list_bookings`] returns when the filter names no limit.
pub const DEFAULT_BOOKING_LIMIT: u32 = 500;

/// What team assignment needs to know about a member's bookings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStats {
    pub user_id: UserId,
    /// The latest `created_at` of the member's confirmed bookings.
    pub last_booked_at: Option<Timestamp>,
    /// Confirmed bookings starting at or after `now`.
    pub upcoming: u32,
}

/// Bookings. The database, not the caller, refuses two confirmed bookings of one member that
/// overlap.
#[async_trait]
pub trait BookingStore: Send + Sync {
    /// Books atomically. In one transaction: checks that the booking's occupied range overlaps
    /// no other confirmed booking's occupied range of the same user, nor a blocking calendar
    /// event of the user (confirmed or tentative, opaque, source not `booking`); inserts the
    /// booking, its calendar event (source `booking`, `[start, end)`, opaque, confirmed), the
    /// `jobs` and, if given, the `response` (key done); bumps the user's busy version.
    ///
    /// All-day events block their local dates in the zone of the user's default rule (the
    /// zone availability uses), else the user's own zone; when neither parses, their carriers
    /// widened by [`ALL_DAY_WIDENING`] on both sides (too much rather than too little).
    ///
    /// # Errors
    /// [`Constraint::BookingOverlap`] when the time is taken (by a booking or
    /// an event), on `bookings_tenant_code` when the confirmation code exists in the tenant;
    /// [`StoreError::MissingReference`] of [`Entity::User`] (or `"agent"`) when the user (or
    /// the agent) is not in this tenant.
    async fn create_booking(
        &self,
        tenant: TenantId,
        booking: &NewBooking,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Booking>;
    /// [`BookingStore::create_booking`], refusing the booking when the member already has
    /// `cap.max` confirmed bookings starting in any cap's range. The count is taken in the same
    /// transaction as the insert, after the member's write lock (SQLite's immediate
    /// transaction; the member's row lock on PostgreSQL), so racing bookings cannot overshoot.
    ///
    /// # Errors
    /// Those of `create_booking`, and [`Constraint::BookingLimit`] when a cap is reached.
    async fn create_capped_booking(
        &self,
        tenant: TenantId,
        booking: &NewBooking,
        caps: &[BookingCap],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Booking>;
    async fn get_booking(&self, tenant: TenantId, id: BookingId) -> StoreResult<Option<Booking>>;
    /// The booking with exactly this confirmation code.
    async fn find_booking_by_code(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> StoreResult<Option<Booking>>;
    /// Bookings overlapping `[from, to)` (by `[start, end)`, either bound optional) that match
    /// the filter, sorted by start then id; at most `limit` ([`DEFAULT_BOOKING_LIMIT`]).
    async fn list_bookings(
        &self,
        tenant: TenantId,
        filter: &BookingFilter,
    ) -> StoreResult<Vec<Booking>>;
    /// Cancels a confirmed booking: status cancelled, `reason`, `cancelled_at`; its calendar
    /// event becomes cancelled; jobs and response written; busy version bumped. `None` if
    /// absent in this tenant. An already cancelled booking is returned unchanged: no jobs, no
    /// bump (the response, if given, is still recorded).
    async fn cancel_booking(
        &self,
        tenant: TenantId,
        id: BookingId,
        reason: Option<&str>,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>>;
    /// Moves a confirmed booking to `[start, end)` (same user, same buffers) atomically: the
    /// overlap rules of `create_booking`, ignoring the booking itself; the old time is released
    /// only if the new one is taken. Updates its calendar event; jobs, response, bump. `None`
    /// if absent in this tenant.
    ///
    /// # Errors
    /// [`Constraint::BookingOverlap`] when the new time is taken (the booking
    /// stays where it was), on `booking_not_confirmed` when the booking is cancelled.
    async fn reschedule_booking(
        &self,
        tenant: TenantId,
        id: BookingId,
        start: jiff::Timestamp,
        end: jiff::Timestamp,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>>;
    /// [`BookingStore::reschedule_booking`], refusing the move when the member already has
    /// `cap.max` other confirmed bookings starting in any cap's range (the booking moved does
    /// not count against itself, so a move within its own day or week stays allowed). Counted
    /// after the member's write lock, in the transaction of the update, like
    /// [`BookingStore::create_capped_booking`].
    ///
    /// # Errors
    /// Those of `reschedule_booking`, and [`Constraint::BookingLimit`] when a cap is reached
    /// (the booking stays where it was).
    #[allow(clippy::too_many_arguments)]
    async fn reschedule_capped_booking(
        &self,
        tenant: TenantId,
        id: BookingId,
        start: jiff::Timestamp,
        end: jiff::Timestamp,
        caps: &[BookingCap],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>>;
    /// One row per listed user of the tenant (unknown ids and other tenants' users are left
    /// out; any order).
    async fn member_stats(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
        now: jiff::Timestamp,
    ) -> StoreResult<Vec<MemberStats>>;
}

impl FromStored for Booking {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(Booking {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            agent_id: row.get_optional("agent_id")?,
            user_id: row.get("user_id")?,
            confirmation_code: row.get("confirmation_code")?,
            start: row.get("start_at")?,
            end: row.get("end_at")?,
            buffer_before_minutes: row.get("buffer_before_minutes")?,
            buffer_after_minutes: row.get("buffer_after_minutes")?,
            attendee: Attendee {
                name: row.get("attendee_name")?,
                email: row.get_optional("attendee_email")?,
                phone: row.get_optional("attendee_phone")?,
            },
            notes: row.get_optional("notes")?,
            title: row.get("title")?,
            description: row.get_optional("description")?,
            status: row.get_parsed("status", "booking status", BookingStatus::parse)?,
            cancel_reason: row.get_optional("cancel_reason")?,
            cancelled_at: row.get_optional("cancelled_at")?,
            call_id: row.get_optional("call_id")?,
            channel: match row.get_optional::<String>("channel")? {
                None => None,
                Some(text) => Some(
                    BookingChannel::parse(&text)
                        .ok_or_else(|| StoreError::Corrupt(format!("booking channel {text:?}")))?,
                ),
            },
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl NewBooking {
    /// `$1` to `$17` of both backends' `INSERT INTO bookings`: id, tenant, agent, user, code,
    /// start, end, both buffers, the attendee's name, e-mail and phone, notes, title,
    /// description, call, and `now` for both timestamps. The booking's status is `confirmed`.
    pub fn insert_values(&self, tenant: TenantId, now: Timestamp) -> [StoredValue<'_>; 17] {
        [
            self.id.into(),
            tenant.into(),
            self.agent_id.into(),
            self.user_id.into(),
            (&self.confirmation_code).into(),
            self.start.into(),
            self.end.into(),
            self.buffer_before_minutes.into(),
            self.buffer_after_minutes.into(),
            (&self.attendee.name).into(),
            (&self.attendee.email).into(),
            (&self.attendee.phone).into(),
            (&self.notes).into(),
            (&self.title).into(),
            (&self.description).into(),
            (&self.call_id).into(),
            now.into(),
        ]
    }

    /// The channel, bound after the backend's other parameters of the same `INSERT`.
    pub fn channel_value(&self) -> StoredValue<'static> {
        self.channel.map(BookingChannel::as_str).into()
    }
}

impl BookingFilter {
    /// What both backends' `list_bookings` ANDs after the tenant, in the filter's order.
    pub fn conditions(&self) -> Vec<Fragment<'_>> {
        let conditions = [
            self.status
                .map(|status| Fragment::bound("status = ?", status.as_str())),
            self.user_id
                .map(|user| Fragment::bound("user_id = ?", user)),
            self.agent_id
                .map(|agent| Fragment::bound("agent_id = ?", agent)),
            self.channel
                .map(|channel| Fragment::bound("channel = ?", channel.as_str())),
            self.from.map(|from| Fragment::bound("end_at > ?", from)),
            self.to.map(|to| Fragment::bound("start_at < ?", to)),
        ];
        conditions.into_iter().flatten().collect()
    }

    /// The `LIMIT` of `list_bookings`: the filter's, else [`DEFAULT_BOOKING_LIMIT`].
    pub fn limit_value(&self) -> StoredValue<'static> {
        i64::from(self.limit.unwrap_or(DEFAULT_BOOKING_LIMIT)).into()
    }
}

impl MemberStats {
    /// A row of both backends' `member_stats` query: the user, the latest `created_at` of
    /// their confirmed bookings, and how many confirmed bookings start from `now` on.
    pub fn from_counts(user_id: UserId, last_booked_at: Option<Timestamp>, upcoming: i64) -> Self {
        MemberStats {
            user_id,
            last_booked_at,
            upcoming: u32::try_from(upcoming).unwrap_or(u32::MAX),
        }
    }
}
