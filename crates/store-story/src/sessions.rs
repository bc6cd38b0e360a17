//! Dashboard sessions: found by their token hash in any tenant while live, never after they
//! expire or are revoked, and revoked only by their own tenant.

use jiff::SignedDuration;
use pillow_store::*;

use crate::fixtures::*;

fn new_session(user: UserId, hash: &str, expires_at: jiff::Timestamp) -> NewSession {
    NewSession {
        user_id: user,
        token_hash: hash.into(),
        expires_at,
    }
}

fn in_an_hour() -> jiff::Timestamp {
    jiff::Timestamp::now() + SignedDuration::from_hours(1)
}

pub async fn a_live_session_is_found_by_its_token_hash_alone(store: &dyn Store) {
    let w = world(store).await;
    let made = store
        .create_session(w.acme.id, &new_session(w.ada.id, "hash-ada", in_an_hour()))
        .await
        .unwrap();
    assert_eq!(made.tenant_id, w.acme.id);
    assert_eq!(made.user_id, w.ada.id);
    assert_eq!(made.revoked_at, None);
    let found = store
        .find_live_session("hash-ada", jiff::Timestamp::now())
        .await
        .unwrap();
    assert_eq!(found, Some(made));
    assert_eq!(
        store
            .find_live_session("hash-other", jiff::Timestamp::now())
            .await
            .unwrap(),
        None
    );
}

pub async fn an_expired_session_is_not_found(store: &dyn Store) {
    let w = world(store).await;
    let expires = in_an_hour();
    store
        .create_session(w.acme.id, &new_session(w.ada.id, "hash-ada", expires))
        .await
        .unwrap();
    let just_before = expires - SignedDuration::from_secs(1);
    assert!(
        store
            .find_live_session("hash-ada", just_before)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.find_live_session("hash-ada", expires).await.unwrap(),
        None
    );
}

pub async fn a_revoked_session_is_never_found_again(store: &dyn Store) {
    let w = world(store).await;
    let made = store
        .create_session(w.acme.id, &new_session(w.ada.id, "hash-ada", in_an_hour()))
        .await
        .unwrap();
    let now = jiff::Timestamp::now();
    assert!(store.revoke_session(w.acme.id, made.id, now).await.unwrap());
    assert_eq!(
        store.find_live_session("hash-ada", now).await.unwrap(),
        None
    );
    // Revoking again finds nothing live to revoke.
    assert!(!store.revoke_session(w.acme.id, made.id, now).await.unwrap());
}

pub async fn the_other_tenant_cannot_revoke_a_session(store: &dyn Store) {
    let w = world(store).await;
    let made = store
        .create_session(w.acme.id, &new_session(w.ada.id, "hash-ada", in_an_hour()))
        .await
        .unwrap();
    let now = jiff::Timestamp::now();
    assert!(
        !store
            .revoke_session(w.globex.id, made.id, now)
            .await
            .unwrap()
    );
    assert!(
        store
            .find_live_session("hash-ada", now)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn a_session_for_another_tenants_user_is_refused(store: &dyn Store) {
    let w = world(store).await;
    let refused = store
        .create_session(w.acme.id, &new_session(w.gus.id, "hash-gus", in_an_hour()))
        .await;
    assert!(
        matches!(refused, Err(StoreError::MissingReference(Entity::User))),
        "{refused:?}"
    );
}

pub async fn deleting_a_user_ends_the_users_sessions(store: &dyn Store) {
    let w = world(store).await;
    store
        .create_session(w.acme.id, &new_session(w.bob.id, "hash-bob", in_an_hour()))
        .await
        .unwrap();
    assert!(store.delete_user(w.acme.id, w.bob.id).await.unwrap());
    assert_eq!(
        store
            .find_live_session("hash-bob", jiff::Timestamp::now())
            .await
            .unwrap(),
        None
    );
}
