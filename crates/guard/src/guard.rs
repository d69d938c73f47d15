//! The `Guard` service: one object that checks a pasted message or link and returns an explainable verdict.
//!
//! Owns the composition of the checks (input hygiene → link checks → message rules → combined score) and the
//! `okienko guard check` JSON line. It never logs the checked text or its links (customers paste private
//! things); it logs only counts.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::GuardError;
use crate::extract::extract_links;
use crate::known_bad::{KnownBad, ReloadStats};
use crate::links::LinkChecker;
use crate::messages::{LURE_CODES, MessageRules, message_reason};
use crate::text::{DEFAULT_MAX_ANALYSED_BYTES, fold, prepare};
use crate::verdict::{Reason, ReasonCode, Verdict};

/// How a `Guard` is set up.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Known-bad domain lists in CERT Polska's text format (one domain per line).
    pub known_bad_files: Vec<PathBuf>,
    /// How often a check may look at the lists' modification times (`Duration::ZERO`: on every check).
    pub refresh_every: Duration,
    /// Domains to allow besides the compiled-in allow-list (e.g. the bank's own).
    pub extra_allowed_domains: Vec<String>,
    /// Cap on the analysed input in bytes (longer input is cut at a character boundary).
    pub max_analysed_bytes: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            known_bad_files: Vec::new(),
            refresh_every: Duration::from_secs(300),
            extra_allowed_domains: Vec::new(),
            max_analysed_bytes: DEFAULT_MAX_ANALYSED_BYTES,
        }
    }
}

/// Scam checks for links and messages. Cheap to share (`&self` everywhere; wrap in `Arc` across threads).
#[derive(Debug)]
pub struct Guard {
    links: LinkChecker,
    rules: MessageRules,
    known_bad: KnownBad,
    max_bytes: usize,
}

impl Guard {
    /// Builds the guard and loads the known-bad lists. A list file that cannot be read is an error here
    /// (later, on refresh, the last good contents are kept instead).
    pub fn new(config: GuardConfig) -> Result<Self, GuardError> {
        let known_bad = if config.known_bad_files.is_empty() {
            KnownBad::empty()
        } else {
            KnownBad::load(&config.known_bad_files, config.refresh_every)?
        };
        Ok(Self {
            links: LinkChecker::new(&config.extra_allowed_domains),
            rules: MessageRules::new()?,
            known_bad,
            max_bytes: config.max_analysed_bytes.max(256),
        })
    }

    /// Checks one message or link.
    pub fn check(&self, text: &str) -> Verdict {
        let prepared = prepare(text, self.max_bytes);
        let mut reasons: Vec<Reason> = Vec::new();
        if prepared.truncated {
            reasons.push(message_reason(ReasonCode::InputTruncated, 0.0));
        }
        if prepared.hidden_chars > 0 {
            reasons.push(message_reason(ReasonCode::HiddenCharacters, 0.3));
        }

        let links = extract_links(&prepared.clean);
        let mut unknown_link = false;
        if !links.is_empty() {
            let bad = self.known_bad.snapshot();
            for link in &links {
                let found = self.links.check(link, &bad);
                if !found.allowlisted {
                    unknown_link = true;
                }
                reasons.extend(found.reasons);
            }
        }

        // Message rules read the words around the links, not the links themselves (those were scored above).
        let message_reasons = if links.is_empty() {
            self.rules.check(&prepared.folded)
        } else {
            let mut words = prepared.clean.clone();
            for l in &links {
                if !l.raw.is_empty() {
                    words = words.replace(l.raw.as_str(), " ");
                }
            }
            self.rules.check(&fold(&words))
        };
        let lure = message_reasons.iter().any(|r| LURE_CODES.contains(&r.code));
        reasons.extend(message_reasons);
        if lure && unknown_link {
            reasons.push(message_reason(ReasonCode::LinkWithLure, 0.35));
        }
        let verdict = Verdict::from_reasons(reasons);
        tracing::debug!(
            verdict = verdict.verdict.as_str(),
            links = links.len(),
            reasons = verdict.reasons.len(),
            "scam check"
        );
        verdict
    }

    /// One JSON line of the `okienko guard check` contract:
    /// `{"text","verdict","score","reasons":[...]}` where each reason is `"<code>: <English message>"`.
    /// The score is rounded to three decimals.
    pub fn check_json_line(&self, text: &str) -> String {
        let v = self.check(text);
        let score = (f64::from(v.score) * 1000.0).round() / 1000.0;
        json!({
            "text": text,
            "verdict": v.verdict.as_str(),
            "score": score,
            "reasons": v.reasons.iter().map(Reason::contract_string).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// Re-reads changed list files now (besides the polling done by `check`).
    pub fn reload_lists(&self) -> ReloadStats {
        self.known_bad.reload_now()
    }

    /// Number of known-bad domains loaded.
    pub fn known_bad_len(&self) -> usize {
        self.known_bad.len()
    }

    /// True when the domain (or URL host) is on the allow-list.
    pub fn is_allowlisted(&self, domain: &str) -> bool {
        crate::extract::normalize_domain(domain)
            .is_some_and(|d| self.links.allow_entry(&d).is_some())
    }
}
