//! Who is calling: API keys, user JWTs, and the internal voice key, read off the request.
//!
//! - API keys (`Bearer pcal_…`) are looked up by their public prefix and checked against the
//!   stored hash ([`crate::credentials`]).
//! - JWTs are HS256, signed with `JWT_SECRET`, `sub` = user id, `exp` enforced.
//! - Voice platforms send `Authorization: Bearer INTERNAL_API_KEY` plus `X-Agent-ID`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pillow_store::{Agent, AgentId, TenantId, User, UserId};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::AppState;
use crate::credentials::{API_KEY, Claims, key_matches};
use crate::http::error::ApiError;

/// An authenticated caller acting inside one tenant.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub actor: Actor,
}

#[derive(Debug, Clone)]
pub enum Actor {
    /// A person, through a JWT.
    User(Box<User>),
    /// A program, through an API key; keys act with admin rights in their tenant.
    ApiKey { key_id: Uuid },
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        match &self.actor {
            Actor::User(user) => user.role.is_admin(),
            Actor::ApiKey { .. } => true,
        }
    }

    pub fn user(&self) -> Option<&User> {
        match &self.actor {
            Actor::User(user) => Some(user),
            Actor::ApiKey { .. } => None,
        }
    }

    /// Fails with 403 unless the caller may manage the tenant's data.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "This needs an owner or admin of the tenant.",
            ))
        }
    }
}

/// Signs a token for `user` that expires at `expires_at`.
pub fn issue_token(
    state: &AppState,
    user: &User,
    expires_at: Timestamp,
) -> Result<String, ApiError> {
    let claims = Claims {
        sub: user.id.to_string(),
        exp: expires_at.as_second(),
        iat: Timestamp::now().as_second(),
        role: Some("authenticated".into()),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(state.config.jwt_secret.expose_secret().as_bytes()),
    )
    .map_err(ApiError::internal)
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized("Send `Authorization: Bearer <API key or token>`.")
        })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("The Authorization header is not readable."))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| {
            ApiError::unauthorized("The Authorization header must use the Bearer scheme.")
        })?;
    Ok(token.trim())
}

async fn caller_from_api_key(state: &AppState, key: &str) -> Result<Caller, ApiError> {
    let invalid = || ApiError::unauthorized("The API key is not valid.");
    let prefix = API_KEY.lookup_prefix(key).ok_or_else(invalid)?;
    let stored = match state.api_keys.get(prefix) {
        Some(stored) => stored,
        None => {
            let stored = state
                .store
                .find_api_key(prefix)
                .await?
                .ok_or_else(invalid)?;
            state.api_keys.put(stored.clone());
            stored
        }
    };
    if !key_matches(key, &stored.secret_hash) {
        return Err(invalid());
    }
    Ok(Caller {
        tenant: stored.tenant_id,
        actor: Actor::ApiKey { key_id: stored.id },
    })
}

async fn caller_from_jwt(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(state.config.jwt_secret.expose_secret().as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
            ApiError::unauthorized("The token has expired; log in again.")
        }
        _ => ApiError::unauthorized("The token is not valid."),
    })?;
    let user_id = data
        .claims
        .sub
        .parse::<UserId>()
        .map_err(|_| ApiError::unauthorized("The token's subject is not a user id."))?;
    let user = state
        .store
        .find_user(user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("The token's user no longer exists."))?;
    Ok(Caller {
        tenant: user.tenant_id,
        actor: Actor::User(Box::new(user)),
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if token.starts_with(API_KEY.prefix) {
            caller_from_api_key(state, token).await
        } else if token.split('.').count() == 3 {
            caller_from_jwt(state, token).await
        } else if state.config.is_internal_key(token) {
            Err(ApiError::forbidden(
                "The internal key only opens the voice endpoints; use an API key or a user token.",
            ))
        } else {
            Err(ApiError::unauthorized("The credentials are not valid."))
        }
    }
}

/// A voice platform calling for one agent (`X-Agent-ID`), with the deployment's internal key
/// or with an API key of the agent's own tenant. A tenant configuring its voice platform with
/// its own key needs no secret shared with other tenants, and reaches only its own agents.
#[derive(Debug, Clone)]
pub struct VoiceCaller {
    pub tenant: TenantId,
    pub agent: Agent,
}

impl FromRequestParts<AppState> for VoiceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let internal = state.config.is_internal_key(bearer(parts)?);
        let tenant = if internal {
            None
        } else {
            let caller = Caller::from_request_parts(parts, state).await?;
            if !matches!(caller.actor, Actor::ApiKey { .. }) {
                return Err(ApiError::unauthorized(
                    "Voice endpoints take the internal key or an API key (`Bearer pcal_…`).",
                ));
            }
            Some(caller.tenant)
        };
        let agent_id = parts
            .headers
            .get("x-agent-id")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("Send the agent's id in `X-Agent-ID`."))?;
        let agent_id = agent_id
            .trim()
            .parse::<AgentId>()
            .map_err(|_| ApiError::not_found("agent"))?;
        let agent = match tenant {
            None => state.store.find_agent(agent_id).await?,
            // Another tenant's agent is not found, exactly like one that does not exist.
            Some(tenant) => state.store.get_agent(tenant, agent_id).await?,
        }
        .ok_or_else(|| ApiError::not_found("agent"))?;
        Ok(VoiceCaller {
            tenant: agent.tenant_id,
            agent,
        })
    }
}
