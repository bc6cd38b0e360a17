//! The real Microsoft Graph client against `FakeMicrosoft`, over HTTP on loopback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::{SignedDuration, Timestamp};
use pillow_fakes::microsoft::{Call, FakeMicrosoft};
use pillow_providers::google::{RetryPolicy, pkce_pair};
use pillow_providers::microsoft::notifications::{
    NotificationBatch, VALIDATION_TOKEN_PARAM, client_state_matches,
};
use pillow_providers::microsoft::{
    GraphCalendar, GraphError, MicrosoftEndpoints, MicrosoftOAuth, NewEvent, ShowAs,
    SubscriptionRequest, transaction_id_for,
};
use secrecy::ExposeSecret;
use serde_json::json;

const HOST: &str = "host@contoso.com";
const CLIENT_ID: &str = "0d5f6c1a-2b3c-4d5e-8f90-123456789abc";
const CLIENT_SECRET: &str = "client~secret";
const REDIRECT: &str = "http://localhost:3000/api/calendar/microsoft/callback";

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn endpoints(ms: &FakeMicrosoft) -> MicrosoftEndpoints {
    MicrosoftEndpoints {
        login_base: ms.login_base(),
        tenant: "common".into(),
        graph_base: ms.graph_base(),
    }
}

struct Env {
    ms: FakeMicrosoft,
    graph: GraphCalendar,
    token: String,
}

async fn env() -> Env {
    let ms = FakeMicrosoft::start().await;
    ms.add_user(HOST);
    ms.register_client(CLIENT_ID, CLIENT_SECRET, REDIRECT);
    let graph =
        GraphCalendar::new(&endpoints(&ms), reqwest::Client::new()).with_retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(5),
        });
    let token = ms.issue_access_token(HOST);
    Env { ms, graph, token }
}

fn outlook_event(subject: &str, start: &str, end: &str) -> serde_json::Value {
    json!({
        "subject": subject,
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
    })
}

const FROM: &str = "2026-03-01T00:00:00Z";
const TO: &str = "2026-04-01T00:00:00Z";

#[tokio::test]
async fn the_code_flow_with_pkce_gives_tokens_and_a_revoked_grant_is_invalid_grant() {
    let env = env().await;
    let oauth = MicrosoftOAuth::new(
        CLIENT_ID.into(),
        CLIENT_SECRET.to_string().into(),
        REDIRECT.into(),
        endpoints(&env.ms),
        reqwest::Client::new(),
    );
    let (verifier, challenge) = pkce_pair();
    let url = oauth.authorization_url("st4te", &challenge);
    assert!(url.starts_with(&format!(
        "{}/common/oauth2/v2.0/authorize?",
        env.ms.login_base()
    )));
    assert!(url.contains("offline_access"));
    // The user signs in and accepts; the fake redirects back with the code.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_redirects
        .get(format!("{url}&approve={HOST}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    let back = reqwest::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let q: HashMap<String, String> = back.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st4te");

    // A wrong verifier is refused; the right one gets tokens, once.
    assert_eq!(
        oauth
            .exchange_code(&q["code"], "not-the-verifier")
            .await
            .unwrap_err(),
        GraphError::InvalidGrant
    );
    let grant = oauth.exchange_code(&q["code"], &verifier).await.unwrap();
    assert!(grant.scopes.iter().any(|s| s == "Calendars.ReadWrite"));
    let refresh = grant
        .refresh_token
        .clone()
        .expect("offline_access gives a refresh token");
    assert_eq!(
        oauth
            .exchange_code(&q["code"], &verifier)
            .await
            .unwrap_err(),
        GraphError::InvalidGrant,
        "a code is used once"
    );

    // Refresh rotates the refresh token, and the new access token works.
    let refreshed = oauth.refresh(&refresh).await.unwrap();
    let rotated = refreshed.refresh_token.clone().unwrap();
    assert_ne!(rotated.expose_secret(), refresh.expose_secret());
    let graph = GraphCalendar::new(&endpoints(&env.ms), reqwest::Client::new());
    graph
        .delta(
            refreshed.access_token.expose_secret(),
            None,
            ts(FROM),
            ts(TO),
        )
        .await
        .unwrap();

    // The user removes the app: refreshing is invalid_grant (the connection needs reauth).
    env.ms.revoke_grants(HOST);
    assert_eq!(
        oauth.refresh(&rotated).await.unwrap_err(),
        GraphError::InvalidGrant
    );
}

#[tokio::test]
async fn an_expired_access_token_is_unauthorized() {
    let env = env().await;
    env.ms.expire_access_tokens(HOST);
    assert_eq!(
        env.graph
            .delta(&env.token, None, ts(FROM), ts(TO))
            .await
            .unwrap_err(),
        GraphError::Unauthorized
    );
}

#[tokio::test]
async fn a_full_delta_round_follows_every_page_including_empty_ones() {
    let env = env().await;
    for day in 1..=7 {
        env.ms.create_event(
            HOST,
            outlook_event(
                &format!("e{day}"),
                &format!("2026-03-{day:02}T09:00:00"),
                &format!("2026-03-{day:02}T10:00:00"),
            ),
        );
    }
    env.ms.create_event(
        HOST,
        outlook_event("outside", "2026-05-01T09:00:00", "2026-05-01T10:00:00"),
    );
    env.ms.set_page_size(3);
    env.ms.set_empty_pages(true);

    let round = env
        .graph
        .delta(&env.token, None, ts(FROM), ts(TO))
        .await
        .unwrap();
    assert!(round.full);
    assert_eq!(
        round.changed.len(),
        7,
        "the event outside the window is not in the view"
    );
    // 3 + 3 + 1 events, with an empty page before each later page.
    assert_eq!(round.pages, 5);
    assert_eq!(env.ms.count(Call::Delta), 5);
    assert!(round.delta_link.contains("$deltatoken="));
    let first = round
        .changed
        .iter()
        .find(|e| e.subject.as_deref() == Some("e1"))
        .unwrap();
    assert_eq!(
        first.start.as_ref().unwrap().instant(),
        Some(ts("2026-03-01T09:00:00Z"))
    );
    assert!(first.is_busy());
}

#[tokio::test]
async fn an_incremental_round_sees_changes_moves_out_of_the_window_and_removals() {
    let env = env().await;
    let stays = env.ms.create_event(
        HOST,
        outlook_event("stays", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
    );
    let moved = env.ms.create_event(
        HOST,
        outlook_event("moved", "2026-03-03T09:00:00", "2026-03-03T10:00:00"),
    );
    let leaves = env.ms.create_event(
        HOST,
        outlook_event("leaves", "2026-03-04T09:00:00", "2026-03-04T10:00:00"),
    );
    let deleted = env.ms.create_event(
        HOST,
        outlook_event("deleted", "2026-03-05T09:00:00", "2026-03-05T10:00:00"),
    );
    let first = env
        .graph
        .delta(&env.token, None, ts(FROM), ts(TO))
        .await
        .unwrap();

    env.ms.update_event(HOST, &moved, json!({"start": {"dateTime": "2026-03-10T14:00:00", "timeZone": "UTC"},
                                             "end": {"dateTime": "2026-03-10T15:00:00", "timeZone": "UTC"},
                                             "showAs": "free"}));
    env.ms.update_event(HOST, &leaves, json!({"start": {"dateTime": "2026-06-01T09:00:00", "timeZone": "UTC"},
                                              "end": {"dateTime": "2026-06-01T10:00:00", "timeZone": "UTC"}}));
    env.ms.delete_event(HOST, &deleted);
    env.ms.create_event(
        HOST,
        outlook_event("new", "2026-03-20T09:00:00", "2026-03-20T10:00:00"),
    );

    let next = env
        .graph
        .delta(&env.token, Some(&first.delta_link), ts(FROM), ts(TO))
        .await
        .unwrap();
    assert!(!next.full);
    let mut subjects: Vec<_> = next
        .changed
        .iter()
        .filter_map(|e| e.subject.clone())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["moved", "new"]);
    let m = next.changed.iter().find(|e| e.id == moved).unwrap();
    assert_eq!(m.show_as, Some(ShowAs::Free));
    assert!(!m.is_busy());
    let mut removed = next.removed.clone();
    removed.sort();
    let mut expected = vec![leaves, deleted];
    expected.sort();
    assert_eq!(removed, expected, "deleted, or moved out of the view");
    assert!(!next.changed.iter().any(|e| e.id == stays));
}

#[tokio::test]
async fn an_expired_delta_token_leads_to_a_full_resync() {
    let env = env().await;
    env.ms.create_event(
        HOST,
        outlook_event("a", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
    );
    let first = env
        .graph
        .delta(&env.token, None, ts(FROM), ts(TO))
        .await
        .unwrap();
    env.ms.create_event(
        HOST,
        outlook_event("b", "2026-03-03T09:00:00", "2026-03-03T10:00:00"),
    );
    env.ms.expire_delta_tokens();

    let round = env
        .graph
        .delta(&env.token, Some(&first.delta_link), ts(FROM), ts(TO))
        .await
        .unwrap();
    assert!(round.full, "the caller must replace what it had");
    assert_eq!(round.changed.len(), 2);
    let again = env
        .graph
        .delta(&env.token, Some(&round.delta_link), ts(FROM), ts(TO))
        .await
        .unwrap();
    assert!(!again.full && again.changed.is_empty());
}

fn booking(id: uuid::Uuid) -> NewEvent {
    NewEvent {
        booking_id: id,
        subject: "Call with Sam".into(),
        body: Some("Booked with Pillow".into()),
        start: ts("2026-03-10T15:00:00Z"),
        end: ts("2026-03-10T15:30:00Z"),
    }
}

#[tokio::test]
async fn a_retried_create_with_the_same_transaction_id_returns_the_same_event() {
    let env = env().await;
    let id = uuid::Uuid::new_v4();
    let first = env
        .graph
        .create_event(&env.token, &booking(id))
        .await
        .unwrap();
    let retry = env
        .graph
        .create_event(&env.token, &booking(id))
        .await
        .unwrap();
    assert_eq!(first.id, retry.id);
    assert_eq!(env.ms.events(HOST).len(), 1);
    assert_eq!(
        first.transaction_id.as_deref(),
        Some(transaction_id_for(id).as_str())
    );

    let read = env.graph.get_event(&env.token, &first.id).await.unwrap();
    assert_eq!(
        read.booking_id(),
        Some(id.to_string().as_str()),
        "our property names the booking"
    );
    assert_eq!(
        read.start.unwrap().instant(),
        Some(ts("2026-03-10T15:00:00Z"))
    );
    // Another booking is another event.
    env.graph
        .create_event(&env.token, &booking(uuid::Uuid::new_v4()))
        .await
        .unwrap();
    assert_eq!(env.ms.events(HOST).len(), 2);
}

#[tokio::test]
async fn an_update_or_delete_with_a_stale_etag_gets_412_and_changes_nothing() {
    let env = env().await;
    let created = env
        .graph
        .create_event(&env.token, &booking(uuid::Uuid::new_v4()))
        .await
        .unwrap();
    let old = created.etag.clone().unwrap();
    // The host moves it in Outlook.
    env.ms
        .update_event(HOST, &created.id, json!({"subject": "Moved by host"}));

    let patch = json!({"subject": "Ours"});
    assert_eq!(
        env.graph
            .update_event(&env.token, &created.id, &old, &patch)
            .await
            .unwrap_err(),
        GraphError::PreconditionFailed
    );
    assert_eq!(
        env.graph
            .delete_event(&env.token, &created.id, &old)
            .await
            .unwrap_err(),
        GraphError::PreconditionFailed
    );
    let now = env.graph.get_event(&env.token, &created.id).await.unwrap();
    assert_eq!(now.subject.as_deref(), Some("Moved by host"));

    let updated = env
        .graph
        .update_event(
            &env.token,
            &created.id,
            now.etag.as_deref().unwrap(),
            &patch,
        )
        .await
        .unwrap();
    assert_eq!(updated.subject.as_deref(), Some("Ours"));
    env.graph
        .delete_event(&env.token, &created.id, updated.etag.as_deref().unwrap())
        .await
        .unwrap();
    assert!(env.ms.events(HOST).is_empty());
    assert_eq!(
        env.graph
            .get_event(&env.token, &created.id)
            .await
            .unwrap_err(),
        GraphError::NotFound
    );
}

#[tokio::test]
async fn throttling_waits_for_retry_after_then_succeeds() {
    let env = env().await;
    env.ms.fail_next(429, Some(1));
    env.ms.fail_next(503, Some(1));
    let started = Instant::now();
    env.graph
        .delta(&env.token, None, ts(FROM), ts(TO))
        .await
        .unwrap();
    let times = env.ms.request_times(Call::Delta);
    assert_eq!(times.len(), 3);
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(990),
            "each retry waited for Retry-After: {:?}",
            pair[1] - pair[0]
        );
    }
    assert!(started.elapsed() >= Duration::from_secs(2));

    // Past the policy's attempts the throttling reaches the caller, with its Retry-After.
    for _ in 0..3 {
        env.ms.fail_next(429, Some(0));
    }
    assert_eq!(
        env.graph
            .delta(&env.token, None, ts(FROM), ts(TO))
            .await
            .unwrap_err(),
        GraphError::Throttled {
            status: 429,
            retry_after: Some(Duration::ZERO)
        }
    );
}

/// Our side of the webhook, as the server will mount it: echo the validation token, check
/// the clientState in constant time, keep what was accepted.
#[derive(Clone, Default)]
struct Webhook {
    secret: String,
    accepted: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<usize>>,
    echo: bool,
}

async fn webhook(
    State(hook): State<Webhook>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> axum::response::Response {
    if let Some(token) = q.get(VALIDATION_TOKEN_PARAM) {
        if !hook.echo {
            return (StatusCode::OK, "nope").into_response();
        }
        return (
            StatusCode::OK,
            [("content-type", "text/plain")],
            token.clone(),
        )
            .into_response();
    }
    let Ok(batch) = serde_json::from_str::<NotificationBatch>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    for n in batch.value {
        if client_state_matches(&hook.secret, n.client_state.as_deref()) {
            let what = n.change_type.or(n.lifecycle_event).unwrap_or_default();
            hook.accepted.lock().unwrap().push(what);
        } else {
            *hook.refused.lock().unwrap() += 1;
        }
    }
    StatusCode::ACCEPTED.into_response()
}

async fn serve_webhook(hook: Webhook) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/microsoft", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/hooks/microsoft", axum::routing::post(webhook))
        .with_state(hook);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

async fn eventually(mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn subscriptions_validate_the_webhook_notify_with_client_state_and_renew_and_delete() {
    let env = env().await;
    let hook = Webhook {
        secret: "cl1ent-state".into(),
        echo: true,
        ..Webhook::default()
    };
    let url = serve_webhook(hook.clone()).await;
    let request = SubscriptionRequest {
        notification_url: url.clone(),
        lifecycle_notification_url: Some(url.clone()),
        resource: "me/events".into(),
        expiration: Timestamp::now() + SignedDuration::from_hours(48),
        client_state: hook.secret.clone(),
    };
    let sub = env
        .graph
        .create_subscription(&env.token, &request)
        .await
        .unwrap();
    assert_eq!(sub.resource, "me/events");
    assert_eq!(sub.client_state.as_deref(), Some("cl1ent-state"));

    // A change in Outlook is notified, and our webhook accepts it.
    env.ms.create_event(
        HOST,
        outlook_event("a", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
    );
    eventually(|| hook.accepted.lock().unwrap().len() == 1).await;
    assert_eq!(hook.accepted.lock().unwrap()[0], "created");
    // A forged notification (wrong clientState) is refused.
    env.ms.send_forged(&sub.id, "guess");
    eventually(|| *hook.refused.lock().unwrap() == 1).await;
    // A lifecycle notification arrives with the clientState too.
    env.ms.send_lifecycle(&sub.id, "reauthorizationRequired");
    eventually(|| hook.accepted.lock().unwrap().len() == 2).await;
    assert_eq!(hook.accepted.lock().unwrap()[1], "reauthorizationRequired");
    assert!(env.ms.deliveries().iter().all(|d| d.status == Some(202)));

    // Renewal moves the expiry; more than 10,080 minutes is refused.
    let later = Timestamp::now() + SignedDuration::from_hours(100);
    let renewed = env
        .graph
        .renew_subscription(&env.token, &sub.id, later)
        .await
        .unwrap();
    assert_eq!(renewed.expiration_date_time, later);
    let too_far = Timestamp::now() + SignedDuration::from_hours(24 * 8);
    assert!(matches!(
        env.graph
            .renew_subscription(&env.token, &sub.id, too_far)
            .await,
        Err(GraphError::BadRequest { .. })
    ));
    env.graph
        .delete_subscription(&env.token, &sub.id)
        .await
        .unwrap();
    assert!(env.ms.subscriptions().is_empty());
    assert_eq!(
        env.graph
            .delete_subscription(&env.token, &sub.id)
            .await
            .unwrap_err(),
        GraphError::NotFound
    );
}

#[tokio::test]
async fn a_webhook_that_does_not_echo_the_validation_token_gets_no_subscription() {
    let env = env().await;
    let hook = Webhook {
        echo: false,
        ..Webhook::default()
    };
    let url = serve_webhook(hook).await;
    let request = SubscriptionRequest {
        notification_url: url,
        lifecycle_notification_url: None,
        resource: "me/events".into(),
        expiration: Timestamp::now() + SignedDuration::from_hours(1),
        client_state: "x".into(),
    };
    assert!(matches!(
        env.graph.create_subscription(&env.token, &request).await,
        Err(GraphError::BadRequest { .. })
    ));
    assert!(env.ms.subscriptions().is_empty());
    assert_eq!(env.ms.count(Call::CreateSubscription), 1);
}
