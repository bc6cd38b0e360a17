//! The real Google client against `FakeGoogle`, over HTTP on loopback.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use pillow_fakes::google::{Call, FakeGoogle};
use pillow_providers::google::{
    CALENDAR_EVENTS_SCOPE, EventDateTime, EventStatus, EventsPage, ExtendedProperties,
    GoogleCalendar, GoogleEndpoints, GoogleError, GoogleEvent, GoogleOAuth, ListEvents,
    RetryPolicy, Transparency, WatchRequest, event_id_for, pkce_pair,
};
use secrecy::ExposeSecret;
use serde_json::json;

const HOST: &str = "host@example.com";
const CLIENT_ID: &str = "pillow-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-secret";
const REDIRECT: &str = "http://localhost:3000/api/calendar/google/callback";

fn endpoints(google: &FakeGoogle) -> GoogleEndpoints {
    GoogleEndpoints {
        authorize_url: google.authorize_url(),
        token_url: google.token_url(),
        revoke_url: google.revoke_url(),
        calendar_base: google.calendar_base(),
    }
}

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

struct Env {
    google: FakeGoogle,
    calendar: GoogleCalendar,
    oauth: GoogleOAuth,
    token: String,
}

async fn env() -> Env {
    let google = FakeGoogle::start().await;
    google.add_user(HOST);
    google.register_client(CLIENT_ID, CLIENT_SECRET, REDIRECT);
    let http = reqwest::Client::new();
    let calendar = GoogleCalendar::new(&endpoints(&google), http.clone()).with_retry(fast_retry(4));
    let oauth = GoogleOAuth::new(
        CLIENT_ID.into(),
        CLIENT_SECRET.to_string().into(),
        REDIRECT.into(),
        endpoints(&google),
        http,
    );
    let token = google.issue_access_token(HOST);
    Env {
        google,
        calendar,
        oauth,
        token,
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A timed event `hours` from now, one hour long.
fn timed(summary: &str, hours: i64) -> serde_json::Value {
    let start = Timestamp::now() + SignedDuration::from_hours(hours);
    json!({
        "summary": summary,
        "start": {"dateTime": start.to_string()},
        "end": {"dateTime": (start + SignedDuration::from_hours(1)).to_string()},
    })
}

fn window() -> ListEvents {
    ListEvents {
        time_min: Some(Timestamp::now() - SignedDuration::from_hours(30 * 24)),
        time_max: Some(Timestamp::now() + SignedDuration::from_hours(90 * 24)),
        ..ListEvents::default()
    }
}

/// Follows pages to the end, as sync does; returns the events and every page.
async fn list_all(env: &Env, mut request: ListEvents) -> (Vec<GoogleEvent>, Vec<EventsPage>) {
    let mut events = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page = env
            .calendar
            .list_events(&env.token, "primary", &request)
            .await
            .unwrap();
        events.extend(page.items.clone());
        let next = page.next_page_token.clone();
        pages.push(page);
        match next {
            Some(token) => request.page_token = Some(token),
            None => return (events, pages),
        }
    }
}

fn sync_token_of(pages: &[EventsPage]) -> String {
    pages.last().unwrap().next_sync_token.clone().unwrap()
}

#[tokio::test]
async fn a_full_sync_follows_pages_and_only_the_last_page_has_a_sync_token() {
    let env = env().await;
    for i in 0..7 {
        env.google
            .create_event(HOST, timed(&format!("e{i}"), i + 1));
    }
    env.google.set_page_size(Some(3));
    let (events, pages) = list_all(&env, window()).await;
    assert_eq!(events.len(), 7);
    assert_eq!(
        pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
        [3, 3, 1]
    );
    for page in &pages[..2] {
        assert!(page.next_sync_token.is_none() && page.next_page_token.is_some());
    }
    assert!(pages[2].next_sync_token.is_some() && pages[2].next_page_token.is_none());
    assert_eq!(env.google.calls(Call::List), 3);
}

#[tokio::test]
async fn empty_pages_with_a_page_token_are_followed_to_the_end() {
    let env = env().await;
    for i in 0..5 {
        env.google
            .create_event(HOST, timed(&format!("e{i}"), i + 1));
    }
    env.google.set_page_size(Some(2));
    env.google.set_empty_pages(true);
    let (events, pages) = list_all(&env, window()).await;
    assert_eq!(events.len(), 5);
    assert!(
        pages
            .iter()
            .any(|p| p.items.is_empty() && p.next_page_token.is_some()),
        "the fake produced no empty page"
    );
    assert!(pages.last().unwrap().next_sync_token.is_some());
}

#[tokio::test]
async fn the_time_window_excludes_events_outside_it() {
    let env = env().await;
    env.google.create_event(HOST, timed("inside", 24));
    env.google.create_event(HOST, timed("too late", 24 * 200));
    env.google.create_event(HOST, timed("too early", -24 * 60));
    let (events, _) = list_all(&env, window()).await;
    let names: Vec<_> = events.iter().filter_map(|e| e.summary.clone()).collect();
    assert_eq!(names, ["inside"]);
}

#[tokio::test]
async fn an_incremental_sync_returns_only_changes_and_deletions_as_tombstones() {
    let env = env().await;
    let keep = env.google.create_event(HOST, timed("keep", 1));
    let edit = env.google.create_event(HOST, timed("edit", 2));
    let gone = env.google.create_event(HOST, timed("gone", 3));
    let (_, pages) = list_all(&env, window()).await;
    let token = sync_token_of(&pages);

    env.google.create_event(HOST, timed("new", 4));
    env.google
        .update_event(
            HOST,
            edit["id"].as_str().unwrap(),
            json!({"summary": "edited"}),
        )
        .unwrap();
    assert!(env.google.delete_event(HOST, gone["id"].as_str().unwrap()));

    let incremental = ListEvents {
        sync_token: Some(token),
        ..ListEvents::default()
    };
    let (changes, pages) = list_all(&env, incremental).await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(changes.iter().all(|e| e.id != keep["id"].as_str().unwrap()));
    let tombstone = changes
        .iter()
        .find(|e| e.id == gone["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(tombstone.status, Some(EventStatus::Cancelled));
    assert!(tombstone.start.is_none() && tombstone.summary.is_none());
    assert!(
        changes
            .iter()
            .any(|e| e.summary.as_deref() == Some("edited"))
    );

    let nothing = ListEvents {
        sync_token: Some(sync_token_of(&pages)),
        ..ListEvents::default()
    };
    let (changes, _) = list_all(&env, nothing).await;
    assert!(changes.is_empty());
}

#[tokio::test]
async fn an_expired_sync_token_answers_410_and_a_full_sync_recovers() {
    let env = env().await;
    env.google.create_event(HOST, timed("a", 1));
    let (_, pages) = list_all(&env, window()).await;
    let old = sync_token_of(&pages);
    env.google.expire_sync_tokens();
    let request = ListEvents {
        sync_token: Some(old),
        ..ListEvents::default()
    };
    let err = env
        .calendar
        .list_events(&env.token, "primary", &request)
        .await
        .unwrap_err();
    assert_eq!(err, GoogleError::SyncTokenExpired);
    assert_eq!(env.google.calls(Call::List), 2, "410 is not retried");

    let (events, pages) = list_all(&env, window()).await;
    assert_eq!(events.len(), 1);
    let fresh = ListEvents {
        sync_token: Some(sync_token_of(&pages)),
        ..ListEvents::default()
    };
    assert!(list_all(&env, fresh).await.0.is_empty());
}

#[tokio::test]
async fn recurring_events_arrive_as_instances_and_a_cancelled_instance_as_a_tombstone() {
    let env = env().await;
    let first = Timestamp::now() + SignedDuration::from_hours(24);
    let first = first.round(jiff::Unit::Second).unwrap();
    let series = env.google.create_event(
        HOST,
        json!({
            "summary": "standup",
            "start": {"dateTime": first.to_string(), "timeZone": "UTC"},
            "end": {"dateTime": (first + SignedDuration::from_mins(15)).to_string(), "timeZone": "UTC"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
        }),
    );
    let base = series["id"].as_str().unwrap();
    let (events, pages) = list_all(&env, window()).await;
    assert_eq!(events.len(), 3);
    let stamp = |t: Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
    for (i, e) in events.iter().enumerate() {
        let start = first + SignedDuration::from_hours(24 * i as i64);
        assert_eq!(e.id, format!("{base}_{}", stamp(start)));
        assert_eq!(e.recurring_event_id.as_deref(), Some(base));
        assert_eq!(
            e.original_start_time.as_ref().unwrap().date_time,
            Some(start)
        );
        assert_eq!(e.start.as_ref().unwrap().date_time, Some(start));
        assert!(e.recurrence.is_empty());
    }

    let second = events[1].id.clone();
    assert!(env.google.cancel_instance(HOST, base, &second));
    let incremental = ListEvents {
        sync_token: Some(sync_token_of(&pages)),
        ..ListEvents::default()
    };
    let (changes, _) = list_all(&env, incremental).await;
    let cancelled: Vec<_> = changes.iter().filter(|e| e.is_cancelled()).collect();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].id, second);
    assert_eq!(cancelled[0].recurring_event_id.as_deref(), Some(base));
}

#[tokio::test]
async fn all_day_and_transparent_events_keep_their_shape() {
    let env = env().await;
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let tomorrow = today.tomorrow().unwrap();
    env.google.create_event(
        HOST,
        json!({"summary": "holiday", "start": {"date": tomorrow.to_string()},
               "end": {"date": tomorrow.tomorrow().unwrap().to_string()}}),
    );
    let mut free = timed("free", 5);
    free["transparency"] = json!("transparent");
    env.google.create_event(HOST, free);
    let (events, _) = list_all(&env, window()).await;
    let holiday = events
        .iter()
        .find(|e| e.summary.as_deref() == Some("holiday"))
        .unwrap();
    assert!(holiday.is_all_day() && holiday.is_busy());
    assert_eq!(holiday.start.as_ref().unwrap().date, Some(tomorrow));
    let free = events
        .iter()
        .find(|e| e.summary.as_deref() == Some("free"))
        .unwrap();
    assert_eq!(free.transparency, Some(Transparency::Transparent));
    assert!(!free.is_busy());
}

fn booking_event(booking: uuid::Uuid) -> GoogleEvent {
    let start = at("2030-01-07T15:00:00Z");
    GoogleEvent {
        id: event_id_for("booking", booking),
        summary: Some("Call with Ada".into()),
        start: Some(EventDateTime::at(start)),
        end: Some(EventDateTime::at(start + SignedDuration::from_mins(30))),
        extended_properties: Some(ExtendedProperties {
            private: [("pillowBookingId".to_string(), booking.to_string())].into(),
            ..ExtendedProperties::default()
        }),
        ..GoogleEvent::default()
    }
}

#[tokio::test]
async fn inserting_the_same_deterministic_id_twice_is_a_duplicate_not_a_second_event() {
    let env = env().await;
    let booking = uuid::Uuid::new_v4();
    let event = booking_event(booking);
    let created = env
        .calendar
        .insert_event(&env.token, "primary", &event)
        .await
        .unwrap();
    assert_eq!(created.id, event.id);
    assert!(created.etag.is_some());
    let again = env
        .calendar
        .insert_event(&env.token, "primary", &event)
        .await
        .unwrap_err();
    assert_eq!(again, GoogleError::Duplicate);
    assert_eq!(env.google.events(HOST).len(), 1);

    let read = env
        .calendar
        .get_event(&env.token, "primary", &event.id)
        .await
        .unwrap();
    assert_eq!(
        read.private_property("pillowBookingId"),
        Some(booking.to_string().as_str())
    );
}

#[tokio::test]
async fn an_id_outside_googles_alphabet_is_rejected() {
    let env = env().await;
    let mut event = booking_event(uuid::Uuid::new_v4());
    event.id = "Booking-42".into();
    let err = env
        .calendar
        .insert_event(&env.token, "primary", &event)
        .await
        .unwrap_err();
    assert!(matches!(err, GoogleError::BadRequest(_)), "{err:?}");
}

#[tokio::test]
async fn a_patch_with_a_stale_etag_is_refused_with_412() {
    let env = env().await;
    let event = booking_event(uuid::Uuid::new_v4());
    let created = env
        .calendar
        .insert_event(&env.token, "primary", &event)
        .await
        .unwrap();
    let etag = created.etag.clone().unwrap();
    // The host edits the event in Google behind our back.
    env.google
        .update_event(HOST, &event.id, json!({"location": "Room 1"}))
        .unwrap();
    let patch = json!({"summary": "Rescheduled call"});
    let err = env
        .calendar
        .patch_event(&env.token, "primary", &event.id, Some(&etag), &patch)
        .await
        .unwrap_err();
    assert_eq!(err, GoogleError::PreconditionFailed);

    let fresh = env
        .calendar
        .get_event(&env.token, "primary", &event.id)
        .await
        .unwrap();
    assert_ne!(fresh.etag, created.etag, "every update changes the etag");
    let patched = env
        .calendar
        .patch_event(
            &env.token,
            "primary",
            &event.id,
            fresh.etag.as_deref(),
            &patch,
        )
        .await
        .unwrap();
    assert_eq!(patched.summary.as_deref(), Some("Rescheduled call"));
    assert_eq!(patched.location.as_deref(), Some("Room 1"));
    assert_ne!(patched.etag, fresh.etag);
}

#[tokio::test]
async fn deleting_twice_answers_gone_and_an_unknown_id_not_found() {
    let env = env().await;
    let event = booking_event(uuid::Uuid::new_v4());
    env.calendar
        .insert_event(&env.token, "primary", &event)
        .await
        .unwrap();
    env.calendar
        .delete_event(&env.token, "primary", &event.id)
        .await
        .unwrap();
    let again = env
        .calendar
        .delete_event(&env.token, "primary", &event.id)
        .await
        .unwrap_err();
    assert_eq!(again, GoogleError::Gone);
    let unknown = env
        .calendar
        .delete_event(&env.token, "primary", "abcdef12345")
        .await
        .unwrap_err();
    assert_eq!(unknown, GoogleError::NotFound);
    let read = env
        .calendar
        .get_event(&env.token, "primary", &event.id)
        .await
        .unwrap();
    assert!(read.is_cancelled());
}

#[tokio::test]
async fn rate_limits_and_outages_are_retried_until_they_pass() {
    for (status, reason) in [
        (429, "rateLimitExceeded"),
        (403, "rateLimitExceeded"),
        (403, "userRateLimitExceeded"),
        (500, "backendError"),
        (503, "backendError"),
    ] {
        let env = env().await;
        env.google.create_event(HOST, timed("a", 1));
        env.google.fail_next(3, status, reason);
        let page = env
            .calendar
            .list_events(&env.token, "primary", &window())
            .await
            .unwrap_or_else(|e| panic!("{status} {reason}: {e}"));
        assert_eq!(page.items.len(), 1);
        assert_eq!(env.google.calls(Call::List), 4, "{status} {reason}");
    }
}

#[tokio::test]
async fn retries_give_up_after_max_attempts_with_the_last_error() {
    let env = env().await;
    env.google.fail_next(4, 503, "backendError");
    let err = env
        .calendar
        .list_events(&env.token, "primary", &window())
        .await
        .unwrap_err();
    assert_eq!(err, GoogleError::Server(503));
    assert_eq!(env.google.calls(Call::List), 4);

    env.google.fail_next(4, 403, "rateLimitExceeded");
    let err = env
        .calendar
        .delete_event(&env.token, "primary", "abcdef12345")
        .await
        .unwrap_err();
    assert_eq!(err, GoogleError::RateLimited { retry_after: None });
    assert_eq!(env.google.calls(Call::Delete), 4);
}

#[tokio::test]
async fn a_forbidden_that_is_not_a_rate_limit_is_not_retried() {
    let env = env().await;
    env.google.fail_next(1, 403, "forbiddenForNonOrganizer");
    let err = env
        .calendar
        .get_event(&env.token, "primary", "abcdef12345")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        GoogleError::Forbidden("forbiddenForNonOrganizer".into())
    );
    assert_eq!(env.google.calls(Call::Get), 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let env = env().await;
    let calendar = GoogleCalendar::new(&endpoints(&env.google), reqwest::Client::new()).with_retry(
        RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(5),
        },
    );
    env.google.set_retry_after(Some(1));
    env.google.fail_next(1, 429, "rateLimitExceeded");
    let started = Instant::now();
    calendar
        .list_events(&env.token, "primary", &window())
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn when_google_is_down_calls_fail_and_work_again_when_it_is_back() {
    let env = env().await;
    env.google.set_down(true);
    let err = env
        .calendar
        .list_events(&env.token, "primary", &window())
        .await
        .unwrap_err();
    assert_eq!(err, GoogleError::Server(503));
    env.google.set_down(false);
    assert!(
        env.calendar
            .list_events(&env.token, "primary", &window())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_expired_access_token_is_unauthorized_and_not_retried() {
    let env = env().await;
    env.google.expire_access_tokens();
    let err = env
        .calendar
        .list_events(&env.token, "primary", &window())
        .await
        .unwrap_err();
    assert_eq!(err, GoogleError::Unauthorized);
    assert_eq!(env.google.calls(Call::List), 1);
}

#[tokio::test]
async fn another_users_calendar_is_not_found() {
    let env = env().await;
    env.google.add_user("other@example.com");
    let err = env
        .calendar
        .list_events(&env.token, "other@example.com", &window())
        .await
        .unwrap_err();
    assert_eq!(err, GoogleError::NotFound);
}

fn query_of(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn the_connect_flow_grants_offline_access_and_refresh_keeps_the_refresh_token() {
    let env = env().await;
    let (verifier, challenge) = pkce_pair();
    let url = env
        .oauth
        .authorization_url("state-123", &challenge, Some(HOST));

    // The consent page is served over HTTP; approving redirects back with code and state.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(CALENDAR_EVENTS_SCOPE));
    let approved = http
        .get(format!("{url}&approve={HOST}"))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 302);
    let location = approved.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT));
    let back = query_of(&location);
    assert_eq!(back["state"], "state-123");

    let grant = env
        .oauth
        .exchange_code(&back["code"], &verifier)
        .await
        .unwrap();
    assert!(grant.has_scope(CALENDAR_EVENTS_SCOPE));
    assert_eq!(grant.email.as_deref(), Some(HOST));
    assert!(grant.expires_in > 3000);
    let refresh = grant.refresh_token.clone().expect("offline access");
    let access = grant.access_token.expose_secret().to_owned();
    env.calendar
        .list_events(&access, "primary", &window())
        .await
        .unwrap();

    // Google's usual refresh answer has no refresh token: the old one stays valid.
    let refreshed = env.oauth.refresh(refresh.expose_secret()).await.unwrap();
    assert!(refreshed.refresh_token.is_none());
    let again = env.oauth.refresh(refresh.expose_secret()).await.unwrap();
    env.calendar
        .list_events(again.access_token.expose_secret(), "primary", &window())
        .await
        .unwrap();

    // Unless it rotates.
    env.google.rotate_refresh_tokens(true);
    let rotated = env.oauth.refresh(refresh.expose_secret()).await.unwrap();
    assert!(rotated.refresh_token.is_some());
}

#[tokio::test]
async fn a_code_with_the_wrong_verifier_or_used_twice_is_an_invalid_grant() {
    let env = env().await;
    let (verifier, challenge) = pkce_pair();
    let url = env.oauth.authorization_url("s", &challenge, None);
    let code = query_of(&env.google.approve(&url, HOST).unwrap())["code"].clone();
    let (wrong, _) = pkce_pair();
    assert_eq!(
        env.oauth.exchange_code(&code, &wrong).await.unwrap_err(),
        GoogleError::InvalidGrant
    );
    env.oauth.exchange_code(&code, &verifier).await.unwrap();
    assert_eq!(
        env.oauth.exchange_code(&code, &verifier).await.unwrap_err(),
        GoogleError::InvalidGrant
    );
}

#[tokio::test]
async fn a_wrong_client_secret_is_an_oauth_error_not_invalid_grant() {
    let env = env().await;
    let (verifier, challenge) = pkce_pair();
    let url = env.oauth.authorization_url("s", &challenge, None);
    let code = query_of(&env.google.approve(&url, HOST).unwrap())["code"].clone();
    let wrong = GoogleOAuth::new(
        CLIENT_ID.into(),
        "nope".to_string().into(),
        REDIRECT.into(),
        endpoints(&env.google),
        reqwest::Client::new(),
    );
    let err = wrong.exchange_code(&code, &verifier).await.unwrap_err();
    assert!(
        matches!(&err, GoogleError::OAuth { error, .. } if error == "invalid_client"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_revoked_grant_refreshes_with_invalid_grant() {
    let env = env().await;
    let (verifier, challenge) = pkce_pair();
    let url = env.oauth.authorization_url("s", &challenge, None);
    let code = query_of(&env.google.approve(&url, HOST).unwrap())["code"].clone();
    let grant = env.oauth.exchange_code(&code, &verifier).await.unwrap();
    let refresh = grant.refresh_token.unwrap();

    env.oauth.revoke(refresh.expose_secret()).await.unwrap();
    assert_eq!(
        env.oauth
            .refresh(refresh.expose_secret())
            .await
            .unwrap_err(),
        GoogleError::InvalidGrant
    );
    let err = env
        .calendar
        .list_events(grant.access_token.expose_secret(), "primary", &window())
        .await
        .unwrap_err();
    assert_eq!(err, GoogleError::Unauthorized, "revoking ends access too");
    assert!(matches!(
        env.oauth.revoke(refresh.expose_secret()).await,
        Err(GoogleError::OAuth { .. })
    ));
}

#[tokio::test]
async fn a_user_removing_access_in_google_makes_refresh_an_invalid_grant() {
    let env = env().await;
    let (verifier, challenge) = pkce_pair();
    let url = env.oauth.authorization_url("s", &challenge, None);
    let code = query_of(&env.google.approve(&url, HOST).unwrap())["code"].clone();
    let grant = env.oauth.exchange_code(&code, &verifier).await.unwrap();
    env.google.revoke_user_grants(HOST);
    assert_eq!(
        env.oauth
            .refresh(grant.refresh_token.unwrap().expose_secret())
            .await
            .unwrap_err(),
        GoogleError::InvalidGrant
    );
}

#[tokio::test]
async fn a_user_who_unticks_the_calendar_scope_gets_a_grant_without_it() {
    let env = env().await;
    let (verifier, challenge) = pkce_pair();
    let url = env.oauth.authorization_url("s", &challenge, None);
    let redirect = env
        .google
        .approve_with_scopes(&url, HOST, &["openid", "email"])
        .unwrap();
    let code = query_of(&redirect)["code"].clone();
    let grant = env.oauth.exchange_code(&code, &verifier).await.unwrap();
    assert!(!grant.has_scope(CALENDAR_EVENTS_SCOPE));
    let err = env
        .calendar
        .list_events(grant.access_token.expose_secret(), "primary", &window())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        GoogleError::Forbidden("insufficientPermissions".into())
    );
}

#[tokio::test]
async fn the_consent_page_refuses_an_unregistered_redirect_uri() {
    let env = env().await;
    let other = GoogleOAuth::new(
        CLIENT_ID.into(),
        CLIENT_SECRET.to_string().into(),
        "https://evil.example/cb".into(),
        endpoints(&env.google),
        reqwest::Client::new(),
    );
    let (_, challenge) = pkce_pair();
    let url = other.authorization_url("s", &challenge, None);
    let err = env.google.approve(&url, HOST).unwrap_err();
    assert!(err.contains("redirect_uri_mismatch"));
    let status = reqwest::get(&url).await.unwrap().status();
    assert_eq!(status, 400);
}

/// A tiny webhook receiver: every request's headers and body.
async fn webhook() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(HashMap<String, String>, Vec<u8>)>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let headers = headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                        .collect();
                    let _ = tx.send((headers, body.to_vec()));
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), rx)
}

async fn next_notification(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(HashMap<String, String>, Vec<u8>)>,
) -> (HashMap<String, String>, Vec<u8>) {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("no notification within 5 s")
        .unwrap()
}

#[tokio::test]
async fn a_watch_channel_notifies_sync_then_every_change_with_an_empty_body() {
    let env = env().await;
    let (address, mut rx) = webhook().await;
    let request = WatchRequest {
        id: uuid::Uuid::new_v4().to_string(),
        address,
        token: "channel-secret".into(),
        ttl_seconds: Some(3600),
    };
    let channel = env
        .calendar
        .watch(&env.token, "primary", &request)
        .await
        .unwrap();
    assert_eq!(channel.id, request.id);
    let ttl = channel.expiration.as_second() - Timestamp::now().as_second();
    assert!((3500..=3600).contains(&ttl), "ttl {ttl}");

    let (headers, body) = next_notification(&mut rx).await;
    assert!(body.is_empty());
    assert_eq!(headers["x-goog-resource-state"], "sync");
    assert_eq!(headers["x-goog-message-number"], "1");
    assert_eq!(headers["x-goog-channel-id"], request.id);
    assert_eq!(headers["x-goog-channel-token"], "channel-secret");
    assert_eq!(headers["x-goog-resource-id"], channel.resource_id);
    assert!(headers.contains_key("x-goog-channel-expiration"));
    assert!(headers["x-goog-resource-uri"].contains("/events"));

    env.google.create_event(HOST, timed("a", 1));
    let (headers, body) = next_notification(&mut rx).await;
    assert!(body.is_empty());
    assert_eq!(headers["x-goog-resource-state"], "exists");
    assert_eq!(headers["x-goog-message-number"], "2");

    env.calendar
        .stop_channel(&env.token, &channel.id, &channel.resource_id)
        .await
        .unwrap();
    env.google.create_event(HOST, timed("b", 2));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err(),
        "a stopped channel sends nothing"
    );
    assert_eq!(
        env.calendar
            .stop_channel(&env.token, &channel.id, &channel.resource_id)
            .await
            .unwrap_err(),
        GoogleError::NotFound
    );
}

#[tokio::test]
async fn a_channel_id_cannot_be_reused_while_open() {
    let env = env().await;
    let (address, _rx) = webhook().await;
    let request = WatchRequest {
        id: "channel-1".into(),
        address,
        token: "t".into(),
        ttl_seconds: None,
    };
    env.calendar
        .watch(&env.token, "primary", &request)
        .await
        .unwrap();
    let err = env
        .calendar
        .watch(&env.token, "primary", &request)
        .await
        .unwrap_err();
    assert!(matches!(err, GoogleError::BadRequest(_)), "{err:?}");
}

#[tokio::test]
async fn a_deleted_series_and_a_moved_event_sync_as_tombstones() {
    let env = env().await;
    env.google.add_user("other@example.com");
    let first = (Timestamp::now() + SignedDuration::from_hours(48))
        .round(jiff::Unit::Second)
        .unwrap();
    let series = env.google.create_event(
        HOST,
        json!({
            "summary": "weekly",
            "start": {"dateTime": first.to_string()},
            "end": {"dateTime": (first + SignedDuration::from_mins(30)).to_string()},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=2"],
        }),
    );
    let moved = env.google.create_event(HOST, timed("moving", 3));
    let (events, pages) = list_all(&env, window()).await;
    assert_eq!(events.len(), 3);

    assert!(
        env.google
            .delete_event(HOST, series["id"].as_str().unwrap())
    );
    let moved_id = moved["id"].as_str().unwrap();
    assert!(env.google.move_event(HOST, moved_id, "other@example.com"));
    let incremental = ListEvents {
        sync_token: Some(sync_token_of(&pages)),
        ..ListEvents::default()
    };
    let (changes, _) = list_all(&env, incremental).await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(changes.iter().all(GoogleEvent::is_cancelled));
    let mut ids: Vec<_> = changes.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    let mut expected: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    expected.sort();
    assert_eq!(
        ids, expected,
        "every instance and the moved event are tombstones"
    );
    assert_eq!(env.google.events("other@example.com").len(), 1);
}

#[tokio::test]
async fn a_sync_token_cannot_be_combined_with_a_time_window() {
    let env = env().await;
    let (_, pages) = list_all(&env, window()).await;
    let request = ListEvents {
        sync_token: Some(sync_token_of(&pages)),
        ..window()
    };
    let err = env
        .calendar
        .list_events(&env.token, "primary", &request)
        .await
        .unwrap_err();
    assert!(matches!(err, GoogleError::BadRequest(_)), "{err:?}");
}
