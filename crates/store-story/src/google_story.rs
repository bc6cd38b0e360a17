//! The Google sync part of the store story: calendar connections, their leases, and the
//! events synchronised from them. Run by both backend crates, like [`crate::story`].

use jiff::{SignedDuration, Timestamp};
use pillow_store::*;

fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        name: email.into(),
        role: Role::Member,
        time_zone: "Europe/London".into(),
        password_hash: None,
    }
}

fn connection(user_id: uuid::Uuid, refresh: Option<&str>) -> NewCalendarConnection {
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

fn synced(external_id: &str, hour: i64, title: &str) -> NewCalendarEvent {
    let start = Timestamp::from_second(1_900_000_000 + hour * 3600).unwrap();
    NewCalendarEvent {
        user_id: uuid::Uuid::nil(),
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

async fn version(store: &dyn Store, tenant: TenantId, user: uuid::Uuid) -> i64 {
    store.busy_versions(tenant, &[user]).await.unwrap()[0].1
}

/// Connections: reconnecting keeps one row and the old refresh token; patches; leases are
/// exclusive; synced events upsert, delete, prune and go with the connection; other tenants
/// see nothing.
pub async fn calendar_connections(store: &dyn Store) {
    let acme = store.create_tenant("Acme sync").await.unwrap();
    let other = store.create_tenant("Other sync").await.unwrap();
    let host = store
        .create_user(acme.id, &user("host@acme.test"))
        .await
        .unwrap();

    let first = store
        .upsert_calendar_connection(acme.id, &connection(host.id, Some("v1:k:refresh")))
        .await
        .unwrap();
    assert_eq!(first.status, ConnectionStatus::Active);
    assert!(first.sync_enabled && first.sync_token.is_none());
    let again = store
        .upsert_calendar_connection(acme.id, &connection(host.id, None))
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
            .list_calendar_connections(acme.id, Some(host.id))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .get_calendar_connection(other.id, first.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .list_calendar_connections(other.id, None)
            .await
            .unwrap()
            .is_empty()
    );
    let stranger = store
        .create_user(other.id, &user("x@other.test"))
        .await
        .unwrap();
    let missing = store
        .upsert_calendar_connection(acme.id, &connection(stranger.id, None))
        .await;
    assert!(
        matches!(missing, Err(StoreError::MissingReference(_))),
        "{missing:?}"
    );

    // Patches touch only what they name.
    let expires = Timestamp::from_second(Timestamp::now().as_second() + 7200).unwrap();
    let patched = store
        .update_calendar_connection(
            acme.id,
            first.id,
            &ConnectionPatch {
                sync_token: Some(Some("token-1".into())),
                last_error: Some(Some("boom".into())),
                channel: Some(Some(PushChannel {
                    id: "chan-1".into(),
                    resource_id: "res-1".into(),
                    token_hash: "hash".into(),
                    expires_at: expires,
                })),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.sync_token.as_deref(), Some("token-1"));
    assert_eq!(patched.last_error.as_deref(), Some("boom"));
    assert_eq!(patched.access_token_encrypted, again.access_token_encrypted);
    assert_eq!(patched.channel.as_ref().unwrap().expires_at, expires);
    assert!(
        store
            .update_calendar_connection(other.id, first.id, &ConnectionPatch::default())
            .await
            .unwrap()
            .is_none()
    );
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

    // Leases: one holder at a time, until it ends or is given back.
    let now = Timestamp::now();
    let lease = SignedDuration::from_secs(60);
    assert!(
        store
            .lease_calendar_connection(acme.id, first.id, "a", now, lease)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .lease_calendar_connection(acme.id, first.id, "b", now, lease)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .lease_calendar_connection(acme.id, first.id, "a", now, lease)
            .await
            .unwrap()
            .is_some(),
        "the holder extends"
    );
    let later = now + SignedDuration::from_secs(61);
    assert!(
        store
            .lease_due_calendar_connections("c", now, lease, now, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased connections are not due"
    );
    assert!(
        store
            .lease_calendar_connection(acme.id, first.id, "b", later, lease)
            .await
            .unwrap()
            .is_some(),
        "an ended lease is free"
    );
    store
        .release_calendar_connection(acme.id, first.id, "b")
        .await
        .unwrap();
    let due = store
        .lease_due_calendar_connections("c", now + SignedDuration::from_secs(1), lease, now, 10)
        .await
        .unwrap();
    assert_eq!(due.iter().map(|c| c.id).collect::<Vec<_>>(), vec![first.id]);
    assert!(
        store
            .lease_due_calendar_connections("d", now + SignedDuration::from_secs(1), lease, now, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .release_calendar_connection(acme.id, first.id, "c")
        .await
        .unwrap();
    // A connection that needs re-authorisation is never due.
    store
        .update_calendar_connection(
            acme.id,
            first.id,
            &ConnectionPatch {
                status: Some(ConnectionStatus::NeedsReauth),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .lease_due_calendar_connections("e", later, lease, later, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Synced events: upsert by external id, delete tombstones, bump the busy version.
    let v0 = version(store, acme.id, host.id).await;
    store
        .apply_synced_events(
            acme.id,
            first.id,
            host.id,
            &[
                synced("g1", 1, "One"),
                synced("g2", 2, "Two"),
                synced("g3", 3, "Three"),
            ],
            &[],
        )
        .await
        .unwrap();
    assert!(version(store, acme.id, host.id).await > v0);
    store
        .apply_synced_events(
            acme.id,
            first.id,
            host.id,
            &[synced("g1", 5, "One moved")],
            &["g2".into()],
        )
        .await
        .unwrap();
    let listed = store
        .list_events(
            acme.id,
            &EventFilter {
                user_ids: vec![host.id],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let titles: Vec<_> = listed.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, vec!["Three", "One moved"]);
    assert!(
        listed
            .iter()
            .all(|e| e.source == EventSource::Google && e.provider_id == Some(first.id))
    );

    // Our own events carry a provider reference but are never overwritten by a sync.
    let mine = store
        .create_event(
            acme.id,
            new_id(),
            &NewCalendarEvent {
                user_id: host.id,
                external_id: None,
                source: EventSource::Internal,
                ..synced("x", 9, "Mine")
            },
            &[],
        )
        .await
        .unwrap();
    store
        .set_event_provider_ref(
            acme.id,
            mine.id,
            Some(first.id),
            Some("ours"),
            Some("\"e1\""),
        )
        .await
        .unwrap();
    store
        .apply_synced_events(
            acme.id,
            first.id,
            host.id,
            &[synced("ours", 10, "Overwritten?")],
            &["ours".into()],
        )
        .await
        .unwrap();
    let mine = store.get_event(acme.id, mine.id).await.unwrap().unwrap();
    assert_eq!(
        (mine.title.as_str(), mine.etag.as_deref()),
        ("Mine", Some("\"e1\""))
    );

    // Prune after a full sync keeps only what Google still has.
    let pruned = store
        .prune_synced_events(acme.id, first.id, host.id, &["g3".into()])
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let left = store
        .list_events(
            acme.id,
            &EventFilter {
                user_ids: vec![host.id],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|e| e.title.as_str()).collect::<Vec<_>>(),
        vec!["Three", "Mine"]
    );

    // Sealed secrets: listed across tenants, replaced only if unchanged.
    let secrets = store.sealed_secrets().await.unwrap();
    let access = secrets
        .iter()
        .find(|s| s.column == SealedColumn::ConnectionAccessToken && s.id == first.id)
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
        .get_calendar_connection(acme.id, first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        now_stored.access_token_encrypted.as_deref(),
        Some("v1:k2:new")
    );

    // Disconnect: the connection and its synced events go; our own event stays, unlinked.
    assert!(
        !store
            .delete_calendar_connection(other.id, first.id)
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_calendar_connection(acme.id, first.id)
            .await
            .unwrap()
    );
    let left = store
        .list_events(
            acme.id,
            &EventFilter {
                user_ids: vec![host.id],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].title.as_str(), left[0].provider_id),
        ("Mine", None)
    );
    assert!(
        store
            .get_calendar_connection(acme.id, first.id)
            .await
            .unwrap()
            .is_none()
    );
}

/// Two processes leasing due connections at once never get the same one.
pub async fn concurrent_connection_leases(store: std::sync::Arc<dyn Store>) {
    let acme = store.create_tenant("Acme leases").await.unwrap();
    for n in 0..10 {
        let u = store
            .create_user(acme.id, &user(&format!("h{n}@acme.test")))
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
