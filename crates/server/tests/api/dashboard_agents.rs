//! The agents page over real HTTP: its voice setup links to (and loads) each agent's tool
//! definitions from their own page, which is for owners and admins of the agent's
//! organisation only.

use reqwest::StatusCode;
use serde_json::json;

use crate::dashboard::{PASSWORD, get, member_with_password, signed_in};
use crate::helpers::{Tenant, TestApp};
use crate::on_both_backends;

on_both_backends!(
    the_agents_page_leaves_the_tool_definitions_to_the_voice_page_it_links,
    a_member_is_refused_the_voice_page_and_another_organisation_finds_no_agent,
);

async fn new_agent(app: &TestApp, tenant: &Tenant) -> String {
    let created = app
        .post(
            "/api/agents",
            &tenant.token,
            &json!({"name": "Front Desk", "time_zone": "America/New_York"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().unwrap().to_string()
}

async fn page(app: &TestApp, path: &str, token: &str) -> (StatusCode, String) {
    let response = get(app, path, token).await;
    (response.status(), response.text().await.unwrap())
}

async fn the_agents_page_leaves_the_tool_definitions_to_the_voice_page_it_links(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let id = new_agent(app, &acme).await;
    let token = signed_in(app, &acme.owner.email, PASSWORD).await;
    let voice = format!("/dashboard/agents/{id}/voice");

    let (status, agents) = page(app, "/dashboard/agents", &token).await;
    assert_eq!(status, StatusCode::OK);
    // The MCP URL is there at once; the definitions are not, only where htmx loads them from
    // (and where a browser without script opens them).
    assert!(agents.contains("/mcp"), "{agents}");
    assert!(!agents.contains(&format!("tools-retell-{id}")));
    assert!(!agents.contains("check_availability"));
    assert!(agents.contains(&format!(r#"hx-get="{voice}""#)), "{agents}");
    assert!(agents.contains(&format!(r##"hx-select="#voice-{id}""##)));
    assert!(agents.contains(&format!(r#"href="{voice}""#)));

    let (status, tools) = page(app, &voice, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(tools.contains(&format!(r#"id="voice-{id}""#)), "{tools}");
    for platform in ["retell", "vapi", "openai"] {
        assert!(
            tools.contains(&format!(r#"id="tools-{platform}-{id}""#)),
            "{platform}: {tools}"
        );
    }
    // The definitions are the API's, for this agent.
    let api = app
        .get(
            &format!("/api/agents/{id}/tools?platform=retell"),
            &acme.token,
        )
        .await;
    assert_eq!(api.status, StatusCode::OK);
    let url = api.body["tools"][0]["url"].as_str().unwrap().to_string();
    assert!(tools.contains(&url), "{url} in {tools}");
    assert!(tools.contains("check_availability"));
    assert!(tools.contains(&id));
}

async fn a_member_is_refused_the_voice_page_and_another_organisation_finds_no_agent(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let id = new_agent(app, &acme).await;
    member_with_password(app, &acme, "mo@acme.test").await;
    let member = signed_in(app, "mo@acme.test", "member-password").await;
    let voice = format!("/dashboard/agents/{id}/voice");
    let (status, html) = page(app, &voice, &member).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains("check_availability"));

    let globex = app.tenant("Globex").await;
    let other = signed_in(app, &globex.owner.email, PASSWORD).await;
    let (status, html) = page(app, &voice, &other).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("check_availability"));
    let (status, _) = page(app, "/dashboard/agents/not-an-id/voice", &other).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
