//! Appointment types over HTTP: managed per agent, and they change the slots' length and the
//! hosts offered in availability, in booking and in the voice tools.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{INTERNAL_KEY, Tenant, TestApp, always_open, at};
use crate::on_both_backends;

on_both_backends!(
    appointment_types_are_created_listed_changed_and_deleted,
    bad_appointment_types_are_422_naming_the_field_and_change_nothing,
    an_appointment_type_changes_the_slot_length_and_the_hosts_offered_and_booked,
    the_voice_tools_book_a_type_by_its_spoken_name,
    several_types_are_listed_in_the_agents_tool_definitions,
);

const RULES: &str = "/api/calendar/availability-rules";

/// An agent with two hosts, the owner and Bea, both always open in UTC with 30-minute slots.
pub(crate) async fn clinic(app: &TestApp) -> (Tenant, String, [pillow_store::UserId; 2]) {
    let acme = app.tenant("Acme").await;
    let (bea, _) = app.member(&acme, "bea@acme.test").await;
    let hosts = [acme.owner.id, bea.id];
    for host in hosts {
        let reply = app
            .post(RULES, &acme.key, &always_open(Some(host), 30))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Clinic", "time_zone": "UTC"}),
        )
        .await;
    let agent = agent.body["id"].as_str().unwrap().to_string();
    (acme, agent, hosts)
}

pub(crate) fn types_path(agent: &str) -> String {
    format!("/api/agents/{agent}/appointment-types")
}

/// A 60-minute "Deep Clean" that only Bea offers, with ten minutes after.
pub(crate) fn deep_clean(bea: pillow_store::UserId) -> Value {
    json!({"name": "Deep Clean", "slug": "deep-clean", "duration": 60, "buffer_after": 10,
           "description": "The long one", "hosts": [bea.to_string()]})
}

async fn appointment_types_are_created_listed_changed_and_deleted(app: &TestApp) {
    let (acme, agent, [_, bea]) = clinic(app).await;
    let path = types_path(&agent);
    let created = app.post(&path, &acme.key, &deep_clean(bea)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["slug"], "deep-clean");
    assert_eq!(created.body["duration"], 60);
    assert_eq!(created.body["hosts"], json!([bea.to_string()]));
    let id = created.body["id"].as_str().unwrap().to_string();
    let check_up = app
        .post(
            &path,
            &acme.key,
            &json!({"name": "Check-up", "slug": "check-up", "duration": 30}),
        )
        .await;
    assert_eq!(check_up.status, StatusCode::CREATED, "{:?}", check_up.body);

    let listed = app.get(&path, &acme.key).await;
    let slugs: Vec<&str> = listed.body["appointment_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["deep-clean", "check-up"]);

    let one = format!("{path}/{id}");
    let patched = app
        .patch(
            &one,
            &acme.key,
            &json!({"duration": 90, "description": null}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body["duration"], 90);
    assert_eq!(patched.body["name"], "Deep Clean");
    assert!(
        patched.body.get("description").is_none(),
        "{:?}",
        patched.body
    );
    assert_eq!(app.get(&one, &acme.key).await.body["duration"], 90);

    // Another tenant sees none of it.
    let globex = app.tenant("Globex").await;
    assert_eq!(
        app.get(&one, &globex.key).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&path, &globex.key).await.status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        app.delete(&one, &acme.key).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&one, &acme.key).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete(&one, &acme.key).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn bad_appointment_types_are_422_naming_the_field_and_change_nothing(app: &TestApp) {
    let (acme, agent, [_, bea]) = clinic(app).await;
    let path = types_path(&agent);
    let stranger = app.tenant("Globex").await.owner.id.to_string();
    let good = deep_clean(bea);
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("name", json!(" ")), "name", "invalid_name"),
        (with("slug", json!("Deep Clean")), "slug", "invalid_slug"),
        (with("duration", json!(2)), "duration", "invalid_duration"),
        (
            with("buffer_after", json!(-5)),
            "buffer_after",
            "invalid_buffer",
        ),
        (
            with("min_booking_notice", json!(-1)),
            "min_booking_notice",
            "invalid_notice",
        ),
        (with("hosts", json!([])), "hosts", "no_members"),
        (with("hosts", json!([stranger])), "hosts[0]", "unknown_user"),
        (
            with("hosts", json!([bea.to_string(), bea.to_string()])),
            "hosts[1]",
            "duplicate_user",
        ),
    ];
    for (body, field, code) in cases {
        let reply = app.post(&path, &acme.key, &body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.body["error"]["field"], field, "{body}");
        assert_eq!(reply.code(), code, "{body}");
    }
    assert_eq!(
        app.post(&path, &acme.key, &good).await.status,
        StatusCode::CREATED
    );
    let again = app.post(&path, &acme.key, &good).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    assert_eq!(again.body["error"]["field"], "slug");
    let listed = app.get(&path, &acme.key).await;
    assert_eq!(
        listed.body["appointment_types"].as_array().unwrap().len(),
        1
    );
    // A type must be named on availability and booking by something the agent has.
    let unknown = app
        .get(
            &format!("/api/calendar/availability?agent_id={agent}&appointment_type=massage"),
            &acme.key,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.code(), "unknown_appointment_type");
    assert_eq!(unknown.body["error"]["field"], "appointment_type");
}

pub(crate) fn day(days: i64) -> jiff::civil::Date {
    Timestamp::now().to_zoned(TimeZone::UTC).date() + days.days()
}

fn booking(agent: &str, start: Timestamp, kind: Option<&str>) -> Value {
    let mut body = json!({
        "agent_id": agent,
        "start_time": start.to_string(),
        "attendee": {"name": "John Doe", "email": "john@example.com"},
    });
    if let Some(kind) = kind {
        body["appointment_type"] = json!(kind);
    }
    body
}

async fn an_appointment_type_changes_the_slot_length_and_the_hosts_offered_and_booked(
    app: &TestApp,
) {
    let (acme, agent, [owner, bea]) = clinic(app).await;
    assert_eq!(
        app.post(&types_path(&agent), &acme.key, &deep_clean(bea))
            .await
            .status,
        StatusCode::CREATED
    );
    let date = day(3);
    let slots = |kind: Option<&str>| {
        let mut path = format!("/api/calendar/availability?agent_id={agent}&date={date}");
        if let Some(kind) = kind {
            path.push_str(&format!("&appointment_type={kind}"));
        }
        let key = acme.key.clone();
        async move {
            app.get(&path, &key).await.body["slots"]
                .as_array()
                .cloned()
                .unwrap()
        }
    };
    let length = |slot: &Value| {
        let start: Timestamp = slot["start_time"].as_str().unwrap().parse().unwrap();
        let end: Timestamp = slot["end_time"].as_str().unwrap().parse().unwrap();
        end.duration_since(start).as_mins()
    };
    // Without a type: the agent's default, 30 minutes, either host.
    let plain = slots(None).await;
    assert_eq!(plain.len(), 48);
    assert!(plain.iter().all(|s| length(s) == 30));
    // By slug or by name: an hour, on the same half-hour grid, Bea only.
    for kind in ["deep-clean", "Deep%20Clean"] {
        let typed = slots(Some(kind)).await;
        assert_eq!(typed.len(), 47, "{kind}");
        assert!(typed.iter().all(|s| length(s) == 60), "{kind}");
        assert!(
            typed.iter().all(|s| s["user_id"] == bea.to_string()),
            "{kind}"
        );
    }

    let nine = at(date, "09:00", "UTC");
    let booked = app
        .post(
            "/api/calendar/booking",
            &acme.key,
            &booking(&agent, nine, Some("deep-clean")),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    assert_eq!(booked.body["user_id"], bea.to_string());
    assert_eq!(booked.body["duration"], 60);
    // Bea is busy until 10:10 with the type's buffer: 10:00 is not hers, and nobody else offers
    // the type, so it is taken; a plain booking at 10:00 goes to the owner.
    let ten = at(date, "10:00", "UTC");
    let taken = app
        .post(
            "/api/calendar/booking",
            &acme.key,
            &booking(&agent, ten, Some("deep-clean")),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{:?}", taken.body);
    assert_eq!(taken.code(), "slot_unavailable");
    let plain = app
        .post(
            "/api/calendar/booking",
            &acme.key,
            &booking(&agent, ten, None),
        )
        .await;
    assert_eq!(plain.status, StatusCode::CREATED, "{:?}", plain.body);
    assert_eq!(plain.body["user_id"], owner.to_string());
    assert_eq!(plain.body["duration"], 30);
}

pub(crate) async fn voice(
    app: &TestApp,
    path: &str,
    agent: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .header("authorization", format!("Bearer {INTERNAL_KEY}"))
        .header("x-agent-id", agent)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn the_voice_tools_book_a_type_by_its_spoken_name(app: &TestApp) {
    let (acme, agent, [_, bea]) = clinic(app).await;
    app.post(&types_path(&agent), &acme.key, &deep_clean(bea))
        .await;
    app.post(
        &types_path(&agent),
        &acme.key,
        &json!({"name": "Check-up", "slug": "check-up", "duration": 30}),
    )
    .await;
    let date = day(4).to_string();
    let (status, answer) = voice(
        app,
        "/api/calendar/availability/retell",
        &agent,
        &json!({"date": date, "appointment_type": "a deep clean please"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer["duration_minutes"], 60, "{answer:?}");
    let slot = answer["options"][0]["slot_id"].clone();
    let (status, booked) = voice(
        app,
        "/api/calendar/booking/retell",
        &agent,
        &json!({"slot_id": slot, "name": "Ada Lovelace", "email": "ada@example.com",
                "appointment_type": "Deep clean"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{booked:?}");
    assert_eq!(booked["booked"], true, "{booked:?}");
    let code = booked["confirmation_code"].as_str().unwrap();
    let found = app
        .get(&format!("/api/calendar/bookings/{code}"), &acme.key)
        .await;
    assert_eq!(found.body["user_id"], bea.to_string(), "{:?}", found.body);
    assert_eq!(found.body["duration"], 60);
    // A type the agent does not have is answered with a question naming the ones it has.
    let (status, unknown) = voice(
        app,
        "/api/calendar/availability/retell",
        &agent,
        &json!({"date": date, "appointment_type": "massage"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{unknown:?}");
    let said = unknown.to_string();
    assert!(said.contains("Deep Clean or Check-up"), "{said}");
}

async fn several_types_are_listed_in_the_agents_tool_definitions(app: &TestApp) {
    let (acme, agent, [_, bea]) = clinic(app).await;
    let tools = format!("/api/agents/{agent}/tools?platform=vapi");
    let property = |defs: &Value, i: usize| {
        defs["tools"][i]["function"]["parameters"]["properties"]["appointment_type"].clone()
    };
    // One type (or none): the definitions are as before.
    app.post(&types_path(&agent), &acme.key, &deep_clean(bea))
        .await;
    let one = app.get(&tools, &acme.key).await.body;
    assert!(property(&one, 0).is_null(), "{one}");
    app.post(
        &types_path(&agent),
        &acme.key,
        &json!({"name": "Check-up", "slug": "check-up", "duration": 30}),
    )
    .await;
    let two = app.get(&tools, &acme.key).await.body;
    for i in [0, 1] {
        assert_eq!(
            property(&two, i)["enum"],
            json!(["deep-clean", "check-up"]),
            "{two}"
        );
        let text = property(&two, i)["description"].to_string();
        assert!(
            text.contains("Deep Clean") && text.contains("Check-up"),
            "{text}"
        );
    }
    assert!(property(&two, 2).is_null(), "find_booking takes no type");
}
