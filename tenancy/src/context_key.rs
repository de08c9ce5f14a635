//! The server's proof that it asked for a context (migration 0027, issue 14).
//!
//! The database's doors (`enter_context`, `enter_user`, `admin_begin`,
//! `open_system_path`) refuse a caller that cannot show HMAC-SHA256 under a key only the
//! server's memory and the owner's copy in `enclave.context_proof_keys` hold, so SQL
//! running as the runtime role cannot act for a user whose id it has found.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt::Write;
use std::sync::Arc;
use uuid::Uuid;
use zeroize::Zeroizing;

/// One context-proof key: its id (the sealing key's id in `ENCLAVE_SECRET_KEYS`) and the
/// 32 bytes derived from that key. Cloning shares it; it never prints its bytes.
#[derive(Clone)]
pub struct ContextKey(Arc<KeyMaterial>);

struct KeyMaterial {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for ContextKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContextKey({:?})", self.0.id)
    }
}

impl ContextKey {
    pub fn new(id: &str, key: &[u8; 32]) -> Self {
        Self(Arc::new(KeyMaterial {
            id: id.to_string(),
            key: Zeroizing::new(*key),
        }))
    }

    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The proof that the server acts for `user` (`enter_user`, `enter_context`,
    /// `admin_begin` and the functions built on them).
    pub fn user_proof(&self, user: Uuid) -> String {
        self.proof(&format!("user/{user}"))
    }

    /// The proof that the server opens the audited system path (`open_system_path`).
    pub fn system_proof(&self) -> String {
        self.proof("system")
    }

    /// Whether the database holds this key (`enclave migrate` writes it from
    /// ENCLAVE_SECRET_KEYS): it answers only whether a proof of the fixed message `check`
    /// holds. Used at start-up ([`crate::Database::context_key_installed`]) and by
    /// `enclave doctor`.
    pub async fn installed_in<'c>(
        &self,
        exec: impl sqlx::PgExecutor<'c>,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT enclave.context_key_installed($1)")
            .persistent(false)
            .bind(self.proof("check"))
            .fetch_one(exec)
            .await
    }

    fn proof(&self, message: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&*self.0.key).expect("HMAC takes any key length");
        mac.update(message.as_bytes());
        let mut proof = String::with_capacity(self.0.id.len() + 65);
        proof.push_str(&self.0.id);
        proof.push('/');
        for b in mac.finalize().into_bytes() {
            // Every request proves its context: no allocation per byte.
            let _ = write!(proof, "{b:02x}");
        }
        proof
    }

    /// The HMAC pads the database stores (`enclave.context_proof_keys`): the key padded
    /// to SHA-256's 64-byte block, xor-ed with 0x36 and 0x5c.
    pub fn pads(&self) -> (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>) {
        let mut inner = Zeroizing::new(vec![0x36u8; 64]);
        let mut outer = Zeroizing::new(vec![0x5cu8; 64]);
        for (i, b) in self.0.key.iter().enumerate() {
            inner[i] ^= b;
            outer[i] ^= b;
        }
        (inner, outer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_names_its_key_and_differs_per_user_message_and_key() {
        let a = ContextKey::new("k1", &[7; 32]);
        let b = ContextKey::new("k1", &[8; 32]);
        let user = Uuid::from_u128(1);
        let proof = a.user_proof(user);
        assert!(proof.starts_with("k1/") && proof.len() == 3 + 64, "{proof}");
        assert_ne!(proof, a.user_proof(Uuid::from_u128(2)));
        assert_ne!(proof, b.user_proof(user));
        assert_ne!(a.system_proof(), a.proof("check"));
        assert!(!format!("{a:?}").contains("0707"));
    }

    #[test]
    fn the_pads_give_the_same_hmac_as_the_library() {
        use sha2::Digest;
        let key = ContextKey::new("k", &[42; 32]);
        let (inner, outer) = key.pads();
        let inner_hash = Sha256::digest([&inner[..], b"system"].concat());
        let mac = Sha256::digest([&outer[..], &inner_hash[..]].concat());
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(format!("k/{hex}"), key.system_proof());
    }
}
