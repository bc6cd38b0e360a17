//! Calendar events: which ones are busy time, the listing filters, replace and delete, the busy
//! version each write bumps, and what another tenant sees (nothing).

use pillow_store::*;

use crate::fixtures::*;

/// The range the cases ask about: Monday 2025-03-10, 09:00 to 17:00 UTC.
fn range() -> (jiff::Timestamp, jiff::Timestamp) {
    (at("2025-03-10T09:00:00Z"), at("2025-03-10T17:00:00Z"))
}

/// Ada's Monday (meeting, free focus time, a cancelled and a tentative event, breakfast just
/// before the range and dinner just after), Bob's conference and all-day events, and one of
/// Gus's at Globex.
struct Scene {
    world: World,
    meeting: CalendarEvent,
    transparent: CalendarEvent,
    cancelled: CalendarEvent,
    tentative: CalendarEvent,
    before: CalendarEvent,
    after: CalendarEvent,
    long: CalendarEvent,
    holiday: CalendarEvent,
    next_day: CalendarEvent,
    far: CalendarEvent,
    gus_event: CalendarEvent,
}

/// The tentative event synchronised from a provider.
fn tentative(user: UserId) -> NewCalendarEvent {
    NewCalendarEvent {
        status: EventStatus::Tentative,
        provider_id: Some(ConnectionId::new()),
        external_id: Some("google-123".into()),
        etag: Some("\"etag-1\"".into()),
        description: Some("Maybe".into()),
        source: EventSource::Google,
        ..event(
            user,
            "Tentative",
            "2025-03-10T15:30:00Z",
            "2025-03-10T16:00:00Z",
        )
    }
}

fn all_day(user: UserId, title: &str, start: &str, end: &str) -> NewCalendarEvent {
    NewCalendarEvent {
        all_day: true,
        ..event(user, title, start, end)
    }
}

async fn scene(store: &dyn Store) -> Scene {
    let world = world(store).await;
    let (ada, bob) = (world.ada.id, world.bob.id);
    let create = async |tenant: TenantId, event: NewCalendarEvent| {
        store
            .create_event(tenant, EventId::new(), &event, &[])
            .await
            .unwrap()
    };
    let acme = world.acme.id;
    Scene {
        meeting: create(
            acme,
            event(
                ada,
                "Meeting",
                "2025-03-10T10:00:00Z",
                "2025-03-10T11:00:00Z",
            ),
        )
        .await,
        transparent: create(
            acme,
            NewCalendarEvent {
                transparency: Transparency::Transparent,
                ..event(
                    ada,
                    "Focus (free)",
                    "2025-03-10T12:00:00Z",
                    "2025-03-10T13:00:00Z",
                )
            },
        )
        .await,
        cancelled: create(
            acme,
            NewCalendarEvent {
                status: EventStatus::Cancelled,
                ..event(
                    ada,
                    "Cancelled",
                    "2025-03-10T14:00:00Z",
                    "2025-03-10T15:00:00Z",
                )
            },
        )
        .await,
        tentative: create(acme, tentative(ada)).await,
        // Ends exactly where the range starts: half-open ranges do not overlap.
        before: create(
            acme,
            event(
                ada,
                "Breakfast",
                "2025-03-10T08:00:00Z",
                "2025-03-10T09:00:00Z",
            ),
        )
        .await,
        // Starts exactly where the range ends.
        after: create(
            acme,
            event(
                ada,
                "Dinner",
                "2025-03-10T17:00:00Z",
                "2025-03-10T18:00:00Z",
            ),
        )
        .await,
        // Spans the whole range from the day before.
        long: create(
            acme,
            event(
                bob,
                "Conference",
                "2025-03-09T12:00:00Z",
                "2025-03-11T12:00:00Z",
            ),
        )
        .await,
        // All-day on the range's date, and all-day the day after (within the one-day widening).
        holiday: create(
            acme,
            all_day(
                bob,
                "Holiday",
                "2025-03-10T00:00:00Z",
                "2025-03-11T00:00:00Z",
            ),
        )
        .await,
        next_day: create(
            acme,
            all_day(bob, "Off", "2025-03-11T00:00:00Z", "2025-03-12T00:00:00Z"),
        )
        .await,
        // All-day two days later: outside any zone's view of the range.
        far: create(
            acme,
            all_day(
                bob,
                "Far off",
                "2025-03-12T00:00:00Z",
                "2025-03-13T00:00:00Z",
            ),
        )
        .await,
        gus_event: create(
            world.globex.id,
            event(
                world.gus.id,
                "Globex",
                "2025-03-10T10:00:00Z",
                "2025-03-10T11:00:00Z",
            ),
        )
        .await,
        world,
    }
}

/// The meeting, moved out of the range, with every mutable field changed. It names Bob, which
/// the store ignores: an event stays with its user.
fn moved(world: &World) -> NewCalendarEvent {
    NewCalendarEvent {
        user_id: world.bob.id,
        provider_id: None,
        external_id: None,
        etag: Some("\"etag-2\"".into()),
        title: "Meeting, moved".into(),
        description: Some("Now later".into()),
        start: at("2025-03-10T17:00:00Z"),
        end: at("2025-03-10T17:30:00Z"),
        all_day: false,
        status: EventStatus::Tentative,
        transparency: Transparency::Opaque,
        source: EventSource::Booking,
        booking_id: Some(BookingId::new()),
    }
}

fn ids(events: Vec<CalendarEvent>) -> Vec<EventId> {
    events.into_iter().map(|e| e.id).collect()
}

fn everything() -> EventFilter {
    EventFilter {
        include_cancelled: true,
        ..EventFilter::default()
    }
}

pub async fn a_new_event_reads_back_and_bumps_its_users_version(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    let meeting = store
        .create_event(
            acme.id,
            EventId::new(),
            &event(
                ada.id,
                "Meeting",
                "2025-03-10T10:00:00Z",
                "2025-03-10T11:00:00Z",
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(meeting.tenant_id, acme.id);
    assert_eq!(meeting.user_id, ada.id);
    assert_eq!(meeting.start, at("2025-03-10T10:00:00Z"));
    assert_eq!(
        store.get_event(acme.id, meeting.id).await.unwrap(),
        Some(meeting.clone())
    );
    assert_eq!(version(store, acme.id, ada.id).await, 1);
}

pub async fn a_provider_event_keeps_its_external_id_and_source(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    let tentative = store
        .create_event(acme.id, EventId::new(), &tentative(ada.id), &[])
        .await
        .unwrap();
    assert_eq!(tentative.external_id.as_deref(), Some("google-123"));
    assert_eq!(tentative.source, EventSource::Google);
}

/// Cancelled, transparent and out-of-range events too: any of them may change what is free.
pub async fn every_new_event_bumps_its_users_version_once(store: &dyn Store) {
    let Scene { world, .. } = scene(store).await;
    assert_eq!(version(store, world.acme.id, world.ada.id).await, 6);
    assert_eq!(version(store, world.acme.id, world.bob.id).await, 4);
}

pub async fn the_same_provider_event_twice_is_a_conflict(store: &dyn Store) {
    let Scene {
        world, tentative, ..
    } = scene(store).await;
    let (acme, bob) = (world.acme.id, world.bob.id);
    let duplicate = store
        .create_event(
            acme,
            EventId::new(),
            &NewCalendarEvent {
                provider_id: tentative.provider_id,
                external_id: Some("google-123".into()),
                ..event(bob, "Again", "2025-03-10T15:30:00Z", "2025-03-10T16:00:00Z")
            },
            &[],
        )
        .await;
    assert!(
        matches!(
            &duplicate,
            Err(StoreError::Conflict(Constraint::EventExternalId))
        ),
        "same provider event twice: {duplicate:?}"
    );
    assert_eq!(
        version(store, acme, bob).await,
        4,
        "refused writes bump nothing"
    );
}

pub async fn an_event_for_another_tenants_user_is_refused(store: &dyn Store) {
    let World {
        acme, globex, ada, ..
    } = world(store).await;
    let foreign = store
        .create_event(
            globex.id,
            EventId::new(),
            &event(
                ada.id,
                "Stolen",
                "2025-03-10T10:00:00Z",
                "2025-03-10T11:00:00Z",
            ),
            &[],
        )
        .await;
    assert!(
        matches!(&foreign, Err(StoreError::MissingReference(Entity::User))),
        "an event for another tenant's user: {foreign:?}"
    );
    assert_eq!(
        version(store, acme.id, ada.id).await,
        0,
        "refused writes bump nothing"
    );
}

/// Not the transparent or cancelled ones, nor those that only touch the range's ends; all-day
/// events count within a day either side, since the user's zone decides their instants.
pub async fn busy_time_is_the_blocking_events_overlapping_the_range(store: &dyn Store) {
    let scene = scene(store).await;
    let (acme, ada, bob) = (scene.world.acme.id, scene.world.ada.id, scene.world.bob.id);
    let (from, to) = range();
    let mut busy = store
        .busy_events(acme, &[ada, bob], from, to)
        .await
        .unwrap();
    busy.sort_by_key(busy_key);
    let mut expected: Vec<BusyEvent> = [
        &scene.meeting,
        &scene.tentative,
        &scene.long,
        &scene.holiday,
        &scene.next_day,
    ]
    .into_iter()
    .map(as_busy)
    .collect();
    expected.sort_by_key(busy_key);
    assert_eq!(busy, expected);
    let only_ada = store.busy_events(acme, &[ada], from, to).await.unwrap();
    assert_eq!(only_ada.len(), 2, "{only_ada:?}");
}

/// The same events as [`busy_time_is_the_blocking_events_overlapping_the_range`], each with
/// its title, in start order; none of another tenant's.
pub async fn titled_busy_time_is_the_blocking_events_in_start_order(store: &dyn Store) {
    let scene = scene(store).await;
    let (acme, ada, bob) = (scene.world.acme.id, scene.world.ada.id, scene.world.bob.id);
    let (from, to) = range();
    let titled = store
        .titled_busy_events(acme, &[ada, bob], from, to)
        .await
        .unwrap();
    let mut expected: Vec<TitledBusyEvent> = [
        &scene.meeting,
        &scene.tentative,
        &scene.long,
        &scene.holiday,
        &scene.next_day,
    ]
    .into_iter()
    .map(|e| TitledBusyEvent {
        user_id: e.user_id,
        title: e.title.clone(),
        start: e.start,
        end: e.end,
        all_day: e.all_day,
    })
    .collect();
    expected.sort_by_key(|e| e.start);
    assert_eq!(titled, expected);
    assert!(
        store
            .titled_busy_events(acme, &[scene.world.gus.id], from, to)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .titled_busy_events(acme, &[], from, to)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn busy_time_of_no_users_or_of_another_tenants_user_is_empty(store: &dyn Store) {
    let Scene { world, .. } = scene(store).await;
    let (from, to) = range();
    let acme = world.acme.id;
    assert!(
        store
            .busy_events(acme, &[], from, to)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .busy_events(acme, &[world.gus.id], from, to)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn events_are_listed_by_start_then_id(store: &dyn Store) {
    let s = scene(store).await;
    assert_eq!(
        ids(store
            .list_events(s.world.acme.id, &everything())
            .await
            .unwrap()),
        vec![
            s.long.id,
            s.holiday.id,
            s.before.id,
            s.meeting.id,
            s.transparent.id,
            s.cancelled.id,
            s.tentative.id,
            s.after.id,
            s.next_day.id,
            s.far.id
        ],
        "by start, then id"
    );
}

/// Cancelled events only when asked for; transparent ones always, since they are still events.
pub async fn a_listing_in_a_range_holds_the_users_events_overlapping_it(store: &dyn Store) {
    let s = scene(store).await;
    let acme = s.world.acme.id;
    let (from, to) = range();
    let in_range = EventFilter {
        user_ids: vec![s.world.ada.id],
        from: Some(from),
        to: Some(to),
        include_cancelled: false,
    };
    assert_eq!(
        ids(store.list_events(acme, &in_range).await.unwrap()),
        vec![s.meeting.id, s.transparent.id, s.tentative.id]
    );
    let with_cancelled = EventFilter {
        include_cancelled: true,
        ..in_range.clone()
    };
    assert_eq!(
        ids(store.list_events(acme, &with_cancelled).await.unwrap()),
        vec![
            s.meeting.id,
            s.transparent.id,
            s.cancelled.id,
            s.tentative.id
        ]
    );
    let bobs_range = EventFilter {
        user_ids: vec![s.world.bob.id],
        ..in_range.clone()
    };
    assert_eq!(
        ids(store.list_events(acme, &bobs_range).await.unwrap()),
        vec![s.long.id, s.holiday.id, s.next_day.id]
    );
}

pub async fn a_listing_bounded_on_one_side_widens_all_day_events_by_a_day(store: &dyn Store) {
    let s = scene(store).await;
    let acme = s.world.acme.id;
    let from_only = EventFilter {
        from: Some(at("2025-03-10T16:00:00Z")),
        ..EventFilter::default()
    };
    assert_eq!(
        ids(store.list_events(acme, &from_only).await.unwrap()),
        vec![s.long.id, s.holiday.id, s.after.id, s.next_day.id, s.far.id]
    );
    let to_only = EventFilter {
        to: Some(at("2025-03-10T09:00:00Z")),
        ..EventFilter::default()
    };
    assert_eq!(
        ids(store.list_events(acme, &to_only).await.unwrap()),
        vec![s.long.id, s.holiday.id, s.before.id, s.next_day.id],
        "the next day's all-day event is within the one-day widening"
    );
}

pub async fn replacing_an_event_changes_every_mutable_field_but_not_its_user(store: &dyn Store) {
    let Scene {
        world,
        meeting,
        tentative,
        ..
    } = scene(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    let moved = moved(&world);
    let replaced = store
        .replace_event(acme, meeting.id, &moved, &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.id, meeting.id);
    assert_eq!(replaced.user_id, ada);
    assert_eq!(replaced.created_at, meeting.created_at);
    assert_eq!(
        (
            replaced.title.as_str(),
            replaced.start,
            replaced.end,
            replaced.status,
            replaced.source
        ),
        (
            "Meeting, moved",
            moved.start,
            moved.end,
            EventStatus::Tentative,
            EventSource::Booking
        )
    );
    assert_eq!(replaced.booking_id, moved.booking_id);
    assert_eq!(replaced.etag, moved.etag);
    assert_eq!(
        store.get_event(acme, meeting.id).await.unwrap(),
        Some(replaced.clone())
    );
    assert_eq!(version(store, acme, ada).await, 7);
    assert_eq!(version(store, acme, world.bob.id).await, 4);
    let (from, to) = range();
    assert_eq!(
        store.busy_events(acme, &[ada], from, to).await.unwrap(),
        vec![as_busy(&tentative)],
        "the moved meeting no longer overlaps"
    );
}

pub async fn the_other_tenant_neither_sees_nor_changes_an_event(store: &dyn Store) {
    let Scene {
        world,
        meeting,
        gus_event,
        ..
    } = scene(store).await;
    let (globex, ada, bob) = (world.globex.id, world.ada.id, world.bob.id);
    let before = version(store, world.acme.id, ada).await;
    assert_eq!(store.get_event(globex, meeting.id).await.unwrap(), None);
    assert_eq!(
        store
            .replace_event(globex, meeting.id, &moved(&world), &[])
            .await
            .unwrap(),
        None
    );
    assert!(!store.delete_event(globex, meeting.id, &[]).await.unwrap());
    let (from, to) = range();
    assert!(
        store
            .busy_events(globex, &[ada, bob], from, to)
            .await
            .unwrap()
            .is_empty()
    );
    let globex_all = store.list_events(globex, &everything()).await.unwrap();
    assert_eq!(ids(globex_all), vec![gus_event.id]);
    let globex_for_acme = EventFilter {
        user_ids: vec![ada, bob],
        ..everything()
    };
    assert!(
        store
            .list_events(globex, &globex_for_acme)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(version(store, world.acme.id, ada).await, before);
    assert_eq!(
        store.get_event(world.acme.id, meeting.id).await.unwrap(),
        Some(meeting)
    );
}

pub async fn a_deleted_event_is_gone_and_bumps_the_version_once(store: &dyn Store) {
    let Scene { world, meeting, .. } = scene(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    let before = version(store, acme, ada).await;
    assert!(store.delete_event(acme, meeting.id, &[]).await.unwrap());
    assert!(
        !store.delete_event(acme, meeting.id, &[]).await.unwrap(),
        "already gone"
    );
    assert_eq!(store.get_event(acme, meeting.id).await.unwrap(), None);
    assert_eq!(
        store
            .replace_event(acme, meeting.id, &moved(&world), &[])
            .await
            .unwrap(),
        None
    );
    assert_eq!(version(store, acme, ada).await, before + 1);
}

pub async fn deleting_a_user_deletes_the_users_events(store: &dyn Store) {
    let Scene { world, long, .. } = scene(store).await;
    let (acme, bob) = (world.acme.id, world.bob.id);
    assert!(store.delete_user(acme, bob).await.unwrap());
    assert_eq!(store.get_event(acme, long.id).await.unwrap(), None);
    let (from, to) = range();
    assert!(
        store
            .busy_events(acme, &[bob], from, to)
            .await
            .unwrap()
            .is_empty()
    );
}
