//! Outlook calendars on the sync engine, against the stateful Graph fake over loopback HTTP:
//! the consent flow, busy time from a push, write-back exactly once, moves and deletions,
//! delta token expiry, the webhook's handshake and clientState check, throttling and a
//! revoked grant.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pillow_fakes::microsoft::{Call, FakeMicrosoft};
use pillow_server::outbox::{Step, Worker};
use pillow_server::sync::{EngineError, ProviderWriteBack, Trigger};
use pillow_store::{ConnectionId, ConnectionStatus, EventFilter, EventSource};
use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, always_open, spawn_app_beside, spawn_app_with};

const CLIENT_ID: &str = "pillow-test-client";
const CLIENT_SECRET: &str = "pillow-test-secret";
pub(crate) const HOST: &str = "host@contoso.test";

pub(crate) struct Harness {
    pub(crate) app: TestApp,
    pub(crate) ms: FakeMicrosoft,
    pub(crate) tenant: crate::helpers::Tenant,
}

fn settings(ms: &FakeMicrosoft) -> Vec<(&'static str, String)> {
    vec![
        ("MICROSOFT_OAUTH_CLIENT_ID", CLIENT_ID.to_string()),
        ("MICROSOFT_OAUTH_CLIENT_SECRET", CLIENT_SECRET.to_string()),
        ("MICROSOFT_LOGIN_BASE_URL", ms.login_base()),
        ("MICROSOFT_GRAPH_BASE_URL", ms.graph_base()),
        ("MICROSOFT_RETRY_ATTEMPTS", "2".to_string()),
        ("MICROSOFT_RETRY_BASE_MS", "5".to_string()),
    ]
}

pub(crate) async fn harness(db: Db) -> Option<Harness> {
    let ms = FakeMicrosoft::start().await;
    let app = spawn_app_with(db, &settings(&ms)).await?;
    ms.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("{}/api/calendar/microsoft/callback", app.base),
    );
    ms.add_user(HOST);
    let tenant = app.tenant("Acme").await;
    Some(Harness { app, ms, tenant })
}

async fn run(test: impl AsyncFnOnce(&Harness), db: Db) {
    if let Some(h) = harness(db).await {
        test(&h).await;
        h.app.finish().await;
    }
}

macro_rules! with_microsoft {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::run(super::$name, crate::helpers::Db::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::run(super::$name, crate::helpers::Db::Postgres).await;
                }
            }
        )*
    };
}

/// A round hour a day or so ahead.
pub(crate) fn soon(hours: i64) -> Timestamp {
    let now = Timestamp::now().as_second();
    Timestamp::from_second((now / 3600 + 24 + hours) * 3600).unwrap()
}

fn graph_time(t: Timestamp) -> Value {
    json!({"dateTime": t.strftime("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": "UTC"})
}

impl Harness {
    pub(crate) fn token(&self) -> &str {
        &self.tenant.token
    }

    /// The consent flow end to end through the fake's sign-in page; the connection.
    pub(crate) async fn connect(&self) -> ConnectionId {
        let reply = self
            .app
            .client
            .get(format!("{}/api/calendar/microsoft/connect", self.app.base))
            .bearer_auth(self.token())
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let url = reply.json::<Value>().await.unwrap()["url"]
            .as_str()
            .unwrap()
            .to_string();
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let consent = no_redirects
            .get(format!("{url}&approve={HOST}"))
            .send()
            .await
            .unwrap();
        assert_eq!(consent.status(), 302);
        let back = consent.headers()["location"].to_str().unwrap().to_string();
        let reply = self.app.client.get(back).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["provider"]["status"], "active", "{body}");
        body["provider"]["id"].as_str().unwrap().parse().unwrap()
    }

    /// A sync now, waiting out one a notification started.
    async fn sync(&self, id: ConnectionId) -> pillow_server::sync::SyncReport {
        self.app
            .state
            .sync
            .sync_when_free(self.tenant.id, id, Trigger::Manual, Duration::from_secs(10))
            .await
            .unwrap()
    }

    async fn busy(&self) -> Vec<(Timestamp, Timestamp)> {
        let events = self
            .app
            .store()
            .list_events(
                self.tenant.id,
                &EventFilter {
                    user_ids: vec![self.tenant.owner.id],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut out: Vec<_> = events
            .into_iter()
            // Stored under the connection's own kind, not Google's.
            .filter(|e| e.source == EventSource::Microsoft && e.provider_id.is_some())
            .map(|e| (e.start, e.end))
            .collect();
        out.sort();
        out
    }

    pub(crate) fn create(&self, subject: &str, start: Timestamp, minutes: i64) -> String {
        self.ms.create_event(
            HOST,
            json!({"subject": subject, "start": graph_time(start),
                   "end": graph_time(start + SignedDuration::from_mins(minutes))}),
        )
    }

    pub(crate) async fn open_hours(&self) {
        let reply = self
            .app
            .post(
                "/api/calendar/availability-rules",
                self.token(),
                &always_open(Some(self.tenant.owner.id), 30),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }

    async fn free(&self, at: Timestamp) -> bool {
        let date = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        let reply = self
            .app
            .get(
                &format!("/api/calendar/availability?date={date}&timezone=UTC"),
                self.token(),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["slots"].as_array().unwrap().iter().any(|s| {
            s["start_time"]
                .as_str()
                .unwrap()
                .parse::<Timestamp>()
                .unwrap()
                == at
        })
    }

    async fn book(&self, start: Timestamp) -> String {
        let reply = self
            .app
            .post(
                "/api/calendar/booking",
                self.token(),
                &json!({"start_time": start.to_string(), "duration": 30,
                        "user_id": self.tenant.owner.id.to_string(),
                        "attendee": {"name": "Carol", "email": "carol@example.com"}}),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body["id"].as_str().unwrap().to_string()
    }

    async fn drain_outbox(&self) {
        let worker = Worker::new(self.app.state.store.clone())
            .with(Arc::new(ProviderWriteBack(self.app.state.sync.clone())));
        for _ in 0..100 {
            if worker
                .try_execute_task_at(Timestamp::now() + SignedDuration::from_hours(1))
                .await
                .unwrap()
                == Step::Empty
            {
                return;
            }
        }
        panic!("the outbox never emptied");
    }

    /// Our booking events in Outlook, by booking id.
    fn booking_events(&self) -> HashMap<String, Vec<Value>> {
        let mut out: HashMap<String, Vec<Value>> = HashMap::new();
        for e in self.ms.events(HOST) {
            if let Some(id) = e["transactionId"]
                .as_str()
                .and_then(|t| t.strip_prefix("pillow-booking-"))
            {
                out.entry(id.to_string()).or_default().push(e);
            }
        }
        out
    }

    async fn connection(&self, id: ConnectionId) -> pillow_store::CalendarConnection {
        self.app
            .store()
            .get_calendar_connection(self.tenant.id, id)
            .await
            .unwrap()
            .unwrap()
    }
}

/// Connecting through the consent page stores sealed tokens, syncs, and opens a subscription
/// whose validation handshake our webhook answered; disconnecting deletes the subscription.
async fn connecting_through_the_consent_page_syncs_and_opens_a_subscription(h: &Harness) {
    let slot = soon(2);
    h.create("Before connecting", slot, 60);
    let id = h.connect().await;
    let connection = h.connection(id).await;
    assert_eq!(connection.kind, "microsoft");
    let sealed = connection.access_token_encrypted.clone().unwrap();
    assert!(sealed.starts_with("v1:"));
    assert!(
        connection
            .refresh_token_encrypted
            .unwrap()
            .starts_with("v1:")
    );
    assert_eq!(
        h.busy().await,
        [(slot, slot + SignedDuration::from_hours(1))]
    );
    let subscriptions = h.ms.subscriptions();
    assert_eq!(subscriptions.len(), 1, "{subscriptions:?}");
    assert_eq!(
        subscriptions[0].notification_url,
        format!("{}/api/calendar/microsoft/webhook", h.app.base)
    );
    assert_eq!(
        connection.channel.unwrap().id,
        subscriptions[0].id,
        "the subscription is the connection's channel"
    );
    // The handshake as Graph sends it.
    let reply = h
        .app
        .client
        .post(format!(
            "{}/api/calendar/microsoft/webhook?validationToken=Validation%3A%20abc",
            h.app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert!(
        reply.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(reply.text().await.unwrap(), "Validation: abc");

    let gone = h
        .app
        .delete(
            &format!("/api/calendar/microsoft/disconnect/{id}"),
            h.token(),
        )
        .await;
    assert_eq!(gone.status, 204, "{:?}", gone.body);
    assert!(h.ms.subscriptions().is_empty());
    assert!(h.busy().await.is_empty());
}

/// An event the host adds in Outlook blocks its slot as soon as Graph's notification arrives,
/// with no poll in between.
async fn a_change_notification_blocks_availability_at_once(h: &Harness) {
    h.open_hours().await;
    h.connect().await;
    let slot = soon(6);
    assert!(h.free(slot).await);
    let started = std::time::Instant::now();
    h.create("Dentist", slot, 30);
    for _ in 0..200 {
        if !h.free(slot).await {
            println!("push to availability: {:?}", started.elapsed());
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the notification never blocked the slot");
}

/// A forged notification (a wrong clientState for a real subscription) is refused with 401
/// and syncs nothing.
async fn a_forged_client_state_is_refused(h: &Harness) {
    h.connect().await;
    let subscription = h.ms.subscriptions()[0].id.clone();
    let deltas = h.ms.count(Call::Delta);
    h.ms.send_forged(&subscription, "guessed-state");
    for _ in 0..200 {
        if !h.ms.deliveries().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivered = h.ms.deliveries();
    assert_eq!(delivered.last().unwrap().status, Some(401), "{delivered:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.ms.count(Call::Delta), deltas, "nothing synced");
}

/// A booking is written once however often the write is delivered (the same transactionId),
/// comes back from the sync as ours (not busy time), follows a reschedule, and goes when it
/// is cancelled.
async fn a_booking_appears_in_outlook_exactly_once_even_when_the_write_is_retried(h: &Harness) {
    h.open_hours().await;
    let id = h.connect().await;
    let booking = h.book(soon(3)).await;
    h.drain_outbox().await;
    let change = pillow_server::outbox::BookingChange {
        booking_id: booking.parse().unwrap(),
        user_id: h.tenant.owner.id,
        origin: None,
        send_email: false,
        send_sms: false,
    };
    for _ in 0..2 {
        h.app
            .state
            .sync
            .write_back(
                h.tenant.id,
                &pillow_server::outbox::OutboxJob::Booking(
                    pillow_server::outbox::JobKind::BookingCreated,
                    change.clone(),
                ),
            )
            .await
            .unwrap();
    }
    let events = h.booking_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[&booking].len(), 1);
    h.sync(id).await;
    assert!(h.busy().await.is_empty(), "our own event is not busy time");

    let moved = soon(7);
    let reply = h
        .app
        .post(
            &format!("/api/calendar/bookings/{booking}/reschedule"),
            h.token(),
            &json!({"start_time": moved.to_string()}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    h.drain_outbox().await;
    let events = h.booking_events();
    assert_eq!(events[&booking].len(), 1);
    let start = &events[&booking][0]["start"];
    assert!(
        start["dateTime"]
            .as_str()
            .unwrap()
            .starts_with(&moved.strftime("%Y-%m-%dT%H:%M:%S").to_string()),
        "{start}"
    );
    let reply = h
        .app
        .post(
            &format!("/api/calendar/bookings/{booking}/cancel"),
            h.token(),
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    h.drain_outbox().await;
    assert!(h.booking_events().is_empty(), "cancelling removes it");
}

/// The host's events moved and deleted in Outlook move and go here; our booking moved in
/// Outlook moves here, and deleted there is cancelled here.
async fn moved_and_deleted_events_are_followed(h: &Harness) {
    h.open_hours().await;
    let id = h.connect().await;
    let (a, b) = (soon(2), soon(5));
    let half = SignedDuration::from_mins(30);
    let event = h.create("X", a, 30);
    h.sync(id).await;
    assert_eq!(h.busy().await, [(a, a + half)]);
    h.ms.update_event(
        HOST,
        &event,
        json!({"start": graph_time(b), "end": graph_time(b + half)}),
    );
    h.sync(id).await;
    assert_eq!(h.busy().await, [(b, b + half)], "moved");
    h.ms.delete_event(HOST, &event);
    h.sync(id).await;
    assert!(h.busy().await.is_empty(), "deleted");

    let booking = h.book(soon(8)).await;
    h.drain_outbox().await;
    let graph_id = h.booking_events()[&booking][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let to = soon(10);
    h.ms.update_event(
        HOST,
        &graph_id,
        json!({"start": graph_time(to), "end": graph_time(to + half)}),
    );
    h.sync(id).await;
    let now = h
        .app
        .get(&format!("/api/calendar/bookings/{booking}"), h.token())
        .await;
    assert_eq!(
        now.body["start_time"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap(),
        to,
        "{:?}",
        now.body
    );
    h.ms.delete_event(HOST, &graph_id);
    h.sync(id).await;
    let now = h
        .app
        .get(&format!("/api/calendar/bookings/{booking}"), h.token())
        .await;
    assert_eq!(now.body["status"], "cancelled", "{:?}", now.body);
}

/// A delta token Graph no longer knows leads to a full listing that replaces what we had.
async fn an_expired_delta_token_leads_to_a_correct_full_resync(h: &Harness) {
    let id = h.connect().await;
    let (a, b) = (soon(1), soon(4));
    let half = SignedDuration::from_mins(30);
    let first = h.create("A", a, 30);
    assert!(!h.sync(id).await.full);
    // Held while the calendar changes, so the syncs its notifications start wait, and the
    // one below is the sync that meets the forgotten token.
    let owner = "test-holder";
    let leased = h
        .app
        .store()
        .lease_calendar_connection(
            h.tenant.id,
            id,
            owner,
            Timestamp::now(),
            SignedDuration::from_mins(5),
        )
        .await
        .unwrap()
        .unwrap();
    h.create("B", b, 30);
    h.ms.delete_event(HOST, &first);
    h.ms.expire_delta_tokens();
    let report = h
        .app
        .state
        .sync
        .run_leased(leased, Trigger::Manual, owner)
        .await
        .unwrap();
    assert!(report.full, "{report:?}");
    assert_eq!(h.busy().await, [(b, b + half)]);
    assert!(!h.sync(id).await.full);
    assert_eq!(h.busy().await, [(b, b + half)]);
}

/// Throttled past our own retries, a sync waits out `Retry-After` between attempts and puts
/// the connection's next sync at least that far off.
async fn throttling_retry_after_is_respected(h: &Harness) {
    let id = h.connect().await;
    h.ms.fail_next(429, Some(1));
    h.ms.fail_next(429, Some(1));
    let before = h.ms.request_times(Call::Delta).len();
    let result = h
        .app
        .state
        .sync
        .sync_when_free(h.tenant.id, id, Trigger::Manual, Duration::from_secs(10))
        .await;
    assert!(result.is_err(), "{result:?}");
    let times = h.ms.request_times(Call::Delta);
    assert_eq!(times.len() - before, 2, "two attempts");
    assert!(
        times[times.len() - 1] - times[times.len() - 2] >= Duration::from_millis(950),
        "the client waited out Retry-After"
    );
    let connection = h.connection(id).await;
    assert!(connection.last_error.unwrap().contains("throttling"));
    let wait = connection.next_sync_at.duration_since(Timestamp::now());
    assert!(
        wait > SignedDuration::from_millis(-500) && wait <= SignedDuration::from_secs(2),
        "next sync after Retry-After: {wait:?}"
    );
    assert_eq!(connection.status, ConnectionStatus::Active);
}

/// A grant the user revoked marks the connection `needs_reauth` at the next refresh, and the
/// poller leaves it alone until the user connects again.
async fn a_revoked_grant_marks_the_connection_needs_reauth(h: &Harness) {
    let id = h.connect().await;
    h.ms.revoke_grants(HOST);
    h.ms.expire_access_tokens(HOST);
    let result = h
        .app
        .state
        .sync
        .sync_when_free(h.tenant.id, id, Trigger::Manual, Duration::from_secs(10))
        .await;
    assert!(
        result.as_ref().is_err_and(|e| e.needs_reauth()),
        "{result:?}"
    );
    assert_eq!(h.connection(id).await.status, ConnectionStatus::NeedsReauth);
    let scheduler = pillow_server::sync::Scheduler::new(h.app.state.sync.clone());
    h.app
        .store()
        .update_calendar_connection(
            h.tenant.id,
            id,
            &pillow_store::ConnectionPatch {
                next_sync_at: Some(Timestamp::now()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(scheduler.try_execute_task().await.unwrap(), Step::Empty);
    assert_eq!(h.connect().await, id);
    assert_eq!(h.connection(id).await.status, ConnectionStatus::Active);
}

with_microsoft!(
    connecting_through_the_consent_page_syncs_and_opens_a_subscription,
    a_change_notification_blocks_availability_at_once,
    a_forged_client_state_is_refused,
    a_booking_appears_in_outlook_exactly_once_even_when_the_write_is_retried,
    moved_and_deleted_events_are_followed,
    an_expired_delta_token_leads_to_a_correct_full_resync,
    throttling_retry_after_is_respected,
    a_revoked_grant_marks_the_connection_needs_reauth,
);

/// Two servers on one PostgreSQL database (their own pools and states, as two processes behind
/// a load balancer) are told again and again, at the same moment, to sync one Outlook
/// connection: by hand on both and by both pollers, while the host keeps changing the calendar
/// and delta tokens expire (full resyncs). Graph never answers two delta requests for the
/// mailbox at once, and the local copy ends equal to Outlook's, nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_database_never_sync_one_outlook_connection_at_once() {
    let Some(h) = harness(Db::Postgres).await else {
        eprintln!("skipped: two servers on one database need PostgreSQL (TEST_DATABASE_URL)");
        return;
    };
    let second = spawn_app_beside(&h.app, &settings(&h.ms)).await;
    let id = h.connect().await;
    let ids: Vec<String> = (0..8i64)
        .map(|n| h.create(&format!("E{n}"), soon(n), 30))
        .collect();
    h.sync(id).await;
    // Long enough that two syncs running together would surely overlap at Graph.
    h.ms.set_delta_delay(Duration::from_millis(40));
    h.ms.reset_concurrent_deltas();
    let deltas_before = h.ms.count(Call::Delta);
    let pushes_before = h.ms.deliveries().len();
    let pollers =
        [&h.app, &second].map(|app| pillow_server::sync::Scheduler::new(app.state.sync.clone()));
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    for round in 0..8i64 {
        h.create(&format!("R{round}"), soon(10 + round), 30);
        if round % 3 == 1 {
            h.ms.delete_event(HOST, &ids[round as usize]);
        }
        if round % 4 == 3 {
            h.ms.expire_delta_tokens();
        }
        // Even rounds: due, so both pollers join in; odd rounds: the manual syncs alone.
        if round % 2 == 0 {
            h.app
                .store()
                .update_calendar_connection(
                    h.tenant.id,
                    id,
                    &pillow_store::ConnectionPatch {
                        next_sync_at: Some(Timestamp::now()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
        let (a, b, c, d) = tokio::join!(
            h.app.state.sync.sync_now(h.tenant.id, id, Trigger::Manual),
            second.state.sync.sync_now(h.tenant.id, id, Trigger::Manual),
            pollers[0].try_execute_task(),
            pollers[1].try_execute_task(),
        );
        for result in [a, b] {
            let name = match result {
                Ok(_) => "synced",
                Err(EngineError::Busy) => "busy",
                Err(other) => panic!("sync failed: {other}"),
            };
            *outcomes.entry(name).or_default() += 1;
        }
        for step in [c.unwrap(), d.unwrap()] {
            let name = if step == Step::Empty {
                "tick: nothing due"
            } else {
                "tick: synced"
            };
            *outcomes.entry(name).or_default() += 1;
        }
    }
    h.ms.set_delta_delay(Duration::ZERO);
    h.sync(id).await;
    assert_eq!(
        h.ms.max_concurrent_deltas(HOST),
        1,
        "two syncs of one connection asked Graph at the same time ({outcomes:?})"
    );
    assert!(
        outcomes.get("busy").copied().unwrap_or(0) > 0,
        "the servers never collided, so the test proved nothing: {outcomes:?}"
    );
    // Syncs ran during the rounds: ours, or the one each new event's change notification starts
    // (on a loaded machine that one often holds the lease whenever ours ask, so all of ours
    // answer "busy"; what matters is that no two asked Graph at once).
    let pushes = h.ms.deliveries().len() - pushes_before;
    assert!(
        h.ms.count(Call::Delta) > deltas_before,
        "no sync ran during the rounds: {outcomes:?}, {pushes} notifications"
    );
    let half = SignedDuration::from_mins(30);
    let mut expected: Vec<_> = (0..8i64)
        .filter(|n| ![1, 4, 7].contains(n))
        .map(|n| (soon(n), soon(n) + half))
        .chain((0..8i64).map(|r| (soon(10 + r), soon(10 + r) + half)))
        .collect();
    expected.sort();
    assert_eq!(h.busy().await, expected, "{outcomes:?}");
    second.finish().await;
    h.app.finish().await;
}
