//! Calendars: each member's calendar connections with what the troubleshooting guide asks
//! about (status, last sync, last error, token expiry, sync on or off), and the buttons that
//! act on them: connect (Google's and Outlook's OAuth flows, which come back here; a CalDAV
//! form for iCloud, Fastmail or any server), sync now, pause or resume, reconnect and
//! disconnect. Every kind is synced by the one engine (`crate::sync`). Members manage their
//! own; owners and admins everyone's.

use std::collections::HashMap;

use axum::Form;
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
use crate::sync::connections::{CalDavConnect, ConnectError, connect_caldav};
use crate::sync::{EngineError, Trigger};

/// A kind of calendar a member can connect, and what it is called here.
struct ProviderKind {
    kind: &'static str,
    label: &'static str,
}

const PROVIDERS: &[ProviderKind] = &[
    ProviderKind {
        kind: "google",
        label: "Google Calendar",
    },
    ProviderKind {
        kind: "microsoft",
        label: "Outlook / Microsoft 365",
    },
    ProviderKind {
        kind: "caldav",
        label: "iCloud / CalDAV",
    },
];

/// Whether this server can connect (and sync) calendars of `kind`.
fn available(state: &AppState, kind: &str) -> bool {
    match kind {
        "google" => state.google.is_some(),
        other => state.sync.provider(other).is_some(),
    }
}

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
        Some("connected_microsoft") => Some("Outlook is connected and its first sync has run."),
        Some("connected_caldav") => {
            Some("The CalDAV calendar is connected and its first sync has run.")
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
        Some("microsoft_not_configured") => {
            Some("Outlook is not set up on this server (MICROSOFT_OAUTH_CLIENT_ID).")
        }
        Some("caldav_unauthorized") => Some(
            "The CalDAV server refused that user name or password. Check them, and use an \
             app-specific password where the provider asks for one (iCloud does).",
        ),
        Some("caldav_bad_url") => {
            Some("That server or calendar URL cannot be used. Check it and try again.")
        }
        Some("caldav_no_calendar") => Some(
            "No event calendar was found for that account (or not the one named). Check the \
             calendar URL, or leave it empty.",
        ),
        Some("caldav_unavailable") => {
            Some("The CalDAV server could not be reached or answered oddly. Try again shortly.")
        }
        Some("caldav_missing") => {
            Some("Fill in the server, user name and app password to connect a CalDAV calendar.")
        }
        Some("busy") => Some("A sync of this calendar is already running; try again shortly."),
        Some("disabled") => Some("Sync is paused for this calendar; resume it first."),
        Some("needs_reauth") => Some("The provider refused our access: reconnect this calendar."),
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
    // CalDAV app passwords do not expire: the stored expiry says "never".
    let expires = connection
        .token_expires_at
        .filter(|t| connection.kind != "caldav" && t.as_second() < 253_000_000_000);
    let (status, label) = status_label(connection);
    let when =
        |t: Option<jiff::Timestamp>| t.map_or_else(|| "never".into(), |t| layout::when(t, &zone));
    html! {
        li.card data-connection=(connection.id) data-kind=(connection.kind) data-status=(status) {
            h3 {
                (provider_label(&connection.kind))
                // Outlook's connect flow learns no address; a bare separator would dangle.
                @if !connection.account_email.is_empty() { " · " (connection.account_email) }
            }
            dl.details {
                dt { "Status" }
                dd { span class={ "badge " (status) } { (label) } }
                dt { "Sync" }
                dd { @if connection.sync_enabled { "On" } @else { "Paused" } }
                dt { "Last sync" }
                dd data-testid="last-sync" { (when(connection.last_synced_at)) }
                dt { "Last error" }
                dd { (connection.last_error.as_deref().unwrap_or("none")) }
                @if connection.kind == "caldav" {
                    dt { "Calendar" }
                    dd { (connection.calendar_id) }
                } @else {
                    dt { "Access token expires" }
                    dd { (when(expires)) }
                }
            }
            div.actions-list {
                (action(viewer, connection, "sync", "Sync now"))
                @if connection.sync_enabled {
                    (action(viewer, connection, "pause", "Pause"))
                } @else {
                    (action(viewer, connection, "resume", "Resume"))
                }
                @match connection.kind.as_str() {
                    "caldav" => {
                        // Reconnecting is connecting again with a new app password.
                        a.button.secondary href={ "#caldav-" (connection.user_id) } data-action="reconnect" {
                            "Reconnect"
                        }
                    }
                    kind => {
                        a.button.secondary href=(connect_link(kind, connection.user_id, &connection.account_email)) data-action="reconnect" {
                            "Reconnect"
                        }
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
/// Google or Microsoft, and starting the flow changes nothing here (the state is bound to the
/// member). `kind` is `google` or `microsoft`.
fn connect_link(kind: &str, user: UserId, hint: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("user", &user.to_string())
        .append_pair("hint", hint)
        .finish();
    format!("/dashboard/calendars/connect/{kind}?{query}")
}

fn connect_form(state: &AppState, viewer: &Viewer, member: &User) -> Markup {
    let for_member = html! {
        @if viewer.user.id != member.id {
            span.visually-hidden { " for " (member.name) }
        }
    };
    html! {
        div.actions-list {
            @for provider in PROVIDERS.iter().filter(|p| p.kind != "caldav") {
                @if available(state, provider.kind) {
                    a.button href=(connect_link(provider.kind, member.id, ""))
                        data-connect=(member.id) data-connect-kind=(provider.kind) {
                        "Connect " (provider.label) (for_member)
                    }
                } @else {
                    span.muted data-unavailable=(provider.kind) {
                        (provider.label) ": not set up on this server"
                    }
                }
            }
        }
        @if available(state, "caldav") {
            (caldav_form(viewer, member, &for_member))
        }
    }
}

/// The CalDAV connect form: a preset or any server's URL, the user name and an app password
/// (sealed at rest, never shown again), and optionally the calendar's own URL.
fn caldav_form(viewer: &Viewer, member: &User, for_member: &Markup) -> Markup {
    let id = |field: &str| format!("caldav-{field}-{}", member.id);
    html! {
        details.caldav id={ "caldav-" (member.id) } {
            summary { "Connect iCloud / CalDAV" (for_member) }
            form.stack method="post" action="/dashboard/calendars/connect/caldav"
                data-caldav-form=(member.id) {
                input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                input type="hidden" name="user" value=(member.id);
                label for=(id("preset")) { "Provider" }
                select id=(id("preset")) name="preset" {
                    option value="icloud" { "iCloud" }
                    option value="fastmail" { "Fastmail" }
                    option value="other" { "Another CalDAV server (Nextcloud, …): enter its URL" }
                }
                label for=(id("server")) { "Server URL " span.muted { "(only for another server)" } }
                input id=(id("server")) type="url" name="server_url" inputmode="url"
                    placeholder="https://cloud.example.com/remote.php/dav" autocomplete="url";
                label for=(id("username")) { "User name" }
                input id=(id("username")) type="text" name="username" required
                    autocomplete="username" autocapitalize="none" spellcheck="false";
                label for=(id("password")) { "App password" }
                input id=(id("password")) type="password" name="password" required
                    autocomplete="new-password" aria-describedby=(id("password-help"));
                p.muted id=(id("password-help")) {
                    "An app-specific password, made in your account's security settings "
                    "(iCloud: appleid.apple.com, Sign-In and Security). It is stored sealed "
                    "and never shown again."
                }
                label for=(id("calendar")) { "Calendar URL " span.muted { "(optional)" } }
                input id=(id("calendar")) type="url" name="calendar_url" inputmode="url"
                    aria-describedby=(id("calendar-help"));
                p.muted id=(id("calendar-help")) {
                    "Leave empty to use the account's first event calendar."
                }
                button type="submit" data-action="connect-caldav" { "Connect calendar" }
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
        @if state.sync.microsoft.is_none() {
            p.muted {
                "Outlook is not set up on this server: its operator sets "
                code { "MICROSOFT_OAUTH_CLIENT_ID" } " and " code { "MICROSOFT_OAUTH_CLIENT_SECRET" } "."
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
    let user = member_for(&state, &viewer, &form.user).await?;
    let url = connect_url(
        &google,
        viewer.user.tenant_id,
        user,
        Some(form.hint.as_str()),
    );
    Ok(Redirect::to(&url).into_response())
}

/// The member a connect acts for: the viewer, or (owners and admins) the one named.
async fn member_for(state: &AppState, viewer: &Viewer, raw: &str) -> PageResult<UserId> {
    match raw.trim() {
        "" => Ok(viewer.user.id),
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
            Ok(id)
        }
    }
}

/// Starts Microsoft's consent flow for the viewer or (owners and admins) a member; it comes
/// back to this page.
pub async fn connect_microsoft(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(form): Query<ConnectForm>,
) -> PageResult<Response> {
    let Some(microsoft) = state.sync.microsoft.clone() else {
        return Ok(back("failed=microsoft_not_configured"));
    };
    let user = member_for(&state, &viewer, &form.user).await?;
    let url = crate::http::microsoft::connect_url(&state, &microsoft, viewer.user.tenant_id, user);
    Ok(Redirect::to(&url).into_response())
}

#[derive(Deserialize)]
pub struct CalDavForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    preset: String,
    #[serde(default)]
    server_url: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    calendar_url: String,
}

/// Connects a CalDAV calendar from the form: checks the credentials, finds the calendar, seals
/// the password and runs the first sync (the same operation as the API's connect).
pub async fn connect_caldav_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CalDavForm>,
) -> PageResult<Response> {
    let user = member_for(&state, &viewer, &form.user).await?;
    let server = match form.preset.as_str() {
        "icloud" | "fastmail" => form.preset.clone(),
        _ => form.server_url.trim().to_string(),
    };
    if server.is_empty() || form.username.trim().is_empty() || form.password.is_empty() {
        return Ok(back("failed=caldav_missing"));
    }
    let request = CalDavConnect {
        server_url: server,
        username: form.username.trim().to_string(),
        password: form.password.into(),
        calendar_url: Some(form.calendar_url.trim().to_string()).filter(|u| !u.is_empty()),
    };
    match connect_caldav(&state.sync, viewer.user.tenant_id, user, request).await {
        Ok(_) => Ok(back("done=connected_caldav")),
        Err(ConnectError::Store(error)) => Err(error.into()),
        Err(error) => {
            tracing::info!(%error, "connecting a CalDAV calendar from the dashboard failed");
            Ok(back(match error {
                ConnectError::Unauthorized => "failed=caldav_unauthorized",
                ConnectError::BadUrl(_) => "failed=caldav_bad_url",
                ConnectError::NoCalendar(_) => "failed=caldav_no_calendar",
                _ => "failed=caldav_unavailable",
            }))
        }
    }
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
    if state.sync.provider(&connection.kind).is_none() {
        return Ok(back(&format!("failed={}_not_configured", connection.kind)));
    }
    let outcome = state
        .sync
        .sync_now(connection.tenant_id, connection.id, Trigger::Manual)
        .await;
    Ok(match outcome {
        Ok(_) => back("done=synced"),
        Err(EngineError::Busy) => back("failed=busy"),
        Err(EngineError::Disabled) => back("failed=disabled"),
        Err(e) if e.needs_reauth() => back("failed=needs_reauth"),
        Err(EngineError::Missing) => return Err(PageError::not_found("calendar connection")),
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
    let gone = crate::sync::connections::disconnect(&state.sync, &connection).await?;
    if !gone {
        return Err(PageError::not_found("calendar connection"));
    }
    Ok(back("done=disconnected"))
}
