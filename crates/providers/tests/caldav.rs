//! The real CalDAV client against a real Radicale server, over HTTP on loopback.

#[path = "caldav/radicale.rs"]
mod radicale;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use pillow_providers::caldav::{
    AddressPolicy, BusyInterval, CalDavClient, CalDavError, CalendarObject, Changes, Deleted,
    EventStatus, EventTime, SyncCursor, Transparency, Window, Written, booking_ical,
    busy_intervals,
};
use radicale::Radicale;

const WORK: &str = "/alice/work/";

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// A one-off timed event in UTC, as another calendar app would write it.
fn event(uid: &str, start: &str, end: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{uid}\r\n{extra}\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn window() -> Window {
    Window {
        start: ts("2026-01-01T00:00:00Z"),
        end: ts("2026-06-01T00:00:00Z"),
        zone: TimeZone::UTC,
    }
}

/// A server with a work calendar, and a client connected to it.
async fn server() -> Option<(Radicale, CalDavClient)> {
    let server = Radicale::start().await?;
    server.mkcalendar(WORK, "Work", "VEVENT").await;
    let client =
        CalDavClient::connect(&server.account(), AddressPolicy::AllowPrivate).expect("client");
    Some((server, client))
}

fn object<'a>(changes: &'a Changes, uid: &str) -> &'a CalendarObject {
    changes
        .changed
        .iter()
        .find(|o| o.ical.contains(&format!("UID:{uid}")))
        .unwrap_or_else(|| panic!("{uid} not listed in {changes:?}"))
}

fn busy(objects: &[&CalendarObject]) -> Vec<BusyInterval> {
    let occurrences: Vec<_> = objects
        .iter()
        .flat_map(|o| o.occurrences(&window()).expect("expand"))
        .collect();
    busy_intervals(&occurrences, &TimeZone::UTC)
}

#[tokio::test]
async fn discovery_finds_the_first_event_calendar_or_the_one_named() {
    let Some(server) = Radicale::start().await else {
        return;
    };
    server.mkcalendar("/alice/tasks/", "Tasks", "VTODO").await;
    server
        .mkcalendar("/alice/personal/", "Personal", "VEVENT")
        .await;
    server.mkcalendar(WORK, "Work", "VEVENT").await;
    let mut client =
        CalDavClient::connect(&server.account(), AddressPolicy::AllowPrivate).expect("client");

    let all = client.event_calendars().await.expect("calendars");
    let mut hrefs: Vec<&str> = all.iter().map(|c| c.href.as_str()).collect();
    hrefs.sort_unstable();
    assert_eq!(
        hrefs,
        ["/alice/personal/", "/alice/work/"],
        "the to-do list is not offered"
    );
    assert!(all.iter().all(|c| c.supports_sync));

    let first = client.discover(None).await.expect("first");
    assert_eq!(first.href, all[0].href);
    let work = client.discover(Some("work")).await.expect("by name");
    assert_eq!(work.href, WORK);
    assert_eq!(work.display_name.as_deref(), Some("Work"));
    assert!(matches!(
        client.discover(Some("Holidays")).await,
        Err(CalDavError::NoCalendar(_))
    ));
}

#[tokio::test]
async fn a_wrong_app_password_is_unauthorized() {
    let Some(server) = Radicale::start().await else {
        return;
    };
    let mut account = server.account();
    account.password = "wrong".to_string().into();
    let mut client = CalDavClient::connect(&account, AddressPolicy::AllowPrivate).expect("client");
    assert_eq!(client.discover(None).await, Err(CalDavError::Unauthorized));
}

#[tokio::test]
async fn a_server_on_a_private_address_is_refused_unless_allowed() {
    let Some(server) = Radicale::start().await else {
        return;
    };
    server.mkcalendar(WORK, "Work", "VEVENT").await;
    // By IP literal (never resolved) and by a name that resolves to loopback.
    let literal = server.account();
    let mut named = server.account();
    named.server_url = literal.server_url.replace("127.0.0.1", "localhost");
    let mut client = CalDavClient::connect(&literal, AddressPolicy::PublicOnly).expect("client");
    assert_eq!(
        client.discover(None).await,
        Err(CalDavError::Blocked("127.0.0.1".into()))
    );
    let mut client = CalDavClient::connect(&named, AddressPolicy::PublicOnly).expect("client");
    match client.discover(None).await {
        Err(CalDavError::Transport(message)) => {
            assert!(message.contains("no public address"), "{message}");
        }
        other => panic!("a name resolving to loopback is refused: {other:?}"),
    }
    let mut client = CalDavClient::connect(&named, AddressPolicy::AllowPrivate).expect("client");
    assert_eq!(client.discover(None).await.expect("allowed").href, WORK);
}

#[tokio::test]
async fn an_event_created_on_the_server_shows_in_a_full_listing() {
    let Some((server, client)) = server().await else {
        return;
    };
    let etag = server
        .put(
            "/alice/work/dentist.ics",
            &event("dentist", "20260310T150000Z", "20260310T160000Z", ""),
        )
        .await;
    server
        .put(
            "/alice/work/lunch.ics",
            &event(
                "lunch",
                "20260311T120000Z",
                "20260311T130000Z",
                "TRANSP:TRANSPARENT\r\n",
            ),
        )
        .await;

    let changes = client.changes(WORK, None).await.expect("full listing");
    assert!(changes.full);
    assert_eq!(changes.changed.len(), 2);
    let dentist = object(&changes, "dentist");
    assert_eq!(dentist.href, "/alice/work/dentist.ics");
    assert_eq!(dentist.etag, etag);
    let occurrences = dentist.occurrences(&window()).expect("expand");
    assert_eq!(occurrences.len(), 1);
    assert_eq!(
        occurrences[0].start,
        EventTime::At(ts("2026-03-10T15:00:00Z"))
    );
    assert_eq!(occurrences[0].status, EventStatus::Confirmed);
    let lunch = object(&changes, "lunch")
        .occurrences(&window())
        .expect("expand");
    assert_eq!(lunch[0].transparency, Transparency::Transparent);
    assert_eq!(
        busy(&changes.changed.iter().collect::<Vec<_>>()),
        [BusyInterval {
            start: ts("2026-03-10T15:00:00Z"),
            end: ts("2026-03-10T16:00:00Z")
        }],
        "the transparent lunch blocks nothing"
    );
    assert!(matches!(changes.cursor, SyncCursor::Token { .. }));
}

#[tokio::test]
async fn incremental_sync_sees_a_moved_and_a_deleted_event() {
    let Some((server, client)) = server().await else {
        return;
    };
    server
        .put(
            "/alice/work/a.ics",
            &event("a", "20260310T150000Z", "20260310T160000Z", ""),
        )
        .await;
    server
        .put(
            "/alice/work/b.ics",
            &event("b", "20260312T150000Z", "20260312T160000Z", ""),
        )
        .await;
    server
        .put(
            "/alice/work/c.ics",
            &event("c", "20260313T150000Z", "20260313T160000Z", ""),
        )
        .await;
    let first = client.changes(WORK, None).await.expect("full");

    let unchanged = client
        .changes(WORK, Some(&first.cursor))
        .await
        .expect("nothing");
    assert!(!unchanged.full);
    assert!(unchanged.changed.is_empty() && unchanged.deleted.is_empty());

    server
        .put(
            "/alice/work/a.ics",
            &event("a", "20260317T090000Z", "20260317T100000Z", ""),
        )
        .await;
    server.delete("/alice/work/b.ics").await;
    let changes = client
        .changes(WORK, Some(&unchanged.cursor))
        .await
        .expect("incremental");
    assert!(!changes.full);
    assert_eq!(
        changes.changed.len(),
        1,
        "only the moved event: {changes:?}"
    );
    let moved = object(&changes, "a")
        .occurrences(&window())
        .expect("expand");
    assert_eq!(moved[0].start, EventTime::At(ts("2026-03-17T09:00:00Z")));
    assert_eq!(changes.deleted, ["/alice/work/b.ics"]);
    assert_ne!(changes.cursor, unchanged.cursor);
}

#[tokio::test]
async fn without_sync_collection_the_ctag_and_etags_find_changes_and_deletions() {
    let Some((server, client)) = server().await else {
        return;
    };
    let client = client.without_sync_collection();
    server
        .put(
            "/alice/work/a.ics",
            &event("a", "20260310T150000Z", "20260310T160000Z", ""),
        )
        .await;
    server
        .put(
            "/alice/work/b.ics",
            &event("b", "20260312T150000Z", "20260312T160000Z", ""),
        )
        .await;
    let first = client.changes(WORK, None).await.expect("full");
    assert!(first.full);
    assert_eq!(first.changed.len(), 2);
    let SyncCursor::Etags { ctag, etags } = &first.cursor else {
        panic!("an ETag cursor: {:?}", first.cursor)
    };
    assert!(ctag.is_some(), "Radicale has a getctag");
    assert_eq!(etags.len(), 2);

    let same = client
        .changes(WORK, Some(&first.cursor))
        .await
        .expect("same");
    assert!(same.changed.is_empty() && same.deleted.is_empty());

    server
        .put(
            "/alice/work/a.ics",
            &event("a", "20260317T090000Z", "20260317T100000Z", ""),
        )
        .await;
    server.delete("/alice/work/b.ics").await;
    let changes = client
        .changes(WORK, Some(&same.cursor))
        .await
        .expect("changes");
    assert!(!changes.full);
    assert_eq!(changes.changed.len(), 1);
    assert_eq!(changes.changed[0].href, "/alice/work/a.ics");
    assert_eq!(changes.deleted, ["/alice/work/b.ics"]);
}

#[tokio::test]
async fn a_create_retried_with_the_same_booking_id_leaves_exactly_one_event() {
    let Some((server, client)) = server().await else {
        return;
    };
    let booking = uuid::Uuid::new_v4();
    let ics = booking_ical(
        booking,
        "Call with Sam",
        Some("Booked with Pillow"),
        ts("2026-03-10T15:00:00Z"),
        ts("2026-03-10T15:30:00Z"),
    );

    let Written::Done { href, etag } = client
        .create_event(WORK, booking, &ics)
        .await
        .expect("create")
    else {
        panic!("the first create writes")
    };
    assert_eq!(href, CalDavClient::booking_href(WORK, booking));
    // The retry: the server answers 412 to If-None-Match: *, and the event read back is ours.
    let Written::AlreadyThere(existing) = client
        .create_event(WORK, booking, &ics)
        .await
        .expect("retry")
    else {
        panic!("a retried create does not write again")
    };
    assert_eq!(existing.etag, etag);
    assert_eq!(server.hrefs(WORK).await, vec![href.clone()]);

    let listed = client.changes(WORK, None).await.expect("listing");
    let occurrences = listed.changed[0].occurrences(&window()).expect("expand");
    assert_eq!(occurrences.len(), 1);
    assert_eq!(
        occurrences[0].booking_id,
        Some(booking.to_string()),
        "our marker comes back"
    );

    // Another booking's event at that name is a conflict, never overwritten.
    let other = uuid::Uuid::new_v4();
    server
        .put(
            &CalDavClient::booking_href(WORK, other),
            &event("not-ours", "20260310T150000Z", "20260310T160000Z", ""),
        )
        .await;
    assert!(matches!(
        client.create_event(WORK, other, &ics).await,
        Err(CalDavError::Conflict(_))
    ));
}

#[tokio::test]
async fn an_update_with_a_stale_etag_gets_412_and_reads_the_event_again() {
    let Some((server, client)) = server().await else {
        return;
    };
    let booking = uuid::Uuid::new_v4();
    let at = |h: i64| ts("2026-03-10T15:00:00Z") + SignedDuration::from_hours(h);
    let ics = booking_ical(booking, "Call", None, at(0), at(1));
    let Written::Done { href, etag: old } = client
        .create_event(WORK, booking, &ics)
        .await
        .expect("create")
    else {
        panic!("created")
    };
    // Someone moves it in their calendar app.
    let theirs = booking_ical(booking, "Call (moved by host)", None, at(2), at(3));
    let current = server.put(&href, &theirs).await;

    let ours = booking_ical(booking, "Call", None, at(4), at(5));
    let Written::Stale(now) = client
        .update_event(&href, &old, &ours)
        .await
        .expect("update")
    else {
        panic!("a stale ETag does not overwrite")
    };
    assert_eq!(now.etag, current);
    assert!(now.ical.contains("moved by host"));

    // With the fresh ETag the update goes through.
    let Written::Done { etag: newer, .. } = client
        .update_event(&href, &now.etag, &ours)
        .await
        .expect("update")
    else {
        panic!("a fresh ETag writes")
    };
    assert_ne!(newer, current);
    let read = client.get_event(&href).await.expect("read");
    assert_eq!(
        read.occurrences(&window()).expect("expand")[0].start,
        EventTime::At(at(4))
    );

    // A delete with the old ETag deletes nothing; with the current one it deletes.
    assert!(matches!(
        client.delete_event(&href, &current).await,
        Ok(Deleted::Stale(_))
    ));
    assert_eq!(client.delete_event(&href, &newer).await, Ok(Deleted::Done));
    assert_eq!(
        client.delete_event(&href, &newer).await,
        Ok(Deleted::AlreadyGone)
    );
    assert!(server.hrefs(WORK).await.is_empty());
}

/// A weekly 09:00 meeting in New York from Tuesday 2026-02-24, five times; 2026-03-10 is
/// excluded and 2026-03-17 moved to 14:00. New York moves to EDT on Sunday 2026-03-08, so
/// 09:00 is 14:00Z before it and 13:00Z after.
const NEW_YORK_WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nBEGIN:STANDARD\r\nDTSTART:19701101T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700308T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n\
TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:ny-weekly\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=America/New_York:20260224T090000\r\nDTEND;TZID=America/New_York:20260224T100000\r\n\
RRULE:FREQ=WEEKLY;COUNT=5\r\nEXDATE;TZID=America/New_York:20260310T090000\r\nSUMMARY:Standup\r\n\
END:VEVENT\r\nBEGIN:VEVENT\r\nUID:ny-weekly\r\nDTSTAMP:20260101T000000Z\r\n\
RECURRENCE-ID;TZID=America/New_York:20260317T090000\r\n\
DTSTART;TZID=America/New_York:20260317T140000\r\nDTEND;TZID=America/New_York:20260317T150000\r\n\
SUMMARY:Standup (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/// A weekly Thursday 09:00 in London from 2026-03-19 until 2026-04-09; 2026-03-26 excluded
/// and 2026-04-02 moved to 11:00. London moves to BST on Sunday 2026-03-29.
const LONDON_WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:london-weekly\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/London:20260319T090000\r\nDTEND;TZID=Europe/London:20260319T093000\r\n\
RRULE:FREQ=WEEKLY;UNTIL=20260409T080000Z\r\nEXDATE;TZID=Europe/London:20260326T090000\r\n\
END:VEVENT\r\nBEGIN:VEVENT\r\nUID:london-weekly\r\nDTSTAMP:20260101T000000Z\r\n\
RECURRENCE-ID;TZID=Europe/London:20260402T090000\r\n\
DTSTART;TZID=Europe/London:20260402T110000\r\nDTEND;TZID=Europe/London:20260402T113000\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

#[tokio::test]
async fn a_weekly_event_with_an_exdate_and_an_override_expands_to_the_right_instances_across_dst() {
    let Some((server, client)) = server().await else {
        return;
    };
    server.put("/alice/work/ny.ics", NEW_YORK_WEEKLY).await;
    server.put("/alice/work/london.ics", LONDON_WEEKLY).await;
    let changes = client.changes(WORK, None).await.expect("listing");
    let interval = |start: &str, minutes: i64| BusyInterval {
        start: ts(start),
        end: ts(start) + SignedDuration::from_mins(minutes),
    };

    assert_eq!(
        busy(&[object(&changes, "ny-weekly")]),
        [
            interval("2026-02-24T14:00:00Z", 60), // EST
            interval("2026-03-03T14:00:00Z", 60), // EST
            // 2026-03-10 excluded
            interval("2026-03-17T18:00:00Z", 60), // moved to 14:00 EDT
            interval("2026-03-24T13:00:00Z", 60), // 09:00 EDT
        ]
    );
    assert_eq!(
        busy(&[object(&changes, "london-weekly")]),
        [
            interval("2026-03-19T09:00:00Z", 30), // GMT
            // 2026-03-26 excluded
            interval("2026-04-02T10:00:00Z", 30), // moved to 11:00 BST
            interval("2026-04-09T08:00:00Z", 30), // 09:00 BST, the UNTIL instant itself
        ]
    );
    let ids: Vec<String> = object(&changes, "ny-weekly")
        .occurrences(&window())
        .expect("expand")
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert!(
        ids.contains(&"ny-weekly_20260317T130000Z".to_string()),
        "an override keeps the id of the instance it replaces: {ids:?}"
    );
}

#[tokio::test]
async fn an_invalidated_sync_token_leads_to_a_full_listing() {
    let Some((server, client)) = server().await else {
        return;
    };
    server
        .put(
            "/alice/work/a.ics",
            &event("a", "20260310T150000Z", "20260310T160000Z", ""),
        )
        .await;
    let first = client.changes(WORK, None).await.expect("full");
    server
        .put(
            "/alice/work/b.ics",
            &event("b", "20260312T150000Z", "20260312T160000Z", ""),
        )
        .await;
    server.delete("/alice/work/a.ics").await;
    server.invalidate_sync_tokens();

    let changes = client
        .changes(WORK, Some(&first.cursor))
        .await
        .expect("resync");
    assert!(changes.full, "the caller must replace what it had");
    assert_eq!(changes.changed.len(), 1);
    assert_eq!(changes.changed[0].href, "/alice/work/b.ics");
    assert!(changes.deleted.is_empty());
    let next = client
        .changes(WORK, Some(&changes.cursor))
        .await
        .expect("incremental again");
    assert!(!next.full && next.changed.is_empty());
}
