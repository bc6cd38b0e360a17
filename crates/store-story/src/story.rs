//! One story, every backend: scenarios that drive the [`Store`] trait end to end.
//!
//! Each backend crate runs these from its own tests, so SQLite and PostgreSQL are held to the
//! same behaviour. They panic with a message on the first broken expectation, like any test.

use pillow_store::*;
use uuid::Uuid;

use crate::fixtures::*;

/// Bookings: overlaps with buffers and events, codes, the booking's event, busy time, cancel,
/// reschedule, busy versions, stats, listing, and what a second tenant sees.
pub async fn bookings(store: &dyn Store) {
    let acme = store.create_tenant("Acme bookings").await.unwrap();
    let globex = store.create_tenant("Globex bookings").await.unwrap();
    let ada = store
        .create_user(acme.id, &new_user("ada@bookings.test"))
        .await
        .unwrap();
    let bob = store
        .create_user(acme.id, &new_user("bob@bookings.test"))
        .await
        .unwrap();
    let gus = store
        .create_user(globex.id, &new_user("gus@bookings.test"))
        .await
        .unwrap();
    let agent = store
        .create_agent(acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    let foreign_agent = store
        .create_agent(globex.id, &new_agent("Elsewhere"))
        .await
        .unwrap();

    // A occupies [10:00, 10:40): ten minutes after it.
    let new_a = NewBooking {
        agent_id: Some(agent.id),
        ..booking(
            ada.id,
            "2025-03-10T10:00:00Z",
            "2025-03-10T10:30:00Z",
            0,
            10,
        )
    };
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
    assert_eq!(
        store
            .find_booking_by_code(acme.id, &a.confirmation_code)
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store
            .find_booking_by_code(acme.id, &a.confirmation_code.to_lowercase())
            .await
            .unwrap(),
        None,
        "codes match exactly"
    );
    assert_eq!(version(store, acme.id, ada.id).await, 1);

    // Its calendar event: [start, end), no buffers, source booking.
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

    // Within A's buffer after: refused. Just after it: fine.
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
    // The new booking's own buffer after reaches into A.
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
    let b = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T10:40:00Z", "2025-03-10T11:00:00Z", 0, 0),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(version(store, acme.id, ada.id).await, 2);

    // A blocking event refuses bookings that meet it, buffers included.
    let meeting = store
        .create_event(
            acme.id,
            new_id(),
            &event(
                ada.id,
                "Meeting",
                "2025-03-10T12:00:00Z",
                "2025-03-10T13:00:00Z",
            ),
            &[],
        )
        .await
        .unwrap();
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
    // Transparent and cancelled events do not block.
    store
        .create_event(
            acme.id,
            new_id(),
            &NewCalendarEvent {
                transparency: Transparency::Transparent,
                ..event(
                    ada.id,
                    "Focus",
                    "2025-03-10T14:00:00Z",
                    "2025-03-10T15:00:00Z",
                )
            },
            &[],
        )
        .await
        .unwrap();
    store
        .create_event(
            acme.id,
            new_id(),
            &NewCalendarEvent {
                status: EventStatus::Cancelled,
                ..event(
                    ada.id,
                    "Called off",
                    "2025-03-10T15:00:00Z",
                    "2025-03-10T16:00:00Z",
                )
            },
            &[],
        )
        .await
        .unwrap();
    let c = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T14:00:00Z", "2025-03-10T14:30:00Z", 0, 0),
            &[],
            None,
        )
        .await
        .unwrap();
    let d = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T15:00:00Z", "2025-03-10T15:30:00Z", 0, 0),
            &[],
            None,
        )
        .await
        .unwrap();
    // An all-day event on Tuesday blocks Tuesday in Ada's zone (London), not Monday afternoon.
    let holiday = store
        .create_event(
            acme.id,
            new_id(),
            &NewCalendarEvent {
                all_day: true,
                ..event(
                    ada.id,
                    "Holiday",
                    "2025-03-11T00:00:00Z",
                    "2025-03-12T00:00:00Z",
                )
            },
            &[],
        )
        .await
        .unwrap();
    let monday_late = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T16:00:00Z", "2025-03-10T16:30:00Z", 0, 0),
            &[],
            None,
        )
        .await
        .unwrap();
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
    // An event marked as a booking's own (here without a booking) is not busy time.
    store
        .create_event(
            acme.id,
            new_id(),
            &NewCalendarEvent {
                source: EventSource::Booking,
                ..event(
                    ada.id,
                    "Orphan",
                    "2025-03-10T16:30:00Z",
                    "2025-03-10T16:45:00Z",
                )
            },
            &[],
        )
        .await
        .unwrap();
    // A, B, the meeting, 2 events, c, d, the holiday, monday_late, the orphan event.
    assert_eq!(version(store, acme.id, ada.id).await, 10);

    // Another user at the same time is fine; a code used in the tenant is not.
    let bobs = store
        .create_booking(
            acme.id,
            &booking(bob.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 5, 5),
            &[],
            None,
        )
        .await
        .unwrap();
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
    // The code is per tenant.
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
        .await
        .unwrap();

    // Busy time: each booking's occupied range once (not also its event), and the blocking
    // events; not the transparent, cancelled or booking-sourced ones.
    let (from, to) = (at("2025-03-10T09:00:00Z"), at("2025-03-10T17:00:00Z"));
    let busy_key = |b: &BusyEvent| (b.user_id, b.start, b.end, b.all_day);
    let occupied = |booking: &Booking| {
        let (start, end) = booking.occupied();
        BusyEvent {
            user_id: booking.user_id,
            start,
            end,
            all_day: false,
        }
    };
    let as_busy = |e: &CalendarEvent| BusyEvent {
        user_id: e.user_id,
        start: e.start,
        end: e.end,
        all_day: e.all_day,
    };
    let mut got = store
        .busy_events(acme.id, &[ada.id, bob.id], from, to)
        .await
        .unwrap();
    got.sort_by_key(busy_key);
    let mut expected: Vec<BusyEvent> = [&a, &b, &c, &d, &monday_late, &bobs]
        .into_iter()
        .map(occupied)
        .chain([as_busy(&meeting), as_busy(&holiday)])
        .collect();
    expected.sort_by_key(busy_key);
    assert_eq!(got, expected);
    assert_eq!(
        store
            .busy_events(acme.id, &[bob.id], from, to)
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
    // A range that touches only a buffer still sees the booking.
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

    // Cancelling frees the slot.
    let cancelled = store
        .cancel_booking(acme.id, a.id, Some("Caller asked"), &[], None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("Caller asked"));
    assert!(cancelled.cancelled_at.is_some());
    assert_eq!((cancelled.start, cancelled.end), (a.start, a.end));
    assert_eq!(
        store.get_booking(acme.id, a.id).await.unwrap(),
        Some(cancelled.clone())
    );
    let events = booking_events(store, acme.id, ada.id, a.id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, EventStatus::Cancelled);
    assert_eq!(version(store, acme.id, ada.id).await, 11);
    let again = store
        .cancel_booking(acme.id, a.id, Some("Twice"), &[job("again", 1)], None)
        .await
        .unwrap();
    assert_eq!(
        again,
        Some(cancelled.clone()),
        "cancelling twice changes nothing"
    );
    assert_eq!(version(store, acme.id, ada.id).await, 11);
    assert!(
        store.list_jobs(acme.id, None).await.unwrap().is_empty(),
        "no new jobs"
    );
    let e = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(version(store, acme.id, ada.id).await, 12);

    // Rescheduling into a taken time fails and leaves the booking where it was.
    for (start, end) in [
        ("2025-03-10T10:30:00Z", "2025-03-10T11:00:00Z"), // B
        ("2025-03-10T12:15:00Z", "2025-03-10T12:45:00Z"), // the meeting
        ("2025-03-11T09:00:00Z", "2025-03-11T09:30:00Z"), // the holiday
    ] {
        let clash = store
            .reschedule_booking(acme.id, e.id, at(start), at(end), &[], None)
            .await;
        assert!(
            is_conflict(&clash, Constraint::BookingOverlap),
            "{start}: {clash:?}"
        );
    }
    assert_eq!(
        store.get_booking(acme.id, e.id).await.unwrap(),
        Some(e.clone())
    );
    assert_eq!(version(store, acme.id, ada.id).await, 12);
    // Into a free time: the booking and its event move. Overlapping its own old time is fine.
    let moved = store
        .reschedule_booking(
            acme.id,
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
    let events = booking_events(store, acme.id, ada.id, e.id).await;
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].start, events[0].end), (moved.start, moved.end));
    assert_eq!(version(store, acme.id, ada.id).await, 13);
    let moved = store
        .reschedule_booking(
            acme.id,
            e.id,
            at("2025-03-10T09:00:00Z"),
            at("2025-03-10T09:30:00Z"),
            &[],
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version(store, acme.id, ada.id).await, 14);
    // The old time is free again.
    store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0),
            &[],
            None,
        )
        .await
        .unwrap();
    let not_confirmed = store
        .reschedule_booking(
            acme.id,
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
    assert_eq!(
        store
            .reschedule_booking(acme.id, new_id(), moved.start, moved.end, &[], None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .cancel_booking(acme.id, new_id(), None, &[], None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(version(store, acme.id, ada.id).await, 15);

    // Member stats.
    let now = at("2025-03-10T14:00:00Z");
    let mut stats = store
        .member_stats(acme.id, &[ada.id, bob.id, gus.id, new_id()], now)
        .await
        .unwrap();
    stats.sort_by_key(|s| s.user_id);
    let confirmed_of = async |user: uuid::Uuid| {
        store
            .list_bookings(
                acme.id,
                &BookingFilter {
                    user_id: Some(user),
                    status: Some(BookingStatus::Confirmed),
                    ..BookingFilter::default()
                },
            )
            .await
            .unwrap()
    };
    let mut expected = Vec::new();
    for user in [ada.id, bob.id] {
        let confirmed = confirmed_of(user).await;
        expected.push(MemberStats {
            user_id: user,
            last_booked_at: confirmed.iter().map(|b| b.created_at).max(),
            upcoming: confirmed.iter().filter(|b| b.start >= now).count() as u32,
        });
    }
    expected.sort_by_key(|s| s.user_id);
    assert_eq!(stats, expected);
    let ada_stats = stats.iter().find(|s| s.user_id == ada.id).unwrap();
    assert_eq!(
        ada_stats.upcoming, 3,
        "c, d and monday_late start at or after 14:00"
    );
    let bob_stats = stats.iter().find(|s| s.user_id == bob.id).unwrap();
    assert_eq!(
        (bob_stats.upcoming, bob_stats.last_booked_at),
        (0, Some(bobs.created_at))
    );
    let carl = store
        .create_user(acme.id, &new_user("carl@bookings.test"))
        .await
        .unwrap();
    assert_eq!(
        store.member_stats(acme.id, &[carl.id], now).await.unwrap(),
        vec![MemberStats {
            user_id: carl.id,
            last_booked_at: None,
            upcoming: 0
        }]
    );
    assert!(
        store
            .member_stats(acme.id, &[], now)
            .await
            .unwrap()
            .is_empty()
    );

    // Listing.
    let ids = |bookings: Vec<Booking>| bookings.into_iter().map(|b| b.id).collect::<Vec<_>>();
    let all_acme = store
        .list_bookings(acme.id, &BookingFilter::default())
        .await
        .unwrap();
    assert_eq!(all_acme.len(), 8);
    assert!(
        all_acme
            .windows(2)
            .all(|w| (w[0].start, w[0].id) < (w[1].start, w[1].id)),
        "sorted by start, then id"
    );
    assert_eq!(
        ids(store
            .list_bookings(
                acme.id,
                &BookingFilter {
                    status: Some(BookingStatus::Cancelled),
                    ..BookingFilter::default()
                },
            )
            .await
            .unwrap()),
        vec![a.id]
    );
    assert_eq!(
        ids(store
            .list_bookings(
                acme.id,
                &BookingFilter {
                    user_id: Some(bob.id),
                    ..BookingFilter::default()
                },
            )
            .await
            .unwrap()),
        vec![bobs.id]
    );
    assert_eq!(
        ids(store
            .list_bookings(
                acme.id,
                &BookingFilter {
                    agent_id: Some(agent.id),
                    ..BookingFilter::default()
                },
            )
            .await
            .unwrap()),
        vec![a.id]
    );
    // [10:30, 14:15): overlapping by [start, end), buffers not counted.
    let window = BookingFilter {
        user_id: Some(ada.id),
        from: Some(at("2025-03-10T10:30:00Z")),
        to: Some(at("2025-03-10T14:15:00Z")),
        ..BookingFilter::default()
    };
    assert_eq!(
        ids(store.list_bookings(acme.id, &window).await.unwrap()),
        vec![b.id, c.id]
    );
    let limited = BookingFilter {
        limit: Some(2),
        ..BookingFilter::default()
    };
    assert_eq!(
        ids(store.list_bookings(acme.id, &limited).await.unwrap()),
        ids(all_acme[..2].to_vec())
    );

    // The other tenant sees nothing and changes nothing.
    assert_eq!(store.get_booking(globex.id, b.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_booking_by_code(globex.id, &b.confirmation_code)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_booking_by_code(globex.id, &a.confirmation_code)
            .await
            .unwrap()
            .map(|found| found.id),
        Some(gus_same_code.id),
        "the same code in another tenant is another booking"
    );
    assert_eq!(
        ids(store
            .list_bookings(globex.id, &BookingFilter::default())
            .await
            .unwrap()),
        vec![gus_same_code.id]
    );
    assert!(
        store
            .list_bookings(
                globex.id,
                &BookingFilter {
                    user_id: Some(ada.id),
                    ..BookingFilter::default()
                }
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .cancel_booking(globex.id, b.id, None, &[], None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .reschedule_booking(
                globex.id,
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
    assert!(
        store
            .member_stats(globex.id, &[ada.id, bob.id], now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .busy_events(globex.id, &[ada.id], from, to)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.get_booking(acme.id, b.id).await.unwrap(),
        Some(b.clone())
    );
    let stolen = store
        .create_booking(
            globex.id,
            &booking(ada.id, "2025-03-12T09:00:00Z", "2025-03-12T09:30:00Z", 0, 0),
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
            acme.id,
            &NewBooking {
                agent_id: Some(foreign_agent.id),
                ..booking(ada.id, "2025-03-12T09:00:00Z", "2025-03-12T09:30:00Z", 0, 0)
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
    assert_eq!(
        version(store, acme.id, ada.id).await,
        15,
        "refusals bump nothing"
    );
}

/// Fifty bookings of one user's one slot at once: exactly one wins, the rest are told the time
/// is taken, and nothing else goes wrong (SQLite waits its turn instead of failing busy).
pub async fn concurrent_bookings(store: std::sync::Arc<dyn Store>) {
    let acme = store.create_tenant("Acme race").await.unwrap();
    let ada = store
        .create_user(acme.id, &new_user("ada@race.test"))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            // Starts differ a little, so the race is about overlap, not equality.
            let start = at("2025-03-10T10:00:00Z") + jiff::SignedDuration::from_mins(i % 5);
            let new = NewBooking {
                start,
                end: start + jiff::SignedDuration::from_mins(30),
                ..booking(ada.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0)
            };
            tokio::spawn(async move {
                store
                    .create_booking(acme.id, &new, &[job("notify", i)], None)
                    .await
            })
        })
        .collect();
    let mut won = 0;
    let mut lost = 0;
    for task in tasks {
        match task.await.expect("the task ran") {
            Ok(_) => won += 1,
            Err(StoreError::Conflict(Constraint::BookingOverlap)) => {
                lost += 1;
            }
            Err(other) => panic!("a racing booking failed otherwise: {other:?}"),
        }
    }
    assert_eq!((won, lost), (1, 49));
    let busy = store
        .busy_events(
            acme.id,
            &[ada.id],
            at("2025-03-10T00:00:00Z"),
            at("2025-03-11T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(busy.len(), 1, "{busy:?}");
    assert_eq!(version(&*store, acme.id, ada.id).await, 1);
    assert_eq!(
        store.list_jobs(acme.id, None).await.unwrap().len(),
        1,
        "only the winner's job was queued"
    );
}

/// Idempotency keys: claiming, in progress, done with the change it belongs to, stale owners,
/// finishing and abandoning.
pub async fn idempotency(store: &dyn Store) {
    let acme = store.create_tenant("Acme keys").await.unwrap();
    let globex = store.create_tenant("Globex keys").await.unwrap();
    let ada = store
        .create_user(acme.id, &new_user("ada@keys.test"))
        .await
        .unwrap();
    let t0 = at("2025-03-01T12:00:00Z");
    let stale = jiff::SignedDuration::from_secs(60);
    let secs = |s: i64| t0 + jiff::SignedDuration::from_secs(s);

    assert_eq!(
        store
            .begin_idempotent(acme.id, "k1", "h1", t0, stale)
            .await
            .unwrap(),
        IdempotencyState::Started
    );
    let running = IdempotencyState::InProgress {
        request_hash: "h1".into(),
    };
    assert_eq!(
        store
            .begin_idempotent(acme.id, "k1", "h1", secs(1), stale)
            .await
            .unwrap(),
        running
    );
    assert_eq!(
        store
            .begin_idempotent(acme.id, "k1", "h2", secs(2), stale)
            .await
            .unwrap(),
        running,
        "another body sees the first request's hash"
    );
    // Keys are per tenant.
    assert_eq!(
        store
            .begin_idempotent(globex.id, "k1", "h9", secs(2), stale)
            .await
            .unwrap(),
        IdempotencyState::Started
    );

    // The booking writes its answer in its own transaction.
    let body = serde_json::json!({"booking": {"code": "ABC"}, "list": [1, 2.5, null]});
    let response = IdempotentResponse {
        key: "k1".into(),
        request_hash: "h1".into(),
        status: 201,
        body: body.clone(),
    };
    let booked = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0),
            &[],
            Some(&response),
        )
        .await
        .unwrap();
    let done = IdempotencyState::Done {
        request_hash: "h1".into(),
        status: 201,
        body: body.clone(),
    };
    assert_eq!(
        store
            .begin_idempotent(acme.id, "k1", "h1", secs(3), stale)
            .await
            .unwrap(),
        done
    );
    assert_eq!(
        store
            .begin_idempotent(acme.id, "k1", "h1", secs(3600), stale)
            .await
            .unwrap(),
        done,
        "a done key is never taken over"
    );
    store.abandon_idempotent(acme.id, "k1").await.unwrap();
    assert_eq!(
        store
            .begin_idempotent(acme.id, "k1", "h1", secs(4), stale)
            .await
            .unwrap(),
        done,
        "abandoning keeps a done key"
    );
    // A refused booking writes nothing: its key stays in progress.
    store
        .begin_idempotent(acme.id, "k-clash", "h", t0, stale)
        .await
        .unwrap();
    let clash = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0),
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
        store
            .begin_idempotent(acme.id, "k-clash", "h", secs(1), stale)
            .await
            .unwrap(),
        IdempotencyState::InProgress {
            request_hash: "h".into()
        }
    );

    // A stale owner is taken over, by the same or another body.
    store
        .begin_idempotent(acme.id, "k2", "h2", t0, stale)
        .await
        .unwrap();
    assert_eq!(
        store
            .begin_idempotent(acme.id, "k2", "h2", secs(59), stale)
            .await
            .unwrap(),
        IdempotencyState::InProgress {
            request_hash: "h2".into()
        }
    );
    assert_eq!(
        store
            .begin_idempotent(acme.id, "k2", "h3", secs(60), stale)
            .await
            .unwrap(),
        IdempotencyState::Started
    );
    assert_eq!(
        store
            .begin_idempotent(acme.id, "k2", "h2", secs(61), stale)
            .await
            .unwrap(),
        IdempotencyState::InProgress {
            request_hash: "h3".into()
        },
        "the new owner's claim is fresh"
    );

    // Finishing a request that changed nothing.
    let refused = IdempotentResponse {
        key: "k2".into(),
        request_hash: "h3".into(),
        status: 409,
        body: serde_json::json!({"error": {"code": "slot_unavailable"}}),
    };
    store.finish_idempotent(acme.id, &refused).await.unwrap();
    assert_eq!(
        store
            .begin_idempotent(acme.id, "k2", "h3", secs(62), stale)
            .await
            .unwrap(),
        IdempotencyState::Done {
            request_hash: "h3".into(),
            status: 409,
            body: refused.body.clone(),
        }
    );

    // Abandoning after a failure lets the retry run.
    store
        .begin_idempotent(acme.id, "k3", "h", t0, stale)
        .await
        .unwrap();
    store.abandon_idempotent(acme.id, "k3").await.unwrap();
    assert_eq!(
        store
            .begin_idempotent(acme.id, "k3", "h", secs(1), stale)
            .await
            .unwrap(),
        IdempotencyState::Started
    );

    // Cancel and reschedule record their answers too.
    for (key, status) in [("k-cancel", 200), ("k-cancel-again", 200)] {
        let response = IdempotentResponse {
            key: key.into(),
            request_hash: "h".into(),
            status,
            body: serde_json::json!({"cancelled": true}),
        };
        store
            .cancel_booking(acme.id, booked.id, None, &[], Some(&response))
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(
                store
                    .begin_idempotent(acme.id, key, "h", t0, stale)
                    .await
                    .unwrap(),
                IdempotencyState::Done { status: 200, .. }
            ),
            "{key}"
        );
    }
    let other = store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T11:00:00Z", "2025-03-10T11:30:00Z", 0, 0),
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
            acme.id,
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
        store
            .begin_idempotent(acme.id, "k-move", "h", t0, stale)
            .await
            .unwrap(),
        IdempotencyState::Done {
            request_hash: "h".into(),
            status: 200,
            body: moved.body.clone(),
        }
    );
    // The other tenant's key with the same name is untouched.
    assert_eq!(
        store
            .begin_idempotent(globex.id, "k1", "h9", secs(5), stale)
            .await
            .unwrap(),
        IdempotencyState::InProgress {
            request_hash: "h9".into()
        }
    );
}

/// The outbox: jobs written with a booking, claimed once, retried, re-claimed after a lease,
/// completed or given up; the backlog.
pub async fn outbox(store: &dyn Store) {
    let acme = store.create_tenant("Acme outbox").await.unwrap();
    let globex = store.create_tenant("Globex outbox").await.unwrap();
    let ada = store
        .create_user(acme.id, &new_user("ada@outbox.test"))
        .await
        .unwrap();
    assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));

    store
        .create_booking(
            acme.id,
            &booking(ada.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 0, 0),
            &[job("google.write", 1), job("email.confirm", 2)],
            None,
        )
        .await
        .unwrap();
    store
        .enqueue_jobs(globex.id, &[job("test", 3)])
        .await
        .unwrap();
    store.enqueue_jobs(globex.id, &[]).await.unwrap();
    let queued = store.list_jobs(acme.id, None).await.unwrap();
    assert_eq!(
        queued.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(),
        vec!["google.write", "email.confirm"]
    );
    assert!(queued.iter().all(|j| j.status == JobStatus::Pending
        && j.attempts == 0
        && j.tenant_id == acme.id
        && j.last_error.is_none()));
    assert_eq!(queued[0].payload, job("google.write", 1).payload);
    assert_eq!(
        store
            .list_jobs(acme.id, Some("email.confirm"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.list_jobs(globex.id, None).await.unwrap().len(), 1);
    let (count, oldest) = store.outbox_backlog().await.unwrap();
    assert_eq!((count, oldest), (3, Some(queued[0].created_at)));

    // Claimed once, across tenants.
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let secs = |s: i64| t + jiff::SignedDuration::from_secs(s);
    let lease = jiff::SignedDuration::from_secs(60);
    let claimed = store.claim_jobs(t, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 3, "{claimed:?}");
    assert!(
        claimed
            .iter()
            .all(|j| j.status == JobStatus::Running && j.attempts == 1)
    );
    // Microseconds: what both databases keep.
    let lease_end = jiff::Timestamp::from_microsecond(secs(60).as_microsecond()).unwrap();
    assert!(claimed.iter().all(|j| j.next_attempt_at == lease_end));
    assert!(store.claim_jobs(t, lease, 10).await.unwrap().is_empty());
    assert!(
        store
            .claim_jobs(secs(59), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let (count, oldest) = store.outbox_backlog().await.unwrap();
    assert_eq!(
        (count, oldest),
        (3, None),
        "running jobs count, but none is pending"
    );

    let by_kind = |kind: &str| claimed.iter().find(|j| j.kind == kind).unwrap().id;
    let (write, confirm, test) = (
        by_kind("google.write"),
        by_kind("email.confirm"),
        by_kind("test"),
    );

    // A failure with a retry time is claimable from then on.
    store
        .fail_job(write, "503 from Google", Some(secs(30)))
        .await
        .unwrap();
    assert!(
        store
            .claim_jobs(secs(29), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store.claim_jobs(secs(31), lease, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (write, 2));
    assert_eq!(retried[0].last_error.as_deref(), Some("503 from Google"));

    // The others' lease ends at 60 s: their worker died, so they are claimed again.
    let reclaimed = store.claim_jobs(secs(60), lease, 10).await.unwrap();
    let mut ids: Vec<_> = reclaimed.iter().map(|j| j.id).collect();
    ids.sort();
    let mut expected = vec![confirm, test];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(reclaimed.iter().all(|j| j.attempts == 2));

    // Done, and failed for good.
    store.complete_job(confirm).await.unwrap();
    store.fail_job(test, "bad payload", None).await.unwrap();
    let jobs = store.list_jobs(globex.id, None).await.unwrap();
    assert_eq!(jobs[0].status, JobStatus::Failed);
    assert_eq!(jobs[0].last_error.as_deref(), Some("bad payload"));
    let jobs = store
        .list_jobs(acme.id, Some("email.confirm"))
        .await
        .unwrap();
    assert_eq!(jobs[0].status, JobStatus::Done);
    // Neither is claimed again, however late.
    let late = store.claim_jobs(secs(10_000), lease, 10).await.unwrap();
    assert_eq!(late.iter().map(|j| j.id).collect::<Vec<_>>(), vec![write]);
    store.complete_job(write).await.unwrap();
    assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));

    // The limit.
    store
        .enqueue_jobs(acme.id, &(0..5).map(|n| job("bulk", n)).collect::<Vec<_>>())
        .await
        .unwrap();
    let first = store.claim_jobs(secs(100), lease, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let oldest_pending = store.list_jobs(acme.id, Some("bulk")).await.unwrap()[2].created_at;
    assert_eq!(
        store.outbox_backlog().await.unwrap(),
        (5, Some(oldest_pending))
    );
    let rest = store.claim_jobs(secs(100), lease, 10).await.unwrap();
    assert_eq!(rest.len(), 3);

    // A batch is completed at once; nothing of it is claimed again, the rest is.
    let batch: Vec<Uuid> = first.iter().chain(&rest[..1]).map(|j| j.id).collect();
    store.complete_jobs(&batch).await.unwrap();
    store.complete_jobs(&[]).await.unwrap();
    let bulk = store.list_jobs(acme.id, Some("bulk")).await.unwrap();
    let done: Vec<Uuid> = bulk
        .iter()
        .filter(|j| j.status == JobStatus::Done)
        .map(|j| j.id)
        .collect();
    assert_eq!(done.len(), 3);
    assert!(batch.iter().all(|id| done.contains(id)));
    let again = store.claim_jobs(secs(10_000), lease, 10).await.unwrap();
    assert_eq!(again.len(), 2, "only the two not completed come back");
    assert!(again.iter().all(|j| !batch.contains(&j.id)));
}

/// Two workers claiming at once never get the same job.
pub async fn concurrent_claims(store: std::sync::Arc<dyn Store>) {
    let acme = store.create_tenant("Acme workers").await.unwrap();
    store
        .enqueue_jobs(
            acme.id,
            &(0..20).map(|n| job("work", n)).collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    let now = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let lease = jiff::SignedDuration::from_secs(60);
    let claim = || {
        let store = store.clone();
        tokio::spawn(async move { store.claim_jobs(now, lease, 10).await })
    };
    let (one, two) = (claim(), claim());
    let mut ids: Vec<_> = [one.await.unwrap().unwrap(), two.await.unwrap().unwrap()]
        .into_iter()
        .flatten()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids.len(), 20);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "a job was claimed twice");
}

/// Booking settings per agent: kept whole, replaced, per tenant, gone with the agent.
pub async fn booking_settings(store: &dyn Store) {
    let acme = store.create_tenant("Acme settings").await.unwrap();
    let globex = store.create_tenant("Globex settings").await.unwrap();
    let agent = store
        .create_agent(acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    assert_eq!(
        store.get_booking_settings(acme.id, agent.id).await.unwrap(),
        None
    );
    let settings = serde_json::json!({
        "duration": 30,
        "buffer_before": 5,
        "distribution": "round_robin",
        "members": ["a", "b"],
        "questions": [{"label": "Reason — why?", "required": true}],
        "nothing": null
    });
    store
        .put_booking_settings(acme.id, agent.id, &settings)
        .await
        .unwrap();
    assert_eq!(
        store.get_booking_settings(acme.id, agent.id).await.unwrap(),
        Some(settings.clone())
    );
    let replaced = serde_json::json!({"duration": 45});
    store
        .put_booking_settings(acme.id, agent.id, &replaced)
        .await
        .unwrap();
    assert_eq!(
        store.get_booking_settings(acme.id, agent.id).await.unwrap(),
        Some(replaced.clone())
    );

    // The other tenant neither sees nor writes them.
    assert_eq!(
        store
            .get_booking_settings(globex.id, agent.id)
            .await
            .unwrap(),
        None
    );
    let foreign = store
        .put_booking_settings(globex.id, agent.id, &settings)
        .await;
    assert!(
        matches!(&foreign, Err(StoreError::MissingReference(Entity::Agent))),
        "{foreign:?}"
    );
    let nobody = store
        .put_booking_settings(acme.id, new_id(), &settings)
        .await;
    assert!(
        matches!(&nobody, Err(StoreError::MissingReference(Entity::Agent))),
        "{nobody:?}"
    );
    assert_eq!(
        store.get_booking_settings(acme.id, agent.id).await.unwrap(),
        Some(replaced)
    );

    assert!(store.delete_agent(acme.id, agent.id).await.unwrap());
    assert_eq!(
        store.get_booking_settings(acme.id, agent.id).await.unwrap(),
        None
    );
}

/// Idempotency records and done jobs are purged after their time, in every tenant; newer
/// records, running and failed jobs stay.
pub async fn retention(store: &dyn Store) {
    let acme = store.create_tenant("Acme retention").await.unwrap();
    let globex = store.create_tenant("Globex retention").await.unwrap();
    let now = jiff::Timestamp::now();
    let long_ago: jiff::Timestamp = "2020-01-01T00:00:00Z".parse().unwrap();
    let stale = jiff::SignedDuration::from_secs(60);
    let started = |state: IdempotencyState| matches!(state, IdempotencyState::Started);
    assert!(started(
        store
            .begin_idempotent(acme.id, "old", "h1", long_ago, stale)
            .await
            .unwrap()
    ));
    assert!(started(
        store
            .begin_idempotent(globex.id, "old", "h2", long_ago, stale)
            .await
            .unwrap()
    ));
    assert!(started(
        store
            .begin_idempotent(acme.id, "fresh", "h3", now, stale)
            .await
            .unwrap()
    ));
    store
        .enqueue_jobs(acme.id, &[job("retention", 1), job("retention", 2)])
        .await
        .unwrap();
    store
        .enqueue_jobs(globex.id, &[job("retention", 3)])
        .await
        .unwrap();
    let claimed = store
        .claim_jobs(
            jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1),
            jiff::SignedDuration::from_secs(60),
            10,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    store.complete_jobs(&[claimed[0].id]).await.unwrap();
    store
        .fail_job(claimed[1].id, "given up", None)
        .await
        .unwrap();

    // Cut-offs before everything: nothing goes.
    assert_eq!(
        store.purge_expired(long_ago, long_ago).await.unwrap(),
        (0, 0)
    );
    // The records from long ago (in both tenants) and the done job go.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let cutoff = now - jiff::SignedDuration::from_hours(1);
    assert_eq!(store.purge_expired(cutoff, later).await.unwrap(), (2, 1));
    assert!(started(
        store
            .begin_idempotent(acme.id, "old", "h4", jiff::Timestamp::now(), stale)
            .await
            .unwrap()
    ));
    assert!(matches!(
        store
            .begin_idempotent(acme.id, "fresh", "h3", jiff::Timestamp::now(), stale)
            .await
            .unwrap(),
        IdempotencyState::InProgress { .. }
    ));
    let left: Vec<Uuid> = store
        .list_jobs(acme.id, Some("retention"))
        .await
        .unwrap()
        .into_iter()
        .chain(store.list_jobs(globex.id, Some("retention")).await.unwrap())
        .map(|j| j.id)
        .collect();
    assert_eq!(left.len(), 2, "the failed and the running job stay");
    assert!(!left.contains(&claimed[0].id));
}
