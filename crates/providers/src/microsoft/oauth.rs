//! OAuth 2.0 on the Microsoft identity platform (v2 endpoints): authorization code with PKCE,
//! `offline_access` for a refresh token, and refresh (Microsoft rotates refresh tokens: keep
//! the new one each time).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::{GraphError, from_oauth_response};
use super::{MicrosoftEndpoints, SCOPES};

/// Our app registration plus where Microsoft is.
#[derive(Clone)]
pub struct MicrosoftOAuth {
    client_id: String,
    client_secret: SecretString,
    redirect_uri: String,
    endpoints: MicrosoftEndpoints,
    http: reqwest::Client,
}

impl std::fmt::Debug for MicrosoftOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicrosoftOAuth")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// What the token endpoint granted.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: SecretString,
    /// Present with `offline_access`; a refresh answers a new one, which replaces the old.
    pub refresh_token: Option<SecretString>,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub scopes: Vec<String>,
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
}

impl MicrosoftOAuth {
    pub fn new(
        client_id: String,
        client_secret: SecretString,
        redirect_uri: String,
        endpoints: MicrosoftEndpoints,
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

    /// Where to send the user to sign in and consent. `code_challenge` is the S256 challenge
    /// of a verifier from [`crate::google::pkce_pair`] (PKCE is the same everywhere).
    pub fn authorization_url(&self, state: &str, code_challenge: &str) -> String {
        let scope = SCOPES.join(" ");
        let query = [
            ("client_id", self.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("response_mode", "query"),
            ("scope", scope.as_str()),
            ("state", state),
            ("code_challenge", code_challenge),
            ("code_challenge_method", "S256"),
        ];
        let mut url = reqwest::Url::parse(&self.endpoints.authorize_url()).unwrap_or_else(|_| {
            reqwest::Url::parse("https://invalid.invalid/").expect("static URL")
        });
        url.query_pairs_mut().extend_pairs(query);
        url.to_string()
    }

    /// Trades the code from the redirect (and the PKCE verifier) for tokens.
    ///
    /// # Errors
    /// [`GraphError::InvalidGrant`] for a used, expired or mismatched code or verifier.
    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
    ) -> Result<TokenGrant, GraphError> {
        let scope = SCOPES.join(" ");
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", verifier),
            ("scope", scope.as_str()),
        ])
        .await
    }

    /// A new access token (and a new refresh token) from a refresh token.
    ///
    /// # Errors
    /// [`GraphError::InvalidGrant`] when the grant was revoked or expired: the connection
    /// needs the user to connect again.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, GraphError> {
        let scope = SCOPES.join(" ");
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("scope", scope.as_str()),
        ])
        .await
    }

    async fn token(&self, fields: &[(&str, &str)]) -> Result<TokenGrant, GraphError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        form.extend_from_slice(fields);
        let response = self
            .http
            .post(self.endpoints.token_url())
            .form(&form)
            .send()
            .await
            .map_err(|e| GraphError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| GraphError::Transport(e.to_string()))?;
        if status != 200 {
            return Err(from_oauth_response(status, &body));
        }
        let t: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| GraphError::Decode(e.to_string()))?;
        Ok(TokenGrant {
            access_token: t.access_token.into(),
            refresh_token: t.refresh_token.map(Into::into),
            expires_in: t.expires_in.unwrap_or(3600),
            scopes: t
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        })
    }
}
