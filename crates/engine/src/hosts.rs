//! Per-host booking limits and round-robin weights.
//!
//! A host's limits are counted by booking start in the host's own zone: "three a day" means
//! three starting on one local calendar day, which is 23 or 25 hours long on a DST change, and
//! a local week runs from Monday 00:00 to the next Monday 00:00. The engine only says which
//! periods a start counts in and which periods are full; the store re-counts inside the
//! booking's write transaction, so racing requests cannot overshoot.

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::Interval;

/// How many bookings one host may take per local day and per local week; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostLimits {
    pub per_day: Option<u32>,
    pub per_week: Option<u32>,
}

/// At most `max` bookings of the host may start in `window` (this one included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitWindow {
    pub window: Interval,
    pub max: u32,
}

/// The local calendar day of `zone` that contains `at`, as instants: 23 or 25 hours long on a
/// DST change. `None` only at the ends of representable time.
///
/// # Example
///
/// ```
/// use jiff::tz::TimeZone;
/// use pillow_engine::local_day;
///
/// let ny = TimeZone::get("America/New_York").unwrap();
/// // 2024-03-10 is the spring-forward day in New York: 23 hours.
/// let day = local_day(&ny, "2024-03-10T15:00:00Z".parse().unwrap()).unwrap();
/// assert_eq!(day.start.to_string(), "2024-03-10T05:00:00Z");
/// assert_eq!(day.end.to_string(), "2024-03-11T04:00:00Z");
/// ```
#[must_use]
pub fn local_day(zone: &TimeZone, at: Timestamp) -> Option<Interval> {
    let date = at.to_zoned(zone.clone()).date();
    let start = date.to_zoned(zone.clone()).ok()?.start_of_day().ok()?;
    let next = date.tomorrow().ok()?.to_zoned(zone.clone()).ok()?;
    Interval::new(start.timestamp(), next.start_of_day().ok()?.timestamp())
}

/// The local week (Monday 00:00 to the next Monday 00:00 in `zone`) that contains `at`.
#[must_use]
pub fn local_week(zone: &TimeZone, at: Timestamp) -> Option<Interval> {
    let date = at.to_zoned(zone.clone()).date();
    let back = i64::from(date.weekday().to_monday_zero_offset());
    let monday = date.checked_sub(back.days()).ok()?;
    debug_assert_eq!(monday.weekday(), Weekday::Monday);
    let next = monday.checked_add(7.days()).ok()?;
    let start = monday.to_zoned(zone.clone()).ok()?.start_of_day().ok()?;
    let end = next.to_zoned(zone.clone()).ok()?.start_of_day().ok()?;
    Interval::new(start.timestamp(), end.timestamp())
}

impl HostLimits {
    /// Whether neither limit is set.
    #[must_use]
    pub fn is_unlimited(&self) -> bool {
        self.per_day.is_none() && self.per_week.is_none()
    }

    /// The periods a booking starting at `start` counts in, with their caps: what the store
    /// re-counts when it writes the booking.
    #[must_use]
    pub fn windows_at(&self, zone: &TimeZone, start: Timestamp) -> Vec<LimitWindow> {
        let day = self.per_day.and_then(|max| {
            Some(LimitWindow {
                window: local_day(zone, start)?,
                max,
            })
        });
        let week = self.per_week.and_then(|max| {
            Some(LimitWindow {
                window: local_week(zone, start)?,
                max,
            })
        });
        day.into_iter().chain(week).collect()
    }

    /// The periods in which the host already has as many bookings as allowed, given the starts
    /// of their confirmed bookings: no new booking may start inside one.
    ///
    /// # Example
    ///
    /// ```
    /// use jiff::tz::TimeZone;
    /// use pillow_engine::HostLimits;
    ///
    /// let limits = HostLimits { per_day: Some(2), per_week: None };
    /// let starts = ["2024-05-06T09:00:00Z", "2024-05-06T10:00:00Z", "2024-05-07T09:00:00Z"]
    ///     .map(|s| s.parse().unwrap());
    /// let full = limits.full_periods(&TimeZone::UTC, &starts);
    /// assert_eq!(full.len(), 1);
    /// assert_eq!(full[0].start.to_string(), "2024-05-06T00:00:00Z");
    /// ```
    #[must_use]
    pub fn full_periods(&self, zone: &TimeZone, starts: &[Timestamp]) -> Vec<Interval> {
        let mut full = Vec::new();
        let caps: [(Option<u32>, PeriodOf); 2] =
            [(self.per_day, local_day), (self.per_week, local_week)];
        for (max, period_of) in caps {
            let Some(max) = max else { continue };
            let mut periods: Vec<Interval> =
                starts.iter().filter_map(|s| period_of(zone, *s)).collect();
            periods.sort_by_key(|p| p.start);
            for run in periods.chunk_by(|a, b| a == b) {
                if u32::try_from(run.len()).unwrap_or(u32::MAX) >= max {
                    full.push(run[0]);
                }
            }
        }
        full.sort_by_key(|p| p.start);
        full
    }
}

/// The local period (day or week) of a zone that contains an instant.
type PeriodOf = fn(&TimeZone, Timestamp) -> Option<Interval>;

/// Whether `start` lies in one of the `full` periods ([`HostLimits::full_periods`]).
#[must_use]
pub fn in_full_period(full: &[Interval], start: Timestamp) -> bool {
    full.iter().any(|p| p.start <= start && start < p.end)
}

/// A free member for weighted round robin: their weight and how many bookings they hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weighted<Id> {
    pub id: Id,
    /// At least 1; a member of weight 2 is meant to get twice the bookings of weight 1.
    pub weight: u32,
    /// The bookings counted against the member (the caller's choice; the server counts the
    /// member's upcoming confirmed bookings).
    pub booked: u32,
    /// When the member last received a booking; `None` if never.
    pub last_booked_at: Option<Timestamp>,
}

/// Weighted round robin as a deficit count: each member's deficit is the share of the next
/// `n + 1` bookings its weight entitles it to, less the bookings it holds (`n` is the total they
/// hold); the largest deficit goes first, then the least recently booked (never booked first),
/// then list order. Always giving the next booking to the first keeps every member within one
/// booking of its exact share, deterministically: the smooth weighted round robin of nginx,
/// computed from counts instead of kept as state.
///
/// # Example
///
/// ```
/// use pillow_engine::{Weighted, rank_weighted};
///
/// let c = [
///     Weighted { id: "ana", weight: 2, booked: 1, last_booked_at: None },
///     Weighted { id: "bo", weight: 1, booked: 1, last_booked_at: None },
/// ];
/// // Of three bookings Ana is owed two and holds one; Bo is owed one and holds it.
/// assert_eq!(rank_weighted(&c), ["ana", "bo"]);
/// ```
#[must_use]
pub fn rank_weighted<Id: Clone>(candidates: &[Weighted<Id>]) -> Vec<Id> {
    let total_weight: i128 = candidates.iter().map(|c| i128::from(c.weight.max(1))).sum();
    let next: i128 = candidates
        .iter()
        .map(|c| i128::from(c.booked))
        .sum::<i128>()
        + 1;
    // The deficit times the total weight, so the comparison is exact in integers.
    let surplus =
        |c: &Weighted<Id>| i128::from(c.booked) * total_weight - next * i128::from(c.weight.max(1));
    let mut order: Vec<&Weighted<Id>> = candidates.iter().collect();
    order.sort_by(|a, b| {
        surplus(a)
            .cmp(&surplus(b))
            .then(a.last_booked_at.cmp(&b.last_booked_at))
    });
    order.into_iter().map(|c| c.id.clone()).collect()
}

#[cfg(test)]
#[path = "hosts/tests.rs"]
mod tests;
