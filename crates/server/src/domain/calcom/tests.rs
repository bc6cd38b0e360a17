use std::collections::HashMap;

use pillow_fakes::calcom::{FakeCalcom, NewFakeEventType, NewFakeUser};
use pillow_providers::crypto::SecretKey;
use pillow_store::TenantId;

use super::bookings::metadata_value;
use super::*;
use axum::http::StatusCode;

const KEY: &str = "cal_live_agent_key_0123456789abcdef";

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn settings(base_url: &str) -> HashMap<String, String> {
    HashMap::from([
        ("JWT_SECRET".to_string(), "j".repeat(40)),
        ("CALENDAR_ENCRYPTION_KEY".to_string(), "42".repeat(32)),
        ("CAL_API_BASE_URL".to_string(), base_url.to_string()),
    ])
}

/// A Cal.com with Ana (Rome, Monday to Friday 09:00–17:00) and her one-hour "intro", whose
/// clock reads 2030-01-01; and the server configuration pointing at it.
async fn setup() -> (FakeCalcom, Config) {
    let fake = FakeCalcom::start().await;
    fake.set_now(ts("2030-01-01T00:00:00Z"));
    let ana = fake.add_user(NewFakeUser::new("ana", KEY, "Europe/Rome"));
    fake.add_event_type(ana, NewFakeEventType::new("intro", 60).other_lengths(&[30]));
    let config = Config::from_source(&settings(&fake.base_url())).unwrap();
    (fake, config)
}

fn agent(config: &Config, key: &str) -> Agent {
    Agent {
        id: AgentId::new(),
        tenant_id: TenantId::new(),
        name: "Front desk".into(),
        time_zone: "America/New_York".into(),
        backend: AgentBackend::Calcom,
        cal_enabled: true,
        cal_api_key_encrypted: Some(config.secrets.seal(key)),
        cal_event_type_slug: Some("intro".into()),
        cal_timezone: Some("Europe/Rome".into()),
        created_at: ts("2029-12-01T00:00:00Z"),
        updated_at: ts("2029-12-01T00:00:00Z"),
    }
}

fn caller() -> Attendee {
    Attendee {
        name: "Ben Caller".into(),
        email: Some("ben@example.com".into()),
        phone: Some("+393331234567".into()),
    }
}

const MONDAY: &str = "2030-01-07T00:00:00Z";
const TUESDAY_END: &str = "2030-01-08T23:59:59Z";

#[test]
fn the_base_url_defaults_to_cal_com_and_must_be_http() {
    let mut source = settings("https://cal.example.com/");
    source.remove("CAL_API_BASE_URL");
    assert_eq!(
        Config::from_source(&source).unwrap().cal_api_base_url,
        "https://api.cal.com"
    );
    assert_eq!(
        Config::from_source(&settings("https://cal.example.com/"))
            .unwrap()
            .cal_api_base_url,
        "https://cal.example.com"
    );
    assert_eq!(
        Config::from_source(&settings("api.cal.com"))
            .unwrap_err()
            .variable,
        "CAL_API_BASE_URL"
    );
}

#[tokio::test]
async fn slots_come_from_the_agents_event_type_in_its_cal_com_zone() {
    let (fake, config) = setup().await;
    let agent = agent(&config, KEY);
    let backend = CalcomBackend::new(&config);
    let slots = backend
        .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap();
    assert_eq!(slots.len(), 16);
    assert_eq!(
        slots[0],
        CalcomSlot {
            start: ts("2030-01-07T08:00:00Z"),
            end: ts("2030-01-07T09:00:00Z"),
        }
    );
    let query = fake
        .requests()
        .into_iter()
        .find(|request| request.path == "/v2/slots")
        .unwrap();
    assert_eq!(query.param("timeZone"), Some("Europe/Rome"));
    assert_eq!(query.param("duration"), None);
    assert_eq!(query.authorization, Some(format!("Bearer {KEY}")));

    // The slug was resolved once; the next call reuses it.
    backend
        .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap();
    assert_eq!(fake.request_count("GET", "/v2/event-types"), 1);
    assert_eq!(fake.request_count("GET", "/v2/slots"), 2);
}

#[tokio::test]
async fn an_agent_update_resolves_the_event_type_again() {
    let (fake, config) = setup().await;
    let mut agent = agent(&config, KEY);
    let backend = CalcomBackend::new(&config);
    backend
        .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap();
    agent.updated_at = ts("2029-12-02T00:00:00Z");
    backend
        .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap();
    assert_eq!(fake.request_count("GET", "/v2/event-types"), 2);
}

#[tokio::test]
async fn the_cal_timezone_falls_back_to_the_agents_zone() {
    let (fake, config) = setup().await;
    let mut agent = agent(&config, KEY);
    agent.cal_timezone = None;
    CalcomBackend::new(&config)
        .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap();
    let query = fake
        .requests()
        .into_iter()
        .find(|request| request.path == "/v2/slots")
        .unwrap();
    assert_eq!(query.param("timeZone"), Some("America/New_York"));
}

#[tokio::test]
async fn a_booking_takes_the_slot_and_a_second_one_is_a_409() {
    let (fake, config) = setup().await;
    let agent = agent(&config, KEY);
    let backend = CalcomBackend::new(&config);
    let start = ts("2030-01-07T10:00:00Z");
    let booked = backend
        .book(
            &agent,
            start,
            None,
            &caller(),
            Some("Knee pain"),
            Some("call_123:CS_abc"),
        )
        .await
        .unwrap();
    assert_eq!(booked.start, start);
    assert_eq!(booked.end, ts("2030-01-07T11:00:00Z"));
    assert_eq!(booked.status, "accepted");

    let held = fake.booking(&booked.uid).unwrap();
    assert_eq!(held.metadata["pillow_idempotency_key"], "call_123:CS_abc");
    assert_eq!(held.metadata["pillow_agent_id"], agent.id.to_string());
    assert_eq!(held.booking_fields_responses["notes"], "Knee pain");
    assert_eq!(held.attendee["timeZone"], "Europe/Rome");
    assert_eq!(held.attendee["phoneNumber"], "+393331234567");

    let slots = backend
        .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap();
    assert!(!slots.iter().any(|slot| slot.start == start));

    let error = backend
        .book(&agent, start, None, &caller(), None, None)
        .await
        .unwrap_err();
    let error = DomainError::from(error);
    assert_eq!(error.kind.status(), StatusCode::CONFLICT);
    assert_eq!(error.code, "slot_unavailable");
}

#[tokio::test]
async fn booking_again_with_the_same_hint_answers_with_the_first_booking() {
    let (fake, config) = setup().await;
    let agent = agent(&config, KEY);
    let backend = CalcomBackend::new(&config);
    let start = ts("2030-01-07T10:00:00Z");
    let hint = Some("call_1:CS_x");
    let first = backend
        .book(&agent, start, None, &caller(), None, hint)
        .await
        .unwrap();
    let again = backend
        .book(&agent, start, None, &caller(), None, hint)
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(fake.bookings().len(), 1);
    // Another call asking for the same time is refused.
    let other = backend
        .book(&agent, start, None, &caller(), None, Some("call_2:CS_x"))
        .await
        .unwrap_err();
    assert_eq!(DomainError::from(other).code, "slot_unavailable");
}

#[tokio::test]
async fn a_booking_whose_answer_was_lost_is_found_by_its_hint() {
    let (fake, config) = setup().await;
    let agent = agent(&config, KEY);
    let backend = CalcomBackend::new(&config);
    let start = ts("2030-01-07T10:00:00Z");
    // Resolve the event type first, so the lost answer is the booking's.
    backend
        .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap();
    fake.lose_next_answer(502);
    let booked = backend
        .book(&agent, start, None, &caller(), None, Some("call_3:CS_y"))
        .await
        .unwrap();
    assert_eq!(booked.start, start);
    assert_eq!(fake.bookings().len(), 1);
    assert_eq!(fake.bookings()[0].uid, booked.uid);
    let requests = fake.requests();
    let post = requests.iter().position(|r| r.method == "POST").unwrap();
    assert_eq!(requests[post].status, 502);
    let lookup = &requests[post + 1];
    assert_eq!(
        (lookup.method.as_str(), lookup.path.as_str()),
        ("GET", "/v2/bookings")
    );
    assert_eq!(lookup.param("afterStart"), Some("2030-01-07T10:00:00Z"));
    assert_eq!(lookup.param("beforeEnd"), Some("2030-01-07T11:00:00Z"));

    // Without a hint there is nothing to recognise it by: the failure stands.
    fake.lose_next_answer(502);
    let error = backend
        .book(
            &agent,
            ts("2030-01-07T12:00:00Z"),
            None,
            &caller(),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(DomainError::from(error).code, "calcom_unavailable");
}

#[tokio::test]
async fn a_duration_other_than_the_default_is_sent_in_whole_minutes() {
    let (fake, config) = setup().await;
    let agent = agent(&config, KEY);
    let backend = CalcomBackend::new(&config);
    // The default length is not sent: Cal.com refuses `duration` on single-length types.
    backend
        .book(
            &agent,
            ts("2030-01-07T08:00:00Z"),
            Some(SignedDuration::from_mins(60)),
            &caller(),
            None,
            None,
        )
        .await
        .unwrap();
    let short = backend
        .book(
            &agent,
            ts("2030-01-07T12:00:00Z"),
            Some(SignedDuration::from_mins(30)),
            &caller(),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(short.end, ts("2030-01-07T12:30:00Z"));
    let bodies: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|request| request.path == "/v2/bookings")
        .map(|request| request.body.unwrap())
        .collect();
    assert!(bodies[0].get("lengthInMinutes").is_none());
    assert_eq!(bodies[1]["lengthInMinutes"], 30);

    let error = backend
        .offered_slots(
            &agent,
            ts(MONDAY),
            ts(TUESDAY_END),
            Some(SignedDuration::from_secs(90)),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, CalcomBackendError::InvalidDuration(_)));
    assert_eq!(
        DomainError::from(error).kind.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn cancel_frees_the_time_and_reschedule_moves_it() {
    let (fake, config) = setup().await;
    let agent = agent(&config, KEY);
    let backend = CalcomBackend::new(&config);
    let first = backend
        .book(
            &agent,
            ts("2030-01-07T10:00:00Z"),
            None,
            &caller(),
            None,
            None,
        )
        .await
        .unwrap();
    let moved = backend
        .reschedule(
            &agent,
            &first.uid,
            ts("2030-01-08T09:00:00Z"),
            Some("Clash"),
        )
        .await
        .unwrap();
    assert_ne!(moved.uid, first.uid);
    assert_eq!(
        moved.rescheduled_from_uid.as_deref(),
        Some(first.uid.as_str())
    );
    assert_eq!(
        backend.booking(&agent, &first.uid).await.unwrap().status,
        "cancelled"
    );

    let cancelled = backend
        .cancel(&agent, &moved.uid, Some("No longer needed"))
        .await
        .unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert!(
        fake.bookings()
            .iter()
            .all(|booking| booking.status == "cancelled")
    );
    let slots = backend
        .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap();
    assert_eq!(slots.len(), 16);

    let error = DomainError::from(
        backend
            .cancel(&agent, "unknownUid1", None)
            .await
            .unwrap_err(),
    );
    assert_eq!(error.kind.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_refused_key_is_a_502_that_names_the_agent_but_not_the_key() {
    let (_fake, config) = setup().await;
    let wrong = "cal_live_revoked_key_999";
    let agent = agent(&config, wrong);
    let error = CalcomBackend::new(&config)
        .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(wrong));
    let error = DomainError::from(error);
    assert_eq!(error.kind.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(error.code, "calcom_unauthorized");
    assert!(error.message.contains("Front desk"), "{}", error.message);
    assert!(!error.message.contains(wrong));
}

#[tokio::test]
async fn an_agent_without_cal_com_settings_never_reaches_cal_com() {
    let (fake, config) = setup().await;
    let backend = CalcomBackend::new(&config);
    let mut native = agent(&config, KEY);
    native.backend = AgentBackend::Native;
    let mut keyless = agent(&config, KEY);
    keyless.cal_api_key_encrypted = None;
    let mut slugless = agent(&config, KEY);
    slugless.cal_event_type_slug = None;
    for agent in [native, keyless, slugless] {
        let error = backend
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap_err();
        let error = DomainError::from(error);
        assert_eq!(error.kind.status(), StatusCode::CONFLICT);
        assert_eq!(error.code, "calcom_not_configured");
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_key_sealed_under_another_encryption_key_is_an_internal_error() {
    let (fake, config) = setup().await;
    let other = SecretBox::new(SecretKey::from_hex(&"07".repeat(32)).unwrap());
    let mut agent = agent(&config, KEY);
    agent.cal_api_key_encrypted = Some(other.seal(KEY));
    let error = CalcomBackend::new(&config)
        .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap_err();
    assert!(matches!(error, CalcomBackendError::KeyUnreadable { .. }));
    assert_eq!(
        DomainError::from(error).kind.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn an_unknown_slug_is_a_502_naming_it() {
    let (_fake, config) = setup().await;
    let mut agent = agent(&config, KEY);
    agent.cal_event_type_slug = Some("consultation".into());
    let error = DomainError::from(
        CalcomBackend::new(&config)
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap_err(),
    );
    assert_eq!(error.kind.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(error.code, "calcom_event_type_not_found");
    assert!(error.message.contains("consultation"));
}

#[tokio::test]
async fn cal_com_down_or_rate_limiting_is_a_503() {
    let (fake, config) = setup().await;
    let agent = agent(&config, KEY);
    let backend = CalcomBackend::new(&config);
    fake.fail_next(3, 503);
    let error = DomainError::from(
        backend
            .offered_slots(&agent, ts(MONDAY), ts(TUESDAY_END), None)
            .await
            .unwrap_err(),
    );
    assert_eq!(error.kind.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error.code, "calcom_unavailable");

    fake.set_retry_after(60);
    fake.fail_next(1, 429);
    let error = DomainError::from(
        backend
            .book(
                &agent,
                ts("2030-01-07T10:00:00Z"),
                None,
                &caller(),
                None,
                None,
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(error.kind.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error.details["retry_after_seconds"], 60);
}

#[tokio::test]
async fn the_state_helpers_use_the_servers_configuration() {
    let (fake, config) = setup().await;
    let agent = agent(&config, KEY);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("calcom.db").display());
    let store = crate::open_store(&url).await.unwrap();
    let state = AppState::new(store, config);
    let slots = offered_slots(&state, &agent, ts(MONDAY), ts(TUESDAY_END), None)
        .await
        .unwrap();
    let booked = book(&state, &agent, slots[0].start, None, &caller(), None, None)
        .await
        .unwrap();
    assert_eq!(booking(&state, &agent, &booked.uid).await.unwrap(), booked);
    let moved = reschedule(&state, &agent, &booked.uid, slots[2].start, None)
        .await
        .unwrap();
    cancel(&state, &agent, &moved.uid, None).await.unwrap();
    assert_eq!(fake.bookings().len(), 2);
}

#[test]
fn long_idempotency_hints_are_hashed_to_fit_cal_com_metadata() {
    assert_eq!(metadata_value("call:slot"), "call:slot");
    let long = "x".repeat(600);
    assert_eq!(metadata_value(&long).len(), 64);
}
