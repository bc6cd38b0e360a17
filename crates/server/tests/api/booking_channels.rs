//! The channel each booking was made through (issue 13): Retell, Vapi, MCP, the in-call widget,
//! the hosted booking page and the API each record their own, the API lists and filters by it,
//! and the dashboard's bookings list, CSV and analytics show the same.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{INTERNAL_KEY, Reply, TestApp, next};
use crate::mcp::{front_desk, modern_request};
use crate::on_both_backends;

on_both_backends!(
    a_booking_through_each_channel_is_recorded_as_made_there,
    an_unknown_channel_in_the_list_filter_is_refused_naming_the_choices,
);

/// Posts `body` to `path` with `headers`.
async fn post(app: &TestApp, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
    let mut request = app.client.post(format!("{}{path}", app.base)).json(body);
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

fn caller(name: &str) -> Value {
    json!({"name": name, "email": format!("{}@caller.test", name.to_lowercase()),
           "phone": "+14155550100"})
}

async fn a_booking_through_each_channel_is_recorded_as_made_there(app: &TestApp) {
    let (acme, agent, pat) = front_desk(app).await;
    let tuesday = next(jiff::civil::Weekday::Tuesday);
    let slots = app
        .get(
            &format!("/api/v1/agents/{agent}/calendar/slots?startDate={tuesday}&endDate={tuesday}"),
            &acme.key,
        )
        .await;
    assert_eq!(slots.status, StatusCode::OK, "{:?}", slots.body);
    let slots = slots.body["data"]["slots"].as_array().unwrap().clone();
    assert!(slots.len() >= 7, "{slots:?}");
    let slot = |i: usize| slots[i]["id"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {INTERNAL_KEY}");
    let voice = [
        ("authorization", bearer.as_str()),
        ("x-agent-id", agent.as_str()),
    ];

    // Retell: a custom function with its call envelope.
    let mut args = caller("Rita");
    args["slot_id"] = json!(slot(0));
    let retell = post(
        app,
        "/api/calendar/booking/retell",
        &voice,
        &json!({"name": "book_appointment", "call": {"call_id": "retell-call-1"}, "args": args}),
    )
    .await;
    assert_eq!(retell.status, StatusCode::OK, "{:?}", retell.body);

    // Vapi: a tool call.
    let mut args = caller("Vic");
    args["slot_id"] = json!(slot(1));
    let vapi = post(
        app,
        "/api/voice/vapi",
        &voice,
        &json!({"message": {"type": "tool-calls", "call": {"id": "vapi-call-1"},
            "toolCallList": [{"id": "t1", "type": "function",
                "function": {"name": "book_appointment", "arguments": args}}]}}),
    )
    .await;
    assert_eq!(vapi.status, StatusCode::OK, "{:?}", vapi.body);
    assert!(
        vapi.body["results"][0]["result"].is_string(),
        "{:?}",
        vapi.body
    );

    // MCP: the tool over streamable HTTP.
    let mut args = caller("Mona");
    args["slot_id"] = json!(slot(2));
    let mcp = modern_request(
        app,
        &acme.key,
        &[("x-agent-id", &agent)],
        "tools/call",
        json!({"name": "book_appointment", "arguments": args}),
    )
    .await;
    assert_eq!(mcp.status, StatusCode::OK, "{:?}", mcp.message);
    assert_eq!(mcp.message["result"]["isError"], false, "{}", mcp.message);

    // The in-call API from the widget, then from our hosted page (its own address as Referer).
    let book = format!("/api/v1/agents/{agent}/calendar/book");
    let key = format!("Bearer {}", acme.key);
    let body = |i: usize, name: &str| {
        json!({"slotId": slot(i), "attendeeName": name,
               "attendeeEmail": format!("{}@caller.test", name.to_lowercase())})
    };
    let widget = post(app, &book, &[("authorization", &key)], &body(3, "Wes")).await;
    assert_eq!(widget.status, StatusCode::CREATED, "{:?}", widget.body);
    let hosted_page = format!("{}/book/{agent}?key=pk_test", app.base);
    let hosted = post(
        app,
        &book,
        &[("authorization", &key), ("referer", &hosted_page)],
        &body(4, "Hana"),
    )
    .await;
    assert_eq!(hosted.status, StatusCode::CREATED, "{:?}", hosted.body);
    // A Referer of someone else's /book/ page is not our hosted page.
    let elsewhere = post(
        app,
        &book,
        &[
            ("authorization", &key),
            ("referer", "https://example.com/book/x"),
        ],
        &body(6, "Ezra"),
    )
    .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::CREATED,
        "{:?}",
        elsewhere.body
    );

    // The calendar API.
    let api = app
        .post(
            "/api/calendar/booking",
            &acme.key,
            &json!({"start_time": slots[5]["start_time"], "duration": 30,
                    "user_id": pat.to_string(), "attendee": caller("Abe")}),
        )
        .await;
    assert_eq!(api.status, StatusCode::CREATED, "{:?}", api.body);
    assert_eq!(api.body["channel"], "api");

    let listed = app.get("/api/calendar/bookings", &acme.key).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let mut made: Vec<(String, String)> = listed.body["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["attendee"]["name"].as_str().unwrap().to_string(),
                b["channel"].as_str().unwrap_or("(none)").to_string(),
            )
        })
        .collect();
    made.sort();
    let expected = [
        ("Abe", "api"),
        ("Ezra", "widget"),
        ("Hana", "hosted"),
        ("Mona", "mcp"),
        ("Rita", "retell"),
        ("Vic", "vapi"),
        ("Wes", "widget"),
    ]
    .map(|(n, c)| (n.to_string(), c.to_string()));
    assert_eq!(made, expected);

    // The list filters by channel, and the store holds the same.
    for (channel, count) in [
        ("widget", 2),
        ("hosted", 1),
        ("retell", 1),
        ("dashboard", 0),
    ] {
        let filtered = app
            .get(
                &format!("/api/calendar/bookings?channel={channel}"),
                &acme.key,
            )
            .await;
        assert_eq!(filtered.status, StatusCode::OK, "{:?}", filtered.body);
        let bookings = filtered.body["bookings"].as_array().unwrap();
        assert_eq!(bookings.len(), count, "{channel}: {bookings:?}");
        assert!(bookings.iter().all(|b| b["channel"] == channel));
    }
    let stored = app
        .store()
        .list_bookings(acme.id, &pillow_store::BookingFilter::default())
        .await
        .unwrap();
    assert!(stored.iter().all(|b| b.channel.is_some()));
}

async fn an_unknown_channel_in_the_list_filter_is_refused_naming_the_choices(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let reply = app
        .get("/api/calendar/bookings?channel=fax", &acme.key)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        reply.body
    );
    assert_eq!(reply.code(), "invalid_query");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("retell"),
        "{:?}",
        reply.body
    );
}
