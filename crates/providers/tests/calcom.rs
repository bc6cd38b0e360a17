//! The Cal.com client against the Cal.com fake, over real HTTP on loopback.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
use pillow_fakes::calcom::{FakeCalcom, NewFakeEventType, NewFakeUser, WeeklyHours};
use pillow_providers::calcom::{
    BOOKINGS_VERSION, CalAttendee, CalcomClient, CalcomError, EVENT_TYPES_VERSION, EventTypeRef,
    NewCalBooking, RetryPolicy, SLOTS_VERSION, SlotsQuery,
};
use secrecy::SecretString;

const KEY: &str = "cal_test_ana_0123456789abcdef";

struct Setup {
    fake: FakeCalcom,
    client: CalcomClient,
    key: SecretString,
    event_type_id: i64,
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Ana works Monday to Friday, 09:00–17:00 in Rome (UTC+1 in January); "intro" lasts an hour
/// with Cal.com's default two hours of notice. The fake's clock is 2030-01-01 (a Tuesday).
async fn setup() -> Setup {
    let fake = FakeCalcom::start().await;
    fake.set_now(ts("2030-01-01T00:00:00Z"));
    let ana = fake.add_user(NewFakeUser::new("ana", KEY, "Europe/Rome"));
    let event_type_id = fake.add_event_type(ana, NewFakeEventType::new("intro", 60));
    let client =
        CalcomClient::new(fake.base_url(), reqwest::Client::new()).with_retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(50),
        });
    Setup {
        fake,
        client,
        key: SecretString::from(KEY),
        event_type_id,
    }
}

fn monday_query(event_type: EventTypeRef, time_zone: Option<&str>) -> SlotsQuery {
    SlotsQuery {
        event_type,
        start: ts("2030-01-07T00:00:00Z"),
        end: ts("2030-01-08T23:59:59Z"),
        time_zone: time_zone.map(str::to_string),
        duration_minutes: None,
    }
}

fn attendee() -> CalAttendee {
    CalAttendee {
        name: "Ben Caller".into(),
        email: Some("ben@example.com".into()),
        time_zone: "Europe/Rome".into(),
        phone_number: Some("+393331234567".into()),
        language: None,
    }
}

fn booking_at(setup: &Setup, start: &str) -> NewCalBooking {
    NewCalBooking {
        start: ts(start),
        event_type_id: setup.event_type_id,
        attendee: attendee(),
        length_in_minutes: None,
        booking_fields_responses: BTreeMap::from([("notes".into(), "First visit".into())]),
        metadata: BTreeMap::from([("idempotency_key".into(), "call-1".into())]),
    }
}

async fn offered_starts(setup: &Setup) -> Vec<Timestamp> {
    setup
        .client
        .slots(
            &setup.key,
            &monday_query(EventTypeRef::Id(setup.event_type_id), Some("Europe/Rome")),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|slot| slot.start)
        .collect()
}

#[tokio::test]
async fn slots_over_two_days_come_back_flattened_in_order_with_their_ends() {
    let setup = setup().await;
    let slots = setup
        .client
        .slots(
            &setup.key,
            &monday_query(EventTypeRef::Id(setup.event_type_id), Some("Europe/Rome")),
        )
        .await
        .unwrap();
    // 09:00–17:00 Rome is 08:00–16:00 UTC: eight one-hour slots on each of the two days.
    assert_eq!(slots.len(), 16);
    assert_eq!(slots[0].start, ts("2030-01-07T08:00:00Z"));
    assert_eq!(slots[0].end, Some(ts("2030-01-07T09:00:00Z")));
    assert_eq!(slots[7].start, ts("2030-01-07T15:00:00Z"));
    assert_eq!(slots[8].start, ts("2030-01-08T08:00:00Z"));
    assert!(slots.windows(2).all(|pair| pair[0].start < pair[1].start));
}

#[tokio::test]
async fn slots_by_slug_and_username_are_those_of_the_id() {
    let setup = setup().await;
    let by_slug = setup
        .client
        .slots(
            &setup.key,
            &monday_query(
                EventTypeRef::Slug {
                    slug: "intro".into(),
                    username: "ana".into(),
                    organization_slug: None,
                },
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        by_slug.iter().map(|slot| slot.start).collect::<Vec<_>>(),
        offered_starts(&setup).await
    );
    let request = &setup.fake.requests()[0];
    assert_eq!(request.param("eventTypeSlug"), Some("intro"));
    assert_eq!(request.param("username"), Some("ana"));
    assert_eq!(request.param("eventTypeId"), None);
}

#[tokio::test]
async fn the_zone_changes_how_cal_com_writes_slots_not_when_they_are() {
    let setup = setup().await;
    let in_utc = setup
        .client
        .slots(
            &setup.key,
            &monday_query(EventTypeRef::Id(setup.event_type_id), None),
        )
        .await
        .unwrap();
    let in_tokyo = setup
        .client
        .slots(
            &setup.key,
            &monday_query(EventTypeRef::Id(setup.event_type_id), Some("Asia/Tokyo")),
        )
        .await
        .unwrap();
    assert_eq!(in_utc, in_tokyo);
    let requests = setup.fake.requests();
    assert_eq!(requests[0].param("timeZone"), None);
    assert_eq!(requests[1].param("timeZone"), Some("Asia/Tokyo"));
    assert_eq!(requests[1].param("format"), Some("range"));
    assert_eq!(requests[1].param("start"), Some("2030-01-07T00:00:00Z"));
}

#[tokio::test]
async fn a_duration_picks_one_of_the_event_types_lengths() {
    let setup = setup().await;
    let owner = setup
        .fake
        .add_user(NewFakeUser::new("cy", "cal_test_cy_0123456789", "UTC"));
    let flexible = setup.fake.add_event_type(
        owner,
        NewFakeEventType::new("flex", 30).other_lengths(&[90]),
    );
    let mut query = monday_query(EventTypeRef::Id(flexible), None);
    query.duration_minutes = Some(90);
    let slots = setup.client.slots(&setup.key, &query).await.unwrap();
    // 09:00–17:00 UTC holds five 90-minute slots each day (the last ends at 16:30).
    assert_eq!(slots.len(), 10);
    assert_eq!(slots[0].end, Some(ts("2030-01-07T10:30:00Z")));
    query.duration_minutes = Some(45);
    assert!(matches!(
        setup.client.slots(&setup.key, &query).await,
        Err(CalcomError::BadRequest { status: 400, .. })
    ));
}

#[tokio::test]
async fn a_booking_is_accepted_and_its_slot_is_no_longer_offered() {
    let setup = setup().await;
    let booking = setup
        .client
        .create_booking(&setup.key, &booking_at(&setup, "2030-01-07T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(booking.status, "accepted");
    assert_eq!(booking.start, ts("2030-01-07T10:00:00Z"));
    assert_eq!(booking.end, ts("2030-01-07T11:00:00Z"));
    assert_eq!(booking.duration, Some(60));
    assert_eq!(booking.event_type_id, Some(setup.event_type_id));
    assert_eq!(booking.attendees[0].name, "Ben Caller");
    assert_eq!(
        booking.attendees[0].email.as_deref(),
        Some("ben@example.com")
    );
    assert_eq!(booking.metadata["idempotency_key"], "call-1");
    assert!(!booking.uid.is_empty());

    let starts = offered_starts(&setup).await;
    assert_eq!(starts.len(), 15);
    assert!(!starts.contains(&ts("2030-01-07T10:00:00Z")));

    let sent = &setup.fake.requests()[0];
    let body = sent.body.as_ref().unwrap();
    assert_eq!(body["start"], "2030-01-07T10:00:00Z");
    assert_eq!(body["attendee"]["timeZone"], "Europe/Rome");
    assert_eq!(body["attendee"]["phoneNumber"], "+393331234567");
    assert_eq!(body["bookingFieldsResponses"]["notes"], "First visit");
}

#[tokio::test]
async fn booking_a_taken_slot_is_refused_as_unavailable() {
    let setup = setup().await;
    let first = booking_at(&setup, "2030-01-07T10:00:00Z");
    setup
        .client
        .create_booking(&setup.key, &first)
        .await
        .unwrap();
    // Overlapping, not identical: 10:30 collides with 10:00–11:00.
    for start in ["2030-01-07T10:00:00Z", "2030-01-07T10:30:00Z"] {
        let error = setup
            .client
            .create_booking(&setup.key, &booking_at(&setup, start))
            .await
            .unwrap_err();
        assert!(
            matches!(error, CalcomError::SlotUnavailable { .. }),
            "{error:?}"
        );
    }
    assert_eq!(setup.fake.requests()[1].status, 409);
    assert_eq!(setup.fake.bookings().len(), 1);
}

#[tokio::test]
async fn the_older_400_answer_to_a_taken_slot_is_also_unavailable() {
    let setup = setup().await;
    setup.fake.answer_conflicts_like_older_versions(true);
    let request = booking_at(&setup, "2030-01-07T10:00:00Z");
    setup
        .client
        .create_booking(&setup.key, &request)
        .await
        .unwrap();
    let error = setup
        .client
        .create_booking(&setup.key, &request)
        .await
        .unwrap_err();
    assert!(matches!(error, CalcomError::SlotUnavailable { .. }));
    assert_eq!(setup.fake.requests()[1].status, 400);
}

#[tokio::test]
async fn a_time_outside_working_hours_is_unavailable() {
    let setup = setup().await;
    // 18:00 in Rome; and a Saturday.
    for start in ["2030-01-07T17:00:00Z", "2030-01-12T10:00:00Z"] {
        let error = setup
            .client
            .create_booking(&setup.key, &booking_at(&setup, start))
            .await
            .unwrap_err();
        assert!(
            matches!(error, CalcomError::SlotUnavailable { .. }),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_start_inside_the_minimum_notice_is_a_bad_request() {
    let setup = setup().await;
    setup.fake.set_now(ts("2030-01-07T09:30:00Z"));
    let error = setup
        .client
        .create_booking(&setup.key, &booking_at(&setup, "2030-01-07T10:00:00Z"))
        .await
        .unwrap_err();
    match error {
        CalcomError::BadRequest { code, .. } => {
            assert_eq!(code, "booking_time_out_of_bounds_error");
        }
        other => panic!("expected BadRequest, got {other:?}"),
    }
    // Nor is it offered: the first slot is two hours after now.
    assert_eq!(offered_starts(&setup).await[0], ts("2030-01-07T12:00:00Z"));
}

#[tokio::test]
async fn an_invalid_attendee_is_a_bad_request_with_cal_coms_message() {
    let setup = setup().await;
    let mut request = booking_at(&setup, "2030-01-07T10:00:00Z");
    request.attendee.email = None;
    request.attendee.phone_number = None;
    match setup.client.create_booking(&setup.key, &request).await {
        Err(CalcomError::BadRequest {
            status: 400,
            message,
            ..
        }) => assert!(message.contains("contact method"), "{message}"),
        other => panic!("expected BadRequest, got {other:?}"),
    }
}

#[tokio::test]
async fn a_booking_can_be_read_back_by_uid() {
    let setup = setup().await;
    let made = setup
        .client
        .create_booking(&setup.key, &booking_at(&setup, "2030-01-08T14:00:00Z"))
        .await
        .unwrap();
    let read = setup
        .client
        .get_booking(&setup.key, &made.uid)
        .await
        .unwrap();
    assert_eq!(read, made);
    assert!(matches!(
        setup.client.get_booking(&setup.key, "noSuchUid123").await,
        Err(CalcomError::NotFound { .. })
    ));
    // A uid that is not one path segment never leaves the client.
    let before = setup.fake.requests().len();
    assert!(matches!(
        setup.client.get_booking(&setup.key, "../me").await,
        Err(CalcomError::NotFound { .. })
    ));
    assert_eq!(setup.fake.requests().len(), before);
}

#[tokio::test]
async fn cancelling_frees_the_slot_and_cannot_be_repeated() {
    let setup = setup().await;
    let made = setup
        .client
        .create_booking(&setup.key, &booking_at(&setup, "2030-01-07T10:00:00Z"))
        .await
        .unwrap();
    let cancelled = setup
        .client
        .cancel_booking(&setup.key, &made.uid, Some("Caller changed plans"))
        .await
        .unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert_eq!(
        cancelled.cancellation_reason.as_deref(),
        Some("Caller changed plans")
    );
    assert!(
        offered_starts(&setup)
            .await
            .contains(&ts("2030-01-07T10:00:00Z"))
    );
    assert!(matches!(
        setup
            .client
            .cancel_booking(&setup.key, &made.uid, None)
            .await,
        Err(CalcomError::BadRequest { status: 400, .. })
    ));
    assert!(matches!(
        setup
            .client
            .cancel_booking(&setup.key, "unknownUid", None)
            .await,
        Err(CalcomError::NotFound { .. })
    ));
}

#[tokio::test]
async fn rescheduling_moves_the_booking_to_a_new_uid() {
    let setup = setup().await;
    let made = setup
        .client
        .create_booking(&setup.key, &booking_at(&setup, "2030-01-07T10:00:00Z"))
        .await
        .unwrap();
    let moved = setup
        .client
        .reschedule_booking(
            &setup.key,
            &made.uid,
            ts("2030-01-08T13:00:00Z"),
            Some("Conflict at work"),
        )
        .await
        .unwrap();
    assert_ne!(moved.uid, made.uid);
    assert_eq!(moved.status, "accepted");
    assert_eq!(moved.start, ts("2030-01-08T13:00:00Z"));
    assert_eq!(moved.end, ts("2030-01-08T14:00:00Z"));
    assert_eq!(
        moved.rescheduled_from_uid.as_deref(),
        Some(made.uid.as_str())
    );
    assert_eq!(
        moved.rescheduling_reason.as_deref(),
        Some("Conflict at work")
    );
    let old = setup
        .client
        .get_booking(&setup.key, &made.uid)
        .await
        .unwrap();
    assert_eq!(old.status, "cancelled");

    let starts = offered_starts(&setup).await;
    assert!(starts.contains(&ts("2030-01-07T10:00:00Z")));
    assert!(!starts.contains(&ts("2030-01-08T13:00:00Z")));
}

#[tokio::test]
async fn rescheduling_onto_a_taken_slot_is_refused_and_keeps_the_booking() {
    let setup = setup().await;
    let first = setup
        .client
        .create_booking(&setup.key, &booking_at(&setup, "2030-01-07T10:00:00Z"))
        .await
        .unwrap();
    setup
        .client
        .create_booking(&setup.key, &booking_at(&setup, "2030-01-07T12:00:00Z"))
        .await
        .unwrap();
    let error = setup
        .client
        .reschedule_booking(&setup.key, &first.uid, ts("2030-01-07T12:00:00Z"), None)
        .await
        .unwrap_err();
    assert!(matches!(error, CalcomError::SlotUnavailable { .. }));
    let kept = setup
        .client
        .get_booking(&setup.key, &first.uid)
        .await
        .unwrap();
    assert_eq!(kept.status, "accepted");
    // Moving a booking by half an hour overlaps only itself, which is allowed.
    let nudged = setup
        .client
        .reschedule_booking(&setup.key, &first.uid, ts("2030-01-07T10:30:00Z"), None)
        .await
        .unwrap();
    assert_eq!(nudged.start, ts("2030-01-07T10:30:00Z"));
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized() {
    let setup = setup().await;
    let wrong = SecretString::from("cal_test_wrong");
    assert!(matches!(
        setup.client.event_types(&wrong).await,
        Err(CalcomError::Unauthorized)
    ));
    assert!(matches!(
        setup.client.me(&wrong).await,
        Err(CalcomError::Unauthorized)
    ));
    assert!(matches!(
        setup
            .client
            .create_booking(&wrong, &booking_at(&setup, "2030-01-07T10:00:00Z"))
            .await,
        Err(CalcomError::Unauthorized)
    ));
    assert!(setup.fake.bookings().is_empty());
    // 401 is not transient: each call was made once.
    assert_eq!(setup.fake.request_count("GET", "/v2/event-types"), 1);
}

#[tokio::test]
async fn event_types_and_me_describe_the_keys_owner() {
    let setup = setup().await;
    let event_types = setup.client.event_types(&setup.key).await.unwrap();
    assert_eq!(event_types.len(), 1);
    assert_eq!(event_types[0].id, setup.event_type_id);
    assert_eq!(event_types[0].slug, "intro");
    assert_eq!(event_types[0].length_in_minutes, 60);
    assert_eq!(event_types[0].users[0].username.as_deref(), Some("ana"));
    let me = setup.client.me(&setup.key).await.unwrap();
    assert_eq!(me.username, "ana");
    assert_eq!(me.time_zone.as_deref(), Some("Europe/Rome"));

    // Cal.com answers 404 for a user without event types; the client says "none".
    setup
        .fake
        .add_user(NewFakeUser::new("dee", "cal_test_dee_0123456789", "UTC"));
    let none = setup
        .client
        .event_types(&SecretString::from("cal_test_dee_0123456789"))
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn each_endpoint_is_sent_its_own_api_version_and_the_key_as_bearer() {
    let setup = setup().await;
    setup.client.event_types(&setup.key).await.unwrap();
    offered_starts(&setup).await;
    let made = setup
        .client
        .create_booking(&setup.key, &booking_at(&setup, "2030-01-07T10:00:00Z"))
        .await
        .unwrap();
    setup
        .client
        .get_booking(&setup.key, &made.uid)
        .await
        .unwrap();
    let moved = setup
        .client
        .reschedule_booking(&setup.key, &made.uid, ts("2030-01-07T11:00:00Z"), None)
        .await
        .unwrap();
    setup
        .client
        .cancel_booking(&setup.key, &moved.uid, None)
        .await
        .unwrap();

    let requests = setup.fake.requests();
    let versions: Vec<(&str, &str, Option<&str>)> = requests
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.split('/').nth(2).unwrap(),
                r.api_version.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            ("GET", "event-types", Some(EVENT_TYPES_VERSION)),
            ("GET", "slots", Some(SLOTS_VERSION)),
            ("POST", "bookings", Some(BOOKINGS_VERSION)),
            ("GET", "bookings", Some(BOOKINGS_VERSION)),
            ("POST", "bookings", Some(BOOKINGS_VERSION)),
            ("POST", "bookings", Some(BOOKINGS_VERSION)),
        ]
    );
    let bearer = format!("Bearer {KEY}");
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some(bearer.as_str()))
    );
    assert!(requests.iter().all(|r| r.status < 300));
}

#[tokio::test]
async fn without_the_version_header_cal_com_answers_from_its_older_api() {
    // Why the client must send the header: the fake, like Cal.com, then routes to the older
    // controller, which has no `GET /v2/slots` and wants another booking body.
    let setup = setup().await;
    let http = reqwest::Client::new();
    let slots = http
        .get(format!(
            "{}/v2/slots?eventTypeId={}&start=2030-01-07&end=2030-01-08",
            setup.fake.base_url(),
            setup.event_type_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(slots.status(), 404);
    let booking = http
        .post(format!("{}/v2/bookings", setup.fake.base_url()))
        .header("cal-api-version", "2024-04-15")
        .json(&serde_json::json!({
            "start": "2030-01-07T10:00:00Z",
            "eventTypeId": setup.event_type_id,
            "attendee": {"name": "A", "email": "a@example.com", "timeZone": "UTC"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(booking.status(), 400);
    let body: serde_json::Value = booking.json().await.unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["error"]["code"], "BadRequestException");
    assert!(setup.fake.bookings().is_empty());
}

#[tokio::test]
async fn reads_are_retried_through_rate_limits_and_outages() {
    let setup = setup().await;
    setup.fake.fail_next(2, 429);
    assert_eq!(offered_starts(&setup).await.len(), 16);
    assert_eq!(setup.fake.request_count("GET", "/v2/slots"), 3);

    setup.fake.fail_next(1, 503);
    setup.fake.fail_next(1, 500);
    assert_eq!(setup.client.event_types(&setup.key).await.unwrap().len(), 1);
    assert_eq!(setup.fake.request_count("GET", "/v2/event-types"), 3);
}

#[tokio::test]
async fn reads_give_up_after_the_last_attempt() {
    let setup = setup().await;
    setup.fake.fail_next(5, 503);
    let error = setup
        .client
        .slots(
            &setup.key,
            &monday_query(EventTypeRef::Id(setup.event_type_id), None),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, CalcomError::Server(503)), "{error:?}");
    assert_eq!(setup.fake.request_count("GET", "/v2/slots"), 3);
}

#[tokio::test]
async fn a_retry_after_longer_than_we_wait_is_returned_at_once() {
    let setup = setup().await;
    setup.fake.set_retry_after(60);
    setup.fake.fail_next(1, 429);
    let error = setup.client.event_types(&setup.key).await.unwrap_err();
    match error {
        CalcomError::RateLimited { retry_after } => {
            assert_eq!(retry_after, Some(Duration::from_secs(60)));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(setup.fake.request_count("GET", "/v2/event-types"), 1);
}

#[tokio::test]
async fn writes_are_never_retried() {
    let setup = setup().await;
    let request = booking_at(&setup, "2030-01-07T10:00:00Z");
    setup.fake.fail_next(1, 503);
    assert!(matches!(
        setup.client.create_booking(&setup.key, &request).await,
        Err(CalcomError::Server(503))
    ));
    setup.fake.fail_next(1, 429);
    assert!(matches!(
        setup.client.create_booking(&setup.key, &request).await,
        Err(CalcomError::RateLimited { .. })
    ));
    assert_eq!(setup.fake.request_count("POST", "/v2/bookings"), 2);
    assert!(setup.fake.bookings().is_empty());
}

#[tokio::test]
async fn an_unreachable_cal_com_is_a_transport_error() {
    // Bind and drop a port so nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = CalcomClient::new(format!("http://127.0.0.1:{port}"), reqwest::Client::new())
        .with_retry(RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        });
    assert!(matches!(
        client.me(&SecretString::from(KEY)).await,
        Err(CalcomError::Transport(_))
    ));
}

#[tokio::test]
async fn working_hours_are_read_in_the_hosts_zone_across_a_dst_change() {
    // New York moves to daylight time on Sunday 2030-03-10: 09:00 local is 14:00 UTC on the
    // Friday before and 13:00 UTC on the Monday after.
    let setup = setup().await;
    let ny = setup.fake.add_user(
        NewFakeUser::new("ny", "cal_test_ny_0123456789", "America/New_York").hours(vec![
            WeeklyHours::new(
                &[Weekday::Friday, Weekday::Monday],
                Time::constant(9, 0, 0, 0),
                Time::constant(10, 0, 0, 0),
            ),
        ]),
    );
    let call = setup
        .fake
        .add_event_type(ny, NewFakeEventType::new("call", 60));
    let slots = setup
        .client
        .slots(
            &setup.key,
            &SlotsQuery {
                event_type: EventTypeRef::Id(call),
                start: ts("2030-03-08T00:00:00Z"),
                end: ts("2030-03-11T23:00:00Z"),
                time_zone: Some("America/New_York".into()),
                duration_minutes: None,
            },
        )
        .await
        .unwrap();
    let starts: Vec<Timestamp> = slots.iter().map(|slot| slot.start).collect();
    assert_eq!(
        starts,
        [ts("2030-03-08T14:00:00Z"), ts("2030-03-11T13:00:00Z")]
    );
}

#[tokio::test]
async fn bookings_between_lists_the_owners_bookings_in_a_window() {
    let setup = setup().await;
    let ten = setup
        .client
        .create_booking(&setup.key, &booking_at(&setup, "2030-01-07T10:00:00Z"))
        .await
        .unwrap();
    let noon = setup
        .client
        .create_booking(&setup.key, &booking_at(&setup, "2030-01-07T12:00:00Z"))
        .await
        .unwrap();
    setup
        .client
        .cancel_booking(&setup.key, &noon.uid, None)
        .await
        .unwrap();
    let listed = setup
        .client
        .bookings_between(
            &setup.key,
            setup.event_type_id,
            ts("2030-01-07T10:00:00Z"),
            ts("2030-01-07T11:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].uid, ten.uid);
    assert_eq!(listed[0].metadata["idempotency_key"], "call-1");
    let whole_day = setup
        .client
        .bookings_between(
            &setup.key,
            setup.event_type_id,
            ts("2030-01-07T00:00:00Z"),
            ts("2030-01-08T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(whole_day.len(), 2);
    let request = setup.fake.requests().pop().unwrap();
    assert_eq!(request.api_version.as_deref(), Some(BOOKINGS_VERSION));
    assert!(matches!(
        setup
            .client
            .bookings_between(
                &SecretString::from("cal_test_wrong"),
                setup.event_type_id,
                ts("2030-01-07T00:00:00Z"),
                ts("2030-01-08T00:00:00Z"),
            )
            .await,
        Err(CalcomError::Unauthorized)
    ));
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_still_happened() {
    // Why writes are not retried: Cal.com may have booked even though we saw a failure.
    let setup = setup().await;
    setup.fake.lose_next_answer(502);
    let request = booking_at(&setup, "2030-01-07T10:00:00Z");
    assert!(matches!(
        setup.client.create_booking(&setup.key, &request).await,
        Err(CalcomError::Server(502))
    ));
    assert_eq!(setup.fake.bookings().len(), 1);
    assert!(matches!(
        setup.client.create_booking(&setup.key, &request).await,
        Err(CalcomError::SlotUnavailable { .. })
    ));
}
