//! The team calendar: a week (or one day) with a row per member, showing their confirmed
//! bookings and the busy time synced from their connected calendars, in a zone the viewer
//! picks (their own by default), named on the page and beside every time.
//!
//! Everyone in the organisation sees when colleagues are busy; the titles of synced events and
//! the attendees of bookings are shown only to owners and admins and to the member whose they
//! are, so a member sees "Busy" and "Booked" for the rest of the team.
//!
//! Every cell has a strip ([`strip`]): the day with working hours shaded, time taken, bookings
//! and the now-line. The week view lists each cell's bookings and how long the member is
//! busy, linking to the day; the day view lists every busy block too, with its title where
//! the viewer may see it. The week's busy time comes from the availability calendar cache
//! (the members' rules and busy time, kept per member while their version holds), so a
//! week of twenty busy members costs two small queries; the day view reads that day's
//! blocking events in one range query of only the columns it shows (member, title, times),
//! and merges the blocks that touch and read the same before drawing them.

mod strip;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use maud::{Markup, html};
use pillow_engine::Interval;
use pillow_store::{Booking, BookingFilter, BookingStatus, TitledBusyEvent, User, UserId};
use serde::Deserialize;

use super::errors::{PageError, PageResult};
use super::layout::{self, Nav};
use super::session::Viewer;
use crate::AppState;
use crate::domain::error::DomainError;
use strip::Strip;

/// Bookings and events read for one page; far more than a week of one team holds.
const READ_LIMIT: u32 = 20_000;

#[derive(Deserialize, Default)]
pub struct CalendarQuery {
    /// Any day of the week to show (or the day, in the day view); today by default.
    date: Option<String>,
    /// `week` (default) or `day`.
    view: Option<String>,
    /// An IANA zone; the viewer's own by default.
    zone: Option<String>,
}

/// Which days the page shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Week,
    Day,
}

impl View {
    fn parse(raw: Option<&str>) -> PageResult<View> {
        match raw.map(str::trim) {
            None | Some("") | Some("week") => Ok(View::Week),
            Some("day") => Ok(View::Day),
            Some(_) => Err(PageError::bad_request("The view is week or day.")),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            View::Week => "week",
            View::Day => "day",
        }
    }

    fn length(self) -> i32 {
        match self {
            View::Week => 7,
            View::Day => 1,
        }
    }
}

/// One thing in a member's day, as the viewer may see it; its label is borrowed from the
/// booking or event it shows, or a fixed word.
struct Entry<'a> {
    start: Timestamp,
    end: Timestamp,
    all_day: bool,
    kind: &'static str,
    label: Cow<'a, str>,
    /// The booking's page, when the viewer may open it.
    link: Option<String>,
}

/// The page's parameters, read and checked.
struct Period {
    view: View,
    zone_name: String,
    zone: TimeZone,
    days: Vec<Date>,
    from: Timestamp,
    to: Timestamp,
}

fn period(query: &CalendarQuery, viewer: &Viewer) -> PageResult<Period> {
    let view = View::parse(query.view.as_deref())?;
    let zone_name = match query.zone.as_deref().map(str::trim) {
        None | Some("") => viewer.user.time_zone.clone(),
        Some(name) => name.to_string(),
    };
    let zone = TimeZone::get(&zone_name).map_err(|_| {
        PageError::bad_request(format!(
            "{zone_name} is not a time zone; pick one from the list, like Europe/London."
        ))
    })?;
    let today = Timestamp::now().to_zoned(zone.clone()).date();
    let date = match query.date.as_deref().map(str::trim) {
        None | Some("") => today,
        Some(raw) => raw
            .parse::<Date>()
            .map_err(|_| PageError::bad_request("The date must look like 2026-12-07."))?,
    };
    let first = match view {
        View::Week => date
            .checked_sub(i64::from(date.weekday().to_monday_zero_offset()).days())
            .map_err(|_| PageError::bad_request("That date is out of range."))?,
        View::Day => date,
    };
    let days: Vec<Date> = (0..view.length())
        .map(|n| first.checked_add(n.days()))
        .collect::<Result<_, _>>()
        .map_err(|_| PageError::bad_request("That date is out of range."))?;
    let start = |day: Date| {
        day.to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .map_err(|_| PageError::bad_request("That date is out of range."))
    };
    let after = days[days.len() - 1]
        .tomorrow()
        .map_err(|_| PageError::bad_request("That date is out of range."))?;
    Ok(Period {
        view,
        zone_name,
        from: start(first)?,
        to: start(after)?,
        zone,
        days,
    })
}

/// The local dates an entry touches: an all-day event's carried dates, or the days a timed
/// entry overlaps in the page's zone.
fn dates_of(entry: &Entry<'_>, zone: &TimeZone) -> (Date, Date) {
    if entry.all_day {
        let first = entry.start.to_zoned(TimeZone::UTC).date();
        let last = entry.end.to_zoned(TimeZone::UTC).date().yesterday();
        return (first, last.unwrap_or(first).max(first));
    }
    let first = entry.start.to_zoned(zone.clone()).date();
    // An entry ending at midnight does not touch the next day.
    let last = entry
        .end
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .unwrap_or(entry.end)
        .to_zoned(zone.clone())
        .date();
    (first, last.max(first))
}

fn booking_entry<'a>(booking: &'a Booking, viewer: &Viewer) -> Entry<'a> {
    let mine = viewer.is_admin() || booking.user_id == viewer.user.id;
    Entry {
        start: booking.start,
        end: booking.end,
        all_day: false,
        kind: "booking",
        label: if mine {
            Cow::Borrowed(&booking.attendee.name)
        } else {
            Cow::Borrowed("Booked")
        },
        link: mine.then(|| format!("/dashboard/bookings/{}", booking.id)),
    }
}

fn event_entry<'a>(event: &'a TitledBusyEvent, viewer: &Viewer) -> Entry<'a> {
    let mine = viewer.is_admin() || event.user_id == viewer.user.id;
    Entry {
        start: event.start,
        end: event.end,
        all_day: event.all_day,
        kind: "busy",
        label: if mine && !event.title.trim().is_empty() {
            Cow::Borrowed(&event.title)
        } else {
            Cow::Borrowed("Busy")
        },
        link: None,
    }
}

/// Each member's entries by day, in start order.
type Grid<'a> = HashMap<(UserId, Date), Vec<Entry<'a>>>;

/// The confirmed bookings of the period: one range query.
async fn bookings_of(
    state: &AppState,
    viewer: &Viewer,
    period: &Period,
) -> PageResult<Vec<Booking>> {
    Ok(state
        .store
        .list_bookings(
            viewer.user.tenant_id,
            &BookingFilter {
                status: Some(BookingStatus::Confirmed),
                from: Some(period.from),
                to: Some(period.to),
                limit: Some(READ_LIMIT),
                ..Default::default()
            },
        )
        .await?)
}

/// The members' events of the period that block time (synced and API-made; a booking's own
/// calendar entry is left out, since the booking is shown itself), with their titles: one
/// range query of five columns (all-day events carry their dates at 00:00 UTC, so the store
/// widens by a day and they are placed by date).
async fn events_of(
    state: &AppState,
    viewer: &Viewer,
    period: &Period,
    members: &[User],
) -> PageResult<Vec<TitledBusyEvent>> {
    let ids: Vec<UserId> = members.iter().map(|m| m.id).collect();
    Ok(state
        .store
        .titled_busy_events(viewer.user.tenant_id, &ids, period.from, period.to)
        .await?)
}

/// Places bookings and events in their members' days.
fn grid<'a>(
    viewer: &Viewer,
    period: &Period,
    bookings: &'a [Booking],
    events: &'a [TitledBusyEvent],
) -> Grid<'a> {
    let mut grid = Grid::new();
    let entries = bookings
        .iter()
        .map(|b| (b.user_id, booking_entry(b, viewer)))
        .chain(events.iter().map(|e| (e.user_id, event_entry(e, viewer))));
    for (user, entry) in entries {
        let (first, last) = dates_of(&entry, &period.zone);
        let shown: Vec<Date> = period
            .days
            .iter()
            .copied()
            .filter(|d| *d >= first && *d <= last)
            .collect();
        let Some((&final_day, rest)) = shown.split_last() else {
            continue;
        };
        for day in rest {
            grid.entry((user, *day)).or_default().push(Entry {
                label: entry.label.clone(),
                link: entry.link.clone(),
                ..entry
            });
        }
        grid.entry((user, final_day)).or_default().push(entry);
    }
    for list in grid.values_mut() {
        list.sort_by_key(|e| (!e.all_day, e.start));
        coalesce(list);
    }
    grid
}

/// What a member's strip is drawn from: their working hours (none without a rule) and the
/// time already taken (busy events and bookings with their buffers).
struct Day {
    working: Vec<Interval>,
    taken: Arc<Vec<Interval>>,
}

/// Each member's working rule (none without one) and taken time.
type Schedules = HashMap<UserId, (Option<Arc<pillow_engine::Rule>>, Arc<Vec<Interval>>)>;

/// Each member's working rule and taken time over the period, from the availability calendar
/// cache; members without working hours have their busy time read in one query.
async fn days_of(
    state: &AppState,
    viewer: &Viewer,
    period: &Period,
    members: &[User],
    now: Timestamp,
) -> PageResult<Schedules> {
    let tenant = viewer.user.tenant_id;
    let ids: Vec<UserId> = members.iter().map(|m| m.id).collect();
    let window = Interval::new(period.from, period.to)
        .ok_or_else(|| PageError::bad_request("That period is empty."))?;
    let calendars = state
        .calendars
        .calendars(state.store.as_ref(), tenant, &ids, window, now)
        .await?;
    let mut days: Schedules = calendars
        .into_iter()
        .map(|c| (c.user_id, (Some(c.rule), c.busy)))
        .collect();
    let missing: Vec<&User> = members
        .iter()
        .filter(|m| !days.contains_key(&m.id))
        .collect();
    if !missing.is_empty() {
        let widen = pillow_store::ALL_DAY_WIDENING;
        let events = state
            .store
            .busy_events(
                tenant,
                &missing.iter().map(|m| m.id).collect::<Vec<_>>(),
                period.from.checked_sub(widen).unwrap_or(period.from),
                period.to.checked_add(widen).unwrap_or(period.to),
            )
            .await?;
        for member in missing {
            let zone = crate::domain::time::stored_zone(&member.time_zone);
            let busy = crate::domain::availability::busy_intervals(&events, member.id, &zone);
            days.insert(member.id, (None, Arc::new(busy)));
        }
    }
    Ok(days)
}

impl Day {
    fn strip(&self, strip: &Strip, booked: &[&Booking], now: Timestamp) -> (Markup, i64) {
        let pairs = |list: &[Interval]| list.iter().map(|i| (i.start, i.end)).collect::<Vec<_>>();
        let taken = pairs(&self.taken);
        let minutes = strip.covered(taken.iter().copied());
        let markup = strip.render(
            &strip.path(pairs(&self.working)),
            &strip.path(taken),
            &strip.path(booked.iter().map(|b| (b.start, b.end))),
            now,
        );
        (markup, minutes)
    }
}

/// Merges busy entries that overlap or touch and read the same (and open nothing): a day of
/// back-to-back meetings shown as "Busy" is one block, which keeps a big team's week readable
/// and its page small.
fn coalesce(list: &mut Vec<Entry<'_>>) {
    let mut merged: Vec<Entry<'_>> = Vec::with_capacity(list.len());
    for entry in list.drain(..) {
        if let Some(last) = merged.last_mut()
            && last.kind == "busy"
            && entry.kind == "busy"
            && !last.all_day
            && !entry.all_day
            && last.label == entry.label
            && entry.start <= last.end
        {
            last.end = last.end.max(entry.end);
            continue;
        }
        merged.push(entry);
    }
    *list = merged;
}

fn entry_markup(entry: &Entry<'_>, zone: &TimeZone) -> Markup {
    let when = if entry.all_day {
        "All day".to_string()
    } else {
        format!(
            "{}–{}",
            entry.start.to_zoned(zone.clone()).strftime("%H:%M"),
            layout::clock(entry.end, zone)
        )
    };
    html! {
        li class=(entry.kind) data-kind=(entry.kind) {
            span.time { (when) }
            " "
            @if let Some(link) = &entry.link {
                a href=(link) { (entry.label.as_ref()) }
            } @else {
                span { (entry.label.as_ref()) }
            }
        }
    }
}

fn link_to(period: &Period, date: Date, view: View) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("date", &date.to_string())
        .append_pair("view", view.as_str())
        .append_pair("zone", &period.zone_name)
        .finish();
    format!("/dashboard/calendar?{query}")
}

/// The zone picker's suggestions: the team's own zones and the viewer's, then the zones most
/// offices are in. Any IANA name may be typed; the full list (hundreds) would weigh more
/// than the calendar itself.
fn suggested_zones(members: &[User], period: &Period) -> Vec<String> {
    let mut zones: Vec<String> = std::iter::once(period.zone_name.clone())
        .chain(members.iter().map(|m| m.time_zone.clone()))
        .chain(super::hours::COMMON_ZONES.iter().map(|z| z.to_string()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    zones.retain(|z| seen.insert(z.clone()));
    zones
}

fn controls(period: &Period, members: &[User]) -> PageResult<Markup> {
    let step = period.view.length();
    let first = period.days[0];
    let previous = first
        .checked_sub(step.days())
        .map_err(DomainError::internal)?;
    let next = first
        .checked_add(step.days())
        .map_err(DomainError::internal)?;
    let today = Timestamp::now().to_zoned(period.zone.clone()).date();
    let other = match period.view {
        View::Week => View::Day,
        View::Day => View::Week,
    };
    Ok(html! {
        nav.pager aria-label="Dates" {
            a href=(link_to(period, previous, period.view)) rel="prev" {
                "← Previous " (period.view.as_str())
            }
            a href=(link_to(period, today, period.view)) { "Today" }
            a href=(link_to(period, next, period.view)) rel="next" {
                "Next " (period.view.as_str()) " →"
            }
            a href=(link_to(period, first, other)) {
                @if other == View::Day { "Day view" } @else { "Week view" }
            }
        }
        form.filters method="get" action="/dashboard/calendar" {
            input type="hidden" name="view" value=(period.view.as_str());
            div {
                label for="date" { "Date" }
                input #date type="date" name="date" value=(first);
            }
            div.grow {
                label for="zone" { "Time zone" }
                input #zone name="zone" list="zones" value=(period.zone_name)
                    autocomplete="off" spellcheck="false";
                datalist #zones {
                    @for zone in suggested_zones(members, period) { option value=(zone) {} }
                }
            }
            div.actions { button type="submit" { "Show" } }
        }
    })
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<CalendarQuery>,
) -> PageResult<Response> {
    let period = period(&query, &viewer)?;
    let mut members: Vec<User> = state.store.list_users(viewer.user.tenant_id).await?;
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let now = Timestamp::now();
    let bookings = bookings_of(&state, &viewer, &period).await?;
    let events = match period.view {
        View::Day => events_of(&state, &viewer, &period, &members).await?,
        View::Week => Vec::new(),
    };
    let grid = grid(&viewer, &period, &bookings, &events);
    let days = days_of(&state, &viewer, &period, &members, now).await?;
    let strips: Vec<Option<Strip>> = period
        .days
        .iter()
        .map(|d| Strip::of(*d, &period.zone))
        .collect();
    let mut booked: HashMap<UserId, Vec<&Booking>> = HashMap::new();
    for booking in &bookings {
        booked.entry(booking.user_id).or_default().push(booking);
    }
    let abbreviation = now.to_zoned(period.zone.clone()).strftime("%Z").to_string();
    let today = now.to_zoned(period.zone.clone()).date();
    let range = match period.view {
        View::Week => format!("Week of {}", period.days[0].strftime("%a %-d %b %Y")),
        View::Day => period.days[0].strftime("%A %-d %b %Y").to_string(),
    };
    let no_bookings = Vec::new();
    let cell = |member: &User, index: usize, day: Date| -> Markup {
        let entries = grid.get(&(member.id, day));
        let drawn = strips[index].as_ref().map(|strip| {
            let (rule, taken) = days
                .get(&member.id)
                .cloned()
                .unwrap_or((None, Arc::default()));
            let (from, to) = strip.bounds();
            let working = match (rule, Interval::new(from, to)) {
                (Some(rule), Some(window)) => pillow_engine::working_intervals(&rule, window),
                _ => Vec::new(),
            };
            Day { working, taken }.strip(strip, booked.get(&member.id).unwrap_or(&no_bookings), now)
        });
        html! {
            td data-date=(day) {
                @if let Some((markup, _)) = &drawn { (markup) }
                @if let Some(entries) = entries {
                    ul.entries {
                        @for entry in entries {
                            (entry_markup(entry, &period.zone))
                        }
                    }
                }
                @if period.view == View::Week {
                    @if let Some((_, minutes)) = drawn.filter(|(_, m)| *m > 0) {
                        a.taken href=(link_to(&period, day, View::Day)) {
                            "Busy " (strip::duration(minutes))
                        }
                    }
                }
            }
        }
    };
    let content = html! {
        (controls(&period, &members)?)
        p.muted role="status" data-testid="zone" {
            (range) ". Times are in " strong { (period.zone_name) } " (" (abbreviation) ")."
            @if period.view == View::Week {
                " Open a day for each busy block."
            }
        }
        div.table-wrap {
            table.team-calendar data-view=(period.view.as_str()) {
                caption.visually-hidden { "Bookings and busy time per member" }
                thead {
                    tr {
                        th scope="col" { "Member" }
                        @for day in &period.days {
                            th scope="col" aria-current=[(*day == today).then_some("date")] {
                                (day.strftime("%a %-d %b"))
                            }
                        }
                    }
                }
                tbody {
                    @for member in &members {
                        tr data-member=(member.id) {
                            th scope="row" { (member.name) }
                            @for (index, day) in period.days.iter().enumerate() {
                                (cell(member, index, *day))
                            }
                        }
                    }
                }
            }
        }
        p.legend.muted {
            span.key.working { "Working hours" } " "
            span.key.busy { "Busy (calendars and bookings)" } " "
            span.key.booking { "Booking" } " "
            span.key.now { "Now" }
        }
    };
    Ok(layout::respond(layout::page(
        "Team calendar",
        &viewer,
        Nav::Calendar,
        content,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(start: &str, end: &str, all_day: bool) -> Entry<'static> {
        Entry {
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
            all_day,
            kind: "busy",
            label: Cow::Borrowed(""),
            link: None,
        }
    }

    #[test]
    fn an_all_day_event_covers_its_carried_dates_whatever_the_zone() {
        let zone = TimeZone::get("America/Los_Angeles").unwrap();
        let e = entry("2026-12-24T00:00:00Z", "2026-12-26T00:00:00Z", true);
        let dates = dates_of(&e, &zone);
        assert_eq!(
            dates,
            (
                jiff::civil::date(2026, 12, 24),
                jiff::civil::date(2026, 12, 25)
            )
        );
    }

    #[test]
    fn touching_busy_time_with_the_same_label_is_one_block_and_bookings_stay_apart() {
        let mut list = vec![
            entry("2026-12-07T14:00:00Z", "2026-12-07T15:00:00Z", false),
            entry("2026-12-07T15:00:00Z", "2026-12-07T15:30:00Z", false),
            entry("2026-12-07T15:15:00Z", "2026-12-07T16:00:00Z", false),
            Entry {
                kind: "booking",
                ..entry("2026-12-07T16:00:00Z", "2026-12-07T16:30:00Z", false)
            },
            entry("2026-12-07T16:30:00Z", "2026-12-07T17:00:00Z", false),
        ];
        coalesce(&mut list);
        let spans: Vec<(String, String, &str)> = list
            .iter()
            .map(|e| (e.start.to_string(), e.end.to_string(), e.kind))
            .collect();
        assert_eq!(
            spans,
            [
                (
                    "2026-12-07T14:00:00Z".into(),
                    "2026-12-07T16:00:00Z".into(),
                    "busy"
                ),
                (
                    "2026-12-07T16:00:00Z".into(),
                    "2026-12-07T16:30:00Z".into(),
                    "booking"
                ),
                (
                    "2026-12-07T16:30:00Z".into(),
                    "2026-12-07T17:00:00Z".into(),
                    "busy"
                ),
            ]
        );
    }

    #[test]
    fn a_timed_event_is_placed_on_its_local_day_and_one_ending_at_midnight_stays_there() {
        let zone = TimeZone::get("Asia/Tokyo").unwrap();
        // 15:00–15:00Z is 00:00 to 00:00 the next day in Tokyo (UTC+9).
        let e = entry("2026-12-06T15:00:00Z", "2026-12-07T15:00:00Z", false);
        assert_eq!(
            dates_of(&e, &zone),
            (
                jiff::civil::date(2026, 12, 7),
                jiff::civil::date(2026, 12, 7)
            )
        );
    }
}
