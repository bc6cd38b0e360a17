//! The fake's Google OAuth 2.0: consent page, token endpoint (code and refresh grants, PKCE),
//! revoke endpoint.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::calendar::random_id;
use super::{Call, Shared};

/// Scopes the consent page knows.
pub const CALENDAR_EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";
const KNOWN_SCOPES: &[&str] = &[
    "openid",
    "email",
    "profile",
    CALENDAR_EVENTS_SCOPE,
    CALENDAR_SCOPE,
    "https://www.googleapis.com/auth/userinfo.email",
];

/// Google's access tokens live an hour (it says 3599 seconds).
pub const ACCESS_TOKEN_SECONDS: i64 = 3599;

#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub secret: String,
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    client_id: String,
    redirect_uri: String,
    email: String,
    scopes: Vec<String>,
    challenge: String,
    offline: bool,
    force_consent: bool,
    used: bool,
    expires: Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub client_id: String,
    pub email: String,
    pub scopes: Vec<String>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub email: String,
    pub scopes: Vec<String>,
    pub expires: Timestamp,
    /// The refresh token it came from, so revoking the grant revokes it too.
    pub refresh_token: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    pub clients: HashMap<String, Client>,
    pub codes: HashMap<String, AuthCode>,
    /// By refresh token.
    pub grants: HashMap<String, Grant>,
    pub access: HashMap<String, AccessToken>,
    /// (client, email) pairs that already consented once: Google gives a refresh token on the
    /// first offline consent, or again with `prompt=consent`.
    pub consented: Vec<(String, String)>,
    /// Real Google keeps the refresh token on refresh; tests can make it rotate.
    pub rotate_refresh_tokens: bool,
}

impl OAuthState {
    pub fn issue_access(
        &mut self,
        email: &str,
        scopes: Vec<String>,
        refresh: Option<String>,
    ) -> String {
        let token = format!("ya29.{}", random_id(40));
        self.access.insert(
            token.clone(),
            AccessToken {
                email: email.to_owned(),
                scopes,
                expires: Timestamp::now() + SignedDuration::from_secs(ACCESS_TOKEN_SECONDS),
                refresh_token: refresh,
            },
        );
        token
    }

    /// Revokes a grant by any of its tokens; false if the token is unknown.
    pub fn revoke(&mut self, token: &str) -> bool {
        let refresh = if let Some(grant) = self.grants.get(token) {
            if grant.revoked {
                return false;
            }
            Some(token.to_owned())
        } else if let Some(access) = self.access.remove(token) {
            access.refresh_token
        } else {
            return false;
        };
        if let Some(refresh) = refresh {
            if let Some(grant) = self.grants.get_mut(&refresh) {
                grant.revoked = true;
            }
            self.access
                .retain(|_, a| a.refresh_token.as_deref() != Some(refresh.as_str()));
        }
        true
    }
}

/// What the consent step decided, or why the request is refused.
pub(crate) enum Consent {
    /// Show the consent page (no decision yet).
    Page(String),
    /// Redirect back to the client.
    Redirect(String),
    /// Google's own error page (bad client, redirect mismatch, bad parameters).
    Error(String),
}

/// The consent logic behind `GET /o/oauth2/v2/auth`, shared with `FakeGoogle::approve`.
/// `approve` is the email of the user who clicks Allow; `granted` the scopes they left ticked.
pub(crate) fn consent(
    shared: &Shared,
    q: &HashMap<String, String>,
    approve: Option<&str>,
    granted: Option<Vec<String>>,
    deny: bool,
) -> Consent {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    let mut state = shared.lock();
    let Some(client) = state.oauth.clients.get(get("client_id")).cloned() else {
        return Consent::Error("Error 401: invalid_client. The OAuth client was not found.".into());
    };
    if !client
        .redirect_uris
        .iter()
        .any(|u| u == get("redirect_uri"))
    {
        return Consent::Error("Error 400: redirect_uri_mismatch".into());
    }
    if get("response_type") != "code" {
        return Consent::Error("Error 400: invalid_request. response_type must be code".into());
    }
    if get("code_challenge").is_empty() || get("code_challenge_method") != "S256" {
        return Consent::Error("Error 400: invalid_request. PKCE with S256 is required".into());
    }
    let requested: Vec<String> = get("scope").split_whitespace().map(str::to_owned).collect();
    if requested.is_empty()
        || requested
            .iter()
            .any(|s| !KNOWN_SCOPES.contains(&s.as_str()))
    {
        return Consent::Error("Error 400: invalid_scope".into());
    }
    if get("state").is_empty() {
        return Consent::Error("Error 400: invalid_request. state is required by this fake".into());
    }
    if !matches!(get("access_type"), "" | "online" | "offline") {
        return Consent::Error("Error 400: invalid_request. bad access_type".into());
    }
    let back = |pairs: &[(&str, &str)]| {
        let mut url = match reqwest::Url::parse(get("redirect_uri")) {
            Ok(u) => u,
            Err(_) => return Consent::Error("Error 400: invalid redirect_uri".into()),
        };
        url.query_pairs_mut().extend_pairs(pairs);
        Consent::Redirect(url.into())
    };
    if deny {
        return back(&[("error", "access_denied"), ("state", get("state"))]);
    }
    let Some(email) = approve else {
        let hint = get("login_hint");
        // Like Google's account chooser: one "Continue as" link per account (the hinted one
        // first), each the same request with `approve` added, and a way to cancel.
        let mut accounts: Vec<&String> = state.calendars.keys().collect();
        accounts.sort_by_key(|a| (a.as_str() != hint, a.as_str()));
        let link = |extra: (&str, &str)| {
            let mut url =
                reqwest::Url::parse("http://fake.invalid/o/oauth2/v2/auth").expect("a fixed URL");
            url.query_pairs_mut()
                .extend_pairs(q.iter())
                .append_pair(extra.0, extra.1);
            format!("?{}", url.query().unwrap_or_default()).replace('&', "&amp;")
        };
        return Consent::Page(format!(
            "<!doctype html><meta name=viewport content=\"width=device-width\">\
             <title>Sign in - Google Accounts</title>\
             <h1>{} wants to access your Google Account</h1><p>{hint}</p><ul>{}</ul>\
             <h2>Choose an account</h2><ul>{}</ul><p><a href=\"{}\">Cancel</a></p>\
             <p>Allow by adding <code>&amp;approve=EMAIL</code> (and optionally \
             <code>&amp;granted=SCOPES</code>) to this URL; deny with <code>&amp;deny=1</code>.</p>",
            get("client_id"),
            requested
                .iter()
                .map(|s| format!("<li>{s}</li>"))
                .collect::<String>(),
            accounts
                .iter()
                .map(|a| format!(
                    "<li><a href=\"{}\">Continue as {a}</a></li>",
                    link(("approve", a))
                ))
                .collect::<String>(),
            link(("deny", "1")),
        ));
    };
    if !state.calendars.contains_key(email) {
        return Consent::Error(format!("Couldn't find your Google Account {email}"));
    }
    let scopes: Vec<String> = match granted {
        Some(granted) => requested
            .into_iter()
            .filter(|s| granted.contains(s))
            .collect(),
        None => requested,
    };
    let code = format!("4/0A{}", random_id(40));
    state.oauth.codes.insert(
        code.clone(),
        AuthCode {
            client_id: get("client_id").to_owned(),
            redirect_uri: get("redirect_uri").to_owned(),
            email: email.to_owned(),
            scopes: scopes.clone(),
            challenge: get("code_challenge").to_owned(),
            offline: get("access_type") == "offline",
            force_consent: get("prompt").split_whitespace().any(|p| p == "consent"),
            used: false,
            expires: Timestamp::now() + SignedDuration::from_mins(10),
        },
    );
    drop(state);
    back(&[
        ("state", get("state")),
        ("code", &code),
        ("scope", &scopes.join(" ")),
    ])
}

pub(crate) async fn authorize(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let granted = q
        .get("granted")
        .map(|g| g.split_whitespace().map(str::to_owned).collect());
    match consent(
        &shared,
        &q,
        q.get("approve").map(String::as_str),
        granted,
        q.contains_key("deny"),
    ) {
        Consent::Page(html) => Html(html).into_response(),
        Consent::Redirect(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        Consent::Error(message) => (StatusCode::BAD_REQUEST, Html(message)).into_response(),
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

pub(crate) async fn token(
    State(shared): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let grant_type = get("grant_type");
    shared.count(if grant_type == "refresh_token" {
        Call::TokenRefresh
    } else {
        Call::TokenExchange
    });
    let mut state = shared.lock();
    if state.down {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "",
        );
    }
    let client_ok = state
        .oauth
        .clients
        .get(get("client_id"))
        .is_some_and(|c| c.secret == get("client_secret"));
    if !client_ok {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    let oauth = &mut state.oauth;
    match grant_type {
        "authorization_code" => {
            let Some(code) = oauth.codes.get_mut(get("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Malformed auth code.",
                );
            };
            if code.used || code.expires < Timestamp::now() || code.client_id != get("client_id") {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            }
            if code.redirect_uri != get("redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                );
            }
            let verifier = get("code_verifier");
            if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != code.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid code verifier.",
                );
            }
            code.used = true;
            let code = code.clone();
            let pair = (code.client_id.clone(), code.email.clone());
            let first = !oauth.consented.contains(&pair);
            if first {
                oauth.consented.push(pair);
            }
            let refresh = (code.offline && (first || code.force_consent)).then(|| {
                let token = format!("1//0g{}", random_id(60));
                oauth.grants.insert(
                    token.clone(),
                    Grant {
                        client_id: code.client_id.clone(),
                        email: code.email.clone(),
                        scopes: code.scopes.clone(),
                        revoked: false,
                    },
                );
                token
            });
            let access = oauth.issue_access(&code.email, code.scopes.clone(), refresh.clone());
            let mut body = json!({
                "access_token": access,
                "expires_in": ACCESS_TOKEN_SECONDS,
                "scope": code.scopes.join(" "),
                "token_type": "Bearer",
            });
            if let Some(refresh) = refresh {
                body["refresh_token"] = json!(refresh);
            }
            if code.scopes.iter().any(|s| s == "openid") {
                body["id_token"] = json!(id_token(&code.client_id, &code.email, &code.scopes));
            }
            axum::Json(body).into_response()
        }
        "refresh_token" => {
            let refresh = get("refresh_token").to_owned();
            let Some(grant) = oauth.grants.get(&refresh).cloned() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            };
            if grant.revoked || grant.client_id != get("client_id") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            }
            let mut issued_refresh = refresh.clone();
            let mut body = json!({
                "expires_in": ACCESS_TOKEN_SECONDS,
                "scope": grant.scopes.join(" "),
                "token_type": "Bearer",
            });
            if oauth.rotate_refresh_tokens {
                issued_refresh = format!("1//0g{}", random_id(60));
                oauth.grants.remove(&refresh);
                oauth.grants.insert(issued_refresh.clone(), grant.clone());
                body["refresh_token"] = json!(issued_refresh);
            }
            body["access_token"] =
                json!(oauth.issue_access(&grant.email, grant.scopes.clone(), Some(issued_refresh)));
            axum::Json(body).into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type",
        ),
    }
}

/// An id token shaped like Google's; the signature is not real, which is fine for a client
/// that receives it straight from the token endpoint.
fn id_token(client_id: &str, email: &str, scopes: &[String]) -> String {
    let now = Timestamp::now().as_second();
    let mut claims = json!({
        "iss": "https://accounts.google.com", "aud": client_id, "azp": client_id,
        "sub": format!("{:x}", Sha256::digest(email.as_bytes()))[..21].to_string(),
        "iat": now, "exp": now + 3600,
    });
    if scopes.iter().any(|s| s == "email") {
        claims["email"] = json!(email);
        claims["email_verified"] = json!(true);
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"fake","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.ZmFrZS1zaWduYXR1cmU")
}

pub(crate) async fn revoke(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    shared.count(Call::Revoke);
    let form = form.map(|f| f.0).unwrap_or_default();
    let token = form.get("token").or_else(|| query.get("token"));
    let revoked = token.is_some_and(|t| shared.lock().oauth.revoke(t));
    if revoked {
        StatusCode::OK.into_response()
    } else {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        )
    }
}
