//! Invitation tokens: 32 random bytes, shown once (in the link), stored only as SHA-256.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::OsRng;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub struct InvitationToken {
    /// The secret that goes into the link; never stored.
    pub secret: String,
    pub hash: Vec<u8>,
}

pub fn new_token() -> InvitationToken {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&secret);
    InvitationToken { secret, hash }
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.trim().as_bytes()).to_vec()
}

/// The link an invitee opens. It names the organization and the invitation; the secret
/// proves the link was issued for them.
pub fn invitation_link(public_url: &str, org: Uuid, invitation: Uuid, secret: &str) -> String {
    format!(
        "{}/invitations/{org}/{invitation}?token={secret}",
        public_url.trim_end_matches('/')
    )
}
