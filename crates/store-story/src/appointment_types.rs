//! Appointment types: one JSON document per type under a slug unique per agent; per tenant,
//! gone with the agent.

use pillow_store::*;
use uuid::Uuid;

use crate::fixtures::*;

/// A type's document with a bit of everything JSON has.
fn document(name: &str, duration: i64) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "duration": duration,
        "description": "Réglages — all of them",
        "buffer_after": 10,
        "hosts": ["a", "b"],
        "nothing": null
    })
}

fn new_type(agent: &Agent, slug: &str, duration: i64) -> NewAppointmentType {
    NewAppointmentType {
        agent_id: agent.id,
        slug: slug.into(),
        document: document(slug, duration),
    }
}

async fn with_agent(store: &dyn Store) -> (World, Agent) {
    let world = world(store).await;
    let agent = store
        .create_agent(world.acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    (world, agent)
}

async fn create(store: &dyn Store, tenant: TenantId, new: &NewAppointmentType) -> AppointmentType {
    store
        .create_appointment_type(tenant, Uuid::now_v7(), new)
        .await
        .unwrap()
}

pub async fn an_appointment_type_reads_back_whole_and_types_list_in_creation_order(
    store: &dyn Store,
) {
    let (w, agent) = with_agent(store).await;
    let check_up = create(store, w.acme.id, &new_type(&agent, "check-up", 30)).await;
    assert_eq!(check_up.slug, "check-up");
    assert_eq!(check_up.document, document("check-up", 30));
    assert_eq!(
        (check_up.tenant_id, check_up.agent_id),
        (w.acme.id, agent.id)
    );
    let cleaning = create(store, w.acme.id, &new_type(&agent, "cleaning", 60)).await;
    let listed = store
        .list_appointment_types(w.acme.id, agent.id)
        .await
        .unwrap();
    assert_eq!(listed, [check_up.clone(), cleaning]);
    assert_eq!(
        store
            .get_appointment_type(w.acme.id, agent.id, check_up.id)
            .await
            .unwrap(),
        Some(check_up)
    );
}

pub async fn a_slug_used_by_another_type_of_the_agent_is_a_conflict(store: &dyn Store) {
    let (w, agent) = with_agent(store).await;
    let other_agent = store
        .create_agent(w.acme.id, &new_agent("Back office"))
        .await
        .unwrap();
    let first = create(store, w.acme.id, &new_type(&agent, "check-up", 30)).await;
    let again = store
        .create_appointment_type(w.acme.id, Uuid::now_v7(), &new_type(&agent, "check-up", 45))
        .await;
    assert!(
        is_conflict(&again, Constraint::AppointmentTypeSlug),
        "{again:?}"
    );
    // Another agent may use the slug.
    create(store, w.acme.id, &new_type(&other_agent, "check-up", 45)).await;
    // Renaming another type onto a taken slug is refused too.
    let second = create(store, w.acme.id, &new_type(&agent, "cleaning", 60)).await;
    let renamed = store
        .replace_appointment_type(w.acme.id, second.id, &new_type(&agent, "check-up", 60))
        .await;
    assert!(
        is_conflict(&renamed, Constraint::AppointmentTypeSlug),
        "{renamed:?}"
    );
    assert_eq!(
        store
            .list_appointment_types(w.acme.id, agent.id)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(first.slug, "check-up");
}

pub async fn replacing_and_deleting_an_appointment_type_touch_only_that_type(store: &dyn Store) {
    let (w, agent) = with_agent(store).await;
    let kept = create(store, w.acme.id, &new_type(&agent, "check-up", 30)).await;
    let changed = create(store, w.acme.id, &new_type(&agent, "cleaning", 60)).await;
    let replaced = store
        .replace_appointment_type(
            w.acme.id,
            changed.id,
            &NewAppointmentType {
                agent_id: agent.id,
                slug: "deep-clean".into(),
                document: document("Deep clean", 90),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.slug, "deep-clean");
    assert_eq!(replaced.document, document("Deep clean", 90));
    assert_eq!(
        (replaced.id, replaced.created_at),
        (changed.id, changed.created_at)
    );
    assert!(
        store
            .delete_appointment_type(w.acme.id, agent.id, changed.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_appointment_type(w.acme.id, agent.id, changed.id)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .list_appointment_types(w.acme.id, agent.id)
            .await
            .unwrap(),
        [kept]
    );
}

pub async fn the_other_tenant_neither_sees_nor_changes_an_appointment_type(store: &dyn Store) {
    let (w, agent) = with_agent(store).await;
    let check_up = create(store, w.acme.id, &new_type(&agent, "check-up", 30)).await;
    let globex = w.globex.id;
    assert!(
        store
            .list_appointment_types(globex, agent.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .get_appointment_type(globex, agent.id, check_up.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .replace_appointment_type(globex, check_up.id, &new_type(&agent, "x", 5))
            .await
            .unwrap(),
        None
    );
    assert!(
        !store
            .delete_appointment_type(globex, agent.id, check_up.id)
            .await
            .unwrap()
    );
    // A type for another tenant's agent is refused as a missing agent.
    let foreign = store
        .create_appointment_type(globex, Uuid::now_v7(), &new_type(&agent, "sneaky", 30))
        .await;
    assert!(
        matches!(foreign, Err(StoreError::MissingReference(Entity::Agent))),
        "{foreign:?}"
    );
    assert_eq!(
        store
            .get_appointment_type(w.acme.id, agent.id, check_up.id)
            .await
            .unwrap(),
        Some(check_up)
    );
}

pub async fn deleting_an_agent_deletes_its_appointment_types(store: &dyn Store) {
    let (w, agent) = with_agent(store).await;
    let check_up = create(store, w.acme.id, &new_type(&agent, "check-up", 30)).await;
    assert!(store.delete_agent(w.acme.id, agent.id).await.unwrap());
    assert_eq!(
        store
            .get_appointment_type(w.acme.id, agent.id, check_up.id)
            .await
            .unwrap(),
        None
    );
}
