use crate::keys::KeyId;
use crate::VaultError;
use uuid::Uuid;
use zeroize::Zeroizing;

const MAGIC: &[u8; 2] = b"EV";
pub const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A plain secret (a token, a mail body). Wiped from memory when dropped, never printed.
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The plain value, for the one place that sends it (an HTTP header, an SMTP body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A sealed value as stored (`bytea`). Only [`crate::Vault::seal`] makes one from a
/// secret; [`Envelope::from_stored`] checks the header of bytes read back.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    bytes: Vec<u8>,
    key_id_end: usize,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Envelope(v{}, key {:?}, {} bytes)",
            FORMAT_VERSION,
            self.key_id(),
            self.bytes.len()
        )
    }
}

impl Envelope {
    pub(crate) fn header(key_id: &KeyId) -> Vec<u8> {
        let id = key_id.as_str().as_bytes();
        let mut header = Vec::with_capacity(4 + id.len() + NONCE_LEN + 64);
        header.extend_from_slice(MAGIC);
        header.push(FORMAT_VERSION);
        header.push(id.len() as u8);
        header.extend_from_slice(id);
        header
    }

    pub(crate) fn from_parts(bytes: Vec<u8>) -> Self {
        Self::from_stored(bytes).expect("a freshly sealed envelope parses")
    }

    /// Bytes read from the database. Checks the magic, the version, the key id and the
    /// lengths; whether it opens is [`crate::Vault::open`]'s business.
    pub fn from_stored(bytes: Vec<u8>) -> Result<Self, VaultError> {
        if bytes.len() < 4 || &bytes[..2] != MAGIC {
            return Err(VaultError::NotAnEnvelope);
        }
        if bytes[2] != FORMAT_VERSION {
            return Err(VaultError::UnsupportedVersion(bytes[2]));
        }
        let key_id_end = 4 + bytes[3] as usize;
        let key_id_ok = bytes
            .get(4..key_id_end)
            .and_then(|id| std::str::from_utf8(id).ok())
            .is_some_and(|id| KeyId::parse(id).is_ok());
        if !key_id_ok || bytes.len() < key_id_end + NONCE_LEN + TAG_LEN {
            return Err(VaultError::NotAnEnvelope);
        }
        Ok(Self { bytes, key_id_end })
    }

    /// Whether bytes are a well-formed envelope of any version we know: the check that
    /// stops sealing twice.
    pub(crate) fn looks_sealed(bytes: &[u8]) -> bool {
        Self::from_stored(bytes.to_vec()).is_ok()
    }

    pub fn key_id(&self) -> &str {
        std::str::from_utf8(&self.bytes[4..self.key_id_end]).expect("checked in from_stored")
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub(crate) fn parts(&self) -> (&[u8], &[u8], &[u8]) {
        let (header, rest) = self.bytes.split_at(self.key_id_end);
        let (nonce, body) = rest.split_at(NONCE_LEN);
        (header, nonce, body)
    }
}

/// Where a sealed value belongs. It is the envelope's associated data, so the envelope
/// opens only where it was sealed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    purpose: &'static str,
    org: Uuid,
    workspace: Option<Uuid>,
    record: String,
}

impl Binding {
    /// A connected account's token. `which` is the column: "access" or "refresh".
    pub fn connection_token(
        org: Uuid,
        workspace: Option<Uuid>,
        connection: Uuid,
        which: &'static str,
    ) -> Self {
        Self {
            purpose: "connection_token",
            org,
            workspace,
            record: format!("{connection}/{which}"),
        }
    }

    /// A queued mail's body (its id is made by the database, so the organization binds it).
    pub fn mail(org: Uuid) -> Self {
        Self {
            purpose: "mail_body",
            org,
            workspace: None,
            record: String::new(),
        }
    }

    pub(crate) fn associated_data(&self, header: &[u8]) -> Vec<u8> {
        let workspace = self.workspace.map(|w| w.to_string()).unwrap_or_default();
        let mut aad = header.to_vec();
        for part in [
            "enclave.vault",
            self.purpose,
            &self.org.to_string(),
            &workspace,
            &self.record,
        ] {
            aad.push(0);
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}
