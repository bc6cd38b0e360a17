//! The admin dashboard: server-rendered pages under `/dashboard`, one file per page or flow.
//!
//! Markup is written with `maud`: templates are Rust, so a misspelt field or a missing value
//! is a compile error, and every interpolation is HTML-escaped by default. htmx (embedded, see
//! [`assets`]) swaps parts of pages where that helps; every page also works as plain HTML.
//! Pages call the domain (`crate::domain`) and read through the store's traits, like the API;
//! they never call the API's handlers.
//!
//! Every request passes [`csrf::guard`], which resolves the session cookie once and refuses
//! state-changing requests from other sites or without the session's token.

mod agent_forms;
mod agent_voice;
mod agents;
mod analytics;
mod assets;
mod bookings;
mod calendar;
mod calendars;
mod channels;
mod charts;
mod cookies;
mod csrf;
mod errors;
mod home;
mod hours;
mod layout;
mod login;
mod reschedule;
mod session;
mod team;

use axum::Router;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};

use crate::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(home::page))
        .route(
            "/dashboard/",
            get(|| async { Redirect::permanent("/dashboard") }),
        )
        .route("/dashboard/login", get(login::page).post(login::submit))
        .route("/dashboard/logout", post(login::logout))
        .route("/dashboard/bookings", get(bookings::list))
        .route("/dashboard/bookings.csv", get(bookings::export))
        .route("/dashboard/bookings/{id}", get(bookings::detail))
        .route("/dashboard/bookings/{id}/cancel", post(bookings::cancel))
        .route(
            "/dashboard/bookings/{id}/reschedule",
            post(reschedule::submit),
        )
        .route("/dashboard/hours", get(hours::page).post(hours::save))
        .route("/dashboard/calendar", get(calendar::page))
        .route("/dashboard/analytics", get(analytics::page))
        .route(
            "/dashboard/agents",
            get(agents::page).post(agent_forms::create),
        )
        .route("/dashboard/agents/{id}", post(agent_forms::update))
        .route("/dashboard/agents/{id}/voice", get(agent_voice::page))
        .route(
            "/dashboard/agents/{id}/widget-keys",
            post(agent_forms::create_key),
        )
        .route(
            "/dashboard/agents/{id}/widget-keys/{key}/revoke",
            post(agent_forms::revoke_key),
        )
        .route("/dashboard/agents/{id}/hosts", post(agents::save_hosts))
        .route("/dashboard/calendars", get(calendars::page))
        .route(
            "/dashboard/calendars/connect/google",
            get(calendars::connect_google),
        )
        .route(
            "/dashboard/calendars/connect/microsoft",
            get(calendars::connect_microsoft),
        )
        .route(
            "/dashboard/calendars/connect/caldav",
            post(calendars::connect_caldav_form),
        )
        .route("/dashboard/calendars/{id}/sync", post(calendars::sync))
        .route("/dashboard/calendars/{id}/pause", post(calendars::pause))
        .route("/dashboard/calendars/{id}/resume", post(calendars::resume))
        .route(
            "/dashboard/calendars/{id}/disconnect",
            post(calendars::disconnect),
        )
        .route("/dashboard/team", get(team::page).post(team::add))
        .route("/dashboard/team/{id}/role", post(team::change_role))
        .route("/dashboard/team/{id}/remove", post(team::remove))
        .route(
            "/dashboard/invite/{token}",
            get(team::invite::page).post(team::invite::accept),
        )
        .route(
            "/dashboard/{*rest}",
            get(|| async { errors::PageError::not_found("page").into_response() }),
        )
        .merge(assets::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::guard,
        ))
        // People arrive at the root or at /login: both lead to the dashboard.
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(|| async { Redirect::to("/dashboard/login") }))
}
