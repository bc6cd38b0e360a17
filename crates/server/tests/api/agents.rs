use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    agents_are_created_updated_and_deleted_with_the_calcom_key_sealed,
    a_calcom_agent_needs_a_key_and_an_event_type,
);

async fn agents_are_created_updated_and_deleted_with_the_calcom_key_sealed(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let created = app
        .post(
            "/api/agents",
            &acme.token,
            &json!({
                "name": "Appointment Scheduler", "time_zone": "America/New_York",
                "backend": "calcom", "cal_enabled": true, "cal_api_key": "cal_live_supersecret",
                "cal_event_type_slug": "voice-agent-appointment", "cal_timezone": "America/New_York"
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["backend"], "calcom");
    assert_eq!(created.body["cal_api_key_set"], true);
    assert!(!created.body.to_string().contains("supersecret"));
    let id: pillow_store::AgentId = created.body["id"].as_str().unwrap().parse().unwrap();

    // At rest the key is ciphertext that opens to the original.
    let stored = app.store().get_agent(acme.id, id).await.unwrap().unwrap();
    let sealed = stored.cal_api_key_encrypted.unwrap();
    assert!(!sealed.contains("supersecret"));
    assert_eq!(
        app.state.config.secrets.open(&sealed).unwrap(),
        "cal_live_supersecret"
    );

    // The gradual migration off Cal.com: one update moves the agent to the native calendar.
    let migrated = app
        .patch(
            &format!("/api/agents/{id}"),
            &acme.key,
            &json!({"backend": "native", "cal_api_key": null}),
        )
        .await;
    assert_eq!(migrated.status, StatusCode::OK);
    assert_eq!(migrated.body["backend"], "native");
    assert_eq!(migrated.body["cal_api_key_set"], false);
    assert_eq!(
        migrated.body["cal_event_type_slug"],
        "voice-agent-appointment"
    );

    let listed = app.get("/api/agents", &acme.key).await;
    assert_eq!(listed.body["agents"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.delete(&format!("/api/agents/{id}"), &acme.key)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/agents/{id}"), &acme.key)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn a_calcom_agent_needs_a_key_and_an_event_type(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let reply = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Desk", "time_zone": "UTC", "backend": "calcom"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["error"]["field"], "cal_api_key");
    for (body, field) in [
        (
            json!({"name": "Desk", "time_zone": "Nowhere/Else"}),
            "time_zone",
        ),
        (
            json!({"name": "Desk", "time_zone": "UTC", "backend": "outlook"}),
            "backend",
        ),
        (json!({"name": "", "time_zone": "UTC"}), "name"),
        (
            json!({"name": "Desk", "time_zone": "UTC", "cal_event_type_slug": "has spaces"}),
            "cal_event_type_slug",
        ),
    ] {
        let reply = app.post("/api/agents", &acme.key, &body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.body["error"]["field"], field);
    }
    let (_, member_token) = app.member(&acme, "m@acme.test").await;
    let reply = app
        .post(
            "/api/agents",
            &member_token,
            &json!({"name": "Desk", "time_zone": "UTC"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(app.store().list_agents(acme.id).await.unwrap().is_empty());
}
