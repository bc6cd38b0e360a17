//! SMS through Twilio's Messaging API, against the stateful fake of it: texts go out with the
//! right form fields and Basic auth, a number Twilio refuses is given up with its reason
//! visible through the API, STOP is honoured, and a forged `X-Twilio-Signature` is refused.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use pillow_fakes::twilio::{FakeTwilio, signature};
use pillow_server::notify::SmsDeliverer;
use pillow_server::notify::sms::{INBOUND_PATH, STATUS_PATH};
use pillow_server::outbox::{Step, Worker};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::email::{desk_with, slot};
use crate::helpers::{Db, Tenant, TestApp, spawn_app_with};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "fake-twilio-auth-token-0123456789";
const OUR_NUMBER: &str = "+15005550006";
const CALLER: &str = "+15555550123";

macro_rules! with_twilio {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::run(super::$name, crate::helpers::Db::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::run(super::$name, crate::helpers::Db::Postgres).await;
                }
            }
        )*
    };
}

with_twilio!(
    texts_go_out_with_the_right_form_fields_and_basic_auth_and_report_back_signed,
    a_number_twilio_refuses_is_given_up_with_its_reason_visible_through_the_api,
    a_stop_reply_is_honoured_until_start,
    a_forged_twilio_signature_is_refused_and_changes_nothing,
    a_rate_limited_text_is_retried_and_then_sent,
);

/// The server with SMS on, pointed at a fresh fake Twilio.
async fn run<F>(test: F, db: Db)
where
    F: AsyncFnOnce(&TestApp, &FakeTwilio),
{
    let twilio = FakeTwilio::start(SID, TOKEN).await;
    let extra = [
        ("TWILIO_ACCOUNT_SID", SID.to_string()),
        ("TWILIO_AUTH_TOKEN", TOKEN.to_string()),
        ("TWILIO_FROM", OUR_NUMBER.to_string()),
        ("TWILIO_API_BASE_URL", twilio.base_url()),
    ];
    if let Some(app) = spawn_app_with(db, &extra).await {
        test(&app, &twilio).await;
        app.finish().await;
    }
}

/// Runs the outbox with SMS until nothing is due, as if `ahead` had passed.
async fn drain(app: &TestApp, ahead: SignedDuration) {
    let store = app.state.store.clone();
    let sms = SmsDeliverer::new(
        store.clone(),
        app.state.config.sms.clone(),
        &app.state.config.public_url,
    );
    let worker = Worker::new(store).with(Arc::new(sms));
    for _ in 0..100 {
        let step = worker.try_execute_task_at(Timestamp::now() + ahead).await;
        if step.unwrap() == Step::Empty {
            return;
        }
    }
    panic!("the outbox never emptied");
}

/// An agent texting callers (no e-mail, no reminders), and a booking by a caller at `phone`.
async fn booked(app: &TestApp, acme: &Tenant, agent: &str, index: i64, phone: &str) -> Value {
    let reply = app
        .post(
            "/api/calendar/booking",
            &acme.key,
            &json!({
                "agent_id": agent,
                "start_time": slot(2, index).to_string(),
                "duration": 30,
                "attendee": {"name": "John Doe", "phone": phone},
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body
}

async fn texting_desk(app: &TestApp, acme: &Tenant) -> String {
    desk_with(app, acme, json!({"send_sms": true, "reminders": []})).await
}

async fn sms_jobs(app: &TestApp, acme: &Tenant, status: &str) -> Vec<Value> {
    let reply = app
        .get(
            &format!("/api/outbox/jobs?kind=sms.booking&status={status}"),
            &acme.key,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["jobs"].as_array().unwrap().clone()
}

async fn texts_go_out_with_the_right_form_fields_and_basic_auth_and_report_back_signed(
    app: &TestApp,
    twilio: &FakeTwilio,
) {
    let acme = app.tenant("Acme").await;
    let agent = texting_desk(app, &acme).await;
    let booking = booked(app, &acme, &agent, 30, "+1 (555) 555-0123").await;
    let code = booking["confirmation_code"].as_str().unwrap();
    drain(app, SignedDuration::ZERO).await;

    let sent = twilio.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, CALLER, "the number in E.164");
    assert_eq!(sent[0].from.as_deref(), Some(OUR_NUMBER));
    assert!(sent[0].body.starts_with("Confirmed:"), "{}", sent[0].body);
    assert!(sent[0].body.contains(code), "{}", sent[0].body);
    assert!(
        sent[0].body.contains("America/New_York"),
        "{}",
        sent[0].body
    );
    let request = &twilio.requests()[0];
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(
        request
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded")),
        "{request:?}"
    );
    let fields: Vec<&str> = request.form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(fields, ["To", "Body", "From", "StatusCallback"]);
    let callback = format!("{}{STATUS_PATH}", app.base);
    assert_eq!(request.form[3].1, callback);

    // Twilio reports "sent" then "delivered", signed; our endpoint takes both.
    for _ in 0..100 {
        if twilio.callbacks().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let callbacks = twilio.callbacks();
    assert_eq!(callbacks.len(), 2, "{callbacks:?}");
    assert!(
        callbacks
            .iter()
            .all(|(url, _, status)| *url == callback && *status == 204)
    );
    assert_eq!(twilio.messages()[0].status, "delivered");

    // Cancelling texts the caller too.
    let id = booking["id"].as_str().unwrap();
    let cancel = format!("/api/calendar/bookings/{id}/cancel");
    let reply = app.post(&cancel, &acme.key, &json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    drain(app, SignedDuration::ZERO).await;
    let sent = twilio.messages();
    assert_eq!(sent.len(), 2);
    assert!(sent[1].body.starts_with("Cancelled:"), "{}", sent[1].body);
    assert_eq!(sms_jobs(app, &acme, "done").await.len(), 2);
}

async fn a_number_twilio_refuses_is_given_up_with_its_reason_visible_through_the_api(
    app: &TestApp,
    twilio: &FakeTwilio,
) {
    let acme = app.tenant("Acme").await;
    let agent = texting_desk(app, &acme).await;
    // E.164 in form, but no North American area code starts with 0: Twilio says 21211.
    let refused = booked(app, &acme, &agent, 30, "+1 055 555 0123").await;
    // Not E.164 at all (no country code): given up here, Twilio is not asked.
    let local = booked(app, &acme, &agent, 32, "555-0123").await;
    drain(app, SignedDuration::ZERO).await;
    assert!(twilio.messages().is_empty());
    assert_eq!(
        twilio.requests().len(),
        1,
        "only the E.164 number reached Twilio"
    );

    let failed = sms_jobs(app, &acme, "failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    let of = |booking: &Value| {
        failed
            .iter()
            .find(|job| job["booking_id"] == booking["id"])
            .unwrap_or_else(|| panic!("no failed job for {booking}"))
            .clone()
    };
    let twilio_said = of(&refused);
    assert_eq!(twilio_said["attempts"], 1, "not retried: {twilio_said}");
    let reason = twilio_said["last_error"].as_str().unwrap();
    assert!(reason.contains("21211"), "{reason}");
    let ours = of(&local);
    assert!(
        ours["last_error"].as_str().unwrap().contains("E.164"),
        "{ours}"
    );
}

async fn a_stop_reply_is_honoured_until_start(app: &TestApp, twilio: &FakeTwilio) {
    let acme = app.tenant("Acme").await;
    let agent = texting_desk(app, &acme).await;
    let inbound = format!("{}{INBOUND_PATH}", app.base);
    assert_eq!(
        twilio.reply(&inbound, CALLER, OUR_NUMBER, "Stop").await,
        200
    );
    assert!(app.store().get_sms_opt_out(CALLER).await.unwrap().is_some());

    booked(app, &acme, &agent, 30, CALLER).await;
    drain(app, SignedDuration::ZERO).await;
    assert!(twilio.requests().is_empty(), "no text is even tried");
    assert_eq!(sms_jobs(app, &acme, "done").await.len(), 1);

    assert_eq!(
        twilio.reply(&inbound, CALLER, OUR_NUMBER, "START").await,
        200
    );
    assert!(app.store().get_sms_opt_out(CALLER).await.unwrap().is_none());
    booked(app, &acme, &agent, 32, CALLER).await;
    drain(app, SignedDuration::ZERO).await;
    assert_eq!(twilio.messages().len(), 1);

    // A STOP that only Twilio heard (our webhook was unreachable): its 21610 answer gives the
    // text up and teaches us the opt-out.
    let unreachable = "http://127.0.0.1:9/api/sms/twilio/inbound";
    twilio.reply(unreachable, CALLER, OUR_NUMBER, "STOP").await;
    booked(app, &acme, &agent, 34, CALLER).await;
    drain(app, SignedDuration::ZERO).await;
    let failed = sms_jobs(app, &acme, "failed").await;
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["last_error"].as_str().unwrap().contains("21610"),
        "{failed:?}"
    );
    assert!(app.store().get_sms_opt_out(CALLER).await.unwrap().is_some());
}

async fn a_forged_twilio_signature_is_refused_and_changes_nothing(
    app: &TestApp,
    _twilio: &FakeTwilio,
) {
    let params: Vec<(String, String)> = [
        ("AccountSid", SID),
        ("Body", "STOP"),
        ("From", CALLER),
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("To", OUR_NUMBER),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let url = format!("{}{INBOUND_PATH}", app.base);
    let post = |signature: Option<String>, form: Vec<(String, String)>| {
        let mut request = app.client.post(&url).form(&form);
        if let Some(signature) = signature {
            request = request.header("X-Twilio-Signature", signature);
        }
        request.send()
    };
    let wrong_key = signature("not-the-auth-token", &url, &params);
    let forged = post(Some(wrong_key), params.clone()).await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let body: Value = forged.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_signature");
    assert_eq!(
        post(None, params.clone()).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // Signed for other parameters: the body was altered on the way.
    let mut altered = params.clone();
    altered[2].1 = "+15555550199".into();
    let genuine_for_other = signature(TOKEN, &url, &altered);
    let replayed = post(Some(genuine_for_other), params.clone()).await.unwrap();
    assert_eq!(replayed.status(), StatusCode::FORBIDDEN);
    assert!(app.store().get_sms_opt_out(CALLER).await.unwrap().is_none());
    let status_url = format!("{}{STATUS_PATH}", app.base);
    let report = app
        .client
        .post(&status_url)
        .header(
            "X-Twilio-Signature",
            signature("nope", &status_url, &params),
        )
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), StatusCode::FORBIDDEN);

    // The same request signed with the auth token is taken.
    let genuine = signature(TOKEN, &url, &params);
    assert_eq!(
        post(Some(genuine), params).await.unwrap().status(),
        StatusCode::OK
    );
    assert!(app.store().get_sms_opt_out(CALLER).await.unwrap().is_some());
}

async fn a_rate_limited_text_is_retried_and_then_sent(app: &TestApp, twilio: &FakeTwilio) {
    let acme = app.tenant("Acme").await;
    let agent = texting_desk(app, &acme).await;
    twilio.fail_next(429);
    booked(app, &acme, &agent, 30, CALLER).await;
    drain(app, SignedDuration::ZERO).await;
    assert!(twilio.messages().is_empty());
    let waiting = sms_jobs(app, &acme, "pending").await;
    assert_eq!(waiting.len(), 1);
    assert!(
        waiting[0]["last_error"].as_str().unwrap().contains("20429"),
        "{waiting:?}"
    );
    drain(app, SignedDuration::from_hours(1)).await;
    assert_eq!(twilio.messages().len(), 1);
    assert_eq!(sms_jobs(app, &acme, "done").await.len(), 1);
}
