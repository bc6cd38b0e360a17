//! Bookings: overlaps with buffers and events, codes, the booking's own event, busy time,
//! cancelling and rescheduling, member stats, listing, and what another tenant sees.
//!
//! Most cases start from [`monday`], Ada's busy Monday, or from the same day after its
//! cancellation and moves ([`monday_after_moves`]), so their numbers (busy versions, counts)
//! are those of one well-known day rather than of whatever ran before.

use pillow_store::*;

use crate::fixtures::*;

mod busy;
mod caps;
mod changes;
mod concurrency;
mod create;
mod listing;
mod stats;
mod tenancy;

pub use busy::*;
pub use caps::*;
pub use changes::*;
pub use concurrency::*;
pub use create::*;
pub use listing::*;
pub use stats::*;
pub use tenancy::*;

/// Ada's Monday 2025-03-10, Bob's one booking, and one at Globex with A's code.
pub(crate) struct Monday {
    pub world: World,
    /// Acme's agent; A was booked through it.
    pub agent: Agent,
    /// Globex's agent.
    pub foreign_agent: Agent,
    /// 10:00–10:30 with ten minutes after: occupies [10:00, 10:40).
    pub a: Booking,
    /// 10:40–11:00, just after A's buffer.
    pub b: Booking,
    /// Ada's opaque meeting, 12:00–13:00.
    pub meeting: CalendarEvent,
    /// 14:00–14:30, over a transparent event.
    pub c: Booking,
    /// 15:00–15:30, over a cancelled event.
    pub d: Booking,
    /// All day on Tuesday.
    pub holiday: CalendarEvent,
    /// 16:00–16:30.
    pub monday_late: Booking,
    /// Bob's, 10:00–10:30 with five minutes either side.
    pub bobs: Booking,
    /// Gus's at Globex, with A's confirmation code.
    pub gus_same_code: Booking,
}

/// Books `booking` for `tenant`, which must succeed.
pub(crate) async fn book(store: &dyn Store, tenant: TenantId, booking: NewBooking) -> Booking {
    store
        .create_booking(tenant, &booking, &[], None)
        .await
        .unwrap()
}

/// Creates `event` for `tenant`, which must succeed.
pub(crate) async fn add_event(
    store: &dyn Store,
    tenant: TenantId,
    event: NewCalendarEvent,
) -> CalendarEvent {
    store
        .create_event(tenant, EventId::new(), &event, &[])
        .await
        .unwrap()
}

/// A through Acme's agent: [10:00, 10:30) and ten minutes after.
pub(crate) fn booking_a(ada: &User, agent: &Agent) -> NewBooking {
    NewBooking {
        agent_id: Some(agent.id),
        ..booking(
            ada.id,
            "2025-03-10T10:00:00Z",
            "2025-03-10T10:30:00Z",
            0,
            10,
        )
    }
}

/// Bob's booking at the time of A: [10:00, 10:30), five minutes either side.
pub(crate) fn bobs_booking(bob: &User) -> NewBooking {
    booking(bob.id, "2025-03-10T10:00:00Z", "2025-03-10T10:30:00Z", 5, 5)
}

/// Ada's Monday: ten writes to her calendar, in this order (so her busy version is 10): A, B,
/// the meeting, a transparent and a cancelled event, C and D over them, Tuesday's holiday, a
/// late booking, and an event marked as a booking's own with no booking. Then Bob's booking
/// (his version is 1), and Gus's at Globex with A's code.
pub(crate) async fn monday(store: &dyn Store) -> Monday {
    let world = world(store).await;
    let acme = world.acme.id;
    let ada = world.ada.id;
    let agent = store
        .create_agent(acme, &new_agent("Front desk"))
        .await
        .unwrap();
    let foreign_agent = store
        .create_agent(world.globex.id, &new_agent("Elsewhere"))
        .await
        .unwrap();
    let a = book(store, acme, booking_a(&world.ada, &agent)).await;
    let b = book(
        store,
        acme,
        booking(ada, "2025-03-10T10:40:00Z", "2025-03-10T11:00:00Z", 0, 0),
    )
    .await;
    let meeting = add_event(
        store,
        acme,
        event(
            ada,
            "Meeting",
            "2025-03-10T12:00:00Z",
            "2025-03-10T13:00:00Z",
        ),
    )
    .await;
    add_event(store, acme, transparent_focus(ada)).await;
    add_event(store, acme, called_off(ada)).await;
    let c = book(
        store,
        acme,
        booking(ada, "2025-03-10T14:00:00Z", "2025-03-10T14:30:00Z", 0, 0),
    )
    .await;
    let d = book(
        store,
        acme,
        booking(ada, "2025-03-10T15:00:00Z", "2025-03-10T15:30:00Z", 0, 0),
    )
    .await;
    let holiday = add_event(store, acme, tuesday_holiday(ada)).await;
    let monday_late = book(
        store,
        acme,
        booking(ada, "2025-03-10T16:00:00Z", "2025-03-10T16:30:00Z", 0, 0),
    )
    .await;
    add_event(store, acme, orphan(ada)).await;
    let bobs = book(store, acme, bobs_booking(&world.bob)).await;
    let gus_same_code = book(
        store,
        world.globex.id,
        NewBooking {
            confirmation_code: a.confirmation_code.clone(),
            ..booking(
                world.gus.id,
                "2025-03-10T10:00:00Z",
                "2025-03-10T10:30:00Z",
                0,
                0,
            )
        },
    )
    .await;
    Monday {
        world,
        agent,
        foreign_agent,
        a,
        b,
        meeting,
        c,
        d,
        holiday,
        monday_late,
        bobs,
        gus_same_code,
    }
}

/// Free time over 14:00–15:00: a transparent event does not block.
pub(crate) fn transparent_focus(user: UserId) -> NewCalendarEvent {
    NewCalendarEvent {
        transparency: Transparency::Transparent,
        ..event(
            user,
            "Focus",
            "2025-03-10T14:00:00Z",
            "2025-03-10T15:00:00Z",
        )
    }
}

/// A cancelled event over 15:00–16:00: it does not block either.
pub(crate) fn called_off(user: UserId) -> NewCalendarEvent {
    NewCalendarEvent {
        status: EventStatus::Cancelled,
        ..event(
            user,
            "Called off",
            "2025-03-10T15:00:00Z",
            "2025-03-10T16:00:00Z",
        )
    }
}

/// All day on Tuesday 2025-03-11.
pub(crate) fn tuesday_holiday(user: UserId) -> NewCalendarEvent {
    NewCalendarEvent {
        all_day: true,
        ..event(
            user,
            "Holiday",
            "2025-03-11T00:00:00Z",
            "2025-03-12T00:00:00Z",
        )
    }
}

/// An event marked as a booking's own, 16:30–16:45, though no booking has it.
pub(crate) fn orphan(user: UserId) -> NewCalendarEvent {
    NewCalendarEvent {
        source: EventSource::Booking,
        ..event(
            user,
            "Orphan",
            "2025-03-10T16:30:00Z",
            "2025-03-10T16:45:00Z",
        )
    }
}

/// [`monday`] once A is cancelled and E booked in its old time (Ada's version is 12).
pub(crate) async fn monday_with_e(store: &dyn Store) -> (Monday, Booking) {
    let monday = monday(store).await;
    let acme = monday.world.acme.id;
    store
        .cancel_booking(acme, monday.a.id, Some("Caller asked"), &[], None)
        .await
        .unwrap()
        .unwrap();
    let e = book(
        store,
        acme,
        booking(
            monday.world.ada.id,
            "2025-03-10T10:00:00Z",
            "2025-03-10T10:30:00Z",
            0,
            0,
        ),
    )
    .await;
    (monday, e)
}

/// Moves `booking` to `[start, end)`, which must succeed.
pub(crate) async fn moved(
    store: &dyn Store,
    tenant: TenantId,
    booking: &Booking,
    start: &str,
    end: &str,
) -> Booking {
    store
        .reschedule_booking(tenant, booking.id, at(start), at(end), &[], None)
        .await
        .unwrap()
        .unwrap()
}

/// [`monday_with_e`] once E is moved to 09:45 and then to 09:00, and F booked in the time E
/// left: Acme has eight bookings, A the one cancelled, and Ada's version is 15.
pub(crate) async fn monday_after_moves(store: &dyn Store) -> (Monday, Booking) {
    let (monday, e) = monday_with_e(store).await;
    let acme = monday.world.acme.id;
    moved(
        store,
        acme,
        &e,
        "2025-03-10T09:45:00Z",
        "2025-03-10T10:15:00Z",
    )
    .await;
    let e = moved(
        store,
        acme,
        &e,
        "2025-03-10T09:00:00Z",
        "2025-03-10T09:30:00Z",
    )
    .await;
    book(
        store,
        acme,
        booking(
            monday.world.ada.id,
            "2025-03-10T10:00:00Z",
            "2025-03-10T10:30:00Z",
            0,
            0,
        ),
    )
    .await;
    (monday, e)
}
