//! The bank's mutable state: its current day, consents, OAuth codes and tokens, bank-app
//! sessions and injected faults. One mutex, held briefly; data generation happens outside it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use base64::Engine;
use chrono::NaiveDate;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::SandboxConfig;
use crate::consent::Consent;
use crate::data::Books;

pub const DEMO_PASSWORD: &str = "demo";

/// An issued OAuth authorization code.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub consent_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: String,
    pub used: bool,
    pub issued: Instant,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub consent_id: String,
    pub expires: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    None,
    Unavailable,
    MalformedJson,
}

#[derive(Debug)]
pub struct State {
    pub today: NaiveDate,
    pub consents: HashMap<String, Consent>,
    pub codes: HashMap<String, AuthCode>,
    /// Keyed by SHA-256 of the token, so the bank never holds a usable token list.
    pub tokens: HashMap<String, Token>,
    pub refresh_tokens: HashMap<String, String>,
    pub sessions: HashMap<String, String>,
    pub fault: FaultMode,
    /// Remaining faulty responses; `None` = until told otherwise.
    pub fault_count: Option<u64>,
    /// Card extension: ids of blocked cards (every other card is active).
    pub blocked_cards: std::collections::HashSet<String>,
    /// Card extension: X-Request-ID → (card, action) already done, for idempotent retries.
    pub card_requests: HashMap<String, (String, &'static str)>,
    /// Card extension: cards reported lost or stolen → (reason, the replacement's id).
    pub reported_cards: HashMap<String, (&'static str, String)>,
    /// Card extension: replacement cards ordered and not active yet.
    pub ordered_cards: std::collections::HashSet<String>,
    /// Transactions pushed through the control API, counted for unique ids.
    pub injected: u64,
    /// Payment initiation: the double-entry ledger and the payments on it.
    pub pis: crate::ledger::payments::Pis,
    /// Card acquiring extension: charges by X-Request-ID.
    pub acquiring: crate::acquiring::Acquiring,
}

pub struct Inner {
    pub books: Books,
    pub control_api: bool,
    /// New-transaction notifications (sandbox extension), once a secret is configured.
    pub notifier: std::sync::OnceLock<crate::notify::Notifier>,
    state: Mutex<State>,
}

impl Inner {
    pub fn new(cfg: &SandboxConfig) -> Inner {
        Inner {
            books: Books::new(cfg.seed, cfg.customers, cfg.today),
            control_api: cfg.control_api,
            notifier: std::sync::OnceLock::new(),
            state: Mutex::new(State {
                today: cfg.today,
                consents: HashMap::new(),
                codes: HashMap::new(),
                tokens: HashMap::new(),
                refresh_tokens: HashMap::new(),
                sessions: HashMap::new(),
                fault: FaultMode::None,
                fault_count: None,
                blocked_cards: std::collections::HashSet::new(),
                card_requests: HashMap::new(),
                reported_cards: HashMap::new(),
                ordered_cards: std::collections::HashSet::new(),
                injected: 0,
                pis: Default::default(),
                acquiring: Default::default(),
            }),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.state().today
    }

    /// Checks a PSU's password; all sandbox customers use [`DEMO_PASSWORD`].
    pub fn login(&self, psu_id: &str, password: &str) -> bool {
        self.books.index_of(psu_id).is_some() && password == DEMO_PASSWORD
    }
}

/// A random URL-safe secret of 32 bytes.
pub fn secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn hash(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// PKCE S256: BASE64URL(SHA256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}
