//! Google OAuth 2.0 for web server apps: consent URL with PKCE, code exchange, refresh, revoke.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::{GoogleError, from_oauth_response};
use super::{CALENDAR_EVENTS_SCOPE, GoogleEndpoints};

/// Our OAuth client registration plus where Google is.
#[derive(Clone)]
pub struct GoogleOAuth {
    client_id: String,
    client_secret: SecretString,
    redirect_uri: String,
    endpoints: GoogleEndpoints,
    http: reqwest::Client,
}

impl std::fmt::Debug for GoogleOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleOAuth")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("redirect_uri", &self.redirect_uri)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// What the token endpoint granted.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: SecretString,
    /// Google sends a refresh token on consent with `access_type=offline`, and usually not on
    /// refresh: then the caller keeps the one it has.
    pub refresh_token: Option<SecretString>,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// What the user actually granted; they can untick scopes on the consent page.
    pub scopes: Vec<String>,
    /// The account's email, from the `id_token` (present when `openid email` was granted).
    pub email: Option<String>,
}

impl TokenGrant {
    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

/// A fresh PKCE pair: a random 43-character verifier and its S256 challenge (RFC 7636).
pub fn pkce_pair() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = pkce_challenge(&verifier);
    (verifier, challenge)
}

/// `BASE64URL(SHA256(verifier))`, the S256 code challenge.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The `email` claim of an id token received straight from the token endpoint over TLS,
/// which OpenID Connect allows us to trust without checking the signature.
fn email_from_id_token(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("email")?.as_str().map(str::to_owned)
}

impl GoogleOAuth {
    pub fn new(
        client_id: String,
        client_secret: SecretString,
        redirect_uri: String,
        endpoints: GoogleEndpoints,
        http: reqwest::Client,
    ) -> Self {
        Self {
            client_id,
            client_secret,
            redirect_uri,
            endpoints,
            http,
        }
    }

    /// The consent URL: offline access (so we get a refresh token), `prompt=consent` (so we
    /// get one even on a reconnect), PKCE S256, and the calendar.events scope plus
    /// `openid email` to learn which account was connected.
    pub fn authorization_url(
        &self,
        state: &str,
        code_challenge: &str,
        login_hint: Option<&str>,
    ) -> String {
        let mut url = match reqwest::Url::parse(&self.endpoints.authorize_url) {
            Ok(url) => url,
            // Configuration is checked at start-up; keep the raw string usable anyway.
            Err(_) => return self.endpoints.authorize_url.clone(),
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("response_type", "code")
                .append_pair("scope", &format!("openid email {CALENDAR_EVENTS_SCOPE}"))
                .append_pair("access_type", "offline")
                .append_pair("prompt", "consent")
                .append_pair("include_granted_scopes", "true")
                .append_pair("state", state)
                .append_pair("code_challenge", code_challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = login_hint {
                q.append_pair("login_hint", hint);
            }
        }
        url.into()
    }

    /// Exchanges the code from the callback (with the PKCE verifier) for tokens.
    ///
    /// # Errors
    /// [`GoogleError::InvalidGrant`] for a wrong, used or expired code or a wrong verifier.
    pub async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
    ) -> Result<TokenGrant, GoogleError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", code_verifier),
            ("redirect_uri", &self.redirect_uri),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
        ])
        .await
    }

    /// A new access token from a refresh token. The grant usually has no refresh token: keep
    /// the old one.
    ///
    /// # Errors
    /// [`GoogleError::InvalidGrant`] when the refresh token was revoked or expired.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenGrant, GoogleError> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
        ])
        .await
    }

    /// Revokes a token (access or refresh) and with it the user's grant to us.
    ///
    /// # Errors
    /// [`GoogleError::OAuth`] (`invalid_token`) for a token Google does not know.
    pub async fn revoke(&self, token: &str) -> Result<(), GoogleError> {
        let response = self
            .http
            .post(&self.endpoints.revoke_url)
            .form(&[("token", token)])
            .send()
            .await
            .map_err(|e| GoogleError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(());
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| GoogleError::Transport(e.to_string()))?;
        Err(from_oauth_response(status, &body))
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenGrant, GoogleError> {
        let response = self
            .http
            .post(&self.endpoints.token_url)
            .form(form)
            .send()
            .await
            .map_err(|e| GoogleError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| GoogleError::Transport(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(from_oauth_response(status, &body));
        }
        let token: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| GoogleError::Decode(e.to_string()))?;
        Ok(TokenGrant {
            access_token: token.access_token.into(),
            refresh_token: token.refresh_token.map(SecretString::from),
            expires_in: token.expires_in.unwrap_or(3600),
            scopes: token
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            email: token.id_token.as_deref().and_then(email_from_id_token),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn pkce_pairs_are_fresh_and_consistent() {
        let (v1, c1) = pkce_pair();
        let (v2, _) = pkce_pair();
        assert_ne!(v1, v2);
        assert_eq!(v1.len(), 43);
        assert_eq!(pkce_challenge(&v1), c1);
    }

    #[test]
    fn the_authorization_url_asks_for_offline_access_with_pkce() {
        let oauth = GoogleOAuth::new(
            "cid".into(),
            "secret".to_string().into(),
            "http://localhost/cb".into(),
            GoogleEndpoints::default(),
            reqwest::Client::new(),
        );
        let url = reqwest::Url::parse(&oauth.authorization_url("st", "ch", Some("a@b.c"))).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], "ch");
        assert_eq!(q["state"], "st");
        assert_eq!(q["login_hint"], "a@b.c");
        assert_eq!(q["redirect_uri"], "http://localhost/cb");
        assert!(q["scope"].split(' ').any(|s| s == CALENDAR_EVENTS_SCOPE));
        assert!(!format!("{oauth:?}").contains("secret\""));
    }

    #[test]
    fn the_email_is_read_from_the_id_token_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"email":"host@example.com","sub":"1"}"#);
        assert_eq!(
            email_from_id_token(&format!("eyJhbGciOiJSUzI1NiJ9.{payload}.sig")).as_deref(),
            Some("host@example.com")
        );
        assert_eq!(email_from_id_token("garbage"), None);
    }
}
