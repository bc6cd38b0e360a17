//! Reading the VEVENTs of an iCalendar resource (RFC 5545) with the `icalendar` crate's
//! parser, and writing the events we create.

use icalendar::parser::{Component, Property, read_calendar, unfold};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span};

use super::CalDavError;

/// The property that marks an event we wrote, holding our booking id.
pub const BOOKING_ID_PROPERTY: &str = "X-PILLOW-BOOKING-ID";

/// `STATUS` of a VEVENT (`TENTATIVE`, `CONFIRMED`, `CANCELLED`; absent reads as confirmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Confirmed,
    Tentative,
    Cancelled,
}

/// `TRANSP`: `OPAQUE` (the default: the event blocks time) or `TRANSPARENT` (free).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transparency {
    Opaque,
    Transparent,
}

/// A DATE-TIME or DATE value as written: UTC, local with an optional `TZID` (none means
/// "floating": the same wall time wherever the reader is), or a whole day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IcalTime {
    Utc(Timestamp),
    Local(DateTime, Option<String>),
    Date(Date),
}

impl IcalTime {
    /// The instant this value names; a floating time or a date is read in `default`.
    pub(crate) fn instant(&self, default: &TimeZone) -> Timestamp {
        match self {
            Self::Utc(t) => *t,
            Self::Local(dt, tzid) => local_instant(*dt, &zone_for(tzid.as_deref(), default)),
            Self::Date(d) => local_instant(d.to_datetime(jiff::civil::Time::midnight()), default),
        }
    }

    /// The calendar date of this value (for all-day events).
    pub(crate) fn date(&self) -> Date {
        match self {
            Self::Utc(t) => t.to_zoned(TimeZone::UTC).date(),
            Self::Local(dt, _) => dt.date(),
            Self::Date(d) => *d,
        }
    }
}

/// A wall time in `zone`, with RFC 5545's reading of times a DST change skips or repeats
/// (the "compatible" disambiguation: a skipped time moves forward, a repeated one is the
/// first).
fn local_instant(dt: DateTime, zone: &TimeZone) -> Timestamp {
    zone.to_ambiguous_zoned(dt)
        .compatible()
        .map(|z| z.timestamp())
        .unwrap_or_else(|_| {
            dt.to_zoned(TimeZone::UTC)
                .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp())
        })
}

/// The zone a `TZID` names. Servers often write IANA names, sometimes behind a prefix
/// (`/freeassociation.sourceforge.net/America/New_York`), so the longest IANA-looking tail
/// is tried too; a name that is not IANA at all falls back to `default`.
pub(crate) fn zone_for(tzid: Option<&str>, default: &TimeZone) -> TimeZone {
    let Some(tzid) = tzid else {
        return default.clone();
    };
    let tzid = tzid.trim_matches('"');
    if let Ok(zone) = TimeZone::get(tzid) {
        return zone;
    }
    tzid.match_indices('/')
        .find_map(|(i, _)| TimeZone::get(&tzid[i + 1..]).ok())
        .unwrap_or_else(|| default.clone())
}

/// One VEVENT, with what expansion and busy time need.
#[derive(Debug, Clone)]
pub(crate) struct VEvent {
    pub(crate) uid: String,
    /// Set on an override of one instance of a recurring event.
    pub(crate) recurrence_id: Option<IcalTime>,
    pub(crate) start: IcalTime,
    pub(crate) end: Option<IcalTime>,
    pub(crate) duration: Option<Span>,
    pub(crate) rrules: Vec<String>,
    pub(crate) rdates: Vec<IcalTime>,
    pub(crate) exdates: Vec<IcalTime>,
    pub(crate) status: EventStatus,
    pub(crate) transparency: Transparency,
    pub(crate) booking_id: Option<String>,
    pub(crate) summary: Option<String>,
}

/// The VEVENTs of one resource (VTODOs, VJOURNALs and VTIMEZONEs are skipped).
///
/// # Errors
/// [`CalDavError::Invalid`] when the text is not iCalendar or a VEVENT lacks its UID or
/// DTSTART or has a date we cannot read.
pub(crate) fn parse_events(text: &str) -> Result<Vec<VEvent>, CalDavError> {
    let unfolded = unfold(text);
    let calendar = read_calendar(&unfolded)
        .map_err(|e| CalDavError::Invalid(format!("iCalendar: {}", first_line(&e))))?;
    calendar
        .components
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT"))
        .map(parse_event)
        .collect()
}

fn first_line(s: &str) -> &str {
    s.lines().take(2).last().unwrap_or(s)
}

fn parse_event(c: &Component<'_>) -> Result<VEvent, CalDavError> {
    let text = |name: &str| c.find_prop(name).map(|p| p.val.as_str().trim().to_owned());
    let uid = text("UID").ok_or_else(|| CalDavError::Invalid("a VEVENT without UID".into()))?;
    let start = c
        .find_prop("DTSTART")
        .ok_or_else(|| CalDavError::Invalid(format!("VEVENT {uid} has no DTSTART")))?;
    let start = one_time(start)?;
    let end = c.find_prop("DTEND").map(one_time).transpose()?;
    let duration = match text("DURATION") {
        Some(d) => Some(
            d.parse::<Span>()
                .map_err(|e| CalDavError::Invalid(format!("DURATION {d}: {e}")))?,
        ),
        None => None,
    };
    let all = |name: &str| -> Result<Vec<IcalTime>, CalDavError> {
        let mut out = Vec::new();
        for p in c
            .properties
            .iter()
            .filter(|p| p.name.as_str().eq_ignore_ascii_case(name))
        {
            out.extend(times(p)?);
        }
        Ok(out)
    };
    let status = match text("STATUS").map(|s| s.to_ascii_uppercase()).as_deref() {
        Some("CANCELLED") => EventStatus::Cancelled,
        Some("TENTATIVE") => EventStatus::Tentative,
        _ => EventStatus::Confirmed,
    };
    let transparency = match text("TRANSP").map(|s| s.to_ascii_uppercase()).as_deref() {
        Some("TRANSPARENT") => Transparency::Transparent,
        _ => Transparency::Opaque,
    };
    Ok(VEvent {
        recurrence_id: c.find_prop("RECURRENCE-ID").map(one_time).transpose()?,
        start,
        end,
        duration,
        rrules: c
            .properties
            .iter()
            .filter(|p| p.name.as_str().eq_ignore_ascii_case("RRULE"))
            .map(|p| p.val.as_str().trim().to_owned())
            .collect(),
        rdates: all("RDATE")?,
        exdates: all("EXDATE")?,
        status,
        transparency,
        booking_id: text(BOOKING_ID_PROPERTY),
        summary: text("SUMMARY"),
        uid,
    })
}

fn param<'p>(p: &'p Property<'_>, key: &str) -> Option<&'p str> {
    p.params
        .iter()
        .find(|q| q.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|q| q.val.as_ref())
        .map(|v| v.as_str())
}

fn one_time(p: &Property<'_>) -> Result<IcalTime, CalDavError> {
    times(p)?
        .into_iter()
        .next()
        .ok_or_else(|| CalDavError::Invalid(format!("{} has no value", p.name.as_str())))
}

/// The values of a date property (EXDATE and RDATE may list several, comma-separated; an
/// RDATE PERIOD counts by its start).
fn times(p: &Property<'_>) -> Result<Vec<IcalTime>, CalDavError> {
    let is_date = param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    let tzid = param(p, "TZID").map(str::to_owned);
    p.val
        .as_str()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| parse_time(v.split('/').next().unwrap_or(v), is_date, tzid.as_deref()))
        .collect()
}

fn parse_time(value: &str, is_date: bool, tzid: Option<&str>) -> Result<IcalTime, CalDavError> {
    let bad = |e: jiff::Error| CalDavError::Invalid(format!("date {value:?}: {e}"));
    if is_date || value.len() == 8 {
        return Date::strptime("%Y%m%d", value)
            .map(IcalTime::Date)
            .map_err(bad);
    }
    if let Some(utc) = value.strip_suffix('Z') {
        let dt = DateTime::strptime("%Y%m%dT%H%M%S", utc).map_err(bad)?;
        return dt
            .to_zoned(TimeZone::UTC)
            .map(|z| IcalTime::Utc(z.timestamp()))
            .map_err(bad);
    }
    let dt = DateTime::strptime("%Y%m%dT%H%M%S", value).map_err(bad)?;
    Ok(IcalTime::Local(dt, tzid.map(str::to_owned)))
}

/// An exact duration between two values of one event (DTEND minus DTSTART), in `default`
/// for floating ones.
pub(crate) fn exact_between(
    start: &IcalTime,
    end: &IcalTime,
    default: &TimeZone,
) -> SignedDuration {
    end.instant(default).duration_since(start.instant(default))
}

/// The iCalendar text of an event we write for booking `booking_id`: UTC times, our marker
/// property, and a UID derived from the booking so it is the same on every retry.
pub fn booking_ical(
    booking_id: uuid::Uuid,
    summary: &str,
    description: Option<&str>,
    start: Timestamp,
    end: Timestamp,
) -> String {
    use icalendar::{Component as _, EventLike as _};
    let utc = |t: Timestamp| chrono::DateTime::from_timestamp(t.as_second(), 0).unwrap_or_default();
    let mut event = icalendar::Event::new();
    event
        .uid(&booking_uid(booking_id))
        .summary(summary)
        .starts(utc(start))
        .ends(utc(end))
        .add_property(BOOKING_ID_PROPERTY, booking_id.to_string());
    if let Some(description) = description {
        event.description(description);
    }
    icalendar::Calendar::new()
        .push(event.done())
        .done()
        .to_string()
}

/// The UID of the event for one booking.
pub(crate) fn booking_uid(booking_id: uuid::Uuid) -> String {
    format!("pillow-booking-{booking_id}@pillow.calendar")
}
