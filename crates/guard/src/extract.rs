//! Finds links in free text: full URLs (also defanged `hxxp://`), `www.` links, e-mail domains and bare
//! domains such as `mbank.pl-logowanie.site`, and normalises their hosts (IDNA to ASCII, lower case, no
//! trailing dot).
//!
//! Owns what counts as a link. A bare word counts only when its last label is a suffix the Public Suffix List
//! knows (so `godz.12` or `np.w` are not links), unless the whole input is that one word. Never resolves
//! names or fetches anything.

use unicode_normalization::UnicodeNormalization;
use url::{Host, Url};

/// At most this many links are analysed per check (bounded time).
pub const MAX_LINKS: usize = 32;
/// Longer words are not considered links.
const MAX_WORD_BYTES: usize = 2048;

/// A host as found in a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkHost {
    /// A domain name: ASCII (punycode) and Unicode forms, both lower case, no trailing dot.
    Domain { ascii: String, unicode: String },
    /// A literal IPv4 or IPv6 address.
    Ip(String),
    /// Something that looked like a link but whose host is not a valid name (bad punycode, bad IDNA).
    Invalid(String),
}

/// One link found in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub host: LinkHost,
    /// The URL had `user@` before the host (`https://mbank.pl@evil.example/`).
    pub has_userinfo: bool,
    /// Path, query and fragment, lower case (empty for a bare domain).
    pub rest: String,
    /// The user wrote a scheme (`http://`, `hxxps://`) or `www.`.
    pub explicit: bool,
    /// The word of the text this link came from (so the message rules can skip it).
    pub raw: String,
}

impl Link {
    /// The ASCII form of the host for display, or the raw text when invalid.
    pub fn display_host(&self) -> &str {
        match &self.host {
            LinkHost::Domain { ascii, .. } => ascii,
            LinkHost::Ip(s) | LinkHost::Invalid(s) => s,
        }
    }
}

fn is_word_break(c: char) -> bool {
    c.is_whitespace() || matches!(c, '<' | '>' | '"' | '“' | '”' | '„' | '«' | '»' | '`' | '|')
}

fn trim_word(w: &str) -> &str {
    let w = w.trim_start_matches(['(', '[', '{', '\'', '*', '_', '‘', ',', ':', ';']);
    w.trim_end_matches([
        '.', ',', ';', ':', '!', '?', ')', ']', '}', '\'', '*', '_', '’', '…',
    ])
}

/// Extracts the links from `text` (already cleaned of hidden characters), at most `MAX_LINKS`.
pub fn extract_links(text: &str) -> Vec<Link> {
    let words: Vec<&str> = text
        .split(is_word_break)
        .filter(|w| !w.is_empty())
        .collect();
    let single = words.len() == 1;
    let mut out = Vec::new();
    for raw in words {
        if out.len() >= MAX_LINKS {
            break;
        }
        if raw.len() > MAX_WORD_BYTES {
            continue;
        }
        let w = trim_word(raw);
        if w.is_empty() {
            continue;
        }
        // Compatibility forms (full-width letters, ideographic dots) mean the same host to a browser.
        let original = w;
        let w: String = w
            .nfkc()
            .map(|c| {
                if matches!(c, '\u{3002}' | '\u{FF61}' | '\u{FF0E}') {
                    '.'
                } else {
                    c
                }
            })
            .collect();
        if let Some(mut link) = parse_word(&w, single) {
            link.raw = original.to_string();
            if !out
                .iter()
                .any(|l: &Link| l.host == link.host && l.rest == link.rest)
            {
                out.push(link);
            }
        }
    }
    out
}

fn parse_word(w: &str, single: bool) -> Option<Link> {
    let lower = w.to_lowercase();
    if let Some(pos) = lower.find("://") {
        let scheme = &lower[..pos];
        let scheme_ok = matches!(
            scheme.trim_start_matches(|c: char| !c.is_ascii_alphabetic()),
            "http" | "https" | "hxxp" | "hxxps" | "ftp" | "h**p" | "h**ps"
        );
        if !scheme_ok {
            return None;
        }
        let rest = &w[pos + 3..];
        if rest.is_empty() {
            return None;
        }
        return Some(parse_url(&format!("http://{rest}"), true));
    }
    if lower.starts_with("www.") {
        return Some(parse_url(&format!("http://{w}"), true));
    }
    // E-mail address or bare domain: the host part ends at the first '/', '?', '#'.
    let host_end = w.find(['/', '?', '#']).unwrap_or(w.len());
    let mut host_part = &w[..host_end];
    if let Some(at) = host_part.rfind('@') {
        host_part = &host_part[at + 1..];
    }
    // Drop a port.
    if let Some(colon) = host_part.rfind(':')
        && host_part[colon + 1..].chars().all(|c| c.is_ascii_digit())
    {
        host_part = &host_part[..colon];
    }
    if let Ok(ip) = host_part.parse::<std::net::Ipv4Addr>() {
        // A bare IPv4 address counts only alone or with a path (not "wersja 1.2.3.4").
        return (single || host_end < w.len()).then(|| Link {
            host: LinkHost::Ip(ip.to_string()),
            has_userinfo: false,
            rest: w[host_end..].to_lowercase(),
            explicit: false,
            raw: String::new(),
        });
    }
    if !looks_like_domain(host_part) {
        return None;
    }
    let link = parse_url(&format!("http://{}{}", host_part, &w[host_end..]), false);
    match &link.host {
        LinkHost::Domain { ascii, .. } => {
            if single || suffix_known(ascii) {
                Some(link)
            } else {
                None
            }
        }
        LinkHost::Invalid(_) => {
            if single || host_part.to_lowercase().contains("xn--") {
                Some(link)
            } else {
                None
            }
        }
        LinkHost::Ip(_) => None,
    }
}

/// Cheap shape test for a bare domain: labels of letters, digits and hyphens, a dot, a last label of letters
/// (or punycode).
fn looks_like_domain(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.len() < 4 || s.len() > 253 || !s.contains('.') {
        return false;
    }
    let labels: Vec<&str> = s.split('.').collect();
    if labels
        .iter()
        .any(|l| l.is_empty() || l.chars().count() > 63)
    {
        return false;
    }
    if !labels.iter().all(|l| {
        l.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    }) {
        return false;
    }
    let tld = labels.last().copied().unwrap_or_default();
    let tld_lower = tld.to_lowercase();
    (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
        || tld_lower.starts_with("xn--")
}

fn suffix_known(ascii_host: &str) -> bool {
    psl::suffix(ascii_host.as_bytes()).is_some_and(|s| s.is_known())
}

fn parse_url(candidate: &str, explicit: bool) -> Link {
    match Url::parse(candidate) {
        Ok(url) => {
            let has_userinfo = !url.username().is_empty() || url.password().is_some();
            let mut rest = url.path().to_string();
            if rest == "/" {
                rest.clear();
            }
            if let Some(q) = url.query() {
                rest.push('?');
                rest.push_str(q);
            }
            if let Some(f) = url.fragment() {
                rest.push('#');
                rest.push_str(f);
            }
            let rest = rest.to_lowercase();
            let host = match url.host() {
                Some(Host::Domain(d)) => domain_host(d),
                Some(Host::Ipv4(ip)) => LinkHost::Ip(ip.to_string()),
                Some(Host::Ipv6(ip)) => LinkHost::Ip(ip.to_string()),
                None => LinkHost::Invalid(raw_host(candidate)),
            };
            Link {
                host,
                has_userinfo,
                rest,
                explicit,
                raw: String::new(),
            }
        }
        Err(_) => Link {
            host: LinkHost::Invalid(raw_host(candidate)),
            has_userinfo: false,
            rest: String::new(),
            explicit,
            raw: String::new(),
        },
    }
}

fn domain_host(d: &str) -> LinkHost {
    let ascii = d.trim_end_matches('.').to_ascii_lowercase();
    if ascii.is_empty() {
        return LinkHost::Invalid(d.to_string());
    }
    let (unicode, res) = idna::domain_to_unicode(&ascii);
    if res.is_err() {
        return LinkHost::Invalid(ascii);
    }
    LinkHost::Domain {
        ascii,
        unicode: unicode.to_lowercase(),
    }
}

/// The host text of a candidate URL, for reporting an invalid one (bounded, printable).
fn raw_host(candidate: &str) -> String {
    let after = candidate.strip_prefix("http://").unwrap_or(candidate);
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let host = &after[..end];
    let host = host.rsplit('@').next().unwrap_or(host);
    host.chars().take(253).collect::<String>().to_lowercase()
}

/// Normalises one domain as written in a list or by a customer: IDNA to ASCII, lower case, no trailing dot.
pub fn normalize_domain(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('.');
    if s.is_empty() || s.len() > 253 {
        return None;
    }
    let ascii = idna::domain_to_ascii(s).ok()?;
    if ascii.is_empty() || !ascii.contains('.') {
        return None;
    }
    Some(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str) -> Vec<String> {
        extract_links(text)
            .iter()
            .map(|l| l.display_host().to_string())
            .collect()
    }

    #[test]
    fn finds_urls_and_bare_domains() {
        assert_eq!(
            hosts("czy ten link jest bezpieczny? mbank.pl-logowanie.site/login"),
            vec!["mbank.pl-logowanie.site"]
        );
        assert_eq!(
            hosts("Wejdź na https://Allegro.pl/oferta, potem."),
            vec!["allegro.pl"]
        );
        assert_eq!(
            hosts("hxxps://evil.example.com/x"),
            vec!["evil.example.com"]
        );
        assert_eq!(hosts("napisz na jan@wp.pl"), vec!["wp.pl"]);
        assert!(hosts("o godz.12 np.w sklepie, kwota 1.99 zł").is_empty());
    }

    #[test]
    fn idn_is_converted() {
        let links = extract_links("pk\u{043E}bp.pl");
        match &links[0].host {
            LinkHost::Domain { ascii, unicode } => {
                assert!(ascii.starts_with("xn--"));
                assert_eq!(unicode, "pk\u{043E}bp.pl");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn userinfo_and_ip() {
        let l = extract_links("https://mbank.pl@evil.example/login");
        assert!(l[0].has_userinfo);
        assert_eq!(l[0].display_host(), "evil.example");
        let l = extract_links("http://185.12.1.2/x");
        assert!(matches!(l[0].host, LinkHost::Ip(_)));
    }
}
