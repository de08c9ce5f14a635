//! Mail bodies are sealed before they reach the outbox table: an invitation mail carries
//! its link, and the database must never hold a usable token. They use the vault's
//! envelope like every other sealed value (bound to the organization); bodies queued
//! before envelopes (migration 0024) still open, and `enclave rotate-keys` converts them.

use vault::{Binding, Envelope, Secret, Vault, VaultError};

pub fn seal_body(vault: &Vault, org: uuid::Uuid, body: &str) -> Result<Vec<u8>, VaultError> {
    vault
        .seal(&Secret::new(body), &Binding::mail(org))
        .map(Envelope::into_bytes)
}

pub fn open_body(vault: &Vault, org: uuid::Uuid, stored: &[u8]) -> Result<Secret, VaultError> {
    match Envelope::from_stored(stored.to_vec()) {
        Ok(envelope) => vault.open(&envelope, &Binding::mail(org)),
        Err(VaultError::NotAnEnvelope) => vault.open_unversioned(stored),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_opens_only_for_its_organization_and_with_its_key() {
        let a = Vault::new(vault::KeySet::parse(&format!("a:{}", "11".repeat(32))).unwrap());
        let b = Vault::new(vault::KeySet::parse(&format!("a:{}", "22".repeat(32))).unwrap());
        let org = uuid::Uuid::from_u128(1);
        let sealed = seal_body(&a, org, "join us: https://x/invitations/1/2?token=s3cret").unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("s3cret"));
        assert_eq!(
            open_body(&a, org, &sealed).unwrap().expose(),
            "join us: https://x/invitations/1/2?token=s3cret"
        );
        assert_eq!(open_body(&b, org, &sealed).unwrap_err(), VaultError::Open);
        assert_eq!(
            open_body(&a, uuid::Uuid::from_u128(2), &sealed).unwrap_err(),
            VaultError::Open
        );
    }
}
