//! Mail bodies are sealed (AES-256-GCM, from the `aes-gcm` crate) before they reach the
//! outbox table: an invitation mail carries its link, and the database must never hold a
//! usable token. The key comes from configuration (`ENCLAVE_SECRET_KEY`).

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use thiserror::Error;

const NONCE_LEN: usize = 12;

#[derive(Debug, Error)]
pub enum SealError {
    #[error("the secret key must be 64 hexadecimal characters (32 bytes)")]
    BadKey,
    #[error("sealed data is damaged or was sealed with another key")]
    Open,
}

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn from_hex(key_hex: &str) -> Result<Self, SealError> {
        let key = key_hex.trim();
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SealError::BadKey);
        }
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&key[2 * i..2 * i + 2], 16).map_err(|_| SealError::BadKey))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
        })
    }

    /// nonce (12 bytes) followed by ciphertext and tag.
    pub fn seal(&self, plain: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            self.cipher
                .encrypt(&nonce, plain.as_bytes())
                .expect("AES-GCM encryption of an in-memory buffer does not fail"),
        );
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, SealError> {
        if sealed.len() <= NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_body_opens_only_with_its_key() {
        let a = Sealer::from_hex(&"11".repeat(32)).unwrap();
        let b = Sealer::from_hex(&"22".repeat(32)).unwrap();
        let sealed = a.seal("join us: https://x/invitations/1/2?token=s3cret");
        assert!(!String::from_utf8_lossy(&sealed).contains("s3cret"));
        assert_eq!(
            a.open(&sealed).unwrap(),
            "join us: https://x/invitations/1/2?token=s3cret"
        );
        assert!(matches!(b.open(&sealed), Err(SealError::Open)));
        assert!(matches!(Sealer::from_hex("abc"), Err(SealError::BadKey)));
    }
}
