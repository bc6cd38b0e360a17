//! Notices: the invite sequence of a booking rises by one on every change, per booking, and
//! another tenant's booking has none; tenants' notification templates are their own.

use pillow_store::*;

use crate::fixtures::*;

async fn booked(store: &dyn Store, tenant: TenantId, user: UserId, start: &str) -> Booking {
    let end = at(start) + jiff::SignedDuration::from_mins(30);
    store
        .create_booking(
            tenant,
            &booking(user, start, &end.to_string(), 0, 0),
            &[],
            None,
        )
        .await
        .unwrap()
}

pub async fn a_bookings_notice_sequence_rises_by_one_on_every_change_of_it_alone(
    store: &dyn Store,
) {
    let world = world(store).await;
    let acme = world.acme.id;
    let first = booked(store, acme, world.ada.id, "2030-01-07T15:00:00Z").await;
    let second = booked(store, acme, world.bob.id, "2030-01-07T15:00:00Z").await;
    let next = async |b: &Booking| store.next_notice_sequence(acme, b.id).await.unwrap();
    assert_eq!(
        next(&first).await,
        Some(1),
        "the first change after booking"
    );
    assert_eq!(next(&first).await, Some(2));
    assert_eq!(next(&second).await, Some(1), "each booking counts its own");
    assert_eq!(next(&first).await, Some(3));
}

pub async fn another_tenants_booking_has_no_notice_sequence(store: &dyn Store) {
    let world = world(store).await;
    let theirs = booked(store, world.globex.id, world.gus.id, "2030-01-07T15:00:00Z").await;
    assert_eq!(
        store
            .next_notice_sequence(world.acme.id, theirs.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .next_notice_sequence(world.globex.id, theirs.id)
            .await
            .unwrap(),
        Some(1),
        "the other tenant's try counted nothing"
    );
}

pub async fn a_notification_template_is_written_replaced_and_removed(store: &dyn Store) {
    let world = world(store).await;
    let acme = world.acme.id;
    let kind = "booking_created";
    assert_eq!(
        store.get_notification_template(acme, kind).await.unwrap(),
        None
    );
    let first = store
        .put_notification_template(acme, kind, "Booked: {{ title }}", "See you")
        .await
        .unwrap();
    assert_eq!(
        (first.kind.as_str(), first.subject.as_str()),
        (kind, "Booked: {{ title }}")
    );
    store
        .put_notification_template(acme, kind, "Confirmed", "See you soon")
        .await
        .unwrap();
    let read = store
        .get_notification_template(acme, kind)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.subject.as_str(), read.body.as_str()),
        ("Confirmed", "See you soon")
    );
    assert_eq!(
        store
            .get_notification_template(acme, "booking_cancelled")
            .await
            .unwrap(),
        None,
        "each kind is its own"
    );
    assert!(
        store
            .delete_notification_template(acme, kind)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_notification_template(acme, kind)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_notification_template(acme, kind).await.unwrap(),
        None
    );
}

pub async fn the_other_tenant_neither_sees_nor_removes_a_notification_template(store: &dyn Store) {
    let world = world(store).await;
    let kind = "booking_created";
    store
        .put_notification_template(world.acme.id, kind, "Acme's", "Acme's body")
        .await
        .unwrap();
    let globex = world.globex.id;
    assert_eq!(
        store.get_notification_template(globex, kind).await.unwrap(),
        None
    );
    assert!(
        !store
            .delete_notification_template(globex, kind)
            .await
            .unwrap()
    );
    store
        .put_notification_template(globex, kind, "Globex's", "Globex's body")
        .await
        .unwrap();
    let acme = store
        .get_notification_template(world.acme.id, kind)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acme.subject, "Acme's");
}
