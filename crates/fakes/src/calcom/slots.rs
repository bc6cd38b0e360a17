//! The fake's slots endpoint and the working-hours arithmetic behind it.

use super::*;

/// An ISO 8601 instant, or a bare date (its start, or its end for `end`) in `tz`.
pub(super) fn parse_instant(text: &str, tz: &TimeZone, end_of_day: bool) -> Option<Timestamp> {
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
pub(super) fn luxon_iso(instant: Timestamp, tz: &TimeZone, utc: bool) -> String {
    if utc {
        instant.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
    } else {
        instant
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S.000%:z")
            .to_string()
    }
}

pub(super) fn utc_iso(instant: Timestamp) -> String {
    instant.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

/// Whether the host has an accepted booking overlapping `[start, end)`, other than `except`.
pub(super) fn host_busy(
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
pub(super) fn working_ranges(
    user: &User,
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
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
pub(super) fn bookable(
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

pub(super) fn earliest_bookable(inner: &Inner, event_type: &EventType) -> Timestamp {
    inner.now()
        + SignedDuration::from_mins(i64::from(event_type.spec.minimum_booking_notice_minutes))
}

pub(super) const SLOTS_PARAMETERS: &[&str] = &[
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

pub(super) fn slots(inner: &Inner, request: &Request<'_>) -> Answer {
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
