//! Bookings as busy time: each one's occupied range, buffers included, once.

use pillow_store::*;

use super::*;

/// The busy range a booking stands for: its occupied range, buffers included.
fn occupied(booking: &Booking) -> BusyEvent {
    let (start, end) = booking.occupied();
    BusyEvent {
        user_id: booking.user_id,
        start,
        end,
        all_day: false,
    }
}

/// Not also each booking's own event; not the transparent, cancelled or booking-sourced events.
pub async fn busy_time_is_each_bookings_occupied_range_and_the_blocking_events(store: &dyn Store) {
    let m = monday(store).await;
    let (from, to) = (at("2025-03-10T09:00:00Z"), at("2025-03-10T17:00:00Z"));
    let mut got = store
        .busy_events(m.world.acme.id, &[m.world.ada.id, m.world.bob.id], from, to)
        .await
        .unwrap();
    got.sort_by_key(busy_key);
    let mut expected: Vec<BusyEvent> = [&m.a, &m.b, &m.c, &m.d, &m.monday_late, &m.bobs]
        .into_iter()
        .map(occupied)
        .chain([as_busy(&m.meeting), as_busy(&m.holiday)])
        .collect();
    expected.sort_by_key(busy_key);
    assert_eq!(got, expected);
}

pub async fn a_bookings_busy_time_includes_its_buffers(store: &dyn Store) {
    let World { acme, bob, .. } = world(store).await;
    book(store, acme.id, bobs_booking(&bob)).await;
    assert_eq!(
        store
            .busy_events(
                acme.id,
                &[bob.id],
                at("2025-03-10T09:00:00Z"),
                at("2025-03-10T17:00:00Z")
            )
            .await
            .unwrap(),
        vec![BusyEvent {
            user_id: bob.id,
            start: at("2025-03-10T09:55:00Z"),
            end: at("2025-03-10T10:35:00Z"),
            all_day: false,
        }],
        "the occupied range, buffers included"
    );
}

pub async fn a_range_touching_only_a_buffer_still_sees_the_booking(store: &dyn Store) {
    let World { acme, bob, .. } = world(store).await;
    book(store, acme.id, bobs_booking(&bob)).await;
    assert_eq!(
        store
            .busy_events(
                acme.id,
                &[bob.id],
                at("2025-03-10T10:30:00Z"),
                at("2025-03-10T10:31:00Z")
            )
            .await
            .unwrap()
            .len(),
        1
    );
}
