//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw request body, keyed with the app secret, as
//! `sha256=<lowercase hex>`. Checked on the bytes exactly as received (Meta signs its escaped
//! unicode form; re-serialising would break it) and compared in constant time, before any
//! parsing.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery's signature was refused. Never carries the header or the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not sha256=<64 hex digits>")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks `header` (the value of `X-Hub-Signature-256`, if any) against `body`.
pub fn verify(
    app_secret: &SecretString,
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_sig = header
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    if hex_sig.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let mut sig = [0u8; 32];
    hex::decode_to_slice(hex_sig, &mut sig).map_err(|_| SignatureError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(app_secret.expose_secret().as_bytes())
        .map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    // `verify_slice` compares in constant time (subtle).
    mac.verify_slice(&sig).map_err(|_| SignatureError::Mismatch)
}

/// The header value Meta would send for `body`: for tests, benchmarks and demo tools.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(app_secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("app-secret")
    }

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let body = br#"{"object":"page","entry":[{"messaging":[{"message":{"text":"\u0105"}}]}]}"#;
        let sig = sign("app-secret", body);
        assert!(sig.starts_with("sha256="));
        assert_eq!(verify(&secret(), Some(sig.as_bytes()), body), Ok(()));
    }

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = sign("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn forged_missing_and_malformed_signatures_are_refused() {
        let body = b"{}";
        let other = sign("another-secret", body);
        assert_eq!(
            verify(&secret(), Some(other.as_bytes()), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(&secret(), None, body), Err(SignatureError::Missing));
        for bad in [
            "".as_bytes(),
            b"sha1=abc",
            b"sha256=",
            b"sha256=zz",
            "sha256=ąąąą".as_bytes(),
            &[0xff, 0xfe, 0x00],
        ] {
            assert_eq!(
                verify(&secret(), Some(bad), body),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
        // Upper-case hex of the right signature still decodes; the body decides.
        let good = sign("app-secret", body)
            .to_uppercase()
            .replace("SHA256=", "sha256=");
        assert_eq!(verify(&secret(), Some(good.as_bytes()), body), Ok(()));
        // One changed byte of the body.
        let sig = sign("app-secret", b"{\"a\":1}");
        assert_eq!(
            verify(&secret(), Some(sig.as_bytes()), b"{\"a\":2}"),
            Err(SignatureError::Mismatch)
        );
    }
}
