//! Agents and voice setup: creating an agent and editing its name, zone and backend (see
//! [`super::agent_forms`]), who it can book (with each host's
//! priority, round-robin weight and per-day and per-week limits, saved through the same
//! validation as `PUT /api/agents/{id}/booking-settings`), its widget keys (created with their
//! allowed origins, revoked) and embed snippet with a copy button, and the voice setup: the MCP
//! URL, and the copy-ready tool definitions for Retell, Vapi and OpenAI, loaded when the section
//! is opened ([`super::agent_voice`]). Owners and admins only.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use pillow_store::{Agent, AgentId, User, UserId};
use serde::Deserialize;

use super::agent_forms::{self, Place};
use super::agent_voice;
use super::csrf;
use super::errors::{PageError, PageResult};
use super::layout::{self, Extras, Nav};
use super::session::Viewer;
use crate::AppState;
use crate::domain::bookings::{AssignableUser, BookingSettings, validate_settings};

#[derive(Deserialize, Default)]
pub struct AgentsQuery {
    done: Option<String>,
}

/// The agent's settings as stored, or the defaults of an agent that has none yet.
async fn settings_of(state: &AppState, agent: &Agent) -> PageResult<Option<BookingSettings>> {
    let Some(stored) = state
        .store
        .get_booking_settings(agent.tenant_id, agent.id)
        .await?
    else {
        return Ok(None);
    };
    serde_json::from_value(stored)
        .map(Some)
        .map_err(|e| crate::domain::error::DomainError::internal(e).into())
}

fn number(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn hosts_form(
    viewer: &Viewer,
    agent: &Agent,
    settings: Option<&BookingSettings>,
    members: &[User],
    error: Option<&str>,
) -> Markup {
    let chosen: HashMap<String, &AssignableUser> = settings
        .map(|s| {
            s.assignable_users
                .iter()
                .map(|u| (u.user_id.clone(), u))
                .collect()
        })
        .unwrap_or_default();
    let strategy = settings.map_or("round_robin", |s| s.distribution_strategy.as_str());
    html! {
        form method="post" action={ "/dashboard/agents/" (agent.id) "/hosts" } {
            input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
            @if let Some(error) = error {
                p.error role="alert" data-testid="hosts-error" { (error) }
            }
            div.grid2 {
                div {
                    label for={ "strategy-" (agent.id) } { "How a host is chosen" }
                    select id={ "strategy-" (agent.id) } name="strategy" {
                        @for (value, label) in [("round_robin", "Round robin (by weight)"), ("least_busy", "Least busy"), ("priority", "By priority"), ("specific_user", "Always the first host"), ("collective", "Everyone required together (collective)")] {
                            option value=(value) selected[strategy == value] { (label) }
                        }
                    }
                }
            }
            div.table-wrap {
                table.bookings.hosts {
                    caption { "Hosts this agent books" }
                    thead {
                        tr {
                            th scope="col" { "Member" }
                            th scope="col" { "Books" }
                            th scope="col" { "Priority" }
                            th scope="col" { "Weight" }
                            th scope="col" { "Max a day" }
                            th scope="col" { "Max a week" }
                        }
                    }
                    tbody {
                        @for member in members {
                            @let id = member.id.to_string();
                            @let entry = chosen.get(&id).copied();
                            tr data-host=(id) {
                                th scope="row" data-label="Member" { (member.name) }
                                td data-label="Books" {
                                    input type="checkbox" id={ "on-" (agent.id) "-" (id) } name={ "on_" (id) } value="1" checked[entry.is_some()];
                                    label.inline-label for={ "on-" (agent.id) "-" (id) } { "Can be booked" }
                                    br;
                                    input type="checkbox" id={ "required-" (agent.id) "-" (id) } name={ "required_" (id) } value="1" checked[entry.is_some_and(|e| e.required == Some(true))];
                                    label.inline-label for={ "required-" (agent.id) "-" (id) } { "Required (collective)" }
                                }
                                @for (field, label, value) in [
                                    ("priority", "Priority", number(entry.and_then(|e| e.priority.map(i64::from)))),
                                    ("weight", "Weight", number(entry.and_then(|e| e.weight))),
                                    ("per_day", "Max a day", number(entry.and_then(|e| e.max_bookings_per_day))),
                                    ("per_week", "Max a week", number(entry.and_then(|e| e.max_bookings_per_week))),
                                ] {
                                    td data-label=(label) {
                                        label.visually-hidden for={ (field) "-" (agent.id) "-" (id) } { (label) " for " (member.name) }
                                        input.short type="number" min="0" id={ (field) "-" (agent.id) "-" (id) } name={ (field) "_" (id) } value=(value);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.muted { "Empty means no limit; weight 2 gets twice the round-robin share of weight 1." }
            button type="submit" data-save=(agent.id) { "Save hosts" }
        }
    }
}

/// What a page shows once, after a form: a notice, a form's refusal, or a new widget key
/// (whole, this once).
#[derive(Default)]
pub struct Flash {
    pub notice: Option<String>,
    pub error: Option<(Place, String)>,
    pub new_key: Option<(AgentId, String)>,
}

impl Flash {
    fn error_at(&self, place: Place) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(p, _)| *p == place)
            .map(|(_, e)| e.as_str())
    }
}

/// A copy button for the text of the element `target` (shown by `copy.js`).
pub(super) fn copy_button(target: &str, what: &str) -> Markup {
    html! {
        button.secondary.copy type="button" data-copy-target=(target) hidden {
            "Copy " (what)
        }
    }
}

fn embed_snippet(base: &str, agent: AgentId, key: &str) -> String {
    format!(
        "<script type=\"module\" src=\"{base}/embed/pillow-incall-calendar.js\"></script>\n\
         <pillow-incall-calendar agent-id=\"{agent}\" widget-key=\"{key}\"></pillow-incall-calendar>"
    )
}

/// The voice setup's section: the MCP URL and agent id at once; the tool definitions (see
/// [`agent_voice`]) are loaded the first time the section is opened, or opened on their own
/// page without script.
fn voice_setup(state: &AppState, agent: &Agent) -> Markup {
    let url = agent_voice::path(agent);
    html! {
        details.voice hx-get=(url) hx-trigger="toggle once" hx-target="find .voice-tools"
            hx-select={ "#" (agent_voice::part_id(agent)) } hx-swap="innerHTML ignoreTitle:true" {
            summary { "Voice setup: tools for Retell, Vapi and OpenAI, and the MCP URL" }
            (agent_voice::addresses(state, agent))
            div.voice-tools aria-live="polite" {
                p { a href=(url) data-voice=(agent.id) { "Open the tool definitions for Retell, Vapi and OpenAI" } }
            }
        }
    }
}

pub(super) async fn render(state: &AppState, viewer: &Viewer, flash: &Flash) -> PageResult<Markup> {
    let tenant = viewer.user.tenant_id;
    let mut agents = state.store.list_agents(tenant).await?;
    agents.sort_by(|a, b| a.name.cmp(&b.name));
    let mut members = state.store.list_users(tenant).await?;
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let base = state.config.public_url.trim_end_matches('/').to_string();
    let mut cards = Vec::new();
    for agent in &agents {
        let settings = settings_of(state, agent).await?;
        let keys = state.store.list_widget_keys(tenant, agent.id).await?;
        let agent_error = flash.error_at(Place::Agent(agent.id));
        let hosts_failed = flash.error_at(Place::Hosts(agent.id));
        let keys_error = flash.error_at(Place::Keys(agent.id));
        let new_key = flash
            .new_key
            .as_ref()
            .filter(|(id, _)| *id == agent.id)
            .map(|(_, key)| key.as_str());
        cards.push(html! {
            section.card aria-labelledby={ "agent-" (agent.id) } data-agent=(agent.id) {
                h2 id={ "agent-" (agent.id) } { (agent.name) }
                p.muted {
                    "Zone " (agent.time_zone) " · " (agent.backend.as_str()) " backend"
                    @if settings.is_none() { " · no booking settings yet" }
                }
                details open[agent_error.is_some()] {
                    summary { "Edit name, zone and backend" }
                    form.stack method="post" action={ "/dashboard/agents/" (agent.id) } {
                        input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                        @if let Some(error) = agent_error {
                            p.error role="alert" data-testid="agent-error" { (error) }
                        }
                        (agent_forms::agent_fields(&format!("edit-{}", agent.id), Some(agent), "zones"))
                        button type="submit" data-save-agent=(agent.id) { "Save agent" }
                    }
                }
                (hosts_form(viewer, agent, settings.as_ref(), &members, hosts_failed))
                h3 { "Widget keys" }
                @if let Some(key) = new_key {
                    div.notice role="status" data-testid="new-key" {
                        p { "New widget key: copy it now, it is not shown again." }
                        label for={ "new-key-" (agent.id) } { "Widget key" }
                        input.code id={ "new-key-" (agent.id) } readonly value=(key);
                        (copy_button(&format!("#new-key-{}", agent.id), "key"))
                        label for={ "new-embed-" (agent.id) } { "Embed snippet with this key" }
                        textarea.code id={ "new-embed-" (agent.id) } readonly rows="3" {
                            (embed_snippet(&base, agent.id, key))
                        }
                        (copy_button(&format!("#new-embed-{}", agent.id), "snippet"))
                    }
                }
                @if keys.is_empty() {
                    p.muted { "No widget key yet." }
                } @else {
                    ul.keys {
                        @for key in &keys {
                            li data-key=(key.id) {
                                strong { (key.name) } " · " code { (key.prefix) "…" }
                                " · "
                                @if key.allowed_origins.is_empty() { "this server's pages only" }
                                @else { (key.allowed_origins.join(", ")) }
                                form.inline method="post"
                                    action={ "/dashboard/agents/" (agent.id) "/widget-keys/" (key.id) "/revoke" } {
                                    input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                                    button.link.danger-text type="submit" data-revoke=(key.id)
                                        aria-label={ "Revoke widget key " (key.name) } { "Revoke" }
                                }
                            }
                        }
                    }
                    label for={ "embed-" (agent.id) } { "Embed snippet (put the whole widget key, pk_…, in widget-key)" }
                    textarea.code id={ "embed-" (agent.id) } readonly rows="3" {
                        (embed_snippet(&base, agent.id, &format!("{}…", keys[0].prefix)))
                    }
                    (copy_button(&format!("#embed-{}", agent.id), "snippet"))
                }
                @if let Some(error) = keys_error {
                    p.error role="alert" data-testid="key-error" { (error) }
                }
                (agent_forms::key_form(viewer, agent.id))
                p.muted {
                    "Try it: " a href={ "/demo/call?agent=" (agent.id) } { "demo call page" }
                    " · " a href={ "/book/" (agent.id) } { "hosted booking page" }
                    " (add " code { "key=pk_…" } " to either)"
                }
                (voice_setup(state, agent))
            }
        });
    }
    let new_error = flash.error_at(Place::NewAgent);
    Ok(layout::page_with(
        "Agents",
        viewer,
        Nav::Agents,
        Extras::Copy,
        html! {
            @if let Some(notice) = &flash.notice { p.notice role="status" { (notice) } }
            datalist #zones {
                @for zone in super::hours::COMMON_ZONES { option value=(zone) {} }
            }
            details.card open[agents.is_empty() || new_error.is_some()] {
                summary { h2.inline { "New agent" } }
                form.stack method="post" action="/dashboard/agents" {
                    input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                    @if let Some(error) = new_error {
                        p.error role="alert" data-testid="new-agent-error" { (error) }
                    }
                    (agent_forms::agent_fields("new", None, "zones"))
                    button type="submit" #create-agent { "Create agent" }
                }
            }
            @for card in cards { (card) }
        },
    ))
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<AgentsQuery>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let notice = match query.done.as_deref() {
        Some("hosts") => Some("Hosts saved."),
        Some("created") => Some("Agent created."),
        Some("saved") => Some("Agent saved."),
        Some("revoked") => Some("Widget key revoked: it stops working at once."),
        _ => None,
    };
    let flash = Flash {
        notice: notice.map(str::to_string),
        ..Flash::default()
    };
    Ok(layout::respond(render(&state, &viewer, &flash).await?))
}

/// A number field of the hosts form: empty is none; anything else a whole number, 0 or more.
fn field(
    form: &HashMap<String, String>,
    name: &str,
    label: &str,
    who: &str,
) -> Result<Option<i64>, String> {
    match form.get(name).map(|v| v.trim()).unwrap_or("") {
        "" => Ok(None),
        raw => raw
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| format!("{label} for {who} must be a whole number, 0 or more.")),
    }
}

pub async fn save_hosts(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let tenant = viewer.user.tenant_id;
    let agent_id: AgentId = id.parse().map_err(|_| PageError::not_found("agent"))?;
    let agent = state
        .store
        .get_agent(tenant, agent_id)
        .await?
        .ok_or_else(|| PageError::not_found("agent"))?;
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let mut members = state.store.list_users(tenant).await?;
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hosts = Vec::new();
    let mut problem = None;
    for member in &members {
        let id: UserId = member.id;
        if !form.contains_key(&format!("on_{id}")) {
            continue;
        }
        let read =
            |name: &str, label: &str| field(&form, &format!("{name}_{id}"), label, &member.name);
        match (
            read("priority", "Priority"),
            read("weight", "Weight"),
            read("per_day", "Max a day"),
            read("per_week", "Max a week"),
        ) {
            (Ok(priority), Ok(weight), Ok(per_day), Ok(per_week)) => hosts.push(AssignableUser {
                user_id: id.to_string(),
                priority: priority.and_then(|p| i32::try_from(p).ok()),
                calendar_provider_id: None,
                max_bookings_per_day: per_day,
                max_bookings_per_week: per_week,
                weight,
                // Only a collective agent reads it; kept off the others' settings.
                required: form.contains_key(&format!("required_{id}")).then_some(true),
            }),
            (a, b, c, d) => {
                problem = [a.err(), b.err(), c.err(), d.err()]
                    .into_iter()
                    .flatten()
                    .next();
                break;
            }
        }
    }
    let current = settings_of(&state, &agent).await?;
    let mut settings = match current {
        Some(settings) => settings,
        None => serde_json::from_value(serde_json::json!({}))
            .map_err(crate::domain::error::DomainError::internal)?,
    };
    // Keep each host's calendar choice, which this form does not show.
    for host in &mut hosts {
        host.calendar_provider_id = settings
            .assignable_users
            .iter()
            .find(|u| u.user_id == host.user_id)
            .and_then(|u| u.calendar_provider_id.clone());
    }
    settings.assignable_users = hosts;
    if let Some(strategy) = form.get("strategy") {
        settings.distribution_strategy = strategy.trim().to_string();
    }
    let checked = match problem {
        Some(problem) => Err(problem),
        None => validate_settings(&state, tenant, &settings)
            .await
            .map_err(|e| e.message),
    };
    if let Err(error) = checked {
        let flash = Flash {
            error: Some((Place::Hosts(agent.id), error)),
            ..Flash::default()
        };
        let mut response = layout::respond(render(&state, &viewer, &flash).await?);
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    }
    let stored =
        serde_json::to_value(&settings).map_err(crate::domain::error::DomainError::internal)?;
    state
        .store
        .put_booking_settings(tenant, agent.id, &stored)
        .await?;
    state.teams.invalidate(tenant);
    Ok(Redirect::to("/dashboard/agents?done=hosts").into_response())
}
