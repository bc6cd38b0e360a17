//! Analytics over a chosen range of dates: bookings per day and week, per member (is the load
//! fair?), per channel (where each booking was made), the cancellation rate, lead time and the
//! busiest hours. Owners and admins only.
//!
//! A booking counts in the range when it starts in it (dates in the viewer's zone), so the
//! figures are the ones `GET /api/calendar/bookings` lists for the same instants. Charts are
//! drawn in the browser by uPlot (see [`super::charts`]), each beside a table with the exact
//! numbers.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::response::Response;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use maud::html;
use pillow_store::{Booking, BookingChannel, BookingFilter, BookingStatus, UserId};
use serde::Deserialize;

use super::channels;
use super::charts;
use super::errors::{PageError, PageResult};
use super::layout::{self, Extras, Nav};
use super::session::Viewer;
use crate::AppState;

/// The longest range one page sums, and how many bookings it reads at most.
const MAX_DAYS: i64 = 366;
const READ_LIMIT: u32 = 200_000;

#[derive(Deserialize, Default)]
pub struct AnalyticsQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The figures of one range, worked out from its bookings alone.
#[derive(Debug, Default, PartialEq)]
pub struct Figures {
    pub total: usize,
    pub confirmed: usize,
    pub cancelled: usize,
    /// Confirmed bookings per local date, every date of the range present.
    pub per_day: BTreeMap<Date, usize>,
    /// Confirmed bookings per week, keyed by the week's Monday.
    pub per_week: BTreeMap<Date, usize>,
    /// (confirmed, cancelled) per member.
    pub per_member: HashMap<UserId, (usize, usize)>,
    /// Confirmed bookings per channel they were made through; `None` for bookings made
    /// before channels were recorded.
    pub per_channel: BTreeMap<Option<BookingChannel>, usize>,
    /// Confirmed bookings by the local hour they start.
    pub per_hour: [usize; 24],
    /// The median time from booking to appointment, in hours, of confirmed bookings.
    pub median_lead_hours: Option<f64>,
}

impl Figures {
    /// Sums `bookings` that start in `[first, last]` (dates in `zone`).
    pub fn of(bookings: &[Booking], zone: &TimeZone, first: Date, last: Date) -> Figures {
        let mut figures = Figures::default();
        for day in first.series(1.day()).take_while(|d| *d <= last) {
            figures.per_day.insert(day, 0);
            figures.per_week.entry(monday_of(day)).or_insert(0);
        }
        let mut leads = Vec::new();
        for booking in bookings {
            let local = booking.start.to_zoned(zone.clone());
            let day = local.date();
            if day < first || day > last {
                continue;
            }
            figures.total += 1;
            let member = figures.per_member.entry(booking.user_id).or_default();
            if booking.status == BookingStatus::Cancelled {
                figures.cancelled += 1;
                member.1 += 1;
                continue;
            }
            figures.confirmed += 1;
            member.0 += 1;
            *figures.per_day.entry(day).or_default() += 1;
            *figures.per_week.entry(monday_of(day)).or_default() += 1;
            *figures.per_channel.entry(booking.channel).or_default() += 1;
            figures.per_hour[local.hour() as usize] += 1;
            leads.push(
                booking
                    .start
                    .duration_since(booking.created_at)
                    .as_secs_f64()
                    / 3600.0,
            );
        }
        leads.sort_by(f64::total_cmp);
        figures.median_lead_hours = match leads.len() {
            0 => None,
            n if n % 2 == 1 => Some(leads[n / 2]),
            n => Some((leads[n / 2 - 1] + leads[n / 2]) / 2.0),
        };
        figures
    }

    /// Cancelled bookings as a share of all, in percent.
    pub fn cancellation_rate(&self) -> Option<f64> {
        (self.total > 0).then(|| self.cancelled as f64 * 100.0 / self.total as f64)
    }
}

fn monday_of(day: Date) -> Date {
    day.checked_sub(i64::from(day.weekday().to_monday_zero_offset()).days())
        .unwrap_or(day)
}

fn range(query: &AnalyticsQuery, viewer: &Viewer) -> PageResult<(Date, Date)> {
    let today = Timestamp::now().to_zoned(viewer.zone()).date();
    let date = |raw: &str, default: Date, label: &str| -> PageResult<Date> {
        match raw.trim() {
            "" => Ok(default),
            raw => raw.parse::<Date>().map_err(|_| {
                PageError::bad_request(format!("{label} must be a date like 2026-12-07."))
            }),
        }
    };
    let first = date(
        &query.from,
        today.checked_sub(30.days()).unwrap_or(today),
        "From",
    )?;
    let last = date(
        &query.to,
        today.checked_add(30.days()).unwrap_or(today),
        "To",
    )?;
    if last < first {
        return Err(PageError::bad_request("To must be on or after From."));
    }
    let days = first
        .until(last)
        .map_err(|_| PageError::bad_request("That range is out of bounds."))?
        .get_days();
    if i64::from(days) >= MAX_DAYS {
        return Err(PageError::bad_request(format!(
            "Choose at most {MAX_DAYS} days at a time."
        )));
    }
    Ok((first, last))
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "—".into(), |v| format!("{v:.1}%"))
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<AnalyticsQuery>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let (first, last) = range(&query, &viewer)?;
    let zone = viewer.zone();
    let start = |day: Date| {
        day.to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .map_err(|_| PageError::bad_request("That date is out of range."))
    };
    let tenant = viewer.user.tenant_id;
    let bookings = state
        .store
        .list_bookings(
            tenant,
            &BookingFilter {
                from: Some(start(first)?),
                to: Some(start(last.tomorrow().unwrap_or(last))?),
                limit: Some(READ_LIMIT),
                ..Default::default()
            },
        )
        .await?;
    let figures = Figures::of(&bookings, &zone, first, last);
    let mut members = state.store.list_users(tenant).await?;
    members.sort_by(|a, b| a.name.cmp(&b.name));
    // Every channel is listed, so a channel nobody used shows its zero.
    let mut by_channel: Vec<(Option<BookingChannel>, usize)> = BookingChannel::ALL
        .into_iter()
        .map(|c| {
            (
                Some(c),
                figures.per_channel.get(&Some(c)).copied().unwrap_or(0),
            )
        })
        .collect();
    if let Some(n) = figures.per_channel.get(&None) {
        by_channel.push((None, *n));
    }
    let channel_labels: Vec<String> = by_channel
        .iter()
        .map(|(c, _)| channels::label(*c).to_string())
        .collect();
    let channel_values: Vec<usize> = by_channel.iter().map(|(_, n)| *n).collect();
    let day_labels: Vec<String> = figures
        .per_day
        .keys()
        .map(|d| d.strftime("%a %-d %b").to_string())
        .collect();
    let day_values: Vec<usize> = figures.per_day.values().copied().collect();
    let member_labels: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let member_values: Vec<usize> = members
        .iter()
        .map(|m| figures.per_member.get(&m.id).map_or(0, |f| f.0))
        .collect();
    let hour_labels: Vec<String> = (0..24).map(|h| format!("{h:02}:00")).collect();
    let content = html! {
        form.filters method="get" action="/dashboard/analytics" {
            div {
                label for="from" { "From" }
                input #from type="date" name="from" value=(first);
            }
            div {
                label for="to" { "To" }
                input #to type="date" name="to" value=(last);
            }
            div.actions { button type="submit" { "Show" } }
        }
        p.muted {
            "Appointments starting from " (first.strftime("%a %-d %b %Y")) " to "
            (last.strftime("%a %-d %b %Y")) ", days in " (viewer.user.time_zone) "."
        }
        section.figures aria-label="Totals" {
            div.figure { span.value data-figure="total" { (figures.total) } span { "bookings" } }
            div.figure { span.value data-figure="confirmed" { (figures.confirmed) } span { "confirmed" } }
            div.figure { span.value data-figure="cancelled" { (figures.cancelled) } span { "cancelled" } }
            div.figure {
                span.value data-figure="cancellation-rate" { (percent(figures.cancellation_rate())) }
                span { "cancellation rate" }
            }
            div.figure {
                span.value data-figure="lead-time" {
                    (figures.median_lead_hours.map_or_else(|| "—".into(), |h| {
                        if h >= 48.0 { format!("{:.1} days", h / 24.0) } else { format!("{h:.1} h") }
                    }))
                }
                span { "median time booked ahead" }
            }
        }
        section.card aria-labelledby="per-day-title" {
            h2 #per-day-title { "Confirmed bookings per day" }
            (charts::bars("Confirmed bookings per day", "Day", "Confirmed", &day_labels, &day_values))
            details {
                summary { "Figures per day" }
                div.table-wrap {
                    table.compact {
                        thead { tr { th scope="col" { "Day" } th scope="col" { "Confirmed" } } }
                        tbody {
                            @for (day, n) in &figures.per_day {
                                tr data-day=(day) { td { (day.strftime("%a %-d %b")) } td { (n) } }
                            }
                        }
                    }
                }
            }
        }
        div.columns {
            section.card aria-labelledby="per-week-title" {
                h2 #per-week-title { "Per week" }
                table.compact {
                    thead { tr { th scope="col" { "Week of" } th scope="col" { "Confirmed" } } }
                    tbody {
                        @for (week, n) in &figures.per_week {
                            tr data-week=(week) { td { (week.strftime("%a %-d %b")) } td { (n) } }
                        }
                    }
                }
            }
            section.card aria-labelledby="per-member-title" {
                h2 #per-member-title { "Per member" }
                (charts::bars("Confirmed bookings per member", "Member", "Confirmed", &member_labels, &member_values))
                table.compact {
                    thead {
                        tr {
                            th scope="col" { "Member" }
                            th scope="col" { "Confirmed" }
                            th scope="col" { "Share" }
                            th scope="col" { "Cancelled" }
                        }
                    }
                    tbody {
                        @for member in &members {
                            @let (kept, dropped) = figures.per_member.get(&member.id).copied().unwrap_or_default();
                            tr data-member=(member.id) {
                                td { (member.name) }
                                td data-figure="confirmed" { (kept) }
                                td { (percent((figures.confirmed > 0).then(|| kept as f64 * 100.0 / figures.confirmed as f64))) }
                                td data-figure="cancelled" { (dropped) }
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="per-channel-title" {
                h2 #per-channel-title { "Per channel" }
                (charts::bars("Confirmed bookings per channel", "Channel", "Confirmed", &channel_labels, &channel_values))
                table.compact {
                    thead {
                        tr {
                            th scope="col" { "Booked through" }
                            th scope="col" { "Confirmed" }
                            th scope="col" { "Share" }
                        }
                    }
                    tbody {
                        @for (channel, n) in &by_channel {
                            tr data-channel=(channels::name(*channel)) {
                                td { (channels::label(*channel)) }
                                td data-figure="confirmed" { (n) }
                                td { (percent((figures.confirmed > 0).then(|| *n as f64 * 100.0 / figures.confirmed as f64))) }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="hours-title" {
            h2 #hours-title { "Busiest hours" }
            p.muted { "Confirmed bookings by the hour they start, in " (viewer.user.time_zone) "." }
            (charts::bars("Confirmed bookings by starting hour", "Hour", "Confirmed", &hour_labels, &figures.per_hour))
            details {
                summary { "Figures per hour" }
                table.compact {
                    thead { tr { th scope="col" { "Hour" } th scope="col" { "Confirmed" } } }
                    tbody {
                        @for (hour, n) in figures.per_hour.iter().enumerate() {
                            @if *n > 0 {
                                tr data-hour=(hour) { td { (format!("{hour:02}:00")) } td { (n) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::respond(layout::page_with(
        "Analytics",
        &viewer,
        Nav::Analytics,
        Extras::Charts,
        content,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pillow_store::{Attendee, BookingId, TenantId};

    fn booking(start: &str, status: BookingStatus, user: UserId) -> Booking {
        let start: Timestamp = start.parse().unwrap();
        Booking {
            id: BookingId::new(),
            tenant_id: TenantId::new(),
            agent_id: None,
            user_id: user,
            confirmation_code: "ABC123".into(),
            start,
            end: start + jiff::SignedDuration::from_mins(30),
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            attendee: Attendee {
                name: "Ann".into(),
                email: None,
                phone: None,
            },
            notes: None,
            title: "Visit".into(),
            description: None,
            status,
            cancel_reason: None,
            cancelled_at: None,
            call_id: None,
            channel: Some(BookingChannel::Vapi),
            created_at: start - jiff::SignedDuration::from_hours(24),
            updated_at: start,
        }
    }

    #[test]
    fn bookings_are_counted_on_their_local_day_and_hour_and_cancellations_apart() {
        let zone = TimeZone::get("America/New_York").unwrap();
        let ada = UserId::new();
        let bookings = [
            // 03:30 UTC on the 8th is 22:30 on the 7th in New York.
            booking("2026-12-08T03:30:00Z", BookingStatus::Confirmed, ada),
            booking("2026-12-08T15:00:00Z", BookingStatus::Confirmed, ada),
            booking("2026-12-08T16:00:00Z", BookingStatus::Cancelled, ada),
            // Outside the range.
            booking("2026-12-20T15:00:00Z", BookingStatus::Confirmed, ada),
        ];
        let (first, last) = (
            jiff::civil::date(2026, 12, 7),
            jiff::civil::date(2026, 12, 8),
        );
        let figures = Figures::of(&bookings, &zone, first, last);
        assert_eq!(figures.total, 3);
        assert_eq!((figures.confirmed, figures.cancelled), (2, 1));
        assert_eq!(figures.per_day[&first], 1);
        assert_eq!(figures.per_day[&last], 1);
        assert_eq!(figures.per_hour[22], 1);
        assert_eq!(figures.per_hour[10], 1);
        assert_eq!(figures.per_member[&ada], (2, 1));
        assert_eq!(figures.per_channel[&Some(BookingChannel::Vapi)], 2);
        assert_eq!(figures.median_lead_hours, Some(24.0));
        let rate = figures.cancellation_rate().unwrap();
        assert!((rate - 100.0 / 3.0).abs() < 1e-9);
    }
}
