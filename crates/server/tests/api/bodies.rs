//! Malformed JSON, wrong types and unknown fields: 400 naming the field, nothing written.

use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(bad_bodies_are_400_with_the_field_and_write_nothing);

async fn bad_bodies_are_400_with_the_field_and_write_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let cases = [
        (r#"{"email": "a@b.test", "name": "#, None),
        ("", None),
        (r#"["a list"]"#, None),
        (r#"{"email": 42, "name": "X"}"#, Some("email")),
        (
            r#"{"email": "a@b.test", "name": "X", "nickname": "x"}"#,
            Some("nickname"),
        ),
        (r#"{"name": "X"}"#, None),
    ];
    for (body, field) in cases {
        let reply = app.post_raw("/api/users", &acme.key, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.code(), "invalid_body", "{body}");
        let message = reply.body["error"]["message"].as_str().unwrap();
        if let Some(field) = field {
            assert_eq!(reply.body["error"]["field"], field, "{body}");
            assert!(message.contains(field), "{message}");
        }
    }
    // A missing field is named in the message.
    let missing = app
        .post_raw("/api/users", &acme.key, r#"{"name": "X"}"#)
        .await;
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("email")
    );

    let agent = app
        .post_raw(
            "/api/agents",
            &acme.key,
            r#"{"name": "Desk", "time_zone": "UTC", "cal_enabled": "yes"}"#,
        )
        .await;
    assert_eq!(agent.status, StatusCode::BAD_REQUEST);
    assert_eq!(agent.body["error"]["field"], "cal_enabled");

    assert_eq!(app.store().list_users(acme.id).await.unwrap().len(), 1);
    assert!(app.store().list_agents(acme.id).await.unwrap().is_empty());
}
