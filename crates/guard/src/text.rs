//! Input hygiene for scam checks: caps the analysed length, removes control, bidi and zero-width characters,
//! and builds an ASCII-folded, lower-case copy for the message rules.
//!
//! Owns the bound on work per check: nothing after this module sees more than `max_bytes` of the input.
//! Folding maps Polish diacritics to ASCII (`ą→a`, `ł→l`, …), strips other combining marks, and maps
//! non-ASCII look-alike letters (Cyrillic `о`, Greek `ο`) to their ASCII confusable, so `kоd BLІK` written with
//! Cyrillic letters still matches the rules. Anything else non-ASCII becomes a space.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Default cap on analysed input (bytes of UTF-8; cut at a character boundary).
pub const DEFAULT_MAX_ANALYSED_BYTES: usize = 32 * 1024;

/// The input made safe to analyse.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The (possibly truncated) text with hidden characters removed and control characters turned into spaces.
    pub clean: String,
    /// `clean`, lower-cased and folded to ASCII, whitespace collapsed to single spaces.
    pub folded: String,
    /// True when the input was longer than the cap.
    pub truncated: bool,
    /// Count of bidi-control and zero-width characters removed.
    pub hidden_chars: usize,
}

/// Cuts `s` to at most `max` bytes at a character boundary.
pub fn truncate_at_char_boundary(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// Bidi controls and zero-width characters: invisible, and used to hide or split words.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FEFF}'
            | '\u{00AD}'
            | '\u{180E}'
    )
}

/// Prepares `input` for analysis.
pub fn prepare(input: &str, max_bytes: usize) -> Prepared {
    let (cut, truncated) = truncate_at_char_boundary(input, max_bytes);
    let mut clean = String::with_capacity(cut.len());
    let mut hidden_chars = 0usize;
    for c in cut.chars() {
        if is_hidden(c) {
            hidden_chars += 1;
        } else if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            clean.push(if c == '\n' || c == '\t' || c == '\r' {
                c
            } else {
                ' '
            });
        } else {
            clean.push(c);
        }
    }
    let folded = fold(&clean);
    Prepared {
        clean,
        folded,
        truncated,
        hidden_chars,
    }
}

/// Lower-case ASCII folding used by the message rules.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = true;
    for c in s.chars().flat_map(char::to_lowercase) {
        let mapped = fold_char(c);
        for m in mapped.chars() {
            let m = if m.is_ascii_whitespace() { ' ' } else { m };
            if m == ' ' {
                if !last_space {
                    out.push(' ');
                }
                last_space = true;
            } else {
                out.push(m);
                last_space = false;
            }
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

fn fold_char(c: char) -> String {
    if c.is_ascii() {
        return c.to_string();
    }
    match c {
        'ł' => return "l".into(),
        'ß' => return "ss".into(),
        'ø' => return "o".into(),
        'đ' => return "d".into(),
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => return "'".into(),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => return "-".into(),
        _ => {}
    }
    let stripped: String = std::iter::once(c)
        .nfd()
        .filter(|ch| !is_combining_mark(*ch))
        .collect();
    if !stripped.is_empty() && stripped.is_ascii() {
        return stripped;
    }
    if c.is_alphanumeric() {
        let skel: String =
            unicode_security::confusable_detection::skeleton(&c.to_string()).collect();
        let skel = skel.to_lowercase();
        if !skel.is_empty() && skel.is_ascii() && skel.chars().all(|x| x.is_ascii_alphanumeric()) {
            return skel;
        }
    }
    " ".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_polish_and_confusables() {
        assert_eq!(
            fold("Cześć MAMO, to mój nowy numer"),
            "czesc mamo, to moj nowy numer"
        );
        assert_eq!(fold("Dopłata 1,99 zł"), "doplata 1,99 zl");
        // Cyrillic о and Ukrainian І.
        assert_eq!(fold("k\u{043E}d BL\u{0406}K"), "kod blik");
    }

    #[test]
    fn truncates_at_boundary_and_strips_hidden() {
        let s = "ąąą";
        let (t, cut) = truncate_at_char_boundary(s, 3);
        assert!(cut);
        assert_eq!(t, "ą");
        let p = prepare("B\u{200B}LIK\u{202E}x\u{0007}y", 1000);
        assert_eq!(p.clean, "BLIKx y");
        assert_eq!(p.hidden_chars, 2);
    }
}
