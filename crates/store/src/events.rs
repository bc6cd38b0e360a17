//! Calendar events, and the busy time availability reads from them.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::*;

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
    /// Synchronised from Outlook (Microsoft Graph).
    Microsoft,
    /// Synchronised from a CalDAV calendar (iCloud, Fastmail, Nextcloud, …).
    Caldav,
}

impl EventSource {
    /// The sources of busy time synchronised from a connected calendar, one per connection
    /// kind (the kind's name is the source's).
    pub const SYNCED: [EventSource; 3] = [
        EventSource::Google,
        EventSource::Microsoft,
        EventSource::Caldav,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Internal => "internal",
            EventSource::Google => "google",
            EventSource::Booking => "booking",
            EventSource::Microsoft => "microsoft",
            EventSource::Caldav => "caldav",
        }
    }

    pub fn parse(value: &str) -> Option<EventSource> {
        match value {
            "internal" => Some(EventSource::Internal),
            "google" => Some(EventSource::Google),
            "booking" => Some(EventSource::Booking),
            "microsoft" => Some(EventSource::Microsoft),
            "caldav" => Some(EventSource::Caldav),
            _ => None,
        }
    }

    /// Whether this is busy time synchronised from a connected calendar.
    pub fn is_synced(self) -> bool {
        Self::SYNCED.contains(&self)
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
    pub id: EventId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// The calendar connection this event was synchronised from, if any.
    pub provider_id: Option<ConnectionId>,
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
    pub booking_id: Option<BookingId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A calendar event to create, or the new state of one to replace. See [`CalendarEvent`] for
/// how all-day events carry their dates.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCalendarEvent {
    pub user_id: UserId,
    pub provider_id: Option<ConnectionId>,
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
    pub booking_id: Option<BookingId>,
}

/// Which events [`crate::EventStore::list_events`] returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    /// Only these users' events; empty means every user of the tenant.
    pub user_ids: Vec<UserId>,
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
    pub user_id: UserId,
    pub start: Timestamp,
    pub end: Timestamp,
    pub all_day: bool,
}

/// A calendar event that blocks time (as [`BusyEvent`] counts them), with its title: only
/// what a day's list of busy blocks shows, read without the rest of the event's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitledBusyEvent {
    pub user_id: UserId,
    pub title: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub all_day: bool,
}

/// How far [`crate::EventStore::list_events`] and [`crate::EventStore::busy_events`] widen a range for
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
        widened_for_all_day((self.start, self.end))
    }
}

/// `range` widened by [`ALL_DAY_WIDENING`] on both sides, saturating at the ends of time: where
/// the carriers of all-day events that may meet it lie.
pub fn widened_for_all_day(range: (Timestamp, Timestamp)) -> (Timestamp, Timestamp) {
    (
        range
            .0
            .checked_sub(ALL_DAY_WIDENING)
            .unwrap_or(Timestamp::MIN),
        range
            .1
            .checked_add(ALL_DAY_WIDENING)
            .unwrap_or(Timestamp::MAX),
    )
}

/// `$1` to `$6` of both backends' busy-time queries: the tenant, the users (one id, or a list),
/// `range` widened for all-day carriers, and `range` itself.
pub fn busy_values<'a>(
    tenant: TenantId,
    users: impl Into<StoredValue<'a>>,
    range: (Timestamp, Timestamp),
) -> [StoredValue<'a>; 6] {
    let wide = widened_for_all_day(range);
    [
        tenant.into(),
        users.into(),
        wide.0.into(),
        wide.1.into(),
        range.0.into(),
        range.1.into(),
    ]
}

/// The zones all-day events are read in for one user, as both backends' zone query selects
/// them: the default rule's `timezone` (`rule_zone`, when the rule names one), then the user's
/// own (`time_zone`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserZones {
    pub rule_zone: Option<String>,
    pub time_zone: String,
}

impl FromStored for UserZones {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(UserZones {
            rule_zone: row.get_optional("rule_zone")?,
            time_zone: row.get("time_zone")?,
        })
    }
}

/// Whether `events`, one user's blocking events near `range`, block it (see [`blocks_any`]).
/// `zones` reads the user's zones; it runs only when an all-day event needs them, and finding
/// no user reads every all-day event without a zone.
pub async fn blocks_range(
    events: &[BusyEvent],
    range: (Timestamp, Timestamp),
    zones: impl AsyncFnOnce() -> StoreResult<Option<UserZones>>,
) -> StoreResult<bool> {
    if !events.iter().any(|event| event.all_day) {
        return Ok(blocks_any(events, &[], range));
    }
    let zones = zones().await?;
    let names: Vec<&str> = zones
        .iter()
        .flat_map(|zones| zones.rule_zone.iter().chain([&zones.time_zone]))
        .map(String::as_str)
        .collect();
    Ok(blocks_any(events, &names, range))
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

/// Calendar events and the busy time they make.
///
/// Every write also bumps the event's user's busy version in the same transaction, which is what
/// invalidates cached availability.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Creates an event with the given id (the caller picks it, a v7 id from [`new_id`], so
    /// its jobs can name it).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::User`] when the user is not in this tenant;
    /// [`Constraint::EventExternalId`] when the provider already has an
    /// event with this external id.
    async fn create_event(
        &self,
        tenant: TenantId,
        id: EventId,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<CalendarEvent>;
    async fn get_event(&self, tenant: TenantId, id: EventId) -> StoreResult<Option<CalendarEvent>>;
    /// Replaces every mutable field (`event.user_id` is ignored: the user stays). `None` if
    /// absent in this tenant (and no job is queued).
    async fn replace_event(
        &self,
        tenant: TenantId,
        id: EventId,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<Option<CalendarEvent>>;
    /// Deletes an event. False if absent in this tenant (and no job is queued).
    async fn delete_event(
        &self,
        tenant: TenantId,
        id: EventId,
        jobs: &[NewJob],
    ) -> StoreResult<bool>;
    /// Events overlapping `[from, to)` (either bound optional), sorted by start then id.
    /// All-day events are included when their date carriers are within one day
    /// ([`ALL_DAY_WIDENING`]) of the range; the caller refines them by zone.
    async fn list_events(
        &self,
        tenant: TenantId,
        filter: &EventFilter,
    ) -> StoreResult<Vec<CalendarEvent>>;
    /// Busy time of these users overlapping `[from, to)`, in one query: calendar events that
    /// are confirmed or tentative, opaque, and not a booking's own entry (source `booking`),
    /// plus every confirmed booking's *occupied* range (with its buffers, `all_day` false).
    /// All-day events use the one-day widening of `list_events`. Any order.
    async fn busy_events(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> StoreResult<Vec<BusyEvent>>;
    /// The calendar events of these users that block time (those [`EventStore::busy_events`]
    /// counts: confirmed or tentative, opaque, not a booking's own entry) overlapping
    /// `[from, to)`, with their titles, ordered by start. All-day events use the same one-day
    /// widening. Only five columns are read, so a day of a big team's events stays cheap.
    async fn titled_busy_events(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> StoreResult<Vec<TitledBusyEvent>>;
    /// A counter per user, bumped in the same transaction as every change to that user's
    /// events and rules (and later bookings): lets the server cache busy time and rules safely
    /// across processes. `(user_id, version)` for each listed user of the tenant (any order;
    /// users of other tenants and unknown ids are left out).
    async fn busy_versions(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
    ) -> StoreResult<Vec<(UserId, i64)>>;
    /// A booking's own calendar event (source `booking`).
    async fn booking_event(
        &self,
        tenant: TenantId,
        booking_id: BookingId,
    ) -> StoreResult<Option<CalendarEvent>>;
}

impl FromStored for CalendarEvent {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(CalendarEvent {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            user_id: row.get("user_id")?,
            provider_id: row.get_optional("provider_id")?,
            external_id: row.get_optional("external_id")?,
            etag: row.get_optional("etag")?,
            title: row.get("title")?,
            description: row.get_optional("description")?,
            start: row.get("start_at")?,
            end: row.get("end_at")?,
            all_day: row.get("all_day")?,
            status: row.get_parsed("status", "status", EventStatus::parse)?,
            transparency: row.get_parsed("transparency", "transparency", Transparency::parse)?,
            source: row.get_parsed("source", "source", EventSource::parse)?,
            booking_id: row.get_optional("booking_id")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl FromStored for BusyEvent {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(BusyEvent {
            user_id: row.get("user_id")?,
            start: row.get("start_at")?,
            end: row.get("end_at")?,
            all_day: row.get("all_day")?,
        })
    }
}

impl FromStored for TitledBusyEvent {
    fn from_stored(row: &impl StoredRow) -> StoreResult<Self> {
        Ok(TitledBusyEvent {
            user_id: row.get("user_id")?,
            title: row.get("title")?,
            start: row.get("start_at")?,
            end: row.get("end_at")?,
            all_day: row.get("all_day")?,
        })
    }
}

impl NewCalendarEvent {
    /// `$1` to `$16` of both backends' `INSERT INTO calendar_events`: id, tenant, user, the
    /// event's columns (see [`NewCalendarEvent::replace_values`]) and `now` for both timestamps.
    pub fn insert_values(
        &self,
        tenant: TenantId,
        id: EventId,
        now: Timestamp,
    ) -> Vec<StoredValue<'_>> {
        let head = [id.into(), tenant.into(), self.user_id.into()];
        head.into_iter().chain(self.columns(now)).collect()
    }

    /// `$1` to `$15` of both backends' `UPDATE calendar_events` of a whole event: tenant and id,
    /// then provider, external id, etag, title, description, start, end, all day, status,
    /// transparency, source, booking and `now`.
    pub fn replace_values(
        &self,
        tenant: TenantId,
        id: EventId,
        now: Timestamp,
    ) -> Vec<StoredValue<'_>> {
        let head = [tenant.into(), id.into()];
        head.into_iter().chain(self.columns(now)).collect()
    }

    /// One row of both backends' insert of synchronised events: id, tenant, user, provider,
    /// the columns a provider sets (external id to transparency), `now` for both timestamps,
    /// and the source (the connection kind's: `google`, `microsoft` or `caldav`).
    pub fn synced_values(
        &self,
        tenant: TenantId,
        id: EventId,
        user: UserId,
        provider: ConnectionId,
        now: Timestamp,
    ) -> Vec<StoredValue<'_>> {
        let head = [id.into(), tenant.into(), user.into(), provider.into()];
        // Before Outlook and CalDAV every synced event was Google's: a source that is not a
        // synced one keeps that meaning.
        let source = if self.source.is_synced() {
            self.source
        } else {
            EventSource::Google
        };
        let tail = [now.into(), now.into(), source.as_str().into()];
        head.into_iter()
            .chain(self.provider_columns())
            .chain(tail)
            .collect()
    }

    fn columns(&self, now: Timestamp) -> impl Iterator<Item = StoredValue<'_>> {
        let source = [
            self.source.as_str().into(),
            self.booking_id.into(),
            now.into(),
        ];
        [self.provider_id.into()]
            .into_iter()
            .chain(self.provider_columns())
            .chain(source)
    }

    /// External id, etag, title, description, start, end, all day, status and transparency.
    fn provider_columns(&self) -> [StoredValue<'_>; 9] {
        [
            (&self.external_id).into(),
            (&self.etag).into(),
            (&self.title).into(),
            (&self.description).into(),
            self.start.into(),
            self.end.into(),
            self.all_day.into(),
            self.status.as_str().into(),
            self.transparency.as_str().into(),
        ]
    }
}

impl EventFilter {
    /// What both backends' `list_events` ANDs after the tenant and the users: cancelled
    /// events left out unless asked for, then the range, all-day carriers within a day of it.
    pub fn conditions(&self) -> Vec<Fragment<'_>> {
        let mut conditions = Vec::new();
        if !self.include_cancelled {
            conditions.push(Fragment::new("status <> 'cancelled'"));
        }
        let range = (
            self.from.unwrap_or(Timestamp::MIN),
            self.to.unwrap_or(Timestamp::MAX),
        );
        let wide = widened_for_all_day(range);
        if let Some(from) = self.from {
            conditions.push(Fragment::bound("end_at > ?", wide.0));
            conditions.push(Fragment::bound("(all_day OR end_at > ?)", from));
        }
        if let Some(to) = self.to {
            conditions.push(Fragment::bound("start_at < ?", wide.1));
            conditions.push(Fragment::bound("(all_day OR start_at < ?)", to));
        }
        conditions
    }
}
