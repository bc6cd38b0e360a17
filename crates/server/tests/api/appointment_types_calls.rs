//! Appointment types during a call: the in-call slots and booking, the check against the hosts'
//! working hours, and the voice tools through Retell, Vapi and MCP (a type by its spoken name,
//! a slot id that carries its type, and a short question when the request is ambiguous).

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::appointment_types::{clinic, day, deep_clean, types_path, voice};
use super::mcp::modern_request;
use crate::helpers::{TestApp, at};
use crate::on_both_backends;

on_both_backends!(
    incall_slots_of_a_type_have_its_length_and_hosts_and_booking_one_books_that_type,
    a_type_longer_than_a_hosts_working_hours_is_422_naming_the_duration,
    the_voice_tools_ask_which_type_when_several_could_be_meant,
    a_slot_id_from_a_typed_answer_books_that_type_through_vapi,
    mcp_tools_book_a_type_by_its_spoken_name_and_ask_when_none_is_named,
);

/// Deep Clean (Bea, 60 minutes, 10 after) and Check-up (anyone, 30 minutes).
async fn two_types(app: &TestApp) -> (crate::helpers::Tenant, String, [pillow_store::UserId; 2]) {
    let (acme, agent, hosts) = clinic(app).await;
    let created = app
        .post(&types_path(&agent), &acme.key, &deep_clean(hosts[1]))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let created = app
        .post(
            &types_path(&agent),
            &acme.key,
            &json!({"name": "Check-up", "slug": "check-up", "duration": 30}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    (acme, agent, hosts)
}

async fn incall_slots_of_a_type_have_its_length_and_hosts_and_booking_one_books_that_type(
    app: &TestApp,
) {
    let (acme, agent, [owner, bea]) = clinic(app).await;
    app.post(&types_path(&agent), &acme.key, &deep_clean(bea))
        .await;
    let date = day(3);
    let slots = |kind: Option<&str>| {
        let mut path =
            format!("/api/v1/agents/{agent}/calendar/slots?startDate={date}&endDate={date}");
        if let Some(kind) = kind {
            path.push_str(&format!("&appointmentType={kind}"));
        }
        let key = acme.key.clone();
        async move {
            let reply = app.get(&path, &key).await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            reply.body["data"]["slots"].as_array().cloned().unwrap()
        }
    };
    let plain = slots(None).await;
    assert_eq!(plain.len(), 48, "a 30-minute grid over a whole UTC day");
    assert!(plain.iter().all(|s| s["duration_min"] == 30));
    // By slug or name: an hour long, on the same half-hour grid (the last start is 23:00).
    for kind in ["deep-clean", "Deep%20Clean"] {
        let typed = slots(Some(kind)).await;
        assert_eq!(typed.len(), 47, "{kind}");
        assert!(typed.iter().all(|s| s["duration_min"] == 60), "{kind}");
    }
    let typed = slots(Some("deep-clean")).await;
    let nine = at(date, "09:00", "UTC").to_string();
    let slot = typed
        .iter()
        .find(|s| s["start_time"] == nine.as_str())
        .unwrap();
    // The typed slot's id differs from the plain one at the same time: it carries the type.
    let plain_nine = plain
        .iter()
        .find(|s| s["start_time"] == nine.as_str())
        .unwrap();
    assert_ne!(slot["id"], plain_nine["id"]);

    let booked = app
        .post(
            &format!("/api/v1/agents/{agent}/calendar/book"),
            &acme.key,
            &json!({"slotId": slot["id"], "attendeeName": "John Doe",
                    "attendeeEmail": "john@example.com"}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    assert_eq!(booked.body["data"]["booking"]["durationMin"], 60);
    let code = booked.body["data"]["booking"]["confirmationCode"]
        .as_str()
        .unwrap();
    let stored = app
        .get(&format!("/api/calendar/bookings/{code}"), &acme.key)
        .await;
    assert_eq!(
        stored.body["user_id"],
        bea.to_string(),
        "only Bea offers it"
    );
    assert_eq!(stored.body["duration"], 60);

    // Bea is taken until 10:10 (the type's buffer after): the type's 10:00 is gone, while a
    // plain 10:00 is still offered, by the owner.
    let ten = at(date, "10:00", "UTC").to_string();
    let typed = slots(Some("deep-clean")).await;
    assert!(
        typed
            .iter()
            .all(|s| s["start_time"] != nine.as_str() && s["start_time"] != ten.as_str())
    );
    let plain = slots(None).await;
    let plain_ten = plain
        .iter()
        .find(|s| s["start_time"] == ten.as_str())
        .unwrap();
    let other = app
        .post(
            &format!("/api/v1/agents/{agent}/calendar/book"),
            &acme.key,
            &json!({"slotId": plain_ten["id"], "attendeeName": "Jane Roe",
                    "attendeeEmail": "jane@example.com"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{:?}", other.body);
    let code = other.body["data"]["booking"]["confirmationCode"]
        .as_str()
        .unwrap();
    let stored = app
        .get(&format!("/api/calendar/bookings/{code}"), &acme.key)
        .await;
    assert_eq!(stored.body["user_id"], owner.to_string());
    assert_eq!(stored.body["duration"], 30);

    // A type the agent does not have: 422 in the envelope, naming the parameter.
    let unknown = app
        .get(
            &format!(
                "/api/v1/agents/{agent}/calendar/slots?startDate={date}&endDate={date}\
                 &appointmentType=massage"
            ),
            &acme.key,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.body["success"], false, "{:?}", unknown.body);
    assert_eq!(unknown.body["error"]["code"], "unknown_appointment_type");
    assert_eq!(unknown.body["error"]["field"], "appointmentType");
}

async fn a_type_longer_than_a_hosts_working_hours_is_422_naming_the_duration(app: &TestApp) {
    let (acme, agent, [_, bea]) = clinic(app).await;
    // Cy works two 45-minute stretches a week.
    let (cy, _) = app.member(&acme, "cy@acme.test").await;
    let rule = json!({"user_id": cy.id.to_string(), "timezone": "UTC", "slot_duration": 15,
        "schedule": {"monday": [{"start": "09:00", "end": "09:45"}],
                     "thursday": [{"start": "14:00", "end": "14:45"}]}});
    let reply = app
        .post("/api/calendar/availability-rules", &acme.key, &rule)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let path = types_path(&agent);
    let long = json!({"name": "Long", "slug": "long", "duration": 60,
                      "hosts": [cy.id.to_string()]});
    let refused = app.post(&path, &acme.key, &long).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.code(), "type_does_not_fit", "{:?}", refused.body);
    assert_eq!(refused.body["error"]["field"], "duration");
    assert_eq!(refused.body["error"]["host"], cy.id.to_string());
    let said = refused.body["error"]["message"].as_str().unwrap();
    assert!(said.contains("45 minutes"), "{said}");
    let listed = app.get(&path, &acme.key).await;
    assert_eq!(listed.body["appointment_types"], json!([]));

    // 45 minutes fits; stretching it to an hour by PATCH is refused and changes nothing.
    let fits = json!({"name": "Short", "slug": "short", "duration": 45,
                      "hosts": [cy.id.to_string(), bea.to_string()]});
    let created = app.post(&path, &acme.key, &fits).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let one = format!("{path}/{}", created.body["id"].as_str().unwrap());
    let patched = app.patch(&one, &acme.key, &json!({"duration": 60})).await;
    assert_eq!(patched.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(patched.code(), "type_does_not_fit");
    assert_eq!(patched.body["error"]["field"], "duration");
    assert_eq!(app.get(&one, &acme.key).await.body["duration"], 45);
    // Without Cy the hour fits Bea's day.
    let without = app
        .patch(
            &one,
            &acme.key,
            &json!({"duration": 60, "hosts": [bea.to_string()]}),
        )
        .await;
    assert_eq!(without.status, StatusCode::OK, "{:?}", without.body);
}

async fn the_voice_tools_ask_which_type_when_several_could_be_meant(app: &TestApp) {
    let (acme, agent, _) = two_types(app).await;
    app.post(
        &types_path(&agent),
        &acme.key,
        &json!({"name": "Quick Clean", "slug": "quick-clean", "duration": 30}),
    )
    .await;
    let date = day(4).to_string();
    // No type named while the agent has several: a question naming them, nothing offered.
    let (status, unnamed) = voice(
        app,
        "/api/calendar/availability/retell",
        &agent,
        &json!({"date": date}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{unnamed}");
    let said = unnamed.to_string();
    assert!(said.contains("appointment_type_required"), "{said}");
    assert!(
        said.contains("Deep Clean, Check-up or Quick Clean"),
        "{said}"
    );
    // A phrase two types fit: the question names just those two.
    let (status, vague) = voice(
        app,
        "/api/calendar/availability/retell",
        &agent,
        &json!({"date": date, "appointment_type": "a clean"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{vague}");
    let said = vague.to_string();
    assert!(said.contains("Deep Clean or Quick Clean"), "{said}");
    assert!(!said.contains("Check-up"), "{said}");
    // Booking by a time with no type is asked the same question and books nothing.
    let (status, booking) = voice(
        app,
        "/api/calendar/booking/retell",
        &agent,
        &json!({"start_time": format!("{date}T09:00"), "name": "Ada Lovelace",
                "email": "ada@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{booking}");
    assert!(booking.to_string().contains("appointment_type_required"));
    let listed = app.get("/api/calendar/bookings", &acme.key).await;
    assert_eq!(listed.body["bookings"], json!([]), "{:?}", listed.body);
    // The spoken name settles it.
    let (status, answer) = voice(
        app,
        "/api/calendar/availability/retell",
        &agent,
        &json!({"date": date, "appointment_type": "quick clean"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["duration_minutes"], 30);
}

const VAPI: &str = "/api/voice/vapi";

fn vapi_call(id: &str, name: &str, arguments: Value) -> Value {
    json!({"message": {"type": "tool-calls", "call": {"id": "vapi-types-call"},
        "toolCallList": [{"id": id, "type": "function",
            "function": {"name": name, "arguments": arguments.to_string()}}]}})
}

async fn a_slot_id_from_a_typed_answer_books_that_type_through_vapi(app: &TestApp) {
    let (acme, agent, [_, bea]) = two_types(app).await;
    let date = day(5).to_string();
    let (status, reply) = voice(
        app,
        VAPI,
        &agent,
        &vapi_call(
            "t1",
            "check_availability",
            json!({"date": date, "appointment_type": "the deep clean"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let answer: Value =
        serde_json::from_str(reply["results"][0]["result"].as_str().unwrap()).unwrap();
    assert_eq!(answer["duration_minutes"], 60, "{answer}");
    let slot = answer["options"][0]["slot_id"].as_str().unwrap();
    // The slot id alone says which type: no type named on booking.
    let (status, reply) = voice(
        app,
        VAPI,
        &agent,
        &vapi_call(
            "t2",
            "book_appointment",
            json!({"slot_id": slot, "name": "Ada Lovelace", "email": "ada@example.com"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let booked: Value = serde_json::from_str(
        reply["results"][0]["result"]
            .as_str()
            .unwrap_or_else(|| panic!("{reply}")),
    )
    .unwrap();
    let code = booked["confirmation_code"].as_str().unwrap();
    let stored = app
        .get(&format!("/api/calendar/bookings/{code}"), &acme.key)
        .await;
    assert_eq!(stored.body["user_id"], bea.to_string(), "{:?}", stored.body);
    assert_eq!(stored.body["duration"], 60);
    // Unnamed, on Vapi: the question comes back as the call's error string.
    let (status, reply) = voice(
        app,
        VAPI,
        &agent,
        &vapi_call("t3", "check_availability", json!({"date": date})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let error: Value =
        serde_json::from_str(reply["results"][0]["error"].as_str().unwrap()).unwrap();
    assert_eq!(error["code"], "appointment_type_required", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("Deep Clean or Check-up"),
        "{error}"
    );
}

async fn mcp_tools_book_a_type_by_its_spoken_name_and_ask_when_none_is_named(app: &TestApp) {
    let (acme, agent, _) = two_types(app).await;
    let date = day(6).to_string();
    let call = |name: &str, arguments: Value| {
        let params = json!({"name": name, "arguments": arguments});
        let (key, agent) = (acme.key.clone(), agent.clone());
        async move {
            let reply = modern_request(
                app,
                &key,
                &[("x-agent-id", agent.as_str())],
                "tools/call",
                params,
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.message);
            reply.message["result"].clone()
        }
    };
    let unnamed = call("check_availability", json!({"date": date})).await;
    assert_eq!(unnamed["isError"], true, "{unnamed}");
    assert_eq!(
        unnamed["structuredContent"]["error"]["code"],
        "appointment_type_required"
    );
    let available = call(
        "check_availability",
        json!({"date": date, "appointment_type": "Check up"}),
    )
    .await;
    assert_eq!(available["isError"], false, "{available}");
    assert_eq!(available["structuredContent"]["duration_minutes"], 30);
    let slot = available["structuredContent"]["options"][0]["slot_id"].clone();
    let booked = call(
        "book_appointment",
        json!({"slot_id": slot, "name": "Ada Lovelace", "phone": "+14155550100",
               "appointment_type": "check-up"}),
    )
    .await;
    assert_eq!(booked["isError"], false, "{booked}");
    let code = booked["structuredContent"]["confirmation_code"]
        .as_str()
        .unwrap();
    let stored = app
        .get(&format!("/api/calendar/bookings/{code}"), &acme.key)
        .await;
    assert_eq!(stored.body["duration"], 30, "{:?}", stored.body);
}
