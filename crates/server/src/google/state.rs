//! The OAuth `state` parameter: signed, expiring, and binding the flow to one user.
//!
//! `state = base64url(json) "." base64url(HMAC-SHA256(key, base64url(json)))`. The JSON names
//! the tenant and user who started the flow, when it expires, and the PKCE verifier sealed
//! with the encryption key (the state travels through the browser and Google, and the verifier
//! must not be readable on the way). The callback has no bearer token: the state is what says
//! whose connection this is, so its signature is checked in constant time before anything else.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use pillow_providers::crypto::SecretBox;
use pillow_store::{TenantId, UserId};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long a user has to finish Google's consent page.
pub const STATE_LIFETIME: SignedDuration = SignedDuration::from_mins(15);

/// Why a state was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the state is malformed or its signature does not match")]
    Invalid,
    #[error("the state has expired; start connecting again")]
    Expired,
}

/// Who started a connect flow, and the PKCE verifier that finishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectState {
    pub tenant: TenantId,
    pub user: UserId,
    pub verifier: String,
    pub expires_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    t: TenantId,
    u: UserId,
    exp: i64,
    /// The PKCE verifier, sealed.
    v: String,
    /// Makes every state distinct.
    n: String,
}

/// Signs and checks states with a key of its own, derived from the server's secret.
#[derive(Clone)]
pub struct StateSigner {
    key: [u8; 32],
    secrets: SecretBox,
}

impl std::fmt::Debug for StateSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateSigner([REDACTED])")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl StateSigner {
    /// `secret` is the server's JWT secret; the state key is derived from it so that a state
    /// can never be mistaken for another signed value.
    pub fn new(secret: &[u8], secrets: SecretBox) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"pillow-calendar google oauth state v1");
        Self {
            key: mac.finalize().into_bytes().into(),
            secrets,
        }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    /// A state for `user` of `tenant` carrying `verifier`, valid until `now + STATE_LIFETIME`.
    pub fn sign(&self, tenant: TenantId, user: UserId, verifier: &str, now: Timestamp) -> String {
        let nonce: [u8; 12] = rand::thread_rng().r#gen();
        let payload = Payload {
            t: tenant,
            u: user,
            exp: (now + STATE_LIFETIME).as_second(),
            v: self.secrets.seal(verifier),
            n: B64.encode(nonce),
        };
        let body = B64.encode(serde_json::to_vec(&payload).expect("state serialises"));
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        format!("{body}.{}", B64.encode(mac.finalize().into_bytes()))
    }

    /// Checks the signature (in constant time), then the expiry, and opens the verifier.
    ///
    /// # Errors
    /// [`StateError::Invalid`] for anything not signed by us, [`StateError::Expired`] after
    /// [`STATE_LIFETIME`].
    pub fn verify(&self, state: &str, now: Timestamp) -> Result<ConnectState, StateError> {
        let (body, signature) = state.split_once('.').ok_or(StateError::Invalid)?;
        let signature = B64.decode(signature).map_err(|_| StateError::Invalid)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| StateError::Invalid)?;
        let payload: Payload = B64
            .decode(body)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(StateError::Invalid)?;
        let expires_at = Timestamp::from_second(payload.exp).map_err(|_| StateError::Invalid)?;
        if now >= expires_at {
            return Err(StateError::Expired);
        }
        let verifier = self
            .secrets
            .open(&payload.v)
            .map_err(|_| StateError::Invalid)?;
        Ok(ConnectState {
            tenant: payload.t,
            user: payload.u,
            verifier,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pillow_providers::crypto::SecretKey;
    use uuid::Uuid;

    fn signer(secret: &str) -> StateSigner {
        StateSigner::new(
            secret.as_bytes(),
            SecretBox::new(SecretKey::from_hex(&"11".repeat(32)).unwrap()),
        )
    }

    #[test]
    fn a_state_round_trips_and_hides_the_verifier() {
        let s = signer("a secret of thirty-two characters!!");
        let (tenant, user) = (TenantId::new(), UserId::new());
        let now = Timestamp::now();
        let state = s.sign(tenant, user, "the-verifier-abc", now);
        assert!(!state.contains("the-verifier"));
        let back = s.verify(&state, now).unwrap();
        assert_eq!((back.tenant, back.user), (tenant, user));
        assert_eq!(back.verifier, "the-verifier-abc");
        assert_ne!(state, s.sign(tenant, user, "the-verifier-abc", now));
    }

    #[test]
    fn a_tampered_foreign_or_expired_state_is_refused() {
        let s = signer("a secret of thirty-two characters!!");
        let now = Timestamp::now();
        let state = s.sign(TenantId::new(), UserId::new(), "v", now);
        let (body, sig) = state.split_once('.').unwrap();
        // Another user id in the body keeps the old signature: refused.
        let mut json: serde_json::Value =
            serde_json::from_slice(&B64.decode(body).unwrap()).unwrap();
        json["u"] = serde_json::json!(Uuid::now_v7());
        let forged = format!("{}.{sig}", B64.encode(serde_json::to_vec(&json).unwrap()));
        assert_eq!(s.verify(&forged, now), Err(StateError::Invalid));
        assert_eq!(
            signer("another secret of thirty-two chars!").verify(&state, now),
            Err(StateError::Invalid)
        );
        assert_eq!(s.verify("garbage", now), Err(StateError::Invalid));
        assert_eq!(
            s.verify(&state, now + STATE_LIFETIME),
            Err(StateError::Expired)
        );
    }
}
