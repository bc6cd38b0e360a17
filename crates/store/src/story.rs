//! One story, every backend: scenarios that drive the [`Store`] trait end to end.
//!
//! Each backend crate runs these from its own tests, so SQLite and PostgreSQL are held to the
//! same behaviour. They panic with a message on the first broken expectation, like any test.

use crate::*;

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_string(),
        name: format!("User {email}"),
        role: Role::Member,
        time_zone: "Europe/London".into(),
        password_hash: Some("$argon2id$stand-in".into()),
    }
}

fn new_agent(name: &str) -> NewAgent {
    NewAgent {
        name: name.into(),
        time_zone: "America/New_York".into(),
        backend: AgentBackend::Native,
        cal_enabled: false,
        cal_api_key_encrypted: None,
        cal_event_type_slug: None,
        cal_timezone: None,
    }
}

/// Users, API keys and agents: create, read, update, delete, and what a second tenant sees.
pub async fn tenants_users_keys_and_agents(store: &dyn Store) {
    store.ping().await.expect("ping");
    let acme = store.create_tenant("Acme").await.expect("tenant");
    let globex = store.create_tenant("Globex").await.expect("tenant");
    assert_eq!(
        store.find_tenant_by_name("Acme").await.unwrap().map(|t| t.id),
        Some(acme.id)
    );
    assert_eq!(store.get_tenant(globex.id).await.unwrap().unwrap().name, "Globex");

    // users
    let ada = store.create_user(acme.id, &new_user("ada@acme.test")).await.unwrap();
    assert_eq!(ada.tenant_id, acme.id);
    let duplicate = store.create_user(acme.id, &new_user("ada@acme.test")).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { .. })),
        "same e-mail twice in one tenant is a conflict: {duplicate:?}"
    );
    // The same address may exist in another tenant.
    let ada_at_globex = store.create_user(globex.id, &new_user("ada@acme.test")).await.unwrap();
    assert_eq!(store.find_logins("ada@acme.test").await.unwrap().len(), 2);
    assert_eq!(
        store.find_logins("ADA@acme.test").await.unwrap().len(),
        2,
        "e-mail comparison ignores case"
    );

    assert_eq!(store.list_users(acme.id).await.unwrap(), vec![ada.clone()]);
    assert_eq!(store.get_user(acme.id, ada.id).await.unwrap(), Some(ada.clone()));
    assert_eq!(store.get_user(globex.id, ada.id).await.unwrap(), None, "other tenant");
    assert_eq!(store.find_user(ada.id).await.unwrap(), Some(ada.clone()));

    let patch = UserPatch {
        name: Some("Ada Lovelace".into()),
        role: Some(Role::Admin),
        ..UserPatch::default()
    };
    assert_eq!(store.update_user(globex.id, ada.id, &patch).await.unwrap(), None);
    let renamed = store.update_user(acme.id, ada.id, &patch).await.unwrap().unwrap();
    assert_eq!(renamed.name, "Ada Lovelace");
    assert_eq!(renamed.role, Role::Admin);
    assert_eq!(renamed.email, "ada@acme.test");
    assert!(renamed.updated_at >= ada.updated_at);

    assert!(!store.delete_user(globex.id, ada.id).await.unwrap(), "other tenant");
    assert!(store.get_user(acme.id, ada.id).await.unwrap().is_some());

    // API keys
    let key = store
        .create_api_key(
            acme.id,
            &NewApiKey {
                name: "ci".into(),
                prefix: "pk_story1".into(),
                secret_hash: "hash".into(),
            },
        )
        .await
        .unwrap();
    let found = store.find_api_key("pk_story1").await.unwrap().unwrap();
    assert_eq!(found.id, key.id);
    assert_eq!(found.tenant_id, acme.id);
    assert_eq!(found.secret_hash, "hash");
    assert!(store.find_api_key("pk_nothing").await.unwrap().is_none());

    // agents
    let agent = store.create_agent(acme.id, &new_agent("Front desk")).await.unwrap();
    assert_eq!(store.list_agents(acme.id).await.unwrap(), vec![agent.clone()]);
    assert!(store.list_agents(globex.id).await.unwrap().is_empty());
    assert_eq!(store.find_agent(agent.id).await.unwrap(), Some(agent.clone()));
    assert_eq!(store.get_agent(globex.id, agent.id).await.unwrap(), None);
    let patch = AgentPatch {
        backend: Some(AgentBackend::Calcom),
        cal_enabled: Some(true),
        cal_api_key_encrypted: Some(Some("v1:k:ciphertext".into())),
        cal_event_type_slug: Some(Some("intro".into())),
        ..AgentPatch::default()
    };
    assert_eq!(store.update_agent(globex.id, agent.id, &patch).await.unwrap(), None);
    let updated = store.update_agent(acme.id, agent.id, &patch).await.unwrap().unwrap();
    assert_eq!(updated.backend, AgentBackend::Calcom);
    assert_eq!(updated.cal_api_key_encrypted.as_deref(), Some("v1:k:ciphertext"));
    let cleared = store
        .update_agent(
            acme.id,
            agent.id,
            &AgentPatch {
                cal_api_key_encrypted: Some(None),
                ..AgentPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.cal_api_key_encrypted, None);
    assert_eq!(cleared.cal_event_type_slug.as_deref(), Some("intro"));
    assert!(!store.delete_agent(globex.id, agent.id).await.unwrap());
    assert!(store.delete_agent(acme.id, agent.id).await.unwrap());
    assert!(store.find_agent(agent.id).await.unwrap().is_none());

    // deleting a user removes only that user
    assert!(store.delete_user(acme.id, ada.id).await.unwrap());
    assert!(store.get_user(acme.id, ada.id).await.unwrap().is_none());
    assert!(store.get_user(globex.id, ada_at_globex.id).await.unwrap().is_some());
}
