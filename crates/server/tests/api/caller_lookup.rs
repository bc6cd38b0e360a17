//! A caller is found by their phone number however busy the agent is: the voice tools read the
//! agent's bookings a page at a time rather than the first page only.

use jiff::ToSpan;
use jiff::civil::Weekday;
use pillow_store::{Attendee, BookingId, NewBooking, UserId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{INTERNAL_KEY, TestApp, at, next};
use crate::on_both_backends;
use crate::voice_suggestions::clinic;

on_both_backends!(caller_lookup_a_caller_is_found_behind_six_hundred_other_bookings,);

const ZONE: &str = "America/New_York";

fn booking(
    agent: &str,
    user: UserId,
    code: String,
    start: jiff::Timestamp,
    phone: &str,
) -> NewBooking {
    NewBooking {
        id: BookingId::new(),
        agent_id: Some(agent.parse().unwrap()),
        user_id: user,
        confirmation_code: code,
        start,
        end: start.checked_add(30.minutes()).unwrap(),
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        attendee: Attendee {
            name: "Someone".into(),
            email: None,
            phone: Some(phone.into()),
        },
        notes: None,
        title: "Visit".into(),
        description: None,
        call_id: None,
        channel: None,
    }
}

async fn retell(
    app: &TestApp,
    path: &str,
    agent: &str,
    from: &str,
    args: Value,
) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(INTERNAL_KEY)
        .header("x-agent-id", agent)
        .json(
            &json!({"name": "tool", "call": {"call_id": "lookup", "from_number": from},
                      "args": args}),
        )
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn caller_lookup_a_caller_is_found_behind_six_hundred_other_bookings(app: &TestApp) {
    let (tenant, agent, lee) = clinic(app).await;
    let store = app.store();
    // 600 other callers with the owner over the coming 30 days, twenty a day...
    let first = next(Weekday::Monday);
    for n in 0..600_i64 {
        let day = first.checked_add((n / 20).days()).unwrap();
        let start = at(day, "08:00", ZONE)
            .checked_add((30 * (n % 20)).minutes())
            .unwrap();
        let other = booking(
            &agent,
            tenant.owner.id,
            format!("OTHER{n:04}"),
            start,
            &format!("+1555020{n:04}"),
        );
        store
            .create_booking(tenant.id, &other, &[], None)
            .await
            .unwrap();
    }
    // ...then ours, with Dr. Lee, after all of them.
    let later = at(first.checked_add(31.days()).unwrap(), "10:00", ZONE);
    let ours = booking(&agent, lee, "OURVISIT".into(), later, "+15550100199");
    store
        .create_booking(tenant.id, &ours, &[], None)
        .await
        .unwrap();

    let (status, found) = retell(
        app,
        "/api/calendar/find-booking/retell",
        &agent,
        "+1 555 010 0199",
        json!({"phone": "555 010 0199"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        found["bookings"][0]["confirmation_code"], "OURVISIT",
        "{found}"
    );

    // Asking for times, the returning caller's appointment is recognised without its code.
    let (status, offered) = retell(
        app,
        "/api/calendar/availability/retell",
        &agent,
        "+1 555 010 0199",
        json!({"date": "tomorrow"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{offered}");
    assert_eq!(
        offered["upcoming_booking"]["confirmation_code"], "OURVISIT",
        "{offered}"
    );
    assert_eq!(
        offered["upcoming_booking"]["host_name"], "Dr. Lee",
        "{offered}"
    );
}
