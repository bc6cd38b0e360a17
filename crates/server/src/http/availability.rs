//! `GET /api/calendar/availability`: free slots for you, a member, or an agent's team, in the
//! documented shape `{"slots":[{"start_time","end_time","user_id","user_name"}]}`.

use pillow_store::UserId;
use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use pillow_engine::Interval;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{parse_bound, parse_date, parse_id};
use crate::AppState;
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::ApiQuery;

/// The longest window one request may ask for.
pub const MAX_WINDOW_DAYS: i64 = 93;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(availability))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityQuery {
    /// A local date, `YYYY-MM-DD`, in `timezone` or else the rule's (or agent's) zone.
    date: Option<String>,
    /// Window start: an RFC 3339 instant or a local date.
    start: Option<String>,
    /// Window end (exclusive): an RFC 3339 instant or a local date (the window then includes
    /// the whole of that date). At most 93 days after `start`.
    end: Option<String>,
    /// Slot length in minutes; default the rule's `slot_duration`.
    duration: Option<String>,
    /// One member of your tenant.
    user_id: Option<String>,
    /// An agent: its team's slots.
    agent_id: Option<String>,
    /// IANA zone in which `date`, `start` and `end` dates are read.
    timezone: Option<String>,
    /// With `agent_id`: one of the agent's appointment types (id, slug or name); its length,
    /// buffers, notice and hosts apply. Default the agent's `event_type_config`.
    appointment_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SlotView {
    /// UTC, e.g. `2024-02-15T09:00:00Z`.
    start_time: String,
    end_time: String,
    user_id: UserId,
    user_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct SlotList {
    slots: Vec<SlotView>,
    /// The zone dates were read in.
    timezone: String,
    /// Slot length in minutes.
    duration: i64,
}

fn local_midnight(date: Date, zone: &TimeZone) -> ApiResult<Timestamp> {
    date.to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .map_err(ApiError::internal)
}

/// The query window in instants.
fn window(query: &AvailabilityQuery, zone: &TimeZone, now: Timestamp) -> ApiResult<Interval> {
    let (start, end) = match (&query.date, &query.start, &query.end) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(ApiError::invalid(
                "date",
                ErrorCode::ConflictingParameters,
                "Give either `date` or `start`/`end`, not both.",
            ));
        }
        (Some(date), None, None) => {
            let date = parse_date("date", date)?;
            let next = date.checked_add(1.day()).map_err(ApiError::internal)?;
            (local_midnight(date, zone)?, local_midnight(next, zone)?)
        }
        (None, Some(start), Some(end)) => (
            parse_bound("start", start, zone, false)?,
            parse_bound("end", end, zone, true)?,
        ),
        (None, Some(_), None) => {
            return Err(ApiError::invalid(
                "end",
                ErrorCode::MissingParameter,
                "`start` needs an `end`.",
            ));
        }
        (None, None, Some(_)) => {
            return Err(ApiError::invalid(
                "start",
                ErrorCode::MissingParameter,
                "`end` needs a `start`.",
            ));
        }
        (None, None, None) => {
            // Today, in the zone.
            let today = now.to_zoned(zone.clone()).date();
            let next = today.checked_add(1.day()).map_err(ApiError::internal)?;
            (local_midnight(today, zone)?, local_midnight(next, zone)?)
        }
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

fn parse_duration(raw: Option<&str>) -> ApiResult<Option<SignedDuration>> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.trim().parse::<i64>() {
        Ok(minutes) if (5..=1440).contains(&minutes) => {
            Ok(Some(SignedDuration::from_mins(minutes)))
        }
        _ => Err(ApiError::invalid(
            "duration",
            ErrorCode::InvalidDuration,
            "`duration` is a whole number of minutes from 5 to 1440.",
        )),
    }
}

fn parse_zone(raw: Option<&str>) -> ApiResult<Option<TimeZone>> {
    raw.map(|zone| {
        crate::domain::time::Zone::parse(zone)
            .map(|zone| zone.tz().clone())
            .map_err(|e| ApiError::invalid("timezone", ErrorCode::InvalidTimezone, e.to_string()))
    })
    .transpose()
}

/// Who the slots are for: the members in team order, the zone their dates default to, the
/// members' names, and for an agent its team (strategy, priorities, default duration).
struct Subject {
    members: Vec<UserId>,
    default_zone: Option<TimeZone>,
    names: HashMap<UserId, String>,
    context: Option<std::sync::Arc<crate::domain::bookings::TeamContext>>,
}

async fn subject(
    state: &AppState,
    caller: &Caller,
    query: &AvailabilityQuery,
) -> ApiResult<Subject> {
    if let Some(raw) = &query.agent_id {
        let agent_id = parse_id(raw, "agent")?;
        let context = state.teams.get(state, caller.tenant, agent_id).await?;
        return Ok(Subject {
            members: context.team.members.clone(),
            default_zone: Some(context.zone.clone()),
            names: context.names.clone(),
            context: Some(context),
        });
    }
    let user = match &query.user_id {
        Some(raw) => {
            let id = parse_id(raw, "user")?;
            state
                .store
                .get_user(caller.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("user"))?
        }
        None => caller.user().cloned().ok_or_else(|| {
            ApiError::invalid(
                "user_id",
                ErrorCode::SubjectRequired,
                "An API key acts for no one in particular: give `user_id` or `agent_id`.",
            )
        })?,
    };
    Ok(Subject {
        members: vec![user.id],
        default_zone: None,
        names: HashMap::from([(user.id, user.name)]),
        context: None,
    })
}

/// The agent's appointment type the query names, if any.
async fn appointment_type(
    state: &AppState,
    caller: &Caller,
    query: &AvailabilityQuery,
    subject: &Subject,
) -> ApiResult<Option<crate::domain::appointment_types::Offered>> {
    let Some(raw) = &query.appointment_type else {
        return Ok(None);
    };
    let Some(context) = &subject.context else {
        return Err(ApiError::invalid(
            "appointment_type",
            ErrorCode::ConflictingParameters,
            "Appointment types belong to agents: give `agent_id` with `appointment_type`.",
        ));
    };
    let offered = crate::domain::appointment_types::resolve(
        state,
        caller.tenant,
        context.agent.id,
        "appointment_type",
        raw,
    )
    .await?;
    Ok(Some(offered))
}

/// Free slots for you, a member (`user_id`) or an agent's team (`agent_id`).
///
/// Team slots name the member the agent's distribution strategy would assign.
#[utoipa::path(get, path = "/api/calendar/availability", tag = "availability",
    security(("bearer" = [])), params(AvailabilityQuery),
    responses((status = 200, body = SlotList), (status = 404), (status = 422)))]
async fn availability(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AvailabilityQuery>,
) -> ApiResult<Json<SlotList>> {
    let started = std::time::Instant::now();
    let now = Timestamp::now();
    let requested_zone = parse_zone(query.timezone.as_deref())?;
    let duration = parse_duration(query.duration.as_deref())?;
    let mut subject = subject(&state, &caller, &query).await?;
    let offered = appointment_type(&state, &caller, &query, &subject).await?;
    if let Some(offered) = &offered {
        subject.members = offered.members(&subject.members);
    }

    // Load calendars around a provisional window first: the rule's zone may decide the window.
    let probe_zone = requested_zone
        .clone()
        .or_else(|| subject.default_zone.clone())
        .unwrap_or(TimeZone::UTC);
    let provisional = window(&query, &probe_zone, now)?;
    let widened = Interval::new(
        provisional
            .start
            .saturating_sub(SignedDuration::from_hours(48))
            .unwrap_or(provisional.start),
        provisional
            .end
            .saturating_add(SignedDuration::from_hours(48))
            .unwrap_or(provisional.end),
    )
    .unwrap_or(provisional);
    let calendars = crate::domain::availability::limits::team_calendars(
        &state,
        caller.tenant,
        subject.context.as_ref().map(|c| &c.team),
        &subject.members,
        widened,
        now,
    )
    .await?;
    // The slots come from the calendars as cached (kept lists are tied to them); the rest of
    // the answer reads the calendars as the appointment type shapes them.
    let shape = offered.as_ref().map(|o| o.shape());
    let shaped = offered
        .as_ref()
        .map(|offered| offered.shape_calendars(calendars.clone()));
    let cached = calendars;
    let calendars = shaped.as_deref().unwrap_or(&cached);

    let zone = requested_zone
        .or(subject.default_zone.clone())
        .or_else(|| calendars.first().map(|c| c.rule.time_zone().clone()))
        .unwrap_or(TimeZone::UTC);
    let window = window(&query, &zone, now)?;
    let team = subject.context.as_ref().map(|c| &c.team);
    let team_duration = team
        .and_then(|t| t.settings.event_type_config.duration)
        .map(SignedDuration::from_mins);
    let duration = duration
        .or(offered.as_ref().map(|o| o.duration()))
        .or(team_duration)
        .or_else(|| calendars.first().map(|c| c.rule.slot_duration()))
        .unwrap_or(SignedDuration::from_mins(30));

    let slots = state.calendars.slots.team_slots(
        caller.tenant,
        &cached,
        shape.as_ref(),
        window,
        duration,
        now,
    );
    // Each slot names the member the agent's strategy would assign now. A strategy orders
    // members by who they are, not by the slot, so one ranking of the whole team serves every
    // slot: the pick is the first member in that order who is free.
    let order = crate::domain::bookings::rank_members(team, &subject.members, calendars);
    let views = slots
        .iter()
        .filter_map(|slot| {
            let pick = *order.iter().find(|id| slot.free.contains(id))?;
            Some(SlotView {
                start_time: slot.slot.start.to_string(),
                end_time: slot.slot.end.to_string(),
                user_id: pick,
                user_name: subject.names.get(&pick).cloned().unwrap_or_default(),
            })
        })
        .collect();
    metrics::histogram!("availability_duration_seconds").record(started.elapsed().as_secs_f64());
    Ok(Json(SlotList {
        slots: views,
        timezone: zone.iana_name().unwrap_or("UTC").to_string(),
        duration: duration.as_mins(),
    }))
}
