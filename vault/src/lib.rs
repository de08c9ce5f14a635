//! Sealed secrets at rest (provider tokens, queued mail).
//!
//! A secret is sealed into an [`Envelope`]: a self-describing, versioned byte string
//!
//! ```text
//! "EV" | version (1) | key id length (1) | key id | nonce (12) | AES-256-GCM ciphertext and tag
//! ```
//!
//! whose associated data is the header and the [`Binding`] (purpose, organization,
//! workspace, record). An envelope copied into another tenant's row, another record or
//! another column does not open, and a changed byte anywhere (key id included) does not
//! either. Plain secrets ([`Secret`]) and envelopes are different types, and sealing bytes
//! that already are an envelope is refused, so nothing is sealed twice.
//!
//! Keys come from configuration as a [`KeySet`]: key id → 32-byte key, one active (new
//! envelopes are sealed under it; the others still open what they sealed). The database
//! keeps each key id's [`KeySet::fingerprint`] so a process started with the wrong keys is
//! refused before it seals or opens anything.

mod envelope;
mod keys;

pub use envelope::{Binding, Envelope, Secret, FORMAT_VERSION};
pub use keys::{KeyId, KeySet};

use aes_gcm::aead::{Aead, AeadCore, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VaultError {
    #[error("the value is not a sealed envelope")]
    NotAnEnvelope,
    #[error("the envelope has format version {0}, which this release cannot open")]
    UnsupportedVersion(u8),
    #[error("the envelope was sealed with key {0:?}, which is not in the configured key set")]
    UnknownKey(String),
    #[error("the envelope does not open: damaged, sealed with another key of the same id, or bound to another record")]
    Open,
    #[error("refused to seal a value that already is a sealed envelope")]
    AlreadySealed,
    #[error("{0}")]
    Keys(String),
}

/// Seals and opens envelopes with a key set. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    keys: Arc<KeySet>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault(active key {:?})", self.keys.active().as_str())
    }
}

impl Vault {
    pub fn new(keys: KeySet) -> Self {
        Self {
            keys: Arc::new(keys),
        }
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Seals under the active key. Refuses a value that is itself an envelope.
    pub fn seal(&self, secret: &Secret, binding: &Binding) -> Result<Envelope, VaultError> {
        if Envelope::looks_sealed(secret.expose().as_bytes()) {
            return Err(VaultError::AlreadySealed);
        }
        let key_id = self.keys.active();
        let header = Envelope::header(key_id);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = binding.associated_data(&header);
        let sealed = self
            .keys
            .cipher(key_id)
            .expect("the active key is in the set")
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Open)?;
        let mut bytes = header;
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(Envelope::from_parts(bytes))
    }

    pub fn open(&self, envelope: &Envelope, binding: &Binding) -> Result<Secret, VaultError> {
        let key_id = envelope.key_id();
        let cipher = self
            .keys
            .cipher_named(key_id)
            .ok_or_else(|| VaultError::UnknownKey(key_id.to_string()))?;
        let (header, nonce, body) = envelope.parts();
        let aad = binding.associated_data(header);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Open)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| VaultError::Open)
    }

    /// The same secret under the active key, or `None` when it already is.
    pub fn reseal(
        &self,
        envelope: &Envelope,
        binding: &Binding,
    ) -> Result<Option<Envelope>, VaultError> {
        if envelope.key_id() == self.keys.active().as_str() {
            return Ok(None);
        }
        let secret = self.open(envelope, binding)?;
        self.seal(&secret, binding).map(Some)
    }

    /// Opens a value sealed before envelopes existed (nonce | ciphertext, no associated
    /// data): only queued mail from before migration 0024 is like that, and
    /// `enclave rotate-keys` turns it into envelopes. Tries every key of the set.
    pub fn open_unversioned(&self, bytes: &[u8]) -> Result<Secret, VaultError> {
        if bytes.len() <= 12 {
            return Err(VaultError::Open);
        }
        let (nonce, body) = bytes.split_at(12);
        self.keys
            .ciphers()
            .find_map(|cipher| cipher.decrypt(Nonce::from_slice(nonce), body).ok())
            .and_then(|plain| String::from_utf8(plain).ok())
            .map(Secret::new)
            .ok_or(VaultError::Open)
    }
}

#[cfg(test)]
mod tests;
