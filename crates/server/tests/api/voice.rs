//! Voice platforms over real HTTP: Retell custom functions (both body shapes, the internal key
//! and signed requests), Vapi server tools, spoken answers across DST, idempotent bookings per
//! call, and the tool definitions.

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use pillow_server::voice::retell;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::rules::seed_rule;
use crate::helpers::{INTERNAL_KEY, Reply, Tenant, TestApp, next};
use crate::on_both_backends;

on_both_backends!(
    voice_retell_availability_offers_three_spread_options_in_either_body_shape,
    voice_part_of_day_narrows_and_a_full_day_names_the_nearest_open_days,
    voice_a_retell_booking_retried_for_one_call_makes_one_booking,
    voice_signed_retell_requests_are_verified_with_the_tenants_key,
    voice_vapi_answers_every_call_in_order_with_string_or_object_arguments,
    voice_bad_input_is_a_clear_error_and_books_nothing,
    voice_callers_find_reschedule_and_cancel_by_code,
    voice_tool_definitions_for_each_platform,
    voice_a_tenants_api_key_reaches_its_own_agents_only,
    voice_options_and_phrases_keep_wall_times_across_dst_in_two_zones,
);

const AVAILABILITY: &str = "/api/calendar/availability/retell";
const BOOKING: &str = "/api/calendar/booking/retell";
const VAPI: &str = "/api/voice/vapi";

/// A tenant whose owner works the example hours (Los Angeles, weekdays 9 to 5, 30 minutes) and
/// a voice agent in that zone.
async fn front_desk(app: &TestApp, name: &str) -> (Tenant, String) {
    let tenant = app.tenant(name).await;
    let rule = app
        .post(
            "/api/calendar/availability-rules",
            &tenant.token,
            &seed_rule(),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
    let agent = app
        .post(
            "/api/agents",
            &tenant.key,
            &json!({"name": "Front Desk", "time_zone": "America/Los_Angeles"}),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{:?}", agent.body);
    (tenant, agent.body["id"].as_str().unwrap().to_string())
}

/// Posts a raw body with the given headers.
async fn post_with(app: &TestApp, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut request = app
        .client
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

/// A voice request with the internal key and `X-Agent-ID`.
async fn voice(app: &TestApp, path: &str, agent: &str, body: &Value) -> Reply {
    let bearer = format!("Bearer {INTERNAL_KEY}");
    post_with(
        app,
        path,
        &[("authorization", &bearer), ("x-agent-id", agent)],
        &body.to_string(),
    )
    .await
}

/// A tenant can set its voice platform up with its own API key instead of the deployment's
/// internal key: its agents answer, another tenant's agent is not found and nothing is booked.
async fn voice_a_tenants_api_key_reaches_its_own_agents_only(app: &TestApp) {
    let (acme, acme_agent) = front_desk(app, "Acme").await;
    let (other, other_agent) = front_desk(app, "Other").await;
    let tuesday = next(Weekday::Tuesday);
    let with_key = |key: &str, agent: &str, path: &str, body: Value| {
        let bearer = format!("Bearer {key}");
        let agent = agent.to_string();
        let path = path.to_string();
        async move {
            post_with(
                app,
                &path,
                &[("authorization", bearer.as_str()), ("x-agent-id", &agent)],
                &body.to_string(),
            )
            .await
        }
    };
    let ask = envelope(
        "check_availability",
        "call_key_1",
        json!({"date": tuesday.to_string()}),
    );
    let own = with_key(&acme.key, &acme_agent, AVAILABILITY, ask.clone()).await;
    assert_eq!(own.status, StatusCode::OK, "{:?}", own.body);
    let slot = options(&own)[0]["slot_id"].clone();
    let book = json!({"message": {"type": "tool-calls", "call": {"id": "vapi-key-call"},
        "toolCallList": [{"id": "b1", "type": "function", "function": {
            "name": "book_appointment",
            "arguments": {"slot_id": slot, "name": "Ada", "email": "ada@example.com"}}}]}});
    let booked = with_key(&acme.key, &acme_agent, VAPI, book.clone()).await;
    assert_eq!(booked.status, StatusCode::OK, "{:?}", booked.body);
    assert!(
        booked.body["results"][0]["result"].is_string(),
        "{:?}",
        booked.body
    );
    assert_eq!(bookings(app, &acme).await.len(), 1);

    // Acme's key names Other's agent: not found, on every voice endpoint, and nothing booked.
    let foreign = with_key(&acme.key, &other_agent, AVAILABILITY, ask).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{:?}", foreign.body);
    let foreign_book = with_key(&acme.key, &other_agent, VAPI, book).await;
    assert_eq!(foreign_book.status, StatusCode::NOT_FOUND);
    assert!(bookings(app, &other).await.is_empty());
    // A user's token, a wrong key and no agent id are refused.
    let by_token = with_key(
        &acme.token,
        &acme_agent,
        AVAILABILITY,
        json!({"date": tuesday.to_string()}),
    )
    .await;
    assert_eq!(
        by_token.status,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        by_token.body
    );
    let wrong = with_key(
        "pcal_not_a_real_key_000000000000000000000000",
        &acme_agent,
        AVAILABILITY,
        json!({"date": tuesday.to_string()}),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{:?}", wrong.body);
    let nameless = post_with(
        app,
        AVAILABILITY,
        &[("authorization", format!("Bearer {}", acme.key).as_str())],
        &json!({"date": tuesday.to_string()}).to_string(),
    )
    .await;
    assert_eq!(
        nameless.status,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        nameless.body
    );
}

fn envelope(tool: &str, call_id: &str, args: Value) -> Value {
    json!({
        "name": tool,
        "call": {"call_id": call_id, "agent_id": "retell-agent-1", "call_status": "ongoing"},
        "args": args,
    })
}

fn options(reply: &Reply) -> Vec<Value> {
    reply.body["options"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn bookings(app: &TestApp, tenant: &Tenant) -> Vec<Value> {
    let reply = app.get("/api/calendar/bookings", &tenant.key).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["bookings"].as_array().cloned().unwrap()
}

async fn voice_retell_availability_offers_three_spread_options_in_either_body_shape(app: &TestApp) {
    let (_, agent) = front_desk(app, "Acme").await;
    let tuesday = next(Weekday::Tuesday);
    let args = json!({"date": tuesday.to_string()});
    let wrapped = voice(
        app,
        AVAILABILITY,
        &agent,
        &envelope("check_availability", "c1", args.clone()),
    )
    .await;
    assert_eq!(wrapped.status, StatusCode::OK, "{:?}", wrapped.body);
    let bare = voice(app, AVAILABILITY, &agent, &args).await;
    assert_eq!(bare.status, StatusCode::OK, "{:?}", bare.body);

    for reply in [&wrapped, &bare] {
        let body = &reply.body;
        assert_eq!(body["date"], tuesday.to_string());
        assert_eq!(body["timezone"], "America/Los_Angeles");
        assert_eq!(body["duration_minutes"], 30);
        let options = options(reply);
        assert_eq!(options.len(), 3, "{body}");
        // First, middle and last of the day's sixteen half hours, not 9:00, 9:30 and 10:00.
        let spoken: Vec<&str> = options
            .iter()
            .map(|o| o["spoken"].as_str().unwrap())
            .collect();
        assert!(spoken[0].ends_with("at 9 AM"), "{spoken:?}");
        assert!(spoken[1].ends_with("at 12:30 PM"), "{spoken:?}");
        assert!(spoken[2].ends_with("at 4:30 PM"), "{spoken:?}");
        assert!(spoken[0].starts_with("Tuesday"), "{spoken:?}");
        for option in &options {
            assert!(option["slot_id"].as_str().unwrap().starts_with("CS_"));
            let start = option["start_time"].as_str().unwrap();
            assert!(
                start.ends_with("-07:00") || start.ends_with("-08:00"),
                "an offset in the business's zone: {start}"
            );
            assert!(start.starts_with(&tuesday.to_string()));
        }
        let summary = body["summary"].as_str().unwrap();
        assert!(!summary.contains('\n'));
        assert!(
            summary.contains("9 AM") && summary.contains("4:30 PM"),
            "{summary}"
        );
        assert_eq!(body["nearest_available_days"], json!([]));
    }
    assert_eq!(options(&wrapped), options(&bare));
}

async fn voice_part_of_day_narrows_and_a_full_day_names_the_nearest_open_days(app: &TestApp) {
    let (_, agent) = front_desk(app, "Acme").await;
    let tuesday = next(Weekday::Tuesday);
    let afternoon = voice(
        app,
        AVAILABILITY,
        &agent,
        &json!({"date": tuesday.to_string(), "part_of_day": "afternoon", "duration": "60"}),
    )
    .await;
    assert_eq!(afternoon.status, StatusCode::OK, "{:?}", afternoon.body);
    assert_eq!(afternoon.body["duration_minutes"], 60);
    let starts: Vec<String> = options(&afternoon)
        .iter()
        .map(|o| o["start_time"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(starts.len(), 3);
    for start in &starts {
        let hour: i32 = start[11..13].parse().unwrap();
        assert!((12..17).contains(&hour), "{start}");
    }
    // A 60-minute slot must end by 5 PM: the last one starts at 4 PM.
    assert!(starts[2].contains("T16:00:00"), "{starts:?}");

    // Saturday: nobody works. The nearest open days are Friday before and Monday after.
    let saturday = next(Weekday::Saturday);
    let full = voice(
        app,
        AVAILABILITY,
        &agent,
        &json!({"date": saturday.to_string()}),
    )
    .await;
    assert_eq!(full.status, StatusCode::OK, "{:?}", full.body);
    assert!(options(&full).is_empty());
    let nearest: Vec<String> = full.body["nearest_available_days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    let friday = saturday.yesterday().unwrap().to_string();
    let monday = (saturday + 2.days()).to_string();
    assert!(nearest.contains(&friday), "{nearest:?}");
    assert!(nearest.contains(&monday), "{nearest:?}");
    assert!(nearest.len() <= 3);
    let summary = full.body["summary"].as_str().unwrap();
    assert!(summary.starts_with("Nothing is open"), "{summary}");
}

async fn voice_a_retell_booking_retried_for_one_call_makes_one_booking(app: &TestApp) {
    let (tenant, agent) = front_desk(app, "Acme").await;
    let tuesday = next(Weekday::Tuesday);
    let offered = voice(
        app,
        AVAILABILITY,
        &agent,
        &json!({"date": tuesday.to_string()}),
    )
    .await;
    let slot = options(&offered)[1].clone();
    let request = envelope(
        "book_appointment",
        "call_retried",
        json!({
            "slot_id": slot["slot_id"],
            "name": "Ada Lovelace",
            "phone": "+1 415 555 0100",
            "email": "ada@example.com"
        }),
    );
    // Retell retries a slow call twice; here all three land at once, then once more later.
    let (a, b, c) = tokio::join!(
        voice(app, BOOKING, &agent, &request),
        voice(app, BOOKING, &agent, &request),
        voice(app, BOOKING, &agent, &request),
    );
    let later = voice(app, BOOKING, &agent, &request).await;
    for reply in [&a, &b, &c, &later] {
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(reply.body["confirmation_code"], a.body["confirmation_code"]);
    }
    let code = a.body["confirmation_code"].as_str().unwrap();
    assert_eq!(code.len(), 9);
    assert_eq!(a.body["booked"], true);
    assert_eq!(a.body["start_time"], slot["start_time"]);
    assert_eq!(a.body["spoken"], slot["spoken"]);
    let spelled: Vec<String> = code.chars().map(|c| c.to_string()).collect();
    assert_eq!(a.body["spoken_code"], spelled.join(", "));
    let summary = a.body["summary"].as_str().unwrap();
    assert!(summary.contains(&spelled.join(", ")), "{summary}");
    assert!(
        summary.contains(slot["spoken"].as_str().unwrap()),
        "{summary}"
    );
    assert!(!summary.contains('\n'));
    assert_eq!(bookings(app, &tenant).await.len(), 1);

    // Another call wanting the same slot hears it is taken, with bookable alternatives.
    let other = envelope(
        "book_appointment",
        "call_other",
        json!({"slot_id": slot["slot_id"], "name": "Grace Hopper", "phone": "+14155550101"}),
    );
    let taken = voice(app, BOOKING, &agent, &other).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{:?}", taken.body);
    assert_eq!(taken.code(), "slot_unavailable");
    let alternatives = taken.body["error"]["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty() && alternatives.len() <= 3);
    assert!(
        alternatives[0]["slot_id"]
            .as_str()
            .unwrap()
            .starts_with("CS_")
    );
    assert!(alternatives[0]["spoken"].as_str().is_some());
    // One of them books.
    let retry = envelope(
        "book_appointment",
        "call_other",
        json!({"slot_id": alternatives[0]["slot_id"], "name": "Grace Hopper"}),
    );
    let booked = voice(app, BOOKING, &agent, &retry).await;
    assert_eq!(booked.status, StatusCode::OK, "{:?}", booked.body);
    assert_eq!(bookings(app, &tenant).await.len(), 2);
}

fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

async fn voice_signed_retell_requests_are_verified_with_the_tenants_key(app: &TestApp) {
    let (acme, agent) = front_desk(app, "Acme").await;
    let (other, other_agent) = front_desk(app, "Other").await;
    let key_path = "/api/voice/retell-key";

    // Only admins set the key; the answer never shows it; it is stored sealed.
    let (_, member_token) = app.member(&acme, "member@acme.test").await;
    let refused = app
        .send(
            reqwest::Method::PUT,
            key_path,
            Some(member_token.as_str()),
            Some(&json!({"api_key": "acme-retell-key"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let before = app.get(key_path, &acme.key).await;
    assert_eq!(before.body, json!({"configured": false}));
    let set = app
        .send(
            reqwest::Method::PUT,
            key_path,
            Some(acme.key.as_str()),
            Some(&json!({"api_key": "acme-retell-key"})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    assert_eq!(set.body, json!({"configured": true}));
    let sealed = app.store().get_retell_key(acme.id).await.unwrap().unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains("acme-retell-key"));
    app.send(
        reqwest::Method::PUT,
        key_path,
        Some(other.key.as_str()),
        Some(&json!({"api_key": "other-retell-key"})),
    )
    .await;

    // Both tenants claim the same Retell agent id; the signature decides whose call it is.
    for (tenant, agent) in [(&acme, &agent), (&other, &other_agent)] {
        let reply = app
            .send(
                reqwest::Method::PUT,
                &format!("/api/agents/{agent}/retell"),
                Some(tenant.key.as_str()),
                Some(&json!({"retell_agent_id": "agent_shared"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(reply.body["retell_agent_id"], "agent_shared");
    }

    let tuesday = next(Weekday::Tuesday);
    let body = json!({
        "name": "check_availability",
        "call": {"call_id": "call_signed", "agent_id": "agent_shared"},
        "args": {"date": tuesday.to_string()}
    })
    .to_string();
    let signed = retell::sign(body.as_bytes(), "acme-retell-key", now_ms());
    let ok = post_with(app, AVAILABILITY, &[("x-retell-signature", &signed)], &body).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(options(&ok).len(), 3);
    // The slot ids name Acme's agent: booking one as Acme works.
    let slot_id = options(&ok)[0]["slot_id"].as_str().unwrap().to_string();
    let book = json!({
        "name": "book_appointment",
        "call": {"call_id": "call_signed", "agent_id": "agent_shared"},
        "args": {"slot_id": slot_id, "name": "Ada"}
    })
    .to_string();
    let signed_book = retell::sign(book.as_bytes(), "acme-retell-key", now_ms());
    let booked = post_with(app, BOOKING, &[("x-retell-signature", &signed_book)], &book).await;
    assert_eq!(booked.status, StatusCode::OK, "{:?}", booked.body);
    assert_eq!(bookings(app, &acme).await.len(), 1);
    assert_eq!(bookings(app, &other).await.len(), 0);
    // With X-Agent-ID instead of Retell's agent id, bare arguments, and the other key.
    let bare = json!({"date": tuesday.to_string()}).to_string();
    let signed_bare = retell::sign(bare.as_bytes(), "other-retell-key", now_ms());
    let ok = post_with(
        app,
        AVAILABILITY,
        &[
            ("x-retell-signature", &signed_bare),
            ("x-agent-id", &other_agent),
        ],
        &bare,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    // ...but not for an agent of a tenant whose key did not sign it.
    let wrong = post_with(
        app,
        AVAILABILITY,
        &[("x-retell-signature", &signed_bare), ("x-agent-id", &agent)],
        &bare,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), "invalid_signature");

    // A tampered body: signed one way, sent another.
    let tampered = body.replace("call_signed", "call_tampered");
    let reply = post_with(
        app,
        AVAILABILITY,
        &[("x-retell-signature", &signed)],
        &tampered,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "invalid_signature");
    // A tampered booking books nothing.
    let tampered_book = book.replace("\"Ada\"", "\"Eve\"");
    let reply = post_with(
        app,
        BOOKING,
        &[("x-retell-signature", &signed_book)],
        &tampered_book,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bookings(app, &acme).await.len(), 1);

    // A stale timestamp, correctly signed.
    let stale = retell::sign(body.as_bytes(), "acme-retell-key", now_ms() - 6 * 60 * 1000);
    let reply = post_with(app, AVAILABILITY, &[("x-retell-signature", &stale)], &body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "stale_signature");
    // A stale or malformed signature is refused before the body is parsed: a broken body is
    // still a 401, not a 400 that tells an attacker the body was read.
    let reply = post_with(
        app,
        AVAILABILITY,
        &[("x-retell-signature", &stale)],
        "{broken",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(reply.code(), "stale_signature");
    let reply = post_with(
        app,
        AVAILABILITY,
        &[("x-retell-signature", "v=1")],
        "{broken",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(reply.code(), "invalid_signature");
    // A body over the voice bound (smaller than the server's own) is a 413 in the error shape.
    let padded = json!({"args": {"date": tuesday.to_string()}, "pad": "x".repeat(300 * 1024)});
    let reply = post_with(
        app,
        AVAILABILITY,
        &[("x-retell-signature", &signed)],
        &padded.to_string(),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{:?}",
        reply.body
    );
    assert_eq!(reply.code(), "payload_too_large");

    // Retell's published example: right key, right digest, but from 2023.
    app.send(
        reqwest::Method::PUT,
        key_path,
        Some(acme.key.as_str()),
        Some(&json!({"api_key": "test-api-key"})),
    )
    .await;
    let example = post_with(
        app,
        AVAILABILITY,
        &[
            (
                "x-retell-signature",
                "v=1700000000000,d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e",
            ),
            ("x-agent-id", &agent),
        ],
        r#"{"event":"call_ended"}"#,
    )
    .await;
    assert_eq!(example.status, StatusCode::UNAUTHORIZED);
    assert_eq!(example.code(), "stale_signature");

    // Without a key the tenant's signed requests are refused.
    let removed = app.delete(key_path, &acme.key).await;
    assert_eq!(removed.body, json!({"configured": false}));
    let again = retell::sign(body.as_bytes(), "acme-retell-key", now_ms());
    let reply = post_with(
        app,
        AVAILABILITY,
        &[("x-retell-signature", &again), ("x-agent-id", &agent)],
        &body,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

fn vapi_message(call_id: &str, calls: Value) -> Value {
    json!({"message": {
        "type": "tool-calls",
        "call": {"id": call_id},
        "toolCallList": calls,
    }})
}

async fn voice_vapi_answers_every_call_in_order_with_string_or_object_arguments(app: &TestApp) {
    let (tenant, agent) = front_desk(app, "Acme").await;
    let tuesday = next(Weekday::Tuesday).to_string();
    let message = vapi_message(
        "vapi-call-1",
        json!([
            {"id": "t1", "type": "function", "function": {"name": "check_availability",
                "arguments": json!({"date": tuesday}).to_string()}},
            {"id": "t2", "type": "function", "function": {"name": "check_availability",
                "arguments": {"date": tuesday, "part_of_day": "morning"}}},
            {"id": "t3", "type": "function", "function": {"name": "fly_to_the_moon", "arguments": {}}},
            {"id": "t4", "type": "function", "function": {"name": "check_availability",
                "arguments": "{\"date\": "}}
        ]),
    );
    let reply = voice(app, VAPI, &agent, &message).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let results = reply.body["results"].as_array().unwrap();
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["toolCallId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["t1", "t2", "t3", "t4"]);
    for result in results {
        let text = result["result"]
            .as_str()
            .or(result["error"].as_str())
            .unwrap();
        assert!(!text.contains('\n'), "{text}");
    }
    let first: Value = serde_json::from_str(results[0]["result"].as_str().unwrap()).unwrap();
    assert_eq!(first["options"].as_array().unwrap().len(), 3);
    let morning: Value = serde_json::from_str(results[1]["result"].as_str().unwrap()).unwrap();
    for option in morning["options"].as_array().unwrap() {
        assert!(
            option["spoken"].as_str().unwrap().ends_with("AM"),
            "{option}"
        );
    }
    let unknown: Value = serde_json::from_str(results[2]["error"].as_str().unwrap()).unwrap();
    assert_eq!(unknown["code"], "unknown_tool");
    let broken: Value = serde_json::from_str(results[3]["error"].as_str().unwrap()).unwrap();
    assert_eq!(broken["code"], "invalid_arguments");
    assert!(results[2].get("result").is_none());

    // Booking through Vapi, delivered twice for the same call: one booking.
    let slot_id = first["options"][0]["slot_id"].as_str().unwrap();
    let book = vapi_message(
        "vapi-call-1",
        json!([{"id": "b1", "type": "function", "function": {"name": "book_appointment",
            "arguments": json!({"slot_id": slot_id, "name": "Ada", "email": "ada@example.com"}).to_string()}}]),
    );
    let once = voice(app, VAPI, &agent, &book).await;
    let twice = voice(app, VAPI, &agent, &book).await;
    let answer = |r: &Reply| -> Value {
        serde_json::from_str(r.body["results"][0]["result"].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        answer(&once)["confirmation_code"],
        answer(&twice)["confirmation_code"]
    );
    assert_eq!(bookings(app, &tenant).await.len(), 1);

    // Other messages need no answer; a body that is no Vapi message is a 400.
    let status = voice(
        app,
        VAPI,
        &agent,
        &json!({"message": {"type": "status-update"}}),
    )
    .await;
    assert_eq!(
        (status.status, status.body.clone()),
        (StatusCode::OK, json!({}))
    );
    let junk = voice(app, VAPI, &agent, &json!({"hello": "world"})).await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    assert_eq!(junk.code(), "invalid_body");
    let unauthenticated = post_with(app, VAPI, &[("x-agent-id", &agent)], &book.to_string()).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

async fn voice_bad_input_is_a_clear_error_and_books_nothing(app: &TestApp) {
    let (tenant, agent) = front_desk(app, "Acme").await;
    let tuesday = next(Weekday::Tuesday);
    let offered = voice(
        app,
        AVAILABILITY,
        &agent,
        &json!({"date": tuesday.to_string()}),
    )
    .await;
    let slot_id = options(&offered)[0]["slot_id"]
        .as_str()
        .unwrap()
        .to_string();

    let cases = [
        (
            json!({"slot_id": slot_id, "name": "Ada", "phone": "call me"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_phone",
        ),
        (
            json!({"slot_id": slot_id, "name": "Ada", "email": "not-an-email"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
        ),
        (
            json!({"slot_id": slot_id, "name": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
        ),
        (
            json!({"slot_id": slot_id}),
            StatusCode::BAD_REQUEST,
            "invalid_arguments",
        ),
        (
            json!({"slot_id": format!("{slot_id}x"), "name": "Ada"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_slot",
        ),
        (
            json!({"name": "Ada"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_parameter",
        ),
        (
            json!({"start_time": "half past two", "name": "Ada"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_time",
        ),
        (
            json!({"start_time": format!("{tuesday}T09:10"), "name": "Ada"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "off_grid",
        ),
    ];
    for (args, status, code) in cases {
        let reply = voice(
            app,
            BOOKING,
            &agent,
            &envelope("book_appointment", "c-bad", args.clone()),
        )
        .await;
        assert_eq!(reply.status, status, "{args} -> {:?}", reply.body);
        assert_eq!(reply.code(), code, "{args} -> {:?}", reply.body);
        assert!(!reply.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let availability_cases = [
        (json!({"date": "someday"}), "invalid_date"),
        (json!({"date": "2001-01-01"}), "in_the_past"),
        (
            json!({"date": tuesday.to_string(), "timezone": "Mars/Olympus"}),
            "invalid_timezone",
        ),
        (
            json!({"date": tuesday.to_string(), "duration": 2}),
            "invalid_duration",
        ),
        (
            json!({"date": tuesday.to_string(), "part_of_day": "brunch"}),
            "invalid_arguments",
        ),
    ];
    for (args, code) in availability_cases {
        let reply = voice(app, AVAILABILITY, &agent, &args).await;
        assert!(reply.status.is_client_error(), "{args} -> {:?}", reply.body);
        assert_eq!(reply.code(), code, "{args} -> {:?}", reply.body);
    }
    // A slot id of another tenant's agent is refused.
    let (_, other_agent) = front_desk(app, "Other").await;
    let theirs = voice(
        app,
        AVAILABILITY,
        &other_agent,
        &json!({"date": tuesday.to_string()}),
    )
    .await;
    let their_slot = options(&theirs)[0]["slot_id"].clone();
    let reply = voice(
        app,
        BOOKING,
        &agent,
        &json!({"slot_id": their_slot, "name": "Ada"}),
    )
    .await;
    assert_eq!(reply.code(), "invalid_slot");

    // Credentials.
    let no_auth = post_with(app, BOOKING, &[("x-agent-id", &agent)], "{}").await;
    assert_eq!(no_auth.status, StatusCode::UNAUTHORIZED);
    let wrong_key = post_with(
        app,
        BOOKING,
        &[
            ("authorization", "Bearer not-the-key"),
            ("x-agent-id", &agent),
        ],
        "{}",
    )
    .await;
    assert_eq!(wrong_key.status, StatusCode::UNAUTHORIZED);
    let malformed = post_with(
        app,
        BOOKING,
        &[
            ("authorization", &format!("Bearer {INTERNAL_KEY}")),
            ("x-agent-id", &agent),
        ],
        "{not json",
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.code(), "invalid_body");

    assert!(bookings(app, &tenant).await.is_empty());

    // A corrected retry in the same call books: the earlier refusal was not recorded for it.
    let fixed = envelope(
        "book_appointment",
        "c-bad",
        json!({"slot_id": slot_id, "name": "Ada", "phone": "+1 415 555 0100"}),
    );
    let reply = voice(app, BOOKING, &agent, &fixed).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(bookings(app, &tenant).await.len(), 1);
}

async fn voice_callers_find_reschedule_and_cancel_by_code(app: &TestApp) {
    let (tenant, agent) = front_desk(app, "Acme").await;
    let tuesday = next(Weekday::Tuesday);
    let offered = voice(
        app,
        AVAILABILITY,
        &agent,
        &json!({"date": tuesday.to_string()}),
    )
    .await;
    let first = options(&offered)[0].clone();
    let last = options(&offered)[2].clone();
    let booked = voice(
        app,
        BOOKING,
        &agent,
        &json!({"slot_id": first["slot_id"], "name": "Ada", "phone": "+1 (415) 555-0100"}),
    )
    .await;
    assert_eq!(booked.status, StatusCode::OK, "{:?}", booked.body);
    let code = booked.body["confirmation_code"]
        .as_str()
        .unwrap()
        .to_string();

    // Codes are read back with spaces and in lower case.
    let spaced: String = code.to_lowercase().chars().flat_map(|c| [c, ' ']).collect();
    let found = voice(
        app,
        "/api/calendar/find-booking/retell",
        &agent,
        &json!({"confirmation_code": spaced}),
    )
    .await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    assert_eq!(found.body["bookings"][0]["confirmation_code"], code);
    assert_eq!(found.body["bookings"][0]["spoken"], first["spoken"]);
    let by_phone = voice(
        app,
        "/api/calendar/find-booking/retell",
        &agent,
        &json!({"phone": "415-555-0100"}),
    )
    .await;
    assert_eq!(by_phone.body["bookings"][0]["confirmation_code"], code);
    let missing = voice(
        app,
        "/api/calendar/find-booking/retell",
        &agent,
        &json!({"confirmation_code": "ACDEFHJKM"}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let moved = voice(
        app,
        "/api/calendar/reschedule/retell",
        &agent,
        &envelope(
            "reschedule_booking",
            "c-move",
            json!({"confirmation_code": code, "slot_id": last["slot_id"]}),
        ),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["booking"]["start_time"], last["start_time"]);
    let summary = moved.body["summary"].as_str().unwrap();
    assert!(
        summary.contains(last["spoken"].as_str().unwrap()),
        "{summary}"
    );
    let stored = bookings(app, &tenant).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["start_time"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap(),
        last["start_time"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap()
    );

    let cancelled = voice(
        app,
        "/api/calendar/cancel/retell",
        &agent,
        &json!({"confirmation_code": code, "reason": "Feeling better"}),
    )
    .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["cancelled"], true);
    assert!(
        cancelled.body["summary"]
            .as_str()
            .unwrap()
            .contains("cancelled")
    );
    let stored = bookings(app, &tenant).await;
    assert_eq!(stored[0]["status"], "cancelled");
    assert_eq!(stored[0]["cancel_reason"], "Feeling better");
    // The freed time is offered again.
    let again = voice(
        app,
        AVAILABILITY,
        &agent,
        &json!({"date": tuesday.to_string()}),
    )
    .await;
    assert_eq!(options(&again)[2]["start_time"], last["start_time"]);

    // Another agent of the tenant does not answer for this one's bookings.
    let second = app
        .post(
            "/api/agents",
            &tenant.key,
            &json!({"name": "Sales", "time_zone": "UTC"}),
        )
        .await;
    let second = second.body["id"].as_str().unwrap();
    let hidden = voice(
        app,
        "/api/calendar/find-booking/retell",
        second,
        &json!({"confirmation_code": code}),
    )
    .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}

async fn voice_tool_definitions_for_each_platform(app: &TestApp) {
    let (tenant, agent) = front_desk(app, "Acme").await;
    let public = app.state.config.public_url.clone();
    let names = [
        "check_availability",
        "book_appointment",
        "find_booking",
        "cancel_booking",
        "reschedule_booking",
        "show_booking_calendar",
        "get_call_booking_state",
    ];
    for platform in ["retell", "vapi", "openai"] {
        let reply = app
            .get(
                &format!("/api/agents/{agent}/tools?platform={platform}"),
                &tenant.key,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        let tools = reply.body["tools"].as_array().unwrap();
        let listed: Vec<&str> = tools
            .iter()
            .map(|t| {
                t["name"]
                    .as_str()
                    .or(t["function"]["name"].as_str())
                    .unwrap()
            })
            .collect();
        assert_eq!(listed, names, "{platform}");
        let text = reply.body.to_string();
        assert!(text.contains(&agent), "{platform}");
        assert!(text.contains(&format!("{public}/api/")), "{platform}");
        assert!(
            !text.contains(INTERNAL_KEY),
            "the deployment's key never leaks"
        );
    }
    let retell = app
        .get(
            &format!("/api/agents/{agent}/tools?platform=retell"),
            &tenant.key,
        )
        .await;
    let book = &retell.body["tools"][1];
    assert_eq!(book["url"], format!("{public}/api/calendar/booking/retell"));
    assert_eq!(book["headers"]["X-Agent-ID"], agent);
    assert_eq!(book["parameters"]["type"], "object");
    assert!(book["parameters"]["properties"]["slot_id"].is_object());
    let vapi = app
        .get(
            &format!("/api/agents/{agent}/tools?platform=vapi"),
            &tenant.key,
        )
        .await;
    assert_eq!(
        vapi.body["tools"][0]["server"]["url"],
        format!("{public}/api/voice/vapi")
    );

    let bogus = app
        .get(
            &format!("/api/agents/{agent}/tools?platform=bogus"),
            &tenant.key,
        )
        .await;
    assert_eq!(bogus.status, StatusCode::UNPROCESSABLE_ENTITY);
    let stranger = app.tenant("Stranger").await;
    let hidden = app
        .get(
            &format!("/api/agents/{agent}/tools?platform=retell"),
            &stranger.key,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}

/// The next transition of `zone` at least two days ahead, as the local dates just before and
/// just after it.
fn around_next_transition(zone: &TimeZone) -> (Date, Date) {
    let soon = Timestamp::now() + 48.hours();
    let transition = zone.following(soon).next().expect("the zone observes DST");
    let day = transition.timestamp().to_zoned(zone.clone()).date();
    (day.yesterday().unwrap(), day.tomorrow().unwrap())
}

async fn voice_options_and_phrases_keep_wall_times_across_dst_in_two_zones(app: &TestApp) {
    for (name, zone_name) in [("NY", "America/New_York"), ("London", "Europe/London")] {
        let tenant = app.tenant(name).await;
        let every_day: serde_json::Map<String, Value> = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ]
        .iter()
        .map(|d| (d.to_string(), json!([{"start": "09:00", "end": "17:00"}])))
        .collect();
        let rule = app
            .post(
                "/api/calendar/availability-rules",
                &tenant.token,
                &json!({"timezone": zone_name, "slot_duration": 60, "schedule": every_day, "is_default": true}),
            )
            .await;
        assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
        let agent = app
            .post(
                "/api/agents",
                &tenant.key,
                &json!({"name": "Desk", "time_zone": zone_name}),
            )
            .await;
        let agent = agent.body["id"].as_str().unwrap().to_string();
        let zone = TimeZone::get(zone_name).unwrap();
        let (before, after) = around_next_transition(&zone);
        let mut offsets = Vec::new();
        for day in [before, after] {
            let reply = voice(app, AVAILABILITY, &agent, &json!({"date": day.to_string()})).await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            let options = options(&reply);
            assert_eq!(options.len(), 3, "{zone_name} {day}: {:?}", reply.body);
            // The wall times stay 9 AM, noon and 4 PM; only the offset moves.
            let starts: Vec<&str> = options
                .iter()
                .map(|o| o["start_time"].as_str().unwrap())
                .collect();
            assert!(
                starts[0].starts_with(&format!("{day}T09:00:00")),
                "{starts:?}"
            );
            assert!(
                starts[1].starts_with(&format!("{day}T12:00:00")),
                "{starts:?}"
            );
            assert!(
                starts[2].starts_with(&format!("{day}T16:00:00")),
                "{starts:?}"
            );
            let spoken: Vec<&str> = options
                .iter()
                .map(|o| o["spoken"].as_str().unwrap())
                .collect();
            assert!(spoken[0].ends_with("at 9 AM"), "{spoken:?}");
            assert!(spoken[2].ends_with("at 4 PM"), "{spoken:?}");
            // Each start, read as an instant, is 9 AM in the zone on that day.
            let instant: Timestamp = starts[0].parse().unwrap();
            assert_eq!(instant.to_zoned(zone.clone()).time().hour(), 9);
            offsets.push(starts[0][19..].to_string());
        }
        assert_ne!(
            offsets[0], offsets[1],
            "{zone_name}: the offset changes across the transition"
        );
    }
}
