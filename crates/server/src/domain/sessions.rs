//! Dashboard sign-in: the password check the API's login makes, and server-side sessions.
//!
//! A session is a random token in the browser's cookie; the store keeps only its SHA-256, an
//! expiry and whether it was revoked, so logging out ends it everywhere at once and a copy of
//! the database signs no one in.

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use pillow_store::{NewSession, Session, User};
use rand::RngCore;

use crate::AppState;
use crate::credentials::{hash_key, hash_password, verify_password};
use crate::domain::error::{DomainError, DomainResult, ErrorCode, ErrorKind};

/// How long a sign-in lasts: a working day, so a shared front-desk screen does not stay signed
/// in overnight.
pub const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(12);

/// A live session and the user it signs in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub user: User,
}

/// A hash to verify against when the address is unknown, so a miss takes as long as a hit and
/// response times do not reveal which addresses have accounts.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password").unwrap_or_default())
}

/// Every account, in any tenant, that this e-mail address and password open: the one password
/// check behind the API's login and the dashboard's sign-in.
///
/// # Errors
/// Only if the store fails.
pub async fn accounts_opened_by(
    state: &AppState,
    email: &str,
    password: &str,
) -> DomainResult<Vec<User>> {
    let candidates = state.store.find_logins(email.trim()).await?;
    let password = password.to_string();
    let hashes: Vec<Option<String>> = candidates.iter().map(|c| c.password_hash.clone()).collect();
    // Argon2 is deliberately slow: keep it off the async workers.
    let matches = tokio::task::spawn_blocking(move || {
        if hashes.is_empty() {
            verify_password(&password, decoy_hash());
        }
        hashes
            .iter()
            .map(|hash| {
                hash.as_deref()
                    .is_some_and(|h| verify_password(&password, h))
            })
            .collect::<Vec<bool>>()
    })
    .await
    .map_err(DomainError::internal)?;
    Ok(candidates
        .into_iter()
        .zip(matches)
        .filter(|(_, ok)| *ok)
        .map(|(candidate, _)| candidate.user)
        .collect())
}

/// The user whose e-mail and password these are.
///
/// # Errors
/// `unauthorized` when no account matches; `tenant_required` when the same address and
/// password open accounts in several tenants.
pub async fn check_password(state: &AppState, email: &str, password: &str) -> DomainResult<User> {
    let mut matched = accounts_opened_by(state, email, password).await?;
    match matched.len() {
        0 => Err(DomainError::new(
            ErrorKind::Unauthorized,
            ErrorCode::Unauthorized,
            "The e-mail address or password is wrong.",
        )),
        1 => Ok(matched.remove(0)),
        _ => Err(DomainError::new(
            ErrorKind::BadRequest,
            ErrorCode::TenantRequired,
            "This address and password open accounts in several organisations; ask an owner \
             to give you a separate address for each.",
        )),
    }
}

/// Starts a session for `user`; answers the token for the cookie (never stored) and the row.
///
/// # Errors
/// Only if the store fails.
pub async fn start(state: &AppState, user: &User) -> DomainResult<(String, Session)> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let expires_at = Timestamp::now()
        .checked_add(SESSION_LIFETIME)
        .map_err(DomainError::internal)?;
    let session = state
        .store
        .create_session(
            user.tenant_id,
            &NewSession {
                user_id: user.id,
                token_hash: hash_key(&token),
                expires_at,
            },
        )
        .await?;
    Ok((token, session))
}

/// The live session a cookie's token names, with its user; `None` when the token is unknown,
/// expired or revoked, or its user is gone.
///
/// # Errors
/// Only if the store fails.
pub async fn resume(state: &AppState, token: &str) -> DomainResult<Option<SignedIn>> {
    let Some(session) = state
        .store
        .find_live_session(&hash_key(token), Timestamp::now())
        .await?
    else {
        return Ok(None);
    };
    let user = state
        .store
        .get_user(session.tenant_id, session.user_id)
        .await?;
    Ok(user.map(|user| SignedIn { session, user }))
}

/// Ends a session: its cookie signs no one in from now on.
///
/// # Errors
/// Only if the store fails.
pub async fn end(state: &AppState, session: &Session) -> DomainResult<()> {
    state
        .store
        .revoke_session(session.tenant_id, session.id, Timestamp::now())
        .await?;
    Ok(())
}
