//! The agent and the caller's browser on one web call: `show_booking_calendar` opens the
//! calendar through the call's server-sent events, and a booking made in the widget is what
//! `get_call_booking_state` reads back. Across two server processes on PostgreSQL too.

use std::time::Duration;

use jiff::ToSpan;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Db, INTERNAL_KEY, Reply, Tenant, TestApp, spawn_app, spawn_app_beside};
use crate::on_both_backends;

on_both_backends!(
    live_calls_show_booking_calendar_opens_the_calls_stream_pre_set,
    live_calls_without_a_listening_browser_the_agent_hears_so,
    live_calls_a_stream_needs_the_agents_widget_key_and_a_usable_call_id,
    live_calls_a_widget_booking_on_the_call_is_what_the_agent_reads_back,
);

const ZONE: &str = "America/New_York";
const SHOW: &str = "/api/calendar/show-calendar/retell";
const STATE: &str = "/api/calendar/call-booking-state/retell";

/// An agent in New York whose owner works every day 09:00–17:00, and a widget key for it.
async fn front_desk(app: &TestApp, name: &str) -> (Tenant, String, String) {
    let tenant = app.tenant(name).await;
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let schedule: serde_json::Map<String, Value> = days
        .iter()
        .map(|d| (d.to_string(), json!([{"start": "09:00", "end": "17:00"}])))
        .collect();
    let rule = json!({"timezone": ZONE, "slot_duration": 30, "schedule": schedule});
    let reply = app
        .post("/api/calendar/availability-rules", &tenant.token, &rule)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let agent = app
        .post(
            "/api/agents",
            &tenant.key,
            &json!({"name": "Front Desk", "time_zone": ZONE}),
        )
        .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{:?}", agent.body);
    let agent = agent.body["id"].as_str().unwrap().to_string();
    let key = app
        .post(
            &format!("/api/agents/{agent}/widget-keys"),
            &tenant.token,
            &json!({"name": "site", "allowed_origins": []}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    (tenant, agent, key.body["key"].as_str().unwrap().to_string())
}

/// A Retell custom-function call in Retell's envelope, with the internal key.
async fn retell(app: &TestApp, path: &str, agent: &str, call: &str, args: Value) -> Reply {
    let body = json!({
        "name": "tool",
        "call": {"call_id": call, "agent_id": "retell-agent-1", "call_status": "ongoing"},
        "args": args,
    });
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(INTERNAL_KEY)
        .header("x-agent-id", agent)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        body,
        headers,
    }
}

/// A call's event stream as a browser holds it.
pub(crate) struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    pub(crate) async fn open(app: &TestApp, agent: &str, key: &str, call: &str) -> Events {
        let response = app
            .client
            .get(format!(
                "{}/api/v1/agents/{agent}/calendar/stream?callId={call}&key={key}",
                app.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next event's name and data (keep-alive comments skipped).
    pub(crate) async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_string();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    }
                }
                if !data.is_empty() {
                    return (name, serde_json::from_str(&data).unwrap());
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.response.chunk())
                .await
                .expect("an event within 20 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// The coming Monday in the agent's zone: what "next week" means.
fn next_monday() -> jiff::civil::Date {
    let today = jiff::Timestamp::now().in_tz(ZONE).unwrap().date();
    let ahead = 7 - i64::from(today.weekday().to_monday_zero_offset());
    today.checked_add(ahead.days()).unwrap()
}

async fn live_calls_show_booking_calendar_opens_the_calls_stream_pre_set(app: &TestApp) {
    let (_tenant, agent, key) = front_desk(app, "Acme").await;
    let mut mine = Events::open(app, &agent, &key, "call-1").await;
    let mut other_call = Events::open(app, &agent, &key, "call-2").await;

    let reply = retell(
        app,
        SHOW,
        &agent,
        "call-1",
        json!({"date": "next week", "part_of_day": "afternoon"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["browser_listening"], true, "{:?}", reply.body);
    let monday = next_monday();
    let sunday = monday.checked_add(6.days()).unwrap();
    assert_eq!(reply.body["date"], format!("{monday}/{sunday}"));
    assert!(
        reply.body["summary"]
            .as_str()
            .unwrap()
            .starts_with("I've opened the calendar on your screen"),
        "{:?}",
        reply.body
    );

    let (name, data) = mine.next().await;
    assert_eq!(name, "show");
    assert_eq!(data["from"], monday.to_string());
    assert_eq!(data["to"], sunday.to_string());
    assert_eq!(data["hours"], json!([12, 17]));
    assert!(
        data["note"].as_str().unwrap().contains("in the afternoon"),
        "{data}"
    );

    // The other call's browser heard nothing: its next event is its own.
    let reply = retell(app, SHOW, &agent, "call-2", json!({"date": "tomorrow"})).await;
    assert_eq!(reply.body["browser_listening"], true, "{:?}", reply.body);
    let (_, data) = other_call.next().await;
    let tomorrow = jiff::Timestamp::now()
        .in_tz(ZONE)
        .unwrap()
        .date()
        .tomorrow()
        .unwrap();
    assert_eq!(data["from"], tomorrow.to_string());
    assert!(data.get("hours").is_none(), "{data}");
}

async fn live_calls_without_a_listening_browser_the_agent_hears_so(app: &TestApp) {
    let (tenant, agent, key) = front_desk(app, "Acme").await;
    let reply = retell(app, SHOW, &agent, "call-nobody", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["browser_listening"], false);
    assert!(
        reply.body["summary"]
            .as_str()
            .unwrap()
            .contains("read you some times"),
        "{:?}",
        reply.body
    );
    // A stream of the same call id under another tenant's agent does not count.
    let (_, other_agent, other_key) = front_desk(app, "Other").await;
    let _theirs = Events::open(app, &other_agent, &other_key, "call-nobody").await;
    let reply = retell(app, SHOW, &agent, "call-nobody", json!({})).await;
    assert_eq!(reply.body["browser_listening"], false);
    // A closed stream stops counting.
    let mine = Events::open(app, &agent, &key, "call-gone").await;
    drop(mine);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reply = retell(app, SHOW, &agent, "call-gone", json!({})).await;
    assert_eq!(reply.body["browser_listening"], false, "{:?}", reply.body);
    // Without a call (MCP without call_id) the tool says what it needs.
    let mcp_like = app
        .client
        .post(format!("{}{SHOW}", app.base))
        .bearer_auth(&tenant.key)
        .header("x-agent-id", &agent)
        .json(&json!({"date": "today"}))
        .send()
        .await
        .unwrap();
    assert_eq!(mcp_like.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = mcp_like.json().await.unwrap();
    assert_eq!(body["error"]["code"], "missing_parameter", "{body}");
}

async fn live_calls_a_stream_needs_the_agents_widget_key_and_a_usable_call_id(app: &TestApp) {
    let (_tenant, agent, key) = front_desk(app, "Acme").await;
    let (_, other_agent, _) = front_desk(app, "Other").await;
    let get = |path: String| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.base);
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let base = format!("/api/v1/agents/{agent}/calendar/stream");
    let (status, body) = get(format!("{base}?callId=c1")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["success"], false);
    let (status, _) = get(format!("{base}?callId=c1&key=pk_wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = get(format!(
        "/api/v1/agents/{other_agent}/calendar/stream?callId=c1&key={key}"
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = get(format!("{base}?callId=a%20b&key={key}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_call_id");
    assert_eq!(body["error"]["field"], "callId");
    let (status, body) = get(format!("{base}?key={key}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The header works as well as the query (for pages that can send headers).
    let response = app
        .client
        .get(format!("{}{base}?callId=c1", app.base))
        .header("x-pillow-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn live_calls_a_widget_booking_on_the_call_is_what_the_agent_reads_back(app: &TestApp) {
    let (_tenant, agent, key) = front_desk(app, "Acme").await;
    let mut events = Events::open(app, &agent, &key, "call-7").await;

    let nothing = retell(app, STATE, &agent, "call-7", json!({})).await;
    assert_eq!(nothing.status, StatusCode::OK, "{:?}", nothing.body);
    assert_eq!(nothing.body["booked"], false);
    assert_eq!(
        nothing.body["summary"],
        "Nothing has been booked on this call yet."
    );

    let monday = next_monday();
    let slots = app
        .client
        .get(format!(
            "{}/api/v1/agents/{agent}/calendar/slots?startDate={monday}&endDate={monday}",
            app.base
        ))
        .header("x-pillow-key", &key)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let slot = slots["data"]["slots"][0].clone();
    let booked = app
        .client
        .post(format!("{}/api/v1/agents/{agent}/calendar/book", app.base))
        .header("x-pillow-key", &key)
        .json(&json!({"slotId": slot["id"], "attendeeName": "Mae Jemison",
                      "attendeeEmail": "mae@example.com", "callId": "call-7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), StatusCode::CREATED);
    let booked: Value = booked.json().await.unwrap();
    let code = booked["data"]["booking"]["confirmationCode"]
        .as_str()
        .unwrap()
        .to_string();

    let (name, data) = events.next().await;
    assert_eq!(name, "booked");
    assert_eq!(data["confirmation_code"], code);
    assert_eq!(data["start_time"], slot["start_time"]);

    let state = retell(app, STATE, &agent, "call-7", json!({})).await;
    assert_eq!(state.status, StatusCode::OK, "{:?}", state.body);
    assert_eq!(state.body["booked"], true);
    assert_eq!(state.body["bookings"][0]["confirmation_code"], code);
    let summary = state.body["summary"].as_str().unwrap();
    assert!(summary.starts_with("I see you've booked "), "{summary}");
    assert!(summary.contains("9 AM"), "{summary}");
    // Another call's agent hears nothing of it.
    let other = retell(app, STATE, &agent, "call-8", json!({})).await;
    assert_eq!(other.body["booked"], false);
    // A call id that is not one is refused and books nothing.
    let refused = app
        .client
        .post(format!("{}/api/v1/agents/{agent}/calendar/book", app.base))
        .header("x-pillow-key", &key)
        .json(
            &json!({"slotId": slots["data"]["slots"][1]["id"], "attendeeName": "Mae Jemison",
                      "attendeeEmail": "mae@example.com", "callId": "two words"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let still = retell(app, STATE, &agent, "call-7", json!({})).await;
    assert_eq!(still.body["bookings"].as_array().unwrap().len(), 1);
}

/// Two server processes on one PostgreSQL database: the browser's stream on one, the voice
/// platform's tool call on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_calls_reach_a_browser_connected_to_another_server_process() {
    let Some(first) = spawn_app(Db::Postgres).await else {
        return;
    };
    let second = spawn_app_beside(&first, &[]).await;
    let (_tenant, agent, key) = front_desk(&first, "Acme").await;
    let mut events = Events::open(&first, &agent, &key, "call-x").await;
    let reply = retell(
        &second,
        SHOW,
        &agent,
        "call-x",
        json!({"date": "tomorrow", "part_of_day": "morning"}),
    )
    .await;
    assert_eq!(reply.body["browser_listening"], true, "{:?}", reply.body);
    let (name, data) = events.next().await;
    assert_eq!(name, "show");
    assert_eq!(data["hours"], json!([0, 12]));
    let nobody = retell(&second, SHOW, &agent, "call-y", json!({})).await;
    assert_eq!(nobody.body["browser_listening"], false);
    drop(events);
    second.finish().await;
    first.finish().await;
}
