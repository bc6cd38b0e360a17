//! What another tenant sees of Acme's bookings (nothing) and may do to them (nothing).

use pillow_store::*;

use super::*;

pub async fn the_other_tenant_sees_no_bookings(store: &dyn Store) {
    let (
        Monday {
            world,
            b,
            gus_same_code,
            ..
        },
        _,
    ) = monday_after_moves(store).await;
    let (globex, ada, bob) = (world.globex.id, world.ada.id, world.bob.id);
    assert_eq!(store.get_booking(globex, b.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_booking_by_code(globex, &b.confirmation_code)
            .await
            .unwrap(),
        None
    );
    let ids = |bookings: Vec<Booking>| bookings.into_iter().map(|b| b.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .list_bookings(globex, &BookingFilter::default())
            .await
            .unwrap()),
        vec![gus_same_code.id]
    );
    assert!(
        store
            .list_bookings(
                globex,
                &BookingFilter {
                    user_id: Some(ada),
                    ..BookingFilter::default()
                }
            )
            .await
            .unwrap()
            .is_empty()
    );
    let now = at("2025-03-10T14:00:00Z");
    assert!(
        store
            .member_stats(globex, &[ada, bob], now)
            .await
            .unwrap()
            .is_empty()
    );
    let (from, to) = (at("2025-03-10T09:00:00Z"), at("2025-03-10T17:00:00Z"));
    assert!(
        store
            .busy_events(globex, &[ada], from, to)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn the_same_code_in_another_tenant_is_another_booking(store: &dyn Store) {
    let (
        Monday {
            world,
            a,
            gus_same_code,
            ..
        },
        _,
    ) = monday_after_moves(store).await;
    assert_eq!(
        store
            .find_booking_by_code(world.globex.id, &a.confirmation_code)
            .await
            .unwrap()
            .map(|found| found.id),
        Some(gus_same_code.id),
        "the same code in another tenant is another booking"
    );
}

pub async fn the_other_tenant_can_neither_cancel_nor_move_a_booking(store: &dyn Store) {
    let (Monday { world, b, .. }, _) = monday_after_moves(store).await;
    let globex = world.globex.id;
    assert_eq!(
        store
            .cancel_booking(globex, b.id, None, &[], None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .reschedule_booking(
                globex,
                b.id,
                at("2025-03-12T09:00:00Z"),
                at("2025-03-12T09:30:00Z"),
                &[],
                None
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_booking(world.acme.id, b.id).await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(version(store, world.acme.id, world.ada.id).await, 15);
}

pub async fn a_booking_for_another_tenants_user_or_agent_is_refused(store: &dyn Store) {
    let (
        Monday {
            world,
            foreign_agent,
            ..
        },
        _,
    ) = monday_after_moves(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    let stolen = store
        .create_booking(
            world.globex.id,
            &booking(ada, "2025-03-12T09:00:00Z", "2025-03-12T09:30:00Z", 0, 0),
            &[],
            None,
        )
        .await;
    assert!(
        matches!(&stolen, Err(StoreError::MissingReference(Entity::User))),
        "{stolen:?}"
    );
    let wrong_agent = store
        .create_booking(
            acme,
            &NewBooking {
                agent_id: Some(foreign_agent.id),
                ..booking(ada, "2025-03-12T09:00:00Z", "2025-03-12T09:30:00Z", 0, 0)
            },
            &[],
            None,
        )
        .await;
    assert!(
        matches!(
            &wrong_agent,
            Err(StoreError::MissingReference(Entity::Agent))
        ),
        "{wrong_agent:?}"
    );
    assert_eq!(version(store, acme, ada).await, 15, "refusals bump nothing");
}
