//! Secrets we mint and verify: API keys, password hashes, and the claims of user tokens.
//!
//! - API keys (`pcal_<10-character id>_<32-character secret>`) and publishable widget keys
//!   (`pk_…`), one [`KeyShape`] each: looked up by their public prefix, stored only as a hash,
//!   compared in constant time.
//! - Passwords are hashed with Argon2id.
//! - User tokens are HS256 JWTs with `sub` = user id: the shape Supabase issues, so an existing
//!   Supabase front end can call us unchanged. Reading them off a request is the HTTP layer's
//!   job (`http::caller`).

use pillow_store::ApiKey;
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::error::DomainError;

/// How long a token from `POST /api/auth/login` lives.
pub const TOKEN_LIFETIME_HOURS: i64 = 12;

/// The shape of a key we mint: `<prefix><id>_<secret>`, found again by its public part
/// `<prefix><id>` and checked against a SHA-256 of the whole key (the key is long and random,
/// so a slow hash would add nothing).
#[derive(Debug, Clone, Copy)]
pub struct KeyShape {
    pub prefix: &'static str,
    id_len: usize,
    secret_len: usize,
}

/// API keys: `pcal_<10>_<32>`, acting for a tenant with admin rights.
pub const API_KEY: KeyShape = KeyShape {
    prefix: "pcal_",
    id_len: 10,
    secret_len: 32,
};

/// Publishable widget keys: `pk_<10>_<32>`, opening one agent's in-call API from the browser.
pub const WIDGET_KEY: KeyShape = KeyShape {
    prefix: "pk_",
    id_len: 10,
    secret_len: 32,
};

/// A freshly minted key: `key` is shown once and never stored.
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

impl KeyShape {
    /// Makes a new random key of this shape with its lookup prefix and hash.
    pub fn mint(&self) -> MintedKey {
        let prefix = format!("{}{}", self.prefix, random_text(self.id_len));
        let key = format!("{prefix}_{}", random_text(self.secret_len));
        MintedKey {
            secret_hash: hash_key(&key),
            key,
            prefix,
        }
    }

    /// The lookup prefix of a presented key, if it has this shape.
    pub fn lookup_prefix<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = key.strip_prefix(self.prefix)?;
        let (id, secret) = rest.split_once('_')?;
        (id.len() == self.id_len && secret.len() == self.secret_len)
            .then(|| &key[..self.prefix.len() + self.id_len])
    }
}

/// The SHA-256 of a whole key, as stored.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether a presented key hashes to the stored hash, compared in constant time.
pub fn key_matches(presented: &str, stored_hash: &str) -> bool {
    bool::from(hash_key(presented).as_bytes().ct_eq(stored_hash.as_bytes()))
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

/// Argon2id hash of a password, for storage.
pub fn hash_password(password: &str) -> Result<String, DomainError> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(DomainError::internal)
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

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use pillow_store::TenantId;
    use uuid::Uuid;

    #[test]
    fn minted_keys_have_the_recognisable_shape_and_hash_to_the_stored_value() {
        let minted = API_KEY.mint();
        assert!(minted.key.starts_with("pcal_"));
        assert_eq!(minted.key.len(), 5 + 10 + 1 + 32);
        assert_eq!(
            API_KEY.lookup_prefix(&minted.key),
            Some(minted.prefix.as_str())
        );
        assert_eq!(hash_key(&minted.key), minted.secret_hash);
        assert!(key_matches(&minted.key, &minted.secret_hash));
        assert!(!key_matches(&minted.key[1..], &minted.secret_hash));
        assert!(!minted.secret_hash.contains(&minted.key[16..]));
    }

    #[test]
    fn malformed_keys_have_no_prefix() {
        assert_eq!(API_KEY.lookup_prefix("pcal_short_secret"), None);
        assert_eq!(
            API_KEY.lookup_prefix("sk_live_0123456789_abcdefabcdefabcdefabcdefabcdefab"),
            None
        );
    }

    #[test]
    fn widget_keys_have_their_shape_and_hash() {
        let minted = WIDGET_KEY.mint();
        assert!(minted.key.starts_with("pk_"));
        assert_eq!(
            WIDGET_KEY.lookup_prefix(&minted.key),
            Some(minted.prefix.as_str())
        );
        assert_eq!(hash_key(&minted.key), minted.secret_hash);
        assert_eq!(WIDGET_KEY.lookup_prefix("pk_short_x"), None);
        assert_eq!(
            WIDGET_KEY.lookup_prefix(&minted.key.replace("pk_", "pcal_")),
            None
        );
    }

    #[test]
    fn the_key_cache_answers_what_was_put_and_nothing_else() {
        let cache = ApiKeyCache::default();
        let minted = API_KEY.mint();
        assert!(cache.get(&minted.prefix).is_none());
        let key = ApiKey {
            id: Uuid::now_v7(),
            tenant_id: TenantId::new(),
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
