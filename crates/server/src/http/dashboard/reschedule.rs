//! Rescheduling a booking from its page: a day picker, the host's free times that day from
//! the engine (the booking's own length), and the domain's reschedule, which re-checks the
//! time and the host's limits and tells the attendee and the calendar.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use maud::{Markup, html};
use pillow_engine::Interval;
use pillow_store::{Booking, BookingStatus};
use serde::Deserialize;

use super::csrf;
use super::errors::{PageError, PageResult};
use super::layout;
use super::session::Viewer;
use crate::AppState;
use crate::domain::availability::team_availability;
use crate::domain::bookings;

/// Free start times of the booking's host on `day` (in the viewer's zone), for its length.
async fn free_starts(
    state: &AppState,
    viewer: &Viewer,
    booking: &Booking,
    day: Date,
) -> PageResult<Vec<Timestamp>> {
    let zone = viewer.zone();
    let start = |d: Date| {
        d.to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .map_err(|_| PageError::bad_request("That date is out of range."))
    };
    let now = Timestamp::now();
    let from = start(day)?.max(now);
    let to = start(day.tomorrow().unwrap_or(day))?;
    let Some(window) = Interval::new(from, to) else {
        return Ok(Vec::new());
    };
    let calendars = state
        .calendars
        .calendars(
            state.store.as_ref(),
            booking.tenant_id,
            &[booking.user_id],
            window,
            now,
        )
        .await?;
    let length = booking.end.duration_since(booking.start);
    Ok(team_availability(&calendars, window, length, now)
        .into_iter()
        .map(|s| s.slot.start)
        .collect())
}

/// The reschedule section of a confirmed booking's page, with the free times on `day`.
pub async fn section(
    state: &AppState,
    viewer: &Viewer,
    booking: &Booking,
    day: Option<Date>,
    error: Option<&str>,
) -> PageResult<Markup> {
    if booking.status != BookingStatus::Confirmed {
        return Ok(html! {});
    }
    let zone = viewer.zone();
    let day = day.unwrap_or_else(|| booking.start.to_zoned(zone.clone()).date());
    let starts = free_starts(state, viewer, booking, day).await?;
    let minutes = booking.end.duration_since(booking.start).as_mins();
    Ok(html! {
        section.card aria-labelledby="reschedule-title" #reschedule {
            h2 #reschedule-title { "Reschedule" }
            form.filters method="get" action={ "/dashboard/bookings/" (booking.id) } {
                div {
                    label for="on" { "Day" }
                    input #on type="date" name="on" value=(day);
                }
                div.actions { button.secondary type="submit" { "Show free times" } }
            }
            @if let Some(error) = error {
                p.error role="alert" #reschedule-error { (error) }
            }
            @if starts.is_empty() {
                p.muted { "No free " (minutes) "-minute times on " (day.strftime("%a %-d %b")) ". Try another day." }
            } @else {
                form method="post" action={ "/dashboard/bookings/" (booking.id) "/reschedule" } {
                    input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                    fieldset.slots {
                        legend { "Free " (minutes) "-minute times on " (day.strftime("%a %-d %b")) ", " (viewer.user.time_zone) }
                        @for (i, start) in starts.iter().enumerate() {
                            div.slot {
                                input type="radio" name="start" id={ "slot-" (i) } value=(start) required;
                                label for={ "slot-" (i) } { (layout::clock(*start, &zone)) }
                            }
                        }
                    }
                    button type="submit" id="reschedule-submit" { "Move the booking" }
                }
            }
        }
    })
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    start: String,
}

pub async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<MoveForm>,
) -> PageResult<Response> {
    let booking = super::bookings::visible(&state, &viewer, &id).await?;
    let start: Timestamp = form
        .start
        .trim()
        .parse()
        .map_err(|_| PageError::bad_request("Choose one of the free times."))?;
    match bookings::reschedule(&state, &booking, start, None).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/dashboard/bookings/{}?done=rescheduled",
            booking.id
        ))
        .into_response()),
        Err(error)
            if error.kind.status() == StatusCode::CONFLICT
                || error.kind.status() == StatusCode::UNPROCESSABLE_ENTITY =>
        {
            let day = start.to_zoned(viewer.zone()).date();
            let mut response = super::bookings::detail_response(
                &state,
                &viewer,
                &booking,
                Some(day),
                Some(&error.message),
            )
            .await?;
            *response.status_mut() = error.kind.status();
            Ok(response)
        }
        Err(error) => Err(error.into()),
    }
}
