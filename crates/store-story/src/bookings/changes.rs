//! Cancelling and rescheduling: what changes, what stays, and the time each frees or takes.

use pillow_store::*;

use super::*;

pub async fn cancelling_a_booking_keeps_its_time_and_records_why(store: &dyn Store) {
    let Monday { world, a, .. } = monday(store).await;
    let acme = world.acme.id;
    let cancelled = store
        .cancel_booking(acme, a.id, Some("Caller asked"), &[], None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("Caller asked"));
    assert!(cancelled.cancelled_at.is_some());
    assert_eq!((cancelled.start, cancelled.end), (a.start, a.end));
    assert_eq!(
        store.get_booking(acme, a.id).await.unwrap(),
        Some(cancelled.clone())
    );
}

pub async fn a_cancelled_bookings_own_event_is_cancelled_too(store: &dyn Store) {
    let Monday { world, a, .. } = monday(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    store
        .cancel_booking(acme, a.id, Some("Caller asked"), &[], None)
        .await
        .unwrap()
        .unwrap();
    let events = booking_events(store, acme, ada, a.id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, EventStatus::Cancelled);
    assert_eq!(version(store, acme, ada).await, 11);
}

/// So a retried cancel neither bumps the version nor sends the caller a second notice.
pub async fn cancelling_twice_changes_nothing_and_queues_no_jobs(store: &dyn Store) {
    let Monday { world, a, .. } = monday(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    let cancelled = store
        .cancel_booking(acme, a.id, Some("Caller asked"), &[], None)
        .await
        .unwrap()
        .unwrap();
    let again = store
        .cancel_booking(acme, a.id, Some("Twice"), &[job("again", 1)], None)
        .await
        .unwrap();
    assert_eq!(
        again,
        Some(cancelled.clone()),
        "cancelling twice changes nothing"
    );
    assert_eq!(version(store, acme, ada).await, 11);
    assert!(
        store.list_jobs(acme, None).await.unwrap().is_empty(),
        "no new jobs"
    );
}

pub async fn a_cancelled_booking_frees_its_slot(store: &dyn Store) {
    let Monday { world, a, .. } = monday(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    store
        .cancel_booking(acme, a.id, Some("Caller asked"), &[], None)
        .await
        .unwrap()
        .unwrap();
    let e = store
        .create_booking(
            acme,
            &booking(ada, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0),
            &[],
            None,
        )
        .await;
    assert!(e.is_ok(), "{e:?}");
    assert_eq!(version(store, acme, ada).await, 12);
}

pub async fn rescheduling_into_a_taken_time_leaves_the_booking_where_it_was(store: &dyn Store) {
    let (Monday { world, .. }, e) = monday_with_e(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    for (start, end) in [
        ("2025-03-10T10:30:00Z", "2025-03-10T11:00:00Z"), // B
        ("2025-03-10T12:15:00Z", "2025-03-10T12:45:00Z"), // the meeting
        ("2025-03-11T09:00:00Z", "2025-03-11T09:30:00Z"), // the holiday
    ] {
        let clash = store
            .reschedule_booking(acme, e.id, at(start), at(end), &[], None)
            .await;
        assert!(
            is_conflict(&clash, Constraint::BookingOverlap),
            "{start}: {clash:?}"
        );
    }
    assert_eq!(
        store.get_booking(acme, e.id).await.unwrap(),
        Some(e.clone())
    );
    assert_eq!(version(store, acme, ada).await, 12);
}

/// Overlapping its own old time is fine: a booking never stands in its own way.
pub async fn rescheduling_into_a_free_time_moves_the_booking_and_its_event(store: &dyn Store) {
    let (Monday { world, .. }, e) = monday_with_e(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    let moved = store
        .reschedule_booking(
            acme,
            e.id,
            at("2025-03-10T09:45:00Z"),
            at("2025-03-10T10:15:00Z"),
            &[],
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (moved.start, moved.end),
        (at("2025-03-10T09:45:00Z"), at("2025-03-10T10:15:00Z"))
    );
    assert_eq!(moved.confirmation_code, e.confirmation_code);
    assert_eq!(moved.created_at, e.created_at);
    let events = booking_events(store, acme, ada, e.id).await;
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].start, events[0].end), (moved.start, moved.end));
    assert_eq!(version(store, acme, ada).await, 13);
    store
        .reschedule_booking(
            acme,
            e.id,
            at("2025-03-10T09:00:00Z"),
            at("2025-03-10T09:30:00Z"),
            &[],
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version(store, acme, ada).await, 14);
}

pub async fn a_rescheduled_bookings_old_time_is_free_again(store: &dyn Store) {
    let (Monday { world, .. }, e) = monday_with_e(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    moved(
        store,
        acme,
        &e,
        "2025-03-10T09:45:00Z",
        "2025-03-10T10:15:00Z",
    )
    .await;
    moved(
        store,
        acme,
        &e,
        "2025-03-10T09:00:00Z",
        "2025-03-10T09:30:00Z",
    )
    .await;
    let in_the_old_time = store
        .create_booking(
            acme,
            &booking(ada, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0),
            &[],
            None,
        )
        .await;
    assert!(in_the_old_time.is_ok(), "{in_the_old_time:?}");
}

pub async fn a_cancelled_booking_cannot_be_rescheduled(store: &dyn Store) {
    let (Monday { world, a, .. }, _) = monday_after_moves(store).await;
    let not_confirmed = store
        .reschedule_booking(
            world.acme.id,
            a.id,
            at("2025-03-12T09:00:00Z"),
            at("2025-03-12T09:30:00Z"),
            &[],
            None,
        )
        .await;
    assert!(
        is_conflict(&not_confirmed, Constraint::BookingNotConfirmed),
        "{not_confirmed:?}"
    );
    assert_eq!(version(store, world.acme.id, world.ada.id).await, 15);
}

pub async fn changing_a_booking_that_does_not_exist_finds_nothing(store: &dyn Store) {
    let (Monday { world, .. }, e) = monday_after_moves(store).await;
    let acme = world.acme.id;
    assert_eq!(
        store
            .reschedule_booking(acme, BookingId::new(), e.start, e.end, &[], None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .cancel_booking(acme, BookingId::new(), None, &[], None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(version(store, acme, world.ada.id).await, 15);
}
