use crate::VaultError;
use aes_gcm::aead::KeyInit;
use aes_gcm::{Aes256Gcm, Key};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// A key's name in envelopes and in `ENCLAVE_SECRET_KEYS`: 1 to 32 of `A-Z a-z 0-9 . _ -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(id: &str) -> Result<Self, VaultError> {
        let ok = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(id.to_string()))
        } else {
            Err(VaultError::Keys(format!(
                "{id:?} is not a key id: use 1 to 32 letters, digits, '.', '_' or '-'"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

struct KeyEntry {
    id: KeyId,
    cipher: Aes256Gcm,
    fingerprint: String,
    /// The key the server proves tenant contexts with (see [`KeySet::context_keys`]).
    context: Zeroizing<[u8; 32]>,
}

/// The configured keys: each id with its 32-byte key, one of them active.
pub struct KeySet {
    entries: Vec<KeyEntry>,
    active: usize,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.entries.iter().map(|e| e.id.as_str()).collect();
        write!(
            f,
            "KeySet(active {:?}, ids {:?})",
            self.active().as_str(),
            ids
        )
    }
}

impl KeySet {
    /// `id:hex[,id:hex…]`, 64 hex digits per key; the active key is marked with a leading
    /// `*` (a set of one key needs no mark). Example: `*2026-11:ab12…,2026-05:cd34…`.
    pub fn parse(spec: &str) -> Result<Self, VaultError> {
        let mut entries = Vec::new();
        let mut active = None;
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (marked, item) = match item.strip_prefix('*') {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            let (id, hex) = item.split_once(':').ok_or_else(|| {
                VaultError::Keys("each key is written id:hex (e.g. 2026-11:<64 hex digits>)".into())
            })?;
            let id = KeyId::parse(id.trim())?;
            let key = decode_key(hex.trim()).ok_or_else(|| {
                VaultError::Keys(format!(
                    "key {:?} must be 64 hexadecimal digits (32 bytes)",
                    id.as_str()
                ))
            })?;
            if entries.iter().any(|e: &KeyEntry| e.id == id) {
                return Err(VaultError::Keys(format!(
                    "key id {:?} is given twice",
                    id.as_str()
                )));
            }
            if marked {
                if active.is_some() {
                    return Err(VaultError::Keys(
                        "only one key may be marked active with '*'".into(),
                    ));
                }
                active = Some(entries.len());
            }
            entries.push(KeyEntry {
                fingerprint: fingerprint_of(&key),
                context: derive(&key, b"enclave context proof key v1"),
                cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_slice())),
                id,
            });
        }
        let active = match (active, entries.len()) {
            (_, 0) => return Err(VaultError::Keys("no key given".into())),
            (Some(i), _) => i,
            (None, 1) => 0,
            (None, _) => return Err(VaultError::Keys(
                "several keys are given: mark the one to seal with by writing '*' before its id"
                    .into(),
            )),
        };
        Ok(Self { entries, active })
    }

    pub fn active(&self) -> &KeyId {
        &self.entries[self.active].id
    }

    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.entries.iter().map(|e| &e.id)
    }

    /// Each key's derived context-proof key (HMAC-SHA256 of a fixed label under the key):
    /// the server proves to the database which user it acts for with it, and `enclave
    /// migrate` gives the database a copy. A different label from the fingerprint's, so
    /// neither reveals the other or the key.
    pub fn context_keys(&self) -> impl Iterator<Item = (&KeyId, &[u8; 32])> {
        self.entries.iter().map(|e| (&e.id, &*e.context))
    }

    /// The active key's context-proof key: the one the server proves with.
    pub fn active_context_key(&self) -> (&KeyId, &[u8; 32]) {
        let e = &self.entries[self.active];
        (&e.id, &*e.context)
    }

    /// HMAC-SHA256 of a fixed label under the key, hex: names the key without revealing
    /// it, so the database can hold it and a process can be refused the wrong key.
    pub fn fingerprint(&self, id: &str) -> Option<&str> {
        self.entry(id).map(|e| e.fingerprint.as_str())
    }

    fn entry(&self, id: &str) -> Option<&KeyEntry> {
        self.entries.iter().find(|e| e.id.as_str() == id)
    }

    pub(crate) fn cipher(&self, id: &KeyId) -> Option<&Aes256Gcm> {
        self.cipher_named(id.as_str())
    }

    pub(crate) fn cipher_named(&self, id: &str) -> Option<&Aes256Gcm> {
        self.entry(id).map(|e| &e.cipher)
    }

    pub(crate) fn ciphers(&self) -> impl Iterator<Item = &Aes256Gcm> {
        self.entries.iter().map(|e| &e.cipher)
    }

    /// Whether any key of the set is the given one (hex): used to refuse the public
    /// development key outside development.
    pub fn contains_key_hex(&self, hex: &str) -> bool {
        decode_key(hex).is_some_and(|key| {
            let fp = fingerprint_of(&key);
            self.entries.iter().any(|e| e.fingerprint == fp)
        })
    }
}

fn decode_key(hex: &str) -> Option<Zeroizing<Vec<u8>>> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Zeroizing::new)
}

fn derive(key: &[u8], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(label);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

fn fingerprint_of(key: &[u8]) -> String {
    derive(key, b"enclave vault key fingerprint v1")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
