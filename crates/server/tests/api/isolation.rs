//! Every endpoint, called with another tenant's ids, is 404 and changes nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(another_tenants_users_and_agents_are_invisible_and_untouchable);

async fn another_tenants_users_and_agents_are_invisible_and_untouchable(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let globex = app.tenant("Globex").await;
    let (acme_member, _) = app.member(&acme, "member@acme.test").await;
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Acme desk", "time_zone": "UTC"}),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED);
    let agent_id = agent.body["id"].as_str().unwrap().to_string();
    let users_before = app.store().list_users(acme.id).await.unwrap();
    let agents_before = app.store().list_agents(acme.id).await.unwrap();

    for credential in [&globex.key, &globex.token] {
        let listed = app.get("/api/users", credential).await;
        assert_eq!(
            listed.body["users"].as_array().unwrap().len(),
            1,
            "only Globex's owner"
        );
        assert!(
            app.get("/api/agents", credential).await.body["agents"]
                .as_array()
                .unwrap()
                .is_empty()
        );

        for path in [
            format!("/api/users/{}", acme_member.id),
            format!("/api/users/{}", acme.owner.id),
        ] {
            let got = app.get(&path, credential).await;
            assert_eq!(got.status, StatusCode::NOT_FOUND, "GET {path}");
            assert_eq!(got.code(), "not_found");
            let patched = app
                .patch(&path, credential, &json!({"name": "Hijacked"}))
                .await;
            assert_eq!(patched.status, StatusCode::NOT_FOUND, "PATCH {path}");
            assert_eq!(
                app.delete(&path, credential).await.status,
                StatusCode::NOT_FOUND
            );
        }
        let path = format!("/api/agents/{agent_id}");
        assert_eq!(
            app.get(&path, credential).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.patch(&path, credential, &json!({"name": "Hijacked"}))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.delete(&path, credential).await.status,
            StatusCode::NOT_FOUND
        );
    }

    assert_eq!(app.store().list_users(acme.id).await.unwrap(), users_before);
    assert_eq!(
        app.store().list_agents(acme.id).await.unwrap(),
        agents_before
    );
}
