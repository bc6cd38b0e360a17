//! The agents page's own forms: creating and editing an agent (name, zone, backend native or
//! Cal.com with its key and event type) and its widget keys (create with allowed origins, shown
//! whole once with the embed snippet; revoke). Each is checked by the same rules as the API
//! (`POST`/`PATCH /api/agents`, `POST`/`DELETE /api/agents/{id}/widget-keys`); a refusal shows
//! the page again with the reason beside the form, and nothing is changed. Owners and admins
//! only.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use maud::{Markup, html};
use pillow_store::{Agent, AgentBackend, AgentId, AgentPatch, NewAgent, NewWidgetKey};
use serde::Deserialize;
use uuid::Uuid;

use super::agents::{Flash, render};
use super::csrf;
use super::errors::{PageError, PageResult};
use super::layout;
use super::session::Viewer;
use crate::AppState;
use crate::credentials::WIDGET_KEY;
use crate::http::agents::{check_agent_name, check_backend, check_calcom_complete, check_slug};
use crate::http::check_time_zone;
use crate::http::error::ApiError;
use crate::http::widget_keys::{check_key_name, check_origins};

/// An agent's form, as sent (every field may be empty).
#[derive(Deserialize, Default)]
pub struct AgentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    backend: String,
    /// Empty on an edit keeps the key already set.
    #[serde(default)]
    cal_api_key: String,
    #[serde(default)]
    cal_event_type_slug: String,
}

/// A widget key's form.
#[derive(Deserialize, Default)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    /// One origin a line (or separated by commas or spaces).
    #[serde(default)]
    allowed_origins: String,
}

/// Where a form's error is shown: the new-agent form, or one of an agent's forms.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Place {
    NewAgent,
    Agent(AgentId),
    Hosts(AgentId),
    Keys(AgentId),
}

async fn refused(
    state: &AppState,
    viewer: &Viewer,
    place: Place,
    error: String,
) -> PageResult<Response> {
    let flash = Flash {
        error: Some((place, error)),
        ..Flash::default()
    };
    let mut response = layout::respond(render(state, viewer, &flash).await?);
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(response)
}

fn given(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| !t.is_empty())
}

/// The form read into an agent as it would be stored, checked as the API checks it; `current`
/// is the agent being edited (its Cal.com key stays when the field is left empty).
fn checked(
    state: &AppState,
    viewer: &Viewer,
    form: &AgentForm,
    current: Option<&Agent>,
) -> Result<Agent, ApiError> {
    let name = check_agent_name(&form.name)?;
    let zone = form.time_zone.trim();
    check_time_zone("time_zone", zone)?;
    let backend = match given(&form.backend) {
        Some(raw) => check_backend(raw)?,
        None => AgentBackend::Native,
    };
    let key = match given(&form.cal_api_key) {
        Some(key) => Some(state.config.secrets.seal(key)),
        None => current.and_then(|a| a.cal_api_key_encrypted.clone()),
    };
    let slug = given(&form.cal_event_type_slug)
        .map(check_slug)
        .transpose()?;
    let agent = Agent {
        id: current.map_or(AgentId(Uuid::nil()), |a| a.id),
        tenant_id: viewer.user.tenant_id,
        name,
        time_zone: zone.to_string(),
        backend,
        cal_enabled: current.is_some_and(|a| a.cal_enabled),
        cal_api_key_encrypted: key,
        cal_event_type_slug: slug,
        cal_timezone: current.and_then(|a| a.cal_timezone.clone()),
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    };
    check_calcom_complete(&agent)?;
    Ok(agent)
}

/// The agent named in the path, in the viewer's organisation.
async fn agent_of(state: &AppState, viewer: &Viewer, raw: &str) -> PageResult<Agent> {
    let id: AgentId = raw.parse().map_err(|_| PageError::not_found("agent"))?;
    state
        .store
        .get_agent(viewer.user.tenant_id, id)
        .await?
        .ok_or_else(|| PageError::not_found("agent"))
}

pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<AgentForm>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let agent = match checked(&state, &viewer, &form, None) {
        Ok(agent) => agent,
        Err(error) => return refused(&state, &viewer, Place::NewAgent, error.message).await,
    };
    let created = state
        .store
        .create_agent(
            viewer.user.tenant_id,
            &NewAgent {
                name: agent.name,
                time_zone: agent.time_zone,
                backend: agent.backend,
                cal_enabled: agent.cal_enabled,
                cal_api_key_encrypted: agent.cal_api_key_encrypted,
                cal_event_type_slug: agent.cal_event_type_slug,
                cal_timezone: agent.cal_timezone,
            },
        )
        .await?;
    Ok(Redirect::to(&format!(
        "/dashboard/agents?done=created#agent-{}",
        created.id
    ))
    .into_response())
}

pub async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<AgentForm>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let current = agent_of(&state, &viewer, &id).await?;
    let agent = match checked(&state, &viewer, &form, Some(&current)) {
        Ok(agent) => agent,
        Err(error) => {
            return refused(&state, &viewer, Place::Agent(current.id), error.message).await;
        }
    };
    let patch = AgentPatch {
        name: Some(agent.name),
        time_zone: Some(agent.time_zone),
        backend: Some(agent.backend),
        cal_api_key_encrypted: Some(agent.cal_api_key_encrypted),
        cal_event_type_slug: Some(agent.cal_event_type_slug),
        ..AgentPatch::default()
    };
    state
        .store
        .update_agent(viewer.user.tenant_id, current.id, &patch)
        .await?
        .ok_or_else(|| PageError::not_found("agent"))?;
    state.teams.invalidate(viewer.user.tenant_id);
    Ok(Redirect::to(&format!(
        "/dashboard/agents?done=saved#agent-{}",
        current.id
    ))
    .into_response())
}

pub async fn create_key(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<KeyForm>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let agent = agent_of(&state, &viewer, &id).await?;
    let origins: Vec<String> = form
        .allowed_origins
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    let checked =
        check_key_name(given(&form.name)).and_then(|name| Ok((name, check_origins(&origins)?)));
    let (name, allowed_origins) = match checked {
        Ok(checked) => checked,
        Err(error) => return refused(&state, &viewer, Place::Keys(agent.id), error.message).await,
    };
    let minted = WIDGET_KEY.mint();
    state
        .store
        .create_widget_key(
            viewer.user.tenant_id,
            &NewWidgetKey {
                agent_id: agent.id,
                name: name.unwrap_or_else(|| "widget".into()),
                prefix: minted.prefix,
                secret_hash: minted.secret_hash,
                allowed_origins,
            },
        )
        .await?;
    // The whole key is shown this once, on this answer; it is stored only hashed.
    let flash = Flash {
        new_key: Some((agent.id, minted.key)),
        ..Flash::default()
    };
    let mut response = layout::respond(render(&state, &viewer, &flash).await?);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

pub async fn revoke_key(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, key)): Path<(String, String)>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let agent = agent_of(&state, &viewer, &id).await?;
    let key: Uuid = key
        .parse()
        .map_err(|_| PageError::not_found("widget key"))?;
    if !state
        .store
        .delete_widget_key(viewer.user.tenant_id, agent.id, key)
        .await?
    {
        return Err(PageError::not_found("widget key"));
    }
    Ok(Redirect::to(&format!(
        "/dashboard/agents?done=revoked#agent-{}",
        agent.id
    ))
    .into_response())
}

/// The fields of an agent's form, filled from `agent` when editing.
pub fn agent_fields(prefix: &str, agent: Option<&Agent>, zones_list: &str) -> Markup {
    let backend = agent.map_or("native", |a| a.backend.as_str());
    let id = |field: &str| format!("{prefix}-{field}");
    html! {
        div.grid2 {
            div {
                label for=(id("name")) { "Name" }
                input id=(id("name")) name="name" required maxlength="200" value=[agent.map(|a| &a.name)];
            }
            div {
                label for=(id("zone")) { "Time zone" }
                input id=(id("zone")) name="time_zone" list=(zones_list) required autocomplete="off"
                    spellcheck="false" placeholder="e.g. America/New_York" value=[agent.map(|a| &a.time_zone)];
            }
            div {
                label for=(id("backend")) { "Calendar backend" }
                select id=(id("backend")) name="backend" {
                    option value="native" selected[backend == "native"] { "Native (this server)" }
                    option value="calcom" selected[backend == "calcom"] { "Cal.com" }
                }
            }
            div {
                label for=(id("slug")) { "Cal.com event type (slug)" }
                input id=(id("slug")) name="cal_event_type_slug" autocomplete="off" spellcheck="false"
                    value=[agent.and_then(|a| a.cal_event_type_slug.as_ref())];
            }
            div {
                label for=(id("key")) { "Cal.com API key" }
                @if agent.is_some_and(|a| a.cal_api_key_encrypted.is_some()) {
                    span.muted.hint id=(id("key-hint")) { "A key is set; leave empty to keep it." }
                }
                input id=(id("key")) name="cal_api_key" type="password" autocomplete="off"
                    aria-describedby=[agent.filter(|a| a.cal_api_key_encrypted.is_some()).map(|_| id("key-hint"))];
            }
        }
        p.muted { "Cal.com agents need their API key and event type; native agents book this server's calendars." }
    }
}

/// The create-a-key form of an agent's card.
pub fn key_form(viewer: &Viewer, agent: AgentId) -> Markup {
    html! {
        form.stack method="post" action={ "/dashboard/agents/" (agent) "/widget-keys" } {
            input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
            div.grid2 {
                div {
                    label for={ "key-name-" (agent) } { "Key name" }
                    input id={ "key-name-" (agent) } name="name" maxlength="100" placeholder="e.g. website";
                }
                div {
                    label for={ "key-origins-" (agent) } { "Allowed origins (one a line)" }
                    textarea id={ "key-origins-" (agent) } name="allowed_origins" rows="2"
                        placeholder="https://shop.example" {}
                }
            }
            button.secondary type="submit" data-create-key=(agent) { "Create widget key" }
        }
    }
}
