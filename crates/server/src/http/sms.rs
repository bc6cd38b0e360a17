//! What Twilio posts to us about texts: replies (`/api/sms/twilio/inbound`, where a STOP opts
//! the number out and a START opts it back in) and delivery reports
//! (`/api/sms/twilio/status`). Both are signed with `X-Twilio-Signature` over
//! `PUBLIC_URL` + the path and the form's parameters; an unsigned or forged request is refused
//! with 403 and changes nothing.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};

use crate::AppState;
use crate::http::error::{ApiError, ErrorCode};
use crate::notify::sms::{INBOUND_PATH, STATUS_PATH, e164, valid_signature};

/// The words Twilio's standard opt-out handling reads as STOP and as START.
const STOP_WORDS: [&str; 6] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
const START_WORDS: [&str; 3] = ["START", "UNSTOP", "YES"];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(INBOUND_PATH, post(inbound))
        .route(STATUS_PATH, post(status))
}

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The form's parameters if Twilio signed them for `path`.
fn signed(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    params: &Params,
) -> Result<(), ApiError> {
    let Some(sms) = &state.config.sms else {
        return Err(ApiError::not_found("SMS"));
    };
    let signature = headers
        .get("X-Twilio-Signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let url = format!("{}{path}", state.config.public_url);
    if valid_signature(sms.auth_token(), &url, params, signature) {
        Ok(())
    } else {
        tracing::warn!(
            path,
            "refused a request to an SMS webhook: bad X-Twilio-Signature"
        );
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidSignature,
            "The X-Twilio-Signature does not match this request.",
        ))
    }
}

/// An empty TwiML answer: no reply text (Twilio sends its own opt-out confirmations).
fn twiml() -> Response {
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response()
}

async fn inbound(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form<Params>,
) -> Result<Response, ApiError> {
    signed(&state, &headers, INBOUND_PATH, &params)?;
    let word = param(&params, "Body")
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    let opted_out = match param(&params, "OptOutType") {
        Some("STOP") => Some(true),
        Some("START") => Some(false),
        _ if STOP_WORDS.contains(&word.as_str()) => Some(true),
        _ if START_WORDS.contains(&word.as_str()) => Some(false),
        _ => None,
    };
    if let (Some(opted_out), Some(from)) = (opted_out, param(&params, "From").and_then(e164)) {
        state
            .store
            .set_sms_opt_out(&from, opted_out, jiff::Timestamp::now())
            .await?;
        tracing::info!(opted_out, "an SMS recipient changed their opt-out");
    }
    Ok(twiml())
}

async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form<Params>,
) -> Result<Response, ApiError> {
    signed(&state, &headers, STATUS_PATH, &params)?;
    let status = param(&params, "MessageStatus").unwrap_or("unknown");
    let known = [
        "queued",
        "sending",
        "sent",
        "delivered",
        "undelivered",
        "failed",
        "accepted",
    ];
    let label = if known.contains(&status) {
        status
    } else {
        "other"
    };
    metrics::counter!("sms_status_total", "status" => label.to_string()).increment(1);
    if matches!(status, "undelivered" | "failed") {
        tracing::warn!(
            message = param(&params, "MessageSid").unwrap_or_default(),
            error = param(&params, "ErrorCode").unwrap_or_default(),
            "a text was not delivered"
        );
        // The carrier's unsubscribed answer: keep the opt-out.
        if param(&params, "ErrorCode") == Some("21610")
            && let Some(to) = param(&params, "To").and_then(e164)
        {
            state
                .store
                .set_sms_opt_out(&to, true, jiff::Timestamp::now())
                .await?;
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
