//! CalDAV calendars on the sync engine, against a real Radicale server on loopback: connect
//! with discovery, busy time in availability, write-back exactly once, moves and deletes
//! followed both ways, recurrence across DST, token invalidation, re-authorisation, polling,
//! and two servers on one database.

#[allow(dead_code)]
#[path = "../../../providers/tests/caldav/radicale.rs"]
pub(crate) mod radicale;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use pillow_server::outbox::{Step, Worker};
use pillow_server::sync::{EngineError, ProviderWriteBack, Trigger};
use pillow_store::{ConnectionId, ConnectionPatch, ConnectionStatus, EventFilter, EventSource};
use radicale::{PASSWORD, Radicale, USER};
use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, always_open, spawn_app_beside, spawn_app_with};

pub(crate) const WORK: &str = "/alice/work/";

pub(crate) struct Harness {
    pub(crate) app: TestApp,
    pub(crate) dav: Radicale,
    pub(crate) tenant: crate::helpers::Tenant,
}

fn settings() -> Vec<(&'static str, String)> {
    vec![("CALDAV_ALLOW_PRIVATE_NETWORKS", "true".to_string())]
}

pub(crate) async fn harness(db: Db) -> Option<Harness> {
    let dav = Radicale::start().await?;
    dav.mkcalendar("/alice/tasks/", "Tasks", "VTODO").await;
    dav.mkcalendar(WORK, "Work", "VEVENT").await;
    let app = spawn_app_with(db, &settings()).await?;
    let tenant = app.tenant("Acme").await;
    Some(Harness { app, dav, tenant })
}

async fn run(test: impl AsyncFnOnce(&Harness), db: Db) {
    if let Some(h) = harness(db).await {
        test(&h).await;
        h.app.finish().await;
    }
}

macro_rules! with_radicale {
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

/// A one-off timed event as another calendar app writes it.
pub(crate) fn ics(uid: &str, start: Timestamp, end: Timestamp) -> String {
    let f = |t: Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART:{}\r\nDTEND:{}\r\nSUMMARY:{uid}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n",
        f(start),
        f(end)
    )
}

/// A round hour a day or so ahead.
pub(crate) fn soon(hours: i64) -> Timestamp {
    let now = Timestamp::now().as_second();
    Timestamp::from_second((now / 3600 + 24 + hours) * 3600).unwrap()
}

impl Harness {
    pub(crate) fn token(&self) -> &str {
        &self.tenant.token
    }

    pub(crate) async fn connect(&self, body: Value) -> crate::helpers::Reply {
        self.app
            .post("/api/calendar/caldav/connect", self.token(), &body)
            .await
    }

    /// Connects the work calendar by discovery; its id.
    async fn connected(&self) -> ConnectionId {
        let reply = self
            .connect(json!({"server_url": self.dav.url, "username": USER, "password": PASSWORD}))
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body["provider"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    async fn sync(&self, id: ConnectionId) -> Value {
        let reply = self
            .app
            .post(
                &format!("/api/calendar/providers/{id}/sync"),
                self.token(),
                &json!({}),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body
    }

    /// The host's synced busy time as `(start, end)` pairs, sorted.
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
            .filter(|e| e.source == EventSource::Caldav && e.provider_id.is_some())
            .map(|e| (e.start, e.end))
            .collect();
        out.sort();
        out
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

    async fn book(&self, start: Timestamp) -> Value {
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
        reply.body
    }

    /// Runs the outbox with the engine's write-back until nothing is due.
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

    async fn connection(&self, id: ConnectionId) -> pillow_store::CalendarConnection {
        self.app
            .store()
            .get_calendar_connection(self.tenant.id, id)
            .await
            .unwrap()
            .unwrap()
    }
}

/// Connecting without a calendar URL finds the first event calendar (not the to-do list),
/// keeps the password only sealed, and syncs at once; a wrong password or a calendar that
/// is not the account's is refused with a clear error and stores nothing.
async fn connecting_with_discovery_finds_the_event_calendar_and_seals_the_password(h: &Harness) {
    let wrong = h
        .connect(json!({"server_url": h.dav.url, "username": USER, "password": "nope"}))
        .await;
    assert_eq!(wrong.status, 422, "{:?}", wrong.body);
    assert_eq!(wrong.code(), "caldav_unauthorized");
    let missing = h
        .connect(
            json!({"server_url": h.dav.url, "username": USER, "password": PASSWORD,
                        "calendar_url": format!("{}/alice/holidays/", h.dav.url)}),
        )
        .await;
    assert_eq!(missing.status, 422, "{:?}", missing.body);
    assert_eq!(missing.code(), "no_calendar");
    let blank = h
        .connect(json!({"server_url": "", "username": USER, "password": PASSWORD}))
        .await;
    assert_eq!(blank.status, 422, "{:?}", blank.body);
    assert_eq!(blank.body["error"]["field"], "server_url");
    let stored = h
        .app
        .store()
        .list_calendar_connections(h.tenant.id, None)
        .await
        .unwrap();
    assert!(stored.is_empty(), "refused connects store nothing");

    let id = h.connected().await;
    let connection = h.connection(id).await;
    assert_eq!(connection.kind, "caldav");
    assert_eq!(connection.calendar_id, format!("{}{WORK}", h.dav.url));
    assert_eq!(connection.account_email, USER);
    let sealed = connection.access_token_encrypted.unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains(PASSWORD));
    assert_eq!(h.app.state.config.secrets.open(&sealed).unwrap(), PASSWORD);
    assert!(connection.last_synced_at.is_some(), "the first sync ran");
    let listed = h.app.get("/api/calendar/providers", h.token()).await;
    assert_eq!(listed.body["providers"][0]["provider"], "caldav");
    assert!(!listed.body.to_string().contains(PASSWORD));
    let kinds = h.app.get("/api/calendar/providers/kinds", h.token()).await;
    assert_eq!(
        kinds.body["kinds"],
        json!([
            {"kind": "google", "configured": false, "connect": "GET /api/calendar/google/connect"},
            {"kind": "caldav", "configured": true, "connect": "POST /api/calendar/caldav/connect"},
            {"kind": "microsoft", "configured": false, "connect": "GET /api/calendar/microsoft/connect"},
        ])
    );

    // Naming the calendar by URL connects the same account's calendar again, not a second.
    let again = h
        .connect(
            json!({"server_url": h.dav.url, "username": USER, "password": PASSWORD,
                        "calendar_url": format!("{}{WORK}", h.dav.url)}),
        )
        .await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["provider"]["id"], id.to_string());

    let gone = h
        .app
        .delete(&format!("/api/calendar/caldav/disconnect/{id}"), h.token())
        .await;
    assert_eq!(gone.status, 204, "{:?}", gone.body);
    assert!(
        h.app
            .store()
            .get_calendar_connection(h.tenant.id, id)
            .await
            .unwrap()
            .is_none()
    );
}

/// An event another app puts in the calendar blocks its slot after a sync; disconnecting
/// frees it again.
async fn an_event_created_in_radicale_blocks_availability_after_a_sync(h: &Harness) {
    h.open_hours().await;
    let id = h.connected().await;
    let slot = soon(6);
    assert!(h.free(slot).await);
    h.dav
        .put(
            "/alice/work/dentist.ics",
            &ics("dentist", slot, slot + SignedDuration::from_mins(30)),
        )
        .await;
    assert!(h.free(slot).await, "not before a sync");
    let report = h.sync(id).await;
    assert_eq!(report["upserted"], 1, "{report}");
    assert!(!h.free(slot).await, "the synced event blocks the slot");
    h.app
        .delete(&format!("/api/calendar/caldav/disconnect/{id}"), h.token())
        .await;
    assert!(h.free(slot).await, "disconnecting removes its busy time");
}

/// A booking is written to the calendar as one event under our name, however often the
/// write is delivered; it comes back from the sync as our own (not as busy time), and
/// cancelling it takes it out of the calendar.
async fn a_booking_appears_in_radicale_exactly_once_even_when_the_write_is_retried(h: &Harness) {
    h.open_hours().await;
    let id = h.connected().await;
    let booking = h.book(soon(3)).await;
    let booking_id = booking["id"].as_str().unwrap().to_string();
    h.drain_outbox().await;
    let ours = format!("{WORK}pillow-booking-{booking_id}.ics");
    assert_eq!(h.dav.hrefs(WORK).await, std::slice::from_ref(&ours));
    // The same job delivered again (a worker that died before recording it) and a catch-up.
    let change = pillow_server::outbox::BookingChange {
        booking_id: booking_id.parse().unwrap(),
        user_id: h.tenant.owner.id,
        origin: None,
        send_email: false,
        send_sms: false,
    };
    for kind in [
        pillow_server::outbox::JobKind::BookingCreated,
        pillow_server::outbox::JobKind::GoogleBookingWrite,
    ] {
        h.app
            .state
            .sync
            .write_back(
                h.tenant.id,
                &pillow_server::outbox::OutboxJob::Booking(kind, change.clone()),
            )
            .await
            .unwrap();
    }
    assert_eq!(h.dav.hrefs(WORK).await, std::slice::from_ref(&ours));
    let report = h.sync(id).await;
    assert_eq!(
        report["upserted"], 0,
        "our own event is not busy time: {report}"
    );
    assert!(h.busy().await.is_empty());

    let cancelled = h
        .app
        .post(
            &format!("/api/calendar/bookings/{booking_id}/cancel"),
            h.token(),
            &json!({"reason": "changed plans"}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    h.drain_outbox().await;
    assert!(
        h.dav.hrefs(WORK).await.is_empty(),
        "cancelling removes the event"
    );
}

/// Moves and deletions in the calendar are followed: another app's event moves and goes
/// here too, and our booking moved there moves here, deleted there is cancelled here.
async fn moved_and_deleted_events_are_followed(h: &Harness) {
    h.open_hours().await;
    let id = h.connected().await;
    let (a, b) = (soon(2), soon(5));
    let half = SignedDuration::from_mins(30);
    h.dav.put("/alice/work/x.ics", &ics("x", a, a + half)).await;
    h.sync(id).await;
    assert_eq!(h.busy().await, [(a, a + half)]);
    h.dav.put("/alice/work/x.ics", &ics("x", b, b + half)).await;
    h.sync(id).await;
    assert_eq!(h.busy().await, [(b, b + half)], "moved");
    h.dav.delete("/alice/work/x.ics").await;
    h.sync(id).await;
    assert!(h.busy().await.is_empty(), "deleted");

    let booking = h.book(soon(8)).await;
    let booking_id: uuid::Uuid = booking["id"].as_str().unwrap().parse().unwrap();
    h.drain_outbox().await;
    let href = format!("{WORK}pillow-booking-{booking_id}.ics");
    let moved_to = soon(10);
    h.dav
        .put(
            &href,
            &pillow_providers::caldav::booking_ical(
                booking_id,
                "Moved by the host",
                None,
                moved_to,
                moved_to + half,
            ),
        )
        .await;
    h.sync(id).await;
    let now = h
        .app
        .get(&format!("/api/calendar/bookings/{booking_id}"), h.token())
        .await;
    assert_eq!(
        now.body["start_time"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap(),
        moved_to,
        "{:?}",
        now.body
    );
    h.drain_outbox().await;
    assert_eq!(
        h.dav.hrefs(WORK).await,
        std::slice::from_ref(&href),
        "not echoed as a second event"
    );
    h.dav.delete(&href).await;
    h.sync(id).await;
    let now = h
        .app
        .get(&format!("/api/calendar/bookings/{booking_id}"), h.token())
        .await;
    assert_eq!(now.body["status"], "cancelled", "{:?}", now.body);
}

/// The next daylight-saving change, a couple of weeks out at least, in one of three zones
/// whose changes fall in different months (so one always comes inside the sync window).
fn next_dst_change() -> (jiff::tz::TimeZone, String, Timestamp) {
    let from = Timestamp::now() + SignedDuration::from_hours(24 * 15);
    ["America/New_York", "Australia/Sydney", "America/Santiago"]
        .into_iter()
        .map(|name| {
            let zone = jiff::tz::TimeZone::get(name).unwrap();
            let at = zone.following(from).next().unwrap().timestamp();
            (zone, name.to_string(), at)
        })
        .min_by_key(|(_, _, at)| *at)
        .unwrap()
}

/// A weekly 10:00 meeting in a zone with a DST change in the window, one instance excluded
/// by EXDATE and one moved by a RECURRENCE-ID override, blocks exactly the instances left, at
/// 10:00 local time on both sides of the change.
async fn a_recurring_event_with_an_exception_and_an_exdate_blocks_the_right_instances_across_dst(
    h: &Harness,
) {
    let id = h.connected().await;
    let (zone, name, change) = next_dst_change();
    let first_day = (change - SignedDuration::from_hours(24 * 14))
        .to_zoned(zone.clone())
        .date();
    let local = |day: jiff::civil::Date, hour: i8| {
        day.at(hour, 0, 0, 0)
            .to_zoned(zone.clone())
            .unwrap()
            .timestamp()
    };
    let week = |n: i32| first_day.checked_add(jiff::Span::new().weeks(n)).unwrap();
    let stamp =
        |day: jiff::civil::Date, hour: i8| format!("{}T{hour:02}0000", day.strftime("%Y%m%d"));
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
         BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART;TZID={name}:{}\r\nDTEND;TZID={name}:{}\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\n\
         EXDATE;TZID={name}:{}\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\n\
         RECURRENCE-ID;TZID={name}:{}\r\nDTSTART;TZID={name}:{}\r\nDTEND;TZID={name}:{}\r\n\
         SUMMARY:Weekly (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        stamp(week(0), 10),
        stamp(week(0), 11),
        stamp(week(1), 10),
        stamp(week(3), 10),
        stamp(week(3), 15),
        stamp(week(3), 16),
    );
    h.dav.put("/alice/work/weekly.ics", &ics).await;
    h.sync(id).await;
    let hour = SignedDuration::from_hours(1);
    let expected = vec![
        (local(week(0), 10), local(week(0), 10) + hour),
        // week 1 excluded
        (local(week(2), 10), local(week(2), 10) + hour),
        (local(week(3), 15), local(week(3), 15) + hour),
        (local(week(4), 10), local(week(4), 10) + hour),
    ];
    assert_eq!(h.busy().await, expected, "in {name}, change at {change}");
    let offsets: std::collections::BTreeSet<_> = expected
        .iter()
        .map(|(start, _)| zone.to_offset(*start))
        .collect();
    assert_eq!(offsets.len(), 2, "the instances straddle the change");
    // The override removed again: the instance it replaced comes back at 10:00.
    let without_override = ics
        .split("BEGIN:VEVENT")
        .take(2)
        .collect::<Vec<_>>()
        .join("BEGIN:VEVENT")
        + "END:VCALENDAR\r\n";
    h.dav.put("/alice/work/weekly.ics", &without_override).await;
    h.sync(id).await;
    let mut expected = expected;
    expected[2] = (local(week(3), 10), local(week(3), 10) + hour);
    assert_eq!(h.busy().await, expected);
}

/// When the server forgets its sync tokens, the next sync lists everything and replaces what
/// we had: what was deleted meanwhile goes, what was added comes, nothing twice.
async fn an_invalidated_sync_token_leads_to_a_correct_full_resync(h: &Harness) {
    let id = h.connected().await;
    let (a, b) = (soon(1), soon(4));
    let half = SignedDuration::from_mins(30);
    h.dav.put("/alice/work/a.ics", &ics("a", a, a + half)).await;
    let first = h.sync(id).await;
    assert_eq!(
        first["full"], false,
        "the connect sync was the full one: {first}"
    );
    h.dav.put("/alice/work/b.ics", &ics("b", b, b + half)).await;
    h.dav.delete("/alice/work/a.ics").await;
    h.dav.invalidate_sync_tokens();
    let report = h.sync(id).await;
    assert_eq!(report["full"], true, "{report}");
    assert_eq!(h.busy().await, [(b, b + half)]);
    let next = h.sync(id).await;
    assert_eq!(next["full"], false, "incremental again: {next}");
    assert_eq!(h.busy().await, [(b, b + half)]);
}

/// A password the server no longer accepts marks the connection `needs_reauth`; the poller
/// leaves it alone, and connecting again with the right password makes it active.
async fn a_refused_password_marks_the_connection_needs_reauth(h: &Harness) {
    let id = h.connected().await;
    let store = h.app.store();
    store
        .update_calendar_connection(
            h.tenant.id,
            id,
            &ConnectionPatch {
                access_token_encrypted: Some(h.app.state.config.secrets.seal("revoked")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let reply = h
        .app
        .post(
            &format!("/api/calendar/providers/{id}/sync"),
            h.token(),
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    assert_eq!(reply.code(), "caldav_unauthorized");
    assert_eq!(h.connection(id).await.status, ConnectionStatus::NeedsReauth);
    store
        .update_calendar_connection(
            h.tenant.id,
            id,
            &ConnectionPatch {
                next_sync_at: Some(Timestamp::now()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let scheduler = pillow_server::sync::Scheduler::new(h.app.state.sync.clone());
    assert_eq!(scheduler.try_execute_task().await.unwrap(), Step::Empty);
    h.connected().await;
    assert_eq!(h.connection(id).await.status, ConnectionStatus::Active);
}

/// The poller syncs a CalDAV connection once it is due, and not before.
async fn the_scheduler_polls_caldav_connections_when_due(h: &Harness) {
    let id = h.connected().await;
    let scheduler = pillow_server::sync::Scheduler::new(h.app.state.sync.clone());
    assert_eq!(scheduler.try_execute_task().await.unwrap(), Step::Empty);
    let a = soon(2);
    h.dav
        .put(
            "/alice/work/a.ics",
            &ics("a", a, a + SignedDuration::from_mins(30)),
        )
        .await;
    h.app
        .store()
        .update_calendar_connection(
            h.tenant.id,
            id,
            &ConnectionPatch {
                next_sync_at: Some(Timestamp::now()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(scheduler.try_execute_task().await.unwrap(), Step::Done(1));
    assert_eq!(h.busy().await.len(), 1);
    assert!(h.connection(id).await.next_sync_at > Timestamp::now());
}

with_radicale!(
    connecting_with_discovery_finds_the_event_calendar_and_seals_the_password,
    an_event_created_in_radicale_blocks_availability_after_a_sync,
    a_booking_appears_in_radicale_exactly_once_even_when_the_write_is_retried,
    moved_and_deleted_events_are_followed,
    a_recurring_event_with_an_exception_and_an_exdate_blocks_the_right_instances_across_dst,
    an_invalidated_sync_token_leads_to_a_correct_full_resync,
    a_refused_password_marks_the_connection_needs_reauth,
    the_scheduler_polls_caldav_connections_when_due,
    floating_times_and_all_day_dates_are_read_in_the_members_zone_across_dst,
);

/// A member in a zone with a DST change in the window: a weekly 09:00 event written in
/// floating time (no zone, as some calendar apps write them) blocks 09:00 of the member's own
/// clock on both sides of the change, not 09:00 UTC; an all-day event keeps its date (stored
/// as the date itself, which availability reads in the member's zone).
async fn floating_times_and_all_day_dates_are_read_in_the_members_zone_across_dst(h: &Harness) {
    let (zone, name, change) = next_dst_change();
    h.app
        .store()
        .update_user(
            h.tenant.id,
            h.tenant.owner.id,
            &pillow_store::UserPatch {
                time_zone: Some(name.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    let id = h.connected().await;
    let first_day = (change - SignedDuration::from_hours(24 * 14))
        .to_zoned(zone.clone())
        .date();
    let week = |n: i32| first_day.checked_add(jiff::Span::new().weeks(n)).unwrap();
    let local = |day: jiff::civil::Date, hour: i8| {
        day.at(hour, 0, 0, 0)
            .to_zoned(zone.clone())
            .unwrap()
            .timestamp()
    };
    let stamp =
        |day: jiff::civil::Date, hour: i8| format!("{}T{hour:02}0000", day.strftime("%Y%m%d"));
    let floating = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
         BEGIN:VEVENT\r\nUID:floating\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:{}\r\nDTEND:{}\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Standup\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n",
        stamp(week(0), 9),
        stamp(week(0), 10),
    );
    h.dav.put("/alice/work/floating.ics", &floating).await;
    let holiday = week(1).checked_add(jiff::Span::new().days(2)).unwrap();
    let all_day = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
         BEGIN:VEVENT\r\nUID:holiday\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:Holiday\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n",
        holiday.strftime("%Y%m%d"),
        holiday.tomorrow().unwrap().strftime("%Y%m%d"),
    );
    h.dav.put("/alice/work/holiday.ics", &all_day).await;
    h.sync(id).await;

    let hour = SignedDuration::from_hours(1);
    let carrier = |d: jiff::civil::Date| {
        d.at(0, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
    };
    let mut expected: Vec<_> = (0..4)
        .map(|n| (local(week(n), 9), local(week(n), 9) + hour))
        .chain([(carrier(holiday), carrier(holiday.tomorrow().unwrap()))])
        .collect();
    expected.sort();
    assert_eq!(h.busy().await, expected, "in {name}, change at {change}");
    let offsets: std::collections::BTreeSet<_> =
        (0..4).map(|n| zone.to_offset(local(week(n), 9))).collect();
    assert_eq!(offsets.len(), 2, "the instances straddle the change");
    let events = h
        .app
        .store()
        .list_events(
            h.tenant.id,
            &EventFilter {
                user_ids: vec![h.tenant.owner.id],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let holiday_event = events.iter().find(|e| e.title == "Holiday").unwrap();
    assert!(holiday_event.all_day);
}

/// Two servers on one PostgreSQL database never sync one CalDAV connection at once: while
/// one holds the lease the other's manual sync is `busy` and its poller passes it by; and
/// when both are told again and again at the same moment, the local copy still ends equal to
/// the calendar, nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_database_never_sync_one_caldav_connection_at_once() {
    let Some(h) = harness(Db::Postgres).await else {
        eprintln!("skipped: two servers on one database need PostgreSQL and Radicale");
        return;
    };
    let second = spawn_app_beside(&h.app, &settings()).await;
    let id = h.connected().await;
    let store = h.app.store();
    let holder = "another-process";
    assert!(
        store
            .lease_calendar_connection(
                h.tenant.id,
                id,
                holder,
                Timestamp::now(),
                SignedDuration::from_mins(5)
            )
            .await
            .unwrap()
            .is_some()
    );
    let busy = second
        .state
        .sync
        .sync_now(h.tenant.id, id, Trigger::Manual)
        .await;
    assert!(matches!(busy, Err(EngineError::Busy)), "{busy:?}");
    store
        .update_calendar_connection(
            h.tenant.id,
            id,
            &ConnectionPatch {
                next_sync_at: Some(Timestamp::now()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let scheduler = pillow_server::sync::Scheduler::new(second.state.sync.clone());
    assert_eq!(scheduler.try_execute_task().await.unwrap(), Step::Empty);
    store
        .release_calendar_connection(h.tenant.id, id, holder)
        .await
        .unwrap();

    let half = SignedDuration::from_mins(30);
    let base = soon(0);
    let at = |round: i64| base + SignedDuration::from_hours(round);
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    for round in 0..8i64 {
        let at = at(round);
        h.dav
            .put(
                &format!("/alice/work/r{round}.ics"),
                &ics(&format!("r{round}"), at, at + half),
            )
            .await;
        if round % 3 == 2 {
            h.dav
                .delete(&format!("/alice/work/r{}.ics", round - 1))
                .await;
        }
        if round % 4 == 3 {
            h.dav.invalidate_sync_tokens();
        }
        let (a, b) = tokio::join!(
            h.app.state.sync.sync_now(h.tenant.id, id, Trigger::Manual),
            second.state.sync.sync_now(h.tenant.id, id, Trigger::Manual),
        );
        for result in [a, b] {
            let name = match result {
                Ok(_) => "synced",
                Err(EngineError::Busy) => "busy",
                Err(other) => panic!("sync failed: {other}"),
            };
            *outcomes.entry(name).or_default() += 1;
        }
    }
    assert!(
        outcomes.get("synced").copied().unwrap_or(0) >= 8,
        "{outcomes:?}"
    );
    h.app
        .state
        .sync
        .sync_when_free(
            h.tenant.id,
            id,
            Trigger::Manual,
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    let mut expected: Vec<_> = (0..8i64)
        .filter(|r| !(r % 3 == 1 && *r < 7))
        .map(|r| (at(r), at(r) + half))
        .collect();
    expected.sort();
    assert_eq!(h.busy().await, expected, "{outcomes:?}");
    second.finish().await;
    h.app.finish().await;
}
