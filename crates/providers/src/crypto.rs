//! AES-256-GCM encryption of secrets at rest.
//!
//! Ciphertexts are self-describing text, `v1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`, so a
//! key rotation can tell which key sealed a value and several keys can be accepted at once. The
//! key id is the first 8 hex digits of SHA-256 of the key: it names the key without revealing it.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use sha2::{Digest, Sha256};
use thiserror::Error;

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The configured key is not 64 hexadecimal characters.
    #[error("an encryption key must be 64 hexadecimal characters (32 bytes)")]
    MalformedKey,
    /// The value was sealed under a key we do not hold.
    #[error("sealed under key {0}, which is not configured")]
    UnknownKey(String),
    /// The value is not in our format or was tampered with.
    #[error("the sealed value is malformed or was tampered with")]
    Corrupt,
}

/// One AES-256 key with its public id.
#[derive(Clone)]
pub struct SecretKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({}, [REDACTED])", self.id)
    }
}

impl SecretKey {
    /// Parses a key written as 64 hexadecimal characters, as `pillow-calendar keygen` prints.
    ///
    /// # Errors
    /// [`CryptoError::MalformedKey`] for anything but 32 bytes in hex.
    pub fn from_hex(hex_key: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| CryptoError::MalformedKey)?;
        if bytes.len() != 32 {
            return Err(CryptoError::MalformedKey);
        }
        let id = hex::encode(&Sha256::digest(&bytes)[..4]);
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CryptoError::MalformedKey)?;
        Ok(Self { id, cipher })
    }

    /// A fresh random key in hex, for `keygen`.
    pub fn generate_hex() -> String {
        hex::encode(Aes256Gcm::generate_key(OsRng))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Seals with the current key and opens with any configured one.
#[derive(Clone, Debug)]
pub struct SecretBox {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl SecretBox {
    pub fn new(current: SecretKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Also accept values sealed under an older key (during a rotation).
    pub fn with_previous(mut self, key: SecretKey) -> Self {
        self.previous.push(key);
        self
    }

    /// Encrypts with a fresh random nonce: sealing the same text twice gives different output.
    pub fn seal(&self, plaintext: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .current
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            // AES-GCM encryption fails only for inputs over 64 GiB.
            .expect("secret too large to encrypt");
        let mut payload = nonce.to_vec();
        payload.extend_from_slice(&ciphertext);
        format!("{VERSION}:{}:{}", self.current.id, BASE64.encode(payload))
    }

    /// Decrypts a value made by [`SecretBox::seal`].
    ///
    /// # Errors
    /// [`CryptoError::UnknownKey`] when no configured key has the value's key id,
    /// [`CryptoError::Corrupt`] when the format is wrong or authentication fails.
    pub fn open(&self, sealed: &str) -> Result<String, CryptoError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some(VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Corrupt);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| CryptoError::UnknownKey(key_id.to_string()))?;
        let payload = BASE64.decode(body).map_err(|_| CryptoError::Corrupt)?;
        if payload.len() < NONCE_LEN {
            return Err(CryptoError::Corrupt);
        }
        let (nonce, ciphertext) = payload.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Corrupt)?;
        let plaintext = key
            .cipher
            .decrypt(&Nonce::from(nonce), ciphertext)
            .map_err(|_| CryptoError::Corrupt)?;
        String::from_utf8(plaintext).map_err(|_| CryptoError::Corrupt)
    }

    /// The id of the key new values are sealed with.
    pub fn current_key_id(&self) -> &str {
        self.current.id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed() -> SecretBox {
        SecretBox::new(SecretKey::from_hex(&SecretKey::generate_hex()).unwrap())
    }

    #[test]
    fn a_sealed_secret_opens_to_the_same_text_and_does_not_contain_it() {
        let secrets = boxed();
        let sealed = secrets.seal("cal_live_0123456789");
        assert!(!sealed.contains("cal_live"));
        assert!(sealed.starts_with(&format!("v1:{}:", secrets.current_key_id())));
        assert_eq!(secrets.open(&sealed).unwrap(), "cal_live_0123456789");
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let secrets = boxed();
        assert_ne!(secrets.seal("same"), secrets.seal("same"));
    }

    #[test]
    fn a_tampered_ciphertext_is_rejected() {
        let secrets = boxed();
        let mut sealed = secrets.seal("token").into_bytes();
        let last = sealed.len() - 2;
        sealed[last] = if sealed[last] == b'A' { b'B' } else { b'A' };
        let sealed = String::from_utf8(sealed).unwrap();
        assert_eq!(secrets.open(&sealed), Err(CryptoError::Corrupt));
    }

    #[test]
    fn a_value_sealed_under_another_key_names_that_key() {
        let old = boxed();
        let new = boxed();
        let sealed = old.seal("token");
        assert_eq!(
            new.open(&sealed),
            Err(CryptoError::UnknownKey(old.current_key_id().to_string()))
        );
        let rotating = new.with_previous(old.current.clone());
        assert_eq!(rotating.open(&sealed).unwrap(), "token");
    }

    #[test]
    fn keys_must_be_32_bytes_of_hex() {
        assert_eq!(
            SecretKey::from_hex("abc").unwrap_err(),
            CryptoError::MalformedKey
        );
        assert_eq!(
            SecretKey::from_hex(&"zz".repeat(32)).unwrap_err(),
            CryptoError::MalformedKey
        );
        assert!(SecretKey::from_hex(&"ab".repeat(32)).is_ok());
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let hex_key = "cd".repeat(32);
        let key = SecretKey::from_hex(&hex_key).unwrap();
        let shown = format!("{:?}", SecretBox::new(key));
        assert!(!shown.contains(&hex_key) && shown.contains("REDACTED"));
    }
}
