//! One story, every backend: scenarios that drive the [`Store`] trait end to end.
//!
//! Each backend crate runs these from its own tests, so SQLite and PostgreSQL are held to the
//! same behaviour. They panic with a message on the first broken expectation, like any test.

use crate::*;

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_string(),
        name: format!("User {email}"),
        role: Role::Member,
        time_zone: "Europe/London".into(),
        password_hash: Some("$argon2id$stand-in".into()),
    }
}

fn new_agent(name: &str) -> NewAgent {
    NewAgent {
        name: name.into(),
        time_zone: "America/New_York".into(),
        backend: AgentBackend::Native,
        cal_enabled: false,
        cal_api_key_encrypted: None,
        cal_event_type_slug: None,
        cal_timezone: None,
    }
}

/// Users, API keys and agents: create, read, update, delete, and what a second tenant sees.
pub async fn tenants_users_keys_and_agents(store: &dyn Store) {
    store.ping().await.expect("ping");
    let acme = store.create_tenant("Acme").await.expect("tenant");
    let globex = store.create_tenant("Globex").await.expect("tenant");
    assert_eq!(
        store
            .find_tenant_by_name("Acme")
            .await
            .unwrap()
            .map(|t| t.id),
        Some(acme.id)
    );
    assert_eq!(
        store.get_tenant(globex.id).await.unwrap().unwrap().name,
        "Globex"
    );

    // users
    let ada = store
        .create_user(acme.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    assert_eq!(ada.tenant_id, acme.id);
    let duplicate = store.create_user(acme.id, &new_user("ada@acme.test")).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { .. })),
        "same e-mail twice in one tenant is a conflict: {duplicate:?}"
    );
    // The same address may exist in another tenant.
    let ada_at_globex = store
        .create_user(globex.id, &new_user("ada@acme.test"))
        .await
        .unwrap();
    assert_eq!(store.find_logins("ada@acme.test").await.unwrap().len(), 2);
    assert_eq!(
        store.find_logins("ADA@acme.test").await.unwrap().len(),
        2,
        "e-mail comparison ignores case"
    );

    assert_eq!(store.list_users(acme.id).await.unwrap(), vec![ada.clone()]);
    assert_eq!(
        store.get_user(acme.id, ada.id).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(
        store.get_user(globex.id, ada.id).await.unwrap(),
        None,
        "other tenant"
    );
    assert_eq!(store.find_user(ada.id).await.unwrap(), Some(ada.clone()));

    let patch = UserPatch {
        name: Some("Ada Lovelace".into()),
        role: Some(Role::Admin),
        ..UserPatch::default()
    };
    assert_eq!(
        store.update_user(globex.id, ada.id, &patch).await.unwrap(),
        None
    );
    let renamed = store
        .update_user(acme.id, ada.id, &patch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "Ada Lovelace");
    assert_eq!(renamed.role, Role::Admin);
    assert_eq!(renamed.email, "ada@acme.test");
    assert!(renamed.updated_at >= ada.updated_at);

    assert!(
        !store.delete_user(globex.id, ada.id).await.unwrap(),
        "other tenant"
    );
    assert!(store.get_user(acme.id, ada.id).await.unwrap().is_some());

    // API keys
    let key = store
        .create_api_key(
            acme.id,
            &NewApiKey {
                name: "ci".into(),
                prefix: "pk_story1".into(),
                secret_hash: "hash".into(),
            },
        )
        .await
        .unwrap();
    let found = store.find_api_key("pk_story1").await.unwrap().unwrap();
    assert_eq!(found.id, key.id);
    assert_eq!(found.tenant_id, acme.id);
    assert_eq!(found.secret_hash, "hash");
    assert!(store.find_api_key("pk_nothing").await.unwrap().is_none());

    // agents
    let agent = store
        .create_agent(acme.id, &new_agent("Front desk"))
        .await
        .unwrap();
    assert_eq!(
        store.list_agents(acme.id).await.unwrap(),
        vec![agent.clone()]
    );
    assert!(store.list_agents(globex.id).await.unwrap().is_empty());
    assert_eq!(
        store.find_agent(agent.id).await.unwrap(),
        Some(agent.clone())
    );
    assert_eq!(store.get_agent(globex.id, agent.id).await.unwrap(), None);
    let patch = AgentPatch {
        backend: Some(AgentBackend::Calcom),
        cal_enabled: Some(true),
        cal_api_key_encrypted: Some(Some("v1:k:ciphertext".into())),
        cal_event_type_slug: Some(Some("intro".into())),
        ..AgentPatch::default()
    };
    assert_eq!(
        store
            .update_agent(globex.id, agent.id, &patch)
            .await
            .unwrap(),
        None
    );
    let updated = store
        .update_agent(acme.id, agent.id, &patch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.backend, AgentBackend::Calcom);
    assert_eq!(
        updated.cal_api_key_encrypted.as_deref(),
        Some("v1:k:ciphertext")
    );
    let cleared = store
        .update_agent(
            acme.id,
            agent.id,
            &AgentPatch {
                cal_api_key_encrypted: Some(None),
                ..AgentPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.cal_api_key_encrypted, None);
    assert_eq!(cleared.cal_event_type_slug.as_deref(), Some("intro"));
    assert!(!store.delete_agent(globex.id, agent.id).await.unwrap());
    assert!(store.delete_agent(acme.id, agent.id).await.unwrap());
    assert!(store.find_agent(agent.id).await.unwrap().is_none());

    // deleting a user removes only that user
    assert!(store.delete_user(acme.id, ada.id).await.unwrap());
    assert!(store.get_user(acme.id, ada.id).await.unwrap().is_none());
    assert!(
        store
            .get_user(globex.id, ada_at_globex.id)
            .await
            .unwrap()
            .is_some()
    );
}

fn at(text: &str) -> jiff::Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("timestamp {text:?}: {e}"))
}

/// The busy version of one user, as the store reports it.
async fn version(store: &dyn Store, tenant: TenantId, user: uuid::Uuid) -> i64 {
    let versions = store.busy_versions(tenant, &[user]).await.unwrap();
    assert_eq!(versions.len(), 1, "one version for {user}: {versions:?}");
    assert_eq!(versions[0].0, user);
    versions[0].1
}

fn rule_document(start: &str) -> serde_json::Value {
    serde_json::json!({
        "timezone": "Europe/London",
        "weekly": {
            "monday": [{"start": start, "end": "17:00"}],
            "friday": [{"start": "10:00", "end": "12:30"}, {"start": "13:30", "end": "24:00"}]
        },
        "slot_duration": 30,
        "buffer_before": 5,
        "ratio": 1.5,
        "overrides": [{"date": "2024-12-25", "available": false, "reason": "Holiday — closed"}],
        "nothing": null
    })
}

fn new_rule(user: uuid::Uuid, name: &str, is_default: bool) -> NewAvailabilityRule {
    NewAvailabilityRule {
        user_id: user,
        name: Some(name.into()),
        is_default,
        document: rule_document("09:00"),
    }
}

/// Availability rules: defaults and their demotion, listing, replacing, deleting, busy
/// versions, and what a second tenant sees.
pub async fn availability_rules(store: &dyn Store) {
    let acme = store.create_tenant("Acme rules").await.unwrap();
    let globex = store.create_tenant("Globex rules").await.unwrap();
    let ada = store
        .create_user(acme.id, &new_user("ada@rules.test"))
        .await
        .unwrap();
    let bob = store
        .create_user(acme.id, &new_user("bob@rules.test"))
        .await
        .unwrap();
    let gus = store
        .create_user(globex.id, &new_user("gus@rules.test"))
        .await
        .unwrap();
    assert_eq!(
        version(store, acme.id, ada.id).await,
        0,
        "a new user starts at 0"
    );

    let first = store
        .create_rule(acme.id, &new_rule(ada.id, "first", true))
        .await
        .unwrap();
    assert_eq!(first.tenant_id, acme.id);
    assert_eq!(first.user_id, ada.id);
    assert!(first.is_default);
    assert_eq!(
        first.document,
        rule_document("09:00"),
        "the document reads back whole"
    );
    assert_eq!(
        store.get_rule(acme.id, first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(version(store, acme.id, ada.id).await, 1);

    // A second default demotes the first, in the same write.
    let second = store
        .create_rule(acme.id, &new_rule(ada.id, "second", true))
        .await
        .unwrap();
    assert!(second.is_default);
    let first_now = store.get_rule(acme.id, first.id).await.unwrap().unwrap();
    assert!(!first_now.is_default, "the old default was demoted");
    assert_eq!(version(store, acme.id, ada.id).await, 2);

    // A rule that is not the default leaves the default alone.
    let third = store
        .create_rule(acme.id, &new_rule(ada.id, "third", false))
        .await
        .unwrap();
    assert!(!third.is_default);
    assert!(
        store
            .get_rule(acme.id, second.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    let bobs = store
        .create_rule(acme.id, &new_rule(bob.id, "bob", true))
        .await
        .unwrap();
    assert_eq!(version(store, acme.id, ada.id).await, 3);
    assert_eq!(
        version(store, acme.id, bob.id).await,
        1,
        "only the rule's user is bumped"
    );

    // Listing, by user and by tenant, in creation order.
    let ids = |rules: Vec<AvailabilityRule>| rules.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_rules(acme.id, Some(ada.id)).await.unwrap()),
        vec![first.id, second.id, third.id]
    );
    assert_eq!(
        ids(store.list_rules(acme.id, None).await.unwrap()),
        vec![first.id, second.id, third.id, bobs.id]
    );
    assert_eq!(
        ids(store.list_rules(acme.id, Some(bob.id)).await.unwrap()),
        vec![bobs.id]
    );

    // Default rules of the users asked for.
    let mut defaults = ids(store
        .default_rules(acme.id, &[ada.id, bob.id, gus.id])
        .await
        .unwrap());
    defaults.sort();
    let mut expected = vec![second.id, bobs.id];
    expected.sort();
    assert_eq!(defaults, expected);
    assert!(store.default_rules(acme.id, &[]).await.unwrap().is_empty());
    let mut users = vec![ada.id, bob.id];
    users.sort();
    assert_eq!(store.users_with_default_rule(acme.id).await.unwrap(), users);

    // Replacing keeps the id, the user and created_at; making the third the default demotes
    // the second.
    let replacement = NewAvailabilityRule {
        user_id: bob.id, // ignored: a rule stays with its user
        name: None,
        is_default: true,
        document: rule_document("08:30"),
    };
    let replaced = store
        .replace_rule(acme.id, third.id, &replacement)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.id, third.id);
    assert_eq!(replaced.user_id, ada.id);
    assert_eq!(replaced.name, None);
    assert!(replaced.is_default);
    assert_eq!(replaced.document, rule_document("08:30"));
    assert_eq!(replaced.created_at, third.created_at);
    assert!(replaced.updated_at >= third.updated_at);
    assert!(
        !store
            .get_rule(acme.id, second.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert_eq!(version(store, acme.id, ada.id).await, 4);
    assert_eq!(version(store, acme.id, bob.id).await, 1);
    // Replacing the default with itself as default is fine.
    let replaced = store
        .replace_rule(acme.id, third.id, &replacement)
        .await
        .unwrap()
        .unwrap();
    assert!(replaced.is_default);
    assert_eq!(version(store, acme.id, ada.id).await, 5);

    // The other tenant sees nothing and changes nothing.
    assert_eq!(store.get_rule(globex.id, first.id).await.unwrap(), None);
    assert!(store.list_rules(globex.id, None).await.unwrap().is_empty());
    assert!(
        store
            .list_rules(globex.id, Some(ada.id))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .default_rules(globex.id, &[ada.id, bob.id])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .users_with_default_rule(globex.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .replace_rule(globex.id, first.id, &replacement)
            .await
            .unwrap(),
        None
    );
    assert!(!store.delete_rule(globex.id, first.id).await.unwrap());
    assert!(
        store
            .busy_versions(globex.id, &[ada.id])
            .await
            .unwrap()
            .is_empty()
    );
    let foreign = store
        .create_rule(globex.id, &new_rule(ada.id, "stolen", true))
        .await;
    assert!(
        matches!(&foreign, Err(StoreError::MissingReference { what }) if what == "user"),
        "a rule for another tenant's user: {foreign:?}"
    );
    let nobody = store
        .create_rule(acme.id, &new_rule(new_id(), "nobody", false))
        .await;
    assert!(
        matches!(&nobody, Err(StoreError::MissingReference { what }) if what == "user"),
        "a rule for no user: {nobody:?}"
    );
    assert_eq!(
        version(store, acme.id, ada.id).await,
        5,
        "refused writes bump nothing"
    );
    assert_eq!(
        store.get_rule(acme.id, third.id).await.unwrap(),
        Some(replaced.clone())
    );

    // Deleting the default leaves the user without one.
    assert!(store.delete_rule(acme.id, third.id).await.unwrap());
    assert!(
        !store.delete_rule(acme.id, third.id).await.unwrap(),
        "already gone"
    );
    assert_eq!(
        store
            .replace_rule(acme.id, third.id, &replacement)
            .await
            .unwrap(),
        None
    );
    assert_eq!(version(store, acme.id, ada.id).await, 6);
    assert!(
        store
            .default_rules(acme.id, &[ada.id])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.users_with_default_rule(acme.id).await.unwrap(),
        vec![bob.id]
    );
    assert_eq!(
        ids(store.list_rules(acme.id, Some(ada.id)).await.unwrap()),
        vec![first.id, second.id]
    );

    // busy_versions lists only the tenant's users asked for.
    let mut versions = store
        .busy_versions(acme.id, &[ada.id, bob.id, gus.id, new_id()])
        .await
        .unwrap();
    versions.sort();
    let mut expected = vec![(ada.id, 6), (bob.id, 1)];
    expected.sort();
    assert_eq!(versions, expected);
    assert!(store.busy_versions(acme.id, &[]).await.unwrap().is_empty());

    // Deleting a user deletes the user's rules.
    assert!(store.delete_user(acme.id, bob.id).await.unwrap());
    assert_eq!(store.get_rule(acme.id, bobs.id).await.unwrap(), None);

    // Defaults made at the same time for one user: every write succeeds, one default remains.
    let cy = store
        .create_user(acme.id, &new_user("cy@rules.test"))
        .await
        .unwrap();
    let make = |name: &'static str| async move {
        store
            .create_rule(acme.id, &new_rule(cy.id, name, true))
            .await
    };
    let existing = store
        .create_rule(acme.id, &new_rule(cy.id, "existing", true))
        .await
        .unwrap();
    let again = new_rule(cy.id, "existing", true);
    let (a, b, c, d, e, f) = tokio::join!(
        make("a"),
        make("b"),
        make("c"),
        make("d"),
        store.replace_rule(acme.id, existing.id, &again),
        make("f"),
    );
    for result in [a, b, c, d, f] {
        result.expect("a concurrent default");
    }
    e.expect("a concurrent replace").expect("the rule exists");
    let defaults = store.default_rules(acme.id, &[cy.id]).await.unwrap();
    assert_eq!(defaults.len(), 1, "one default after a race: {defaults:?}");
    let all_cy = store.list_rules(acme.id, Some(cy.id)).await.unwrap();
    assert_eq!(all_cy.len(), 6);
    assert_eq!(all_cy.iter().filter(|r| r.is_default).count(), 1);
    assert_eq!(
        version(store, acme.id, cy.id).await,
        7,
        "every write bumped once"
    );
}

fn event(user: uuid::Uuid, title: &str, start: &str, end: &str) -> NewCalendarEvent {
    NewCalendarEvent {
        user_id: user,
        provider_id: None,
        external_id: None,
        etag: None,
        title: title.into(),
        description: None,
        start: at(start),
        end: at(end),
        all_day: false,
        status: EventStatus::Confirmed,
        transparency: Transparency::Opaque,
        source: EventSource::Internal,
        booking_id: None,
    }
}

/// Calendar events: which ones are busy time, listing filters, replace and delete, busy
/// versions, and what a second tenant sees.
pub async fn calendar_events(store: &dyn Store) {
    let acme = store.create_tenant("Acme events").await.unwrap();
    let globex = store.create_tenant("Globex events").await.unwrap();
    let ada = store
        .create_user(acme.id, &new_user("ada@events.test"))
        .await
        .unwrap();
    let bob = store
        .create_user(acme.id, &new_user("bob@events.test"))
        .await
        .unwrap();
    let gus = store
        .create_user(globex.id, &new_user("gus@events.test"))
        .await
        .unwrap();

    // The range asked about below: Monday 2025-03-10, 09:00 to 17:00 UTC.
    let (from, to) = (at("2025-03-10T09:00:00Z"), at("2025-03-10T17:00:00Z"));

    let meeting = store
        .create_event(
            acme.id,
            &event(
                ada.id,
                "Meeting",
                "2025-03-10T10:00:00Z",
                "2025-03-10T11:00:00Z",
            ),
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

    let transparent = store
        .create_event(
            acme.id,
            &NewCalendarEvent {
                transparency: Transparency::Transparent,
                ..event(
                    ada.id,
                    "Focus (free)",
                    "2025-03-10T12:00:00Z",
                    "2025-03-10T13:00:00Z",
                )
            },
        )
        .await
        .unwrap();
    let cancelled = store
        .create_event(
            acme.id,
            &NewCalendarEvent {
                status: EventStatus::Cancelled,
                ..event(
                    ada.id,
                    "Cancelled",
                    "2025-03-10T14:00:00Z",
                    "2025-03-10T15:00:00Z",
                )
            },
        )
        .await
        .unwrap();
    let tentative = store
        .create_event(
            acme.id,
            &NewCalendarEvent {
                status: EventStatus::Tentative,
                provider_id: Some(new_id()),
                external_id: Some("google-123".into()),
                etag: Some("\"etag-1\"".into()),
                description: Some("Maybe".into()),
                source: EventSource::Google,
                ..event(
                    ada.id,
                    "Tentative",
                    "2025-03-10T15:30:00Z",
                    "2025-03-10T16:00:00Z",
                )
            },
        )
        .await
        .unwrap();
    assert_eq!(tentative.external_id.as_deref(), Some("google-123"));
    assert_eq!(tentative.source, EventSource::Google);
    // Ends exactly at `from`: half-open ranges do not overlap.
    let before = store
        .create_event(
            acme.id,
            &event(
                ada.id,
                "Breakfast",
                "2025-03-10T08:00:00Z",
                "2025-03-10T09:00:00Z",
            ),
        )
        .await
        .unwrap();
    // Starts exactly at `to`.
    let after = store
        .create_event(
            acme.id,
            &event(
                ada.id,
                "Dinner",
                "2025-03-10T17:00:00Z",
                "2025-03-10T18:00:00Z",
            ),
        )
        .await
        .unwrap();
    // Spans the whole range from the day before.
    let long = store
        .create_event(
            acme.id,
            &event(
                bob.id,
                "Conference",
                "2025-03-09T12:00:00Z",
                "2025-03-11T12:00:00Z",
            ),
        )
        .await
        .unwrap();
    // All-day on the range's date, and all-day the day after (within the one-day widening).
    let holiday = store
        .create_event(
            acme.id,
            &NewCalendarEvent {
                all_day: true,
                ..event(
                    bob.id,
                    "Holiday",
                    "2025-03-10T00:00:00Z",
                    "2025-03-11T00:00:00Z",
                )
            },
        )
        .await
        .unwrap();
    let next_day = store
        .create_event(
            acme.id,
            &NewCalendarEvent {
                all_day: true,
                ..event(
                    bob.id,
                    "Off",
                    "2025-03-11T00:00:00Z",
                    "2025-03-12T00:00:00Z",
                )
            },
        )
        .await
        .unwrap();
    // All-day two days later: outside any zone's view of the range.
    let far = store
        .create_event(
            acme.id,
            &NewCalendarEvent {
                all_day: true,
                ..event(
                    bob.id,
                    "Far off",
                    "2025-03-12T00:00:00Z",
                    "2025-03-13T00:00:00Z",
                )
            },
        )
        .await
        .unwrap();
    let gus_event = store
        .create_event(
            globex.id,
            &event(
                gus.id,
                "Globex",
                "2025-03-10T10:00:00Z",
                "2025-03-10T11:00:00Z",
            ),
        )
        .await
        .unwrap();
    assert_eq!(version(store, acme.id, ada.id).await, 6);
    assert_eq!(version(store, acme.id, bob.id).await, 4);

    // A duplicate provider event is a conflict.
    let duplicate = store
        .create_event(
            acme.id,
            &NewCalendarEvent {
                provider_id: tentative.provider_id,
                external_id: Some("google-123".into()),
                ..event(
                    bob.id,
                    "Again",
                    "2025-03-10T15:30:00Z",
                    "2025-03-10T16:00:00Z",
                )
            },
        )
        .await;
    assert!(
        matches!(&duplicate, Err(StoreError::Conflict { constraint }) if constraint == "calendar_events_external"),
        "same provider event twice: {duplicate:?}"
    );
    let foreign = store
        .create_event(
            globex.id,
            &event(
                ada.id,
                "Stolen",
                "2025-03-10T10:00:00Z",
                "2025-03-10T11:00:00Z",
            ),
        )
        .await;
    assert!(
        matches!(&foreign, Err(StoreError::MissingReference { what }) if what == "user"),
        "an event for another tenant's user: {foreign:?}"
    );
    assert_eq!(
        version(store, acme.id, bob.id).await,
        4,
        "refused writes bump nothing"
    );

    // Busy time: exactly the blocking events overlapping the range.
    let busy_key = |b: &BusyEvent| (b.user_id, b.start, b.end, b.all_day);
    let mut busy = store
        .busy_events(acme.id, &[ada.id, bob.id], from, to)
        .await
        .unwrap();
    busy.sort_by_key(busy_key);
    let as_busy = |e: &CalendarEvent| BusyEvent {
        user_id: e.user_id,
        start: e.start,
        end: e.end,
        all_day: e.all_day,
    };
    let mut expected: Vec<BusyEvent> = [&meeting, &tentative, &long, &holiday, &next_day]
        .into_iter()
        .map(as_busy)
        .collect();
    expected.sort_by_key(busy_key);
    assert_eq!(busy, expected);
    let only_ada = store
        .busy_events(acme.id, &[ada.id], from, to)
        .await
        .unwrap();
    assert_eq!(only_ada.len(), 2, "{only_ada:?}");
    assert!(
        store
            .busy_events(acme.id, &[], from, to)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .busy_events(acme.id, &[gus.id], from, to)
            .await
            .unwrap()
            .is_empty()
    );

    // Listing.
    let ids = |events: Vec<CalendarEvent>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let everything = EventFilter {
        include_cancelled: true,
        ..EventFilter::default()
    };
    assert_eq!(
        ids(store.list_events(acme.id, &everything).await.unwrap()),
        vec![
            long.id,
            holiday.id,
            before.id,
            meeting.id,
            transparent.id,
            cancelled.id,
            tentative.id,
            after.id,
            next_day.id,
            far.id
        ],
        "by start, then id"
    );
    let in_range = EventFilter {
        user_ids: vec![ada.id],
        from: Some(from),
        to: Some(to),
        include_cancelled: false,
    };
    assert_eq!(
        ids(store.list_events(acme.id, &in_range).await.unwrap()),
        vec![meeting.id, transparent.id, tentative.id]
    );
    let with_cancelled = EventFilter {
        include_cancelled: true,
        ..in_range.clone()
    };
    assert_eq!(
        ids(store.list_events(acme.id, &with_cancelled).await.unwrap()),
        vec![meeting.id, transparent.id, cancelled.id, tentative.id]
    );
    let bobs_range = EventFilter {
        user_ids: vec![bob.id],
        ..in_range.clone()
    };
    assert_eq!(
        ids(store.list_events(acme.id, &bobs_range).await.unwrap()),
        vec![long.id, holiday.id, next_day.id]
    );
    let from_only = EventFilter {
        from: Some(at("2025-03-10T16:00:00Z")),
        ..EventFilter::default()
    };
    assert_eq!(
        ids(store.list_events(acme.id, &from_only).await.unwrap()),
        vec![long.id, holiday.id, after.id, next_day.id, far.id]
    );
    let to_only = EventFilter {
        to: Some(at("2025-03-10T09:00:00Z")),
        ..EventFilter::default()
    };
    assert_eq!(
        ids(store.list_events(acme.id, &to_only).await.unwrap()),
        vec![long.id, holiday.id, before.id, next_day.id],
        "the next day's all-day event is within the one-day widening"
    );

    // Replacing: every mutable field changes, the user stays, the version is bumped.
    let moved = NewCalendarEvent {
        user_id: bob.id, // ignored: an event stays with its user
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
        booking_id: Some(new_id()),
    };
    let replaced = store
        .replace_event(acme.id, meeting.id, &moved)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.id, meeting.id);
    assert_eq!(replaced.user_id, ada.id);
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
        store.get_event(acme.id, meeting.id).await.unwrap(),
        Some(replaced.clone())
    );
    assert_eq!(version(store, acme.id, ada.id).await, 7);
    assert_eq!(version(store, acme.id, bob.id).await, 4);
    assert_eq!(
        store
            .busy_events(acme.id, &[ada.id], from, to)
            .await
            .unwrap(),
        vec![as_busy(&tentative)],
        "the moved meeting no longer overlaps"
    );

    // The other tenant sees nothing and changes nothing.
    assert_eq!(store.get_event(globex.id, meeting.id).await.unwrap(), None);
    assert_eq!(
        store
            .replace_event(globex.id, meeting.id, &moved)
            .await
            .unwrap(),
        None
    );
    assert!(!store.delete_event(globex.id, meeting.id).await.unwrap());
    assert!(
        store
            .busy_events(globex.id, &[ada.id, bob.id], from, to)
            .await
            .unwrap()
            .is_empty()
    );
    let globex_all = store.list_events(globex.id, &everything).await.unwrap();
    assert_eq!(ids(globex_all), vec![gus_event.id]);
    let globex_for_acme = EventFilter {
        user_ids: vec![ada.id, bob.id],
        ..everything.clone()
    };
    assert!(
        store
            .list_events(globex.id, &globex_for_acme)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(version(store, acme.id, ada.id).await, 7);

    // Deleting.
    assert!(store.delete_event(acme.id, meeting.id).await.unwrap());
    assert!(
        !store.delete_event(acme.id, meeting.id).await.unwrap(),
        "already gone"
    );
    assert_eq!(store.get_event(acme.id, meeting.id).await.unwrap(), None);
    assert_eq!(
        store
            .replace_event(acme.id, meeting.id, &moved)
            .await
            .unwrap(),
        None
    );
    assert_eq!(version(store, acme.id, ada.id).await, 8);

    // Deleting a user deletes the user's events.
    assert!(store.delete_user(acme.id, bob.id).await.unwrap());
    assert_eq!(store.get_event(acme.id, long.id).await.unwrap(), None);
    assert!(
        store
            .busy_events(acme.id, &[bob.id], from, to)
            .await
            .unwrap()
            .is_empty()
    );
}
