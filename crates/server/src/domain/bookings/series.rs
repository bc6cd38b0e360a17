//! Recurring series: `recurrence` on a booking request. The occurrences are expanded in the
//! agent's zone, checked together and booked in one transaction (the same host where
//! possible); by default all or nothing, with the conflicting occurrences and alternatives for
//! each in the 409.

use super::*;
use crate::domain::appointment_types::Offered;
use crate::domain::availability::limits::{caps_at, team_calendars};
use crate::domain::error::{Alternative, ErrorCode};
use crate::outbox::{Change, JobKind};
use pillow_engine::{Frequency, MAX_OCCURRENCES, Recurrence, RecurrenceError, SeriesEnd};
use pillow_store::{BookingId, HostBooking, UserId};

/// A series as asked for: the rule to expand and whether to book only what is free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRequest {
    /// An RFC 5545 RRULE value (the structured form is turned into one).
    pub rrule: String,
    pub allow_partial: bool,
}

/// Reads `recurrence`: an RRULE string, or `{"frequency", "interval", "count" | "until",
/// "by_day"}`. 422s name the field.
///
/// # Errors
/// A malformed or out-of-range field.
pub fn parse_recurrence(value: &Value) -> DomainResult<String> {
    let invalid = |field: &str, message: String| {
        DomainError::invalid(
            &format!("recurrence{field}"),
            ErrorCode::InvalidRecurrence,
            message,
        )
    };
    let object = match value {
        Value::String(rule) if !rule.trim().is_empty() => return Ok(rule.trim().to_string()),
        Value::Object(object) => object,
        _ => {
            return Err(invalid(
                "",
                "recurrence is an RRULE string or {\"frequency\", \"interval\", \"count\" or \"until\", \"by_day\"}.".into(),
            ));
        }
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !["frequency", "interval", "count", "until", "by_day"].contains(&k.as_str()))
    {
        return Err(invalid(
            &format!(".{unknown}"),
            format!("{unknown:?} is not a recurrence field."),
        ));
    }
    let frequency = match object.get("frequency").and_then(Value::as_str) {
        Some("daily") => Frequency::Daily,
        Some("weekly") => Frequency::Weekly,
        Some("monthly") => Frequency::Monthly,
        _ => {
            return Err(invalid(
                ".frequency",
                "frequency is \"daily\", \"weekly\" or \"monthly\".".into(),
            ));
        }
    };
    let interval = match object.get("interval") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=99).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                invalid(
                    ".interval",
                    "interval is a whole number from 1 to 99.".into(),
                )
            })?,
    };
    let end = match (object.get("count"), object.get("until")) {
        (Some(count), None) => {
            let count = count
                .as_u64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| invalid(".count", "count is a whole number from 1.".into()))?;
            if count > u64::from(MAX_OCCURRENCES) {
                return Err(DomainError::invalid(
                    "recurrence.count",
                    ErrorCode::TooManyOccurrences,
                    format!("A series has at most {MAX_OCCURRENCES} occurrences."),
                ));
            }
            SeriesEnd::Count(u32::try_from(count).unwrap_or(MAX_OCCURRENCES))
        }
        (None, Some(until)) => SeriesEnd::Until(
            until
                .as_str()
                .and_then(|u| u.parse::<Timestamp>().ok())
                .ok_or_else(|| {
                    invalid(
                        ".until",
                        "until is an RFC 3339 instant, e.g. 2026-06-30T23:59:59Z.".into(),
                    )
                })?,
        ),
        _ => {
            return Err(invalid(
                "",
                "Give exactly one of count and until: a series must end.".into(),
            ));
        }
    };
    let by_day = match object.get("by_day") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(days)) => days
            .iter()
            .map(|d| d.as_str().and_then(weekday))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                invalid(
                    ".by_day",
                    "by_day lists weekdays such as [\"monday\", \"thursday\"] or [\"MO\", \"TH\"]."
                        .into(),
                )
            })?,
        Some(_) => {
            return Err(invalid(".by_day", "by_day is a list of weekdays.".into()));
        }
    };
    Ok(Recurrence {
        frequency,
        interval,
        end,
        by_day,
    }
    .rrule())
}

fn weekday(name: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    Some(match name.to_ascii_lowercase().as_str() {
        "mo" | "monday" => Monday,
        "tu" | "tuesday" => Tuesday,
        "we" | "wednesday" => Wednesday,
        "th" | "thursday" => Thursday,
        "fr" | "friday" => Friday,
        "sa" | "saturday" => Saturday,
        "su" | "sunday" => Sunday,
        _ => return None,
    })
}

/// The starts of the series, as 422s naming `recurrence` when the rule is refused.
fn expand(rrule: &str, first: Timestamp, zone: &TimeZone) -> DomainResult<Vec<Timestamp>> {
    pillow_engine::expand_series(rrule, first, zone, MAX_OCCURRENCES).map_err(|e| match e {
        RecurrenceError::TooMany { max } => DomainError::invalid(
            "recurrence.count",
            ErrorCode::TooManyOccurrences,
            format!("A series has at most {max} occurrences."),
        ),
        other => DomainError::invalid(
            "recurrence",
            ErrorCode::InvalidRecurrence,
            other.to_string(),
        ),
    })
}

/// One occurrence as the check found it.
struct Checked {
    start: Timestamp,
    /// Members free at it, in team order.
    free: Vec<UserId>,
}

/// Books the series `series` starting with `request`'s start, answering the first booked
/// occurrence with the series in `series.occurrences`.
///
/// # Errors
/// 422 for a refused rule or a series past the booking window; 409 `series_conflict` listing the
/// occurrences that cannot be booked, with alternatives for each (unless `allow_partial`, when
/// only a series with nothing free is refused).
#[allow(clippy::too_many_lines)]
pub async fn book_series(
    state: &AppState,
    tenant: TenantId,
    subject: &Subject,
    request: &BookingRequest,
    offered: Option<&Offered>,
    series: &SeriesRequest,
    record: Option<(&str, &str)>,
) -> DomainResult<BookingView> {
    let now = Timestamp::now();
    let (members, team, agent, zone, names) = match subject {
        Subject::Agent(context) => (
            context.team.members.clone(),
            Some(&context.team),
            Some(&context.agent),
            context.zone.clone(),
            context.names.clone(),
        ),
        Subject::User(user) => (
            vec![user.id],
            None,
            None,
            crate::domain::time::stored_zone(&user.time_zone),
            HashMap::from([(user.id, user.name.clone())]),
        ),
    };
    if team.is_some_and(|t| t.collective.is_some()) {
        return Err(DomainError::invalid(
            "recurrence",
            ErrorCode::ConflictingParameters,
            "Recurring series are not offered by collective agents; book each time on its own.",
        ));
    }
    let members = match offered {
        Some(offered) => offered.members(&members),
        None => members,
    };
    let starts = expand(&series.rrule, request.start, &zone)?;
    let (first, last) = (starts[0], starts[starts.len() - 1]);
    let window = Interval::new(
        first
            .saturating_sub(SignedDuration::from_hours(48))
            .unwrap_or(first),
        last.saturating_add(SignedDuration::from_hours(24 * 8))
            .unwrap_or(last),
    )
    .ok_or_else(|| DomainError::internal("empty series window"))?;
    let load = async || -> DomainResult<Vec<MemberCalendar>> {
        let calendars = team_calendars(state, tenant, team, &members, window, now).await?;
        Ok(match offered {
            Some(offered) => offered.shape_calendars(calendars),
            None => calendars,
        })
    };
    // A lost race re-checks every occurrence against what is now booked, a few times at most.
    for _ in 0..3 {
        let calendars = load().await?;
        if calendars.is_empty() {
            return Err(DomainError::conflict(
                ErrorCode::NoWorkingHours,
                "Nobody who could take this booking has working hours set.",
            ));
        }
        let duration = request
            .duration
            .or(offered.map(Offered::duration))
            .or_else(|| {
                team.and_then(|t| t.settings.event_type_config.duration)
                    .map(SignedDuration::from_mins)
            })
            .unwrap_or_else(|| calendars[0].rule.slot_duration());
        let checked = check_occurrences(&calendars, &starts, duration, now)?;
        let hosts = choose_hosts(team, &calendars, &checked);
        let conflicts: Vec<Timestamp> = checked
            .iter()
            .zip(&hosts)
            .filter(|(_, host)| host.is_none())
            .map(|(c, _)| c.start)
            .collect();
        if !conflicts.is_empty() && (!series.allow_partial || conflicts.len() == starts.len()) {
            return Err(series_conflict(&calendars, &conflicts, duration, now));
        }
        let skipped: Vec<Alternative> = conflicts
            .iter()
            .map(|start| Alternative {
                start: *start,
                end: start.checked_add(duration).unwrap_or(*start),
            })
            .collect();
        let mut occurrences = Vec::new();
        let mut jobs = Vec::new();
        let notifications = team.map(|t| &t.settings.notifications);
        for (occurrence, host) in checked.iter().zip(&hosts) {
            let Some(host) = host else { continue };
            let Some(calendar) = calendars.iter().find(|c| c.user_id == *host) else {
                continue;
            };
            let host_name = names.get(host).cloned().unwrap_or_default();
            let at = BookingRequest {
                start: occurrence.start,
                ..request.clone()
            };
            let (title, description) = render_texts(
                team.map(|t| &t.settings.event_type_config),
                &at,
                &host_name,
                agent,
                calendar.rule.time_zone(),
                duration,
            );
            let booking = NewBooking {
                id: BookingId::new(),
                agent_id: agent.map(|a| a.id),
                user_id: *host,
                confirmation_code: new_confirmation_code(),
                start: occurrence.start,
                end: occurrence
                    .start
                    .checked_add(duration)
                    .map_err(DomainError::internal)?,
                buffer_before_minutes: calendar.rule.buffer_before().as_mins() as i32,
                buffer_after_minutes: calendar.rule.buffer_after().as_mins() as i32,
                attendee: request.attendee.clone(),
                notes: request.notes.clone(),
                title,
                description,
                call_id: request.call_id.clone(),
                channel: Some(request.channel),
            };
            // One confirmation e-mail for the whole series (its invite carries the RRULE, see
            // `notify::series_ics`), sent with the first occurrence.
            let first = occurrences.is_empty();
            let plan = notifications.map(|n| {
                let mut plan = n.notices(Change::Created, booking.id, *host, 0);
                plan.email_sequence = plan.email_sequence.filter(|_| first);
                plan
            });
            jobs.extend(lifecycle_jobs(
                JobKind::BookingCreated,
                booking.id,
                *host,
                plan,
            ));
            occurrences.push(HostBooking {
                caps: caps_at(team, calendar, occurrence.start),
                booking,
            });
        }
        let series_id = pillow_store::new_id();
        let previews: Vec<Booking> = occurrences
            .iter()
            .map(|o| preview(tenant, &o.booking, now))
            .collect();
        let lead = &previews[0];
        let mut view = BookingView::new(lead, names.get(&lead.user_id).map_or("", String::as_str));
        view.series = Some(SeriesView {
            id: series_id,
            rrule: series.rrule.clone(),
            position: 0,
            occurrences: previews.iter().map(OccurrenceView::of).collect(),
            skipped,
        });
        let response = record.map(|(key, hash)| IdempotentResponse {
            key: key.to_string(),
            request_hash: hash.to_string(),
            status: StatusCode::CREATED.as_u16(),
            body: serde_json::to_value(&view).expect("a view serialises"),
        });
        let mut writing_hosts: Vec<UserId> =
            occurrences.iter().map(|o| o.booking.user_id).collect();
        writing_hosts.dedup();
        let _writing: Vec<_> = writing_hosts
            .iter()
            .map(|h| state.calendars.begin_booking_write(tenant, *h))
            .collect();
        match state
            .store
            .create_series(
                tenant,
                series_id,
                &series.rrule,
                &occurrences,
                &jobs,
                response.as_ref(),
            )
            .await
        {
            Ok(created) => {
                metrics::counter!("bookings_total", "outcome" => "confirmed")
                    .increment(created.len() as u64);
                return Ok(view);
            }
            Err(StoreError::Conflict(
                Constraint::BookingOverlap | Constraint::BookingLimit | Constraint::BookingCode,
            )) => {
                metrics::counter!("bookings_total", "outcome" => "lost_race").increment(1);
            }
            Err(other) => return Err(other.into()),
        }
    }
    metrics::counter!("bookings_total", "outcome" => "conflict").increment(1);
    Err(DomainError::conflict(
        ErrorCode::SlotUnavailable,
        "Part of the series was just taken; ask again to see which occurrences are free.",
    ))
}

/// Who is free at each occurrence. The first occurrence's refusal other than "busy" is
/// answered as for a single booking; an occurrence too far ahead for everyone is a series past
/// the booking window.
fn check_occurrences(
    calendars: &[MemberCalendar],
    starts: &[Timestamp],
    duration: SignedDuration,
    now: Timestamp,
) -> DomainResult<Vec<Checked>> {
    let mut checked = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        let mut free = Vec::new();
        let mut rejections = Vec::new();
        for calendar in calendars {
            match pillow_engine::check_slot(&calendar.rule, &calendar.busy, *start, duration, now) {
                Ok(_) if pillow_engine::in_full_period(&calendar.full, *start) => {
                    rejections.push(SlotRejection::Busy);
                }
                Ok(_) => free.push(calendar.user_id),
                Err(rejection) => rejections.push(rejection),
            }
        }
        if free.is_empty() {
            if rejections.contains(&SlotRejection::TooFarAhead)
                && rejections.iter().all(|r| {
                    matches!(
                        r,
                        SlotRejection::TooFarAhead | SlotRejection::OutsideWorkingHours
                    )
                })
            {
                return Err(DomainError::invalid(
                    "recurrence",
                    ErrorCode::SeriesBeyondWindow,
                    format!(
                        "The series runs past how far ahead bookings are taken: the occurrence at {start} is too far ahead."
                    ),
                ));
            }
            if i == 0
                && let Some(rejection) = rejections.iter().copied().find(|r| {
                    !matches!(r, SlotRejection::Busy | SlotRejection::OutsideWorkingHours)
                })
            {
                return Err(rejection_to_error(rejection));
            }
        }
        checked.push(Checked {
            start: *start,
            free,
        });
    }
    Ok(checked)
}

/// The host of each occurrence (`None`: nobody is free). One host for the whole series when
/// someone is free at every occurrence anyone is free at (the strategy's first choice among
/// them); otherwise each occurrence goes to the strategy's first choice free at it.
fn choose_hosts(
    team: Option<&Team>,
    calendars: &[MemberCalendar],
    checked: &[Checked],
) -> Vec<Option<UserId>> {
    let everyone: Vec<UserId> = calendars.iter().map(|c| c.user_id).collect();
    let order = rank_members(team, &everyone, calendars);
    let bookable: Vec<&Checked> = checked.iter().filter(|c| !c.free.is_empty()).collect();
    let steady = order
        .iter()
        .find(|id| bookable.iter().all(|c| c.free.contains(id)));
    checked
        .iter()
        .map(|c| match steady {
            Some(id) if c.free.contains(id) => Some(*id),
            _ => order.iter().find(|id| c.free.contains(id)).copied(),
        })
        .collect()
}

/// 409 listing exactly the occurrences that cannot be booked, each with up to three
/// alternatives near it.
fn series_conflict(
    calendars: &[MemberCalendar],
    conflicts: &[Timestamp],
    duration: SignedDuration,
    now: Timestamp,
) -> DomainError {
    let listed: Vec<Value> = conflicts
        .iter()
        .map(|start| {
            json!({
                "start_time": start,
                "end_time": start.checked_add(duration).unwrap_or(*start),
                "alternatives": nearest_alternatives(calendars, *start, duration, now),
            })
        })
        .collect();
    DomainError::conflict(
        ErrorCode::SeriesConflict,
        format!(
            "{} of the series' occurrences cannot be booked; see conflicts, or send allow_partial to book the rest.",
            conflicts.len()
        ),
    )
    .with("conflicts", listed)
}

/// Which occurrences a cancel of one series occurrence reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesScope {
    /// Only the booking named.
    Occurrence,
    /// Every occurrence of its series.
    Series,
    /// The booking named and every later occurrence.
    Following,
}

impl SeriesScope {
    /// Reads `scope`: `occurrence` (default), `series` or `following`.
    ///
    /// # Errors
    /// 422 naming `scope` for anything else.
    pub fn parse(raw: Option<&str>) -> DomainResult<Self> {
        match raw {
            None | Some("occurrence") => Ok(SeriesScope::Occurrence),
            Some("series") => Ok(SeriesScope::Series),
            Some("following") => Ok(SeriesScope::Following),
            Some(other) => Err(DomainError::invalid(
                "scope",
                ErrorCode::InvalidRecurrence,
                format!("{other:?} is not a scope; use occurrence, series or following."),
            )),
        }
    }
}

/// Cancels `booking` and, by `scope`, the rest of its series (all of it, or the occurrences
/// starting at or after it). Answers the booking named, with the series' occurrences as they
/// now stand.
///
/// # Errors
/// 422 for a series scope on a booking outside any series; store failures.
pub async fn cancel_in_series(
    state: &AppState,
    booking: &Booking,
    scope: SeriesScope,
    reason: Option<String>,
    key: Option<String>,
) -> DomainResult<(StatusCode, BookingView)> {
    if scope == SeriesScope::Occurrence {
        return cancel(state, booking, reason, key).await;
    }
    let tenant = booking.tenant_id;
    let link = series_link(state, booking).await?;
    let hash = request_hash(
        "cancel_series",
        &booking.id.to_string(),
        &json!({"reason": reason, "scope": format!("{scope:?}")}),
    );
    idempotent(
        state,
        tenant,
        key,
        hash,
        StatusCode::OK,
        |record| async move {
            let occurrences = state.store.series_bookings(tenant, link.series_id).await?;
            for occurrence in occurrences.iter().filter(|o| {
                o.status == pillow_store::BookingStatus::Confirmed
                    && (scope == SeriesScope::Series || o.start >= booking.start)
            }) {
                let jobs = booking_jobs(state, JobKind::BookingCancelled, occurrence).await?;
                state
                    .store
                    .cancel_booking(tenant, occurrence.id, reason.as_deref(), &jobs, None)
                    .await?;
                metrics::counter!("bookings_total", "outcome" => "cancelled").increment(1);
            }
            let current = state
                .store
                .get_booking(tenant, booking.id)
                .await?
                .ok_or_else(|| DomainError::not_found("booking"))?;
            let mut body = view_of(state, &current).await?;
            let now_series = state.store.series_bookings(tenant, link.series_id).await?;
            if let Some(series) = body.series.as_mut() {
                series.occurrences = now_series.iter().map(OccurrenceView::of).collect();
            }
            // The answer is recorded for the key after the cancels (each of which is final on its
            // own, so a retry that runs them again changes nothing), and a retry gets exactly this.
            if let Some(response) = recorded(record, &body) {
                state.store.finish_idempotent(tenant, &response).await?;
            }
            Ok(body)
        },
    )
    .await
}

/// The series `booking` belongs to; a 422 on `scope` when it is a booking of its own.
pub(crate) async fn series_link(
    state: &AppState,
    booking: &Booking,
) -> DomainResult<pillow_store::SeriesLink> {
    state
        .store
        .series_of(booking.tenant_id, booking.id)
        .await?
        .ok_or_else(|| {
            DomainError::invalid(
                "scope",
                ErrorCode::InvalidRecurrence,
                "This booking is not part of a recurring series.",
            )
        })
}
