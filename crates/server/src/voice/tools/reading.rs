//! Reading what a model sends: days, times, minutes and slot ids, in the business's zone.

use super::*;

/// A given, non-blank text argument (models send "" for "not given").
pub(crate) fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}
/// The business's zone: the agent's.
pub(crate) fn agent_zone(agent: &Agent) -> TimeZone {
    crate::domain::time::stored_zone(&agent.time_zone)
}
pub(crate) fn zone_name(zone: &TimeZone) -> String {
    zone.iana_name().unwrap_or("UTC").to_string()
}
pub(crate) fn parse_minutes(minutes: Option<i64>) -> Result<Option<SignedDuration>, ToolError> {
    match minutes {
        None => Ok(None),
        Some(m) if (5..=1440).contains(&m) => Ok(Some(SignedDuration::from_mins(m))),
        Some(_) => Err(ToolError::invalid(
            "duration",
            ErrorCode::InvalidDuration,
            "The length must be a whole number of minutes from 5 to 1440.",
        )),
    }
}
/// A day as callers and models name it: an ISO date, "today", "tomorrow", a weekday (the
/// next one, today included) or "next week" (the coming Monday).
pub fn parse_day(field: &str, raw: &str, today: Date) -> Result<Date, ToolError> {
    let text = raw.trim().to_ascii_lowercase();
    if let Ok(date) = text.parse::<Date>() {
        return if crate::domain::time::in_range(date) {
            Ok(date)
        } else {
            Err(out_of_range(field))
        };
    }
    let weekday = match text.as_str() {
        "today" => return Ok(today),
        "next week" => {
            let ahead = 7 - i32::from(today.weekday().to_monday_zero_offset());
            return today
                .checked_add(ahead.days())
                .map_err(|_| out_of_range(field));
        }
        "tomorrow" => return today.tomorrow().map_err(|_| out_of_range(field)),
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => {
            return Err(ToolError::invalid(
                field,
                ErrorCode::InvalidDate,
                format!(
                    "I could not read {raw:?} as a date; use a date like 2024-03-12, today, \
                     tomorrow, a weekday or next week."
                ),
            ));
        }
    };
    let ahead = (i32::from(weekday.to_monday_zero_offset())
        - i32::from(today.weekday().to_monday_zero_offset()))
    .rem_euclid(7);
    today
        .checked_add(ahead.days())
        .map_err(|_| out_of_range(field))
}
pub(crate) fn out_of_range(field: &str) -> ToolError {
    ToolError::invalid(field, ErrorCode::InvalidDate, "That date is out of range.")
}
/// A start time: RFC 3339 with an offset, or a local date and time in `zone`.
pub(crate) fn parse_start(field: &str, raw: &str, zone: &TimeZone) -> Result<Timestamp, ToolError> {
    let raw = raw.trim();
    let instant = raw.parse::<Timestamp>().ok().or_else(|| {
        raw.parse::<DateTime>()
            .ok()
            .and_then(|local| local.to_zoned(zone.clone()).ok())
            .map(|zoned| zoned.timestamp())
    });
    if instant.is_some_and(|i| !crate::domain::time::instant_in_range(i)) {
        return Err(ToolError::invalid(
            field,
            ErrorCode::InvalidTime,
            "That time is out of range.",
        ));
    }
    instant.ok_or_else(|| {
        ToolError::invalid(
            field,
            ErrorCode::InvalidTime,
            format!(
                "I could not read {raw:?} as a time; use a slot_id from check_availability \
                     or a time like 2024-03-12T14:00."
            ),
        )
    })
}
pub(crate) fn local_midnight(date: Date, zone: &TimeZone) -> Result<Timestamp, ToolError> {
    date.to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .map_err(|_| out_of_range("date"))
}
/// A slot as an option: signed id, ISO times in `zone`, spoken phrase.
pub(crate) fn option(
    ctx: &ToolContext<'_>,
    start: Timestamp,
    duration: SignedDuration,
    zone: &TimeZone,
    now: Timestamp,
) -> SlotOption {
    typed_option(ctx, start, duration, None, zone, now)
}
/// [`option`] for a slot of an appointment type: its id carries the type, so booking it books
/// that type.
pub(crate) fn typed_option(
    ctx: &ToolContext<'_>,
    start: Timestamp,
    duration: SignedDuration,
    appointment_type: Option<uuid::Uuid>,
    zone: &TimeZone,
    now: Timestamp,
) -> SlotOption {
    let slot = SlotRef {
        agent_id: ctx.agent.id,
        start,
        duration,
        appointment_type,
    };
    SlotOption {
        slot_id: ctx.state.slot_ids.sign(&slot),
        start_time: speech::iso_with_offset(start, zone),
        end_time: speech::iso_with_offset(slot.end(), zone),
        spoken: speech::spoken_time(start, zone, now),
    }
}
/// A conflict's alternatives as bookable options.
pub(crate) fn options_from_alternatives(
    ctx: &ToolContext<'_>,
    alternatives: &[crate::domain::error::Alternative],
    appointment_type: Option<uuid::Uuid>,
) -> Vec<SlotOption> {
    let zone = agent_zone(ctx.agent);
    let now = Timestamp::now();
    alternatives
        .iter()
        .map(|alternative| {
            let length = alternative.end.duration_since(alternative.start);
            typed_option(ctx, alternative.start, length, appointment_type, &zone, now)
        })
        .take(MAX_OPTIONS)
        .collect()
}

/// The time a booking or reschedule names: a slot id of this agent, or a start time.
pub(crate) fn requested_slot(
    ctx: &ToolContext<'_>,
    slot_id: &Option<String>,
    start_time: &Option<String>,
) -> Result<(Timestamp, Option<SignedDuration>), ToolError> {
    requested_typed_slot(ctx, slot_id, start_time).map(|slot| (slot.start, slot.duration))
}
/// What a booking names: when, for how long if a slot id says so, and the appointment type the
/// slot was offered for.
pub(crate) struct RequestedSlot {
    pub start: Timestamp,
    pub duration: Option<SignedDuration>,
    pub appointment_type: Option<uuid::Uuid>,
}
/// [`requested_slot`], keeping the appointment type a slot id carries.
pub(crate) fn requested_typed_slot(
    ctx: &ToolContext<'_>,
    slot_id: &Option<String>,
    start_time: &Option<String>,
) -> Result<RequestedSlot, ToolError> {
    if let Some(id) = given(slot_id) {
        let slot = ctx.state.slot_ids.verify(id).map_err(|_| {
            ToolError::invalid(
                "slot_id",
                ErrorCode::InvalidSlot,
                "That slot id is not one I gave out; check availability again and use one of \
                 its slot ids.",
            )
        })?;
        if slot.agent_id != ctx.agent.id {
            return Err(ToolError::invalid(
                "slot_id",
                ErrorCode::InvalidSlot,
                "That slot id belongs to another line; check availability again.",
            ));
        }
        return Ok(RequestedSlot {
            start: slot.start,
            duration: Some(slot.duration),
            appointment_type: slot.appointment_type,
        });
    }
    if let Some(raw) = given(start_time) {
        return Ok(RequestedSlot {
            start: parse_start("start_time", raw, &agent_zone(ctx.agent))?,
            duration: None,
            appointment_type: None,
        });
    }
    Err(ToolError::invalid(
        "slot_id",
        ErrorCode::MissingParameter,
        "Which time? Give the slot_id of an option from check_availability, or a start_time.",
    ))
}
