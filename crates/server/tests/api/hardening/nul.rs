//! A NUL character (`\u0000`) in any string is a 400 at the edge on both stores (PostgreSQL
//! cannot store one, and answered 500), including the unauthenticated login and public cancel.

use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    a_nul_character_in_a_body_is_a_400_and_writes_nothing,
    a_nul_character_in_a_query_is_a_400
);

async fn a_nul_character_in_a_body_is_a_400_and_writes_nothing(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = uuid::Uuid::new_v4();
    let cases = [
        (
            "/api/auth/login",
            r#"{"email":"a\u0000@b.c","password":"x"}"#.to_string(),
            "email",
        ),
        (
            "/api/users",
            r#"{"email":"sam@acme.test","name":"Sa\u0000m"}"#.to_string(),
            "name",
        ),
        (
            "/api/public/bookings/cancel",
            format!(r#"{{"agent_id":"{agent}","confirmation_code":"AB\u0000CD","email":"x@y.z"}}"#),
            "confirmation_code",
        ),
    ];
    for (path, body, field) in cases {
        let reply = app.post_raw(path, &acme.key, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.body
        );
        assert_eq!(reply.code(), "invalid_body", "{path}");
        assert_eq!(reply.body["error"]["field"], field, "{path}");
    }
    assert_eq!(app.store().list_users(acme.id).await.unwrap().len(), 1);
}

async fn a_nul_character_in_a_query_is_a_400(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let reply = app
        .get(
            "/api/calendar/availability?date=2030-01-01&timezone=Europe/Paris%00",
            &acme.key,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(reply.code(), "invalid_query");
}
