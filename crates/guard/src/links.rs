//! Link checks: allow-list, known-bad lists, and lookalike heuristics on one link's host.
//!
//! Owns the per-link scoring. Order: an allow-listed registrable domain is never flagged (a hard "ok"); a
//! known-bad hit is a hard "scam"; otherwise explainable heuristics add reasons: an official brand domain
//! embedded in a foreign host (`mbank.pl-logowanie.site`), homoglyphs (UTS #39 skeletons, confusable letters
//! folded to ASCII), a brand token in a subdomain or in the registrable label, a small edit distance to a brand
//! label, a country code posing as the suffix (`allegro.pl.xyz`), the `pl-` hyphen trick, mixed scripts,
//! punycode, risky TLDs, lure words, IP hosts, `user@host` tricks and shorteners.
//! The registrable domain comes from the compiled-in Public Suffix List (`psl`, private section included, so
//! `evil.github.io` is its own registrable domain and never inherits an allow-listed parent).

use std::collections::{HashMap, HashSet};

use unicode_security::MixedScript;

use crate::brands::{ALLOWED_EXTRA, BRANDS, GLUE_WORDS, LURE_WORDS, RISKY_TLDS, SHORTENERS};
use crate::extract::{Link, LinkHost, normalize_domain};
use crate::known_bad::listed;
use crate::text::fold;
use crate::verdict::{Reason, ReasonCode};

/// Tokens shorter than this match only as whole segments or glued to a `GLUE_WORDS` word.
const MIN_SUBSTRING_TOKEN: usize = 5;
/// Tokens that are ordinary words (or inside ordinary words) and so never match as plain substrings.
const SEGMENT_ONLY: &[&str] = &[
    "steam",
    "chase",
    "apple",
    "millennium",
    "messenger",
    "envelo",
    "google",
    "amazon",
    "orlen",
];

/// Country endings sold cheaply and used like generic ones by scammers.
const ABUSED_CC: &[&str] = &[
    "cc", "me", "us", "ws", "pw", "tk", "ml", "ga", "cf", "gq", "co", "io", "to", "la", "nu",
];

/// How a brand token sits in a label, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Hit {
    /// Inside a longer word (`allegromicro`).
    Substring,
    /// A hyphen-separated part next to arbitrary words (`paypal-community`).
    Segment,
    /// Glued to or next to lure or geo words and digits only (`olxpolska`, `olx-dostawa`, `inpost24`).
    Glued,
    /// The whole label is a brand token that is not the brand's domain label (`bankpekao`, `ingbank`).
    Whole,
}

#[derive(Debug)]
struct Token {
    text: String,
    brand: usize,
    substring_ok: bool,
}

#[derive(Debug)]
struct BrandLabel {
    label: String,
    skeleton: String,
    brand: usize,
}

/// Precomputed brand and allow-list data.
#[derive(Debug)]
pub struct LinkChecker {
    allowed: HashMap<String, Option<usize>>,
    allowed_suffixes: HashSet<String>,
    tokens: Vec<Token>,
    labels: Vec<BrandLabel>,
    officials: Vec<(String, usize)>,
}

/// The outcome for one link.
#[derive(Debug, Clone)]
pub struct LinkFindings {
    pub reasons: Vec<Reason>,
    /// The host's registrable domain is allow-listed.
    pub allowlisted: bool,
}

fn skeleton(s: &str) -> String {
    unicode_security::confusable_detection::skeleton(s)
        .collect::<String>()
        .to_lowercase()
}

fn registrable_label(domain: &str) -> &str {
    domain.split('.').next().unwrap_or(domain)
}

impl LinkChecker {
    /// Builds the checker from the compiled-in brands and allow-list plus `extra_allowed`.
    pub fn new(extra_allowed: &[String]) -> Self {
        let mut allowed = HashMap::new();
        let mut officials = Vec::new();
        let mut labels: Vec<BrandLabel> = Vec::new();
        let mut tokens = Vec::new();
        for (i, b) in BRANDS.iter().enumerate() {
            for d in b.official {
                allowed.insert((*d).to_string(), Some(i));
                officials.push(((*d).to_string(), i));
                let label = registrable_label(d).to_string();
                if !labels.iter().any(|l| l.label == label) {
                    labels.push(BrandLabel {
                        skeleton: skeleton(&label),
                        label,
                        brand: i,
                    });
                }
            }
            for t in b.tokens {
                tokens.push(Token {
                    text: (*t).to_string(),
                    brand: i,
                    substring_ok: t.len() >= MIN_SUBSTRING_TOKEN && !SEGMENT_ONLY.contains(t),
                });
            }
        }
        let extra = ALLOWED_EXTRA
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .chain(extra_allowed.iter().cloned());
        let mut allowed_suffixes = HashSet::new();
        for e in extra {
            let Some(d) =
                normalize_domain(&e).or_else(|| (!e.contains('.')).then(|| e.to_ascii_lowercase()))
            else {
                continue;
            };
            if psl::suffix_str(&d) == Some(d.as_str()) {
                allowed_suffixes.insert(d.clone());
            }
            allowed.entry(d).or_insert(None);
        }
        Self {
            allowed,
            allowed_suffixes,
            tokens,
            labels,
            officials,
        }
    }

    /// The allow-list entry covering `ascii_host`, if any (`Some(brand index)` for a brand's own domain).
    pub fn allow_entry(&self, ascii_host: &str) -> Option<Option<usize>> {
        match psl::domain_str(ascii_host) {
            Some(reg) => {
                if let Some(b) = self.allowed.get(reg) {
                    return Some(*b);
                }
                let mut rest = reg;
                while let Some((_, parent)) = rest.split_once('.') {
                    if self.allowed_suffixes.contains(parent) {
                        return Some(None);
                    }
                    rest = parent;
                }
                None
            }
            None => self.allowed.get(ascii_host).copied(),
        }
    }

    /// Scores one link.
    pub fn check(&self, link: &Link, known_bad: &HashSet<String>) -> LinkFindings {
        let mut reasons = Vec::new();
        let shown = link.display_host().to_string();
        if link.has_userinfo {
            reasons.push(reason(ReasonCode::UserinfoTrick, 0.6, &shown, None));
        }
        let (ascii, unicode) = match &link.host {
            LinkHost::Domain { ascii, unicode } => (ascii.as_str(), unicode.as_str()),
            LinkHost::Ip(ip) => {
                if known_bad.contains(ip) {
                    reasons.push(reason(ReasonCode::KnownBadDomain, 1.0, &shown, None));
                }
                reasons.push(reason(ReasonCode::IpAddressLink, 0.4, &shown, None));
                self.lure_in_path(link, &shown, &mut reasons);
                return LinkFindings {
                    reasons,
                    allowlisted: false,
                };
            }
            LinkHost::Invalid(_) => {
                reasons.push(reason(ReasonCode::InvalidDomain, 0.5, &shown, None));
                return LinkFindings {
                    reasons,
                    allowlisted: false,
                };
            }
        };
        if let Some(brand) = self.allow_entry(ascii) {
            let name = brand.and_then(|i| BRANDS.get(i)).map(|b| b.name);
            // A `user@` trick on an allow-listed host is still reported (the host itself is fine).
            reasons.push(reason(ReasonCode::AllowlistedDomain, 0.0, &shown, name));
            return LinkFindings {
                reasons,
                allowlisted: true,
            };
        }
        let registrable = psl::domain_str(ascii);
        if let Some(hit) = listed(known_bad, ascii, registrable) {
            reasons.push(reason(ReasonCode::KnownBadDomain, 1.0, &hit, None));
        }
        if SHORTENERS.contains(&ascii) || registrable.is_some_and(|r| SHORTENERS.contains(&r)) {
            reasons.push(reason(ReasonCode::LinkShortener, 0.25, &shown, None));
        }
        self.lookalike(ascii, unicode, registrable, &shown, &mut reasons);
        self.lure_in_path(link, &shown, &mut reasons);
        if reasons.iter().all(|r| r.weight == 0.0) {
            reasons.push(reason(ReasonCode::UnknownDomain, 0.0, &shown, None));
        }
        LinkFindings {
            reasons,
            allowlisted: false,
        }
    }

    fn lure_in_path(&self, link: &Link, shown: &str, reasons: &mut Vec<Reason>) {
        if link.rest.is_empty() {
            return;
        }
        let rest = fold(&link.rest);
        if LURE_WORDS.iter().any(|w| rest.contains(w)) {
            reasons.push(reason(ReasonCode::LureWordInLink, 0.15, shown, None));
        }
    }

    fn lookalike(
        &self,
        ascii: &str,
        unicode: &str,
        registrable: Option<&str>,
        shown: &str,
        out: &mut Vec<Reason>,
    ) {
        let folded = fold(unicode);
        let labels: Vec<&str> = folded.split('.').collect();
        let reg_labels = registrable
            .map_or(labels.len(), |r| r.split('.').count())
            .min(labels.len());
        let n_sub = labels.len() - reg_labels;
        let sub = &labels[..n_sub];
        let reg_label = labels.get(n_sub).copied().unwrap_or("");
        let tld = labels.last().copied().unwrap_or("");
        let non_ascii = !unicode.is_ascii();

        if ascii.split('.').any(|l| l.starts_with("xn--")) {
            out.push(reason(ReasonCode::Punycode, 0.15, shown, None));
        }
        if unicode.split('.').any(|l| !l.is_single_script()) {
            out.push(reason(ReasonCode::MixedScript, 0.5, shown, None));
        }

        let mut brand_hit: Option<usize> = None;
        // (a) An official brand domain embedded in a foreign host.
        let reg_start = folded.len() - labels[n_sub..].join(".").len();
        let dehyphen = folded.replace('-', "");
        let dehyphen_reg_start = dehyphen.len() - labels[n_sub..].join(".").replace('-', "").len();
        for (d, b) in &self.officials {
            if embedded(&folded, d, reg_start)
                || (d.contains('.') && embedded(&dehyphen, d, dehyphen_reg_start))
            {
                out.push(reason(
                    ReasonCode::BrandDomainEmbedded,
                    0.85,
                    shown,
                    Some(BRANDS[*b].name),
                ));
                brand_hit = Some(*b);
                break;
            }
        }
        // (b) Brand tokens in subdomains or in the registrable label.
        if let Some((b, hit)) = self.token_hit(sub) {
            let w = if hit == Hit::Substring { 0.4 } else { 0.6 };
            out.push(reason(
                ReasonCode::BrandInSubdomain,
                w,
                shown,
                Some(BRANDS[b].name),
            ));
            brand_hit.get_or_insert(b);
        }
        if let Some((b, hit)) = self.token_hit(&[reg_label]) {
            let same_label = self.labels.iter().any(|l| l.label == reg_label);
            if same_label && non_ascii {
                // Look-alike letters folded into the brand's own label: reported as a homoglyph below.
            } else if same_label {
                // Global brands run many country sites (dhl.co.uk, amazon.ca): a plain country ending is
                // weak evidence; generic and cheap endings (inpost.email, olx.blue, santander.live) are not.
                let cc = tld.len() == 2 && !ABUSED_CC.contains(&tld);
                let w = if cc { 0.25 } else { 0.45 };
                out.push(reason(
                    ReasonCode::BrandTldSwap,
                    w,
                    shown,
                    Some(BRANDS[b].name),
                ));
            } else {
                // Brands own compound names too (paypal-community.com, bnpparibas-am.com): alone this stays
                // below "suspicious"; with a lure word, a risky ending or a trick it is not.
                let w = match hit {
                    Hit::Whole | Hit::Glued => 0.45,
                    Hit::Segment => 0.35,
                    Hit::Substring => 0.25,
                };
                out.push(reason(
                    ReasonCode::BrandInDomain,
                    w,
                    shown,
                    Some(BRANDS[b].name),
                ));
            }
            brand_hit.get_or_insert(b);
        }
        // (c) Homoglyphs: non-ASCII letters that fold into a brand, or an ASCII skeleton equal to a brand's.
        if non_ascii && brand_hit.is_some() {
            out.push(reason(
                ReasonCode::HomoglyphBrand,
                0.9,
                shown,
                brand_hit.and_then(|b| BRANDS.get(b)).map(|b| b.name),
            ));
        } else if !reg_label.is_empty() {
            let reg_unicode_label = unicode.split('.').nth(n_sub).unwrap_or(reg_label);
            let sk = skeleton(reg_unicode_label);
            if let Some(l) = self
                .labels
                .iter()
                .find(|l| l.skeleton == sk && l.label != reg_label)
            {
                out.push(reason(
                    ReasonCode::HomoglyphBrand,
                    0.9,
                    shown,
                    Some(BRANDS[l.brand].name),
                ));
                brand_hit.get_or_insert(l.brand);
            } else if let Some(l) = self.typo_of(reg_label) {
                out.push(reason(
                    ReasonCode::TypoBrand,
                    0.5,
                    shown,
                    Some(BRANDS[l].name),
                ));
                brand_hit.get_or_insert(l);
            }
        }
        // (d) A country or generic code posing as the suffix: `allegro.pl.xyz`, `olx.pl-id12.icu`.
        if n_sub > 0 {
            if matches!(
                reg_label,
                "pl" | "com" | "gov" | "org" | "net" | "eu" | "com-pl" | "compl" | "gov-pl"
            ) {
                out.push(reason(ReasonCode::FakeSuffix, 0.5, shown, None));
            } else if ["pl-", "com-", "gov-", "pl--"]
                .iter()
                .any(|p| reg_label.starts_with(p))
            {
                out.push(reason(ReasonCode::PlHyphenTrick, 0.5, shown, None));
            }
        } else if reg_label.starts_with("pl-") && brand_hit.is_some() {
            out.push(reason(ReasonCode::PlHyphenTrick, 0.3, shown, None));
        }
        if RISKY_TLDS.contains(&tld) {
            out.push(reason(ReasonCode::RiskyTld, 0.15, shown, None));
        }
        let host_words = labels[..(n_sub + 1).min(labels.len())].join(".");
        if LURE_WORDS.iter().any(|w| host_words.contains(w)) {
            out.push(reason(ReasonCode::LureWordInLink, 0.3, shown, None));
        }
    }

    /// The strongest brand token found in these labels.
    fn token_hit(&self, labels: &[&str]) -> Option<(usize, Hit)> {
        let mut best: Option<(usize, Hit)> = None;
        let mut keep = |b: usize, h: Hit| {
            if best.is_none_or(|(_, old)| h > old) {
                best = Some((b, h));
            }
        };
        for label in labels {
            let segments: Vec<&str> = label.split('-').filter(|s| !s.is_empty()).collect();
            let others_glue = |skip: &str| {
                segments.len() > 1
                    && segments
                        .iter()
                        .filter(|s| **s != skip)
                        .all(|s| GLUE_WORDS.contains(s) || s.chars().all(|c| c.is_ascii_digit()))
            };
            for t in &self.tokens {
                if t.text.contains('-') {
                    if *label == t.text {
                        keep(t.brand, Hit::Whole);
                    } else if hyphen_bounded(label, &t.text) {
                        keep(t.brand, Hit::Segment);
                    }
                    continue;
                }
                for seg in &segments {
                    if seg == &t.text {
                        if segments.len() == 1 {
                            keep(t.brand, Hit::Whole);
                        } else if others_glue(seg) {
                            keep(t.brand, Hit::Glued);
                        } else {
                            keep(t.brand, Hit::Segment);
                        }
                    } else if glued(seg, &t.text) {
                        keep(t.brand, Hit::Glued);
                    } else if t.substring_ok && seg.contains(t.text.as_str()) {
                        keep(t.brand, Hit::Substring);
                    }
                }
            }
        }
        best
    }

    fn typo_of(&self, reg_label: &str) -> Option<usize> {
        let plain = reg_label.replace('-', "");
        for l in &self.labels {
            let len = l.label.chars().count();
            if len < MIN_SUBSTRING_TOKEN || l.label == reg_label {
                continue;
            }
            if plain == l.label.replace('-', "") {
                return Some(l.brand);
            }
            // Short labels: only same-length edits (`mbamk`), since one insertion or deletion turns
            // `gmail` into `mail` and similar ordinary names.
            let same_len_only = len <= 6;
            if same_len_only && reg_label.chars().count() != len {
                continue;
            }
            let max = if len >= 9 { 2 } else { 1 };
            let d = strsim::damerau_levenshtein(reg_label, &l.label);
            if d <= max {
                return Some(l.brand);
            }
        }
        None
    }
}

/// `needle` occurs in `host` bounded by start/`.`/`-` before and `.`/`-` after, starting before the
/// registrable domain (at `reg_start`): `mbank.pl.evil.com`, `mbank.pl-login.site`, but not the brand's own
/// country site `santander.com.br`.
fn embedded(host: &str, needle: &str, reg_start: usize) -> bool {
    let mut from = 0;
    while let Some(pos) = host[from..].find(needle) {
        let start = from + pos;
        let end = start + needle.len();
        if start >= reg_start {
            break;
        }
        let before_ok = start == 0 || matches!(host.as_bytes()[start - 1], b'.' | b'-');
        let after_ok = end < host.len() && matches!(host.as_bytes()[end], b'.' | b'-');
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
        if from >= host.len() {
            break;
        }
    }
    false
}

fn hyphen_bounded(label: &str, token: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = label[from..].find(token) {
        let start = from + pos;
        let end = start + token.len();
        let before_ok = start == 0 || label.as_bytes()[start - 1] == b'-';
        let after_ok = end == label.len() || label.as_bytes()[end] == b'-';
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
    }
    false
}

/// `seg` is the token glued to digits or to one of `GLUE_WORDS` (`olxpolska`, `olx24`, `mojeolx` is not).
fn glued(seg: &str, token: &str) -> bool {
    let ok = |rest: &str| {
        !rest.is_empty() && (rest.chars().all(|c| c.is_ascii_digit()) || GLUE_WORDS.contains(&rest))
    };
    if let Some(rest) = seg.strip_prefix(token)
        && ok(rest)
    {
        return true;
    }
    if let Some(rest) = seg.strip_suffix(token)
        && ok(rest)
    {
        return true;
    }
    false
}

fn reason(code: ReasonCode, weight: f32, host: &str, brand: Option<&str>) -> Reason {
    use ReasonCode::*;
    let b = brand.unwrap_or("a known brand");
    let bp = brand.unwrap_or("znanej marki");
    let (pl, en) = match code {
        KnownBadDomain => (
            format!(
                "Domena {host} jest na liście ostrzeżeń przed niebezpiecznymi stronami (CERT Polska)."
            ),
            format!("The domain {host} is on the warning list of dangerous sites (CERT Polska)."),
        ),
        BrandDomainEmbedded => (
            format!(
                "Adres {host} tylko zaczyna się jak strona {bp}, a naprawdę prowadzi do innej domeny."
            ),
            format!(
                "The address {host} only starts like {b}'s site; it really belongs to a different domain."
            ),
        ),
        HomoglyphBrand => (
            format!("Adres {host} udaje {bp} znakami, które tylko wyglądają tak samo."),
            format!("The address {host} imitates {b} with look-alike characters."),
        ),
        BrandInSubdomain => (
            format!(
                "Nazwa {bp} stoi w adresie {host} przed cudzą domeną; to typowa sztuczka oszustów."
            ),
            format!(
                "The name {b} appears in {host} in front of someone else's domain, a typical scam trick."
            ),
        ),
        BrandInDomain => (
            format!("Domena {host} zawiera nazwę {bp}, ale nie jest jej oficjalną stroną."),
            format!("The domain {host} contains the name {b} but is not its official site."),
        ),
        BrandTldSwap => (
            format!("Domena {host} ma nazwę {bp} z inną końcówką niż oficjalna strona."),
            format!(
                "The domain {host} uses {b}'s name with a different ending than its official site."
            ),
        ),
        TypoBrand => (
            format!("Domena {host} różni się od domeny {bp} jedną lub dwiema literami."),
            format!("The domain {host} differs from {b}'s domain by one or two letters."),
        ),
        FakeSuffix => (
            format!(
                "W adresie {host} końcówka „.pl” lub „.com” stoi w środku, a prawdziwa domena jest za nią."
            ),
            format!(
                "In {host} a \".pl\" or \".com\" ending sits in the middle; the real domain comes after it."
            ),
        ),
        PlHyphenTrick => (
            format!(
                "Adres {host} używa sztuczki „.pl-…”: wygląda na polską stronę, a jest inną domeną."
            ),
            format!(
                "The address {host} uses the \".pl-…\" trick: it looks Polish but is another domain."
            ),
        ),
        MixedScript => (
            format!("Adres {host} miesza alfabety (np. łaciński i cyrylicę)."),
            format!("The address {host} mixes alphabets (e.g. Latin and Cyrillic)."),
        ),
        Punycode => (
            format!("Adres {host} zawiera znaki spoza zwykłego alfabetu (zapis xn--)."),
            format!(
                "The address {host} contains characters outside the plain alphabet (xn-- form)."
            ),
        ),
        RiskyTld => (
            format!("Domena {host} ma końcówkę często używaną przez oszustów."),
            format!("The domain {host} has an ending often used by scammers."),
        ),
        LureWordInLink => (
            format!("Adres {host} zawiera słowa-przynęty (dopłata, logowanie, weryfikacja…)."),
            format!("The link {host} contains lure words (payment, login, verification…)."),
        ),
        IpAddressLink => (
            format!("Link prowadzi na goły adres IP ({host}) zamiast na nazwę domeny."),
            format!("The link points to a bare IP address ({host}) instead of a domain name."),
        ),
        UserinfoTrick => (
            format!("Link ukrywa prawdziwy adres ({host}) za znakiem @."),
            format!("The link hides its real destination ({host}) behind an @ sign."),
        ),
        LinkShortener => (
            format!("Link {host} to skracacz adresów: nie widać, dokąd prowadzi."),
            format!("The link {host} is a URL shortener: its destination is hidden."),
        ),
        InvalidDomain => (
            format!("Adres {host} nie jest poprawną nazwą domeny (np. zepsuty zapis xn--)."),
            format!("The address {host} is not a valid domain name (e.g. broken xn-- form)."),
        ),
        AllowlistedDomain => match brand {
            Some(name) => (
                format!("{host} to oficjalna domena: {name}."),
                format!("{host} is an official domain of {name}."),
            ),
            None => (
                format!("{host} jest na liście zaufanych domen."),
                format!("{host} is on the list of trusted domains."),
            ),
        },
        _ => (
            format!("Nie znamy zagrożeń dla {host}, ale to nie gwarancja bezpieczeństwa."),
            format!("We know of no risk for {host}, but that is no guarantee it is safe."),
        ),
    };
    Reason::new(code, weight, pl, en).with_subject(host)
}
