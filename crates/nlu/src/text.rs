//! Turning raw chat text into tokens the rules can read.
//!
//! Owns: bounding hostile input (length cap, control and bidi characters dropped), lower-casing,
//! folding Polish (and other Latin) diacritics so "zł" and "zl" read alike, spotting URLs, emojis,
//! numbers with their separators ("1-15", "01.03.2025", "120,50") and the few symbols that carry
//! meaning ($ € £ > < -). It never interprets: dates, amounts and intents are read elsewhere.

/// At most this many characters of a message are analysed; the rest is ignored, so time stays bounded.
pub const MAX_CHARS: usize = 1000;
/// At most this many tokens are kept.
pub const MAX_TOKENS: usize = 250;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Word,
    Number,
    Symbol,
    Url,
    Emoji,
}

#[derive(Debug, Clone)]
pub struct Token {
    /// The token as written (case kept).
    pub raw: String,
    /// Lower-cased, diacritics kept.
    pub lower: String,
    /// Lower-cased, diacritics folded to ASCII where a Latin letter has one.
    pub fold: String,
    pub kind: Kind,
    /// Whitespace (or the start of the text) came right before this token.
    pub gap_before: bool,
}

impl Token {
    pub fn is_word(&self) -> bool {
        self.kind == Kind::Word
    }
    /// Starts with an upper-case letter in the original text.
    pub fn capitalised(&self) -> bool {
        self.raw.chars().next().is_some_and(char::is_uppercase)
    }
    /// All ASCII digits (no separators).
    pub fn is_plain_int(&self) -> bool {
        self.kind == Kind::Number && self.raw.bytes().all(|b| b.is_ascii_digit())
    }
}

/// Folds one lower-case character to ASCII where it is a Latin letter with a diacritic.
pub fn fold_char(c: char) -> char {
    match c {
        'ą' | 'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'ć' | 'č' | 'ç' => 'c',
        'ę' | 'è' | 'é' | 'ê' | 'ë' | 'ě' => 'e',
        'ł' => 'l',
        'ń' | 'ñ' | 'ň' => 'n',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
        'ś' | 'š' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ù' | 'ú' | 'û' | 'ü' | 'ů' => 'u',
        'ý' | 'ÿ' => 'y',
        'ř' => 'r',
        'ď' => 'd',
        'ť' => 't',
        '’' | '`' | 'ʼ' => '\'',
        _ => c,
    }
}

/// Lower-cases and folds a whole string.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(fold_char)
        .collect()
}

/// Characters that never reach the rules: controls, bidi overrides and isolates, zero-width marks.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{FE0F}' | '\u{FE0E}')
}

/// The emojis that carry an intent, mapped to a pseudo-word the intent rules know.
fn emoji_word(c: char) -> Option<&'static str> {
    Some(match c {
        '👋' | '🖐' | '✋' => "emoji_wave",
        '🙏' | '❤' | '💙' | '💚' | '😘' | '🥰' => "emoji_thanks",
        '👍' | '👌' | '😊' | '🙂' | '😀' | '😃' => "emoji_ok",
        '💰' | '💵' | '💴' | '💶' | '💷' | '🏦' | '🤑' => "emoji_money",
        '💸' => "emoji_send",
        '💳' => "emoji_card",
        '🔒' | '🔐' | '⛔' | '🚫' | '🥶' | '🧊' => "emoji_lock",
        '🔓' | '🔑' => "emoji_unlock",
        '🆘' | '❓' | '❔' | '🤔' => "emoji_help",
        '🚨' | '⚠' | '😱' | '🥷' | '🦹' => "emoji_alarm",
        '📊' | '📈' | '📉' => "emoji_chart",
        '🧾' | '📜' | '📋' => "emoji_receipt",
        '🔔' => "emoji_bell",
        '🔕' => "emoji_bell_off",
        '🔗' => "emoji_link",
        '👤' | '🧑' | '👨' | '👩' | '🙋' => "emoji_person",
        _ => return None,
    })
}

/// Top-level domains that make a bare "name.tld" chunk a link.
const TLDS: &[&str] = &[
    "pl", "com", "net", "org", "eu", "io", "info", "xyz", "top", "online", "site", "shop", "app",
    "me", "ly", "biz", "co", "uk", "de", "ru", "cc", "club", "live", "link", "click", "store",
];

fn looks_like_url(chunk: &str) -> bool {
    let l = chunk.to_ascii_lowercase();
    if l.starts_with("http://") || l.starts_with("https://") || l.starts_with("www.") {
        return true;
    }
    let host = l.split('/').next().unwrap_or("");
    let host = host.trim_end_matches(['.', ',', '!', '?', ')']);
    let mut parts = host.split('.');
    let first = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    if first.is_empty() || rest.is_empty() || !first.chars().any(|c| c.is_ascii_alphabetic()) {
        return false;
    }
    let ok_chars = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let tld = rest.last().copied().unwrap_or("");
    ok_chars && TLDS.contains(&tld) && rest.iter().all(|p| !p.is_empty())
}

fn push(tokens: &mut Vec<Token>, raw: String, kind: Kind, gap_before: bool) {
    let lower: String = raw.chars().flat_map(char::to_lowercase).collect();
    let fold = lower.chars().map(fold_char).collect();
    tokens.push(Token {
        raw,
        lower,
        fold,
        kind,
        gap_before,
    });
}

/// Splits a message into tokens. Bounded: at most [`MAX_CHARS`] characters are read and at most
/// [`MAX_TOKENS`] tokens returned, whatever the input.
pub fn tokenize(text: &str) -> Vec<Token> {
    let bounded: String = text
        .chars()
        .take(MAX_CHARS)
        .map(|c| if is_invisible(c) { ' ' } else { c })
        .collect();
    let mut tokens = Vec::new();
    for chunk in bounded.split(char::is_whitespace).filter(|c| !c.is_empty()) {
        if tokens.len() >= MAX_TOKENS {
            break;
        }
        if looks_like_url(chunk) {
            let trimmed = chunk.trim_end_matches(['.', ',', '!', '?', ')']);
            push(&mut tokens, trimmed.to_owned(), Kind::Url, true);
            continue;
        }
        lex_chunk(chunk, &mut tokens);
    }
    tokens.truncate(MAX_TOKENS);
    tokens
}

fn lex_chunk(chunk: &str, tokens: &mut Vec<Token>) {
    let chars: Vec<char> = chunk.chars().collect();
    let mut i = 0;
    let mut gap = true;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphabetic()
                    || (matches!(chars[i], '\'' | '’')
                        && i + 1 < chars.len()
                        && chars[i + 1].is_alphabetic()))
            {
                i += 1;
            }
            push(tokens, chars[start..i].iter().collect(), Kind::Word, gap);
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() {
                // A separator belongs to the number only when a digit follows it.
                let separator = matches!(chars[i], '.' | ',' | '-' | '–' | '/')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit);
                if chars[i].is_ascii_digit() || separator {
                    i += 1;
                } else {
                    break;
                }
            }
            let raw: String = chars[start..i]
                .iter()
                .map(|&c| if c == '–' { '-' } else { c })
                .collect();
            push(tokens, raw, Kind::Number, gap);
        } else if let Some(w) = emoji_word(c) {
            push(tokens, w.to_owned(), Kind::Emoji, gap);
            i += 1;
        } else if matches!(c, '$' | '€' | '£' | '>' | '<' | '-' | '–' | '?') {
            let s = if c == '–' { '-' } else { c };
            push(tokens, s.to_string(), Kind::Symbol, gap);
            i += 1;
        } else {
            // Other punctuation and unknown emojis only separate tokens.
            i += 1;
        }
        gap = false;
        if tokens.len() >= MAX_TOKENS {
            return;
        }
    }
}

/// Polish diacritics in the (bounded) text: a strong sign of Polish.
pub fn polish_diacritics(text: &str) -> usize {
    text.chars()
        .take(MAX_CHARS)
        .filter(|c| "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ".contains(*c))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folds(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.fold).collect()
    }

    #[test]
    fn folds_polish() {
        assert_eq!(folds("Zażółć gęślą jaźń"), ["zazolc", "gesla", "jazn"]);
    }

    #[test]
    fn numbers_keep_separators() {
        assert_eq!(folds("1-15 października"), ["1-15", "pazdziernika"]);
        assert_eq!(
            folds("01.03.2025, 120,50zł"),
            ["01.03.2025", "120,50", "zł".replace('ł', "l").as_str()]
        );
        assert_eq!(folds("$20."), ["$", "20"]);
    }

    #[test]
    fn urls_and_emojis() {
        let t = tokenize("czy to bezpieczne http://bank-pl.xyz/login?a=1 👋");
        assert_eq!(t[3].kind, Kind::Url);
        assert_eq!(t[4].fold, "emoji_wave");
        assert_eq!(tokenize("mbank-logowanie.top")[0].kind, Kind::Url);
        assert_eq!(tokenize("120.50")[0].kind, Kind::Number);
    }

    #[test]
    fn drops_controls_and_bidi() {
        assert_eq!(folds("sal\u{202E}do\u{0000}"), ["sal", "do"]);
    }

    #[test]
    fn bounded() {
        let big = "a ".repeat(100_000);
        assert!(tokenize(&big).len() <= MAX_TOKENS);
    }
}
