//! Agents on the `calcom` backend: the in-call API and the voice tools answer from Cal.com
//! (the fake, over HTTP), and one update to `native` brings them back to our own calendar.

use jiff::civil::Weekday;
use pillow_fakes::calcom::{FakeCalcom, NewFakeEventType, NewFakeUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Db, INTERNAL_KEY, Reply, TestApp, always_open, next, spawn_app_with};

const CAL_KEY: &str = "cal_live_front_desk_0123456789";
const RETELL_AVAILABILITY: &str = "/api/calendar/availability/retell";
const RETELL_BOOKING: &str = "/api/calendar/booking/retell";

/// The server pointed at a fresh fake Cal.com with one user (weekdays 9 to 5 in Los Angeles)
/// and a 30-minute event type.
async fn app_with_calcom() -> (TestApp, FakeCalcom) {
    let cal = FakeCalcom::start().await;
    let owner = cal.add_user(NewFakeUser::new(
        "frontdesk",
        CAL_KEY,
        "America/Los_Angeles",
    ));
    cal.add_event_type(owner, NewFakeEventType::new("consult", 30));
    let app = spawn_app_with(Db::Sqlite, &[("CAL_API_BASE_URL", cal.base_url())])
        .await
        .expect("SQLite always runs");
    (app, cal)
}

/// A Retell request (internal key, `X-Agent-ID`), in the envelope of a live call.
async fn retell(app: &TestApp, path: &str, agent: &str, call_id: &str, args: Value) -> Reply {
    let body = json!({
        "name": "tool",
        "call": {"call_id": call_id, "agent_id": "retell-agent-1", "call_status": "ongoing"},
        "args": args,
    });
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .header("authorization", format!("Bearer {INTERNAL_KEY}"))
        .header("x-agent-id", agent)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calcom_agent_answers_from_calcom_until_switched_to_native() {
    let (app, cal) = app_with_calcom().await;
    let tenant = app.tenant("Acme").await;
    // Our own calendar is open all day, so native answers are easy to tell from Cal.com's.
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &tenant.token,
            &always_open(None, 60),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    let created = app
        .post(
            "/api/agents",
            &tenant.key,
            &json!({
                "name": "Front Desk",
                "time_zone": "America/Los_Angeles",
                "backend": "calcom",
                "cal_enabled": true,
                "cal_api_key": CAL_KEY,
                "cal_event_type_slug": "consult",
                "cal_timezone": "America/Los_Angeles",
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let agent = created.body["id"].as_str().unwrap().to_string();
    let tuesday = next(Weekday::Tuesday);

    // In-call slots come from Cal.com's GET /v2/slots: 9 to 5 in 30 minutes, not all day.
    let slots = app
        .get(
            &format!("/api/v1/agents/{agent}/calendar/slots?startDate={tuesday}&endDate={tuesday}"),
            &tenant.key,
        )
        .await;
    assert_eq!(slots.status, StatusCode::OK, "{:?}", slots.body);
    let list = slots.body["data"]["slots"].as_array().unwrap().clone();
    assert_eq!(list.len(), 16, "{list:?}");
    assert!(list[0]["id"].as_str().unwrap().starts_with("CS_"));
    assert_eq!(list[0]["duration_min"], 30);
    assert!(
        list[0]["local_time"]
            .as_str()
            .unwrap()
            .ends_with("at 9:00 AM"),
        "{:?}",
        list[0]
    );
    let slot_requests: Vec<_> = cal
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/v2/slots")
        .collect();
    assert_eq!(slot_requests.len(), 1);
    assert_eq!(slot_requests[0].api_version.as_deref(), Some("2024-09-04"));

    // In-call booking is a Cal.com booking, reported as BK_cal_ + its uid.
    let booked = app
        .post(
            &format!("/api/v1/agents/{agent}/calendar/book"),
            &tenant.key,
            &json!({
                "slotId": list[2]["id"],
                "attendeeName": "Ada Lovelace",
                "attendeeEmail": "ada@example.com",
                "notes": "First visit",
            }),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    let booking = &booked.body["data"]["booking"];
    let uid = booking["confirmationCode"].as_str().unwrap().to_string();
    assert_eq!(booking["bookingId"], format!("BK_cal_{uid}"));
    assert_eq!(booking["status"], "confirmed");
    assert_eq!(booking["startTime"], list[2]["start_time"]);
    let held = cal.booking(&uid).expect("the booking is on Cal.com");
    assert_eq!(
        held.start.to_string(),
        list[2]["start_time"].as_str().unwrap()
    );
    let posts: Vec<_> = cal
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/v2/bookings")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].api_version.as_deref(), Some("2024-08-13"));
    // Nothing was booked in our own calendar.
    let ours = app.get("/api/calendar/bookings", &tenant.key).await;
    assert_eq!(ours.body["bookings"].as_array().unwrap().len(), 0);

    // Retell availability for the same agent: Cal.com's times, the booked one gone.
    let offered = retell(
        &app,
        RETELL_AVAILABILITY,
        &agent,
        "call_1",
        json!({"date": tuesday.to_string()}),
    )
    .await;
    assert_eq!(offered.status, StatusCode::OK, "{:?}", offered.body);
    let options = offered.body["options"].as_array().unwrap().clone();
    assert!(!options.is_empty());
    assert_eq!(offered.body["duration_minutes"], 30);
    assert!(
        options
            .iter()
            .all(|o| o["start_time"].as_str().unwrap() != list[2]["start_time"].as_str().unwrap())
    );
    assert_eq!(
        cal.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == "/v2/slots")
            .count(),
        2
    );

    // A Retell booking, retried for the same call and slot, is one Cal.com booking.
    let args = json!({
        "slot_id": options[0]["slot_id"],
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "phone": "+1 415 555 0100",
    });
    let first = retell(&app, RETELL_BOOKING, &agent, "call_1", args.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let retried = retell(&app, RETELL_BOOKING, &agent, "call_1", args.clone()).await;
    assert_eq!(retried.status, StatusCode::OK, "{:?}", retried.body);
    assert_eq!(
        retried.body["confirmation_code"],
        first.body["confirmation_code"]
    );
    let code = first.body["confirmation_code"].as_str().unwrap();
    assert!(cal.booking(code).is_some());
    let accepted = |cal: &FakeCalcom| {
        cal.bookings()
            .iter()
            .filter(|b| b.status == "accepted")
            .count()
    };
    assert_eq!(accepted(&cal), 2);
    // Another call asking for that time is told it is taken.
    let other = retell(&app, RETELL_BOOKING, &agent, "call_2", args).await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{:?}", other.body);
    assert_eq!(accepted(&cal), 2);

    // One update to native: the next answers are our own, and Cal.com hears nothing more.
    let switched = app
        .patch(
            &format!("/api/agents/{agent}"),
            &tenant.key,
            &json!({"backend": "native"}),
        )
        .await;
    assert_eq!(switched.status, StatusCode::OK, "{:?}", switched.body);
    assert_eq!(switched.body["backend"], "native");
    let seen = cal.requests().len();
    let native = app
        .get(
            &format!("/api/v1/agents/{agent}/calendar/slots?startDate={tuesday}&endDate={tuesday}"),
            &tenant.key,
        )
        .await;
    assert_eq!(native.status, StatusCode::OK, "{:?}", native.body);
    assert_eq!(native.body["data"]["slots"].as_array().unwrap().len(), 24);
    let native_offer = retell(
        &app,
        RETELL_AVAILABILITY,
        &agent,
        "call_3",
        json!({"date": tuesday.to_string()}),
    )
    .await;
    assert_eq!(native_offer.body["duration_minutes"], 60);
    let native_book = retell(
        &app,
        RETELL_BOOKING,
        &agent,
        "call_3",
        json!({
            "slot_id": native_offer.body["options"][0]["slot_id"],
            "name": "Alan Turing",
            "email": "alan@example.com",
        }),
    )
    .await;
    assert_eq!(native_book.status, StatusCode::OK, "{:?}", native_book.body);
    let ours = app.get("/api/calendar/bookings", &tenant.key).await;
    assert_eq!(ours.body["bookings"].as_array().unwrap().len(), 1);
    assert_eq!(
        cal.requests().len(),
        seen,
        "no request reached Cal.com after the switch"
    );
    app.finish().await;
}

/// A Vapi `tool-calls` message with one call, sent with the internal key and `X-Agent-ID`;
/// answers the call's result (or error) parsed.
async fn vapi(app: &TestApp, agent: &str, name: &str, arguments: &Value) -> (bool, Value) {
    let message = json!({"message": {
        "type": "tool-calls",
        "call": {"id": "vapi-call-1"},
        "toolCallList": [{"id": "t1", "type": "function",
            "function": {"name": name, "arguments": arguments.to_string()}}],
    }});
    let response = app
        .client
        .post(format!("{}/api/voice/vapi", app.base))
        .header("authorization", format!("Bearer {INTERNAL_KEY}"))
        .header("x-agent-id", agent)
        .json(&message)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let result = &body["results"][0];
    match (result["result"].as_str(), result["error"].as_str()) {
        (Some(text), _) => (true, serde_json::from_str(text).unwrap()),
        (None, Some(text)) => (false, serde_json::from_str(text).unwrap()),
        (None, None) => panic!("no result: {body}"),
    }
}

/// Creates a `calcom` agent on `slug` and answers its id.
async fn calcom_agent(app: &TestApp, key: &str, name: &str, slug: &str) -> String {
    let created = app
        .post(
            "/api/agents",
            key,
            &json!({
                "name": name,
                "time_zone": "America/Los_Angeles",
                "backend": "calcom",
                "cal_enabled": true,
                "cal_api_key": CAL_KEY,
                "cal_event_type_slug": slug,
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calcom_agent_finds_cancels_and_reschedules_on_calcom() {
    let (app, cal) = app_with_calcom().await;
    let tenant = app.tenant("Acme").await;
    let agent = calcom_agent(&app, &tenant.key, "Front Desk", "consult").await;
    let tuesday = next(Weekday::Tuesday);
    let offered = retell(
        &app,
        RETELL_AVAILABILITY,
        &agent,
        "call_1",
        json!({"date": tuesday.to_string()}),
    )
    .await;
    assert_eq!(offered.status, StatusCode::OK, "{:?}", offered.body);
    let options = offered.body["options"].as_array().unwrap().clone();
    assert_eq!(options.len(), 3, "{options:?}");
    let book = |call: &'static str, option: &Value, name: &str, email: &str, phone: &str| {
        let args = json!({"slot_id": option["slot_id"], "name": name, "email": email,
            "phone": phone});
        let app = &app;
        let agent = agent.clone();
        async move {
            let reply = retell(app, RETELL_BOOKING, &agent, call, args).await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            reply.body["confirmation_code"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let grace = book(
        "call_1",
        &options[0],
        "Grace Hopper",
        "grace@example.com",
        "+1 415 555 0100",
    )
    .await;
    let ada = book(
        "call_2",
        &options[1],
        "Ada Lovelace",
        "ada@example.com",
        "+44 20 7946 0018",
    )
    .await;
    assert_ne!(grace, ada);

    // Found by phone (however it is written), by e-mail in any case, and by code.
    let find = |args: Value| {
        retell(
            &app,
            "/api/calendar/find-booking/retell",
            &agent,
            "call_3",
            args,
        )
    };
    for args in [
        json!({"phone": "(415) 555-0100"}),
        json!({"email": "GRACE@example.com"}),
        json!({"confirmation_code": grace}),
        json!({"confirmation_code": format!("BK_cal_{grace}")}),
    ] {
        let found = find(args.clone()).await;
        assert_eq!(found.status, StatusCode::OK, "{args}: {:?}", found.body);
        let bookings = found.body["bookings"].as_array().unwrap();
        assert_eq!(bookings.len(), 1, "{args}: {bookings:?}");
        assert_eq!(bookings[0]["confirmation_code"], grace.as_str());
        assert_eq!(bookings[0]["attendee_name"], "Grace Hopper");
        assert_eq!(bookings[0]["status"], "confirmed");
        assert_eq!(bookings[0]["start_time"], options[0]["start_time"]);
        assert!(
            found.body["summary"]
                .as_str()
                .unwrap()
                .starts_with("I found your appointment"),
            "{:?}",
            found.body
        );
    }
    let nobody = find(json!({"email": "nobody@example.com"})).await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND, "{:?}", nobody.body);
    assert_eq!(nobody.code(), "not_found");
    let unknown = find(json!({"confirmation_code": "noSuchUid123"})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{:?}", unknown.body);
    assert_eq!(unknown.code(), "not_found");
    let nothing = find(json!({})).await;
    assert_eq!(nothing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(nothing.code(), "missing_parameter");

    // Through Vapi the same tool answers the same.
    let (ok, by_vapi) = vapi(
        &app,
        &agent,
        "find_booking",
        &json!({"email": "ada@example.com"}),
    )
    .await;
    assert!(ok, "{by_vapi}");
    assert_eq!(by_vapi["bookings"][0]["confirmation_code"], ada.as_str());

    // Another agent on the same Cal.com account but another event type does not see them.
    let owner_id = cal.booking(&grace).unwrap().host_id;
    cal.add_event_type(owner_id, NewFakeEventType::new("intro", 15));
    let intro = calcom_agent(&app, &tenant.key, "Intro Line", "intro").await;
    let elsewhere = retell(
        &app,
        "/api/calendar/cancel/retell",
        &intro,
        "call_4",
        json!({"confirmation_code": grace}),
    )
    .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::NOT_FOUND,
        "{:?}",
        elsewhere.body
    );
    assert_eq!(cal.booking(&grace).unwrap().status, "accepted");

    // Rescheduling onto Ada's time is refused and changes nothing.
    let reschedule = |args: Value| {
        retell(
            &app,
            "/api/calendar/reschedule/retell",
            &agent,
            "call_5",
            args,
        )
    };
    let clash = reschedule(json!({"confirmation_code": grace,
        "start_time": options[1]["start_time"]}))
    .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{:?}", clash.body);
    assert_eq!(clash.code(), "slot_unavailable");
    assert_eq!(cal.booking(&grace).unwrap().status, "accepted");

    // Rescheduling to a free time: Cal.com's new booking, with a new code.
    let moved =
        reschedule(json!({"confirmation_code": grace, "slot_id": options[2]["slot_id"]})).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["rescheduled"], true);
    assert_eq!(moved.body["previous_confirmation_code"], grace.as_str());
    let new_code = moved.body["booking"]["confirmation_code"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_code, grace);
    assert_eq!(
        moved.body["booking"]["start_time"],
        options[2]["start_time"]
    );
    let held = cal.booking(&new_code).unwrap();
    assert_eq!(held.status, "accepted");
    assert_eq!(held.rescheduled_from_uid.as_deref(), Some(grace.as_str()));
    assert_eq!(cal.booking(&grace).unwrap().status, "cancelled");
    // The old code cannot be moved again.
    let stale =
        reschedule(json!({"confirmation_code": grace, "slot_id": options[0]["slot_id"]})).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{:?}", stale.body);
    assert_eq!(stale.code(), "booking_not_confirmed");

    // Cancelling, twice: one cancel reaches Cal.com, both answers say cancelled.
    let cancel = |args: Value| retell(&app, "/api/calendar/cancel/retell", &agent, "call_6", args);
    let cancelled = cancel(json!({"confirmation_code": new_code, "reason": "Travelling"})).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["cancelled"], true);
    assert_eq!(cancelled.body["booking"]["status"], "cancelled");
    let held = cal.booking(&new_code).unwrap();
    assert_eq!(held.status, "cancelled");
    assert_eq!(held.cancellation_reason.as_deref(), Some("Travelling"));
    let again = cancel(json!({"confirmation_code": new_code})).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert!(
        again.body["summary"]
            .as_str()
            .unwrap()
            .contains("already cancelled"),
        "{:?}",
        again.body
    );
    let cancel_posts = cal
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == format!("/v2/bookings/{new_code}/cancel"))
        .count();
    assert_eq!(cancel_posts, 1);
    // Grace has nothing upcoming now; Ada's booking is untouched.
    let gone = find(json!({"phone": "415 555 0100"})).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{:?}", gone.body);
    assert_eq!(cal.booking(&ada).unwrap().status, "accepted");
    app.finish().await;
}
