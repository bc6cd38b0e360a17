//! Who is calling: API keys, user JWTs, and the internal voice key.
//!
//! - API keys look like `pcal_<10-character id>_<32-character secret>`. The id part is the
//!   public prefix we look the key up by; we keep only a SHA-256 of the whole key (the key is
//!   random and long, so a slow hash adds nothing) and compare it in constant time.
//! - JWTs are HS256, signed with `JWT_SECRET`, `sub` = user id, `exp` enforced: the shape
//!   Supabase issues, so an existing Supabase front end can call us unchanged.
//! - Voice platforms send `Authorization: Bearer INTERNAL_API_KEY` plus `X-Agent-ID`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pillow_store::{Agent, ApiKey, TenantId, User};
use rand::Rng;
use rand::distributions::Alphanumeric;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

pub const API_KEY_PREFIX: &str = "pcal_";
const KEY_ID_LEN: usize = 10;
const KEY_SECRET_LEN: usize = 32;
/// How long a token from `POST /api/auth/login` lives.
pub const TOKEN_LIFETIME_HOURS: i64 = 12;

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

/// A freshly minted API key: `key` is shown once and never stored.
pub struct MintedKey {
    pub key: String,
    pub prefix: String,
    pub secret_hash: String,
}

fn random_text(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Makes a new random API key with its lookup prefix and hash.
pub fn mint_api_key() -> MintedKey {
    let prefix = format!("{API_KEY_PREFIX}{}", random_text(KEY_ID_LEN));
    let key = format!("{prefix}_{}", random_text(KEY_SECRET_LEN));
    let secret_hash = hash_api_key(&key);
    MintedKey {
        key,
        prefix,
        secret_hash,
    }
}

pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The lookup prefix of a presented key, if it has our shape.
fn api_key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == KEY_ID_LEN && secret.len() == KEY_SECRET_LEN)
        .then(|| &key[..API_KEY_PREFIX.len() + KEY_ID_LEN])
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
    /// Supabase puts `authenticated` here; we set it too so tokens look alike.
    #[serde(default)]
    pub role: Option<String>,
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
    let prefix = api_key_prefix(key).ok_or_else(invalid)?;
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
    let presented = hash_api_key(key);
    if !bool::from(presented.as_bytes().ct_eq(stored.secret_hash.as_bytes())) {
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
    let user_id = Uuid::parse_str(&data.claims.sub)
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
        if token.starts_with(API_KEY_PREFIX) {
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
        let agent_id =
            Uuid::parse_str(agent_id.trim()).map_err(|_| ApiError::not_found("agent"))?;
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

/// Argon2id hash of a password, for storage.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(ApiError::internal)
}

/// Checks a password against a stored hash; a malformed hash simply does not match.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_have_the_recognisable_shape_and_hash_to_the_stored_value() {
        let minted = mint_api_key();
        assert!(minted.key.starts_with("pcal_"));
        assert_eq!(minted.key.len(), 5 + 10 + 1 + 32);
        assert_eq!(api_key_prefix(&minted.key), Some(minted.prefix.as_str()));
        assert_eq!(hash_api_key(&minted.key), minted.secret_hash);
        assert!(!minted.secret_hash.contains(&minted.key[16..]));
    }

    #[test]
    fn malformed_keys_have_no_prefix() {
        assert_eq!(api_key_prefix("pcal_short_secret"), None);
        assert_eq!(
            api_key_prefix("sk_live_0123456789_abcdefabcdefabcdefabcdefabcdefab"),
            None
        );
    }

    #[test]
    fn the_key_cache_answers_what_was_put_and_nothing_else() {
        let cache = ApiKeyCache::default();
        let minted = mint_api_key();
        assert!(cache.get(&minted.prefix).is_none());
        let key = ApiKey {
            id: Uuid::now_v7(),
            tenant_id: TenantId(Uuid::now_v7()),
            name: "k".into(),
            prefix: minted.prefix.clone(),
            secret_hash: minted.secret_hash.clone(),
            created_at: Timestamp::now(),
        };
        cache.put(key.clone());
        assert_eq!(cache.get(&minted.prefix), Some(key));
        assert!(cache.get("pcal_other").is_none());
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}

/// How long a process reuses an API key's stored hash and tenant without asking the database.
/// Every request still checks the presented secret against the hash.
const API_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Per-process cache of API keys by prefix: saves a database round trip on every request.
#[derive(Default)]
pub struct ApiKeyCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, ApiKey)>>,
}

impl ApiKeyCache {
    pub fn get(&self, prefix: &str) -> Option<ApiKey> {
        let entries = self.entries.lock().expect("api key cache lock");
        entries
            .get(prefix)
            .filter(|(at, _)| at.elapsed() < API_KEY_TTL)
            .map(|(_, key)| key.clone())
    }

    pub fn put(&self, key: ApiKey) {
        let mut entries = self.entries.lock().expect("api key cache lock");
        if entries.len() > 10_000 {
            entries.retain(|_, (at, _)| at.elapsed() < API_KEY_TTL);
        }
        entries.insert(key.prefix.clone(), (std::time::Instant::now(), key));
    }
}
