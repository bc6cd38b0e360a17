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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A valid document to mutate in each test.
    fn base() -> serde_json::Value {
        json!({
            "name": "Work Hours",
            "schedule": {
                "monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
                "friday": [{"start": "09:00", "end": "17:00"}]
            },
            "timezone": "America/Los_Angeles",
            "slot_duration": 30,
            "buffer_before": 5,
            "buffer_after": 5,
            "min_booking_notice": 60,
            "max_booking_notice": 43200,
            "date_overrides": [{"date": "2024-12-25", "available": false, "reason": "Holiday"}],
            "is_default": true
        })
    }

    fn parse_value(value: serde_json::Value) -> Result<Rule, RuleError> {
        let doc: RuleDocument =
            serde_json::from_value(value).expect("document has the right shape");
        Rule::parse(&doc)
    }

    /// Parses `base()` with `field` replaced by `value`; returns (field, code).
    fn error_with(field: &str, value: serde_json::Value) -> (String, &'static str) {
        let mut doc = base();
        doc[field] = value;
        let err = parse_value(doc).expect_err("document should be refused");
        assert!(
            err.message.contains(&err.field),
            "message {:?} should name the field {:?}",
            err.message,
            err.field
        );
        (err.field, err.code)
    }

    fn monday(ranges: serde_json::Value) -> (String, &'static str) {
        error_with("schedule", json!({ "monday": ranges }))
    }

    fn range(start: &str, end: &str) -> serde_json::Value {
        json!([{"start": start, "end": end}])
    }

    #[test]
    fn the_seed_configuration_example_is_valid() {
        let rule = parse_value(base()).unwrap();
        assert_eq!(rule.time_zone().iana_name(), Some("America/Los_Angeles"));
        assert_eq!(rule.slot_duration(), SignedDuration::from_mins(30));
        assert_eq!(rule.slot_step(), SignedDuration::from_mins(30));
        assert_eq!(rule.buffer_before(), SignedDuration::from_mins(5));
        assert_eq!(rule.buffer_after(), SignedDuration::from_mins(5));
        assert_eq!(rule.min_booking_notice(), SignedDuration::from_mins(60));
        assert_eq!(
            rule.max_booking_notice(),
            Some(SignedDuration::from_hours(30 * 24))
        );
        assert_eq!(rule.weekly_ranges(Weekday::Monday).len(), 2);
        assert!(rule.weekly_ranges(Weekday::Sunday).is_empty());
        assert!(rule.ranges_on(Date::constant(2024, 12, 25)).is_empty());
    }

    #[test]
    fn the_seed_quick_start_example_is_valid_and_fills_in_defaults() {
        let doc: RuleDocument = serde_json::from_str(
            r#"{
                "name": "Work Hours",
                "schedule": {
                    "monday": [{"start": "09:00", "end": "17:00"}],
                    "tuesday": [{"start": "09:00", "end": "17:00"}],
                    "wednesday": [{"start": "09:00", "end": "17:00"}],
                    "thursday": [{"start": "09:00", "end": "17:00"}],
                    "friday": [{"start": "09:00", "end": "17:00"}]
                },
                "timezone": "America/Los_Angeles",
                "slot_duration": 30,
                "is_default": true
            }"#,
        )
        .unwrap();
        assert_eq!(
            (doc.buffer_before, doc.buffer_after, doc.min_booking_notice),
            (0, 0, 0)
        );
        assert_eq!((doc.slot_interval, doc.max_booking_notice), (None, None));
        assert!(doc.date_overrides.is_empty());
        let rule = Rule::parse(&doc).unwrap();
        assert_eq!(rule.document(), &doc);
        assert_eq!(rule.max_booking_notice(), None);
    }

    #[test]
    fn slot_duration_defaults_to_thirty_minutes() {
        let doc: RuleDocument = serde_json::from_str(r#"{"timezone": "UTC"}"#).unwrap();
        assert_eq!(doc.slot_duration, 30);
    }

    #[test]
    fn a_stored_document_reserialises_to_the_same_json() {
        let mut value = base();
        value["slot_interval"] = json!(15);
        value["date_overrides"] = json!([
            {"date": "2024-12-25", "available": false, "reason": "Holiday"},
            {"date": "2024-12-24", "available": true, "ranges": [{"start": "09:00", "end": "12:00"}]}
        ]);
        let doc: RuleDocument = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&doc).unwrap(), value);
        let again: RuleDocument =
            serde_json::from_value(serde_json::to_value(&doc).unwrap()).unwrap();
        assert_eq!(again, doc);
    }

    #[test]
    fn unknown_fields_are_refused_when_deserialising() {
        let mut value = base();
        value["buffer_befor"] = json!(5);
        assert!(serde_json::from_value::<RuleDocument>(value).is_err());
        let mut value = base();
        value["date_overrides"] = json!([{"date": "2024-12-25", "available": false, "why": "x"}]);
        assert!(serde_json::from_value::<RuleDocument>(value).is_err());
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        assert_eq!(
            error_with("timezone", json!("America/Springfield")),
            ("timezone".into(), "invalid_timezone")
        );
        assert_eq!(
            error_with("timezone", json!("")),
            ("timezone".into(), "invalid_timezone")
        );
        assert_eq!(
            error_with("timezone", json!("+05:00")),
            ("timezone".into(), "invalid_timezone")
        );
    }

    #[test]
    fn times_must_be_two_digit_24_hour_hh_mm() {
        for bad in [
            "9am", "9:00", "25:00", "09:60", "0900", "09:00:00", " 9:00", "", "24:30", "-1:00",
            "０9:00",
        ] {
            assert_eq!(
                monday(range(bad, "17:00")),
                ("schedule.monday[0].start".into(), "invalid_time"),
                "start {bad:?}"
            );
        }
        assert_eq!(
            monday(json!([{"start": "08:00", "end": "09:00"}, {"start": "09:00", "end": "5pm"}])),
            ("schedule.monday[1].end".into(), "invalid_time")
        );
    }

    #[test]
    fn twenty_four_hundred_is_valid_only_as_an_end() {
        assert_eq!(
            monday(range("24:00", "24:00")),
            ("schedule.monday[0].start".into(), "invalid_time")
        );
        let mut doc = base();
        doc["schedule"] = json!({"monday": range("22:00", "24:00")});
        let rule = parse_value(doc).unwrap();
        let r = rule.weekly_ranges(Weekday::Monday)[0];
        assert_eq!((r.start_minute(), r.end_minute()), (22 * 60, 1440));
    }

    #[test]
    fn a_range_must_end_after_it_starts() {
        assert_eq!(
            monday(range("17:00", "09:00")),
            ("schedule.monday[0].end".into(), "invalid_range")
        );
        assert_eq!(
            monday(range("09:00", "09:00")),
            ("schedule.monday[0].end".into(), "invalid_range")
        );
    }

    #[test]
    fn overlapping_ranges_within_a_day_are_refused() {
        assert_eq!(
            monday(json!([{"start": "09:00", "end": "12:00"}, {"start": "11:59", "end": "17:00"}])),
            ("schedule.monday[1]".into(), "overlapping_ranges")
        );
        // Nested, and given out of order.
        assert_eq!(
            monday(json!([
                {"start": "13:00", "end": "14:00"},
                {"start": "08:00", "end": "09:00"},
                {"start": "12:00", "end": "18:00"}
            ])),
            ("schedule.monday[2]".into(), "overlapping_ranges")
        );
    }

    #[test]
    fn touching_ranges_are_fine_and_are_kept_sorted() {
        let mut doc = base();
        doc["schedule"] = json!({"monday": [
            {"start": "12:00", "end": "17:00"},
            {"start": "09:00", "end": "12:00"}
        ]});
        let rule = parse_value(doc).unwrap();
        let minutes: Vec<(u16, u16)> = rule
            .weekly_ranges(Weekday::Monday)
            .iter()
            .map(|r| (r.start_minute(), r.end_minute()))
            .collect();
        assert_eq!(minutes, [(540, 720), (720, 1020)]);
    }

    #[test]
    fn weekday_names_must_be_lower_case_english() {
        for bad in ["Monday", "mon", "MONDAY", "lundi", "weekday"] {
            assert_eq!(
                error_with("schedule", json!({ bad: range("09:00", "17:00") })),
                (format!("schedule.{bad}"), "invalid_weekday")
            );
        }
    }

    #[test]
    fn slot_duration_must_be_between_5_and_1440_minutes() {
        for bad in [4, 0, -30, 1441] {
            assert_eq!(
                error_with("slot_duration", json!(bad)),
                ("slot_duration".into(), "invalid_slot_duration")
            );
        }
        for good in [5, 1440] {
            let mut doc = base();
            doc["slot_duration"] = json!(good);
            assert!(parse_value(doc).is_ok());
        }
    }

    #[test]
    fn slot_interval_if_given_must_be_between_5_and_1440_minutes() {
        for bad in [4, 0, 1441] {
            assert_eq!(
                error_with("slot_interval", json!(bad)),
                ("slot_interval".into(), "invalid_slot_interval")
            );
        }
        let mut doc = base();
        doc["slot_interval"] = json!(15);
        let rule = parse_value(doc).unwrap();
        assert_eq!(rule.slot_interval(), Some(SignedDuration::from_mins(15)));
        assert_eq!(rule.slot_step(), SignedDuration::from_mins(15));
    }

    #[test]
    fn buffers_must_not_be_negative_or_longer_than_a_day() {
        assert_eq!(
            error_with("buffer_before", json!(-1)),
            ("buffer_before".into(), "invalid_buffer")
        );
        assert_eq!(
            error_with("buffer_after", json!(-5)),
            ("buffer_after".into(), "invalid_buffer")
        );
        assert_eq!(
            error_with("buffer_after", json!(1441)),
            ("buffer_after".into(), "invalid_buffer")
        );
    }

    #[test]
    fn minimum_notice_must_not_be_negative() {
        assert_eq!(
            error_with("min_booking_notice", json!(-1)),
            ("min_booking_notice".into(), "invalid_notice")
        );
    }

    #[test]
    fn maximum_notice_must_not_be_below_the_minimum() {
        assert_eq!(
            error_with("max_booking_notice", json!(59)),
            ("max_booking_notice".into(), "invalid_notice")
        );
        let mut doc = base();
        doc["max_booking_notice"] = json!(60);
        assert!(parse_value(doc).is_ok(), "equal to the minimum is allowed");
    }

    #[test]
    fn absurdly_long_notices_are_refused_instead_of_overflowing() {
        assert_eq!(
            error_with("min_booking_notice", json!(i64::MAX)),
            ("min_booking_notice".into(), "invalid_notice")
        );
        assert_eq!(
            error_with("max_booking_notice", json!(i64::MAX)),
            ("max_booking_notice".into(), "invalid_notice")
        );
    }

    #[test]
    fn override_dates_must_be_real_yyyy_mm_dd_dates() {
        for bad in [
            "2024-13-01",
            "2024-02-30",
            "24-12-25",
            "2024/12/25",
            "2024-1-05",
            "tomorrow",
            "2024-12-25T00:00",
        ] {
            assert_eq!(
                error_with("date_overrides", json!([{"date": bad, "available": false}])),
                ("date_overrides[0].date".into(), "invalid_date"),
                "date {bad:?}"
            );
        }
        let mut doc = base();
        doc["date_overrides"] = json!([{"date": "2024-02-29", "available": false}]);
        assert!(parse_value(doc).is_ok(), "leap day exists in 2024");
    }

    #[test]
    fn an_available_override_needs_ranges() {
        assert_eq!(
            error_with(
                "date_overrides",
                json!([{"date": "2024-12-24", "available": true}])
            ),
            ("date_overrides[0].ranges".into(), "missing_ranges")
        );
        assert_eq!(
            error_with(
                "date_overrides",
                json!([{"date": "2024-12-24", "available": true, "ranges": []}])
            ),
            ("date_overrides[0].ranges".into(), "missing_ranges")
        );
    }

    #[test]
    fn an_available_overrides_ranges_are_validated_like_the_schedule() {
        assert_eq!(
            error_with(
                "date_overrides",
                json!([
                    {"date": "2024-12-23", "available": false},
                    {"date": "2024-12-24", "available": true, "ranges": [
                        {"start": "09:00", "end": "12:00"},
                        {"start": "10:00", "end": "11:00"}
                    ]}
                ])
            ),
            ("date_overrides[1].ranges[1]".into(), "overlapping_ranges")
        );
        assert_eq!(
            error_with(
                "date_overrides",
                json!([{"date": "2024-12-24", "available": true, "ranges": range("9:00", "12:00")}])
            ),
            ("date_overrides[0].ranges[0].start".into(), "invalid_time")
        );
    }

    #[test]
    fn an_unavailable_override_cannot_carry_ranges() {
        assert_eq!(
            error_with(
                "date_overrides",
                json!([{"date": "2024-12-24", "available": false, "ranges": range("09:00", "12:00")}])
            ),
            ("date_overrides[0].ranges".into(), "unexpected_ranges")
        );
        let mut doc = base();
        doc["date_overrides"] = json!([{"date": "2024-12-24", "available": false, "ranges": []}]);
        assert!(parse_value(doc).is_ok(), "an empty list is harmless");
    }

    #[test]
    fn the_same_date_cannot_be_overridden_twice() {
        assert_eq!(
            error_with(
                "date_overrides",
                json!([
                    {"date": "2024-12-25", "available": false},
                    {"date": "2024-12-26", "available": false},
                    {"date": "2024-12-25", "available": true, "ranges": range("09:00", "12:00")}
                ])
            ),
            ("date_overrides[2].date".into(), "duplicate_override")
        );
    }

    #[test]
    fn overrides_replace_or_remove_the_weekly_ranges_of_their_date() {
        let mut doc = base();
        doc["date_overrides"] = json!([
            {"date": "2024-12-23", "available": true, "ranges": range("10:00", "11:00")},
            {"date": "2024-12-27", "available": false}
        ]);
        let rule = parse_value(doc).unwrap();
        // 2024-12-23 is a Monday, normally two ranges.
        let r = rule.ranges_on(Date::constant(2024, 12, 23));
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].start_minute(), r[0].end_minute()), (600, 660));
        // 2024-12-27 is a Friday, normally 09:00-17:00.
        assert!(rule.ranges_on(Date::constant(2024, 12, 27)).is_empty());
        assert_eq!(rule.ranges_on(Date::constant(2024, 12, 30)).len(), 2);
    }

    #[test]
    fn the_first_problem_in_field_order_is_reported() {
        let mut doc = base();
        doc["schedule"] = json!({"monday": range("9am", "17:00")});
        doc["timezone"] = json!("Nowhere/Land");
        doc["slot_duration"] = json!(0);
        assert_eq!(parse_value(doc.clone()).unwrap_err().code, "invalid_time");
        doc["schedule"] = json!({});
        assert_eq!(
            parse_value(doc.clone()).unwrap_err().code,
            "invalid_timezone"
        );
        doc["timezone"] = json!("UTC");
        assert_eq!(
            parse_value(doc.clone()).unwrap_err().code,
            "invalid_slot_duration"
        );
        // Unknown weekday keys come before any day's ranges; days go Monday first.
        let mut doc = base();
        doc["schedule"] = json!({
            "sunday": range("25:00", "26:00"),
            "monday": range("17:00", "09:00"),
            "Funday": range("09:00", "10:00")
        });
        assert_eq!(
            parse_value(doc.clone()).unwrap_err().code,
            "invalid_weekday"
        );
        doc["schedule"].as_object_mut().unwrap().remove("Funday");
        assert_eq!(
            parse_value(doc).unwrap_err().field,
            "schedule.monday[0].end"
        );
    }

    #[test]
    fn an_error_displays_as_its_human_message() {
        let mut doc = base();
        doc["timezone"] = json!("Mars/Base");
        let err = parse_value(doc).unwrap_err();
        assert_eq!(err.to_string(), err.message);
        assert!(err.to_string().starts_with("timezone: \"Mars/Base\""));
    }
}
