//! The session cookie: `HttpOnly` so scripts never see it, `SameSite=Lax` so other sites'
//! forms and frames do not carry it, and `Secure` whenever the public URL is https.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::Cookie;
use cookie::time::Duration;

use crate::AppState;
use crate::domain::sessions::SESSION_LIFETIME;

/// The cookie's name.
pub const SESSION_COOKIE: &str = "pillow_session";

/// Whether browsers reach us over https, so cookies must never travel in the clear.
pub fn secure(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://")
}

/// The session token the request's cookie carries, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .map(|cookie| cookie.value().to_string())
        .filter(|token| !token.is_empty())
}

fn build(value: String, max_age: Duration, state: &AppState) -> HeaderValue {
    let cookie = Cookie::build((SESSION_COOKIE, value))
        .path("/dashboard")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure(state))
        .max_age(max_age)
        .build();
    // A base64url token and fixed attributes: always a valid header value.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// `Set-Cookie` for a new session's token.
pub fn session_cookie(token: String, state: &AppState) -> HeaderValue {
    build(token, Duration::seconds(SESSION_LIFETIME.as_secs()), state)
}

/// `Set-Cookie` that removes the session cookie.
pub fn cleared_cookie(state: &AppState) -> HeaderValue {
    build(String::new(), Duration::ZERO, state)
}
