//! Master keys (key-encryption keys) and the keyring the store is opened with.
//!
//! A [`MasterKey`] wraps the per-customer data keys; it never leaves this crate's crypto code,
//! never prints (its `Debug` is redacted), and its bytes are zeroed on drop. A [`Keyring`] holds
//! the active master key (new data keys are wrapped with it) and older ones that stay readable
//! until `Store::rotate_master_key` has re-wrapped everything.
//!
//! Key file format (text, one key a line, `#` comments): `<key id> <base64 of 32 bytes>`. The
//! first key is the active one, later lines are old keys. [`Keyring::from_file_or_create`]
//! writes a fresh file with mode 0600 when none exists.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

/// Why key material could not be loaded. Never carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a master key must be exactly 32 bytes")]
    Length,
    #[error("a master key must be base64 of 32 bytes")]
    Base64,
    #[error("invalid key id (1 to 64 characters of A-Z a-z 0-9 . _ -)")]
    KeyId,
    #[error("key file line {0} is not `<key id> <base64 key>`")]
    FileLine(usize),
    #[error("key file holds no key")]
    EmptyFile,
    #[error("key id used twice in the keyring")]
    DuplicateKeyId,
    #[error("cannot read or write the key file: {0}")]
    Io(std::io::ErrorKind),
}

impl From<std::io::Error> for KeyError {
    fn from(e: std::io::Error) -> Self {
        KeyError::Io(e.kind())
    }
}

/// The name of a master key, stored next to every data key it wraps (not secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    pub fn new(s: &str) -> Result<KeyId, KeyError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(KeyError::KeyId)
        }
    }

    /// A fresh random id, `mk-` and 16 hex digits.
    pub fn generate() -> KeyId {
        let mut b = [0u8; 8];
        rand::rng().fill_bytes(&mut b);
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        KeyId(format!("mk-{hex}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for KeyId {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        KeyId::new(s)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 256-bit master key. Zeroed on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(Zeroizing::new(bytes))
    }

    /// From exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<MasterKey, KeyError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length)?;
        Ok(MasterKey::from_bytes(arr))
    }

    /// From standard base64 of 32 bytes (surrounding whitespace ignored).
    pub fn from_base64(s: &str) -> Result<MasterKey, KeyError> {
        let bytes = Zeroizing::new(STANDARD.decode(s.trim()).map_err(|_| KeyError::Base64)?);
        MasterKey::from_slice(&bytes).map_err(|_| KeyError::Base64)
    }

    /// From a file holding either the base64 text of the key or its 32 raw bytes.
    pub fn from_file(path: &Path) -> Result<MasterKey, KeyError> {
        let bytes = Zeroizing::new(std::fs::read(path)?);
        if bytes.len() == 32 {
            return MasterKey::from_slice(&bytes);
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| KeyError::Base64)?;
        MasterKey::from_base64(text)
    }

    /// 32 bytes from the operating system's CSPRNG (through `rand`'s thread generator).
    pub fn generate() -> MasterKey {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(k.as_mut());
        MasterKey(k)
    }

    /// The key as base64, for writing a key file. The returned string is zeroed on drop.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_ref()))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// The master keys the store may use: `active` wraps new data keys; `old` keys only unwrap.
#[derive(Clone)]
pub struct Keyring {
    pub active: (KeyId, MasterKey),
    pub old: Vec<(KeyId, MasterKey)>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let old: Vec<&KeyId> = self.old.iter().map(|(id, _)| id).collect();
        f.debug_struct("Keyring")
            .field("active", &self.active.0)
            .field("old", &old)
            .finish()
    }
}

impl Keyring {
    /// One active key, no old ones.
    pub fn single(id: KeyId, key: MasterKey) -> Keyring {
        Keyring {
            active: (id, key),
            old: Vec::new(),
        }
    }

    /// A keyring with one freshly generated key (tests, throwaway stores).
    pub fn generate() -> Keyring {
        Keyring::single(KeyId::generate(), MasterKey::generate())
    }

    /// The key with this id, active or old.
    pub fn get(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.active)
            .chain(self.old.iter())
            .find(|(k, _)| k.as_str() == id)
            .map(|(_, key)| key)
    }

    /// Every (id, key), the active one first.
    pub fn all(&self) -> impl Iterator<Item = &(KeyId, MasterKey)> {
        std::iter::once(&self.active).chain(self.old.iter())
    }

    /// Makes `new` the active key; the previous active key (and every old one) stays readable.
    /// Re-activating a key that is already in the ring moves it to the front.
    pub(crate) fn activate(&mut self, new: (KeyId, MasterKey)) {
        let prev = std::mem::replace(&mut self.active, new);
        let active_id = self.active.0.clone();
        self.old.retain(|(id, _)| *id != active_id);
        if prev.0 != active_id {
            self.old.insert(0, prev);
        }
    }

    /// Parses the key file text (see the module docs).
    pub fn parse(text: &str) -> Result<Keyring, KeyError> {
        let mut keys: Vec<(KeyId, MasterKey)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(id), Some(b64), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(KeyError::FileLine(i + 1));
            };
            let id = KeyId::new(id).map_err(|_| KeyError::FileLine(i + 1))?;
            if keys.iter().any(|(k, _)| *k == id) {
                return Err(KeyError::DuplicateKeyId);
            }
            keys.push((id, MasterKey::from_base64(b64)?));
        }
        let mut it = keys.into_iter();
        let active = it.next().ok_or(KeyError::EmptyFile)?;
        Ok(Keyring {
            active,
            old: it.collect(),
        })
    }

    /// The key file text for this keyring. Zeroed on drop.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::from(
            "# okienko master keys: `<key id> <base64>`; the first line is the active key.\n",
        ));
        for (id, key) in self.all() {
            out.push_str(id.as_str());
            out.push(' ');
            out.push_str(&key.to_base64());
            out.push('\n');
        }
        out
    }

    /// Reads a key file.
    pub fn from_file(path: &Path) -> Result<Keyring, KeyError> {
        let mut bytes = std::fs::read(path)?;
        warn_if_readable_by_others(path);
        let parsed = match std::str::from_utf8(&bytes) {
            Ok(text) => Keyring::parse(text),
            Err(_) => Err(KeyError::FileLine(1)),
        };
        bytes.zeroize();
        parsed
    }

    /// Reads the key file at `path`, or creates it (mode 0600, parent directories too) holding
    /// one freshly generated key when there is none.
    pub fn from_file_or_create(path: &Path) -> Result<Keyring, KeyError> {
        match Keyring::from_file(path) {
            Err(KeyError::Io(std::io::ErrorKind::NotFound)) => {}
            other => return other,
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let ring = Keyring::generate();
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(path) {
            Ok(mut f) => {
                f.write_all(ring.to_file_text().as_bytes())?;
                f.sync_all()?;
                tracing::info!(key_id = %ring.active.0, "created a new master key file");
                Ok(ring)
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Keyring::from_file(path),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        tracing::warn!("the master key file is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_keys_parse_and_never_print() {
        let k = MasterKey::generate();
        let b64 = k.to_base64();
        let back = MasterKey::from_base64(&format!("  {}\n", b64.as_str())).unwrap();
        assert_eq!(back.bytes(), k.bytes());
        assert!(!format!("{k:?}").contains(b64.as_str()));
        assert!(matches!(
            MasterKey::from_base64("AAAA"),
            Err(KeyError::Base64)
        ));
        assert!(matches!(
            MasterKey::from_base64("not base64!"),
            Err(KeyError::Base64)
        ));
        assert!(matches!(
            MasterKey::from_slice(&[0; 31]),
            Err(KeyError::Length)
        ));
    }

    #[test]
    fn key_ids_are_checked() {
        assert!(KeyId::new("mk-2026.01_a").is_ok());
        for bad in ["", "a b", "ü", &"x".repeat(65)] {
            assert!(KeyId::new(bad).is_err(), "{bad}");
        }
        assert!(KeyId::generate().as_str().starts_with("mk-"));
    }

    #[test]
    fn keyring_files_round_trip_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let ring = Keyring::from_file_or_create(&path).unwrap();
        let again = Keyring::from_file_or_create(&path).unwrap();
        assert_eq!(again.active.0, ring.active.0);
        assert_eq!(again.active.1.bytes(), ring.active.1.bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let dbg = format!("{ring:?}");
        assert!(!dbg.contains(ring.active.1.to_base64().as_str()));
        assert!(dbg.contains(ring.active.0.as_str()));
    }

    #[test]
    fn keyring_text_lists_active_first_and_rejects_junk() {
        let mut ring = Keyring::generate();
        let second = (KeyId::new("k2").unwrap(), MasterKey::generate());
        ring.activate(second);
        let parsed = Keyring::parse(&ring.to_file_text()).unwrap();
        assert_eq!(parsed.active.0.as_str(), "k2");
        assert_eq!(parsed.old.len(), 1);
        assert!(parsed.get(ring.old[0].0.as_str()).is_some());
        assert!(matches!(
            Keyring::parse("# nothing\n"),
            Err(KeyError::EmptyFile)
        ));
        assert!(matches!(Keyring::parse("k1\n"), Err(KeyError::FileLine(1))));
        let k = MasterKey::generate().to_base64();
        let dup = format!("k1 {}\nk1 {}\n", k.as_str(), k.as_str());
        assert!(matches!(
            Keyring::parse(&dup),
            Err(KeyError::DuplicateKeyId)
        ));
    }
}
