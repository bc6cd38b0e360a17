//! Notification templates: a tenant words its own messages, previews them, and a template that
//! does not render is refused when saved.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::email::{book, desk, drain, slot};
use super::sink::SmtpSink;
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    a_tenants_own_wording_is_saved_previewed_and_mailed,
    a_template_that_does_not_render_is_refused_at_save_time_and_nothing_changes,
);

const PATH: &str = "/api/notification-templates/booking_created";

async fn a_tenants_own_wording_is_saved_previewed_and_mailed(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let built_in = app.get(PATH, &acme.key).await;
    assert_eq!(built_in.status, StatusCode::OK, "{:?}", built_in.body);
    assert_eq!(built_in.body["custom"], false);
    assert!(
        built_in.body["subject"]
            .as_str()
            .unwrap()
            .contains("{{ title }}")
    );

    // The built-in wording previews with sample facts.
    let preview = app
        .post(&format!("{PATH}/preview"), &acme.key, &json!({}))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{:?}", preview.body);
    assert!(preview.body["text"].as_str().unwrap().contains("K7M4PQ2XR"));
    assert!(
        preview.body["html"]
            .as_str()
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );

    let wording = json!({
        "subject": "{{ customer_name }}, see you {{ date }}",
        "body": "{% if recipient == 'member' %}New booking.{% else %}Thanks for booking with Acme.{% endif %}\nCode: {{ confirmation_code }}"
    });
    let saved = app
        .send(Method::PUT, PATH, Some(&acme.key), Some(&wording))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    assert_eq!(app.get(PATH, &acme.key).await.body["custom"], true);
    let member_preview = app
        .post(
            &format!("{PATH}/preview"),
            &acme.key,
            &json!({"recipient": "member"}),
        )
        .await;
    assert_eq!(
        member_preview.body["subject"],
        "Jane Doe, see you Tuesday, March 10, 2026"
    );
    assert!(
        member_preview.body["text"]
            .as_str()
            .unwrap()
            .starts_with("New booking.")
    );

    // Another tenant still has the built-in wording.
    let globex = app.tenant("Globex").await;
    assert_eq!(app.get(PATH, &globex.key).await.body["custom"], false);

    // And the caller's mail says what the tenant wrote.
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let agent = desk(app, &acme, true).await;
    let booked = book(app, &acme, &agent, slot(2, 30)).await;
    drain(app, &sink, jiff::SignedDuration::ZERO).await;
    let messages = sink.messages();
    let to_caller = messages
        .iter()
        .find(|m| m.to() == "john@example.com")
        .expect("the caller was mailed");
    assert!(
        to_caller.subject().starts_with("John Doe, see you "),
        "{}",
        to_caller.subject()
    );
    let text = to_caller.text();
    assert!(text.starts_with("Thanks for booking with Acme."), "{text}");
    assert!(
        text.contains(booked["confirmation_code"].as_str().unwrap()),
        "{text}"
    );

    // Reset: the built-in wording again.
    let reset = app.send(Method::DELETE, PATH, Some(&acme.key), None).await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(PATH, &acme.key).await.body["custom"], false);
}

async fn a_template_that_does_not_render_is_refused_at_save_time_and_nothing_changes(
    app: &TestApp,
) {
    let acme = app.tenant("Acme").await;
    let put = async |body: serde_json::Value| {
        app.send(Method::PUT, PATH, Some(&acme.key), Some(&body))
            .await
    };
    let cases = [
        (
            json!({"subject": "Hi {{ custmer_name }}", "body": "ok"}),
            "subject",
        ),
        (json!({"subject": "Hi", "body": "{% if %}"}), "body"),
        (
            json!({"subject": "Hi", "body": "{{ notes | no_such_filter }}"}),
            "body",
        ),
        (json!({"subject": "", "body": "ok"}), "subject"),
    ];
    for (body, field) in cases {
        let reply = put(body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            reply.body
        );
        assert_eq!(reply.code(), "invalid_template", "{body}");
        assert_eq!(reply.body["error"]["field"], field, "{body}");
    }
    let unchanged = app.get(PATH, &acme.key).await;
    assert_eq!(unchanged.body["custom"], false);

    // A preview of a bad wording is refused the same way.
    let preview = app
        .post(
            &format!("{PATH}/preview"),
            &acme.key,
            &json!({"subject": "{{ nope }}", "body": "ok"}),
        )
        .await;
    assert_eq!(preview.status, StatusCode::UNPROCESSABLE_ENTITY);

    // No such kind, and a member who is not an admin.
    let unknown = app
        .send(
            Method::PUT,
            "/api/notification-templates/booking_exploded",
            Some(&acme.key),
            Some(&json!({"subject": "x", "body": "y"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let (_, token) = app.member(&acme, "member@acme.test").await;
    let forbidden = app
        .send(
            Method::PUT,
            PATH,
            Some(&token),
            Some(&json!({"subject": "x", "body": "y"})),
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
}
