//! The outbox: jobs written with a booking, claimed once, retried, claimed again after a lease,
//! completed or given up; the backlog the health check reports.

use pillow_store::*;
use uuid::Uuid;

use crate::fixtures::*;

/// How long a claim holds a job before another worker may take it.
const LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Jobs written with Ada's booking (a Google write and a confirmation e-mail) and one of
/// Globex's, as queued.
struct Queued {
    world: World,
    queued: Vec<Job>,
}

async fn queued(store: &dyn Store) -> Queued {
    let world = world(store).await;
    store
        .create_booking(
            world.acme.id,
            &booking(
                world.ada.id,
                "2025-03-10T10:00:00Z",
                "2025-03-10T10:30:00Z",
                0,
                0,
            ),
            &[job("google.write", 1), job("email.confirm", 2)],
            None,
        )
        .await
        .unwrap();
    store
        .enqueue_jobs(world.globex.id, &[job("test", 3)])
        .await
        .unwrap();
    store.enqueue_jobs(world.globex.id, &[]).await.unwrap();
    let queued = store.list_jobs(world.acme.id, None).await.unwrap();
    Queued { world, queued }
}

/// The three jobs of [`queued`], claimed at `t` by one worker.
struct Claimed {
    world: World,
    t: jiff::Timestamp,
    claimed: Vec<Job>,
    write: Uuid,
    confirm: Uuid,
    test: Uuid,
}

impl Claimed {
    /// `s` seconds after the claim.
    fn secs(&self, s: i64) -> jiff::Timestamp {
        self.t + jiff::SignedDuration::from_secs(s)
    }
}

async fn claimed(store: &dyn Store) -> Claimed {
    let Queued { world, .. } = queued(store).await;
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let claimed = store.claim_jobs(t, LEASE, 10).await.unwrap();
    let by_kind = |kind: &str| claimed.iter().find(|j| j.kind == kind).unwrap().id;
    Claimed {
        write: by_kind("google.write"),
        confirm: by_kind("email.confirm"),
        test: by_kind("test"),
        world,
        t,
        claimed,
    }
}

/// [`claimed`], then the Google write fails with a retry at 30 s and is claimed again at 31 s.
async fn retried(store: &dyn Store) -> Claimed {
    let claimed = claimed(store).await;
    store
        .fail_job(claimed.write, "503 from Google", Some(claimed.secs(30)))
        .await
        .unwrap();
    store.claim_jobs(claimed.secs(31), LEASE, 10).await.unwrap();
    claimed
}

pub async fn an_empty_outbox_has_no_backlog(store: &dyn Store) {
    world(store).await;
    assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));
}

pub async fn jobs_written_with_a_booking_are_queued_pending_in_its_tenant(store: &dyn Store) {
    let Queued { world, queued } = queued(store).await;
    let acme = world.acme.id;
    assert_eq!(
        queued.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(),
        vec!["google.write", "email.confirm"]
    );
    assert!(queued.iter().all(|j| j.status == JobStatus::Pending
        && j.attempts == 0
        && j.tenant_id == acme
        && j.last_error.is_none()));
    assert_eq!(queued[0].payload, job("google.write", 1).payload);
    assert_eq!(
        store
            .list_jobs(acme, Some("email.confirm"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.list_jobs(world.globex.id, None).await.unwrap().len(),
        1
    );
}

/// Across tenants: the worker, and the health check, see every tenant's jobs.
pub async fn the_backlog_counts_the_jobs_and_dates_the_oldest_pending(store: &dyn Store) {
    let Queued { queued, .. } = queued(store).await;
    let (count, oldest) = store.outbox_backlog().await.unwrap();
    assert_eq!((count, oldest), (3, Some(queued[0].created_at)));
}

pub async fn a_job_is_claimed_once_across_tenants_until_its_lease_ends(store: &dyn Store) {
    let c = claimed(store).await;
    assert_eq!(c.claimed.len(), 3, "{:?}", c.claimed);
    assert!(
        c.claimed
            .iter()
            .all(|j| j.status == JobStatus::Running && j.attempts == 1)
    );
    // Microseconds: what both databases keep.
    let lease_end = jiff::Timestamp::from_microsecond(c.secs(60).as_microsecond()).unwrap();
    assert!(c.claimed.iter().all(|j| j.next_attempt_at == lease_end));
    assert!(store.claim_jobs(c.t, LEASE, 10).await.unwrap().is_empty());
    assert!(
        store
            .claim_jobs(c.secs(59), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn running_jobs_count_in_the_backlog_but_none_is_pending(store: &dyn Store) {
    claimed(store).await;
    let (count, oldest) = store.outbox_backlog().await.unwrap();
    assert_eq!(
        (count, oldest),
        (3, None),
        "running jobs count, but none is pending"
    );
}

pub async fn a_failed_job_with_a_retry_time_is_claimable_from_then_on(store: &dyn Store) {
    let c = claimed(store).await;
    store
        .fail_job(c.write, "503 from Google", Some(c.secs(30)))
        .await
        .unwrap();
    assert!(
        store
            .claim_jobs(c.secs(29), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store.claim_jobs(c.secs(31), LEASE, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (c.write, 2));
    assert_eq!(retried[0].last_error.as_deref(), Some("503 from Google"));
}

/// Their worker died: a job whose lease ended goes to the next worker that asks.
pub async fn a_job_whose_lease_ended_is_claimed_again(store: &dyn Store) {
    let c = retried(store).await;
    let reclaimed = store.claim_jobs(c.secs(60), LEASE, 10).await.unwrap();
    let mut ids: Vec<_> = reclaimed.iter().map(|j| j.id).collect();
    ids.sort();
    let mut expected = vec![c.confirm, c.test];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(reclaimed.iter().all(|j| j.attempts == 2));
}

pub async fn done_and_given_up_jobs_are_never_claimed_again(store: &dyn Store) {
    let c = retried(store).await;
    store.claim_jobs(c.secs(60), LEASE, 10).await.unwrap();
    store.complete_job(c.confirm).await.unwrap();
    store.fail_job(c.test, "bad payload", None).await.unwrap();
    let jobs = store.list_jobs(c.world.globex.id, None).await.unwrap();
    assert_eq!(jobs[0].status, JobStatus::Failed);
    assert_eq!(jobs[0].last_error.as_deref(), Some("bad payload"));
    let jobs = store
        .list_jobs(c.world.acme.id, Some("email.confirm"))
        .await
        .unwrap();
    assert_eq!(jobs[0].status, JobStatus::Done);
    // Neither is claimed again, however late.
    let late = store.claim_jobs(c.secs(10_000), LEASE, 10).await.unwrap();
    assert_eq!(late.iter().map(|j| j.id).collect::<Vec<_>>(), vec![c.write]);
    store.complete_job(c.write).await.unwrap();
    assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));
}

/// Five bulk jobs at Acme, and the instant to claim them at.
async fn bulk(store: &dyn Store) -> (World, jiff::Timestamp) {
    let world = world(store).await;
    store
        .enqueue_jobs(
            world.acme.id,
            &(0..5).map(|n| job("bulk", n)).collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(100);
    (world, at)
}

pub async fn a_claim_takes_at_most_its_limit_oldest_first(store: &dyn Store) {
    let (world, at) = bulk(store).await;
    let first = store.claim_jobs(at, LEASE, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let oldest_pending = store.list_jobs(world.acme.id, Some("bulk")).await.unwrap()[2].created_at;
    assert_eq!(
        store.outbox_backlog().await.unwrap(),
        (5, Some(oldest_pending))
    );
    let rest = store.claim_jobs(at, LEASE, 10).await.unwrap();
    assert_eq!(rest.len(), 3);
}

/// A worker that delivered a batch in one request completes it in one write.
pub async fn a_batch_completed_at_once_is_never_claimed_again_and_the_rest_is(store: &dyn Store) {
    let (world, at) = bulk(store).await;
    let first = store.claim_jobs(at, LEASE, 2).await.unwrap();
    let rest = store.claim_jobs(at, LEASE, 10).await.unwrap();
    let batch: Vec<Uuid> = first.iter().chain(&rest[..1]).map(|j| j.id).collect();
    store.complete_jobs(&batch).await.unwrap();
    store.complete_jobs(&[]).await.unwrap();
    let bulk = store.list_jobs(world.acme.id, Some("bulk")).await.unwrap();
    let done: Vec<Uuid> = bulk
        .iter()
        .filter(|j| j.status == JobStatus::Done)
        .map(|j| j.id)
        .collect();
    assert_eq!(done.len(), 3);
    assert!(batch.iter().all(|id| done.contains(id)));
    let again = store
        .claim_jobs(at + jiff::SignedDuration::from_secs(10_000), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 2, "only the two not completed come back");
    assert!(again.iter().all(|j| !batch.contains(&j.id)));
}

/// Two workers claiming at once never get the same job.
pub async fn two_workers_claiming_at_once_never_get_the_same_job(store: std::sync::Arc<dyn Store>) {
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

/// A reminder is written with its booking, or on its own, to run later: it is pending from the
/// start but not claimed before its time, and claimed from then on.
pub async fn a_job_due_later_is_claimed_only_from_its_time_on(store: &dyn Store) {
    let world = world(store).await;
    let now = jiff::Timestamp::now();
    // Whole seconds, which every backend keeps exactly.
    let due = jiff::Timestamp::from_second(now.as_second() + 23 * 3600).unwrap();
    let later = |kind: &str, n| NewJob {
        run_after: Some(due),
        ..job(kind, n)
    };
    store
        .create_booking(
            world.acme.id,
            &booking(
                world.ada.id,
                "2025-03-10T10:00:00Z",
                "2025-03-10T10:30:00Z",
                0,
                0,
            ),
            &[job("booking.created", 1), later("email.reminder", 2)],
            None,
        )
        .await
        .unwrap();
    store
        .enqueue_jobs(world.globex.id, &[later("email.reminder", 3)])
        .await
        .unwrap();
    let queued = store.list_jobs(world.acme.id, None).await.unwrap();
    let reminder = queued.iter().find(|j| j.kind == "email.reminder").unwrap();
    assert_eq!(reminder.status, JobStatus::Pending);
    assert_eq!(reminder.next_attempt_at, due);

    let at_once = store.claim_jobs(now + jiff::SignedDuration::from_secs(1), LEASE, 10);
    let at_once = at_once.await.unwrap();
    assert_eq!(
        at_once.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(),
        ["booking.created"]
    );
    store.complete_jobs(&[at_once[0].id]).await.unwrap();
    let before = due - jiff::SignedDuration::from_secs(1);
    assert!(
        store
            .claim_jobs(before, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let on_time = store.claim_jobs(due, LEASE, 10).await.unwrap();
    let mut payloads: Vec<_> = on_time.iter().map(|j| j.payload["n"].clone()).collect();
    payloads.sort_by_key(|n| n.as_i64());
    assert_eq!(payloads, [serde_json::json!(2), serde_json::json!(3)]);
}
