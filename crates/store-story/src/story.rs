//! One story, every backend: scenarios that drive the [`Store`] trait end to end.
//!
//! Each backend crate runs these from its own tests, so SQLite and PostgreSQL are held to the
//! same behaviour. They panic with a message on the first broken expectation, like any test.

use pillow_store::*;
use uuid::Uuid;

use crate::fixtures::*;

/// Booking settings per agent: kept whole, replaced, per tenant, gone with the agent.
pub async fn booking_settings(store: &dyn Store) {
    let acme = store.create_tenant("Acme settings").await.unwrap();
    let globex = store.create_tenant("Globex settings").await.unwrap();
    let agent = store
        .create_agent(acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    assert_eq!(
        store.get_booking_settings(acme.id, agent.id).await.unwrap(),
        None
    );
    let settings = serde_json::json!({
        "duration": 30,
        "buffer_before": 5,
        "distribution": "round_robin",
        "members": ["a", "b"],
        "questions": [{"label": "Reason — why?", "required": true}],
        "nothing": null
    });
    store
        .put_booking_settings(acme.id, agent.id, &settings)
        .await
        .unwrap();
    assert_eq!(
        store.get_booking_settings(acme.id, agent.id).await.unwrap(),
        Some(settings.clone())
    );
    let replaced = serde_json::json!({"duration": 45});
    store
        .put_booking_settings(acme.id, agent.id, &replaced)
        .await
        .unwrap();
    assert_eq!(
        store.get_booking_settings(acme.id, agent.id).await.unwrap(),
        Some(replaced.clone())
    );

    // The other tenant neither sees nor writes them.
    assert_eq!(
        store
            .get_booking_settings(globex.id, agent.id)
            .await
            .unwrap(),
        None
    );
    let foreign = store
        .put_booking_settings(globex.id, agent.id, &settings)
        .await;
    assert!(
        matches!(&foreign, Err(StoreError::MissingReference(Entity::Agent))),
        "{foreign:?}"
    );
    let nobody = store
        .put_booking_settings(acme.id, new_id(), &settings)
        .await;
    assert!(
        matches!(&nobody, Err(StoreError::MissingReference(Entity::Agent))),
        "{nobody:?}"
    );
    assert_eq!(
        store.get_booking_settings(acme.id, agent.id).await.unwrap(),
        Some(replaced)
    );

    assert!(store.delete_agent(acme.id, agent.id).await.unwrap());
    assert_eq!(
        store.get_booking_settings(acme.id, agent.id).await.unwrap(),
        None
    );
}

/// Idempotency records and done jobs are purged after their time, in every tenant; newer
/// records, running and failed jobs stay.
pub async fn retention(store: &dyn Store) {
    let acme = store.create_tenant("Acme retention").await.unwrap();
    let globex = store.create_tenant("Globex retention").await.unwrap();
    let now = jiff::Timestamp::now();
    let long_ago: jiff::Timestamp = "2020-01-01T00:00:00Z".parse().unwrap();
    let stale = jiff::SignedDuration::from_secs(60);
    let started = |state: IdempotencyState| matches!(state, IdempotencyState::Started);
    assert!(started(
        store
            .begin_idempotent(acme.id, "old", "h1", long_ago, stale)
            .await
            .unwrap()
    ));
    assert!(started(
        store
            .begin_idempotent(globex.id, "old", "h2", long_ago, stale)
            .await
            .unwrap()
    ));
    assert!(started(
        store
            .begin_idempotent(acme.id, "fresh", "h3", now, stale)
            .await
            .unwrap()
    ));
    store
        .enqueue_jobs(acme.id, &[job("retention", 1), job("retention", 2)])
        .await
        .unwrap();
    store
        .enqueue_jobs(globex.id, &[job("retention", 3)])
        .await
        .unwrap();
    let claimed = store
        .claim_jobs(
            jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1),
            jiff::SignedDuration::from_secs(60),
            10,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    store.complete_jobs(&[claimed[0].id]).await.unwrap();
    store
        .fail_job(claimed[1].id, "given up", None)
        .await
        .unwrap();

    // Cut-offs before everything: nothing goes.
    assert_eq!(
        store.purge_expired(long_ago, long_ago).await.unwrap(),
        (0, 0)
    );
    // The records from long ago (in both tenants) and the done job go.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let cutoff = now - jiff::SignedDuration::from_hours(1);
    assert_eq!(store.purge_expired(cutoff, later).await.unwrap(), (2, 1));
    assert!(started(
        store
            .begin_idempotent(acme.id, "old", "h4", jiff::Timestamp::now(), stale)
            .await
            .unwrap()
    ));
    assert!(matches!(
        store
            .begin_idempotent(acme.id, "fresh", "h3", jiff::Timestamp::now(), stale)
            .await
            .unwrap(),
        IdempotencyState::InProgress { .. }
    ));
    let left: Vec<Uuid> = store
        .list_jobs(acme.id, Some("retention"))
        .await
        .unwrap()
        .into_iter()
        .chain(store.list_jobs(globex.id, Some("retention")).await.unwrap())
        .map(|j| j.id)
        .collect();
    assert_eq!(left.len(), 2, "the failed and the running job stay");
    assert!(!left.contains(&claimed[0].id));
}
