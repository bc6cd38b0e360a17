use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, always_open};
use crate::on_both_backends;

on_both_backends!(
    health_and_readiness_answer,
    metrics_count_requests_by_route_template,
    the_openapi_document_and_reference_page_describe_the_api,
    a_rule_and_a_booking_carry_exactly_the_fields_their_schemas_name,
    every_successful_json_answer_names_its_schema,
    every_response_carries_a_request_id_and_unknown_routes_are_json_404,
);

async fn health_and_readiness_answer(app: &TestApp) {
    let health = app.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
    let ready = app.send(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["status"], "ready");
}

async fn metrics_count_requests_by_route_template(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let path = format!("/api/users/{}", acme.owner.id);
    assert_eq!(app.get(&path, &acme.key).await.status, StatusCode::OK);
    let metrics = app.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(
        text.contains(r#"route="/api/users/{id}""#),
        "labelled by template: {text}"
    );
    assert!(
        !text.contains(&acme.owner.id.to_string()),
        "no raw ids in labels"
    );
}

async fn the_openapi_document_and_reference_page_describe_the_api(app: &TestApp) {
    let doc = app.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/users",
        "/api/users/{id}",
        "/api/agents",
        "/api/auth/login",
        "/healthz",
    ] {
        assert!(doc.body["paths"].get(path).is_some(), "{path} documented");
    }
    assert!(doc.body["components"]["schemas"].get("UserView").is_some());
    assert!(
        doc.body["components"]["securitySchemes"]
            .get("bearer")
            .is_some()
    );
    let page = app.send(Method::GET, "/docs", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().unwrap();
    assert!(html.contains("/openapi.json"));
    assert!(
        !html.contains("https://"),
        "the reference page fetches nothing from elsewhere"
    );
}

/// The keys a component schema lists as properties.
fn schema_fields(doc: &serde_json::Value, name: &str) -> std::collections::BTreeSet<String> {
    doc["components"]["schemas"][name]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name} is in the published schemas"))
        .keys()
        .cloned()
        .collect()
}

fn sent_fields(body: &serde_json::Value) -> std::collections::BTreeSet<String> {
    body.as_object().unwrap().keys().cloned().collect()
}

async fn a_rule_and_a_booking_carry_exactly_the_fields_their_schemas_name(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let doc = app
        .send(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let mut rule = always_open(None, 30);
    rule["name"] = "Always".into();
    rule["slot_interval"] = 15.into();
    rule["max_booking_notice"] = 100_000.into();
    let rule = app
        .post("/api/calendar/availability-rules", &acme.token, &rule)
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    assert_eq!(sent_fields(&rule.body), schema_fields(&doc, "RuleView"));

    let start = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(72))
        .round(jiff::TimestampRound::new().smallest(jiff::Unit::Hour))
        .unwrap();
    let booking = app
        .post(
            "/api/calendar/booking",
            &acme.token,
            &serde_json::json!({"start_time": start.to_string(), "attendee": {"name": "Ada"}}),
        )
        .await;
    assert_eq!(booking.status, StatusCode::CREATED, "{:?}", booking.body);
    assert_eq!(
        sent_fields(&booking.body),
        schema_fields(&doc, "BookingView")
    );
    let listed = app.get("/api/calendar/bookings", &acme.token).await;
    assert_eq!(
        sent_fields(&listed.body["bookings"][0]),
        schema_fields(&doc, "BookingView")
    );
}

/// Every 2xx answer the API documents either has no body or names the schema of its JSON body,
/// so `/openapi.json` says what is sent rather than describing it in prose.
async fn every_successful_json_answer_names_its_schema(app: &TestApp) {
    let doc = app
        .send(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let mut unnamed = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                if !status.starts_with('2') || status == "204" {
                    continue;
                }
                let content = response["content"].as_object();
                let Some(content) = content else {
                    unnamed.push(format!("{method} {path} {status}: no body documented"));
                    continue;
                };
                for (media, body) in content {
                    if media == "application/json" && body.get("schema").is_none() {
                        unnamed.push(format!("{method} {path} {status}: JSON without a schema"));
                    }
                }
            }
        }
    }
    assert!(unnamed.is_empty(), "answers without a schema: {unnamed:#?}");
}

async fn every_response_carries_a_request_id_and_unknown_routes_are_json_404(app: &TestApp) {
    let reply = app.send(Method::GET, "/nowhere", None, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "not_found");
    let id = reply.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let echoed = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "caller-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "caller-chosen-id");
}
