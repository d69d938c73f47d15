//! The vault's key hierarchy: one master key (KEK) from a key file, one data key (DEK) per owner
//! (a customer or a merchant) wrapped by the master key with the owner's id as associated data,
//! and card records sealed under their owner's DEK with the card's id as associated data, so a
//! record moved to another row or owner fails to open. XChaCha20-Poly1305 (RustCrypto) with a
//! fresh random 192-bit nonce per value; every key is zeroed on drop and hidden from `Debug`.
//!
//! Stored form of a sealed value: `version (1) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`.

use std::fmt;
use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::VaultError;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// 32 secret bytes. Zeroed on drop; `Debug` never shows them.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    pub fn generate() -> Key {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(k.as_mut());
        Key(k)
    }

    fn from_slice(b: &[u8]) -> Option<Key> {
        let arr: [u8; 32] = b.try_into().ok()?;
        Some(Key(Zeroizing::new(arr)))
    }

    /// Reads a key file (64 hex digits, surrounding whitespace ignored).
    pub fn from_file(path: &Path) -> Result<Key, VaultError> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| VaultError::Config(format!("reading the key file: {}", e.kind())))?,
        );
        let bytes = Zeroizing::new(
            hex::decode(text.trim())
                .map_err(|_| VaultError::Config("the key file is not 64 hex digits".into()))?,
        );
        Key::from_slice(&bytes)
            .ok_or_else(|| VaultError::Config("the key file is not 64 hex digits".into()))
    }

    /// Reads the key file, or creates it (mode 0600) with a new random key when it is missing.
    pub fn from_file_or_create(path: &Path) -> Result<Key, VaultError> {
        if path.exists() {
            return Key::from_file(path);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| VaultError::Config(format!("creating the key dir: {}", e.kind())))?;
        }
        let key = Key::generate();
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(path) {
            Ok(mut f) => {
                let text = Zeroizing::new(hex::encode(key.0.as_ref()));
                f.write_all(text.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| {
                        VaultError::Config(format!("writing the key file: {}", e.kind()))
                    })?;
                tracing::info!("created a new vault master key file");
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Key::from_file(path),
            Err(e) => Err(VaultError::Config(format!(
                "creating the key file: {}",
                e.kind()
            ))),
        }
    }

    /// Encrypts `plain`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plain.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        // Encryption with a valid key and nonce length cannot fail.
        if let Ok(ct) = cipher.encrypt(&XNonce::from(nonce), Payload { msg: plain, aad }) {
            out.extend_from_slice(&ct);
        }
        out
    }

    /// Decrypts what [`Key::seal`] made with the same `aad`; `None` for anything else.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return None;
        }
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
        cipher
            .decrypt(
                &XNonce::from(n),
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }

    /// Wraps a data key for `owner`.
    pub fn wrap(&self, owner: &str, dek: &Key) -> Vec<u8> {
        self.seal(&wrap_aad(owner), dek.0.as_ref())
    }

    /// Unwraps `owner`'s data key; `None` when this master key did not wrap it for this owner.
    pub fn unwrap_key(&self, owner: &str, wrapped: &[u8]) -> Option<Key> {
        let plain = self.open(&wrap_aad(owner), wrapped)?;
        Key::from_slice(&plain)
    }

    /// A keyed hash (HMAC-SHA256) under a purpose-specific subkey of this key: lookups of a value
    /// (a card's fingerprint) without storing the value.
    pub fn fingerprint(&self, purpose: &str, value: &[u8]) -> String {
        let sub = self.derive(purpose);
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(sub.0.as_ref())
            .unwrap_or_else(|_| unreachable_hmac());
        m.update(value);
        hex::encode(m.finalize().into_bytes())
    }

    fn derive(&self, purpose: &str) -> Key {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref())
            .unwrap_or_else(|_| unreachable_hmac());
        m.update(b"okienko-vault subkey:");
        m.update(purpose.as_bytes());
        let out = m.finalize().into_bytes();
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&out);
        Key(k)
    }

    /// A check value sealed under this key, kept in the database: opening the vault with another
    /// master key fails at start-up with a clear error instead of failing card by card.
    pub fn check_value(&self) -> Vec<u8> {
        self.seal(b"okienko-vault master key check", b"ok")
    }

    pub fn check_ok(&self, stored: &[u8]) -> bool {
        self.open(b"okienko-vault master key check", stored)
            .is_some_and(|p| p.as_slice() == b"ok")
    }
}

/// HMAC-SHA256 accepts keys of any length, so `new_from_slice` never fails.
fn unreachable_hmac() -> Hmac<Sha256> {
    unreachable!("HMAC-SHA256 takes keys of any length")
}

fn wrap_aad(owner: &str) -> Vec<u8> {
    format!("okienko-vault dek:{owner}").into_bytes()
}

/// Associated data of a card record: bound to the card's id and its owner.
pub fn card_aad(card_id: &str, owner: &str) -> Vec<u8> {
    format!("okienko-vault card:{card_id}:{owner}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_where_they_belong() {
        let k = Key::generate();
        let s = k.seal(b"card:1", b"4000123412341234");
        assert_eq!(
            k.open(b"card:1", &s).as_deref().map(|v| v.as_slice()),
            Some(&b"4000123412341234"[..])
        );
        assert!(k.open(b"card:2", &s).is_none());
        assert!(Key::generate().open(b"card:1", &s).is_none());
        let mut t = s.clone();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert!(k.open(b"card:1", &t).is_none());
        assert!(k.open(b"card:1", &s[..10]).is_none());
    }

    #[test]
    fn data_keys_unwrap_only_for_their_owner_and_master() {
        let master = Key::generate();
        let dek = Key::generate();
        let w = master.wrap("cust-a", &dek);
        let back = master.unwrap_key("cust-a", &w).map(|k| k.0.to_vec());
        assert_eq!(back, Some(dek.0.to_vec()));
        assert!(master.unwrap_key("cust-b", &w).is_none());
        assert!(Key::generate().unwrap_key("cust-a", &w).is_none());
        assert!(master.check_ok(&master.check_value()));
        assert!(!Key::generate().check_ok(&master.check_value()));
        assert_eq!(format!("{dek:?}"), "Key(<redacted>)");
    }

    #[test]
    fn key_files_round_trip_and_reject_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k/master.key");
        let a = Key::from_file_or_create(&p).unwrap();
        let b = Key::from_file_or_create(&p).unwrap();
        assert_eq!(a.0.to_vec(), b.0.to_vec());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0);
        }
        std::fs::write(&p, "not hex").unwrap();
        assert!(Key::from_file(&p).is_err());
    }
}
