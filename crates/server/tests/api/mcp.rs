//! MCP at `/mcp`: the protocol handshakes of both revisions, API-key auth, and the tools, spoken
//! as raw JSON-RPC over HTTP here and by the official MCP Python SDK in `mcp_exchange`.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::rules::seed_rule;
use crate::helpers::{INTERNAL_KEY, Tenant, TestApp};
use crate::on_both_backends;

on_both_backends!(
    initialize_on_2025_11_25_negotiates_it_and_opens_a_session,
    a_2026_07_28_client_discovers_and_lists_tools_without_a_session,
    initialize_asking_for_2026_07_28_is_answered_with_the_newest_handshake_revision,
    an_unknown_protocol_version_is_refused,
    requests_without_a_valid_api_key_are_401_json_errors,
);

pub const MODERN: &str = "2026-07-28";
pub const HANDSHAKE: &str = "2025-11-25";

/// An answer from `/mcp`: the JSON-RPC message, whether it came as JSON or as an SSE stream.
pub struct McpReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub message: Value,
}

impl McpReply {
    pub fn session(&self) -> Option<&str> {
        self.headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
    }
}

/// POSTs one JSON-RPC message to `/mcp` with the given extra headers.
pub async fn post_mcp(
    app: &TestApp,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
    body: &Value,
) -> McpReply {
    let mut request = app
        .client
        .post(format!("{}/mcp", app.base))
        .header("accept", "application/json, text/event-stream")
        .json(body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let is_sse = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = response.text().await.unwrap();
    let message = if is_sse {
        // The first event with data is the answer; an empty priming event may come first.
        text.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim)
            .find(|data| !data.is_empty())
            .map_or(Value::Null, |data| serde_json::from_str(data).unwrap())
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    McpReply {
        status,
        headers,
        message,
    }
}

/// The `_meta` a 2026-07-28 request carries in place of the handshake.
pub fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "pillow-tests", "version": "1.0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

/// A self-contained 2026-07-28 request, with the headers that revision requires.
pub async fn modern_request(
    app: &TestApp,
    key: &str,
    extra_headers: &[(&str, &str)],
    method: &str,
    mut params: Value,
) -> McpReply {
    params["_meta"] = modern_meta();
    let name = params["name"].as_str().map(str::to_owned);
    let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
    if let Some(name) = name.as_deref() {
        headers.push(("mcp-name", name));
    }
    headers.extend_from_slice(extra_headers);
    post_mcp(
        app,
        Some(key),
        &headers,
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await
}

/// A tenant whose member works 09:00–17:00 Los Angeles time on weekdays, and a voice agent whose
/// team is everyone. Returns the tenant, the agent's id and the member's id.
pub async fn front_desk(app: &TestApp) -> (Tenant, String, pillow_store::UserId) {
    let acme = app.tenant("Acme").await;
    let (pat, _) = app.member(&acme, "pat@acme.test").await;
    let mut rule = seed_rule();
    rule["user_id"] = json!(pat.id.to_string());
    let reply = app
        .post("/api/calendar/availability-rules", &acme.key, &rule)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Front desk", "time_zone": "America/Los_Angeles"}),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{:?}", agent.body);
    let agent = agent.body["id"].as_str().unwrap().to_string();
    (acme, agent, pat.id)
}

fn initialize(version: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "pillow-tests", "version": "1.0"}
        }
    })
}

async fn initialize_on_2025_11_25_negotiates_it_and_opens_a_session(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let reply = post_mcp(
        app,
        Some(&acme.key),
        &[("mcp-protocol-version", HANDSHAKE)],
        &initialize(HANDSHAKE),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.message);
    let result = &reply.message["result"];
    assert_eq!(result["protocolVersion"], HANDSHAKE);
    assert_eq!(result["serverInfo"]["name"], "pillow-calendar");
    assert!(result["capabilities"]["tools"].is_object(), "{result}");
    let session = reply.session().expect("a session id").to_owned();

    // The session carries on: initialized, then a tools/list in it.
    let session_headers = [
        ("mcp-protocol-version", HANDSHAKE),
        ("mcp-session-id", session.as_str()),
    ];
    let initialized = post_mcp(
        app,
        Some(&acme.key),
        &session_headers,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(initialized.status, StatusCode::ACCEPTED);
    let listed = post_mcp(
        app,
        Some(&acme.key),
        &session_headers,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.message["id"], 2);
    assert!(
        listed.message["result"]["tools"].is_array(),
        "{:?}",
        listed.message
    );
    // A handshake-era answer has no 2026 result discriminator.
    assert!(listed.message["result"].get("resultType").is_none());

    // The session is also closed by the key's owner.
    let closed = app
        .client
        .delete(format!("{}/mcp", app.base))
        .bearer_auth(&acme.key)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(closed.status().is_success(), "{}", closed.status());
}

/// A session's open event stream (the `GET /mcp` a 2025-11-25 client keeps for server
/// messages) is ended by a graceful shutdown instead of holding it open for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_session_streams() {
    let app = crate::helpers::spawn_app(crate::helpers::Db::Sqlite)
        .await
        .expect("SQLite always runs");
    let acme = app.tenant("Acme").await;
    let opened = post_mcp(
        &app,
        Some(&acme.key),
        &[("mcp-protocol-version", HANDSHAKE)],
        &initialize(HANDSHAKE),
    )
    .await;
    let session = opened.session().expect("a session id").to_owned();
    let session_headers = [
        ("mcp-protocol-version", HANDSHAKE),
        ("mcp-session-id", session.as_str()),
    ];
    let initialized = post_mcp(
        &app,
        Some(&acme.key),
        &session_headers,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(initialized.status, StatusCode::ACCEPTED);
    let mut stream = app
        .client
        .get(format!("{}/mcp", app.base))
        .bearer_auth(&acme.key)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", HANDSHAKE)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let reader = tokio::spawn(async move {
        // Reads until the server ends the stream.
        while let Ok(Some(_)) = stream.chunk().await {}
    });
    tokio::time::timeout(std::time::Duration::from_secs(20), app.finish())
        .await
        .expect("the server stopped although a session stream was open");
    tokio::time::timeout(std::time::Duration::from_secs(5), reader)
        .await
        .expect("the stream ended")
        .unwrap();
}

async fn a_2026_07_28_client_discovers_and_lists_tools_without_a_session(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let discovered = modern_request(app, &acme.key, &[], "server/discover", json!({})).await;
    assert_eq!(
        discovered.status,
        StatusCode::OK,
        "{:?}",
        discovered.message
    );
    let versions = discovered.message["result"]["supportedVersions"]
        .as_array()
        .unwrap_or_else(|| panic!("{:?}", discovered.message))
        .clone();
    assert!(versions.contains(&json!(MODERN)), "{versions:?}");
    assert!(versions.contains(&json!(HANDSHAKE)), "{versions:?}");
    assert!(discovered.session().is_none(), "2026-07-28 has no sessions");

    let listed = modern_request(app, &acme.key, &[], "tools/list", json!({})).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.message);
    assert!(listed.session().is_none());
    let result = &listed.message["result"];
    assert!(result["tools"].is_array(), "{result}");
    // The 2026-07-28 shape: a result discriminator and cache hints.
    assert_eq!(result["resultType"], "complete", "{result}");
    assert!(result["ttlMs"].is_number(), "{result}");
}

async fn initialize_asking_for_2026_07_28_is_answered_with_the_newest_handshake_revision(
    app: &TestApp,
) {
    // 2026-07-28 has no handshake, so a client that offers it over `initialize` is told the
    // newest revision that has one, which it can accept or leave.
    let acme = app.tenant("Acme").await;
    let reply = post_mcp(app, Some(&acme.key), &[], &initialize(MODERN)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.message);
    assert_eq!(reply.message["result"]["protocolVersion"], HANDSHAKE);
}

async fn an_unknown_protocol_version_is_refused(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let reply = post_mcp(
        app,
        Some(&acme.key),
        &[("mcp-protocol-version", "1999-01-01")],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.message);
}

async fn requests_without_a_valid_api_key_are_401_json_errors(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let body = initialize(HANDSHAKE);
    // Change the last character of the secret (keys are random, so it may already be an `x`).
    let (kept, last) = acme.key.split_at(acme.key.len() - 1);
    let wrong_key = format!("{kept}{}", if last == "x" { "y" } else { "x" });
    for (bearer, why) in [
        (None, "no key"),
        (Some(wrong_key.as_str()), "a key with the wrong secret"),
        (Some("pcal_nonsense"), "a malformed key"),
        (
            Some(acme.token.as_str()),
            "a user's token: MCP takes API keys only",
        ),
    ] {
        let reply = post_mcp(app, bearer, &[], &body).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(reply.message["error"]["code"], "unauthorized", "{why}");
        assert!(
            reply.message["error"]["message"].is_string(),
            "{why}: {:?}",
            reply.message
        );
        assert!(
            reply
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer")),
            "{why}"
        );
        assert!(reply.session().is_none(), "{why}: no session was opened");
    }
    // The voice platforms' internal key opens the voice endpoints, not MCP.
    let reply = post_mcp(app, Some(INTERNAL_KEY), &[], &body).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.message["error"]["code"], "forbidden");
}

on_both_backends!(
    the_tools_are_listed_with_their_schemas_and_how_the_agent_is_chosen,
    tools_act_for_the_agent_in_the_header_or_argument_and_only_in_the_keys_tenant,
    tool_failures_are_is_error_results_with_the_message_to_say,
    bookings_are_found_rescheduled_and_cancelled_through_mcp,
);

/// A `tools/call` on 2026-07-28; returns the JSON-RPC message.
async fn call_tool(
    app: &TestApp,
    key: &str,
    agent_header: Option<&str>,
    name: &str,
    arguments: Value,
) -> Value {
    let headers: Vec<(&str, &str)> = agent_header
        .map(|agent| vec![("x-agent-id", agent)])
        .unwrap_or_default();
    let reply = modern_request(
        app,
        key,
        &headers,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.message);
    reply.message
}

/// The text content of a tool result, all blocks joined.
fn text(result: &Value) -> String {
    result["content"]
        .as_array()
        .unwrap_or_else(|| panic!("no content: {result}"))
        .iter()
        .filter_map(|block| block["text"].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn tuesday() -> String {
    crate::helpers::next(jiff::civil::Weekday::Tuesday).to_string()
}

async fn the_tools_are_listed_with_their_schemas_and_how_the_agent_is_chosen(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let listed = modern_request(app, &acme.key, &[], "tools/list", json!({})).await;
    let tools = listed.message["result"]["tools"]
        .as_array()
        .unwrap()
        .clone();
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "check_availability",
            "book_appointment",
            "find_booking",
            "cancel_booking",
            "reschedule_booking",
            "show_booking_calendar",
            "get_call_booking_state"
        ]
    );
    for tool in &tools {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert_eq!(
            tool["inputSchema"]["properties"]["agent_id"]["type"], "string",
            "{tool}"
        );
        let description = tool["description"].as_str().unwrap();
        assert!(
            description.contains("X-Agent-ID") && description.contains("agent_id"),
            "{description}"
        );
    }
    assert!(tools[0]["inputSchema"]["properties"]["date"].is_object());
    assert_eq!(tools[1]["inputSchema"]["required"], json!(["name"]));
    // The typed answers say their shape, so clients can check the structured content.
    assert!(tools[0]["outputSchema"]["properties"]["options"].is_object());
    assert!(tools[1]["outputSchema"]["properties"]["confirmation_code"].is_object());
}

async fn tools_act_for_the_agent_in_the_header_or_argument_and_only_in_the_keys_tenant(
    app: &TestApp,
) {
    let (acme, agent, _) = front_desk(app).await;
    let date = tuesday();

    let by_header = call_tool(
        app,
        &acme.key,
        Some(&agent),
        "check_availability",
        json!({"date": date}),
    )
    .await;
    let result = &by_header["result"];
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["structuredContent"]["date"], date.as_str());
    let options = result["structuredContent"]["options"].as_array().unwrap();
    assert!(!options.is_empty() && options.len() <= 3, "{result}");
    assert_eq!(
        text(result),
        result["structuredContent"]["summary"].as_str().unwrap(),
        "the text is the one-line summary"
    );
    assert!(!text(result).contains('\n'));

    let by_argument = call_tool(
        app,
        &acme.key,
        None,
        "check_availability",
        json!({"date": date, "agent_id": agent}),
    )
    .await;
    assert_eq!(
        by_argument["result"]["structuredContent"], result["structuredContent"],
        "the argument names the same agent as the header"
    );

    let nobody = call_tool(
        app,
        &acme.key,
        None,
        "check_availability",
        json!({"date": date}),
    )
    .await;
    assert_eq!(nobody["result"]["isError"], true, "{nobody}");
    assert_eq!(
        nobody["result"]["structuredContent"]["error"]["code"],
        "missing_agent"
    );
    assert!(text(&nobody["result"]).contains("X-Agent-ID"));

    // Another tenant's key cannot reach this agent, by header or by argument.
    let globex = app.tenant("Globex").await;
    for (header, arguments) in [
        (Some(agent.as_str()), json!({"date": date})),
        (None, json!({"date": date, "agent_id": agent})),
        (Some("not-a-uuid"), json!({"date": date})),
    ] {
        let reply = call_tool(app, &globex.key, header, "check_availability", arguments).await;
        assert_eq!(reply["result"]["isError"], true, "{reply}");
        assert_eq!(
            reply["result"]["structuredContent"]["error"]["code"], "agent_not_found",
            "{reply}"
        );
    }
}

async fn tool_failures_are_is_error_results_with_the_message_to_say(app: &TestApp) {
    let (acme, agent, _) = front_desk(app).await;
    let available = call_tool(
        app,
        &acme.key,
        Some(&agent),
        "check_availability",
        json!({"date": tuesday()}),
    )
    .await;
    let slot = available["result"]["structuredContent"]["options"][0]["slot_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let book = json!({"slot_id": slot, "name": "Ada Lovelace", "phone": "+14155550100"});
    let first = call_tool(
        app,
        &acme.key,
        Some(&agent),
        "book_appointment",
        book.clone(),
    )
    .await;
    assert_eq!(first["result"]["isError"], false, "{first}");
    assert_eq!(first["result"]["structuredContent"]["booked"], true);

    // The only member is now busy then: a tool error to say, with other times to offer.
    let again = call_tool(app, &acme.key, Some(&agent), "book_appointment", book).await;
    let result = &again["result"];
    assert_eq!(result["isError"], true, "{again}");
    let error = &result["structuredContent"]["error"];
    assert_eq!(error["code"], "slot_unavailable", "{again}");
    assert_eq!(text(result), error["message"].as_str().unwrap());
    assert!(
        !error["alternatives"].as_array().unwrap().is_empty(),
        "{again}"
    );

    // Arguments that do not fit the tool: a tool error naming what is wrong.
    let unnamed = call_tool(
        app,
        &acme.key,
        Some(&agent),
        "book_appointment",
        json!({"slot_id": slot}),
    )
    .await;
    assert_eq!(unnamed["result"]["isError"], true, "{unnamed}");
    assert_eq!(
        unnamed["result"]["structuredContent"]["error"]["code"],
        "invalid_arguments"
    );
    assert!(text(&unnamed["result"]).contains("name"), "{unnamed}");

    // A tool that does not exist is a protocol error, not a result.
    let unknown = call_tool(app, &acme.key, Some(&agent), "order_pizza", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    assert!(unknown.get("result").is_none());
}

async fn bookings_are_found_rescheduled_and_cancelled_through_mcp(app: &TestApp) {
    let (acme, agent, _) = front_desk(app).await;
    let available = call_tool(
        app,
        &acme.key,
        Some(&agent),
        "check_availability",
        json!({"date": tuesday()}),
    )
    .await;
    let options = available["result"]["structuredContent"]["options"]
        .as_array()
        .unwrap()
        .clone();
    assert!(options.len() >= 2, "{available}");
    let booked = call_tool(
        app,
        &acme.key,
        Some(&agent),
        "book_appointment",
        json!({"slot_id": options[0]["slot_id"], "name": "Ada Lovelace", "phone": "+14155550100"}),
    )
    .await;
    let code = booked["result"]["structuredContent"]["confirmation_code"]
        .as_str()
        .unwrap_or_else(|| panic!("{booked}"))
        .to_owned();

    let found = call_tool(
        app,
        &acme.key,
        Some(&agent),
        "find_booking",
        json!({"confirmation_code": code}),
    )
    .await;
    assert_eq!(found["result"]["isError"], false, "{found}");
    assert!(
        found["result"]["structuredContent"]
            .to_string()
            .contains(&code)
    );
    assert!(!text(&found["result"]).is_empty());

    let moved = call_tool(
        app,
        &acme.key,
        Some(&agent),
        "reschedule_booking",
        json!({"confirmation_code": code, "slot_id": options[1]["slot_id"]}),
    )
    .await;
    assert_eq!(moved["result"]["isError"], false, "{moved}");
    let stored = app
        .get(&format!("/api/calendar/bookings/{code}"), &acme.key)
        .await;
    let stored_start: jiff::Timestamp =
        stored.body["start_time"].as_str().unwrap().parse().unwrap();
    let chosen: jiff::Timestamp = options[1]["start_time"].as_str().unwrap().parse().unwrap();
    assert_eq!(stored_start, chosen, "{:?}", stored.body);

    let cancelled = call_tool(
        app,
        &acme.key,
        Some(&agent),
        "cancel_booking",
        json!({"confirmation_code": code, "reason": "caller asked"}),
    )
    .await;
    assert_eq!(cancelled["result"]["isError"], false, "{cancelled}");
    let stored = app
        .get(&format!("/api/calendar/bookings/{code}"), &acme.key)
        .await;
    assert_eq!(stored.body["status"], "cancelled", "{:?}", stored.body);
}
