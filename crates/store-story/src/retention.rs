//! Retention: idempotency records and done jobs are purged after their time, in every tenant;
//! newer records, running and failed jobs stay.

use pillow_store::*;
use uuid::Uuid;

use crate::fixtures::*;

const STALE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

fn long_ago() -> jiff::Timestamp {
    at("2020-01-01T00:00:00Z")
}

fn started(state: IdempotencyState) -> bool {
    matches!(state, IdempotencyState::Started)
}

/// Keys from long ago in both tenants and a fresh one at Acme; three jobs, claimed, of which
/// one is done, one failed for good and one still running.
struct Scene {
    world: World,
    now: jiff::Timestamp,
    claimed: Vec<Job>,
}

async fn scene(store: &dyn Store) -> Scene {
    let world = world(store).await;
    let (acme, globex) = (world.acme.id, world.globex.id);
    let now = jiff::Timestamp::now();
    let begin = async |tenant: TenantId, key: &str, hash: &str, at: jiff::Timestamp| {
        store
            .begin_idempotent(tenant, key, hash, at, STALE)
            .await
            .unwrap()
    };
    assert!(started(begin(acme, "old", "h1", long_ago()).await));
    assert!(started(begin(globex, "old", "h2", long_ago()).await));
    assert!(started(begin(acme, "fresh", "h3", now).await));
    store
        .enqueue_jobs(acme, &[job("retention", 1), job("retention", 2)])
        .await
        .unwrap();
    store
        .enqueue_jobs(globex, &[job("retention", 3)])
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
    Scene {
        world,
        now,
        claimed,
    }
}

/// Purges with the scene's cut-offs: records older than an hour before it, jobs done by now.
async fn purge(store: &dyn Store, scene: &Scene) -> (u64, u64) {
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let cutoff = scene.now - jiff::SignedDuration::from_hours(1);
    store.purge_expired(cutoff, later).await.unwrap()
}

pub async fn purging_with_cut_offs_before_everything_removes_nothing(store: &dyn Store) {
    scene(store).await;
    assert_eq!(
        store.purge_expired(long_ago(), long_ago()).await.unwrap(),
        (0, 0)
    );
}

/// In both tenants: the worker purges for all of them at once.
pub async fn old_idempotency_records_and_done_jobs_are_purged_in_every_tenant(store: &dyn Store) {
    let scene = scene(store).await;
    assert_eq!(purge(store, &scene).await, (2, 1));
    assert!(started(
        store
            .begin_idempotent(
                scene.world.acme.id,
                "old",
                "h4",
                jiff::Timestamp::now(),
                STALE
            )
            .await
            .unwrap()
    ));
}

pub async fn newer_records_and_running_or_failed_jobs_stay(store: &dyn Store) {
    let scene = scene(store).await;
    purge(store, &scene).await;
    let (acme, globex) = (scene.world.acme.id, scene.world.globex.id);
    assert!(matches!(
        store
            .begin_idempotent(acme, "fresh", "h3", jiff::Timestamp::now(), STALE)
            .await
            .unwrap(),
        IdempotencyState::InProgress { .. }
    ));
    let left: Vec<Uuid> = store
        .list_jobs(acme, Some("retention"))
        .await
        .unwrap()
        .into_iter()
        .chain(store.list_jobs(globex, Some("retention")).await.unwrap())
        .map(|j| j.id)
        .collect();
    assert_eq!(left.len(), 2, "the failed and the running job stay");
    assert!(!left.contains(&scene.claimed[0].id));
}
