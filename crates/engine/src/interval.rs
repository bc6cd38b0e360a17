//! Half-open instant intervals and the small amount of interval algebra the
//! slot engine needs.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// A half-open span of time `[start, end)` between two UTC instants.
///
/// Half-open so that back-to-back bookings (10:00–10:30 and 10:30–11:00)
/// touch without overlapping. An `Interval` is never empty: [`Interval::new`]
/// refuses `start >= end`, so code that receives one can rely on
/// `start < end`.
///
/// Ordering is by `start`, then by `end`.
///
/// # Example
///
/// ```
/// use pillow_engine::Interval;
///
/// let a = Interval::new("2024-06-03T09:00Z".parse()?, "2024-06-03T09:30Z".parse()?).unwrap();
/// let b = Interval::new("2024-06-03T09:30Z".parse()?, "2024-06-03T10:00Z".parse()?).unwrap();
/// assert!(!a.overlaps(&b), "touching intervals do not overlap");
/// assert_eq!(a.duration(), jiff::SignedDuration::from_mins(30));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Interval {
    /// First instant inside the interval.
    pub start: Timestamp,
    /// First instant after the interval.
    pub end: Timestamp,
}

impl Interval {
    /// Builds `[start, end)`, or `None` unless `start < end`.
    #[must_use]
    pub fn new(start: Timestamp, end: Timestamp) -> Option<Interval> {
        (start < end).then_some(Interval { start, end })
    }

    /// True when the two intervals share at least one instant.
    #[must_use]
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// True when `other` lies entirely inside `self`.
    #[must_use]
    pub fn contains(&self, other: &Interval) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// Elapsed time between `start` and `end` (always positive).
    #[must_use]
    pub fn duration(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }
}

/// Adds a duration to an instant, clamping at jiff's representable range
/// instead of failing: callers only compare the result, and a clamped bound
/// still compares correctly against every real instant.
pub(crate) fn add_clamped(ts: Timestamp, d: SignedDuration) -> Timestamp {
    match ts.checked_add(d) {
        Ok(t) => t,
        Err(_) if d.is_negative() => Timestamp::MIN,
        Err(_) => Timestamp::MAX,
    }
}

/// Sorts intervals and merges every overlapping or touching pair, so the
/// result is sorted, disjoint and non-adjacent.
///
/// Merging touching intervals is safe for conflict checks: a half-open
/// interval overlaps `[a, c)` exactly when it overlaps `[a, b)` or `[b, c)`.
pub fn normalize(intervals: &[Interval]) -> Vec<Interval> {
    let mut sorted = intervals.to_vec();
    sorted.sort_unstable();
    let mut merged: Vec<Interval> = Vec::with_capacity(sorted.len());
    for iv in sorted {
        match merged.last_mut() {
            Some(last) if iv.start <= last.end => {
                if iv.end > last.end {
                    last.end = iv.end;
                }
            }
            _ => merged.push(iv),
        }
    }
    merged
}

/// Whether intervals are already sorted and disjoint (as [`normalize`] leaves them), so callers
/// that keep busy time normalised skip the copy and sort.
pub(crate) fn is_normalized(intervals: &[Interval]) -> bool {
    intervals.windows(2).all(|w| w[0].end < w[1].start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn iv(a: &str, b: &str) -> Interval {
        Interval::new(ts(a), ts(b)).unwrap()
    }

    #[test]
    fn an_interval_must_start_before_it_ends() {
        let t = ts("2024-01-01T00:00Z");
        assert_eq!(Interval::new(t, t), None);
        assert_eq!(Interval::new(ts("2024-01-01T01:00Z"), t), None);
    }

    #[test]
    fn touching_intervals_do_not_overlap_but_nested_ones_do() {
        let a = iv("2024-01-01T09:00Z", "2024-01-01T10:00Z");
        let b = iv("2024-01-01T10:00Z", "2024-01-01T11:00Z");
        let c = iv("2024-01-01T09:15Z", "2024-01-01T09:45Z");
        assert!(!a.overlaps(&b));
        assert!(!b.overlaps(&a));
        assert!(a.overlaps(&c) && c.overlaps(&a));
        assert!(a.contains(&c) && !c.contains(&a));
    }

    #[test]
    fn normalizing_merges_overlapping_and_touching_intervals() {
        let merged = normalize(&[
            iv("2024-01-01T12:00Z", "2024-01-01T13:00Z"),
            iv("2024-01-01T09:00Z", "2024-01-01T10:00Z"),
            iv("2024-01-01T10:00Z", "2024-01-01T10:30Z"),
            iv("2024-01-01T09:30Z", "2024-01-01T09:45Z"),
        ]);
        assert_eq!(
            merged,
            vec![
                iv("2024-01-01T09:00Z", "2024-01-01T10:30Z"),
                iv("2024-01-01T12:00Z", "2024-01-01T13:00Z"),
            ]
        );
    }

    #[test]
    fn clamped_addition_saturates_instead_of_failing() {
        assert_eq!(
            add_clamped(Timestamp::MAX, SignedDuration::from_hours(1)),
            Timestamp::MAX
        );
        assert_eq!(
            add_clamped(Timestamp::MIN, SignedDuration::from_hours(-1)),
            Timestamp::MIN
        );
    }
}
