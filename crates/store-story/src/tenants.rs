//! Tenants, users, API keys and agents: create, read, update, delete, and what another tenant
//! sees of them (nothing).

use pillow_store::*;

use crate::fixtures::*;

pub async fn a_new_tenant_is_found_by_name_and_by_id(store: &dyn Store) {
    store.ping().await.expect("ping");
    let (acme, globex) = two_tenants(store).await;
    assert_eq!(
        store
            .find_tenant_by_name("Acme")
            .await
            .unwrap()
            .map(|t| t.id),
        Some(acme.id)
    );
    assert_eq!(
        store.get_tenant(globex.id).await.unwrap().unwrap().name,
        "Globex"
    );
}

pub async fn a_new_user_is_listed_and_found_in_its_tenant(store: &dyn Store) {
    let (acme, _) = two_tenants(store).await;
    let ada = store
        .create_user(acme.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    assert_eq!(ada.tenant_id, acme.id);
    assert_eq!(store.list_users(acme.id).await.unwrap(), vec![ada.clone()]);
    assert_eq!(
        store.get_user(acme.id, ada.id).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(store.find_user(ada.id).await.unwrap(), Some(ada.clone()));
}

pub async fn the_same_email_twice_in_one_tenant_is_a_conflict(store: &dyn Store) {
    let (acme, _) = two_tenants(store).await;
    store
        .create_user(acme.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    let duplicate = store.create_user(acme.id, &new_user("ada@acme.test")).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "same e-mail twice in one tenant is a conflict: {duplicate:?}"
    );
}

/// Sign-in looks the address up before it knows the tenant, so it finds every tenant's.
pub async fn the_same_email_may_sign_in_to_two_tenants_whatever_its_case(store: &dyn Store) {
    let (acme, globex) = two_tenants(store).await;
    for tenant in [acme.id, globex.id] {
        store
            .create_user(tenant, &new_user("ada@acme.test"))
            .await
            .unwrap();
    }
    assert_eq!(store.find_logins("ada@acme.test").await.unwrap().len(), 2);
    assert_eq!(
        store.find_logins("ADA@acme.test").await.unwrap().len(),
        2,
        "e-mail comparison ignores case"
    );
}

pub async fn the_other_tenant_neither_sees_nor_changes_a_user(store: &dyn Store) {
    let (acme, globex) = two_tenants(store).await;
    let ada = store
        .create_user(acme.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    assert_eq!(
        store.get_user(globex.id, ada.id).await.unwrap(),
        None,
        "other tenant"
    );
    let patch = UserPatch {
        name: Some("Ada Lovelace".into()),
        role: Some(Role::Admin),
        ..UserPatch::default()
    };
    assert_eq!(
        store.update_user(globex.id, ada.id, &patch).await.unwrap(),
        None
    );
    assert!(
        !store.delete_user(globex.id, ada.id).await.unwrap(),
        "other tenant"
    );
    assert_eq!(store.get_user(acme.id, ada.id).await.unwrap(), Some(ada));
}

pub async fn a_user_patch_changes_what_it_names_and_keeps_the_email(store: &dyn Store) {
    let (acme, _) = two_tenants(store).await;
    let ada = store
        .create_user(acme.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    let patch = UserPatch {
        name: Some("Ada Lovelace".into()),
        role: Some(Role::Admin),
        ..UserPatch::default()
    };
    let renamed = store
        .update_user(acme.id, ada.id, &patch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "Ada Lovelace");
    assert_eq!(renamed.role, Role::Admin);
    assert_eq!(renamed.email, "ada@acme.test");
    assert!(renamed.updated_at >= ada.updated_at);
}

pub async fn deleting_a_user_removes_only_that_user(store: &dyn Store) {
    let (acme, globex) = two_tenants(store).await;
    let ada = store
        .create_user(acme.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    let ada_at_globex = store
        .create_user(globex.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    assert!(store.delete_user(acme.id, ada.id).await.unwrap());
    assert!(store.get_user(acme.id, ada.id).await.unwrap().is_none());
    assert!(
        store
            .get_user(globex.id, ada_at_globex.id)
            .await
            .unwrap()
            .is_some()
    );
}

/// A key arrives without its tenant, so its prefix alone must find it, and name the tenant.
pub async fn an_api_key_is_found_by_its_prefix_alone(store: &dyn Store) {
    let (acme, _) = two_tenants(store).await;
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
}

pub async fn a_new_agent_is_listed_and_found(store: &dyn Store) {
    let (acme, _) = two_tenants(store).await;
    let agent = store
        .create_agent(acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    assert_eq!(
        store.list_agents(acme.id).await.unwrap(),
        vec![agent.clone()]
    );
    assert_eq!(
        store.find_agent(agent.id).await.unwrap(),
        Some(agent.clone())
    );
}

/// The Cal.com fields a patch would set, to see that another tenant's patch sets none of them.
fn calcom_patch() -> AgentPatch {
    AgentPatch {
        backend: Some(AgentBackend::Calcom),
        cal_enabled: Some(true),
        cal_api_key_encrypted: Some(Some("v1:k:ciphertext".into())),
        cal_event_type_slug: Some(Some("intro".into())),
        ..AgentPatch::default()
    }
}

pub async fn the_other_tenant_neither_sees_nor_changes_an_agent(store: &dyn Store) {
    let (acme, globex) = two_tenants(store).await;
    let agent = store
        .create_agent(acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    assert!(store.list_agents(globex.id).await.unwrap().is_empty());
    assert_eq!(store.get_agent(globex.id, agent.id).await.unwrap(), None);
    assert_eq!(
        store
            .update_agent(globex.id, agent.id, &calcom_patch())
            .await
            .unwrap(),
        None
    );
    assert!(!store.delete_agent(globex.id, agent.id).await.unwrap());
    assert_eq!(store.find_agent(agent.id).await.unwrap(), Some(agent));
}

/// `Some(None)` clears a field; a field the patch leaves out keeps its value.
pub async fn an_agent_patch_sets_and_clears_the_calcom_fields(store: &dyn Store) {
    let (acme, _) = two_tenants(store).await;
    let agent = store
        .create_agent(acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    let updated = store
        .update_agent(acme.id, agent.id, &calcom_patch())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.backend, AgentBackend::Calcom);
    assert_eq!(
        updated.cal_api_key_encrypted.as_deref(),
        Some("v1:k:ciphertext")
    );
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
}

pub async fn a_deleted_agent_is_gone(store: &dyn Store) {
    let (acme, _) = two_tenants(store).await;
    let agent = store
        .create_agent(acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    assert!(store.delete_agent(acme.id, agent.id).await.unwrap());
    assert!(store.find_agent(agent.id).await.unwrap().is_none());
}
