//! One agent's voice setup: the copy-ready tool definitions for Retell, Vapi and OpenAI, with
//! the MCP URL. Owners and admins only.
//!
//! The definitions are the heaviest thing about an agent (some 17 KB a platform once escaped),
//! so the agents page does not carry them: its "Voice setup" section loads `#voice-{id}` from
//! this page with htmx when it is first opened, and links here for a browser without script.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use pillow_store::Agent;

use super::agents::copy_button;
use super::errors::{PageError, PageResult};
use super::layout::{self, Extras, Nav};
use super::session::Viewer;
use crate::AppState;
use crate::voice::definitions::{Platform, definitions};

/// Where an agent's voice setup is served.
pub fn path(agent: &Agent) -> String {
    format!("/dashboard/agents/{}/voice", agent.id)
}

/// The id of the part of the page the agents page loads.
pub fn part_id(agent: &Agent) -> String {
    format!("voice-{}", agent.id)
}

/// The MCP URL and the agent's id: short, so the agents page shows them at once.
pub fn addresses(state: &AppState, agent: &Agent) -> Markup {
    let base = state.config.public_url.trim_end_matches('/');
    html! {
        dl.details {
            dt { "MCP URL" }
            dd { code data-testid="mcp-url" { (base) (crate::mcp::PATH) } }
            dt { "Agent id" }
            dd { code { (agent.id) } }
        }
    }
}

fn tools(state: &AppState, agent: &Agent, signed: bool) -> Markup {
    let base = state.config.public_url.trim_end_matches('/');
    let pretty = |platform: Platform| {
        serde_json::to_string_pretty(&definitions(platform, agent.id, base, signed))
            .unwrap_or_default()
    };
    html! {
        div id=(part_id(agent)) {
            p {
                "Paste these into your voice platform. Where a tool asks for "
                code { "Authorization" } ", use your internal voice key (" code { "INTERNAL_API_KEY" } ")."
                @if signed { " Retell calls are checked by Retell's signature (a Retell key is set)." }
                @else { " No Retell key is set, so Retell sends the internal key too." }
            }
            @for (platform, name) in [(Platform::Retell, "Retell"), (Platform::Vapi, "Vapi"), (Platform::Openai, "OpenAI")] {
                @let id = format!("tools-{}-{}", platform.as_str(), agent.id);
                label for=(id) { (name) " tool definitions" }
                textarea.code id=(id) readonly rows="8" { (pretty(platform)) }
                (copy_button(&format!("#{id}"), &format!("{name} tools")))
            }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let tenant = viewer.user.tenant_id;
    let id = id.parse().map_err(|_| PageError::not_found("agent"))?;
    let agent = state
        .store
        .get_agent(tenant, id)
        .await?
        .ok_or_else(|| PageError::not_found("agent"))?;
    let signed = state.store.get_retell_key(tenant).await?.is_some();
    Ok(layout::respond(layout::page_with(
        "Voice setup",
        &viewer,
        Nav::Agents,
        Extras::Copy,
        html! {
            p {
                "For " strong { (agent.name) } ". "
                a href={ "/dashboard/agents#agent-" (agent.id) } { "Back to the agents" }
            }
            (addresses(&state, &agent))
            (tools(&state, &agent, signed))
        },
    )))
}
