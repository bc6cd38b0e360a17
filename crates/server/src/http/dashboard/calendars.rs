//! Calendars: each member's calendar connections with what the troubleshooting guide asks
//! about (status, last sync, last error, token expiry, sync on or off), and the buttons that
//! act on them: connect (Google's OAuth flow, which comes back here), sync now, pause or
//! resume, reconnect and disconnect. Members manage their own; owners and admins everyone's.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use pillow_store::{CalendarConnection, ConnectionId, ConnectionStatus, User, UserId};
use serde::Deserialize;

use super::csrf;
use super::errors::{PageError, PageResult};
use super::layout::{self, Nav};
use super::session::Viewer;
use crate::AppState;
use crate::google::toggle::{connect_url, set_sync_enabled};
use crate::google::{SyncError, Trigger};

/// A kind of calendar a member can connect. Google is served by `crate::google`; Microsoft
/// and CalDAV are being added server-side (in `crate::sync`): when they land, give each its
/// connect route here and set `available`.
struct ProviderKind {
    kind: &'static str,
    label: &'static str,
    available: bool,
}

const PROVIDERS: &[ProviderKind] = &[
    ProviderKind {
        kind: "google",
        label: "Google Calendar",
        available: true,
    },
    ProviderKind {
        kind: "microsoft",
        label: "Outlook / Microsoft 365",
        available: false,
    },
    ProviderKind {
        kind: "caldav",
        label: "CalDAV (iCloud, Fastmail, Nextcloud)",
        available: false,
    },
];

fn provider_label(kind: &str) -> &str {
    PROVIDERS
        .iter()
        .find(|p| p.kind == kind)
        .map(|p| p.label)
        .unwrap_or(kind)
}

#[derive(Deserialize, Default)]
pub struct CalendarsQuery {
    done: Option<String>,
    /// An error code from the connect flow.
    failed: Option<String>,
}

/// What the page says after an action; codes only, so a crafted link cannot put words here.
fn notice(query: &CalendarsQuery) -> (Option<&'static str>, Option<&'static str>) {
    let done = match query.done.as_deref() {
        Some("connected") => {
            Some("Google Calendar is connected. The first sync is running; refresh in a moment.")
        }
        Some("synced") => Some("Synced."),
        Some("paused") => Some("Sync is paused. Busy time already synced still counts."),
        Some("resumed") => Some("Sync is back on and catching up."),
        Some("disconnected") => Some("Disconnected. Its events no longer block time."),
        _ => None,
    };
    let failed = match query.failed.as_deref() {
        None | Some("") => None,
        Some("consent_denied") => Some("Google access was not granted, so nothing was connected."),
        Some("insufficient_scope") => {
            Some("Google did not grant calendar access. Connect again and allow it.")
        }
        Some("state_expired") => Some("The connect link expired. Start connecting again."),
        Some("google_not_configured") => {
            Some("Google Calendar is not set up on this server (GOOGLE_OAUTH_CLIENT_ID).")
        }
        Some("busy") => Some("A sync of this calendar is already running; try again shortly."),
        Some("disabled") => Some("Sync is paused for this calendar; resume it first."),
        Some("needs_reauth") => Some("Google refused our access: reconnect this calendar."),
        Some(_) => Some("Connecting or syncing failed. Try again, or reconnect."),
    };
    (done, failed)
}

fn status_label(connection: &CalendarConnection) -> (&'static str, &'static str) {
    if !connection.sync_enabled {
        return ("paused", "Paused");
    }
    match connection.status {
        ConnectionStatus::Active => ("ok", "OK"),
        ConnectionStatus::NeedsReauth => ("needs_reauth", "Needs re-auth"),
        ConnectionStatus::Error => ("error", "Error"),
    }
}

/// Whether Google here is the demo's built-in one on this machine.
fn google_is_local(state: &AppState) -> bool {
    state.config.google.as_ref().is_some_and(|g| {
        g.authorize_url.starts_with("http://127.0.0.1")
            || g.authorize_url.starts_with("http://localhost")
    })
}

fn action(viewer: &Viewer, connection: &CalendarConnection, what: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action={ "/dashboard/calendars/" (connection.id) "/" (what) } {
            input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
            button.secondary type="submit" data-action=(what) { (label) }
        }
    }
}

fn connection_card(viewer: &Viewer, connection: &CalendarConnection) -> Markup {
    let zone = viewer.zone();
    let (status, label) = status_label(connection);
    let when =
        |t: Option<jiff::Timestamp>| t.map_or_else(|| "never".into(), |t| layout::when(t, &zone));
    html! {
        li.card data-connection=(connection.id) data-status=(status) {
            h3 { (provider_label(&connection.kind)) " · " (connection.account_email) }
            dl.details {
                dt { "Status" }
                dd { span class={ "badge " (status) } { (label) } }
                dt { "Sync" }
                dd { @if connection.sync_enabled { "On" } @else { "Paused" } }
                dt { "Last sync" }
                dd data-testid="last-sync" { (when(connection.last_synced_at)) }
                dt { "Last error" }
                dd { (connection.last_error.as_deref().unwrap_or("none")) }
                dt { "Access token expires" }
                dd { (when(connection.token_expires_at)) }
            }
            div.actions-list {
                @if connection.kind == "google" {
                    (action(viewer, connection, "sync", "Sync now"))
                    @if connection.sync_enabled {
                        (action(viewer, connection, "pause", "Pause"))
                    } @else {
                        (action(viewer, connection, "resume", "Resume"))
                    }
                    a.button.secondary href=(connect_link(connection.user_id, &connection.account_email)) {
                        "Reconnect"
                    }
                }
                form.inline method="post" action={ "/dashboard/calendars/" (connection.id) "/disconnect" } {
                    input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                    button.danger type="submit" data-action="disconnect" { "Disconnect" }
                }
            }
        }
    }
}

/// A link, not a form: the page's `form-action 'self'` policy would stop a form's redirect to
/// Google, and starting the flow changes nothing here (the state is bound to the member).
fn connect_link(user: UserId, hint: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("user", &user.to_string())
        .append_pair("hint", hint)
        .finish();
    format!("/dashboard/calendars/connect/google?{query}")
}

fn connect_form(state: &AppState, viewer: &Viewer, member: &User) -> Markup {
    html! {
        div.actions-list {
            @for provider in PROVIDERS {
                @if provider.kind == "google" && provider.available && state.google.is_some() {
                    a.button href=(connect_link(member.id, "")) data-connect=(member.id) {
                        "Connect " (provider.label)
                        @if viewer.user.id != member.id {
                            span.visually-hidden { " for " (member.name) }
                        }
                    }
                } @else {
                    span.muted { (provider.label) ": not available on this server yet" }
                }
            }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<CalendarsQuery>,
) -> PageResult<Response> {
    let tenant = viewer.user.tenant_id;
    let mut members = if viewer.is_admin() {
        state.store.list_users(tenant).await?
    } else {
        vec![viewer.user.clone()]
    };
    members.sort_by_key(|m| (m.id != viewer.user.id, m.name.clone()));
    let filter = (!viewer.is_admin()).then_some(viewer.user.id);
    let mut by_member: HashMap<UserId, Vec<CalendarConnection>> = HashMap::new();
    for connection in state
        .store
        .list_calendar_connections(tenant, filter)
        .await?
    {
        by_member
            .entry(connection.user_id)
            .or_default()
            .push(connection);
    }
    let (done, failed) = notice(&query);
    let content = html! {
        @if let Some(done) = done { p.notice role="status" { (done) } }
        @if let Some(failed) = failed { p.error role="alert" { (failed) } }
        @if google_is_local(&state) {
            p.notice data-testid="demo-google" {
                "This server uses a demo Google Calendar running on this machine: connecting "
                "asks no real Google account, and its events are sample data."
            }
        }
        @if state.google.is_none() {
            p.muted {
                "Google Calendar is not set up on this server: its operator sets "
                code { "GOOGLE_OAUTH_CLIENT_ID" } " and " code { "GOOGLE_OAUTH_CLIENT_SECRET" } "."
            }
        }
        @for member in &members {
            section.card aria-labelledby={ "member-" (member.id) } data-member=(member.id) {
                h2 id={ "member-" (member.id) } {
                    @if member.id == viewer.user.id { "Your calendars" } @else { (member.name) }
                }
                @match by_member.get(&member.id) {
                    Some(connections) => {
                        ul.connections {
                            @for connection in connections { (connection_card(&viewer, connection)) }
                        }
                    }
                    None => { p.muted { "No calendar connected." } }
                }
                (connect_form(&state, &viewer, member))
            }
        }
    };
    Ok(layout::respond(layout::page(
        "Calendars",
        &viewer,
        Nav::Calendars,
        content,
    )))
}

#[derive(Deserialize)]
pub struct ConnectForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    hint: String,
}

/// Starts Google's consent flow for the viewer or (owners and admins) a member.
pub async fn connect_google(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(form): Query<ConnectForm>,
) -> PageResult<Response> {
    let Some(google) = state.google.clone() else {
        return Ok(
            Redirect::to("/dashboard/calendars?failed=google_not_configured").into_response(),
        );
    };
    let user = match form.user.trim() {
        "" => viewer.user.id,
        raw => {
            let id: UserId = raw.parse().map_err(|_| PageError::not_found("member"))?;
            if id != viewer.user.id {
                viewer.require_admin()?;
                state
                    .store
                    .get_user(viewer.user.tenant_id, id)
                    .await?
                    .ok_or_else(|| PageError::not_found("member"))?;
            }
            id
        }
    };
    let url = connect_url(
        &google,
        viewer.user.tenant_id,
        user,
        Some(form.hint.as_str()),
    );
    Ok(Redirect::to(&url).into_response())
}

/// A connection the viewer may act on: their own, or any in the organisation for admins.
async fn connection(
    state: &AppState,
    viewer: &Viewer,
    raw: &str,
) -> PageResult<CalendarConnection> {
    let id: ConnectionId = raw
        .parse()
        .map_err(|_| PageError::not_found("calendar connection"))?;
    let connection = state
        .store
        .get_calendar_connection(viewer.user.tenant_id, id)
        .await?
        .ok_or_else(|| PageError::not_found("calendar connection"))?;
    if connection.user_id != viewer.user.id {
        viewer.require_admin()?;
    }
    Ok(connection)
}

fn back(query: &str) -> Response {
    Redirect::to(&format!("/dashboard/calendars?{query}")).into_response()
}

pub async fn sync(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let connection = connection(&state, &viewer, &id).await?;
    let Some(google) = state.google.clone() else {
        return Ok(back("failed=google_not_configured"));
    };
    let outcome = google
        .sync_now(connection.tenant_id, connection.id, Trigger::Manual)
        .await;
    Ok(match outcome {
        Ok(_) => back("done=synced"),
        Err(SyncError::Busy) => back("failed=busy"),
        Err(SyncError::Disabled) => back("failed=disabled"),
        Err(SyncError::NeedsReauth) => back("failed=needs_reauth"),
        Err(SyncError::Missing) => return Err(PageError::not_found("calendar connection")),
        Err(_) => back("failed=sync_failed"),
    })
}

async fn toggle(state: &AppState, viewer: &Viewer, id: &str, on: bool) -> PageResult<Response> {
    let connection = connection(state, viewer, id).await?;
    set_sync_enabled(state, &connection, on)
        .await?
        .ok_or_else(|| PageError::not_found("calendar connection"))?;
    Ok(back(if on { "done=resumed" } else { "done=paused" }))
}

pub async fn pause(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult<Response> {
    toggle(&state, &viewer, &id, false).await
}

pub async fn resume(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult<Response> {
    toggle(&state, &viewer, &id, true).await
}

/// Stops the push channel, revokes the grant and removes the synced events (as the API's
/// disconnect does).
pub async fn disconnect(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let connection = connection(&state, &viewer, &id).await?;
    let gone = match &state.google {
        Some(google) if connection.kind == "google" => google
            .disconnect(&connection)
            .await
            .map_err(|error| match error {
                SyncError::Store(e) => PageError::from(e),
                other => PageError::from(crate::domain::error::DomainError::internal(other)),
            })?,
        _ => {
            state
                .store
                .delete_calendar_connection(viewer.user.tenant_id, connection.id)
                .await?
        }
    };
    if !gone {
        return Err(PageError::not_found("calendar connection"));
    }
    Ok(back("done=disconnected"))
}
