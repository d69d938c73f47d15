//! Session tokens: 32 random bytes, base64url without padding (43 characters).
//!
//! The token is the only thing that ties a browser to its session, so it comes from the
//! operating system's CSPRNG (through `rand`'s thread generator) and is never logged.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

const TOKEN_BYTES: usize = 32;
const TOKEN_CHARS: usize = 43;

pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether a string could be one of our tokens; anything else is not even looked up.
pub(crate) fn looks_like_token(s: &str) -> bool {
    s.len() == TOKEN_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_chars_and_differ() {
        let a = new_token();
        let b = new_token();
        assert!(looks_like_token(&a), "{a}");
        assert_ne!(a, b);
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&"+".repeat(43)));
    }
}
