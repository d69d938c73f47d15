//! Card-number arithmetic: the Luhn check, and network-style tokens (16 digits, Luhn-valid)
//! drawn from a token BIN range that no issued card uses.

use rand::Rng;

/// Tokens start with this BIN; the vault refuses to store a card from this range.
pub const TOKEN_BIN: &str = "489537";

fn sum(digits: &str) -> Option<u32> {
    let mut s = 0;
    for (i, c) in digits.bytes().rev().enumerate() {
        let d = u32::from(c.checked_sub(b'0').filter(|d| *d <= 9)?);
        s += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    Some(s)
}

/// A string of 12 to 19 ASCII digits whose last digit is its Luhn check digit.
pub fn valid(digits: &str) -> bool {
    (12..=19).contains(&digits.len()) && sum(digits).is_some_and(|s| s % 10 == 0)
}

/// The check digit that completes `body` (ASCII digits).
fn check_digit(body: &str) -> Option<char> {
    // With a placeholder 0 appended, the body's digits take their final positions.
    let s = sum(&format!("{body}0"))?;
    char::from_digit((10 - s % 10) % 10, 10)
}

/// A card number as typed: spaces and dashes dropped; `None` unless what is left is a valid card.
pub fn normalize_pan(typed: &str) -> Option<String> {
    if typed.len() > 40 {
        return None;
    }
    let d: String = typed.chars().filter(|c| *c != ' ' && *c != '-').collect();
    (d.bytes().all(|b| b.is_ascii_digit()) && valid(&d)).then_some(d)
}

/// A fresh random token: the token BIN, nine random digits, the Luhn check digit.
pub fn new_token() -> String {
    let mut rng = rand::rng();
    let body: String = (0..9)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    let body = format!("{TOKEN_BIN}{body}");
    let check = check_digit(&body).unwrap_or('0');
    format!("{body}{check}")
}

/// Card brand by its leading digits.
pub fn brand(pan: &str) -> &'static str {
    match pan.as_bytes().first() {
        Some(b'4') => "visa",
        Some(b'5') | Some(b'2') => "mastercard",
        _ => "card",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_tokens() {
        assert!(valid("4242424242424242"));
        assert!(!valid("4242424242424241"));
        assert!(!valid("4242"));
        assert_eq!(
            normalize_pan("4242 4242-4242 4242").as_deref(),
            Some("4242424242424242")
        );
        assert_eq!(normalize_pan("4242 4242 4242 424x"), None);
        for _ in 0..500 {
            let t = new_token();
            assert_eq!(t.len(), 16);
            assert!(t.starts_with(TOKEN_BIN));
            assert!(valid(&t), "{t}");
        }
    }
}
