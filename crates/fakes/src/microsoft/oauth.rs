//! The fake identity platform: `/{tenant}/oauth2/v2.0/authorize` and `/token` with
//! authorization codes, PKCE (S256), `offline_access` refresh tokens that rotate, and
//! `invalid_grant` (with Microsoft's `AADSTS` descriptions) for used, expired or revoked ones.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Call, Shared};

/// Access tokens live an hour (Microsoft says 3599 seconds, give or take).
pub const ACCESS_TOKEN_SECONDS: i64 = 3599;
/// The tenant the fake's accounts are in.
pub(crate) const TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

pub(crate) struct Client {
    pub secret: String,
    pub redirect_uri: String,
}

struct AuthCode {
    client_id: String,
    redirect_uri: String,
    user: String,
    scopes: Vec<String>,
    challenge: String,
    used: bool,
    expires: Timestamp,
}

pub(crate) struct Grant {
    pub client_id: String,
    pub user: String,
    pub scopes: Vec<String>,
    pub revoked: bool,
}

pub(crate) struct Access {
    pub user: String,
    pub expires: Timestamp,
}

#[derive(Default)]
pub(crate) struct OAuthState {
    pub clients: HashMap<String, Client>,
    codes: HashMap<String, AuthCode>,
    /// By refresh token.
    pub grants: HashMap<String, Grant>,
    pub access: HashMap<String, Access>,
}

pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl OAuthState {
    pub fn issue_access(&mut self, user: &str) -> String {
        let token = random_token("eyJ0eXAiOiJKV1Qi.");
        self.access.insert(
            token.clone(),
            Access {
                user: user.to_owned(),
                expires: Timestamp::now() + SignedDuration::from_secs(ACCESS_TOKEN_SECONDS),
            },
        );
        token
    }

    /// The user an access token stands for, if it is live.
    pub fn user_of(&self, token: &str) -> Option<String> {
        self.access
            .get(token)
            .filter(|a| a.expires > Timestamp::now())
            .map(|a| a.user.clone())
    }
}

fn known_tenant(tenant: &str) -> bool {
    matches!(tenant, "common" | "organizations" | "consumers" | TENANT_ID)
}

/// The AAD error page (the real one is HTML for the user, not a redirect).
fn error_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><title>Sign in to your account</title><p>{message}</p>"
        )),
    )
        .into_response()
}

/// `GET /{tenant}/oauth2/v2.0/authorize`. The fake's sign-in and consent page; the user
/// accepts by adding `&approve=USER` to the URL (as a test does), and is then redirected back
/// with `code` and `state`.
pub(crate) async fn authorize(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    let mut state = shared.lock();
    *state.counts.entry(Call::Authorize).or_default() += 1;
    if !known_tenant(&tenant) {
        return error_page("AADSTS90002: Tenant not found.");
    }
    let Some(client) = state.oauth.clients.get(get("client_id")) else {
        return error_page("AADSTS700016: Application was not found in the directory.");
    };
    if client.redirect_uri != get("redirect_uri") {
        return error_page(
            "AADSTS50011: The redirect URI specified in the request does not match.",
        );
    }
    if get("response_type") != "code" {
        return error_page("AADSTS900144: The request body must contain response_type=code.");
    }
    if get("code_challenge").is_empty() || get("code_challenge_method") != "S256" {
        return error_page("AADSTS501491: Invalid size of Code_Challenge parameter or method.");
    }
    let scopes: Vec<String> = get("scope").split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() {
        return error_page("AADSTS900144: The request body must contain the scope parameter.");
    }
    let Some(user) = q.get("approve") else {
        return Html(format!(
            "<!doctype html><title>Sign in to your account</title>\
             <h1>Permissions requested by {}</h1><ul>{}</ul>\
             <p>Accept by adding <code>&amp;approve=USER</code> to this URL.</p>",
            get("client_id"),
            scopes
                .iter()
                .map(|s| format!("<li>{s}</li>"))
                .collect::<String>()
        ))
        .into_response();
    };
    if !state.mailboxes.contains_key(user) {
        return error_page("AADSTS50034: The user account does not exist in the directory.");
    }
    let code = random_token("0.AX");
    state.oauth.codes.insert(
        code.clone(),
        AuthCode {
            client_id: get("client_id").to_owned(),
            redirect_uri: get("redirect_uri").to_owned(),
            user: user.clone(),
            scopes,
            challenge: get("code_challenge").to_owned(),
            used: false,
            expires: Timestamp::now() + SignedDuration::from_mins(10),
        },
    );
    let Ok(mut back) = reqwest::Url::parse(get("redirect_uri")) else {
        return error_page("AADSTS50011: invalid redirect URI.");
    };
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", get("state"))
        .append_pair("session_state", "fake-session");
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

fn oauth_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description}"),
        "error_codes": [code],
        "timestamp": Timestamp::now().to_string(),
        "trace_id": uuid::Uuid::new_v4(),
        "correlation_id": uuid::Uuid::new_v4(),
    });
    (status, axum::Json(body)).into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`: the `authorization_code` and `refresh_token` grants.
pub(crate) async fn token(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let mut state = shared.lock();
    *state.counts.entry(Call::Token).or_default() += 1;
    if !known_tenant(&tenant) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            "Tenant not found.",
        );
    }
    match state.oauth.clients.get(get("client_id")) {
        Some(c) if c.secret == get("client_secret") => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided.",
            );
        }
    }
    let (user, scopes) = match get("grant_type") {
        "authorization_code" => {
            let Some(code) = state.oauth.codes.get_mut(get("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70000,
                    "The provided authorization code is invalid.",
                );
            };
            if code.used || code.expires < Timestamp::now() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed or is expired.",
                );
            }
            if code.client_id != get("client_id") || code.redirect_uri != get("redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70000,
                    "The code was issued to another client or redirect URI.",
                );
            }
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
            if challenge != code.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50148,
                    "The code_verifier does not match the code_challenge supplied in the authorization request.",
                );
            }
            code.used = true;
            (code.user.clone(), code.scopes.clone())
        }
        "refresh_token" => {
            let Some(grant) = state.oauth.grants.get(get("refresh_token")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    9002313,
                    "Invalid request. The refresh token is malformed or not valid.",
                );
            };
            if grant.revoked {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
                );
            }
            if grant.client_id != get("client_id") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70000,
                    "The refresh token was issued to another client.",
                );
            }
            (grant.user.clone(), grant.scopes.clone())
        }
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            );
        }
    };
    let access_token = state.oauth.issue_access(&user);
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scopes.iter().filter(|s| *s != "offline_access").cloned().collect::<Vec<_>>().join(" "),
        "expires_in": ACCESS_TOKEN_SECONDS,
        "ext_expires_in": ACCESS_TOKEN_SECONDS,
        "access_token": access_token,
    });
    // Refresh tokens come with offline_access, and a new one on every refresh.
    if scopes.iter().any(|s| s == "offline_access") {
        let refresh = random_token("0.AR");
        state.oauth.grants.insert(
            refresh.clone(),
            Grant {
                client_id: get("client_id").to_owned(),
                user,
                scopes,
                revoked: false,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    axum::Json(body).into_response()
}
