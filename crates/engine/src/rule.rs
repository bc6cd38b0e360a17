//! Availability rules: the stored JSON form ([`RuleDocument`]) and the
//! validated form ([`Rule`]) that the slot engine works with.
//!
//! "Parse, don't validate": a [`Rule`] can only be built by
//! [`Rule::parse`], so everything downstream can rely on a known time zone,
//! well-formed non-overlapping ranges and sane durations.

use std::collections::{BTreeMap, BTreeSet};

use jiff::SignedDuration;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::Interval;

/// Weekday keys accepted in `schedule`, in the order they are validated.
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Minutes in a civil day; also the encoding of `24:00`.
const MINUTES_PER_DAY: u16 = 1440;
/// Smallest and largest accepted `slot_duration` / `slot_interval`, minutes.
const SLOT_MINUTES: std::ops::RangeInclusive<i64> = 5..=1440;
/// Largest accepted buffer: a day. Larger values are almost certainly a unit
/// mistake (seconds for minutes) and would hide whole days of availability.
const MAX_BUFFER_MINUTES: i64 = 1440;
/// Largest accepted booking notice: ten years. Keeps every duration far from
/// jiff's representable range so instant arithmetic cannot overflow.
const MAX_NOTICE_MINUTES: i64 = 10 * 366 * 1440;

fn default_slot_duration() -> i64 {
    30
}

/// One working range as written in JSON, e.g. `{"start": "09:00", "end": "17:00"}`.
///
/// Times are local wall-clock times in the rule's zone, `HH:MM` 24-hour with
/// exactly two hour digits; `24:00` is allowed as an `end` only.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RangeDocument {
    /// Local start time, `HH:MM`.
    pub start: String,
    /// Local end time, `HH:MM` or `24:00`.
    pub end: String,
}

/// A date override as written in JSON.
///
/// `{"date": "2024-12-25", "available": false, "reason": "Holiday"}` removes a
/// local date; `{"date": ..., "available": true, "ranges": [...]}` replaces that
/// date's weekly ranges.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OverrideDocument {
    /// Local civil date, `YYYY-MM-DD`.
    pub date: String,
    /// `false` removes the date; `true` replaces its ranges with `ranges`.
    pub available: bool,
    /// Free text shown to humans, e.g. "Holiday".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Required (and non-empty) when `available` is `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Vec<RangeDocument>>,
}

/// The stored JSON form of an availability rule, exactly as the API accepts it.
///
/// Durations are whole minutes. Unknown fields are rejected so that a typo
/// such as `"buffer_befor"` fails loudly instead of being ignored. This type
/// only describes shape; [`Rule::parse`] checks meaning.
///
/// Serialising omits `name`, `slot_interval` and `max_booking_notice` when
/// they are `None`, so a stored document re-serialises to the same fields.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuleDocument {
    /// Display name, e.g. "Work Hours".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Weekday name (`monday`..`sunday`, lower case) to working ranges.
    /// Missing days have no working time.
    #[serde(default)]
    pub schedule: BTreeMap<String, Vec<RangeDocument>>,
    /// IANA time zone name, e.g. `America/Los_Angeles`.
    pub timezone: String,
    /// Slot grid step and the unit bookings are made of, minutes.
    #[serde(default = "default_slot_duration")]
    pub slot_duration: i64,
    /// Grid step when different from `slot_duration`, minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_interval: Option<i64>,
    /// Time kept free before each booking, minutes.
    #[serde(default)]
    pub buffer_before: i64,
    /// Time kept free after each booking, minutes.
    #[serde(default)]
    pub buffer_after: i64,
    /// Earliest bookable start, minutes after "now".
    #[serde(default)]
    pub min_booking_notice: i64,
    /// Latest bookable start, minutes after "now"; unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_booking_notice: Option<i64>,
    /// Per-date exceptions to the weekly schedule.
    #[serde(default)]
    pub date_overrides: Vec<OverrideDocument>,
    /// Whether this is the user's default rule (not used by the engine).
    #[serde(default)]
    pub is_default: bool,
}

/// Why a [`RuleDocument`] was refused.
///
/// `field` is the JSON path of the offending value (for example
/// `schedule.monday[1].end`), `code` is stable and machine-readable (for
/// example `invalid_time`) and `message` is for humans.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("{message}")]
pub struct RuleError {
    /// JSON path of the offending value.
    pub field: String,
    /// Stable error code: `invalid_timezone`, `invalid_time`, `invalid_range`,
    /// `overlapping_ranges`, `invalid_weekday`, `invalid_slot_duration`,
    /// `invalid_slot_interval`, `invalid_buffer`, `invalid_notice`,
    /// `invalid_date`, `missing_ranges`, `unexpected_ranges` or
    /// `duplicate_override`.
    pub code: &'static str,
    /// Human-readable explanation naming the field.
    pub message: String,
}

impl RuleError {
    fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> RuleError {
        RuleError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// A validated working range on a civil day, in local wall-clock minutes.
///
/// `end` may be 1440 (`24:00`), meaning the next local midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalRange {
    start: u16,
    end: u16,
}

impl LocalRange {
    /// Start as minutes after local midnight (0..1440).
    #[must_use]
    pub fn start_minute(&self) -> u16 {
        self.start
    }

    /// End as minutes after local midnight (1..=1440; 1440 is `24:00`).
    #[must_use]
    pub fn end_minute(&self) -> u16 {
        self.end
    }

    /// The range on `date` in `tz` as instants, or `None` when the range
    /// covers no real time (it lies entirely inside a DST gap).
    ///
    /// Wall times become instants with "compatible" disambiguation: a time in
    /// a gap moves forward by the gap, an ambiguous time takes the earlier
    /// instant. `24:00` is the next date's midnight, so a 00:00–24:00 range
    /// is 23 or 25 hours long on DST days.
    #[must_use]
    pub fn on(&self, date: Date, tz: &TimeZone) -> Option<Interval> {
        let start = wall_instant(date, self.start, tz)?;
        let end = if self.end == MINUTES_PER_DAY {
            wall_instant(date.tomorrow().ok()?, 0, tz)?
        } else {
            wall_instant(date, self.end, tz)?
        };
        Interval::new(start, end)
    }
}

/// Local wall time `minute` (< 1440) on `date` as an instant, "compatible"
/// disambiguation. `None` only at the edges of jiff's supported range.
fn wall_instant(date: Date, minute: u16, tz: &TimeZone) -> Option<jiff::Timestamp> {
    let hour = i8::try_from(minute / 60).ok()?;
    let min = i8::try_from(minute % 60).ok()?;
    let time = Time::new(hour, min, 0, 0).ok()?;
    tz.to_timestamp(date.to_datetime(time)).ok()
}

/// A validated availability rule.
///
/// Build it with [`Rule::parse`]; every accessor can then be trusted (the time
/// zone exists, ranges are well-formed and sorted, durations are in range).
#[derive(Clone, Debug)]
pub struct Rule {
    document: RuleDocument,
    time_zone: TimeZone,
    /// Monday first.
    weekly: [Vec<LocalRange>; 7],
    /// An empty list means "not available that date".
    overrides: BTreeMap<Date, Vec<LocalRange>>,
    slot_duration: SignedDuration,
    slot_interval: Option<SignedDuration>,
    buffer_before: SignedDuration,
    buffer_after: SignedDuration,
    min_booking_notice: SignedDuration,
    max_booking_notice: Option<SignedDuration>,
}

impl Rule {
    /// Validates a [`RuleDocument`] and turns it into a [`Rule`].
    ///
    /// Fields are checked in document order (`schedule`, `timezone`,
    /// `slot_duration`, `slot_interval`, buffers, notices, `date_overrides`)
    /// and the first problem is reported. Within `schedule`, unknown weekday
    /// keys are reported first, then days are checked Monday to Sunday.
    ///
    /// # Errors
    ///
    /// Returns a [`RuleError`] naming the field and one of these codes:
    ///
    /// - `invalid_weekday`: a `schedule` key other than `monday`..`sunday`
    ///   (lower case).
    /// - `invalid_time`: a time that is not `HH:MM` 24-hour with two hour
    ///   digits (`"9:00"`, `"9am"` and `"25:00"` are refused), or `24:00` used
    ///   as a start.
    /// - `invalid_range`: an end that is not after its start.
    /// - `overlapping_ranges`: two ranges of one day share time (touching
    ///   ranges such as 09:00–12:00 and 12:00–17:00 are fine).
    /// - `invalid_timezone`: not an IANA zone name known to the tz database.
    /// - `invalid_slot_duration` / `invalid_slot_interval`: outside 5..=1440
    ///   minutes.
    /// - `invalid_buffer`: negative, or more than a day.
    /// - `invalid_notice`: negative minimum notice, a maximum below the
    ///   minimum, or more than ten years.
    /// - `invalid_date`: an override date that is not a real `YYYY-MM-DD`.
    /// - `duplicate_override`: the same date overridden twice.
    /// - `missing_ranges`: `available: true` without (non-empty) `ranges`.
    /// - `unexpected_ranges`: `available: false` with non-empty `ranges`.
    ///
    /// # Example
    ///
    /// ```
    /// use pillow_engine::{Rule, RuleDocument};
    ///
    /// let doc: RuleDocument = serde_json::from_str(r#"{
    ///     "schedule": {"monday": [{"start": "09:00", "end": "17:00"}]},
    ///     "timezone": "America/Los_Angeles",
    ///     "slot_duration": 30
    /// }"#)?;
    /// let rule = Rule::parse(&doc)?;
    /// assert_eq!(rule.slot_duration(), jiff::SignedDuration::from_mins(30));
    ///
    /// let mut bad = doc.clone();
    /// bad.timezone = "Mars/Olympus_Mons".into();
    /// let err = Rule::parse(&bad).unwrap_err();
    /// assert_eq!((err.field.as_str(), err.code), ("timezone", "invalid_timezone"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(doc: &RuleDocument) -> Result<Rule, RuleError> {
        for key in doc.schedule.keys() {
            if !WEEKDAYS.contains(&key.as_str()) {
                return Err(RuleError::new(
                    format!("schedule.{key}"),
                    "invalid_weekday",
                    format!(
                        "schedule.{key}: {key:?} is not a weekday; use monday, tuesday, \
                         wednesday, thursday, friday, saturday or sunday (lower case)"
                    ),
                ));
            }
        }
        let mut weekly: [Vec<LocalRange>; 7] = Default::default();
        for (slot, day) in weekly.iter_mut().zip(WEEKDAYS) {
            if let Some(ranges) = doc.schedule.get(day) {
                *slot = parse_ranges(&format!("schedule.{day}"), ranges)?;
            }
        }

        let time_zone = TimeZone::get(&doc.timezone).map_err(|_| {
            RuleError::new(
                "timezone",
                "invalid_timezone",
                format!(
                    "timezone: {:?} is not a known IANA time zone such as \"America/Los_Angeles\"",
                    doc.timezone
                ),
            )
        })?;

        let slot_duration =
            slot_minutes("slot_duration", "invalid_slot_duration", doc.slot_duration)?;
        let slot_interval = doc
            .slot_interval
            .map(|m| slot_minutes("slot_interval", "invalid_slot_interval", m))
            .transpose()?;
        let buffer_before = buffer_minutes("buffer_before", doc.buffer_before)?;
        let buffer_after = buffer_minutes("buffer_after", doc.buffer_after)?;

        if !(0..=MAX_NOTICE_MINUTES).contains(&doc.min_booking_notice) {
            return Err(RuleError::new(
                "min_booking_notice",
                "invalid_notice",
                format!(
                    "min_booking_notice: must be between 0 and {MAX_NOTICE_MINUTES} minutes, got {}",
                    doc.min_booking_notice
                ),
            ));
        }
        if let Some(max) = doc.max_booking_notice
            && (max < doc.min_booking_notice || max > MAX_NOTICE_MINUTES)
        {
            return Err(RuleError::new(
                "max_booking_notice",
                "invalid_notice",
                format!(
                    "max_booking_notice: must be between min_booking_notice ({}) and \
                     {MAX_NOTICE_MINUTES} minutes, got {max}",
                    doc.min_booking_notice
                ),
            ));
        }

        let overrides = parse_overrides(&doc.date_overrides)?;

        Ok(Rule {
            document: doc.clone(),
            time_zone,
            weekly,
            overrides,
            slot_duration,
            slot_interval,
            buffer_before,
            buffer_after,
            // Both are within MAX_NOTICE_MINUTES (checked above), far from
            // the i64-seconds overflow that makes `from_mins` panic.
            min_booking_notice: SignedDuration::from_mins(doc.min_booking_notice),
            max_booking_notice: doc.max_booking_notice.map(SignedDuration::from_mins),
        })
    }

    /// The document this rule was parsed from, for storing or echoing back.
    #[must_use]
    pub fn document(&self) -> &RuleDocument {
        &self.document
    }

    /// The rule's IANA time zone; all wall times are read in it.
    #[must_use]
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// The booking unit: allowed durations are positive multiples of it.
    #[must_use]
    pub fn slot_duration(&self) -> SignedDuration {
        self.slot_duration
    }

    /// The explicit grid step, if the rule sets one.
    #[must_use]
    pub fn slot_interval(&self) -> Option<SignedDuration> {
        self.slot_interval
    }

    /// Distance between consecutive slot starts: `slot_interval`, or
    /// `slot_duration` when no interval is set.
    #[must_use]
    pub fn slot_step(&self) -> SignedDuration {
        self.slot_interval.unwrap_or(self.slot_duration)
    }

    /// Time a booking keeps free before its start.
    #[must_use]
    pub fn buffer_before(&self) -> SignedDuration {
        self.buffer_before
    }

    /// Time a booking keeps free after its end.
    #[must_use]
    pub fn buffer_after(&self) -> SignedDuration {
        self.buffer_after
    }

    /// Minimum time between "now" and a bookable start.
    #[must_use]
    pub fn min_booking_notice(&self) -> SignedDuration {
        self.min_booking_notice
    }

    /// Maximum time between "now" and a bookable start, if limited.
    #[must_use]
    pub fn max_booking_notice(&self) -> Option<SignedDuration> {
        self.max_booking_notice
    }

    /// The weekly ranges for a weekday, sorted by start.
    #[must_use]
    pub fn weekly_ranges(&self, weekday: Weekday) -> &[LocalRange] {
        let index = match weekday {
            Weekday::Monday => 0,
            Weekday::Tuesday => 1,
            Weekday::Wednesday => 2,
            Weekday::Thursday => 3,
            Weekday::Friday => 4,
            Weekday::Saturday => 5,
            Weekday::Sunday => 6,
        };
        &self.weekly[index]
    }

    /// The ranges that apply on a local date after overrides, sorted by start.
    /// Empty when the date is overridden as unavailable.
    #[must_use]
    pub fn ranges_on(&self, date: Date) -> &[LocalRange] {
        match self.overrides.get(&date) {
            Some(ranges) => ranges,
            None => self.weekly_ranges(date.weekday()),
        }
    }
}

impl TryFrom<&RuleDocument> for Rule {
    type Error = RuleError;

    fn try_from(doc: &RuleDocument) -> Result<Rule, RuleError> {
        Rule::parse(doc)
    }
}

fn slot_minutes(
    field: &str,
    code: &'static str,
    minutes: i64,
) -> Result<SignedDuration, RuleError> {
    if SLOT_MINUTES.contains(&minutes) {
        Ok(SignedDuration::from_mins(minutes))
    } else {
        Err(RuleError::new(
            field,
            code,
            format!("{field}: must be between 5 and 1440 minutes, got {minutes}"),
        ))
    }
}

fn buffer_minutes(field: &str, minutes: i64) -> Result<SignedDuration, RuleError> {
    if (0..=MAX_BUFFER_MINUTES).contains(&minutes) {
        Ok(SignedDuration::from_mins(minutes))
    } else {
        Err(RuleError::new(
            field,
            "invalid_buffer",
            format!("{field}: must be between 0 and {MAX_BUFFER_MINUTES} minutes, got {minutes}"),
        ))
    }
}

/// Parses `HH:MM` (24-hour, two-digit hour) into minutes after midnight.
/// `24:00` (1440) is accepted only when `is_end`.
fn parse_time(field: &str, text: &str, is_end: bool) -> Result<u16, RuleError> {
    let invalid =
        |why: &str| RuleError::new(field, "invalid_time", format!("{field}: {text:?} {why}"));
    let b = text.as_bytes();
    let well_formed =
        b.len() == 5 && b[2] == b':' && [b[0], b[1], b[3], b[4]].iter().all(u8::is_ascii_digit);
    if !well_formed {
        return Err(invalid(
            "is not a time; use 24-hour HH:MM with two-digit hours, such as \"09:00\"",
        ));
    }
    let hour = u16::from(b[0] - b'0') * 10 + u16::from(b[1] - b'0');
    let minute = u16::from(b[3] - b'0') * 10 + u16::from(b[4] - b'0');
    if hour == 24 && minute == 0 {
        return if is_end {
            Ok(MINUTES_PER_DAY)
        } else {
            Err(invalid(
                "can only be used as an end (it means the next midnight)",
            ))
        };
    }
    if hour > 23 || minute > 59 {
        return Err(invalid(
            "is not a time of day; hours go 00-23 and minutes 00-59",
        ));
    }
    Ok(hour * 60 + minute)
}

/// Validates one day's list of ranges; the result is sorted by start.
fn parse_ranges(prefix: &str, ranges: &[RangeDocument]) -> Result<Vec<LocalRange>, RuleError> {
    let mut parsed: Vec<LocalRange> = Vec::with_capacity(ranges.len());
    for (i, doc) in ranges.iter().enumerate() {
        let field = format!("{prefix}[{i}]");
        let start = parse_time(&format!("{field}.start"), &doc.start, false)?;
        let end = parse_time(&format!("{field}.end"), &doc.end, true)?;
        if end <= start {
            return Err(RuleError::new(
                format!("{field}.end"),
                "invalid_range",
                format!(
                    "{field}.end: the range {}-{} ends before it starts; split a range that \
                     crosses midnight into two (..-24:00 and 00:00-..)",
                    doc.start, doc.end
                ),
            ));
        }
        if let Some(j) = parsed.iter().position(|r| start < r.end && r.start < end) {
            return Err(RuleError::new(
                field.clone(),
                "overlapping_ranges",
                format!(
                    "{field}: {}-{} overlaps {prefix}[{j}] ({}-{})",
                    doc.start, doc.end, ranges[j].start, ranges[j].end
                ),
            ));
        }
        parsed.push(LocalRange { start, end });
    }
    parsed.sort_unstable();
    Ok(parsed)
}

/// Parses strict `YYYY-MM-DD` into a real civil date.
fn parse_date(field: &str, text: &str) -> Result<Date, RuleError> {
    let invalid =
        |why: &str| RuleError::new(field, "invalid_date", format!("{field}: {text:?} {why}"));
    let b = text.as_bytes();
    let digits_at = |positions: &[usize]| positions.iter().all(|&p| b[p].is_ascii_digit());
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits_at(&[0, 1, 2, 3, 5, 6, 8, 9]) {
        return Err(invalid(
            "is not a date; use YYYY-MM-DD such as \"2024-12-25\"",
        ));
    }
    let number = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0'))
    };
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    let month = i8::try_from(month).map_err(|_| invalid("has no such month"))?;
    let day = i8::try_from(day).map_err(|_| invalid("has no such day"))?;
    Date::new(year, month, day).map_err(|_| invalid("is not a day in the calendar"))
}

fn parse_overrides(
    docs: &[OverrideDocument],
) -> Result<BTreeMap<Date, Vec<LocalRange>>, RuleError> {
    let mut seen = BTreeSet::new();
    let mut overrides = BTreeMap::new();
    for (i, doc) in docs.iter().enumerate() {
        let field = format!("date_overrides[{i}]");
        let date = parse_date(&format!("{field}.date"), &doc.date)?;
        if !seen.insert(date) {
            return Err(RuleError::new(
                format!("{field}.date"),
                "duplicate_override",
                format!(
                    "{field}.date: {} is already overridden earlier in the list",
                    doc.date
                ),
            ));
        }
        let ranges_field = format!("{field}.ranges");
        let ranges = match (doc.available, doc.ranges.as_deref()) {
            (true, Some(ranges)) if !ranges.is_empty() => parse_ranges(&ranges_field, ranges)?,
            (true, _) => {
                return Err(RuleError::new(
                    ranges_field.clone(),
                    "missing_ranges",
                    format!(
                        "{ranges_field}: an override with \"available\": true needs at least one \
                         range; use \"available\": false to take the day off"
                    ),
                ));
            }
            (false, Some(ranges)) if !ranges.is_empty() => {
                return Err(RuleError::new(
                    ranges_field.clone(),
                    "unexpected_ranges",
                    format!(
                        "{ranges_field}: an override with \"available\": false cannot have \
                         ranges; set \"available\": true to replace the day's hours"
                    ),
                ));
            }
            (false, _) => Vec::new(),
        };
        overrides.insert(date, ranges);
    }
    Ok(overrides)
}

mod shape;
pub use shape::AppointmentShape;

#[cfg(test)]
mod tests;
