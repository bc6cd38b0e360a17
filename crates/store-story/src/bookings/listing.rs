//! Listing bookings: the order, and each filter on its own.

use pillow_store::*;

use super::*;

fn ids(bookings: Vec<Booking>) -> Vec<BookingId> {
    bookings.into_iter().map(|b| b.id).collect()
}

pub async fn bookings_are_listed_by_start_then_id(store: &dyn Store) {
    let (Monday { world, .. }, _) = monday_after_moves(store).await;
    let all_acme = store
        .list_bookings(world.acme.id, &BookingFilter::default())
        .await
        .unwrap();
    assert_eq!(all_acme.len(), 8);
    assert!(
        all_acme
            .windows(2)
            .all(|w| (w[0].start, w[0].id) < (w[1].start, w[1].id)),
        "sorted by start, then id"
    );
}

pub async fn bookings_are_filtered_by_status_by_user_and_by_agent(store: &dyn Store) {
    let (
        Monday {
            world,
            agent,
            a,
            bobs,
            ..
        },
        _,
    ) = monday_after_moves(store).await;
    let acme = world.acme.id;
    let listed =
        async |filter: BookingFilter| ids(store.list_bookings(acme, &filter).await.unwrap());
    assert_eq!(
        listed(BookingFilter {
            status: Some(BookingStatus::Cancelled),
            ..BookingFilter::default()
        })
        .await,
        vec![a.id]
    );
    assert_eq!(
        listed(BookingFilter {
            user_id: Some(world.bob.id),
            ..BookingFilter::default()
        })
        .await,
        vec![bobs.id]
    );
    assert_eq!(
        listed(BookingFilter {
            agent_id: Some(agent.id),
            ..BookingFilter::default()
        })
        .await,
        vec![a.id]
    );
}

/// [10:30, 14:15): overlapping by [start, end), buffers not counted.
pub async fn a_listing_window_holds_the_bookings_overlapping_it_buffers_not_counted(
    store: &dyn Store,
) {
    let (Monday { world, b, c, .. }, _) = monday_after_moves(store).await;
    let window = BookingFilter {
        user_id: Some(world.ada.id),
        from: Some(at("2025-03-10T10:30:00Z")),
        to: Some(at("2025-03-10T14:15:00Z")),
        ..BookingFilter::default()
    };
    assert_eq!(
        ids(store.list_bookings(world.acme.id, &window).await.unwrap()),
        vec![b.id, c.id]
    );
}

pub async fn a_listing_limit_keeps_the_first_bookings(store: &dyn Store) {
    let (Monday { world, .. }, _) = monday_after_moves(store).await;
    let acme = world.acme.id;
    let all_acme = store
        .list_bookings(acme, &BookingFilter::default())
        .await
        .unwrap();
    let limited = BookingFilter {
        limit: Some(2),
        ..BookingFilter::default()
    };
    assert_eq!(
        ids(store.list_bookings(acme, &limited).await.unwrap()),
        ids(all_acme[..2].to_vec())
    );
}
