//! Making a booking: what it reads back as, its code and its own event, and which times are
//! refused (other bookings with their buffers, blocking events) or not.

use pillow_store::*;

use super::*;

pub async fn a_new_booking_reads_back_whole(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    let agent = store
        .create_agent(acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    let new_a = booking_a(&ada, &agent);
    let a = store
        .create_booking(acme.id, &new_a, &[], None)
        .await
        .unwrap();
    assert_eq!(
        (a.id, a.tenant_id, a.user_id, a.agent_id),
        (new_a.id, acme.id, ada.id, Some(agent.id))
    );
    assert_eq!(a.confirmation_code, new_a.confirmation_code);
    assert_eq!((a.start, a.end), (new_a.start, new_a.end));
    assert_eq!(
        a.occupied(),
        (at("2025-03-10T10:00:00Z"), at("2025-03-10T10:40:00Z"))
    );
    assert_eq!(a.attendee, attendee("Carol"));
    assert_eq!(a.notes, new_a.notes);
    assert_eq!(a.call_id.as_deref(), Some("call_123"));
    assert_eq!(a.status, BookingStatus::Confirmed);
    assert_eq!((a.cancel_reason.clone(), a.cancelled_at), (None, None));
    assert_eq!(
        store.get_booking(acme.id, a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(version(store, acme.id, ada.id).await, 1);
}

/// The channel a booking came through reads back, lists filter by it, and a booking made
/// without one (as every booking before channels were recorded) reads back without one.
pub async fn a_bookings_channel_reads_back_and_filters_the_list(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    let mut by_phone = booking(ada.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0);
    by_phone.channel = Some(BookingChannel::Vapi);
    let mut from_widget = booking(ada.id, "2025-03-10T11:00:00Z", "2025-03-10T11:30:00Z", 0, 0);
    from_widget.channel = Some(BookingChannel::Widget);
    let mut unknown = booking(ada.id, "2025-03-10T12:00:00Z", "2025-03-10T12:30:00Z", 0, 0);
    unknown.channel = None;
    let by_phone = book(store, acme.id, by_phone).await;
    let from_widget = book(store, acme.id, from_widget).await;
    let unknown = book(store, acme.id, unknown).await;
    assert_eq!(by_phone.channel, Some(BookingChannel::Vapi));
    assert_eq!(unknown.channel, None);
    assert_eq!(
        store
            .get_booking(acme.id, from_widget.id)
            .await
            .unwrap()
            .and_then(|b| b.channel),
        Some(BookingChannel::Widget)
    );
    let listed = |channel| async move {
        store
            .list_bookings(
                acme.id,
                &BookingFilter {
                    channel: Some(channel),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(BookingChannel::Vapi).await, vec![by_phone.id]);
    assert_eq!(listed(BookingChannel::Widget).await, vec![from_widget.id]);
    assert!(listed(BookingChannel::Mcp).await.is_empty());
    let all = store
        .list_bookings(acme.id, &BookingFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().any(|b| b.id == unknown.id));
}

/// Callers read codes aloud, so the store matches exactly; forgiving case is the caller's job.
pub async fn a_booking_is_found_by_its_exact_code(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    let a = book(
        store,
        acme.id,
        booking(
            ada.id,
            "2025-03-10T10:00:00Z",
            "2025-03-10T10:30:00Z",
            0,
            10,
        ),
    )
    .await;
    assert_eq!(
        store
            .find_booking_by_code(acme.id, &a.confirmation_code)
            .await
            .unwrap(),
        Some(a.clone())
    );
    // A code drawn with no letters reads the same in lower case: nothing to tell apart then.
    let lower = a.confirmation_code.to_lowercase();
    if lower != a.confirmation_code {
        assert_eq!(
            store.find_booking_by_code(acme.id, &lower).await.unwrap(),
            None,
            "codes match exactly"
        );
    }
}

/// Its calendar event: [start, end), no buffers, source booking.
pub async fn a_booking_has_its_own_event_without_the_buffers(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    let a = book(
        store,
        acme.id,
        booking(
            ada.id,
            "2025-03-10T10:00:00Z",
            "2025-03-10T10:30:00Z",
            0,
            10,
        ),
    )
    .await;
    let events = booking_events(store, acme.id, ada.id, a.id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let own = &events[0];
    assert_eq!(
        (own.start, own.end, own.source, own.status, own.transparency),
        (
            a.start,
            a.end,
            EventSource::Booking,
            EventStatus::Confirmed,
            Transparency::Opaque
        )
    );
    assert_eq!(own.title, "Intro call");
    assert!(!own.all_day);
}

/// World, and A booked (Ada's version is 1).
async fn with_a(store: &dyn Store) -> (World, Booking) {
    let world = world(store).await;
    let a = book(
        store,
        world.acme.id,
        booking(
            world.ada.id,
            "2025-03-10T10:00:00Z",
            "2025-03-10T10:30:00Z",
            0,
            10,
        ),
    )
    .await;
    (world, a)
}

pub async fn a_booking_inside_another_ones_buffer_is_refused(store: &dyn Store) {
    let (World { acme, ada, .. }, _a) = with_a(store).await;
    let inside_buffer = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T10:35:00Z", "2025-03-10T11:00:00Z", 0, 0),
            &[],
            None,
        )
        .await;
    assert!(
        is_conflict(&inside_buffer, Constraint::BookingOverlap),
        "{inside_buffer:?}"
    );
    assert_eq!(
        version(store, acme.id, ada.id).await,
        1,
        "refusals bump nothing"
    );
}

pub async fn a_booking_whose_own_buffer_reaches_another_is_refused(store: &dyn Store) {
    let (World { acme, ada, .. }, _a) = with_a(store).await;
    let own_buffer = store
        .create_booking(
            acme.id,
            &booking(
                ada.id,
                "2025-03-10T09:40:00Z",
                "2025-03-10T09:55:00Z",
                0,
                10,
            ),
            &[],
            None,
        )
        .await;
    assert!(
        is_conflict(&own_buffer, Constraint::BookingOverlap),
        "{own_buffer:?}"
    );
    assert_eq!(
        version(store, acme.id, ada.id).await,
        1,
        "refusals bump nothing"
    );
}

pub async fn a_booking_just_after_another_ones_buffer_is_accepted(store: &dyn Store) {
    let (World { acme, ada, .. }, _a) = with_a(store).await;
    let b = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T10:40:00Z", "2025-03-10T11:00:00Z", 0, 0),
            &[],
            None,
        )
        .await;
    assert!(b.is_ok(), "{b:?}");
    assert_eq!(version(store, acme.id, ada.id).await, 2);
}

pub async fn a_blocking_event_refuses_bookings_that_meet_it_buffers_included(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    add_event(
        store,
        acme.id,
        event(
            ada.id,
            "Meeting",
            "2025-03-10T12:00:00Z",
            "2025-03-10T13:00:00Z",
        ),
    )
    .await;
    for (start, end, before) in [
        ("2025-03-10T12:30:00Z", "2025-03-10T13:00:00Z", 0),
        ("2025-03-10T13:10:00Z", "2025-03-10T13:30:00Z", 15),
    ] {
        let refused = store
            .create_booking(acme.id, &booking(ada.id, start, end, before, 0), &[], None)
            .await;
        assert!(
            is_conflict(&refused, Constraint::BookingOverlap),
            "{start} with {before} before: {refused:?}"
        );
    }
}

pub async fn transparent_and_cancelled_events_do_not_block(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    add_event(store, acme.id, transparent_focus(ada.id)).await;
    add_event(store, acme.id, called_off(ada.id)).await;
    for (start, end) in [
        ("2025-03-10T14:00:00Z", "2025-03-10T14:30:00Z"),
        ("2025-03-10T15:00:00Z", "2025-03-10T15:30:00Z"),
    ] {
        let booked = store
            .create_booking(acme.id, &booking(ada.id, start, end, 0, 0), &[], None)
            .await;
        assert!(booked.is_ok(), "{start}: {booked:?}");
    }
}

/// An all-day event on Tuesday blocks Tuesday in Ada's zone (London), not Monday afternoon.
pub async fn an_all_day_event_blocks_its_date_in_the_users_zone_only(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    add_event(store, acme.id, tuesday_holiday(ada.id)).await;
    let monday_late = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T16:00:00Z", "2025-03-10T16:30:00Z", 0, 0),
            &[],
            None,
        )
        .await;
    assert!(monday_late.is_ok(), "{monday_late:?}");
    let on_holiday = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-11T10:00:00Z", "2025-03-11T10:30:00Z", 0, 0),
            &[],
            None,
        )
        .await;
    assert!(
        is_conflict(&on_holiday, Constraint::BookingOverlap),
        "{on_holiday:?}"
    );
}

/// A booking's own event stands for the booking, which is busy time already; here there is no
/// booking at all, and the event still blocks nothing.
pub async fn an_event_marked_as_a_bookings_own_is_not_busy_time(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    add_event(store, acme.id, orphan(ada.id)).await;
    assert!(
        store
            .busy_events(
                acme.id,
                &[ada.id],
                at("2025-03-10T16:00:00Z"),
                at("2025-03-10T17:00:00Z")
            )
            .await
            .unwrap()
            .is_empty()
    );
    let over_it = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T16:30:00Z", "2025-03-10T16:45:00Z", 0, 0),
            &[],
            None,
        )
        .await;
    assert!(over_it.is_ok(), "{over_it:?}");
}

/// A, B, the meeting, two events, C, D, the holiday, the late booking, the orphan event.
pub async fn every_booking_and_event_bumps_the_users_version_once(store: &dyn Store) {
    let Monday { world, .. } = monday(store).await;
    assert_eq!(version(store, world.acme.id, world.ada.id).await, 10);
    assert_eq!(version(store, world.acme.id, world.bob.id).await, 1);
}

pub async fn another_user_may_be_booked_at_the_same_time(store: &dyn Store) {
    let (World { acme, bob, .. }, _a) = with_a(store).await;
    let bobs = store
        .create_booking(acme.id, &bobs_booking(&bob), &[], None)
        .await;
    assert!(bobs.is_ok(), "{bobs:?}");
    assert_eq!(version(store, acme.id, bob.id).await, 1);
}

pub async fn a_code_already_used_in_the_tenant_is_refused(store: &dyn Store) {
    let (World { acme, bob, .. }, a) = with_a(store).await;
    book(store, acme.id, bobs_booking(&bob)).await;
    let same_code = store
        .create_booking(
            acme.id,
            &NewBooking {
                confirmation_code: a.confirmation_code.clone(),
                ..booking(bob.id, "2025-03-10T12:00:00Z", "2025-03-10T12:30:00Z", 0, 0)
            },
            &[],
            None,
        )
        .await;
    assert!(
        is_conflict(&same_code, Constraint::BookingCode),
        "{same_code:?}"
    );
    assert_eq!(version(store, acme.id, bob.id).await, 1);
}

pub async fn a_code_used_in_another_tenant_is_accepted(store: &dyn Store) {
    let (World { globex, gus, .. }, a) = with_a(store).await;
    let gus_same_code = store
        .create_booking(
            globex.id,
            &NewBooking {
                confirmation_code: a.confirmation_code.clone(),
                ..booking(gus.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0)
            },
            &[],
            None,
        )
        .await;
    assert!(gus_same_code.is_ok(), "{gus_same_code:?}");
}
