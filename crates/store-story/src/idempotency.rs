//! Idempotency keys: claiming, in progress, done with the change they belong to, stale owners,
//! finishing and abandoning.

use pillow_store::*;

use crate::fixtures::*;

/// How long a claim holds before another request may take it over.
const STALE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// The instant the first request arrives.
fn t0() -> jiff::Timestamp {
    at("2025-03-01T12:00:00Z")
}

/// `s` seconds after [`t0`].
fn secs(s: i64) -> jiff::Timestamp {
    t0() + jiff::SignedDuration::from_secs(s)
}

fn in_progress(request_hash: &str) -> IdempotencyState {
    IdempotencyState::InProgress {
        request_hash: request_hash.into(),
    }
}

async fn begin(
    store: &dyn Store,
    tenant: TenantId,
    key: &str,
    request_hash: &str,
    now: jiff::Timestamp,
) -> IdempotencyState {
    store
        .begin_idempotent(tenant, key, request_hash, now, STALE)
        .await
        .unwrap()
}

/// The answer the booking below records under `k1`.
fn booked_body() -> serde_json::Value {
    serde_json::json!({"booking": {"code": "ABC"}, "list": [1, 2.5, null]})
}

/// Claims `k1` with `h1` at [`t0`], then [`book_with_k1`].
async fn booked_under_k1(store: &dyn Store, world: &World) -> Booking {
    assert_eq!(
        begin(store, world.acme.id, "k1", "h1", t0()).await,
        IdempotencyState::Started
    );
    book_with_k1(store, world).await
}

/// Books Ada's 10:00 with the answer for `k1` in the same write.
async fn book_with_k1(store: &dyn Store, world: &World) -> Booking {
    let response = IdempotentResponse {
        key: "k1".into(),
        request_hash: "h1".into(),
        status: 201,
        body: booked_body(),
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
            &[],
            Some(&response),
        )
        .await
        .unwrap()
}

fn k1_done() -> IdempotencyState {
    IdempotencyState::Done {
        request_hash: "h1".into(),
        status: 201,
        body: booked_body(),
    }
}

pub async fn a_first_request_starts_and_a_second_finds_it_in_progress(store: &dyn Store) {
    let World { acme, .. } = world(store).await;
    assert_eq!(
        begin(store, acme.id, "k1", "h1", t0()).await,
        IdempotencyState::Started
    );
    assert_eq!(
        begin(store, acme.id, "k1", "h1", secs(1)).await,
        in_progress("h1")
    );
}

/// So the caller can tell a retry from a different request reusing the key.
pub async fn a_retry_with_another_body_sees_the_first_requests_hash(store: &dyn Store) {
    let World { acme, .. } = world(store).await;
    begin(store, acme.id, "k1", "h1", t0()).await;
    assert_eq!(
        begin(store, acme.id, "k1", "h2", secs(2)).await,
        in_progress("h1"),
        "another body sees the first request's hash"
    );
}

pub async fn the_same_key_in_another_tenant_is_another_key(store: &dyn Store) {
    let world = world(store).await;
    let globex = world.globex.id;
    begin(store, world.acme.id, "k1", "h1", t0()).await;
    assert_eq!(
        begin(store, globex, "k1", "h9", secs(2)).await,
        IdempotencyState::Started
    );
    // Acme's key is done; the other tenant's key with the same name is untouched.
    book_with_k1(store, &world).await;
    assert_eq!(
        begin(store, globex, "k1", "h9", secs(5)).await,
        in_progress("h9")
    );
}

/// In the booking's own transaction: the answer exists exactly when the booking does.
pub async fn a_booking_records_its_answer_under_its_key(store: &dyn Store) {
    let world = world(store).await;
    booked_under_k1(store, &world).await;
    assert_eq!(
        begin(store, world.acme.id, "k1", "h1", secs(3)).await,
        k1_done()
    );
}

pub async fn a_done_key_is_never_taken_over(store: &dyn Store) {
    let world = world(store).await;
    booked_under_k1(store, &world).await;
    assert_eq!(
        begin(store, world.acme.id, "k1", "h1", secs(3600)).await,
        k1_done(),
        "a done key is never taken over"
    );
}

pub async fn abandoning_keeps_a_done_key(store: &dyn Store) {
    let world = world(store).await;
    booked_under_k1(store, &world).await;
    store.abandon_idempotent(world.acme.id, "k1").await.unwrap();
    assert_eq!(
        begin(store, world.acme.id, "k1", "h1", secs(4)).await,
        k1_done(),
        "abandoning keeps a done key"
    );
}

/// A refused booking writes nothing, its answer included: the key stays in progress.
pub async fn a_refused_booking_leaves_its_key_in_progress(store: &dyn Store) {
    let world = world(store).await;
    let acme = world.acme.id;
    booked_under_k1(store, &world).await;
    begin(store, acme, "k-clash", "h", t0()).await;
    let clash = store
        .create_booking(
            acme,
            &booking(
                world.ada.id,
                "2025-03-10T10:00:00Z",
                "2025-03-10T10:30:00Z",
                0,
                0,
            ),
            &[],
            Some(&IdempotentResponse {
                key: "k-clash".into(),
                request_hash: "h".into(),
                status: 201,
                body: serde_json::json!({}),
            }),
        )
        .await;
    assert!(is_conflict(&clash, Constraint::BookingOverlap));
    assert_eq!(
        begin(store, acme, "k-clash", "h", secs(1)).await,
        in_progress("h")
    );
}

pub async fn a_claim_is_in_progress_until_it_goes_stale(store: &dyn Store) {
    let World { acme, .. } = world(store).await;
    begin(store, acme.id, "k2", "h2", t0()).await;
    assert_eq!(
        begin(store, acme.id, "k2", "h2", secs(59)).await,
        in_progress("h2")
    );
}

/// An owner that went quiet has died; its claim goes to the next request, whatever its body.
pub async fn a_stale_claim_is_taken_over_and_the_new_claim_is_fresh(store: &dyn Store) {
    let World { acme, .. } = world(store).await;
    begin(store, acme.id, "k2", "h2", t0()).await;
    assert_eq!(
        begin(store, acme.id, "k2", "h3", secs(60)).await,
        IdempotencyState::Started
    );
    assert_eq!(
        begin(store, acme.id, "k2", "h2", secs(61)).await,
        in_progress("h3"),
        "the new owner's claim is fresh"
    );
}

pub async fn finishing_a_request_that_changed_nothing_records_its_answer(store: &dyn Store) {
    let World { acme, .. } = world(store).await;
    begin(store, acme.id, "k2", "h3", t0()).await;
    let refused = IdempotentResponse {
        key: "k2".into(),
        request_hash: "h3".into(),
        status: 409,
        body: serde_json::json!({"error": {"code": "slot_unavailable"}}),
    };
    store.finish_idempotent(acme.id, &refused).await.unwrap();
    assert_eq!(
        begin(store, acme.id, "k2", "h3", secs(62)).await,
        IdempotencyState::Done {
            request_hash: "h3".into(),
            status: 409,
            body: refused.body.clone(),
        }
    );
}

pub async fn abandoning_after_a_failure_lets_the_retry_run(store: &dyn Store) {
    let World { acme, .. } = world(store).await;
    begin(store, acme.id, "k3", "h", t0()).await;
    store.abandon_idempotent(acme.id, "k3").await.unwrap();
    assert_eq!(
        begin(store, acme.id, "k3", "h", secs(1)).await,
        IdempotencyState::Started
    );
}

/// The second time too, when the booking is cancelled already: the retry still gets its answer.
pub async fn cancelling_records_its_answer_even_when_cancelled_already(store: &dyn Store) {
    let world = world(store).await;
    let acme = world.acme.id;
    let booked = booked_under_k1(store, &world).await;
    for (key, status) in [("k-cancel", 200), ("k-cancel-again", 200)] {
        let response = IdempotentResponse {
            key: key.into(),
            request_hash: "h".into(),
            status,
            body: serde_json::json!({"cancelled": true}),
        };
        store
            .cancel_booking(acme, booked.id, None, &[], Some(&response))
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(
                begin(store, acme, key, "h", t0()).await,
                IdempotencyState::Done { status: 200, .. }
            ),
            "{key}"
        );
    }
}

pub async fn rescheduling_records_its_answer(store: &dyn Store) {
    let world = world(store).await;
    let acme = world.acme.id;
    let other = store
        .create_booking(
            acme,
            &booking(
                world.ada.id,
                "2025-03-10T11:00:00Z",
                "2025-03-10T11:30:00Z",
                0,
                0,
            ),
            &[],
            None,
        )
        .await
        .unwrap();
    let moved = IdempotentResponse {
        key: "k-move".into(),
        request_hash: "h".into(),
        status: 200,
        body: serde_json::json!({"moved": true}),
    };
    store
        .reschedule_booking(
            acme,
            other.id,
            at("2025-03-10T12:00:00Z"),
            at("2025-03-10T12:30:00Z"),
            &[],
            Some(&moved),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        begin(store, acme, "k-move", "h", t0()).await,
        IdempotencyState::Done {
            request_hash: "h".into(),
            status: 200,
            body: moved.body.clone(),
        }
    );
}
