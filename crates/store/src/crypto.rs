//! The store's authenticated encryption: XChaCha20-Poly1305 (RustCrypto) with a fresh random
//! 192-bit nonce per value, so random nonces never collide in practice.
//!
//! Stored form of every encrypted value: `version (1 byte) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`.
//! The associated data names the table and column and the row's id ("where the value belongs"),
//! so a ciphertext copied into another row or column fails authentication and reads as
//! `StoreError::Corrupt(column)`, never as someone else's data.
//!
//! Data keys (one per customer) are wrapped by a master key with the customer id and key id as
//! associated data. All key material is zeroed on drop and absent from `Debug`.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::error::StoreError;
use crate::keys::{KeyId, MasterKey};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// A customer's data key (DEK). Zeroed on drop; `Debug` never shows it.
pub(crate) struct DataKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    pub(crate) fn generate() -> DataKey {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(k.as_mut());
        DataKey(k)
    }

    /// Encrypts `plain` for the value of `column` in the row `row_id`.
    pub(crate) fn seal(&self, column: &'static str, row_id: &str, plain: &[u8]) -> Vec<u8> {
        seal(&self.0, &value_aad(column, row_id), plain)
    }

    /// Decrypts what [`DataKey::seal`] made for exactly this column and row; anything else
    /// (tampered, truncated, moved from another row or column, other customer's key) is
    /// `Corrupt(column)`.
    pub(crate) fn open(
        &self,
        column: &'static str,
        row_id: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        open(&self.0, &value_aad(column, row_id), sealed).ok_or(StoreError::Corrupt(column))
    }

    /// A 256-bit subkey for another use of this key (HKDF-SHA256, `info` names the use), e.g.
    /// the audit chain's MAC key. Zeroed on drop.
    pub(crate) fn derive(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's output limit (255 * 32), so expand cannot fail.
        let _ = hkdf::Hkdf::<sha2::Sha256>::new(None, self.0.as_ref()).expand(info, out.as_mut());
        out
    }

    /// Wraps this key under a master key for storage next to the customer's id.
    pub(crate) fn wrap(&self, kek_id: &KeyId, kek: &MasterKey, customer: &str) -> Vec<u8> {
        seal(kek.bytes(), &wrap_aad(kek_id, customer), self.0.as_ref())
    }

    /// Unwraps a stored data key; `None` when this master key did not wrap it (or it was tampered).
    pub(crate) fn unwrap_with(
        kek_id: &KeyId,
        kek: &MasterKey,
        customer: &str,
        wrapped: &[u8],
    ) -> Option<DataKey> {
        let plain = open(kek.bytes(), &wrap_aad(kek_id, customer), wrapped)?;
        let arr: [u8; 32] = plain.as_slice().try_into().ok()?;
        Some(DataKey(Zeroizing::new(arr)))
    }
}

/// A value sealed under the master key itself, stored per key id, so opening a store with the
/// wrong key for a known id fails at start-up with a clear error.
pub(crate) fn key_check(kek_id: &KeyId, kek: &MasterKey) -> Vec<u8> {
    seal(kek.bytes(), &check_aad(kek_id), b"okienko master key check")
}

pub(crate) fn key_check_ok(kek_id: &KeyId, kek: &MasterKey, stored: &[u8]) -> bool {
    open(kek.bytes(), &check_aad(kek_id), stored).is_some()
}

fn value_aad(column: &str, row_id: &str) -> Vec<u8> {
    format!("okienko/v1/value/{column}/{row_id}").into_bytes()
}

fn wrap_aad(kek_id: &KeyId, customer: &str) -> Vec<u8> {
    format!("okienko/v1/dek/{customer}/{kek_id}").into_bytes()
}

fn check_aad(kek_id: &KeyId) -> Vec<u8> {
    format!("okienko/v1/kek-check/{kek_id}").into_bytes()
}

fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(1 + NONCE_LEN + plain.len() + TAG_LEN);
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    // Encryption with a valid key and nonce cannot fail for in-memory buffers of this size;
    // an empty ciphertext would simply fail to open later (Corrupt), never panic here.
    if let Ok(ct) = cipher.encrypt(&XNonce::from(nonce), Payload { msg: plain, aad }) {
        out.extend_from_slice(&ct);
    }
    out
}

fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != VERSION {
        return None;
    }
    let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_open_only_where_they_were_sealed() {
        let k = DataKey::generate();
        let a = k.seal("t.sealed", "row-1", b"PL61 1090");
        assert_eq!(
            k.open("t.sealed", "row-1", &a).unwrap().as_slice(),
            b"PL61 1090"
        );
        assert!(matches!(
            k.open("t.sealed", "row-2", &a),
            Err(StoreError::Corrupt("t.sealed"))
        ));
        assert!(k.open("u.sealed", "row-1", &a).is_err());
        assert!(DataKey::generate().open("t.sealed", "row-1", &a).is_err());
        let mut flipped = a.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert!(k.open("t.sealed", "row-1", &flipped).is_err());
        assert!(k.open("t.sealed", "row-1", &a[..10]).is_err());
        // Random nonces: the same plaintext never gives the same bytes.
        assert_ne!(a, k.seal("t.sealed", "row-1", b"PL61 1090"));
        assert!(!format!("{k:?}").contains('['));
    }

    #[test]
    fn data_keys_unwrap_only_with_their_master_key_and_customer() {
        let id = KeyId::new("k1").unwrap();
        let kek = MasterKey::generate();
        let dek = DataKey::generate();
        let w = dek.wrap(&id, &kek, "cust-1");
        let back = DataKey::unwrap_with(&id, &kek, "cust-1", &w).unwrap();
        assert_eq!(back.0.as_ref(), dek.0.as_ref());
        assert!(DataKey::unwrap_with(&id, &MasterKey::generate(), "cust-1", &w).is_none());
        assert!(DataKey::unwrap_with(&id, &kek, "cust-2", &w).is_none());
        let other = KeyId::new("k2").unwrap();
        assert!(DataKey::unwrap_with(&other, &kek, "cust-1", &w).is_none());
        let check = key_check(&id, &kek);
        assert!(key_check_ok(&id, &kek, &check));
        assert!(!key_check_ok(&id, &MasterKey::generate(), &check));
    }
}
