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

/// Busy time is read bounded on both sides of the range: rows at most a day long by their
/// start, longer ones by their end. So an event three days long and a booking of almost two,
/// both begun days before the range, still block it, in the reads and in a booking's check; so
/// does an event exactly a day long (the cap) ending ten minutes into it, and a long all-day
/// event ending the day before (within the all-day widening, as ever). A short event that
/// ended just before the range does not.
pub async fn a_long_event_or_booking_begun_days_before_a_range_still_blocks_it(store: &dyn Store) {
    let World { acme, ada, bob, .. } = world(store).await;
    let acme = acme.id;
    let cy = store
        .create_user(acme, &new_user("cy@acme.test"))
        .await
        .unwrap();
    let (from, to) = (at("2025-03-10T09:00:00Z"), at("2025-03-10T17:00:00Z"));
    // Saturday 12:00 to Monday 09:30, fifteen minutes after: occupies until 09:45.
    let retreat = book(
        store,
        acme,
        booking(
            bob.id,
            "2025-03-08T12:00:00Z",
            "2025-03-10T09:30:00Z",
            0,
            15,
        ),
    )
    .await;
    let long_weekend = add_event(
        store,
        acme,
        NewCalendarEvent {
            all_day: true,
            ..event(
                bob.id,
                "Long weekend",
                "2025-03-07T00:00:00Z",
                "2025-03-10T00:00:00Z",
            )
        },
    )
    .await;
    let offsite = add_event(
        store,
        acme,
        event(
            ada.id,
            "Offsite",
            "2025-03-08T09:00:00Z",
            "2025-03-11T09:00:00Z",
        ),
    )
    .await;
    let night = add_event(
        store,
        acme,
        event(
            ada.id,
            "Night shift",
            "2025-03-09T09:10:00Z",
            "2025-03-10T09:10:00Z",
        ),
    )
    .await;
    add_event(
        store,
        acme,
        event(
            cy.id,
            "Early call",
            "2025-03-10T08:00:00Z",
            "2025-03-10T08:55:00Z",
        ),
    )
    .await;

    let users = [ada.id, bob.id, cy.id];
    let mut busy = store.busy_events(acme, &users, from, to).await.unwrap();
    busy.sort_by_key(busy_key);
    let mut expected: Vec<BusyEvent> = [&long_weekend, &offsite, &night]
        .into_iter()
        .map(as_busy)
        .chain([occupied(&retreat)])
        .collect();
    expected.sort_by_key(busy_key);
    assert_eq!(busy, expected, "not the early call");
    let titled: Vec<String> = store
        .titled_busy_events(acme, &users, from, to)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.title)
        .collect();
    assert_eq!(titled, ["Long weekend", "Offsite", "Night shift"]);

    for (user, start, end, why) in [
        (
            ada.id,
            "2025-03-10T12:00:00Z",
            "2025-03-10T12:30:00Z",
            "the offsite",
        ),
        (
            bob.id,
            "2025-03-10T09:30:00Z",
            "2025-03-10T10:00:00Z",
            "the retreat's buffer",
        ),
    ] {
        let refused = store
            .create_booking(acme, &booking(user, start, end, 0, 0), &[], None)
            .await;
        assert!(
            is_conflict(&refused, Constraint::BookingOverlap),
            "{why}: {refused:?}"
        );
    }
    // Five minutes before: occupies [08:55, 09:30), just after the early call.
    let after_the_call = store
        .create_booking(
            acme,
            &booking(cy.id, "2025-03-10T09:00:00Z", "2025-03-10T09:30:00Z", 5, 0),
            &[],
            None,
        )
        .await;
    assert!(after_the_call.is_ok(), "{after_the_call:?}");
}
