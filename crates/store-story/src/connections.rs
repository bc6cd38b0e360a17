//! Calendar connections (Google sync): reconnecting, patches, leases, the events synchronised
//! from them, sealed secrets, disconnecting, and what another tenant sees (nothing).

use jiff::{SignedDuration, Timestamp};
use pillow_store::*;

use crate::fixtures::*;

const LEASE: SignedDuration = SignedDuration::from_secs(60);

/// A user's primary Google calendar, with a refresh token or without.
fn connection(user_id: UserId, refresh: Option<&str>) -> NewCalendarConnection {
    NewCalendarConnection {
        user_id,
        kind: "google".into(),
        calendar_id: "primary".into(),
        account_email: "host@gmail.test".into(),
        access_token_encrypted: "v1:k:access".into(),
        refresh_token_encrypted: refresh.map(str::to_string),
        token_expires_at: Timestamp::now() + SignedDuration::from_hours(1),
        scopes: vec!["https://www.googleapis.com/auth/calendar.events".into()],
    }
}

/// An event as a sync brings it: `hour` hours into a fixed future day, its ETag the hour.
fn synced(external_id: &str, hour: i64, title: &str) -> NewCalendarEvent {
    let start = Timestamp::from_second(1_900_000_000 + hour * 3600).unwrap();
    NewCalendarEvent {
        user_id: UserId(uuid::Uuid::nil()),
        provider_id: None,
        external_id: Some(external_id.into()),
        etag: Some(format!("\"{hour}\"")),
        title: title.into(),
        description: None,
        start,
        end: start + SignedDuration::from_mins(30),
        all_day: false,
        status: EventStatus::Confirmed,
        transparency: Transparency::Opaque,
        source: EventSource::Google,
        booking_id: None,
    }
}

/// World, and Ada's connection (with a refresh token).
async fn connected(store: &dyn Store) -> (World, CalendarConnection) {
    let world = world(store).await;
    let first = store
        .upsert_calendar_connection(
            world.acme.id,
            &connection(world.ada.id, Some("v1:k:refresh")),
        )
        .await
        .unwrap();
    (world, first)
}

/// Ada's events, in the order the store lists them.
async fn hosts_events(store: &dyn Store, world: &World) -> Vec<CalendarEvent> {
    store
        .list_events(
            world.acme.id,
            &EventFilter {
                user_ids: vec![world.ada.id],
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

/// [`connected`], then two sync pages: g1, g2 and g3, then g1 moved and g2 deleted.
async fn synced_twice(store: &dyn Store) -> (World, CalendarConnection) {
    let (world, first) = connected(store).await;
    let (acme, host) = (world.acme.id, world.ada.id);
    store
        .apply_synced_events(
            acme,
            first.id,
            host,
            &[
                synced("g1", 1, "One"),
                synced("g2", 2, "Two"),
                synced("g3", 3, "Three"),
            ],
            &[],
        )
        .await
        .unwrap();
    store
        .apply_synced_events(
            acme,
            first.id,
            host,
            &[synced("g1", 5, "One moved")],
            &["g2".into()],
        )
        .await
        .unwrap();
    (world, first)
}

/// Our own event "Mine", written to the connection's calendar as "ours" with ETag "e1".
async fn ours(store: &dyn Store, world: &World, first: &CalendarConnection) -> CalendarEvent {
    let acme = world.acme.id;
    let mine = store
        .create_event(
            acme,
            EventId::new(),
            &NewCalendarEvent {
                user_id: world.ada.id,
                external_id: None,
                source: EventSource::Internal,
                ..synced("x", 9, "Mine")
            },
            &[],
        )
        .await
        .unwrap();
    store
        .set_event_provider_ref(acme, mine.id, Some(first.id), Some("ours"), Some("\"e1\""))
        .await
        .unwrap();
    mine
}

pub async fn a_new_connection_is_active_with_sync_enabled_and_no_sync_token(store: &dyn Store) {
    let (_, first) = connected(store).await;
    assert_eq!(first.status, ConnectionStatus::Active);
    assert!(first.sync_enabled && first.sync_token.is_none());
}

/// A reconnect without a refresh token (Google sends one only the first time) keeps the one
/// the store has.
pub async fn reconnecting_the_same_account_keeps_one_row_and_the_refresh_token(store: &dyn Store) {
    let (world, first) = connected(store).await;
    let again = store
        .upsert_calendar_connection(world.acme.id, &connection(world.ada.id, None))
        .await
        .unwrap();
    assert_eq!(
        again.id, first.id,
        "the same account connects to the same row"
    );
    assert_eq!(
        again.refresh_token_encrypted.as_deref(),
        Some("v1:k:refresh")
    );
    assert_eq!(
        store
            .list_calendar_connections(world.acme.id, Some(world.ada.id))
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn the_other_tenant_neither_sees_nor_changes_a_connection(store: &dyn Store) {
    let (world, first) = connected(store).await;
    let globex = world.globex.id;
    assert!(
        store
            .get_calendar_connection(globex, first.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .list_calendar_connections(globex, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .update_calendar_connection(globex, first.id, &ConnectionPatch::default())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .delete_calendar_connection(globex, first.id)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_calendar_connection(world.acme.id, first.id)
            .await
            .unwrap(),
        Some(first)
    );
}

pub async fn a_connection_for_another_tenants_user_is_refused(store: &dyn Store) {
    let World { acme, gus, .. } = world(store).await;
    let missing = store
        .upsert_calendar_connection(acme.id, &connection(gus.id, None))
        .await;
    assert!(
        matches!(missing, Err(StoreError::MissingReference(_))),
        "{missing:?}"
    );
}

/// The channel's expiry, to the second (what both databases keep of it, and more).
fn channel_expiry() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second() + 7200).unwrap()
}

/// A patch setting the sync token, an error and a push channel `chan-1`.
fn sync_patch(expires: Timestamp) -> ConnectionPatch {
    ConnectionPatch {
        sync_token: Some(Some("token-1".into())),
        last_error: Some(Some("boom".into())),
        channel: Some(Some(PushChannel {
            id: "chan-1".into(),
            resource_id: "res-1".into(),
            token_hash: "hash".into(),
            expires_at: expires,
        })),
        ..Default::default()
    }
}

pub async fn a_connection_patch_touches_only_what_it_names(store: &dyn Store) {
    let (world, first) = connected(store).await;
    let expires = channel_expiry();
    let patched = store
        .update_calendar_connection(world.acme.id, first.id, &sync_patch(expires))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.sync_token.as_deref(), Some("token-1"));
    assert_eq!(patched.last_error.as_deref(), Some("boom"));
    assert_eq!(patched.access_token_encrypted, first.access_token_encrypted);
    assert_eq!(patched.channel.as_ref().unwrap().expires_at, expires);
}

/// A push notification names only its channel, not the tenant.
pub async fn a_push_channel_finds_its_connection_in_any_tenant(store: &dyn Store) {
    let (world, first) = connected(store).await;
    store
        .update_calendar_connection(world.acme.id, first.id, &sync_patch(channel_expiry()))
        .await
        .unwrap()
        .unwrap();
    let found = store
        .find_calendar_connection_by_channel("chan-1")
        .await
        .unwrap();
    assert_eq!(found.map(|c| c.id), Some(first.id));
    assert!(
        store
            .find_calendar_connection_by_channel("nope")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_connection_lease_has_one_holder_who_may_extend_it(store: &dyn Store) {
    let (world, first) = connected(store).await;
    let acme = world.acme.id;
    let now = Timestamp::now();
    assert!(
        store
            .lease_calendar_connection(acme, first.id, "a", now, LEASE)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .lease_calendar_connection(acme, first.id, "b", now, LEASE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .lease_calendar_connection(acme, first.id, "a", now, LEASE)
            .await
            .unwrap()
            .is_some(),
        "the holder extends"
    );
}

pub async fn a_leased_connection_is_not_due(store: &dyn Store) {
    let (world, first) = connected(store).await;
    let now = Timestamp::now();
    store
        .lease_calendar_connection(world.acme.id, first.id, "a", now, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .lease_due_calendar_connections("c", now, LEASE, now, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased connections are not due"
    );
}

pub async fn an_ended_lease_is_free(store: &dyn Store) {
    let (world, first) = connected(store).await;
    let now = Timestamp::now();
    store
        .lease_calendar_connection(world.acme.id, first.id, "a", now, LEASE)
        .await
        .unwrap()
        .unwrap();
    let later = now + SignedDuration::from_secs(61);
    assert!(
        store
            .lease_calendar_connection(world.acme.id, first.id, "b", later, LEASE)
            .await
            .unwrap()
            .is_some(),
        "an ended lease is free"
    );
}

/// Given back, a due connection goes to the first process asking, and to no other.
pub async fn a_released_due_connection_is_leased_to_one_process(store: &dyn Store) {
    let (world, first) = connected(store).await;
    let now = Timestamp::now();
    store
        .lease_calendar_connection(world.acme.id, first.id, "b", now, LEASE)
        .await
        .unwrap()
        .unwrap();
    store
        .release_calendar_connection(world.acme.id, first.id, "b")
        .await
        .unwrap();
    let soon = now + SignedDuration::from_secs(1);
    let due = store
        .lease_due_calendar_connections("c", soon, LEASE, now, 10)
        .await
        .unwrap();
    assert_eq!(due.iter().map(|c| c.id).collect::<Vec<_>>(), vec![first.id]);
    assert!(
        store
            .lease_due_calendar_connections("d", soon, LEASE, now, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_connection_that_needs_reauthorisation_is_never_due(store: &dyn Store) {
    let (world, first) = connected(store).await;
    store
        .update_calendar_connection(
            world.acme.id,
            first.id,
            &ConnectionPatch {
                status: Some(ConnectionStatus::NeedsReauth),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let later = Timestamp::now() + SignedDuration::from_secs(61);
    assert!(
        store
            .lease_due_calendar_connections("e", later, LEASE, later, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn synced_events_upsert_by_external_id_and_tombstones_delete(store: &dyn Store) {
    let (world, first) = connected(store).await;
    let (acme, host) = (world.acme.id, world.ada.id);
    let v0 = version(store, acme, host).await;
    store
        .apply_synced_events(
            acme,
            first.id,
            host,
            &[
                synced("g1", 1, "One"),
                synced("g2", 2, "Two"),
                synced("g3", 3, "Three"),
            ],
            &[],
        )
        .await
        .unwrap();
    assert!(version(store, acme, host).await > v0);
    store
        .apply_synced_events(
            acme,
            first.id,
            host,
            &[synced("g1", 5, "One moved")],
            &["g2".into()],
        )
        .await
        .unwrap();
    let listed = hosts_events(store, &world).await;
    let titles: Vec<_> = listed.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, vec!["Three", "One moved"]);
    assert!(
        listed
            .iter()
            .all(|e| e.source == EventSource::Google && e.provider_id == Some(first.id))
    );
}

/// Our own events carry a provider reference but are never overwritten by a sync.
pub async fn a_sync_never_overwrites_our_own_events(store: &dyn Store) {
    let (world, first) = synced_twice(store).await;
    let acme = world.acme.id;
    let mine = ours(store, &world, &first).await;
    store
        .apply_synced_events(
            acme,
            first.id,
            world.ada.id,
            &[synced("ours", 10, "Overwritten?")],
            &["ours".into()],
        )
        .await
        .unwrap();
    let mine = store.get_event(acme, mine.id).await.unwrap().unwrap();
    assert_eq!(
        (mine.title.as_str(), mine.etag.as_deref()),
        ("Mine", Some("\"e1\""))
    );
}

pub async fn pruning_after_a_full_sync_keeps_only_what_google_still_has(store: &dyn Store) {
    let (world, first) = synced_twice(store).await;
    ours(store, &world, &first).await;
    let pruned = store
        .prune_synced_events(world.acme.id, first.id, world.ada.id, &["g3".into()])
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let left = hosts_events(store, &world).await;
    assert_eq!(
        left.iter().map(|e| e.title.as_str()).collect::<Vec<_>>(),
        vec!["Three", "Mine"]
    );
}

/// Key rotation reads every sealed value, then swaps each only if nobody changed it meanwhile.
pub async fn sealed_secrets_are_listed_across_tenants_and_replaced_only_if_unchanged(
    store: &dyn Store,
) {
    let (world, first) = connected(store).await;
    let secrets = store.sealed_secrets().await.unwrap();
    let access = secrets
        .iter()
        .find(|s| s.column == SealedColumn::ConnectionAccessToken && s.id == first.id.0)
        .unwrap()
        .clone();
    let rotated = SealedSecret {
        value: "v1:k2:new".into(),
        ..access.clone()
    };
    assert!(
        store
            .replace_sealed_secret(&rotated, &access.value)
            .await
            .unwrap()
    );
    assert!(
        !store
            .replace_sealed_secret(&rotated, &access.value)
            .await
            .unwrap()
    );
    let now_stored = store
        .get_calendar_connection(world.acme.id, first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        now_stored.access_token_encrypted.as_deref(),
        Some("v1:k2:new")
    );
}

pub async fn disconnecting_deletes_the_synced_events_and_unlinks_our_own(store: &dyn Store) {
    let (world, first) = synced_twice(store).await;
    ours(store, &world, &first).await;
    assert!(
        store
            .delete_calendar_connection(world.acme.id, first.id)
            .await
            .unwrap()
    );
    let left = hosts_events(store, &world).await;
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].title.as_str(), left[0].provider_id),
        ("Mine", None)
    );
    assert!(
        store
            .get_calendar_connection(world.acme.id, first.id)
            .await
            .unwrap()
            .is_none()
    );
}

/// Busy time from Outlook and CalDAV is stored under its own kind (not Google's), and the
/// store treats it as synchronised all the same: upserted by external id, deleted by a
/// tombstone, pruned after a full sync and removed on disconnect.
pub async fn synced_events_keep_their_providers_source_through_upsert_tombstone_prune_and_disconnect(
    store: &dyn Store,
) {
    let world = world(store).await;
    let (acme, host) = (world.acme.id, world.ada.id);
    let mut connections = Vec::new();
    for (kind, source) in [
        ("microsoft", EventSource::Microsoft),
        ("caldav", EventSource::Caldav),
    ] {
        let connection = store
            .upsert_calendar_connection(
                acme,
                &NewCalendarConnection {
                    kind: kind.into(),
                    calendar_id: format!("{kind}-calendar"),
                    ..connection(host, None)
                },
            )
            .await
            .unwrap();
        let of = |id: &str, hour: i64, title: &str| NewCalendarEvent {
            source,
            ..synced(&format!("{kind}-{id}"), hour, title)
        };
        store
            .apply_synced_events(
                acme,
                connection.id,
                host,
                &[of("1", 1, "One"), of("2", 2, "Two"), of("3", 3, "Three")],
                &[],
            )
            .await
            .unwrap();
        // A second sync moves one (same external id), and a tombstone removes another.
        store
            .apply_synced_events(
                acme,
                connection.id,
                host,
                &[of("1", 4, "One moved")],
                &[format!("{kind}-2")],
            )
            .await
            .unwrap();
        connections.push((connection, source));
    }
    let listed = hosts_events(store, &world).await;
    let mut seen: Vec<_> = listed
        .iter()
        .map(|e| (e.source.as_str(), e.title.as_str()))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        vec![
            ("caldav", "One moved"),
            ("caldav", "Three"),
            ("microsoft", "One moved"),
            ("microsoft", "Three"),
        ]
    );
    for (connection, source) in &connections {
        assert!(
            listed
                .iter()
                .filter(|e| e.provider_id == Some(connection.id))
                .all(|e| e.source == *source),
            "{listed:?}"
        );
    }
    // A full listing that no longer has "One" prunes it, for either kind.
    let (outlook, _) = &connections[0];
    let pruned = store
        .prune_synced_events(acme, outlook.id, host, &["microsoft-3".into()])
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let (caldav, _) = &connections[1];
    assert!(
        store
            .delete_calendar_connection(acme, caldav.id)
            .await
            .unwrap()
    );
    let left: Vec<_> = hosts_events(store, &world)
        .await
        .into_iter()
        .map(|e| (e.source, e.title))
        .collect();
    assert_eq!(left, vec![(EventSource::Microsoft, "Three".to_string())]);
}

/// Two processes leasing due connections at once never get the same one.
pub async fn two_processes_leasing_due_connections_never_get_the_same_one(
    store: std::sync::Arc<dyn Store>,
) {
    let acme = store.create_tenant("Acme leases").await.unwrap();
    for n in 0..10 {
        let u = store
            .create_user(acme.id, &new_user(&format!("h{n}@acme.test")))
            .await
            .unwrap();
        store
            .upsert_calendar_connection(acme.id, &connection(u.id, None))
            .await
            .unwrap();
    }
    let now = Timestamp::now() + SignedDuration::from_secs(1);
    let lease = SignedDuration::from_secs(60);
    let take = |owner: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .lease_due_calendar_connections(owner, now, lease, now, 10)
                .await
        })
    };
    let (one, two) = (take("one"), take("two"));
    let mut ids: Vec<_> = [one.await.unwrap().unwrap(), two.await.unwrap().unwrap()]
        .into_iter()
        .flatten()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids.len(), 10);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "a connection was leased twice");
}
