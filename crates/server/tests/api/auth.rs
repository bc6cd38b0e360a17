use jsonwebtoken::{EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{INTERNAL_KEY, JWT_SECRET, TestApp};
use crate::on_both_backends;

on_both_backends!(
    requests_without_credentials_are_401,
    an_api_key_opens_its_tenant_and_a_wrong_secret_does_not,
    login_returns_a_token_that_identifies_the_user,
    wrong_passwords_and_unknown_addresses_are_both_401,
    expired_forged_and_orphaned_tokens_are_401,
    the_internal_key_with_an_agent_id_opens_voice_endpoints_only,
);

async fn requests_without_credentials_are_401(app: &TestApp) {
    let reply = app.send(Method::GET, "/api/users", None, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "unauthorized");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );

    let basic = app
        .client
        .get(format!("{}/api/users", app.base))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/users", "garbage").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn an_api_key_opens_its_tenant_and_a_wrong_secret_does_not(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let reply = app.get("/api/users", &acme.key).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["users"][0]["email"], acme.owner.email);
    assert!(reply.body["users"][0].get("password_hash").is_none());

    // Same public prefix, different secret.
    let mut forged = acme.key.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'a' { 'b' } else { 'a' });
    let reply = app.get("/api/users", &forged).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get(
            "/api/users",
            "pcal_0000000000_00000000000000000000000000000000"
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
}

async fn login_returns_a_token_that_identifies_the_user(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let reply = app
        .send(
            Method::POST,
            "/api/auth/login",
            None,
            Some(&json!({"email": acme.owner.email.to_uppercase(), "password": "owner-password"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["user"]["id"], acme.owner.id.to_string());
    let expires_at: jiff::Timestamp = reply.body["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires_at > jiff::Timestamp::now());
    let token = reply.body["token"].as_str().unwrap();
    let me = app.get("/api/users/me", token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], acme.owner.email);
    assert_eq!(me.body["role"], "owner");
}

async fn wrong_passwords_and_unknown_addresses_are_both_401(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    for body in [
        json!({"email": acme.owner.email, "password": "not-the-password"}),
        json!({"email": "nobody@nowhere.test", "password": "owner-password"}),
    ] {
        let reply = app
            .send(Method::POST, "/api/auth/login", None, Some(&body))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.code(), "unauthorized");
    }
}

#[derive(serde::Serialize)]
struct Claims {
    sub: String,
    exp: i64,
}

fn sign(secret: &str, sub: &str, exp: i64) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &Claims {
            sub: sub.into(),
            exp,
        },
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn expired_forged_and_orphaned_tokens_are_401(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let now = jiff::Timestamp::now().as_second();
    let sub = acme.owner.id.to_string();

    // A token shaped exactly like Supabase's (HS256, sub = user id) works...
    let good = sign(JWT_SECRET, &sub, now + 600);
    assert_eq!(app.get("/api/users", &good).await.status, StatusCode::OK);

    let expired = app
        .get("/api/users", &sign(JWT_SECRET, &sub, now - 5))
        .await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(
        expired.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let forged = sign("another-secret-another-secret-another", &sub, now + 600);
    assert_eq!(
        app.get("/api/users", &forged).await.status,
        StatusCode::UNAUTHORIZED
    );

    let (member, member_token) = app.member(&acme, "gone@acme.test").await;
    app.store().delete_user(acme.id, member.id).await.unwrap();
    assert_eq!(
        app.get("/api/users", &member_token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn the_internal_key_with_an_agent_id_opens_voice_endpoints_only(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Desk", "time_zone": "America/New_York"}),
        )
        .await;
    let agent_id = agent.body["id"].as_str().unwrap().to_string();

    let call = |key: &str, agent: Option<&str>| {
        let mut request = app
            .client
            .get(format!("{}/api/voice/agent", app.base))
            .bearer_auth(key);
        if let Some(agent) = agent {
            request = request.header("x-agent-id", agent);
        }
        request.send()
    };
    let ok = call(INTERNAL_KEY, Some(&agent_id)).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let body: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(body["id"], agent_id);

    assert_eq!(
        call("wrong-internal-key-0123456789abcdef0123", Some(&agent_id))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(INTERNAL_KEY, None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(INTERNAL_KEY, Some(&uuid::Uuid::now_v7().to_string()))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    // The tenant's own API key opens its own agents too (see the voice tests for the rest).
    assert_eq!(
        call(&acme.key, Some(&agent_id)).await.unwrap().status(),
        StatusCode::OK
    );
    // A user's token does not.
    assert_eq!(
        call(&acme.token, Some(&agent_id)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // The internal key does not open the people API.
    let reply = app.get("/api/users", INTERNAL_KEY).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}
