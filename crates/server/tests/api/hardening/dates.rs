//! Dates near the end of the calendar types' range (year 9999) are a 422 naming the field,
//! where adding a day or an offset used to overflow into a 500.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(dates_near_the_year_9999_are_422_on_every_path);

async fn dates_near_the_year_9999_are_422_on_every_path(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = app
        .post(
            "/api/agents",
            &acme.key,
            &json!({"name": "Desk", "time_zone": "Pacific/Kiritimati"}),
        )
        .await;
    let agent = agent.body["id"].as_str().unwrap().to_string();
    let owner = acme.owner.id;
    let reads = [
        format!("/api/calendar/availability?date=9999-12-31&user_id={owner}"),
        format!("/api/calendar/availability?start=9999-12-30&end=9999-12-31&agent_id={agent}"),
        format!("/api/v1/agents/{agent}/calendar/slots?startDate=9999-12-30&endDate=9999-12-31"),
        format!("/api/v1/agents/{agent}/calendar/slots?startDate=9999-12-30"),
    ];
    for path in reads {
        let reply = app.get(&path, &acme.key).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            reply.body
        );
    }
    let late = "9999-12-31T12:00:00+14:00";
    let moved = app
        .post(
            &format!("/api/calendar/bookings/{}/reschedule", uuid::Uuid::new_v4()),
            &acme.key,
            &json!({"start_time": late}),
        )
        .await;
    assert_eq!(
        moved.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        moved.body
    );
    assert_eq!(moved.body["error"]["field"], "start_time");
    let public = app
        .send(
            reqwest::Method::POST,
            "/api/public/bookings/reschedule",
            None,
            Some(&json!({
                "agent_id": agent, "confirmation_code": "ABCDEF",
                "email": "x@y.z", "start_time": late
            })),
        )
        .await;
    assert_eq!(
        public.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        public.body
    );
    let booked = app
        .post(
            "/api/calendar/booking",
            &acme.key,
            &json!({"agent_id": agent, "start_time": late, "attendee_name": "A"}),
        )
        .await;
    assert!(booked.status.is_client_error(), "{}", booked.body);
    let voice = app
        .client
        .post(format!("{}/api/calendar/availability/retell", app.base))
        .bearer_auth(&acme.key)
        .header("x-agent-id", &agent)
        .header("content-type", "application/json")
        .body(
            json!({
                "name": "check_availability",
                "call": {"call_id": "c1", "agent_id": "retell-agent-1", "call_status": "ongoing"},
                "args": {"date": "9999-12-31"}
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(voice.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
