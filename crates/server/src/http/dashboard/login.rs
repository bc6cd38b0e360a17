//! Signing in and out: e-mail and password (argon2, as the API's login), a server-side
//! session, and a rate limit per address.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::cookies;
use super::errors::PageResult;
use super::layout;
use super::session::{Viewer, safe_next};
use crate::AppState;
use crate::domain::error::ErrorCode;
use crate::domain::sessions;

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    /// `out` after logging out.
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

fn form(email: &str, next: &str, error: Option<&str>, notice: Option<&str>) -> Markup {
    html! {
        @if let Some(notice) = notice {
            p.notice role="status" { (notice) }
        }
        @if let Some(error) = error {
            p.error role="alert" id="login-error" { (error) }
        }
        form.stack method="post" action="/dashboard/login" {
            input type="hidden" name="next" value=(next);
            label for="email" { "E-mail address" }
            input #email type="email" name="email" value=(email) autocomplete="username"
                required autofocus[email.is_empty()]
                aria-describedby=[error.map(|_| "login-error")];
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password"
                required autofocus[!email.is_empty()];
            button type="submit" { "Log in" }
        }
    }
}

/// The login page; a browser already signed in goes straight on.
pub async fn page(viewer: Option<Viewer>, Query(query): Query<LoginQuery>) -> Response {
    let next = safe_next(query.next.as_deref());
    if viewer.is_some() {
        return Redirect::to(next).into_response();
    }
    let notice = match query.done.as_deref() {
        Some("out") => Some("You have logged out."),
        Some("password") => Some("Your password is set. Log in with it."),
        _ => None,
    };
    layout::respond(layout::bare("Log in", form("", next, None, notice)))
}

/// Checks the password and starts a session.
pub async fn submit(
    State(state): State<AppState>,
    Form(login): Form<LoginForm>,
) -> PageResult<Response> {
    let next = safe_next(login.next.as_deref()).to_string();
    let email = login.email.trim().to_string();
    let refuse = |status: StatusCode, message: &str| {
        let mut response = layout::respond(layout::bare(
            "Log in",
            form(&email, &next, Some(message), None),
        ));
        *response.status_mut() = status;
        response
    };
    if email.is_empty() || login.password.is_empty() {
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your e-mail address and your password.",
        ));
    }
    if !state.login_limiter.allow(&email.to_lowercase()) {
        return Ok(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts for this address. Wait 15 minutes and try again.",
        ));
    }
    let user = match sessions::check_password(&state, &email, &login.password).await {
        Ok(user) => user,
        Err(error) if error.code == ErrorCode::Unauthorized => {
            return Ok(refuse(
                StatusCode::UNAUTHORIZED,
                "The e-mail address or password is wrong.",
            ));
        }
        Err(error) if error.code == ErrorCode::TenantRequired => {
            return Ok(refuse(StatusCode::BAD_REQUEST, &error.message));
        }
        Err(error) => return Err(error.into()),
    };
    let (token, _) = sessions::start(&state, &user).await?;
    let mut response = Redirect::to(&next).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookies::session_cookie(token, &state));
    Ok(response)
}

/// Revokes the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, viewer: Viewer) -> PageResult<Response> {
    sessions::end(&state, &viewer.session).await?;
    let mut response = Redirect::to("/dashboard/login?done=out").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookies::cleared_cookie(&state));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
