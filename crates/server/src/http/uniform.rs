//! Every error answer leaves in our format, whichever layer made it.
//!
//! Our handlers and extractors answer `ApiError`s, but some answers are made below them: axum's
//! 405 (an empty body), a body-limit or media-type rejection from a library (plain text), the MCP
//! service's transport errors. This middleware rewrites any error answer that is not JSON into
//! `{"error":{"code","message"}}` with the same status and headers (`Allow` stays on a 405).

use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::error::{ApiError, ErrorCode};

/// The longest plain-text message kept from a rewritten answer.
const MAX_MESSAGE: usize = 2048;

/// Middleware: see the module documentation.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json_or_html(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let message = if status.is_server_error() {
        None
    } else {
        read_text(body).await
    };
    let code = code_for(status);
    let message = message
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| default_message(status));
    let rewritten = if status == StatusCode::INTERNAL_SERVER_ERROR {
        ApiError::internal(format!("a layer answered 500: {message}"))
    } else {
        ApiError::new(status, code, message)
    }
    .into_response();
    let (new_parts, body) = rewritten.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &new_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

fn is_json_or_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.starts_with("application/json") || v.contains("+json") || v.starts_with("text/html")
        })
}

async fn read_text(mut body: Body) -> Option<String> {
    let mut text = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame.ok()?.into_data() {
            text.extend_from_slice(&data);
            if text.len() > MAX_MESSAGE {
                text.truncate(MAX_MESSAGE);
                break;
            }
        }
    }
    Some(String::from_utf8_lossy(&text).into_owned())
}

/// The code for an answer made outside our handlers, by its status.
fn code_for(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Overloaded,
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => ErrorCode::InvalidBody,
        s if s.is_server_error() => ErrorCode::InternalError,
        _ => ErrorCode::InvalidBody,
    }
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            "This method is not allowed here; the Allow header lists those that are.".into()
        }
        _ => status
            .canonical_reason()
            .unwrap_or("The request failed.")
            .to_string(),
    }
}
