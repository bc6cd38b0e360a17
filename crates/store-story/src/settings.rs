//! Booking settings, one JSON document per agent: kept whole, replaced, per tenant, gone with
//! the agent.

use pillow_store::*;

use crate::fixtures::*;

/// A document with a bit of everything JSON has, so a backend that mangles any is caught.
fn settings() -> serde_json::Value {
    serde_json::json!({
        "duration": 30,
        "buffer_before": 5,
        "distribution": "round_robin",
        "members": ["a", "b"],
        "questions": [{"label": "Reason — why?", "required": true}],
        "nothing": null
    })
}

/// Acme's agent, with no settings yet.
async fn with_agent(store: &dyn Store) -> (World, Agent) {
    let world = world(store).await;
    let agent = store
        .create_agent(world.acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    (world, agent)
}

pub async fn an_agent_starts_without_booking_settings(store: &dyn Store) {
    let (world, agent) = with_agent(store).await;
    assert_eq!(
        store
            .get_booking_settings(world.acme.id, agent.id)
            .await
            .unwrap(),
        None
    );
}

pub async fn booking_settings_read_back_whole(store: &dyn Store) {
    let (world, agent) = with_agent(store).await;
    let acme = world.acme.id;
    store
        .put_booking_settings(acme, agent.id, &settings())
        .await
        .unwrap();
    assert_eq!(
        store.get_booking_settings(acme, agent.id).await.unwrap(),
        Some(settings())
    );
}

/// Whole, not merged: a key left out of the new document is gone.
pub async fn putting_booking_settings_again_replaces_them(store: &dyn Store) {
    let (world, agent) = with_agent(store).await;
    let acme = world.acme.id;
    store
        .put_booking_settings(acme, agent.id, &settings())
        .await
        .unwrap();
    let replaced = serde_json::json!({"duration": 45});
    store
        .put_booking_settings(acme, agent.id, &replaced)
        .await
        .unwrap();
    assert_eq!(
        store.get_booking_settings(acme, agent.id).await.unwrap(),
        Some(replaced.clone())
    );
}

pub async fn the_other_tenant_neither_sees_nor_writes_an_agents_settings(store: &dyn Store) {
    let (world, agent) = with_agent(store).await;
    let (acme, globex) = (world.acme.id, world.globex.id);
    let replaced = serde_json::json!({"duration": 45});
    store
        .put_booking_settings(acme, agent.id, &replaced)
        .await
        .unwrap();
    assert_eq!(
        store.get_booking_settings(globex, agent.id).await.unwrap(),
        None
    );
    let foreign = store
        .put_booking_settings(globex, agent.id, &settings())
        .await;
    assert!(
        matches!(&foreign, Err(StoreError::MissingReference(Entity::Agent))),
        "{foreign:?}"
    );
    assert_eq!(
        store.get_booking_settings(acme, agent.id).await.unwrap(),
        Some(replaced)
    );
}

pub async fn settings_for_no_agent_are_refused(store: &dyn Store) {
    let (world, _) = with_agent(store).await;
    let nobody = store
        .put_booking_settings(world.acme.id, AgentId::new(), &settings())
        .await;
    assert!(
        matches!(&nobody, Err(StoreError::MissingReference(Entity::Agent))),
        "{nobody:?}"
    );
}

pub async fn deleting_an_agent_deletes_its_settings(store: &dyn Store) {
    let (world, agent) = with_agent(store).await;
    let acme = world.acme.id;
    store
        .put_booking_settings(acme, agent.id, &settings())
        .await
        .unwrap();
    assert!(store.delete_agent(acme, agent.id).await.unwrap());
    assert_eq!(
        store.get_booking_settings(acme, agent.id).await.unwrap(),
        None
    );
}
