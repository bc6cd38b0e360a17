//! Bookings made at the same time: the database, not the caller, keeps them apart.

use pillow_store::*;

use super::*;

/// Fifty bookings of one user's one slot at once: exactly one wins, the rest are told the time
/// is taken, and nothing else goes wrong (SQLite waits its turn instead of failing busy).
pub async fn fifty_racing_bookings_of_one_slot_make_exactly_one(store: std::sync::Arc<dyn Store>) {
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
