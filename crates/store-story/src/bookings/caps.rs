//! Per-member limits: a capped booking counts the member's confirmed bookings in its ranges
//! inside the write, so no race takes a member over their limit.

use pillow_store::*;

use super::*;

/// Monday 2025-03-10 as a UTC day, with at most `max` bookings.
fn monday_cap(max: u32) -> BookingCap {
    BookingCap {
        from: at("2025-03-10T00:00:00Z"),
        to: at("2025-03-11T00:00:00Z"),
        max,
    }
}

/// Half an hour of `user` on Monday 2025-03-10 starting at `hour`:00 UTC.
fn half_hour(user: UserId, hour: u32) -> NewBooking {
    booking(
        user,
        &format!("2025-03-10T{hour:02}:00:00Z"),
        &format!("2025-03-10T{hour:02}:30:00Z"),
        0,
        0,
    )
}

pub async fn a_capped_booking_is_refused_once_the_member_has_the_most_allowed(store: &dyn Store) {
    let w = world(store).await;
    let caps = [monday_cap(2)];
    for hour in [9, 10] {
        store
            .create_capped_booking(w.acme.id, &half_hour(w.ada.id, hour), &caps, &[], None)
            .await
            .unwrap();
    }
    let third = store
        .create_capped_booking(
            w.acme.id,
            &half_hour(w.ada.id, 11),
            &caps,
            &[job("n", 1)],
            None,
        )
        .await;
    assert!(is_conflict(&third, Constraint::BookingLimit), "{third:?}");
    // Nothing of the refused booking was written: not its row, not its job, not its version.
    let listed = store
        .list_bookings(w.acme.id, &BookingFilter::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(store.list_jobs(w.acme.id, None).await.unwrap().is_empty());
    assert_eq!(version(store, w.acme.id, w.ada.id).await, 2);
    // Only bookings starting in a cap's range count: Monday's two leave Tuesday empty.
    let tuesday = NewBooking {
        start: at("2025-03-11T09:00:00Z"),
        end: at("2025-03-11T09:30:00Z"),
        ..half_hour(w.ada.id, 9)
    };
    let tuesday_cap = BookingCap {
        from: at("2025-03-11T00:00:00Z"),
        to: at("2025-03-12T00:00:00Z"),
        max: 1,
    };
    store
        .create_capped_booking(w.acme.id, &tuesday, &[tuesday_cap], &[], None)
        .await
        .unwrap();
}

pub async fn cancelled_bookings_and_other_members_do_not_count_toward_a_cap(store: &dyn Store) {
    let w = world(store).await;
    let caps = [monday_cap(1)];
    let first = store
        .create_capped_booking(w.acme.id, &half_hour(w.ada.id, 9), &caps, &[], None)
        .await
        .unwrap();
    // Bob's day is his own.
    store
        .create_capped_booking(w.acme.id, &half_hour(w.bob.id, 9), &caps, &[], None)
        .await
        .unwrap();
    store
        .cancel_booking(w.acme.id, first.id, None, &[], None)
        .await
        .unwrap()
        .unwrap();
    store
        .create_capped_booking(w.acme.id, &half_hour(w.ada.id, 10), &caps, &[], None)
        .await
        .unwrap();
}

/// Fifty bookings of one member at fifty different times of one capped day, all at once:
/// exactly the cap are written, every other one is refused for the limit.
pub async fn fifty_racing_capped_bookings_make_exactly_the_cap(store: std::sync::Arc<dyn Store>) {
    let acme = store.create_tenant("Acme capped race").await.unwrap();
    let ada = store
        .create_user(acme.id, &new_user("ada@capped.test"))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..50i64)
        .map(|i| {
            let store = store.clone();
            let start = at("2025-03-10T00:00:00Z") + jiff::SignedDuration::from_mins(20 * i);
            let new = NewBooking {
                start,
                end: start + jiff::SignedDuration::from_mins(15),
                ..booking(ada.id, "2025-03-10T00:00:00Z", "2025-03-10T00:15:00Z", 0, 0)
            };
            tokio::spawn(async move {
                store
                    .create_capped_booking(acme.id, &new, &[monday_cap(3)], &[], None)
                    .await
            })
        })
        .collect();
    let (mut won, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("the task ran") {
            Ok(_) => won += 1,
            Err(StoreError::Conflict(Constraint::BookingLimit)) => refused += 1,
            Err(other) => panic!("a racing booking failed otherwise: {other:?}"),
        }
    }
    assert_eq!((won, refused), (3, 47));
    let filter = BookingFilter {
        status: Some(BookingStatus::Confirmed),
        ..BookingFilter::default()
    };
    assert_eq!(
        store.list_bookings(acme.id, &filter).await.unwrap().len(),
        3
    );
}

/// A capped move counts the member's other bookings only: it may move within a full day, not
/// onto one, and a refused move leaves the booking, its jobs and the version as they were.
pub async fn a_capped_move_is_refused_onto_a_full_day_and_allowed_within_its_own(
    store: &dyn Store,
) {
    let w = world(store).await;
    let caps = [monday_cap(2)];
    let nine = store
        .create_capped_booking(w.acme.id, &half_hour(w.ada.id, 9), &caps, &[], None)
        .await
        .unwrap();
    store
        .create_capped_booking(w.acme.id, &half_hour(w.ada.id, 10), &caps, &[], None)
        .await
        .unwrap();
    // Within its own full day: it does not count against itself.
    let moved = store
        .reschedule_capped_booking(
            w.acme.id,
            nine.id,
            at("2025-03-10T14:00:00Z"),
            at("2025-03-10T14:30:00Z"),
            &caps,
            &[],
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.start, at("2025-03-10T14:00:00Z"));
    // From Tuesday onto the full Monday: refused, and nothing changes.
    let tuesday = store
        .create_booking(
            w.acme.id,
            &NewBooking {
                start: at("2025-03-11T09:00:00Z"),
                end: at("2025-03-11T09:30:00Z"),
                ..half_hour(w.ada.id, 9)
            },
            &[],
            None,
        )
        .await
        .unwrap();
    let before = version(store, w.acme.id, w.ada.id).await;
    let refused = store
        .reschedule_capped_booking(
            w.acme.id,
            tuesday.id,
            at("2025-03-10T16:00:00Z"),
            at("2025-03-10T16:30:00Z"),
            &caps,
            &[job("n", 1)],
            None,
        )
        .await;
    assert!(
        is_conflict(&refused, Constraint::BookingLimit),
        "{refused:?}"
    );
    let still = store
        .get_booking(w.acme.id, tuesday.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.start, at("2025-03-11T09:00:00Z"));
    assert!(store.list_jobs(w.acme.id, None).await.unwrap().is_empty());
    assert_eq!(version(store, w.acme.id, w.ada.id).await, before);
    // Without caps the same move is an ordinary reschedule.
    store
        .reschedule_booking(
            w.acme.id,
            tuesday.id,
            at("2025-03-10T16:00:00Z"),
            at("2025-03-10T16:30:00Z"),
            &[],
            None,
        )
        .await
        .unwrap()
        .unwrap();
}

/// Three Monday 09:00 occurrences of one series of Ada's, weeks apart from 2025-03-10.
async fn weekly_series(store: &dyn Store, w: &World) -> Vec<Booking> {
    let occurrences: Vec<HostBooking> = ["10", "17", "24"]
        .iter()
        .map(|day| HostBooking {
            booking: booking(
                w.ada.id,
                &format!("2025-03-{day}T09:00:00Z"),
                &format!("2025-03-{day}T09:30:00Z"),
                0,
                0,
            ),
            caps: Vec::new(),
        })
        .collect();
    store
        .create_series(
            w.acme.id,
            uuid::Uuid::now_v7(),
            "FREQ=WEEKLY;COUNT=3",
            &occurrences,
            &[],
            None,
        )
        .await
        .unwrap()
}

/// Each occurrence of `series` moved by `minutes`, latest first when moving later.
fn shifted(series: &[Booking], minutes: i64) -> Vec<SeriesMove> {
    let by = jiff::SignedDuration::from_mins(minutes);
    let mut moves: Vec<SeriesMove> = series
        .iter()
        .map(|b| SeriesMove {
            id: b.id,
            start: b.start.checked_add(by).unwrap(),
            end: b.end.checked_add(by).unwrap(),
            caps: Vec::new(),
        })
        .collect();
    if minutes > 0 {
        moves.reverse();
    }
    moves
}

pub async fn a_series_moves_together_or_not_at_all_when_one_new_time_is_taken(store: &dyn Store) {
    let w = world(store).await;
    let series = weekly_series(store, &w).await;
    // Ada has another appointment at 10:00 on the 24th: an hour later is taken for the third.
    store
        .create_booking(
            w.acme.id,
            &booking(
                w.ada.id,
                "2025-03-24T10:00:00Z",
                "2025-03-24T10:30:00Z",
                0,
                0,
            ),
            &[],
            None,
        )
        .await
        .unwrap();
    let refused = store
        .move_series(w.acme.id, &shifted(&series, 60), &[job("n", 1)], None)
        .await;
    assert!(
        is_conflict(&refused, Constraint::BookingOverlap),
        "{refused:?}"
    );
    for original in &series {
        let now = store
            .get_booking(w.acme.id, original.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.start, original.start, "nothing moved");
    }
    assert!(store.list_jobs(w.acme.id, None).await.unwrap().is_empty());
    // A week later exactly, onto each other's old times: latest first, so none ever meets
    // another on the way, and all move.
    let moved = store
        .move_series(
            w.acme.id,
            &shifted(&series, 7 * 24 * 60),
            &[job("n", 1)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(moved.len(), 3);
    let mut now: Vec<_> = Vec::new();
    for original in &series {
        now.push(
            store
                .get_booking(w.acme.id, original.id)
                .await
                .unwrap()
                .unwrap()
                .start,
        );
    }
    assert_eq!(
        now,
        [
            at("2025-03-17T09:00:00Z"),
            at("2025-03-24T09:00:00Z"),
            at("2025-03-31T09:00:00Z")
        ]
    );
    assert_eq!(store.list_jobs(w.acme.id, None).await.unwrap().len(), 1);
}
