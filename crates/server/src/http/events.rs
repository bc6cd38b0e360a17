//! `/api/calendar/events`: the events in members' calendars.
//!
//! A timed event has `start_time` and `end_time` (RFC 3339 with an offset or `Z`). An all-day
//! event has `all_day: true`, `start_date` and an exclusive `end_date` (`YYYY-MM-DD`): dates,
//! not instants, so it covers those local dates wherever its member is; responses also give the
//! instants they cover in the member's zone (`User.time_zone`). Events are busy unless marked
//! `transparent` (or `"busy": false`).
//!
//! Only events made here (`source = internal`) can be changed here: a booking's entry moves with
//! the booking, and a synchronised event belongs to its provider.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use pillow_engine::Interval;
use pillow_store::{
    BookingId, CalendarEvent, EventFilter, EventId, EventSource, EventStatus, NewCalendarEvent,
    Transparency, User, UserId,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{json_object, parse_bound, parse_date, parse_id, parse_instant};
use crate::AppState;
use crate::domain::time::utc_date;
use crate::domain::time::{AllDayDate, stored_zone};
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::json::from_value;

/// The longest window one listing may cover.
pub const MAX_WINDOW_DAYS: i64 = 366;
/// What a listing covers from `start` when no `end` is given.
pub const DEFAULT_WINDOW_DAYS: i64 = 30;
/// The longest timed event.
pub const MAX_TIMED_EVENT_DAYS: i64 = 31;
/// The longest all-day event, in dates.
pub const MAX_ALL_DAY_EVENT_DAYS: i64 = 366;
pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events, create_event))
        .routes(routes!(get_event, update_event, delete_event))
}

/// An event as the API shows it; instants in UTC with `Z`.
#[derive(Serialize, ToSchema)]
struct EventView {
    id: EventId,
    user_id: UserId,
    title: String,
    description: Option<String>,
    /// For all-day events: the start of `start_date` in the member's zone.
    #[schema(value_type = String, format = DateTime)]
    start_time: Timestamp,
    /// For all-day events: the start of `end_date` in the member's zone.
    #[schema(value_type = String, format = DateTime)]
    end_time: Timestamp,
    all_day: bool,
    /// All-day events only: the first date.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    start_date: Option<Date>,
    /// All-day events only: the day after the last date (exclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    end_date: Option<Date>,
    /// `confirmed`, `tentative` or `cancelled`.
    #[schema(value_type = String, example = "confirmed")]
    status: EventStatus,
    /// `opaque` (busy) or `transparent` (free).
    #[schema(value_type = String, example = "opaque")]
    transparency: Transparency,
    /// `internal` (made here), `booking` or `google`.
    #[schema(value_type = String, example = "internal")]
    source: EventSource,
    booking_id: Option<BookingId>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

#[derive(Serialize, ToSchema)]
struct EventList {
    events: Vec<EventView>,
}

/// An event to create. A timed event gives `start_time` and `end_time`; an all-day event gives
/// `all_day: true`, `start_date` and optionally `end_date`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventInput {
    /// Whose calendar: yours by default; admins and API keys name a member.
    user_id: Option<String>,
    /// 1 to 500 characters.
    title: Option<String>,
    description: Option<String>,
    /// Timed events: RFC 3339 with an offset or `Z`, e.g. `2024-02-15T09:00:00-08:00`.
    start_time: Option<String>,
    /// Timed events: after `start_time`, at most 31 days later.
    end_time: Option<String>,
    /// `true` for an all-day event.
    all_day: Option<bool>,
    /// All-day events: `YYYY-MM-DD`.
    start_date: Option<String>,
    /// All-day events: exclusive; default the day after `start_date`.
    end_date: Option<String>,
    /// `confirmed` (default) or `tentative`; a change may also set `cancelled`.
    status: Option<String>,
    /// `opaque` (default: busy) or `transparent` (free).
    transparency: Option<String>,
    /// Same as `transparency`: `false` means `transparent`.
    busy: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Window start: an RFC 3339 instant or a local date in the member's zone; default now.
    start: Option<String>,
    /// Window end (exclusive): an RFC 3339 instant or a local date (the window then includes
    /// the whole of that date); default 30 days after `start`, at most 366 days after it.
    end: Option<String>,
    /// A member of your tenant (default: you; an API key must name one).
    user_id: Option<String>,
    /// `true` to include cancelled events.
    include_cancelled: Option<String>,
}

fn date_carrier(field: &str, date: Date) -> ApiResult<Timestamp> {
    AllDayDate(date).carrier().ok_or_else(|| {
        ApiError::invalid(field, ErrorCode::InvalidDate, "The date is out of range.")
    })
}

/// The member's zone (see [`stored_zone`] for one that no longer resolves); UTC without a
/// member.
fn zone_of(user: Option<&User>) -> TimeZone {
    user.map_or(TimeZone::UTC, |u| stored_zone(&u.time_zone))
}

/// The instants an event covers: all-day dates become local midnights in `zone`.
fn covered(event: &CalendarEvent, zone: &TimeZone) -> (Timestamp, Timestamp) {
    if event.all_day {
        pillow_engine::all_day_interval(utc_date(event.start), utc_date(event.end), zone)
            .map_or((event.start, event.end), |i| (i.start, i.end))
    } else {
        (event.start, event.end)
    }
}

fn view(event: CalendarEvent, zone: &TimeZone) -> EventView {
    let (start_time, end_time) = covered(&event, zone);
    let (start_date, end_date) = if event.all_day {
        (Some(utc_date(event.start)), Some(utc_date(event.end)))
    } else {
        (None, None)
    };
    EventView {
        id: event.id,
        user_id: event.user_id,
        title: event.title,
        description: event.description,
        start_time,
        end_time,
        all_day: event.all_day,
        start_date,
        end_date,
        status: event.status,
        transparency: event.transparency,
        source: event.source,
        booking_id: event.booking_id,
        created_at: event.created_at,
        updated_at: event.updated_at,
    }
}

/// What the member named by `user_id` (or the calling user) may have done to their calendar.
#[derive(Clone, Copy, PartialEq)]
enum Access {
    /// Any member of the tenant may read anyone's events.
    Read,
    /// Members write their own; admins anyone's.
    Write,
}

/// The member whose calendar this is: the one named by `user_id`, or the calling user.
async fn member(
    state: &AppState,
    caller: &Caller,
    user_id: Option<&str>,
    access: Access,
) -> ApiResult<User> {
    let Some(raw) = user_id else {
        return caller.user().cloned().ok_or_else(|| {
            ApiError::invalid(
                "user_id",
                ErrorCode::UserIdRequired,
                "An API key acts for no one in particular: name the member in `user_id`.",
            )
        });
    };
    let id = parse_id(raw, "user")?;
    if let Some(me) = caller.user().filter(|u| u.id == id) {
        return Ok(me.clone());
    }
    let user = state
        .store
        .get_user(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if access == Access::Write {
        caller.require_admin()?;
    }
    Ok(user)
}

/// The owner of an existing event, for its zone.
async fn owner(state: &AppState, caller: &Caller, user_id: UserId) -> ApiResult<Option<User>> {
    if let Some(me) = caller.user().filter(|u| u.id == user_id) {
        return Ok(Some(me.clone()));
    }
    Ok(state.store.get_user(caller.tenant, user_id).await?)
}

fn required<'a>(field: &str, value: Option<&'a str>) -> ApiResult<&'a str> {
    value.ok_or_else(|| {
        ApiError::invalid(
            field,
            ErrorCode::Required,
            format!("`{field}` is required."),
        )
    })
}

fn window(query: &ListQuery, zone: &TimeZone, now: Timestamp) -> ApiResult<Interval> {
    let start = match &query.start {
        Some(raw) => parse_bound("start", raw, zone, false)?,
        None => now,
    };
    let end = match &query.end {
        Some(raw) => parse_bound("end", raw, zone, true)?,
        None => start
            .checked_add(SignedDuration::from_hours(24 * DEFAULT_WINDOW_DAYS))
            .map_err(|_| {
                ApiError::invalid("start", ErrorCode::InvalidTime, "`start` is out of range.")
            })?,
    };
    let window = Interval::new(start, end).ok_or_else(|| {
        ApiError::invalid(
            "end",
            ErrorCode::InvalidRange,
            "`end` must be after `start`.",
        )
    })?;
    if window.duration() > SignedDuration::from_hours(24 * MAX_WINDOW_DAYS) {
        return Err(ApiError::invalid(
            "end",
            ErrorCode::WindowTooLong,
            format!("Ask for at most {MAX_WINDOW_DAYS} days at once."),
        ));
    }
    Ok(window)
}

fn parse_flag(field: &str, raw: Option<&str>) -> ApiResult<bool> {
    match raw {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid(
            field,
            ErrorCode::InvalidBoolean,
            format!("`{field}` is `true` or `false`."),
        )),
    }
}

/// An event's fields after validation, ready for the store.
struct Valid {
    title: String,
    description: Option<String>,
    start: Timestamp,
    end: Timestamp,
    all_day: bool,
    status: EventStatus,
    transparency: Transparency,
}

impl Valid {
    fn into_new(self, user_id: UserId) -> NewCalendarEvent {
        NewCalendarEvent {
            user_id,
            provider_id: None,
            external_id: None,
            etag: None,
            title: self.title,
            description: self.description,
            start: self.start,
            end: self.end,
            all_day: self.all_day,
            status: self.status,
            transparency: self.transparency,
            source: EventSource::Internal,
            booking_id: None,
        }
    }
}

/// Checks an event whole. `may_cancel` allows `status: cancelled` (changes only: a new event
/// that does not happen is not worth making).
fn validate(input: &EventInput, may_cancel: bool) -> ApiResult<Valid> {
    let title = required("title", input.title.as_deref())?.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::invalid(
            "title",
            ErrorCode::InvalidTitle,
            format!("A title has 1 to {MAX_TITLE_CHARS} characters."),
        ));
    }
    let description = match input.description.as_deref().map(str::trim) {
        Some(text) if text.chars().count() > MAX_DESCRIPTION_CHARS => {
            return Err(ApiError::invalid(
                "description",
                ErrorCode::InvalidDescription,
                format!("A description has at most {MAX_DESCRIPTION_CHARS} characters."),
            ));
        }
        Some("") | None => None,
        Some(text) => Some(text.to_string()),
    };
    let all_day = input.all_day.unwrap_or(false);
    let (start, end) = if all_day {
        all_day_dates(input)?
    } else {
        timed(input)?
    };
    let status = match input.status.as_deref() {
        None => EventStatus::Confirmed,
        Some(raw) => match EventStatus::parse(raw) {
            Some(EventStatus::Cancelled) if !may_cancel => None,
            parsed => parsed,
        }
        .ok_or_else(|| {
            ApiError::invalid(
                "status",
                ErrorCode::InvalidStatus,
                if may_cancel {
                    "`status` is confirmed, tentative or cancelled."
                } else {
                    "`status` is confirmed or tentative."
                },
            )
        })?,
    };
    let transparency = transparency(input)?;
    Ok(Valid {
        title: title.to_string(),
        description,
        start,
        end,
        all_day,
        status,
        transparency,
    })
}

fn timed(input: &EventInput) -> ApiResult<(Timestamp, Timestamp)> {
    for (field, value) in [
        ("start_date", &input.start_date),
        ("end_date", &input.end_date),
    ] {
        if value.is_some() {
            return Err(ApiError::invalid(
                field,
                ErrorCode::ConflictingFields,
                format!(
                    "`{field}` is for all-day events: send `\"all_day\": true`, or give \
                     `start_time` and `end_time`."
                ),
            ));
        }
    }
    let start = parse_instant(
        "start_time",
        required("start_time", input.start_time.as_deref())?,
    )?;
    let end = parse_instant("end_time", required("end_time", input.end_time.as_deref())?)?;
    if end <= start {
        return Err(ApiError::invalid(
            "end_time",
            ErrorCode::InvalidRange,
            "`end_time` must be after `start_time`.",
        ));
    }
    if start.duration_until(end) > SignedDuration::from_hours(24 * MAX_TIMED_EVENT_DAYS) {
        return Err(ApiError::invalid(
            "end_time",
            ErrorCode::EventTooLong,
            format!(
                "An event lasts at most {MAX_TIMED_EVENT_DAYS} days; use an all-day event for \
                 longer absences."
            ),
        ));
    }
    Ok((start, end))
}

fn all_day_dates(input: &EventInput) -> ApiResult<(Timestamp, Timestamp)> {
    for (field, value) in [
        ("start_time", &input.start_time),
        ("end_time", &input.end_time),
    ] {
        if value.is_some() {
            return Err(ApiError::invalid(
                field,
                ErrorCode::ConflictingFields,
                format!("An all-day event has `start_date` and `end_date`, not `{field}`."),
            ));
        }
    }
    let start = parse_date(
        "start_date",
        required("start_date", input.start_date.as_deref())?,
    )?;
    let end = match input.end_date.as_deref() {
        Some(raw) => parse_date("end_date", raw)?,
        None => start.tomorrow().map_err(|_| {
            ApiError::invalid(
                "start_date",
                ErrorCode::InvalidDate,
                "The date is out of range.",
            )
        })?,
    };
    if end <= start {
        return Err(ApiError::invalid(
            "end_date",
            ErrorCode::InvalidRange,
            "`end_date` is exclusive and must be after `start_date`.",
        ));
    }
    if start
        .checked_add(MAX_ALL_DAY_EVENT_DAYS.days())
        .is_ok_and(|last| end > last)
    {
        return Err(ApiError::invalid(
            "end_date",
            ErrorCode::EventTooLong,
            format!("An all-day event covers at most {MAX_ALL_DAY_EVENT_DAYS} dates."),
        ));
    }
    Ok((
        date_carrier("start_date", start)?,
        date_carrier("end_date", end)?,
    ))
}

/// `transparency`, or its synonym `busy`; both given must agree.
fn transparency(input: &EventInput) -> ApiResult<Transparency> {
    let from_busy = input.busy.map(|busy| {
        if busy {
            Transparency::Opaque
        } else {
            Transparency::Transparent
        }
    });
    let Some(raw) = input.transparency.as_deref() else {
        return Ok(from_busy.unwrap_or(Transparency::Opaque));
    };
    let parsed = Transparency::parse(raw).ok_or_else(|| {
        ApiError::invalid(
            "transparency",
            ErrorCode::InvalidTransparency,
            "`transparency` is opaque (busy) or transparent (free).",
        )
    })?;
    if from_busy.is_some_and(|b| b != parsed) {
        return Err(ApiError::invalid(
            "busy",
            ErrorCode::ConflictingFields,
            "`busy` contradicts `transparency`; send one of them.",
        ));
    }
    Ok(parsed)
}

/// The stored event in the shape of a request body, for merging a change into.
fn as_input(event: &CalendarEvent) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("title".into(), event.title.clone().into());
    if let Some(description) = &event.description {
        object.insert("description".into(), description.clone().into());
    }
    if event.all_day {
        object.insert("all_day".into(), true.into());
        object.insert(
            "start_date".into(),
            utc_date(event.start).to_string().into(),
        );
        object.insert("end_date".into(), utc_date(event.end).to_string().into());
    } else {
        object.insert("start_time".into(), event.start.to_string().into());
        object.insert("end_time".into(), event.end.to_string().into());
    }
    object.insert("status".into(), event.status.as_str().into());
    object.insert("transparency".into(), event.transparency.as_str().into());
    object
}

/// Merges a change into the stored event: a field given replaces the stored one, `null` resets
/// it. Switching `all_day` drops the stored times of the other kind; a new start without a new
/// end moves the event and keeps its length; `busy` replaces the stored `transparency`.
fn merge(current: &CalendarEvent, changes: Map<String, Value>) -> Map<String, Value> {
    let mut merged = as_input(current);
    let switches = changes
        .get("all_day")
        .and_then(Value::as_bool)
        .is_some_and(|all_day| all_day != current.all_day);
    if switches {
        for key in ["start_time", "end_time", "start_date", "end_date"] {
            merged.remove(key);
        }
    } else if current.all_day && !changes.contains_key("end_date") {
        let start = changes.get("start_date").and_then(Value::as_str);
        let days = utc_date(current.start).until(utc_date(current.end));
        if let Some(end) = start
            .and_then(|raw| raw.parse::<Date>().ok())
            .zip(days.ok())
            .and_then(|(start, days)| start.checked_add(days).ok())
        {
            merged.insert("end_date".into(), end.to_string().into());
        }
    } else if !current.all_day && !changes.contains_key("end_time") {
        let start = changes.get("start_time").and_then(Value::as_str);
        let length = current.start.duration_until(current.end);
        if let Some(end) = start
            .and_then(|raw| raw.parse::<Timestamp>().ok())
            .and_then(|start| start.checked_add(length).ok())
        {
            merged.insert("end_time".into(), end.to_string().into());
        }
    }
    if changes.contains_key("busy") && !changes.contains_key("transparency") {
        merged.remove("transparency");
    }
    for (key, value) in changes {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    merged
}

async fn load(state: &AppState, caller: &Caller, raw_id: &str) -> ApiResult<CalendarEvent> {
    let id = parse_id(raw_id, "event")?;
    state
        .store
        .get_event(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))
}

/// Loads an event the caller may change: their own (or anyone's, for admins), made here.
async fn editable(state: &AppState, caller: &Caller, raw_id: &str) -> ApiResult<CalendarEvent> {
    let event = load(state, caller, raw_id).await?;
    if caller.user().is_none_or(|u| u.id != event.user_id) {
        caller.require_admin()?;
    }
    match event.source {
        EventSource::Internal => Ok(event),
        EventSource::Booking => {
            let error = ApiError::conflict(
                ErrorCode::ManagedByBooking,
                "This event is a booking's calendar entry: reschedule or cancel the booking \
                 instead, and the event follows.",
            );
            Err(match event.booking_id {
                Some(booking) => error.with("booking_id", booking.to_string()),
                None => error,
            })
        }
        EventSource::Google | EventSource::Microsoft | EventSource::Caldav => {
            Err(ApiError::conflict(
                ErrorCode::ManagedByProvider,
                "This event comes from a connected calendar: change it there, and the next sync \
             brings the change here.",
            ))
        }
    }
}

/// Your events (or a member's, with `user_id`) overlapping the window, sorted by start.
#[utoipa::path(get, path = "/api/calendar/events", tag = "events",
    security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = EventList), (status = 404), (status = 422)))]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<EventList>> {
    let user = member(&state, &caller, query.user_id.as_deref(), Access::Read).await?;
    let zone = zone_of(Some(&user));
    let include_cancelled = parse_flag("include_cancelled", query.include_cancelled.as_deref())?;
    let window = window(&query, &zone, Timestamp::now())?;
    let events = state
        .store
        .list_events(
            caller.tenant,
            &EventFilter {
                user_ids: vec![user.id],
                from: Some(window.start),
                to: Some(window.end),
                include_cancelled,
            },
        )
        .await?;
    // The store widens the range for all-day events by a day; keep those whose local dates,
    // in the member's zone, really overlap the window.
    let mut events: Vec<EventView> = events
        .into_iter()
        .filter(|event| {
            let (start, end) = covered(event, &zone);
            start < window.end && window.start < end
        })
        .map(|event| view(event, &zone))
        .collect();
    events.sort_by_key(|e| (e.start_time, e.id));
    Ok(Json(EventList { events }))
}

/// Create an event in your calendar (or, for admins, a member's). 201 with the event.
#[utoipa::path(post, path = "/api/calendar/events", tag = "events",
    security(("bearer" = [])), request_body = EventInput,
    responses((status = 201, body = EventView), (status = 400), (status = 403), (status = 404),
        (status = 422)))]
async fn create_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<EventInput>,
) -> ApiResult<(StatusCode, Json<EventView>)> {
    let user = member(&state, &caller, body.user_id.as_deref(), Access::Write).await?;
    let valid = validate(&body, false)?;
    let id = EventId::new();
    let jobs = crate::google::event_write_jobs(&state, caller.tenant, user.id, id, false).await?;
    let event = state
        .store
        .create_event(caller.tenant, id, &valid.into_new(user.id), &jobs)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(view(event, &zone_of(Some(&user)))),
    ))
}

/// One event.
#[utoipa::path(get, path = "/api/calendar/events/{id}", tag = "events",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = EventView), (status = 404)))]
async fn get_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EventView>> {
    let event = load(&state, &caller, &id).await?;
    let zone = zone_of(owner(&state, &caller, event.user_id).await?.as_ref());
    Ok(Json(view(event, &zone)))
}

/// Change an event made here: the fields given replace the stored ones, `null` resets one, and
/// the result is validated whole. A new start without a new end moves the event.
#[utoipa::path(patch, path = "/api/calendar/events/{id}", tag = "events",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = EventInput,
    responses((status = 200, body = EventView), (status = 403), (status = 404),
        (status = 409, description = "`managed_by_booking` or `managed_by_provider`"),
        (status = 422)))]
async fn update_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<EventView>> {
    let current = editable(&state, &caller, &id).await?;
    let changes = json_object(body)?;
    if changes.contains_key("user_id") {
        return Err(ApiError::invalid(
            "user_id",
            ErrorCode::Immutable,
            "An event cannot move to another member; create one for them instead.",
        ));
    }
    let input: EventInput = from_value(Value::Object(merge(&current, changes)))?;
    let valid = validate(&input, true)?;
    let new = NewCalendarEvent {
        provider_id: current.provider_id,
        external_id: current.external_id.clone(),
        etag: current.etag.clone(),
        source: current.source,
        booking_id: current.booking_id,
        ..valid.into_new(current.user_id)
    };
    let jobs =
        crate::google::event_write_jobs(&state, caller.tenant, current.user_id, current.id, false)
            .await?;
    let event = state
        .store
        .replace_event(caller.tenant, current.id, &new, &jobs)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    let zone = zone_of(owner(&state, &caller, event.user_id).await?.as_ref());
    Ok(Json(view(event, &zone)))
}

/// Delete an event made here.
#[utoipa::path(delete, path = "/api/calendar/events/{id}", tag = "events",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404),
        (status = 409, description = "`managed_by_booking` or `managed_by_provider`")))]
async fn delete_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let event = editable(&state, &caller, &id).await?;
    let jobs =
        crate::google::event_write_jobs(&state, caller.tenant, event.user_id, event.id, true)
            .await?;
    if state
        .store
        .delete_event(caller.tenant, event.id, &jobs)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("event"))
    }
}
