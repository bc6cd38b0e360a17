//! Removing a user keeps their row (their bookings and the codes callers hold stay whole) and
//! hides them from every list, login and lookup; upcoming bookings are handed over in the same
//! transaction, all or none, or the removal is refused.

use pillow_store::*;

use crate::fixtures::*;

/// A handover of `booking` to `to` with no caps.
fn to(booking: BookingId, to: UserId) -> Reassignment {
    Reassignment {
        booking,
        to,
        caps: Vec::new(),
    }
}

pub async fn a_removed_user_keeps_their_bookings_and_is_found_by_no_list_login_or_id(
    store: &dyn Store,
) {
    let w = world(store).await;
    let past = booking(
        w.ada.id,
        "2020-03-02T10:00:00Z",
        "2020-03-02T10:30:00Z",
        0,
        0,
    );
    store
        .create_booking(w.acme.id, &past, &[], None)
        .await
        .unwrap();
    store
        .create_rule(w.acme.id, &new_rule(w.ada.id, "Hours", true))
        .await
        .unwrap();

    let removed = store
        .remove_user(
            w.acme.id,
            w.ada.id,
            &[],
            &[job("test", 1)],
            at("2026-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    assert!(removed);

    let kept = store
        .get_booking(w.acme.id, past.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.user_id, w.ada.id);
    assert_eq!(kept.status, BookingStatus::Confirmed);
    assert!(store.get_user(w.acme.id, w.ada.id).await.unwrap().is_none());
    assert!(store.find_user(w.ada.id).await.unwrap().is_none());
    assert!(store.find_logins("ada@acme.test").await.unwrap().is_empty());
    let listed: Vec<UserId> = store
        .list_users(w.acme.id)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(listed, vec![w.bob.id]);
    // Their rules went with them, so no team offers them; the job was queued.
    assert!(
        store
            .users_with_default_rule(w.acme.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_jobs(w.acme.id, Some("test"))
            .await
            .unwrap()
            .len(),
        1
    );
    // Removed once; the address is free for someone new.
    let again = store
        .remove_user(w.acme.id, w.ada.id, &[], &[], at("2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(!again);
    let rejoined = store
        .create_user(w.acme.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    assert_ne!(rejoined.id, w.ada.id);
}

pub async fn a_user_with_an_upcoming_booking_is_removed_only_once_it_is_handed_over(
    store: &dyn Store,
) {
    let w = world(store).await;
    let now = at("2026-01-01T00:00:00Z");
    let upcoming = booking(
        w.ada.id,
        "2099-03-02T10:00:00Z",
        "2099-03-02T10:30:00Z",
        5,
        5,
    );
    store
        .create_booking(w.acme.id, &upcoming, &[], None)
        .await
        .unwrap();

    let refused = store.remove_user(w.acme.id, w.ada.id, &[], &[], now).await;
    assert!(
        is_conflict(&refused, Constraint::MemberHasBookings),
        "{refused:?}"
    );
    assert!(store.get_user(w.acme.id, w.ada.id).await.unwrap().is_some());

    let bob_before = version(store, w.acme.id, w.bob.id).await;
    let removed = store
        .remove_user(
            w.acme.id,
            w.ada.id,
            &[to(upcoming.id, w.bob.id)],
            &[job("test", 2)],
            now,
        )
        .await
        .unwrap();
    assert!(removed);
    let moved = store
        .get_booking(w.acme.id, upcoming.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.user_id, w.bob.id);
    assert_eq!(moved.confirmation_code, upcoming.confirmation_code);
    assert!(version(store, w.acme.id, w.bob.id).await > bob_before);
    // The busy event moved with it: Bob is now busy then.
    let events = booking_events(store, w.acme.id, w.bob.id, upcoming.id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].start, upcoming.start);
    // And Bob cannot be booked over it.
    let clash = booking(
        w.bob.id,
        "2099-03-02T10:15:00Z",
        "2099-03-02T10:45:00Z",
        0,
        0,
    );
    let clash = store.create_booking(w.acme.id, &clash, &[], None).await;
    assert!(is_conflict(&clash, Constraint::BookingOverlap), "{clash:?}");
}

pub async fn a_handover_to_a_busy_or_full_member_changes_nothing(store: &dyn Store) {
    let w = world(store).await;
    let now = at("2026-01-01T00:00:00Z");
    let first = booking(
        w.ada.id,
        "2099-03-02T10:00:00Z",
        "2099-03-02T10:30:00Z",
        0,
        0,
    );
    let second = booking(
        w.ada.id,
        "2099-03-03T10:00:00Z",
        "2099-03-03T10:30:00Z",
        0,
        0,
    );
    let bobs = booking(
        w.bob.id,
        "2099-03-03T10:00:00Z",
        "2099-03-03T11:00:00Z",
        0,
        0,
    );
    for made in [&first, &second, &bobs] {
        store
            .create_booking(w.acme.id, made, &[], None)
            .await
            .unwrap();
    }

    // The first could go to Bob, the second clashes with his own booking: neither moves.
    let refused = store
        .remove_user(
            w.acme.id,
            w.ada.id,
            &[to(first.id, w.bob.id), to(second.id, w.bob.id)],
            &[job("test", 3)],
            now,
        )
        .await;
    assert!(
        is_conflict(&refused, Constraint::BookingOverlap),
        "{refused:?}"
    );
    // At most one booking that week, and Bob already has one: the cap refuses the first.
    let capped = Reassignment {
        caps: vec![BookingCap {
            from: at("2099-03-01T00:00:00Z"),
            to: at("2099-03-08T00:00:00Z"),
            max: 1,
        }],
        ..to(first.id, w.bob.id)
    };
    let refused = store
        .remove_user(w.acme.id, w.ada.id, &[capped], &[job("test", 4)], now)
        .await;
    assert!(
        is_conflict(&refused, Constraint::BookingLimit),
        "{refused:?}"
    );

    for made in [&first, &second] {
        let kept = store
            .get_booking(w.acme.id, made.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.user_id, w.ada.id);
    }
    assert!(store.get_user(w.acme.id, w.ada.id).await.unwrap().is_some());
    assert!(
        store
            .list_jobs(w.acme.id, Some("test"))
            .await
            .unwrap()
            .is_empty()
    );
}
