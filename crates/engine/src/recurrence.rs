//! Recurring series: the starts of a series' occurrences, expanded by the `rrule` crate in the
//! agent's zone, so "every Tuesday at 15:00" stays 15:00 local across DST changes.

use std::fmt::Write as _;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;

/// The most occurrences one series may have: a year of weekly sessions.
pub const MAX_OCCURRENCES: u32 = 52;

/// How often a series repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

/// When a series stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesEnd {
    /// After this many occurrences, the first included.
    Count(u32),
    /// At the last occurrence starting at or before this instant.
    Until(Timestamp),
}

/// A series in the structured form (`frequency`, `interval`, `count` or `until`, `by_day`),
/// turned into the RRULE the expansion reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurrence {
    pub frequency: Frequency,
    /// Every `interval` days, weeks or months; at least 1.
    pub interval: u32,
    pub end: SeriesEnd,
    /// For weekly series: the weekdays it falls on (default: the first occurrence's).
    pub by_day: Vec<Weekday>,
}

impl Recurrence {
    /// The RFC 5545 `RRULE` value of this series (without the `RRULE:` name).
    ///
    /// # Example
    ///
    /// ```
    /// use jiff::civil::Weekday;
    /// use pillow_engine::{Frequency, Recurrence, SeriesEnd};
    ///
    /// let weekly = Recurrence {
    ///     frequency: Frequency::Weekly,
    ///     interval: 1,
    ///     end: SeriesEnd::Count(6),
    ///     by_day: vec![Weekday::Tuesday],
    /// };
    /// assert_eq!(weekly.rrule(), "FREQ=WEEKLY;INTERVAL=1;COUNT=6;BYDAY=TU");
    /// ```
    #[must_use]
    pub fn rrule(&self) -> String {
        let frequency = match self.frequency {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
        };
        let mut rule = format!("FREQ={frequency};INTERVAL={}", self.interval.max(1));
        match self.end {
            SeriesEnd::Count(count) => {
                let _ = write!(rule, ";COUNT={count}");
            }
            SeriesEnd::Until(until) => {
                let _ = write!(rule, ";UNTIL={}", until.strftime("%Y%m%dT%H%M%SZ"));
            }
        }
        if !self.by_day.is_empty() {
            let days: Vec<&str> = self.by_day.iter().map(|d| weekday_code(*d)).collect();
            let _ = write!(rule, ";BYDAY={}", days.join(","));
        }
        rule
    }
}

fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "MO",
        Weekday::Tuesday => "TU",
        Weekday::Wednesday => "WE",
        Weekday::Thursday => "TH",
        Weekday::Friday => "FR",
        Weekday::Saturday => "SA",
        Weekday::Sunday => "SU",
    }
}

/// Why a series cannot be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    /// The rule does not parse or is not valid for its start.
    #[error("the recurrence rule is not valid: {0}")]
    Invalid(String),
    /// Neither `COUNT` nor `UNTIL`: a series must end.
    #[error("a series needs a count or an end (COUNT or UNTIL)")]
    Unbounded,
    /// More occurrences than allowed.
    #[error("a series has at most {max} occurrences")]
    TooMany { max: u32 },
    /// The rule yields no occurrence at all.
    #[error("the recurrence yields no occurrence")]
    Empty,
}

/// The starts of a series whose first occurrence is at `first`, repeating by `rrule` (an RFC
/// 5545 `RRULE` value, with or without the `RRULE:` name) in `zone`: the local wall time of
/// `first` is kept across DST changes. At most `max` occurrences; the rule must end (`COUNT`
/// or `UNTIL`, which must be in UTC as RFC 5545 asks when the start has a zone).
///
/// # Errors
/// [`RecurrenceError`] for a rule that does not parse, never ends, yields nothing or more than
/// `max` occurrences.
///
/// # Example
///
/// ```
/// use jiff::tz::TimeZone;
/// use pillow_engine::expand_series;
///
/// let ny = TimeZone::get("America/New_York").unwrap();
/// // 15:00 in New York on the Tuesday before and the Tuesday after the spring change.
/// let first = "2026-03-03T20:00:00Z".parse().unwrap();
/// let starts = expand_series("FREQ=WEEKLY;COUNT=2", first, &ny, 52).unwrap();
/// assert_eq!(starts[1].to_string(), "2026-03-10T19:00:00Z");
/// ```
pub fn expand_series(
    rrule: &str,
    first: Timestamp,
    zone: &TimeZone,
    max: u32,
) -> Result<Vec<Timestamp>, RecurrenceError> {
    let rule = rrule.trim();
    let rule = rule.strip_prefix("RRULE:").unwrap_or(rule);
    if rule.contains(['\n', '\r']) {
        return Err(RecurrenceError::Invalid("one RRULE line only".into()));
    }
    let upper = rule.to_ascii_uppercase();
    if !upper.contains("COUNT=") && !upper.contains("UNTIL=") {
        return Err(RecurrenceError::Unbounded);
    }
    let dtstart = match zone.iana_name() {
        Some(name) if name != "UTC" => format!(
            "DTSTART;TZID={name}:{}",
            first.to_zoned(zone.clone()).strftime("%Y%m%dT%H%M%S")
        ),
        _ => format!("DTSTART:{}", first.strftime("%Y%m%dT%H%M%SZ")),
    };
    let set = rrule::RRuleSet::from_str(&format!("{dtstart}\nRRULE:{rule}"))
        .map_err(|e| RecurrenceError::Invalid(e.to_string()))?;
    // One more than allowed tells "too many" from "exactly the maximum".
    let limit = u16::try_from(max.saturating_add(1)).unwrap_or(u16::MAX);
    let result = set.all(limit);
    if result.dates.len() > max as usize {
        return Err(RecurrenceError::TooMany { max });
    }
    let starts: Vec<Timestamp> = result
        .dates
        .iter()
        .filter_map(|d| Timestamp::from_second(d.timestamp()).ok())
        .collect();
    if starts.is_empty() {
        return Err(RecurrenceError::Empty);
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::Time;

    fn local_times(starts: &[Timestamp], zone: &TimeZone) -> Vec<Time> {
        starts
            .iter()
            .map(|s| s.to_zoned(zone.clone()).time())
            .collect()
    }

    fn check_wall_time_kept(zone: &str, first: &str, rule: &str, count: usize) {
        let tz = TimeZone::get(zone).unwrap();
        let first: Timestamp = first.parse().unwrap();
        let starts = expand_series(rule, first, &tz, MAX_OCCURRENCES).unwrap();
        assert_eq!(starts.len(), count, "{zone}");
        assert_eq!(starts[0], first, "{zone}");
        let wall = first.to_zoned(tz.clone()).time();
        assert!(
            local_times(&starts, &tz).iter().all(|t| *t == wall),
            "{zone}: {starts:?}"
        );
        // The offsets differ across the change, so the UTC times do too.
        let offsets: std::collections::BTreeSet<_> =
            starts.iter().map(|s| tz.to_offset(*s).seconds()).collect();
        assert_eq!(offsets.len(), 2, "{zone}: {starts:?}");
    }

    #[test]
    fn a_weekly_series_in_new_york_stays_at_15_00_local_across_the_spring_change() {
        // 2026-03-08 is the spring change in New York: 15:00 EST is 20:00Z, EDT 19:00Z.
        check_wall_time_kept(
            "America/New_York",
            "2026-02-24T20:00:00Z",
            "FREQ=WEEKLY;COUNT=6;BYDAY=TU",
            6,
        );
    }

    #[test]
    fn a_weekly_series_in_london_stays_at_15_00_local_across_the_autumn_change() {
        // 2026-10-25: London leaves BST; 15:00 BST is 14:00Z, GMT 15:00Z.
        check_wall_time_kept(
            "Europe/London",
            "2026-10-13T14:00:00Z",
            "RRULE:FREQ=WEEKLY;INTERVAL=1;COUNT=4",
            4,
        );
    }

    #[test]
    fn a_daily_series_in_sydney_stays_at_09_00_local_across_the_april_change() {
        // 2026-04-05: Sydney leaves daylight time; 09:00 AEDT is 22:00Z the day before, AEST 23:00Z.
        check_wall_time_kept(
            "Australia/Sydney",
            "2026-04-01T22:00:00Z",
            "FREQ=DAILY;COUNT=8",
            8,
        );
    }

    #[test]
    fn a_monthly_series_in_sydney_keeps_its_wall_time_across_the_october_change() {
        // 2026-10-04: Sydney enters daylight time.
        check_wall_time_kept(
            "Australia/Sydney",
            "2026-09-14T23:30:00Z",
            "FREQ=MONTHLY;COUNT=3",
            3,
        );
    }

    #[test]
    fn until_ends_a_series_at_the_last_start_before_it() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let first: Timestamp = "2026-03-03T20:00:00Z".parse().unwrap();
        let rule = Recurrence {
            frequency: Frequency::Weekly,
            interval: 2,
            end: SeriesEnd::Until("2026-04-14T19:00:00Z".parse().unwrap()),
            by_day: Vec::new(),
        };
        let starts = expand_series(&rule.rrule(), first, &ny, MAX_OCCURRENCES).unwrap();
        let dates: Vec<String> = starts
            .iter()
            .map(|s| s.to_zoned(ny.clone()).date().to_string())
            .collect();
        assert_eq!(
            dates,
            ["2026-03-03", "2026-03-17", "2026-03-31", "2026-04-14"]
        );
    }

    #[test]
    fn a_series_without_an_end_or_over_the_maximum_is_refused() {
        let utc = TimeZone::UTC;
        let first: Timestamp = "2026-03-03T10:00:00Z".parse().unwrap();
        assert_eq!(
            expand_series("FREQ=DAILY", first, &utc, 52),
            Err(RecurrenceError::Unbounded)
        );
        assert_eq!(
            expand_series("FREQ=DAILY;COUNT=53", first, &utc, 52),
            Err(RecurrenceError::TooMany { max: 52 })
        );
        assert_eq!(
            expand_series("FREQ=DAILY;COUNT=52", first, &utc, 52)
                .unwrap()
                .len(),
            52
        );
        assert!(matches!(
            expand_series("FREQ=SOMETIMES;COUNT=2", first, &utc, 52),
            Err(RecurrenceError::Invalid(_))
        ));
    }
}
