//! One member's day in the team calendar drawn as a small SVG strip: the whole local day from
//! midnight to midnight in the page's zone (23 or 25 hours on a DST day, one unit a minute),
//! working hours shaded, time already taken, bookings, a tick every six hours and the now-line.
//! It is a picture only (`aria-hidden`): the cell's text says the same in words. SVG
//! attributes, not inline styles, place the shapes, so the page's content policy holds; colours
//! come from the stylesheet.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use maud::{Markup, html};

/// Where one local day starts and how many minutes it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strip {
    start: Timestamp,
    minutes: i64,
}

impl Strip {
    /// The strip of `day` in `zone`; `None` at the edges of the supported range.
    pub fn of(day: Date, zone: &TimeZone) -> Option<Strip> {
        let start = day.to_zoned(zone.clone()).ok()?.timestamp();
        let end = day
            .tomorrow()
            .ok()?
            .to_zoned(zone.clone())
            .ok()?
            .timestamp();
        Some(Strip {
            start,
            minutes: end.duration_since(start).as_mins(),
        })
    }

    /// The day as instants.
    pub fn bounds(&self) -> (Timestamp, Timestamp) {
        let end = self
            .start
            .checked_add(jiff::SignedDuration::from_mins(self.minutes))
            .unwrap_or(self.start);
        (self.start, end)
    }

    /// `[start, end)` clipped to the day, as minutes from its start; `None` outside it.
    fn span(&self, start: Timestamp, end: Timestamp) -> Option<(i64, i64)> {
        let from = start.duration_since(self.start).as_mins().max(0);
        let to = end.duration_since(self.start).as_mins().min(self.minutes);
        (to > from).then_some((from, to))
    }

    /// Minutes of the day the intervals cover together (overlaps counted once).
    pub fn covered(&self, intervals: impl IntoIterator<Item = (Timestamp, Timestamp)>) -> i64 {
        self.merged(intervals).iter().map(|(a, b)| b - a).sum()
    }

    fn merged(
        &self,
        intervals: impl IntoIterator<Item = (Timestamp, Timestamp)>,
    ) -> Vec<(i64, i64)> {
        let mut spans: Vec<(i64, i64)> = intervals
            .into_iter()
            .filter_map(|(s, e)| self.span(s, e))
            .collect();
        spans.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
        for (from, to) in spans {
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => merged.push((from, to)),
            }
        }
        merged
    }

    /// An SVG path of full-height rectangles, one per merged span: short, since a busy week of
    /// twenty members has thousands of them.
    pub fn path(&self, intervals: impl IntoIterator<Item = (Timestamp, Timestamp)>) -> String {
        let mut path = String::new();
        for (from, to) in self.merged(intervals) {
            let width = to - from;
            path.push_str(&format!("M{from} 0h{width}v10h-{width}z"));
        }
        path
    }

    /// The strip: `working` shaded, `taken` over it, `booked` on top, and the now-line when
    /// `now` falls in the day.
    pub fn render(&self, working: &str, taken: &str, booked: &str, now: Timestamp) -> Markup {
        let ticks: String = [360, 720, 1080]
            .iter()
            .filter(|m| **m < self.minutes)
            .map(|m| format!("M{m} 0v10"))
            .collect();
        let now = self
            .span(now, now + jiff::SignedDuration::from_mins(1))
            .map(|(x, _)| format!("M{x} 0v10"));
        html! {
            svg.strip viewBox={ "0 0 " (self.minutes) " 10" } preserveAspectRatio="none"
                aria-hidden="true" focusable="false" {
                @if !working.is_empty() { path.w d=(working) {} }
                @if !taken.is_empty() { path.t d=(taken) {} }
                @if !booked.is_empty() { path.k d=(booked) {} }
                path.h d=(ticks) {}
                @if let Some(now) = now { path.n d=(now) {} }
            }
        }
    }
}

/// "6 h 15 min", "45 min", "24 h".
pub fn duration(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_day_is_as_long_as_the_zone_makes_it_and_spans_are_clipped_and_merged() {
        let zone = TimeZone::get("America/New_York").unwrap();
        // 2026-03-08 springs forward in New York: 23 hours.
        let short = Strip::of(jiff::civil::date(2026, 3, 8), &zone).unwrap();
        assert_eq!(short.minutes, 23 * 60);
        let day = Strip::of(jiff::civil::date(2026, 12, 7), &zone).unwrap();
        assert_eq!(day.minutes, 24 * 60);
        // 09:00–10:00 and 09:30–11:00 EST overlap; one starts the evening before.
        let busy = [
            (at("2026-12-07T14:00:00Z"), at("2026-12-07T15:00:00Z")),
            (at("2026-12-07T14:30:00Z"), at("2026-12-07T16:00:00Z")),
            (at("2026-12-07T04:00:00Z"), at("2026-12-07T06:00:00Z")),
        ];
        assert_eq!(day.path(busy), "M0 0h60v10h-60zM540 0h120v10h-120z");
        assert_eq!(day.covered(busy), 180);
        assert_eq!(duration(180), "3 h");
        assert_eq!(duration(375), "6 h 15 min");
        assert_eq!(duration(45), "45 min");
    }

    #[test]
    fn the_now_line_shows_only_on_its_own_day() {
        let zone = TimeZone::get("Europe/London").unwrap();
        let day = Strip::of(jiff::civil::date(2026, 12, 7), &zone).unwrap();
        let inside = day
            .render("", "", "", at("2026-12-07T12:30:00Z"))
            .into_string();
        assert!(inside.contains(r#"class="n" d="M750 0v10""#), "{inside}");
        let outside = day
            .render("", "", "", at("2026-12-08T12:30:00Z"))
            .into_string();
        assert!(!outside.contains(r#"class="n""#), "{outside}");
    }
}
