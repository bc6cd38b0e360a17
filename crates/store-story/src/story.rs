//! One story, every backend: scenarios that drive the [`Store`] trait end to end.
//!
//! Each backend crate runs these from its own tests, so SQLite and PostgreSQL are held to the
//! same behaviour. They panic with a message on the first broken expectation, like any test.

use pillow_store::*;
use uuid::Uuid;

use crate::fixtures::*;

/// The outbox: jobs written with a booking, claimed once, retried, re-claimed after a lease,
/// completed or given up; the backlog.
pub async fn outbox(store: &dyn Store) {
    let acme = store.create_tenant("Acme outbox").await.unwrap();
    let globex = store.create_tenant("Globex outbox").await.unwrap();
    let ada = store
        .create_user(acme.id, &new_user("ada@outbox.test"))
        .await
        .unwrap();
    assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));

    store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0),
            &[job("google.write", 1), job("email.confirm", 2)],
            None,
        )
        .await
        .unwrap();
    store
        .enqueue_jobs(globex.id, &[job("test", 3)])
        .await
        .unwrap();
    store.enqueue_jobs(globex.id, &[]).await.unwrap();
    let queued = store.list_jobs(acme.id, None).await.unwrap();
    assert_eq!(
        queued.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(),
        vec!["google.write", "email.confirm"]
    );
    assert!(queued.iter().all(|j| j.status == JobStatus::Pending
        && j.attempts == 0
        && j.tenant_id == acme.id
        && j.last_error.is_none()));
    assert_eq!(queued[0].payload, job("google.write", 1).payload);
    assert_eq!(
        store
            .list_jobs(acme.id, Some("email.confirm"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.list_jobs(globex.id, None).await.unwrap().len(), 1);
    let (count, oldest) = store.outbox_backlog().await.unwrap();
    assert_eq!((count, oldest), (3, Some(queued[0].created_at)));

    // Claimed once, across tenants.
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let secs = |s: i64| t + jiff::SignedDuration::from_secs(s);
    let lease = jiff::SignedDuration::from_secs(60);
    let claimed = store.claim_jobs(t, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 3, "{claimed:?}");
    assert!(
        claimed
            .iter()
            .all(|j| j.status == JobStatus::Running && j.attempts == 1)
    );
    // Microseconds: what both databases keep.
    let lease_end = jiff::Timestamp::from_microsecond(secs(60).as_microsecond()).unwrap();
    assert!(claimed.iter().all(|j| j.next_attempt_at == lease_end));
    assert!(store.claim_jobs(t, lease, 10).await.unwrap().is_empty());
    assert!(
        store
            .claim_jobs(secs(59), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let (count, oldest) = store.outbox_backlog().await.unwrap();
    assert_eq!(
        (count, oldest),
        (3, None),
        "running jobs count, but none is pending"
    );

    let by_kind = |kind: &str| claimed.iter().find(|j| j.kind == kind).unwrap().id;
    let (write, confirm, test) = (
        by_kind("google.write"),
        by_kind("email.confirm"),
        by_kind("test"),
    );

    // A failure with a retry time is claimable from then on.
    store
        .fail_job(write, "503 from Google", Some(secs(30)))
        .await
        .unwrap();
    assert!(
        store
            .claim_jobs(secs(29), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store.claim_jobs(secs(31), lease, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (write, 2));
    assert_eq!(retried[0].last_error.as_deref(), Some("503 from Google"));

    // The others' lease ends at 60 s: their worker died, so they are claimed again.
    let reclaimed = store.claim_jobs(secs(60), lease, 10).await.unwrap();
    let mut ids: Vec<_> = reclaimed.iter().map(|j| j.id).collect();
    ids.sort();
    let mut expected = vec![confirm, test];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(reclaimed.iter().all(|j| j.attempts == 2));

    // Done, and failed for good.
    store.complete_job(confirm).await.unwrap();
    store.fail_job(test, "bad payload", None).await.unwrap();
    let jobs = store.list_jobs(globex.id, None).await.unwrap();
    assert_eq!(jobs[0].status, JobStatus::Failed);
    assert_eq!(jobs[0].last_error.as_deref(), Some("bad payload"));
    let jobs = store
        .list_jobs(acme.id, Some("email.confirm"))
        .await
        .unwrap();
    assert_eq!(jobs[0].status, JobStatus::Done);
    // Neither is claimed again, however late.
    let late = store.claim_jobs(secs(10_000), lease, 10).await.unwrap();
    assert_eq!(late.iter().map(|j| j.id).collect::<Vec<_>>(), vec![write]);
    store.complete_job(write).await.unwrap();
    assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));

    // The limit.
    store
        .enqueue_jobs(acme.id, &(0..5).map(|n| job("bulk", n)).collect::<Vec<_>>())
        .await
        .unwrap();
    let first = store.claim_jobs(secs(100), lease, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let oldest_pending = store.list_jobs(acme.id, Some("bulk")).await.unwrap()[2].created_at;
    assert_eq!(
        store.outbox_backlog().await.unwrap(),
        (5, Some(oldest_pending))
    );
    let rest = store.claim_jobs(secs(100), lease, 10).await.unwrap();
    assert_eq!(rest.len(), 3);

    // A batch is completed at once; nothing of it is claimed again, the rest is.
    let batch: Vec<Uuid> = first.iter().chain(&rest[..1]).map(|j| j.id).collect();
    store.complete_jobs(&batch).await.unwrap();
    store.complete_jobs(&[]).await.unwrap();
    let bulk = store.list_jobs(acme.id, Some("bulk")).await.unwrap();
    let done: Vec<Uuid> = bulk
        .iter()
        .filter(|j| j.status == JobStatus::Done)
        .map(|j| j.id)
        .collect();
    assert_eq!(done.len(), 3);
    assert!(batch.iter().all(|id| done.contains(id)));
    let again = store.claim_jobs(secs(10_000), lease, 10).await.unwrap();
    assert_eq!(again.len(), 2, "only the two not completed come back");
    assert!(again.iter().all(|j| !batch.contains(&j.id)));
}

/// Two workers claiming at once never get the same job.
pub async fn concurrent_claims(store: std::sync::Arc<dyn Store>) {
    let acme = store.create_tenant("Acme workers").await.unwrap();
    store
        .enqueue_jobs(
            acme.id,
            &(0..20).map(|n| job("work", n)).collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    let now = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let lease = jiff::SignedDuration::from_secs(60);
    let claim = || {
        let store = store.clone();
        tokio::spawn(async move { store.claim_jobs(now, lease, 10).await })
    };
    let (one, two) = (claim(), claim());
    let mut ids: Vec<_> = [one.await.unwrap().unwrap(), two.await.unwrap().unwrap()]
        .into_iter()
        .flatten()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids.len(), 20);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "a job was claimed twice");
}

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
