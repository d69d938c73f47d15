//! Logs go to stderr through `tracing`; stdout is kept for what commands print (JSON, URLs).
//!
//! Every formatted line passes through [`redact`] before it is written: IBAN-like strings, card
//! numbers (digit groups that pass the Luhn check), amounts with a currency, bearer tokens,
//! `token=…`-style secrets and long digit runs are replaced by placeholders, whichever field or
//! message they are in. Code never logs payloads in the first place (see ARCHITECTURE.md); this is
//! the net under that rule, for the value someone formats by mistake.

use std::borrow::Cow;
use std::io::{self, IsTerminal as _, Write};
use std::sync::LazyLock;

use regex::{Captures, Regex};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// `quiet` is for commands whose output is the point (benchmarks, parsers): warnings only,
/// unless OKIENKO_LOG or RUST_LOG says otherwise.
pub fn init(quiet: bool) {
    let default = if quiet {
        "warn"
    } else {
        "info,sqlx=warn,hyper=warn"
    };
    let filter = EnvFilter::try_from_env("OKIENKO_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes would split `key=value` pairs the redactor recognises.
        .with_ansi(io::stderr().is_terminal())
        .with_writer(Redacting(io::stderr))
        .try_init();
}

/// A [`MakeWriter`] whose writers redact every line before passing it on.
#[derive(Debug, Clone)]
pub struct Redacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        RedactingWriter(self.0.make_writer_for(meta))
    }
}

/// Redacts each buffer it is given. The fmt layer formats a whole event first and writes it in
/// one `write_all`, so a pattern is never split between two writes.
pub struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// One pattern per kind of secret, tried left to right at each position; the first groups keep
/// what must stay readable (ids and hashes, which contain digit runs of their own).
static PATTERNS: LazyLock<Regex> = LazyLock::new(|| {
    let view = r"(?P<view>/view/[A-Za-z0-9_-]{20,})";
    let uuid = r"(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)";
    let hex = r"(?P<hex>\b[0-9a-f]{32,}\b)";
    let bearer = r"(?P<bearer>(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]{6,})";
    let secret = r#"(?P<key>(?i:\b(?:access_token|refresh_token|id_token|token|code|code_verifier|client_secret|app_secret|secret|password|authorization|verify_token))(?:"?\s*[=:]\s*"?))(?P<secretval>(?i:bearer\s+)?[^\s&"',;)\]}]+)"#;
    let iban =
        r"(?P<iban>\b[A-Z]{2}\d{2}(?:[ \u{a0}]?[A-Z0-9]{4}){2,7}(?:[ \u{a0}]?[A-Z0-9]{1,4})?\b)";
    let sep = r"[ \u{a0}\u{202f}]";
    let num = format!(r"\d(?:[\d,.]|{sep}\d)*");
    let amount = format!(
        r"(?P<amount>(?:[$€£]|\b(?:PLN|EUR|USD|GBP|CHF|CZK)\b){sep}?-?{num}|-?{num}{sep}?(?:zł|zl\b|PLN\b|EUR\b|USD\b|GBP\b|CHF\b|CZK\b|€|\$))"
    );
    let card = r"(?P<card>\b\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?\b|\b\d{13,19}\b)";
    let digits = r"(?P<digits>\d{9,})";
    let all = [view, uuid, hex, bearer, secret, iban, &amount, card, digits].join("|");
    // The patterns are literals checked by the tests below; this cannot fail at run time.
    Regex::new(&all).unwrap_or_else(|e| panic!("log redaction patterns: {e}"))
});

/// `line` with every secret-looking value replaced by a placeholder.
pub fn redact(line: &str) -> Cow<'_, str> {
    PATTERNS.replace_all(line, |c: &Captures<'_>| {
        if c.name("view").is_some() {
            return "/view/[token]".to_owned();
        }
        if let Some(m) = c.name("uuid") {
            return m.as_str().to_owned();
        }
        if let Some(m) = c.name("hex") {
            let s = m.as_str();
            return if s.bytes().all(|b| b.is_ascii_digit()) {
                "[number]".to_owned()
            } else {
                s.to_owned()
            };
        }
        if c.name("bearer").is_some() {
            return "Bearer [token]".to_owned();
        }
        if let Some(k) = c.name("key") {
            return format!("{}[redacted]", k.as_str());
        }
        if c.name("iban").is_some() {
            return "[iban]".to_owned();
        }
        if c.name("amount").is_some() {
            return "[amount]".to_owned();
        }
        if let Some(m) = c.name("card") {
            return if luhn(m.as_str()) {
                "[card]".to_owned()
            } else {
                "[number]".to_owned()
            };
        }
        "[number]".to_owned()
    })
}

/// The Luhn check over the digits of `s` (separators ignored).
fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn secrets_become_placeholders() {
        let cases = [
            (
                "iban PL61 1090 1014 0000 0712 1981 2874 seen",
                "iban [iban] seen",
            ),
            ("iban=PL61109010140000071219812874", "iban=[iban]"),
            ("DE89370400440532013000", "[iban]"),
            ("card 4111 1111 1111 1111 ok", "card [card] ok"),
            ("card=4111111111111111", "card=[card]"),
            ("balance 1 234,56 zł left", "balance [amount] left"),
            ("balance 1\u{a0}234,56\u{a0}zł", "balance [amount]"),
            ("paid $1,234.56 today", "paid [amount] today"),
            ("paid PLN 49.99", "paid [amount]"),
            ("amount=-49.99 EUR", "amount=[amount]"),
            (
                "Authorization: Bearer eyJhbGciOi.xyz-123",
                "Authorization: [redacted]",
            ),
            (
                "sent Bearer eyJhbGciOi.xyz-123 on",
                "sent Bearer [token] on",
            ),
            ("access_token=abc.def&x=1", "access_token=[redacted]&x=1"),
            ("pesel 85010112345", "pesel [number]"),
            (
                "GET /view/q3JZ2mC1x_-Yx0c9aQk3Lw8o5vGZxT2bqS7uPzN4aEw done",
                "GET /view/[token] done",
            ),
            ("nrb 61109010140000071219812874", "nrb [number]"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn ids_times_and_small_numbers_stay() {
        for keep in [
            "customer=550e8400-e29b-41d4-a716-446655440000 audit_seq=42",
            "2026-11-30T06:29:11.123456Z INFO http: method=GET path=/healthz status=200",
            "hash=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "took 1234 ms, 12 rows, port 8080, on 2026-11-30",
        ] {
            assert_eq!(redact(keep), keep);
        }
    }

    #[test]
    fn luhn_tells_cards_from_other_numbers() {
        assert!(luhn("4111111111111111"));
        assert!(luhn("5500 0000 0000 0004"));
        assert!(!luhn("4111111111111112"));
        assert!(!luhn("1234"));
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Through `tracing::info!` with the layer installed, in messages and fields alike.
    #[test]
    fn tracing_events_are_redacted_before_they_are_written() {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(Redacting(out.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let iban = "PL61109010140000071219812874";
            let span = tracing::info_span!("chat", account = iban);
            let _g = span.enter();
            tracing::info!(
                amount = "1 234,56 zł",
                header = "Bearer abcdef123456",
                card = 4111111111111111u64,
                "paid $99.50 from {iban}"
            );
            tracing::warn!(token = "s3cr3t-t0ken", "login failed");
        });
        let logged = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(logged.lines().count(), 2, "{logged}");
        for secret in [
            "PL61",
            "1090",
            "234,56",
            "abcdef123456",
            "4111",
            "99.50",
            "s3cr3t",
        ] {
            assert!(!logged.contains(secret), "{secret} in {logged}");
        }
        for placeholder in [
            "[iban]",
            "[amount]",
            "Bearer [token]",
            "[card]",
            "[redacted]",
        ] {
            assert!(
                logged.contains(placeholder),
                "{placeholder} not in {logged}"
            );
        }
        assert!(logged.contains("login failed"));
    }
}
