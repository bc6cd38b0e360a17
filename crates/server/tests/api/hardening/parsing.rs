//! Strict parsing where the API promises a format: IANA zones only, RFC 3339 as written,
//! JSON bodies sent as JSON, and an Origin that is not text refused rather than unchecked.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    zones_that_are_not_places_are_refused,
    instants_that_are_not_rfc_3339_are_refused,
    a_json_body_sent_as_another_media_type_is_a_415,
    an_origin_that_is_not_text_does_not_skip_the_widget_keys_origin_check,
    a_bookings_limit_is_read_as_far_as_the_document_says_and_refused_past_it
);

/// The document declares `limit` an integer from 0 to 4,294,967,295 (not an int32): any of
/// those lists (above 5,000 reads as 5,000), one past it is a 400 in the error shape.
async fn a_bookings_limit_is_read_as_far_as_the_document_says_and_refused_past_it(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    for limit in ["0", "3000000000", "4294967295"] {
        let listed = app
            .get(&format!("/api/calendar/bookings?limit={limit}"), &acme.key)
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{limit}");
    }
    for limit in ["4294967296", "-1", "1.5"] {
        let refused = app
            .get(&format!("/api/calendar/bookings?limit={limit}"), &acme.key)
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{limit}");
        assert!(!refused.code().is_empty(), "{limit}");
    }
    let document = app.get("/openapi.json", "").await.body;
    let limit = document["paths"]["/api/calendar/bookings"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()
        .clone();
    assert_eq!(limit["schema"]["maximum"], 4_294_967_295_u64, "{limit}");
    assert_ne!(limit["schema"]["format"], "int32", "{limit}");
}

async fn zones_that_are_not_places_are_refused(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    for zone in ["localtime", "Factory"] {
        let reply = app
            .post(
                "/api/users",
                &acme.key,
                &json!({"email": "sam@acme.test", "name": "Sam", "time_zone": zone}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{zone}");
        assert_eq!(reply.code(), "invalid_timezone", "{zone}");
    }
    assert_eq!(app.store().list_users(acme.id).await.unwrap().len(), 1);
}

async fn instants_that_are_not_rfc_3339_are_refused(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    for start in [
        "2030-01-07T10:00:00+24:00",
        "2030-01-07T10:00:00+05:30:15",
        "2030-01-07 10:00:00Z",
        "2030-01-07T10:00Z",
    ] {
        let reply = app
            .post(
                &format!("/api/calendar/bookings/{}/reschedule", uuid::Uuid::new_v4()),
                &acme.key,
                &json!({"start_time": start}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{start}");
        assert_eq!(reply.code(), "invalid_time", "{start}");
        let window = app
            .get(
                &format!(
                    "/api/calendar/availability?start={}&end=2030-01-08&user_id={}",
                    start.replace('+', "%2B").replace(' ', "%20"),
                    acme.owner.id
                ),
                &acme.key,
            )
            .await;
        assert_eq!(window.status, StatusCode::UNPROCESSABLE_ENTITY, "{start}");
    }
    // Well-formed RFC 3339 still reads (the booking simply does not exist).
    let fine = app
        .post(
            &format!("/api/calendar/bookings/{}/reschedule", uuid::Uuid::new_v4()),
            &acme.key,
            &json!({"start_time": "2030-01-07T10:00:00.250-05:00"}),
        )
        .await;
    assert_eq!(fine.status, StatusCode::NOT_FOUND, "{}", fine.body);
}

async fn a_json_body_sent_as_another_media_type_is_a_415(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app
            .client
            .post(format!("{}/api/users", app.base))
            .bearer_auth(&acme.key)
            .body(r#"{"email":"sam@acme.test","name":"Sam"}"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
    let charset = app
        .client
        .post(format!("{}/api/users", app.base))
        .bearer_auth(&acme.key)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"email":"sam@acme.test","name":"Sam"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(charset.status(), StatusCode::CREATED);
}

async fn an_origin_that_is_not_text_does_not_skip_the_widget_keys_origin_check(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Desk", "time_zone": "UTC"}),
        )
        .await;
    let agent = agent.body["id"].as_str().unwrap().to_string();
    let key = app
        .post(
            &format!("/api/agents/{agent}/widget-keys"),
            &acme.token,
            &json!({"name": "site", "allowed_origins": ["https://shop.example"]}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let key = key.body["key"].as_str().unwrap().to_string();
    let origin = reqwest::header::HeaderValue::from_bytes(b"https://shop.example\xff").unwrap();
    let reply = app
        .client
        .get(format!(
            "{}/api/v1/agents/{agent}/calendar/slots?startDate=2030-01-07",
            app.base
        ))
        .header("x-pillow-key", &key)
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);
}
