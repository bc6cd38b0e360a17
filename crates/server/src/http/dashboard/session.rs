//! Who is looking at a page: the signed-in user behind the session cookie.
//!
//! [`csrf::guard`](super::csrf::guard) resolves the cookie once per request; handlers take
//! [`Viewer`] as an extractor, which sends a signed-out browser to the login page and back.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::tz::TimeZone;
use pillow_store::{Session, User};

use super::cookies::session_token;
use super::csrf;
use super::errors::PageError;
use crate::AppState;
use crate::domain::sessions;

/// The signed-in user of a dashboard request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub session: Session,
    /// The token this session's forms carry.
    pub csrf: String,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.user.role.is_admin()
    }

    /// Owners and admins only: anyone else gets the 403 page.
    pub fn require_admin(&self) -> Result<(), PageError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(PageError::forbidden(
                "Only owners and admins of your organisation can open this page.",
            ))
        }
    }

    /// The viewer's own zone, in which every time is shown to them.
    pub fn zone(&self) -> TimeZone {
        crate::domain::time::stored_zone(&self.user.time_zone)
    }
}

/// The viewer a request's cookie signs in, if any.
pub async fn viewer_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Viewer>, PageError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let Some(signed_in) = sessions::resume(state, &token).await? else {
        return Ok(None);
    };
    Ok(Some(Viewer {
        csrf: csrf::token_for(state, &token),
        user: signed_in.user,
        session: signed_in.session,
    }))
}

/// Where the login page sends someone back to: only our own dashboard paths, so a crafted link
/// cannot bounce a user to another site.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with("/dashboard")
                && !path.starts_with("/dashboard/login")
                && !path.contains("//")
                && !path.contains('\\') =>
        {
            path
        }
        _ => "/dashboard",
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(viewer.clone());
        }
        let here = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/dashboard");
        let next: String =
            form_urlencoded::byte_serialize(safe_next(Some(here)).as_bytes()).collect();
        Err(Redirect::to(&format!("/dashboard/login?next={next}")).into_response())
    }
}

/// For pages that signed-out browsers may see too (the login page).
impl axum::extract::OptionalFromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Viewer>().cloned())
    }
}
