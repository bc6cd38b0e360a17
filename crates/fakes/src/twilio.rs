//! A fake of Twilio's Programmable Messaging REST API (`/2010-04-01/Accounts/{sid}/Messages`).
//!
//! Built from Twilio's public reference: the same paths, HTTP Basic auth with the account SID
//! and auth token, form-encoded requests (`To`, `From` or `MessagingServiceSid`, `Body`,
//! `StatusCallback`), the message resource it answers (`sid` `SM…`, `status` `queued` or
//! `accepted`, RFC 2822 dates), and its error body `{"code","message","more_info","status"}`
//! with the documented codes our client meets:
//! - `20003` (401) wrong credentials, `20404` (404) another account's path;
//! - `21211` (400) a `To` that is not a valid phone number (we check E.164);
//! - `21610` (400) a recipient who replied STOP to the sender (Twilio keeps the opt-out list);
//! - `21602`/`21603`/`21604` (400) a missing `Body`, sender or `To`;
//! - `20429` (429) too many requests, injected with [`FakeTwilio::fail_next`].
//!
//! It is stateful: messages are kept and can be fetched; each one with a `StatusCallback` is
//! followed by signed status callbacks (`sent`, then `delivered`), as Twilio posts them. An
//! inbound message (a person replying, e.g. "STOP") is posted to a webhook with
//! [`FakeTwilio::reply`], signed with `X-Twilio-Signature` like Twilio's, and a STOP adds the
//! sender to the opt-out list, as Twilio's default opt-out handling does.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

mod signature;

pub use signature::signature;

/// The words Twilio's default opt-out handling reads as STOP, and as START again.
const STOP_WORDS: [&str; 6] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
const START_WORDS: [&str; 3] = ["START", "UNSTOP", "YES"];

/// A message as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMessage {
    pub sid: String,
    pub to: String,
    /// The `From` given, or `None` when sent through a messaging service.
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    /// `queued` / `accepted`, then `sent`, `delivered` as callbacks go out.
    pub status: String,
    pub status_callback: Option<String>,
}

/// A status callback posted: the URL, its form parameters, and the status it was answered.
pub type Callback = (String, Vec<(String, String)>, u16);

/// A request to the Messages endpoint as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// The form fields in the order sent.
    pub form: Vec<(String, String)>,
}

#[derive(Default)]
struct Inner {
    messages: Vec<FakeMessage>,
    requests: Vec<RecordedRequest>,
    opted_out: BTreeSet<String>,
    /// Statuses to answer the next create requests with, before any checks.
    failures: VecDeque<u16>,
    /// Status callbacks posted: (url, params, answer status).
    callbacks: Vec<Callback>,
}

struct Account {
    sid: String,
    token: String,
    inner: Mutex<Inner>,
}

type Shared = Arc<Account>;

pub struct FakeTwilio {
    base_url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(state: &Account) -> MutexGuard<'_, Inner> {
    state.inner.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeTwilio {
    /// Serves one account on a loopback port.
    pub async fn start(account_sid: &str, auth_token: &str) -> FakeTwilio {
        let state: Shared = Arc::new(Account {
            sid: account_sid.to_string(),
            token: auth_token.to_string(),
            inner: Mutex::default(),
        });
        let app = Router::new()
            .route("/2010-04-01/Accounts/{account}/Messages.json", post(create))
            .route("/2010-04-01/Accounts/{account}/Messages/{file}", get(fetch))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind a loopback port for the Twilio fake");
        let address = listener.local_addr().expect("a bound address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTwilio {
            base_url: format!("http://{address}"),
            state,
            server,
        }
    }

    /// `TWILIO_API_BASE_URL`: `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Every message accepted, oldest first.
    pub fn messages(&self) -> Vec<FakeMessage> {
        lock(&self.state).messages.clone()
    }

    /// Every request to the Messages endpoint, accepted or not.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// The status callbacks posted so far: URL, parameters, and the answer's status.
    pub fn callbacks(&self) -> Vec<Callback> {
        lock(&self.state).callbacks.clone()
    }

    /// Answers the next create request with `status` (429 rate limit, 500, 503).
    pub fn fail_next(&self, status: u16) {
        lock(&self.state).failures.push_back(status);
    }

    /// Whether Twilio holds `phone` as opted out of this account's texts.
    pub fn is_opted_out(&self, phone: &str) -> bool {
        lock(&self.state).opted_out.contains(phone)
    }

    /// A person at `from` texts `body` to our number `to`: Twilio posts the inbound message to
    /// `webhook_url`, signed; a STOP word also opts `from` out (START opts back in). Answers
    /// the webhook's status.
    pub async fn reply(&self, webhook_url: &str, from: &str, to: &str, body: &str) -> u16 {
        let word = body.trim().to_ascii_uppercase();
        let mut params = vec![
            ("MessageSid".to_string(), new_sid("SM")),
            ("SmsSid".to_string(), String::new()),
            ("AccountSid".to_string(), self.state.sid.clone()),
            ("From".to_string(), from.to_string()),
            ("To".to_string(), to.to_string()),
            ("Body".to_string(), body.to_string()),
            ("NumMedia".to_string(), "0".to_string()),
            ("NumSegments".to_string(), "1".to_string()),
            ("ApiVersion".to_string(), "2010-04-01".to_string()),
        ];
        params[1].1 = params[0].1.clone();
        if STOP_WORDS.contains(&word.as_str()) {
            lock(&self.state).opted_out.insert(from.to_string());
            params.push(("OptOutType".to_string(), "STOP".to_string()));
        } else if START_WORDS.contains(&word.as_str()) {
            lock(&self.state).opted_out.remove(from);
            params.push(("OptOutType".to_string(), "START".to_string()));
        }
        post_signed(&self.state.token, webhook_url, &params).await
    }
}

/// Posts a form signed as Twilio signs its webhooks; answers the status (0 if unreachable).
async fn post_signed(token: &str, url: &str, params: &[(String, String)]) -> u16 {
    let signed = signature(token, url, params);
    reqwest::Client::new()
        .post(url)
        .header("X-Twilio-Signature", signed)
        .form(params)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// Twilio's error body.
fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

/// Whether the Basic credentials are the account's.
fn authorized(account: &Account, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    decoded == format!("{}:{}", account.sid, account.token).as_bytes()
}

/// E.164: a `+`, a non-zero digit, at most 15 digits in all.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// What Twilio accepts as a `To`: E.164, and in the North American plan (`+1`) ten digits
/// whose area code does not start with 0 or 1.
fn is_valid_number(number: &str) -> bool {
    is_e164(number)
        && number.strip_prefix("+1").is_none_or(|national| {
            national.len() == 10 && !national.starts_with('0') && !national.starts_with('1')
        })
}

fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// RFC 2822 in GMT, as Twilio writes its dates.
fn rfc2822_now() -> String {
    jiff::Timestamp::now()
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

fn resource(account: &str, message: &FakeMessage, created: &str) -> Value {
    json!({
        "sid": message.sid,
        "account_sid": account,
        "messaging_service_sid": message.messaging_service_sid,
        "to": message.to,
        "from": message.from,
        "body": message.body,
        "status": message.status,
        "num_segments": if message.from.is_some() { "1" } else { "0" },
        "num_media": "0",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "price": null,
        "price_unit": "USD",
        "error_code": null,
        "error_message": null,
        "date_created": created,
        "date_updated": created,
        "date_sent": null,
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{}.json", message.sid),
        "subresource_uris": {
            "media": format!("/2010-04-01/Accounts/{account}/Messages/{}/Media.json", message.sid),
        },
    })
}

async fn create(
    State(account): State<Shared>,
    Path(path_account): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let request = RecordedRequest {
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        form: form.clone(),
    };
    let failure = {
        let mut inner = lock(&account);
        inner.requests.push(request);
        inner.failures.pop_front()
    };
    if let Some(status) = failure {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return if status == StatusCode::TOO_MANY_REQUESTS {
            error(status, 20429, "Too Many Requests")
        } else {
            error(status, 20500, "Internal Server Error")
        };
    }
    if !authorized(&account, &headers) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    if path_account != account.sid {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            &format!(
                "The requested resource /2010-04-01/Accounts/{path_account}/Messages.json was not found"
            ),
        );
    }
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_empty())
    };
    let Some(to) = field("To") else {
        return error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        );
    };
    let from = field("From");
    let service = field("MessagingServiceSid");
    if from.is_none() && service.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number is required.",
        );
    }
    let Some(body) = field("Body") else {
        return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    };
    if !is_valid_number(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            21211,
            &format!("Invalid 'To' Phone Number: {to}"),
        );
    }
    if lock(&account).opted_out.contains(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            21610,
            "Attempt to send to unsubscribed recipient",
        );
    }
    let message = FakeMessage {
        sid: new_sid("SM"),
        to,
        // Through a messaging service, Twilio picks the sender later.
        status: if from.is_some() { "queued" } else { "accepted" }.to_string(),
        from,
        messaging_service_sid: service,
        body,
        status_callback: field("StatusCallback"),
    };
    lock(&account).messages.push(message.clone());
    let answer = resource(&account.sid, &message, &rfc2822_now());
    if let Some(url) = message.status_callback.clone() {
        tokio::spawn(status_callbacks(account.clone(), message, url));
    }
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// Posts `sent` then `delivered` for `message`, as Twilio does when the carrier reports.
async fn status_callbacks(account: Shared, message: FakeMessage, url: String) {
    for status in ["sent", "delivered"] {
        let params = vec![
            ("AccountSid".to_string(), account.sid.clone()),
            ("ApiVersion".to_string(), "2010-04-01".to_string()),
            (
                "From".to_string(),
                message
                    .from
                    .clone()
                    .unwrap_or_else(|| "+15005550006".into()),
            ),
            ("MessageSid".to_string(), message.sid.clone()),
            ("MessageStatus".to_string(), status.to_string()),
            ("SmsSid".to_string(), message.sid.clone()),
            ("SmsStatus".to_string(), status.to_string()),
            ("To".to_string(), message.to.clone()),
        ];
        let answer = post_signed(&account.token, &url, &params).await;
        let mut inner = lock(&account);
        if let Some(kept) = inner.messages.iter_mut().find(|m| m.sid == message.sid) {
            kept.status = status.to_string();
        }
        inner.callbacks.push((url.clone(), params, answer));
    }
}

async fn fetch(
    State(account): State<Shared>,
    Path((path_account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&account, &headers) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let sid = file.trim_end_matches(".json");
    let found = lock(&account)
        .messages
        .iter()
        .find(|m| m.sid == sid)
        .cloned();
    match found {
        Some(message) if path_account == account.sid => (
            StatusCode::OK,
            Json(resource(&account.sid, &message, &rfc2822_now())),
        )
            .into_response(),
        _ => error(
            StatusCode::NOT_FOUND,
            20404,
            &format!(
                "The requested resource /2010-04-01/Accounts/{path_account}/Messages/{file} was not found"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_are_told_from_others() {
        assert!(is_e164("+15555550123"));
        assert!(is_e164("+447700900123"));
        assert!(!is_e164("5555550123"));
        assert!(!is_e164("+1 555 555 0123"));
        assert!(!is_e164("+0555"));
        assert!(!is_e164("+1234567890123456"));
        assert!(is_valid_number("+15555550123"));
        assert!(
            !is_valid_number("+10555550123"),
            "no area code starts with 0"
        );
        assert!(!is_valid_number("+1555555012"), "nine digits");
    }
}
