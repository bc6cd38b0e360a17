//! Cross-site request forgery: every state-changing request to the dashboard must come from
//! one of our own pages.
//!
//! Two walls. A request that a browser says came from another site (`Sec-Fetch-Site`, or an
//! `Origin` that is not ours) is refused before anything else. Then every form of a signed-in
//! page carries a per-session token (an HMAC of the session's cookie token, so nothing extra is
//! stored and it changes with each sign-in), and a POST without the right one is refused.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::errors::PageError;
use super::session::{Viewer, viewer_from_headers};
use crate::AppState;

/// The form field (and htmx header) that carries the token.
pub const FIELD: &str = "csrf";
pub const HEADER: &str = "x-csrf-token";

/// Forms are small; anything bigger is not one of ours.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The token a session's forms carry.
pub fn token_for(state: &AppState, session_token: &str) -> String {
    let mut mac =
        <Hmac<Sha256>>::new_from_slice(state.config.jwt_secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
    mac.update(b"dashboard-csrf:");
    mac.update(session_token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether the browser says this request was started by another site.
pub fn is_cross_site(headers: &HeaderMap, state: &AppState) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // `none` is the user typing or bookmarking; `same-site` is a sibling host, still not us.
        if !matches!(site, "same-origin" | "none") {
            return true;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let public = state.config.public_url.trim_end_matches('/');
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let ours = origin == public
        || host.is_some_and(|host| {
            origin == format!("http://{host}") || origin == format!("https://{host}")
        });
    !ours
}

fn unsafe_method(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Resolves the viewer once per request and guards every state-changing one.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let changing = unsafe_method(&parts.method);
    if changing && is_cross_site(&parts.headers, &state) {
        return PageError::forbidden(
            "This form was sent from another site, so it was refused. Open the dashboard \
             directly and try again.",
        )
        .into_response();
    }
    let viewer = match viewer_from_headers(&state, &parts.headers).await {
        Ok(viewer) => viewer,
        Err(error) => return error.into_response(),
    };
    let mut body = body;
    // The login and invitation forms are for people not signed in; the invitation's own
    // token is its proof.
    let open_form = parts.uri.path() == "/dashboard/login"
        || parts.uri.path().starts_with("/dashboard/invite/");
    if changing && !open_form {
        let Some(viewer) = viewer.as_ref() else {
            return PageError::signed_out().into_response();
        };
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => return PageError::bad_request("The form is too large.").into_response(),
        };
        if !carries_token(&parts.headers, &bytes, viewer) {
            return PageError::forbidden(
                "This form has expired or did not come from this dashboard. Reload the page \
                 and try again.",
            )
            .into_response();
        }
        body = Body::from(bytes);
    }
    if let Some(viewer) = viewer {
        parts.extensions.insert(viewer);
    }
    next.run(Request::from_parts(parts, body)).await
}

fn carries_token(headers: &HeaderMap, body: &[u8], viewer: &Viewer) -> bool {
    let presented = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            form_urlencoded::parse(body)
                .find(|(name, _)| name == FIELD)
                .map(|(_, value)| value.into_owned())
        });
    presented
        .is_some_and(|presented| bool::from(presented.as_bytes().ct_eq(viewer.csrf.as_bytes())))
}
