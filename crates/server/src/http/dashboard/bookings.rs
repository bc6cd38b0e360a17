//! Bookings: a filtered, searchable list, each booking's details, cancelling with a reason
//! (through the domain's cancel, so write-back and notifications follow) and a CSV export.
//!
//! Owners and admins see the whole organisation; a member sees and cancels their own.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use maud::{Markup, html};
use pillow_store::{Booking, BookingFilter, BookingId, BookingStatus, User, UserId};
use serde::Deserialize;

use super::channels::{self, ChannelFilter};
use super::csrf;
use super::errors::{PageError, PageResult};
use super::home::names;
use super::layout::{self, Nav};
use super::reschedule;
use super::session::Viewer;
use crate::AppState;
use crate::domain::bookings;
use crate::domain::error::DomainError;

/// The list's filters, as the form sends them (every field may be empty).
#[derive(Deserialize, Default, Clone)]
pub struct Filters {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    member: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    q: String,
}

/// The filters read into what the store takes, and a refusal for any field that is wrong.
struct Parsed {
    from: Date,
    to: Date,
    member: Option<UserId>,
    status: Option<BookingStatus>,
    channel: ChannelFilter,
    query: String,
}

fn parse(filters: &Filters, viewer: &Viewer) -> PageResult<Parsed> {
    let today = Timestamp::now().to_zoned(viewer.zone()).date();
    let date = |raw: &str, default: Date, label: &str| -> PageResult<Date> {
        if raw.trim().is_empty() {
            return Ok(default);
        }
        raw.trim()
            .parse::<Date>()
            .map_err(|_| PageError::bad_request(format!("{label} must be a date like 2026-12-07.")))
    };
    let from = date(
        &filters.from,
        today.checked_sub(7.days()).unwrap_or(today),
        "From",
    )?;
    let to = date(
        &filters.to,
        today.checked_add(60.days()).unwrap_or(today),
        "To",
    )?;
    let member = match filters.member.trim() {
        "" => None,
        raw => Some(
            raw.parse::<UserId>()
                .map_err(|_| PageError::bad_request("Choose a member from the list."))?,
        ),
    };
    if let Some(member) = member
        && !viewer.is_admin()
        && member != viewer.user.id
    {
        return Err(PageError::forbidden(
            "Only owners and admins can see other members' bookings.",
        ));
    }
    let status = match filters.status.trim() {
        "" | "all" => None,
        raw => Some(
            BookingStatus::parse(raw)
                .ok_or_else(|| PageError::bad_request("Choose a status from the list."))?,
        ),
    };
    Ok(Parsed {
        from,
        to,
        member: if viewer.is_admin() {
            member
        } else {
            Some(viewer.user.id)
        },
        status,
        channel: ChannelFilter::parse(&filters.channel)?,
        query: filters.q.trim().to_lowercase(),
    })
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Whether a booking matches the search: its code, or the attendee's name, e-mail or phone.
fn matches(booking: &Booking, query: &str) -> bool {
    if query.is_empty() {
        return true;
    }
    let attendee = &booking.attendee;
    let query_digits = digits(query);
    booking.confirmation_code.to_lowercase().contains(query)
        || attendee.name.to_lowercase().contains(query)
        || attendee
            .email
            .as_deref()
            .is_some_and(|e| e.to_lowercase().contains(query))
        || (query_digits.len() >= 3
            && attendee
                .phone
                .as_deref()
                .is_some_and(|p| digits(p).contains(&query_digits)))
}

/// The bookings the filters select, in start order.
async fn select(state: &AppState, viewer: &Viewer, parsed: &Parsed) -> PageResult<Vec<Booking>> {
    let zone = viewer.zone();
    let start = |date: Date| {
        date.to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .map_err(|_| PageError::bad_request("That date is out of range."))
    };
    let bookings = state
        .store
        .list_bookings(
            viewer.user.tenant_id,
            &BookingFilter {
                status: parsed.status,
                user_id: parsed.member,
                agent_id: None,
                channel: parsed.channel.stored(),
                from: Some(start(parsed.from)?),
                to: Some(start(parsed.to.tomorrow().unwrap_or(parsed.to))?),
                limit: None,
            },
        )
        .await?;
    Ok(bookings
        .into_iter()
        .filter(|b| parsed.channel.admits(b.channel) && matches(b, &parsed.query))
        .collect())
}

fn host(people: &HashMap<UserId, User>, id: UserId) -> &str {
    people
        .get(&id)
        .map(|u| u.name.as_str())
        .unwrap_or("(removed member)")
}

fn filter_form(
    filters: &Filters,
    parsed: &Parsed,
    people: &HashMap<UserId, User>,
    viewer: &Viewer,
) -> Markup {
    let mut members: Vec<&User> = people.values().collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let status = filters.status.trim();
    let channel = match filters.channel.trim() {
        "" => "all",
        other => other,
    };
    html! {
        form.filters #filters method="get" action="/dashboard/bookings"
            hx-get="/dashboard/bookings" hx-target="#results" hx-select="#results"
            hx-swap="outerHTML" hx-push-url="true" hx-trigger="submit, change from:select" {
            div {
                label for="from" { "From" }
                input #from type="date" name="from" value=(parsed.from);
            }
            div {
                label for="to" { "To" }
                input #to type="date" name="to" value=(parsed.to);
            }
            @if viewer.is_admin() {
                div {
                    label for="member" { "Member" }
                    select #member name="member" {
                        option value="" { "Everyone" }
                        @for member in &members {
                            option value=(member.id) selected[parsed.member == Some(member.id)] {
                                (member.name)
                            }
                        }
                    }
                }
            }
            div {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="all" selected[status.is_empty() || status == "all"] { "Any" }
                    option value="confirmed" selected[status == "confirmed"] { "Confirmed" }
                    option value="cancelled" selected[status == "cancelled"] { "Cancelled" }
                }
            }
            div {
                label for="channel" { "Channel" }
                select #channel name="channel" {
                    @for (value, label) in channels::choices() {
                        option value=(value) selected[channel == value] { (label) }
                    }
                }
            }
            div.grow {
                label for="q" { "Search" }
                input #q type="search" name="q" value=(filters.q)
                    placeholder="Code, name, phone or e-mail";
            }
            div.actions {
                button type="submit" { "Apply" }
            }
        }
    }
}

fn export_link(filters: &Filters) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("from", &filters.from)
        .append_pair("to", &filters.to)
        .append_pair("member", &filters.member)
        .append_pair("status", &filters.status)
        .append_pair("channel", &filters.channel)
        .append_pair("q", &filters.q)
        .finish();
    format!("/dashboard/bookings.csv?{query}")
}

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> PageResult<Response> {
    let parsed = parse(&filters, &viewer)?;
    let bookings = select(&state, &viewer, &parsed).await?;
    let people = names(state.store.as_ref(), viewer.user.tenant_id).await?;
    let zone = viewer.zone();
    let content = html! {
        (filter_form(&filters, &parsed, &people, &viewer))
        div #results {
            p.muted role="status" {
                (bookings.len()) " booking" @if bookings.len() != 1 { "s" }
                ". Times are in " (viewer.user.time_zone) ". "
                a href=(export_link(&filters)) download { "Export these as CSV" }
            }
            @if bookings.is_empty() {
                p { "No bookings match. Widen the dates or clear the search." }
            } @else {
                div.table-wrap {
                    table.bookings {
                        caption.visually-hidden { "Bookings" }
                        thead {
                            tr {
                                th scope="col" { "When" }
                                th scope="col" { "Attendee" }
                                th scope="col" { "With" }
                                th scope="col" { "Code" }
                                th scope="col" { "Channel" }
                                th scope="col" { "Status" }
                            }
                        }
                        tbody {
                            @for booking in &bookings {
                                tr data-code=(booking.confirmation_code) {
                                    td data-label="When" { (layout::when(booking.start, &zone)) }
                                    td data-label="Attendee" {
                                        a href={ "/dashboard/bookings/" (booking.id) } {
                                            (booking.attendee.name)
                                        }
                                    }
                                    td data-label="With" { (host(&people, booking.user_id)) }
                                    td data-label="Code" { code { (booking.confirmation_code) } }
                                    td data-label="Channel" data-channel=(channels::name(booking.channel)) {
                                        (channels::label(booking.channel))
                                    }
                                    td data-label="Status" {
                                        span class={ "badge " (booking.status.as_str()) } {
                                            (booking.status.as_str())
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::respond(layout::page(
        "Bookings",
        &viewer,
        Nav::Bookings,
        content,
    )))
}

/// The booking, if the viewer may see it: any of the tenant's for admins, their own for
/// members. Another tenant's booking is simply not found.
pub(super) async fn visible(
    state: &AppState,
    viewer: &Viewer,
    raw_id: &str,
) -> PageResult<Booking> {
    let id: BookingId = raw_id
        .parse()
        .map_err(|_| PageError::not_found("booking"))?;
    let booking = state
        .store
        .get_booking(viewer.user.tenant_id, id)
        .await?
        .ok_or_else(|| PageError::not_found("booking"))?;
    if !viewer.is_admin() && booking.user_id != viewer.user.id {
        return Err(PageError::forbidden(
            "This booking is another member's; only owners and admins can open it.",
        ));
    }
    Ok(booking)
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    done: Option<String>,
    /// The day whose free times the reschedule section shows.
    on: Option<String>,
}

fn detail_page(
    viewer: &Viewer,
    booking: &Booking,
    host_name: &str,
    notice: Option<&str>,
    error: Option<&str>,
    reschedule: Markup,
) -> Markup {
    let zone = viewer.zone();
    let attendee = &booking.attendee;
    let content = html! {
        p { a href="/dashboard/bookings" { "← All bookings" } }
        @if let Some(notice) = notice {
            p.notice role="status" { (notice) }
        }
        section.card {
            dl.details {
                dt { "Status" }
                dd { span class={ "badge " (booking.status.as_str()) } #status { (booking.status.as_str()) } }
                dt { "When" }
                dd { (layout::when(booking.start, &zone)) " – " (layout::clock(booking.end, &zone)) }
                dt { "Attendee" }
                dd { (attendee.name) }
                dt { "E-mail" }
                dd { (attendee.email.as_deref().unwrap_or("—")) }
                dt { "Phone" }
                dd { (attendee.phone.as_deref().unwrap_or("—")) }
                dt { "With" }
                dd { (host_name) }
                dt { "Confirmation code" }
                dd { code { (booking.confirmation_code) } }
                dt { "Title" }
                dd { (booking.title) }
                dt { "Booked through" }
                dd #channel { (channels::label(booking.channel)) }
                @if let Some(notes) = &booking.notes {
                    dt { "Notes" }
                    dd { (notes) }
                }
                @if let Some(reason) = &booking.cancel_reason {
                    dt { "Cancelled because" }
                    dd #cancel-reason { (reason) }
                }
                @if let Some(at) = booking.cancelled_at {
                    dt { "Cancelled at" }
                    dd { (layout::when(at, &zone)) }
                }
                dt { "Booked at" }
                dd { (layout::when(booking.created_at, &zone)) }
            }
        }
        (reschedule)
        @if booking.status == BookingStatus::Confirmed {
            section.card aria-labelledby="cancel-title" {
                h2 #cancel-title { "Cancel this booking" }
                p.muted { "The attendee's calendar event is removed and the team is told." }
                form.stack method="post" action={ "/dashboard/bookings/" (booking.id) "/cancel" } {
                    input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                    label for="reason" { "Reason" }
                    @if let Some(error) = error {
                        p.field-error #reason-error { (error) }
                    }
                    textarea #reason name="reason" rows="3" maxlength="500" required
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| "reason-error")] {}
                    button.danger type="submit" id="cancel" { "Cancel booking" }
                }
            }
        }
    };
    layout::page(
        &format!("Booking {}", booking.confirmation_code),
        viewer,
        Nav::Bookings,
        content,
    )
}

pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<DetailQuery>,
) -> PageResult<Response> {
    let booking = visible(&state, &viewer, &id).await?;
    let notice = match query.done.as_deref() {
        Some("cancelled") => Some("The booking is cancelled."),
        Some("rescheduled") => Some("The booking is moved; the attendee is told."),
        _ => None,
    };
    let day = match query.on.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<Date>()
                .map_err(|_| PageError::bad_request("The day must be a date like 2026-12-07."))?,
        ),
    };
    let people = names(state.store.as_ref(), viewer.user.tenant_id).await?;
    let picker = reschedule::section(&state, &viewer, &booking, day, None).await?;
    Ok(layout::respond(detail_page(
        &viewer,
        &booking,
        host(&people, booking.user_id),
        notice,
        None,
        picker,
    )))
}

/// The booking's page with the reschedule section on `day` and its error.
pub(super) async fn detail_response(
    state: &AppState,
    viewer: &Viewer,
    booking: &Booking,
    day: Option<Date>,
    error: Option<&str>,
) -> PageResult<Response> {
    let people = names(state.store.as_ref(), viewer.user.tenant_id).await?;
    let picker = reschedule::section(state, viewer, booking, day, error).await?;
    Ok(layout::respond(detail_page(
        viewer,
        booking,
        host(&people, booking.user_id),
        None,
        None,
        picker,
    )))
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
}

pub async fn cancel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<CancelForm>,
) -> PageResult<Response> {
    let booking = visible(&state, &viewer, &id).await?;
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        let people = names(state.store.as_ref(), viewer.user.tenant_id).await?;
        let mut response = layout::respond(detail_page(
            &viewer,
            &booking,
            host(&people, booking.user_id),
            None,
            Some("Say why, in at most 500 characters: the attendee may be told."),
            html! {},
        ));
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    }
    bookings::cancel(&state, &booking, Some(reason.to_string()), None).await?;
    Ok(Redirect::to(&format!(
        "/dashboard/bookings/{}?done=cancelled",
        booking.id
    ))
    .into_response())
}

/// A cell as spreadsheets should read it: text that starts like a formula is quoted, so an
/// attendee named `=HYPERLINK(…)` stays a name.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

pub async fn export(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> PageResult<Response> {
    let parsed = parse(&filters, &viewer)?;
    let bookings = select(&state, &viewer, &parsed).await?;
    let people = names(state.store.as_ref(), viewer.user.tenant_id).await?;
    let zone = viewer.zone();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let local = |t: Timestamp| {
        t.to_zoned(zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    writer
        .write_record([
            "confirmation_code",
            "status",
            "start_utc",
            "end_utc",
            "start_local",
            "time_zone",
            "member",
            "attendee_name",
            "attendee_email",
            "attendee_phone",
            "cancel_reason",
            "channel",
        ])
        .map_err(DomainError::internal)?;
    for b in &bookings {
        writer
            .write_record([
                cell(&b.confirmation_code),
                b.status.as_str().to_string(),
                b.start.to_string(),
                b.end.to_string(),
                local(b.start),
                viewer.user.time_zone.clone(),
                cell(host(&people, b.user_id)),
                cell(&b.attendee.name),
                cell(b.attendee.email.as_deref().unwrap_or("")),
                cell(b.attendee.phone.as_deref().unwrap_or("")),
                cell(b.cancel_reason.as_deref().unwrap_or("")),
                channels::name(b.channel).to_string(),
            ])
            .map_err(DomainError::internal)?;
    }
    let body = writer.into_inner().map_err(DomainError::internal)?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"bookings.csv\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
