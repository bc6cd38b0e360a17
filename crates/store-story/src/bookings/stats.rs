//! Member stats, which team assignment reads: each member's upcoming confirmed bookings and
//! when they were last booked.

use pillow_store::*;

use super::*;

/// The instant the stats are taken at: Monday 14:00.
fn now() -> jiff::Timestamp {
    at("2025-03-10T14:00:00Z")
}

pub async fn member_stats_count_upcoming_confirmed_bookings_and_the_last_booked(store: &dyn Store) {
    let (Monday { world, bobs, .. }, _) = monday_after_moves(store).await;
    let (acme, ada, bob) = (world.acme.id, world.ada.id, world.bob.id);
    let mut stats = store
        .member_stats(acme, &[ada, bob, world.gus.id, UserId::new()], now())
        .await
        .unwrap();
    stats.sort_by_key(|s| s.user_id);
    let confirmed_of = async |user: UserId| {
        store
            .list_bookings(
                acme,
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
    for user in [ada, bob] {
        let confirmed = confirmed_of(user).await;
        expected.push(MemberStats {
            user_id: user,
            last_booked_at: confirmed.iter().map(|b| b.created_at).max(),
            upcoming: confirmed.iter().filter(|b| b.start >= now()).count() as u32,
        });
    }
    expected.sort_by_key(|s| s.user_id);
    assert_eq!(stats, expected);
    let ada_stats = stats.iter().find(|s| s.user_id == ada).unwrap();
    assert_eq!(
        ada_stats.upcoming, 3,
        "c, d and monday_late start at or after 14:00"
    );
    let bob_stats = stats.iter().find(|s| s.user_id == bob).unwrap();
    assert_eq!(
        (bob_stats.upcoming, bob_stats.last_booked_at),
        (0, Some(bobs.created_at))
    );
}

pub async fn a_member_never_booked_has_empty_stats(store: &dyn Store) {
    let (Monday { world, .. }, _) = monday_after_moves(store).await;
    let acme = world.acme.id;
    let carl = store
        .create_user(acme, &new_user("carl@acme.test"))
        .await
        .unwrap();
    assert_eq!(
        store.member_stats(acme, &[carl.id], now()).await.unwrap(),
        vec![MemberStats {
            user_id: carl.id,
            last_booked_at: None,
            upcoming: 0
        }]
    );
    assert!(
        store
            .member_stats(acme, &[], now())
            .await
            .unwrap()
            .is_empty()
    );
}
