//! Expanding a resource's events over a window into occurrences and busy intervals in UTC:
//! RRULE with the `rrule` crate (in the event's own zone, so a weekly 09:00 stays at 09:00
//! across DST), then RDATE and EXDATE, then RECURRENCE-ID overrides replace the instances
//! they name.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::TimeZone as _;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use super::ical::{
    EventStatus, IcalTime, Transparency, VEvent, exact_between, parse_events, zone_for,
};
use super::{CalDavError, CalendarObject};

/// At most this many instances of one recurring event are expanded in one window.
const MAX_INSTANCES: u16 = 5000;

/// What to expand: instances overlapping `[start, end)`; `zone` is the calendar owner's zone,
/// used for floating times and to place all-day events.
#[derive(Debug, Clone)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
    pub zone: TimeZone,
}

/// When an occurrence starts or ends: an instant, or a date for all-day events (the end date
/// is exclusive, as in iCalendar and Google).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventTime {
    At(Timestamp),
    On(Date),
}

/// One occurrence of an event in the window: a single event, or one instance of a recurring
/// one (overridden or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// Stable across syncs: the UID, plus the original start for a recurring instance.
    pub id: String,
    pub uid: String,
    pub start: EventTime,
    pub end: EventTime,
    pub status: EventStatus,
    pub transparency: Transparency,
    /// Our booking id when we wrote the event (its `X-PILLOW-BOOKING-ID`).
    pub booking_id: Option<String>,
    pub summary: Option<String>,
}

impl Occurrence {
    /// Whether it blocks time: not cancelled and not transparent.
    pub fn is_busy(&self) -> bool {
        self.status != EventStatus::Cancelled && self.transparency != Transparency::Transparent
    }

    pub fn is_all_day(&self) -> bool {
        matches!(self.start, EventTime::On(_))
    }
}

/// A busy interval in UTC, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BusyInterval {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The busy intervals of `occurrences`, sorted; all-day events cover their dates from local
/// midnight to local midnight in `zone`.
pub fn busy_intervals(occurrences: &[Occurrence], zone: &TimeZone) -> Vec<BusyInterval> {
    let mut out: Vec<BusyInterval> = occurrences
        .iter()
        .filter(|o| o.is_busy())
        .map(|o| BusyInterval {
            start: instant(o.start, zone),
            end: instant(o.end, zone),
        })
        .filter(|b| b.end > b.start)
        .collect();
    out.sort();
    out
}

fn instant(t: EventTime, zone: &TimeZone) -> Timestamp {
    match t {
        EventTime::At(t) => t,
        EventTime::On(d) => IcalTime::Date(d).instant(zone),
    }
}

impl CalendarObject {
    /// The occurrences of this resource's events that overlap `window`, sorted by start.
    ///
    /// # Errors
    /// [`CalDavError::Invalid`] when the resource is not readable iCalendar or a recurrence
    /// rule is malformed.
    pub fn occurrences(&self, window: &Window) -> Result<Vec<Occurrence>, CalDavError> {
        expand(&parse_events(&self.ical)?, window)
    }
}

/// Expands parsed VEVENTs (one UID's master and overrides, or several single events).
pub(crate) fn expand(events: &[VEvent], window: &Window) -> Result<Vec<Occurrence>, CalDavError> {
    let mut out = Vec::new();
    for master in events.iter().filter(|e| e.recurrence_id.is_none()) {
        let overrides: Vec<&VEvent> = events
            .iter()
            .filter(|e| e.uid == master.uid && e.recurrence_id.is_some())
            .collect();
        let all_day = matches!(master.start, IcalTime::Date(_));
        let replaced: BTreeSet<EventTime> = overrides
            .iter()
            .filter_map(|o| o.recurrence_id.as_ref())
            .map(|r| key(r, all_day, &window.zone))
            .collect();
        for start in starts(master, window)? {
            if replaced.contains(&start) {
                continue;
            }
            out.push(occurrence(master, start, window));
        }
        for o in overrides {
            let start = key(&o.start, matches!(o.start, IcalTime::Date(_)), &window.zone);
            let mut occ = occurrence(o, start, window);
            if let Some(r) = &o.recurrence_id {
                occ.id = instance_id(&o.uid, key(r, all_day, &window.zone));
            }
            out.push(occ);
        }
    }
    // Overrides whose master is not in this resource still describe an instance.
    for orphan in events.iter().filter(|e| {
        e.recurrence_id.is_some()
            && !events
                .iter()
                .any(|m| m.recurrence_id.is_none() && m.uid == e.uid)
    }) {
        let start = key(
            &orphan.start,
            matches!(orphan.start, IcalTime::Date(_)),
            &window.zone,
        );
        out.push(occurrence(orphan, start, window));
    }
    out.retain(|o| overlaps(o, window));
    out.sort_by(|a, b| a.start.cmp(&b.start).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// How an instance is identified: its start instant, or its date for all-day events.
fn key(t: &IcalTime, all_day: bool, zone: &TimeZone) -> EventTime {
    if all_day {
        EventTime::On(t.date())
    } else {
        EventTime::At(t.instant(zone))
    }
}

fn instance_id(uid: &str, start: EventTime) -> String {
    match start {
        EventTime::At(t) => format!("{uid}_{}", t.strftime("%Y%m%dT%H%M%SZ")),
        EventTime::On(d) => format!("{uid}_{}", d.strftime("%Y%m%d")),
    }
}

fn occurrence(e: &VEvent, start: EventTime, window: &Window) -> Occurrence {
    let recurring = !e.rrules.is_empty() || !e.rdates.is_empty();
    Occurrence {
        id: if recurring {
            instance_id(&e.uid, start)
        } else {
            e.uid.clone()
        },
        uid: e.uid.clone(),
        start,
        end: end_of(e, start, window),
        status: e.status,
        transparency: e.transparency,
        booking_id: e.booking_id.clone(),
        summary: e.summary.clone(),
    }
}

/// An instance's end: the same exact length as DTSTART to DTEND, or DURATION added in the
/// event's zone (so "P1D" is one calendar day), or the start itself (one day when all-day).
fn end_of(e: &VEvent, start: EventTime, window: &Window) -> EventTime {
    match start {
        EventTime::On(d) => {
            let days = match (&e.end, e.duration) {
                (Some(end), _) => (end.date() - e.start.date()).get_days().max(1),
                (None, Some(span)) => span.get_days().max(1),
                (None, None) => 1,
            };
            EventTime::On(d.checked_add(days.days()).unwrap_or(d))
        }
        EventTime::At(t) => {
            if let Some(end) = &e.end {
                return EventTime::At(
                    t.saturating_add(exact_between(&e.start, end, &window.zone))
                        .unwrap_or(t),
                );
            }
            if let Some(span) = e.duration {
                let zone = start_zone(&e.start, &window.zone);
                return EventTime::At(
                    t.to_zoned(zone)
                        .checked_add(span)
                        .map_or(t, |z| z.timestamp()),
                );
            }
            EventTime::At(t)
        }
    }
}

fn start_zone(t: &IcalTime, default: &TimeZone) -> TimeZone {
    match t {
        IcalTime::Utc(_) => TimeZone::UTC,
        IcalTime::Local(_, tzid) => zone_for(tzid.as_deref(), default),
        IcalTime::Date(_) => default.clone(),
    }
}

fn overlaps(o: &Occurrence, window: &Window) -> bool {
    let start = instant(o.start, &window.zone);
    let end = instant(o.end, &window.zone).max(start);
    start < window.end && (end > window.start || (end == start && start >= window.start))
}

/// Every start of `e` that could overlap the window: DTSTART and the RRULE's instances,
/// plus RDATEs, minus EXDATEs.
fn starts(e: &VEvent, window: &Window) -> Result<Vec<EventTime>, CalDavError> {
    let all_day = matches!(e.start, IcalTime::Date(_));
    let first = key(&e.start, all_day, &window.zone);
    let mut starts: BTreeSet<EventTime> = BTreeSet::new();
    if e.rrules.is_empty() {
        starts.insert(first);
    } else {
        starts.extend(rrule_starts(e, all_day, window)?);
    }
    starts.extend(e.rdates.iter().map(|r| key(r, all_day, &window.zone)));
    for x in &e.exdates {
        starts.remove(&key(x, all_day, &window.zone));
    }
    Ok(starts.into_iter().collect())
}

/// The RRULE's instances from a little before the window (so long events that started
/// earlier still count) to its end, computed by the `rrule` crate in the event's zone.
fn rrule_starts(e: &VEvent, all_day: bool, window: &Window) -> Result<Vec<EventTime>, CalDavError> {
    let zone = start_zone(&e.start, &window.zone);
    let dtstart = if all_day {
        // Dates recur as dates: expand them at midnight UTC, which has no DST to shift them.
        format!("DTSTART:{}T000000Z", e.start.date().strftime("%Y%m%d"))
    } else {
        let instant = e.start.instant(&window.zone);
        match (zone.iana_name(), &e.start) {
            (_, IcalTime::Utc(_)) | (None, _) => {
                format!("DTSTART:{}", instant.strftime("%Y%m%dT%H%M%SZ"))
            }
            (Some(name), _) => format!(
                "DTSTART;TZID={name}:{}",
                instant.to_zoned(zone.clone()).strftime("%Y%m%dT%H%M%S")
            ),
        }
    };
    let text = std::iter::once(dtstart)
        .chain(e.rrules.iter().map(|r| format!("RRULE:{r}")))
        .collect::<Vec<_>>()
        .join("\n");
    let set = rrule::RRuleSet::from_str(&text)
        .map_err(|err| CalDavError::Invalid(format!("recurrence of {}: {err}", e.uid)))?;
    // Start early enough to catch an instance that began before the window and is still on.
    let longest = SignedDuration::from_hours(24 * 35);
    let from = window.start.saturating_sub(longest).unwrap_or(window.start);
    let utc = |t: Timestamp| {
        rrule::Tz::UTC
            .timestamp_opt(t.as_second(), 0)
            .single()
            .ok_or_else(|| CalDavError::Invalid(format!("instant {t} out of range")))
    };
    let result = set
        .after(utc(from)?)
        .before(utc(window.end)?)
        .all(MAX_INSTANCES);
    Ok(result
        .dates
        .into_iter()
        .filter_map(|d| Timestamp::from_second(d.timestamp()).ok())
        .map(|t| {
            if all_day {
                EventTime::On(t.to_zoned(TimeZone::UTC).date())
            } else {
                EventTime::At(t)
            }
        })
        .collect())
}

#[cfg(test)]
mod tests;
