//! Body and query extractors whose failures speak our error format and name the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::error::{ApiError, ErrorCode};
use crate::json::parse;

/// Like `axum::Json`, but a malformed body is a 400 `invalid_body` whose message and `field`
/// say what was wrong and where.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(is_json_media_type);
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ErrorCode::PayloadTooLarge
            } else {
                ErrorCode::InvalidBody
            };
            ApiError::new(e.status(), code, e.body_text())
        })?;
        // An empty body keeps its own clearer 400 from `parse`.
        if !is_json && !bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "Send the body as JSON, with Content-Type: application/json.",
            ));
        }
        parse(&bytes).map(ApiJson).map_err(ApiError::from)
    }
}

/// `application/json`, with or without parameters (`; charset=utf-8`), or a `+json` type.
fn is_json_media_type(value: &axum::http::HeaderValue) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Like `axum::extract::Query`, but a bad query string is a 400 `invalid_query` in our format.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        // `%00` is the only way a NUL gets into a query value (a raw one is not a valid URI);
        // refused like one in a JSON body.
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "The query string holds a NUL character (%00), which no parameter accepts.",
            ));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request(ErrorCode::InvalidQuery, e.body_text()))
    }
}
