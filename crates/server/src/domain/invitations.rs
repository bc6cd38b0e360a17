//! Invitations: a link that lets a new member set their password once.
//!
//! Nothing is stored. The link's token names the user and an expiry and carries an HMAC (under
//! `JWT_SECRET`) of those and of the user's current password hash. Setting a password changes
//! the hash (argon2 salts every hash), so the same link stops working at once: it is one-time
//! without a table, and a fresh invitation also works as a password reset.

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use pillow_store::{User, UserId, UserPatch};
use secrecy::ExposeSecret;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::{DomainError, DomainResult};
use super::users::check_password_length;
use crate::AppState;
use crate::credentials::hash_password;

/// How long an invitation link works.
pub const VALID_FOR: SignedDuration = SignedDuration::from_hours(24 * 7);

fn mac(state: &AppState, user: UserId, expires: i64, password_hash: Option<&str>) -> String {
    let mut mac =
        <Hmac<Sha256>>::new_from_slice(state.config.jwt_secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
    mac.update(b"dashboard-invite:");
    mac.update(user.to_string().as_bytes());
    mac.update(b":");
    mac.update(expires.to_string().as_bytes());
    mac.update(b":");
    mac.update(password_hash.unwrap_or("").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The user's password hash, read through the one login lookup.
async fn password_hash(state: &AppState, user: &User) -> DomainResult<Option<String>> {
    Ok(state
        .store
        .find_logins(&user.email)
        .await?
        .into_iter()
        .find(|login| login.user.id == user.id)
        .and_then(|login| login.password_hash))
}

/// A token for `user`'s invitation link, valid for [`VALID_FOR`] from `now`.
pub async fn issue(state: &AppState, user: &User, now: Timestamp) -> DomainResult<String> {
    let expires = now
        .checked_add(VALID_FOR)
        .map_err(DomainError::internal)?
        .as_second();
    let hash = password_hash(state, user).await?;
    Ok(format!(
        "{}.{expires}.{}",
        user.id,
        mac(state, user.id, expires, hash.as_deref())
    ))
}

fn refused() -> DomainError {
    DomainError::forbidden(
        "This invitation link has been used or has expired. Ask an admin for a new one.",
    )
}

/// The user a token invites, if it is genuine, unexpired and unused.
pub async fn check(state: &AppState, token: &str, now: Timestamp) -> DomainResult<User> {
    let mut parts = token.splitn(3, '.');
    let (Some(id), Some(expires), Some(presented)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(refused());
    };
    let id: UserId = id.parse().map_err(|_| refused())?;
    let expires: i64 = expires.parse().map_err(|_| refused())?;
    if now.as_second() >= expires {
        return Err(refused());
    }
    let user = state.store.find_user(id).await?.ok_or_else(refused)?;
    let hash = password_hash(state, &user).await?;
    let expected = mac(state, id, expires, hash.as_deref());
    if !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        return Err(refused());
    }
    Ok(user)
}

/// Sets the invited user's password, which uses up the link.
///
/// # Errors
/// 403 when the link is not valid (any more); 400 `weak_password` for a short password.
pub async fn accept(
    state: &AppState,
    token: &str,
    password: &str,
    now: Timestamp,
) -> DomainResult<User> {
    let user = check(state, token, now).await?;
    check_password_length(password).map_err(|e| DomainError::from_user("password", e))?;
    let patch = UserPatch {
        password_hash: Some(hash_password(password)?),
        ..UserPatch::default()
    };
    state
        .store
        .update_user(user.tenant_id, user.id, &patch)
        .await?
        .ok_or_else(refused)
}
