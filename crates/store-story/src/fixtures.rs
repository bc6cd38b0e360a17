//! What the cases build on: new rows with plausible fields, and a small world of two tenants.
//!
//! Cases start from an empty store, so every one of them says here, in a line or two, which
//! tenants and users it needs; none relies on what another case left behind.

use pillow_store::*;

/// A member of a tenant, signing in with a password.
pub fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_string(),
        name: format!("User {email}"),
        role: Role::Member,
        time_zone: "Europe/London".into(),
        password_hash: Some("$argon2id$stand-in".into()),
    }
}

/// A native agent (no Cal.com) in New York.
pub fn new_agent(name: &str) -> NewAgent {
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

/// Two tenants, Acme and Globex, with no one in them.
pub async fn two_tenants(store: &dyn Store) -> (Tenant, Tenant) {
    let acme = store.create_tenant("Acme").await.expect("tenant");
    let globex = store.create_tenant("Globex").await.expect("tenant");
    (acme, globex)
}

/// The tenant a case is about, with two users, and another tenant that must see none of it.
pub struct World {
    pub acme: Tenant,
    /// The other tenant.
    pub globex: Tenant,
    pub ada: User,
    pub bob: User,
    /// Globex's user.
    pub gus: User,
}

/// Acme with Ada and Bob, and Globex with Gus.
pub async fn world(store: &dyn Store) -> World {
    let (acme, globex) = two_tenants(store).await;
    let user = async |tenant: TenantId, email: &str| {
        store.create_user(tenant, &new_user(email)).await.unwrap()
    };
    World {
        ada: user(acme.id, "ada@acme.test").await,
        bob: user(acme.id, "bob@acme.test").await,
        gus: user(globex.id, "gus@globex.test").await,
        acme,
        globex,
    }
}

/// An instant written as RFC 3339.
pub fn at(text: &str) -> jiff::Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("timestamp {text:?}: {e}"))
}

/// The busy version of one user, as the store reports it.
pub async fn version(store: &dyn Store, tenant: TenantId, user: UserId) -> i64 {
    let versions = store.busy_versions(tenant, &[user]).await.unwrap();
    assert_eq!(versions.len(), 1, "one version for {user}: {versions:?}");
    assert_eq!(versions[0].0, user);
    versions[0].1
}

/// A rule document with a bit of everything JSON has, so a backend that mangles any is caught.
pub fn rule_document(start: &str) -> serde_json::Value {
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

pub fn new_rule(user: UserId, name: &str, is_default: bool) -> NewAvailabilityRule {
    NewAvailabilityRule {
        user_id: user,
        name: Some(name.into()),
        is_default,
        document: rule_document("09:00"),
    }
}

/// A confirmed, opaque, internal event of `user` for `[start, end)`.
pub fn event(user: UserId, title: &str, start: &str, end: &str) -> NewCalendarEvent {
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

pub fn attendee(name: &str) -> Attendee {
    Attendee {
        name: name.into(),
        email: Some(format!("{}@caller.test", name.to_lowercase())),
        phone: Some("+15550100".into()),
    }
}

/// A booking of `user` for `[start, end)` with buffers, and a code made from its id.
pub fn booking(user: UserId, start: &str, end: &str, before: i32, after: i32) -> NewBooking {
    let id = BookingId::new();
    NewBooking {
        id,
        agent_id: None,
        user_id: user,
        // The random tail of a v7 id (its head is the clock, shared by ids made together).
        confirmation_code: id.0.simple().to_string()[23..].to_uppercase(),
        start: at(start),
        end: at(end),
        buffer_before_minutes: before,
        buffer_after_minutes: after,
        attendee: attendee("Carol"),
        notes: Some("Wants to talk about pricing".into()),
        title: "Intro call".into(),
        description: Some("Booked by phone".into()),
        call_id: Some("call_123".into()),
        channel: Some(BookingChannel::Retell),
    }
}

/// A job whose payload nests, so the outbox is seen to keep JSON whole.
pub fn job(kind: &str, n: i64) -> NewJob {
    NewJob {
        kind: kind.into(),
        payload: serde_json::json!({"n": n, "nested": {"ok": true}}),
        run_after: None,
    }
}

pub fn is_conflict<T: std::fmt::Debug>(result: &StoreResult<T>, expected: Constraint) -> bool {
    matches!(result, Err(StoreError::Conflict(constraint)) if *constraint == expected)
}

/// The booking's own calendar event(s), cancelled ones included.
pub async fn booking_events(
    store: &dyn Store,
    tenant: TenantId,
    user: UserId,
    booking: BookingId,
) -> Vec<CalendarEvent> {
    let all = store
        .list_events(
            tenant,
            &EventFilter {
                user_ids: vec![user],
                include_cancelled: true,
                ..EventFilter::default()
            },
        )
        .await
        .unwrap();
    all.into_iter()
        .filter(|e| e.booking_id == Some(booking))
        .collect()
}

/// A busy range as `busy_events` reports one: sortable, since the order is the store's.
pub fn busy_key(b: &BusyEvent) -> (UserId, jiff::Timestamp, jiff::Timestamp, bool) {
    (b.user_id, b.start, b.end, b.all_day)
}

/// The busy range an event stands for.
pub fn as_busy(e: &CalendarEvent) -> BusyEvent {
    BusyEvent {
        user_id: e.user_id,
        start: e.start,
        end: e.end,
        all_day: e.all_day,
    }
}
