//! Every error answer is our JSON error shape with the right status, whichever layer made it:
//! 405s, too-large bodies on every route (the in-call book route and `/mcp` included), and
//! what the MCP transport refuses.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp};
use crate::on_both_backends;

on_both_backends!(
    errors_made_outside_our_handlers_are_in_the_json_error_shape,
    a_body_over_the_limit_is_a_413_in_the_json_error_shape_on_every_route
);

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

fn assert_shape(reply: &Reply, status: StatusCode, code: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    assert_eq!(reply.code(), code, "{what}: {}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: {}",
        reply.body
    );
}

async fn errors_made_outside_our_handlers_are_in_the_json_error_shape(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    for (method, path) in [(Method::DELETE, "/healthz"), (Method::PUT, "/api/users")] {
        let reply = raw(app, method, path, &acme.key, None, Vec::new()).await;
        assert_shape(
            &reply,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            path,
        );
        assert!(reply.headers.contains_key("allow"), "{path}");
    }
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let reply = raw(
        app,
        Method::POST,
        "/mcp",
        &acme.key,
        Some("application/json"),
        deep.into_bytes(),
    )
    .await;
    assert!(reply.status.is_client_error(), "{}", reply.body);
    assert!(
        reply.body["error"].is_object(),
        "deep JSON on /mcp: {}",
        reply.body
    );
    let plain = raw(
        app,
        Method::POST,
        "/mcp",
        &acme.key,
        Some("text/plain"),
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.to_vec(),
    )
    .await;
    assert!(plain.status.is_client_error(), "{}", plain.body);
    assert!(
        plain.body["error"]["code"].is_string(),
        "text/plain on /mcp: {}",
        plain.body
    );
}

async fn a_body_over_the_limit_is_a_413_in_the_json_error_shape_on_every_route(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Desk", "time_zone": "UTC"}),
        )
        .await;
    let agent = agent.body["id"].as_str().unwrap().to_string();
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(10 * 1024 * 1024));
    for path in [
        "/api/users".to_string(),
        "/api/auth/login".to_string(),
        format!("/api/v1/agents/{agent}/calendar/book"),
        "/mcp".to_string(),
    ] {
        let reply = raw(
            app,
            Method::POST,
            &path,
            &acme.key,
            Some("application/json"),
            big.clone().into_bytes(),
        )
        .await;
        assert_shape(
            &reply,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &path,
        );
    }
    assert_eq!(app.store().list_users(acme.id).await.unwrap().len(), 1);
}
