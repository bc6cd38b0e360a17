//! Home: what is left to set up, and today's and tomorrow's bookings.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use jiff::{Timestamp, ToSpan};
use maud::{Markup, html};
use pillow_store::{Booking, BookingFilter, BookingStatus, Store, TenantId, User, UserId};

use super::errors::PageResult;
use super::layout::{self, Nav};
use super::session::Viewer;
use crate::AppState;

/// One onboarding step, worked out from what the tenant really has.
pub struct Step {
    pub key: &'static str,
    pub label: &'static str,
    pub done: bool,
    pub href: &'static str,
    pub action: &'static str,
}

/// The onboarding checklist of a tenant, in the order a new office goes through it.
pub async fn checklist(store: &dyn Store, tenant: TenantId) -> PageResult<Vec<Step>> {
    let connected = !store
        .list_calendar_connections(tenant, None)
        .await?
        .is_empty();
    let hours = !store.list_rules(tenant, None).await?.is_empty();
    let team = store.list_users(tenant).await?.len() > 1;
    let agents = store.list_agents(tenant).await?;
    let mut agent_ready = false;
    let mut widget_key = false;
    for agent in &agents {
        agent_ready |= store
            .get_booking_settings(tenant, agent.id)
            .await?
            .is_some();
        widget_key |= !store.list_widget_keys(tenant, agent.id).await?.is_empty();
    }
    let booked = !store
        .list_bookings(
            tenant,
            &BookingFilter {
                limit: Some(1),
                ..Default::default()
            },
        )
        .await?
        .is_empty();
    Ok(vec![
        Step {
            key: "calendar",
            label: "Connect a calendar",
            done: connected,
            href: "/dashboard/calendars",
            action: "Connect Google Calendar",
        },
        Step {
            key: "hours",
            label: "Set working hours",
            done: hours,
            href: "/dashboard/hours",
            action: "Set working hours",
        },
        Step {
            key: "team",
            label: "Add team members",
            done: team,
            href: "/dashboard/team",
            action: "Add members",
        },
        Step {
            key: "agent",
            label: "Create an agent with booking settings",
            done: agent_ready,
            href: "/dashboard/agents",
            action: "Set up an agent",
        },
        Step {
            key: "widget",
            label: "Create a widget key",
            done: widget_key,
            href: "/docs#tag/in-call",
            action: "Create a widget key (API reference)",
        },
        Step {
            key: "booking",
            label: "Make a test booking",
            done: booked,
            href: "/dashboard/bookings",
            action: "See bookings",
        },
    ])
}

/// Members by id, for showing who a booking is with.
pub async fn names(store: &dyn Store, tenant: TenantId) -> PageResult<HashMap<UserId, User>> {
    Ok(store
        .list_users(tenant)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}

/// A compact list of bookings for one day.
pub fn day_list(bookings: &[&Booking], people: &HashMap<UserId, User>, viewer: &Viewer) -> Markup {
    let zone = viewer.zone();
    html! {
        @if bookings.is_empty() {
            p.muted { "No bookings." }
        } @else {
            ul.day {
                @for booking in bookings {
                    li {
                        span.time {
                            (layout::clock(booking.start, &zone)) "–" (layout::clock(booking.end, &zone))
                        }
                        " "
                        a href={ "/dashboard/bookings/" (booking.id) } { (booking.attendee.name) }
                        @if let Some(host) = people.get(&booking.user_id) {
                            span.muted { " with " (host.name) }
                        }
                    }
                }
            }
        }
    }
}

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> PageResult<Response> {
    let tenant = viewer.user.tenant_id;
    let zone = viewer.zone();
    let today = Timestamp::now().to_zoned(zone.clone()).date();
    let start_of = |date: jiff::civil::Date| {
        date.to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .map_err(crate::domain::error::DomainError::internal)
    };
    let tomorrow = today
        .checked_add(1.day())
        .map_err(crate::domain::error::DomainError::internal)?;
    let after = today
        .checked_add(2.days())
        .map_err(crate::domain::error::DomainError::internal)?;
    let (from, middle, to) = (start_of(today)?, start_of(tomorrow)?, start_of(after)?);
    let bookings = state
        .store
        .list_bookings(
            tenant,
            &BookingFilter {
                status: Some(BookingStatus::Confirmed),
                user_id: (!viewer.is_admin()).then_some(viewer.user.id),
                from: Some(from),
                to: Some(to),
                ..Default::default()
            },
        )
        .await?;
    let people = names(state.store.as_ref(), tenant).await?;
    let todays: Vec<&Booking> = bookings.iter().filter(|b| b.start < middle).collect();
    let tomorrows: Vec<&Booking> = bookings.iter().filter(|b| b.start >= middle).collect();
    let steps = if viewer.is_admin() {
        checklist(state.store.as_ref(), tenant).await?
    } else {
        Vec::new()
    };
    let done = steps.iter().filter(|s| s.done).count();
    let content = html! {
        @if !steps.is_empty() {
            section.card aria-labelledby="setup-title" {
                h2 #setup-title { "Getting started" }
                p.muted { (done) " of " (steps.len()) " steps done" }
                ol.checklist {
                    @for step in &steps {
                        li data-step=(step.key) data-done=(step.done) {
                            @if step.done {
                                span.tick aria-hidden="true" { "✓" }
                                div.step {
                                    span.label { (step.label) }
                                    span.visually-hidden { " (done)" }
                                }
                            } @else {
                                span.todo aria-hidden="true" { "○" }
                                div.step {
                                    span.label { (step.label) }
                                    span.visually-hidden { " (to do)" }
                                    " "
                                    a href=(step.href) { (step.action) }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.columns {
            section.card aria-labelledby="today-title" data-testid="today" {
                h2 #today-title { "Today, " (today.strftime("%a %-d %b")) }
                (day_list(&todays, &people, &viewer))
            }
            section.card aria-labelledby="tomorrow-title" data-testid="tomorrow" {
                h2 #tomorrow-title { "Tomorrow, " (tomorrow.strftime("%a %-d %b")) }
                (day_list(&tomorrows, &people, &viewer))
            }
        }
        p.muted { "Times are in " (viewer.user.time_zone) ", your time zone." }
    };
    Ok(layout::respond(layout::page(
        "Home",
        &viewer,
        Nav::Home,
        content,
    )))
}
