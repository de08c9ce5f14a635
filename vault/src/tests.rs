use super::*;
use uuid::Uuid;

const A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const B: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn vault(spec: &str) -> Vault {
    Vault::new(KeySet::parse(spec).unwrap())
}

fn token_binding(org: Uuid) -> Binding {
    Binding::connection_token(org, None, Uuid::from_u128(7), "access")
}

#[test]
fn a_sealed_token_opens_only_with_its_key_and_its_binding() {
    let v = vault(&format!("k1:{A}"));
    let org = Uuid::from_u128(1);
    let env = v
        .seal(&Secret::new("access-token-s3cret"), &token_binding(org))
        .unwrap();
    assert!(!String::from_utf8_lossy(env.as_bytes()).contains("s3cret"));
    assert_eq!(env.key_id(), "k1");
    assert_eq!(
        v.open(&env, &token_binding(org)).unwrap().expose(),
        "access-token-s3cret"
    );

    // The same key id holding another key: refused, not garbage.
    let other = vault(&format!("k1:{B}"));
    assert_eq!(
        other.open(&env, &token_binding(org)).unwrap_err(),
        VaultError::Open
    );
    // A key set without the id names the id.
    let unknown = vault(&format!("k2:{A}"));
    assert_eq!(
        unknown.open(&env, &token_binding(org)).unwrap_err(),
        VaultError::UnknownKey("k1".into())
    );
}

#[test]
fn an_envelope_moved_to_another_tenant_workspace_record_or_column_does_not_open() {
    let v = vault(&format!("k1:{A}"));
    let (org, ws, conn) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
    let here = Binding::connection_token(org, Some(ws), conn, "refresh");
    let env = v.seal(&Secret::new("refresh-token"), &here).unwrap();
    for elsewhere in [
        Binding::connection_token(Uuid::from_u128(9), Some(ws), conn, "refresh"),
        Binding::connection_token(org, Some(Uuid::from_u128(9)), conn, "refresh"),
        Binding::connection_token(org, None, conn, "refresh"),
        Binding::connection_token(org, Some(ws), Uuid::from_u128(9), "refresh"),
        Binding::connection_token(org, Some(ws), conn, "access"),
        Binding::mail(org),
    ] {
        assert_eq!(
            v.open(&env, &elsewhere).unwrap_err(),
            VaultError::Open,
            "{elsewhere:?}"
        );
    }
    assert!(v.open(&env, &here).is_ok());
}

#[test]
fn one_changed_byte_anywhere_is_refused() {
    let v = vault(&format!("k1:{A}"));
    let b = Binding::mail(Uuid::from_u128(1));
    let env = v.seal(&Secret::new("join us"), &b).unwrap();
    for i in 0..env.as_bytes().len() {
        let mut bytes = env.as_bytes().to_vec();
        bytes[i] ^= 0x01;
        let opened = Envelope::from_stored(bytes).and_then(|e| v.open(&e, &b));
        assert!(opened.is_err(), "byte {i} changed and it still opened");
    }
    let mut short = env.as_bytes().to_vec();
    short.truncate(short.len() - 1);
    assert!(Envelope::from_stored(short)
        .and_then(|e| v.open(&e, &b))
        .is_err());
}

#[test]
fn the_header_says_what_it_is() {
    let v = vault(&format!("k1:{A}"));
    let env = v
        .seal(&Secret::new("x"), &Binding::mail(Uuid::nil()))
        .unwrap();
    let mut future = env.as_bytes().to_vec();
    future[2] = 9;
    assert_eq!(
        Envelope::from_stored(future).unwrap_err(),
        VaultError::UnsupportedVersion(9)
    );
    assert_eq!(
        Envelope::from_stored(b"plain old bytes".to_vec()).unwrap_err(),
        VaultError::NotAnEnvelope
    );
    assert_eq!(
        format!("{env:?}"),
        format!("Envelope(v1, key \"k1\", {} bytes)", env.as_bytes().len())
    );
    assert_eq!(format!("{:?}", Secret::new("s3cret")), "Secret(..)");
}

#[test]
fn sealing_an_envelope_again_is_refused() {
    let v = vault(&format!("k1:{A}"));
    let b = Binding::mail(Uuid::nil());
    // Sealed bytes that found their way back into a plain value (a code change that
    // seals what it read from the database) are refused, not wrapped again.
    let env = v.seal(&Secret::new("body"), &b).unwrap();
    let mut text_envelope = env.as_bytes()[..6].to_vec();
    text_envelope.extend_from_slice(&[b'z'; 40]);
    assert!(Envelope::from_stored(text_envelope.clone()).is_ok());
    assert_eq!(
        v.seal(&Secret::new(String::from_utf8(text_envelope).unwrap()), &b)
            .unwrap_err(),
        VaultError::AlreadySealed
    );
    // Bytes that are valid UTF-8 and an envelope header are refused the same way.
    let mut fake = b"EV\x01\x02k1".to_vec();
    fake.extend_from_slice(&[b'a'; 40]);
    assert_eq!(
        v.seal(&Secret::new(String::from_utf8(fake).unwrap()), &b)
            .unwrap_err(),
        VaultError::AlreadySealed
    );
}

#[test]
fn after_rotation_old_envelopes_open_and_reseal_under_the_active_key() {
    let org = Uuid::from_u128(5);
    let b = token_binding(org);
    let before = vault(&format!("k1:{A}"));
    let old = before.seal(&Secret::new("tok"), &b).unwrap();

    let during = vault(&format!("k1:{A},*k2:{B}"));
    assert_eq!(during.keys().active().as_str(), "k2");
    assert_eq!(during.open(&old, &b).unwrap().expose(), "tok");
    let new = during
        .reseal(&old, &b)
        .unwrap()
        .expect("k1 is not the active key");
    assert_eq!(new.key_id(), "k2");
    assert!(
        during.reseal(&new, &b).unwrap().is_none(),
        "already under the active key"
    );

    let after = vault(&format!("k2:{B}"));
    assert_eq!(after.open(&new, &b).unwrap().expose(), "tok");
    assert_eq!(
        after.open(&old, &b).unwrap_err(),
        VaultError::UnknownKey("k1".into())
    );
}

#[test]
fn mail_sealed_before_envelopes_still_opens() {
    use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
    let key: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&A[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key).unwrap();
    let nonce = aes_gcm::Aes256Gcm::generate_nonce(&mut OsRng);
    let mut legacy = nonce.to_vec();
    legacy.extend(cipher.encrypt(&nonce, b"old body".as_ref()).unwrap());
    let v = vault(&format!("*k2:{B},k1:{A}"));
    assert_eq!(v.open_unversioned(&legacy).unwrap().expose(), "old body");
    assert!(vault(&format!("k2:{B}")).open_unversioned(&legacy).is_err());
}

#[test]
fn key_sets_are_parsed_strictly() {
    assert!(KeySet::parse("").is_err());
    assert!(KeySet::parse(&format!("k1:{}", &A[..62])).is_err());
    assert!(KeySet::parse(&format!("k 1:{A}")).is_err());
    assert!(
        KeySet::parse(&format!("k1:{A},k2:{B}")).is_err(),
        "two keys, none active"
    );
    assert!(
        KeySet::parse(&format!("*k1:{A},*k2:{B}")).is_err(),
        "two active"
    );
    assert!(
        KeySet::parse(&format!("k1:{A},*k1:{B}")).is_err(),
        "same id twice"
    );
    let set = KeySet::parse(&format!(" k1:{A} , *k2:{B} ")).unwrap();
    assert_eq!(set.active().as_str(), "k2");
    let (f1, f2) = (
        set.fingerprint("k1").unwrap(),
        set.fingerprint("k2").unwrap(),
    );
    assert_eq!(f1.len(), 64);
    assert_ne!(f1, f2);
    assert_eq!(
        KeySet::parse(&format!("other:{A}"))
            .unwrap()
            .fingerprint("other")
            .unwrap(),
        f1
    );
    assert!(!f1.contains(&A[..8]));
    assert!(set.contains_key_hex(B) && !set.contains_key_hex(&"33".repeat(32)));
    assert!(!format!("{set:?}").contains(&A[..8]));
}

#[test]
fn each_key_derives_its_own_context_key_which_is_neither_the_key_nor_its_fingerprint() {
    let k1 = "11".repeat(32);
    let set = KeySet::parse(&format!("a:{k1},*b:{}", "22".repeat(32))).unwrap();
    let again = KeySet::parse(&format!("a:{k1}")).unwrap();
    let keys: Vec<_> = set
        .context_keys()
        .map(|(id, k)| (id.as_str(), *k))
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0].1, keys[1].1);
    assert_eq!(set.active_context_key().0.as_str(), "b");
    assert_eq!(&keys[1].1, set.active_context_key().1);
    // The same key gives the same context key, whatever else is configured.
    assert_eq!(&keys[0].1, again.active_context_key().1);
    let hex: String = keys[0].1.iter().map(|b| format!("{b:02x}")).collect();
    assert_ne!(hex, k1);
    assert_ne!(Some(hex.as_str()), set.fingerprint("a"));
}
