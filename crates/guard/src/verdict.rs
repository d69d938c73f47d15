//! What a scam check returns: the verdict, a score in 0..1 and the reasons behind it.
//!
//! Every reason has a stable machine code (`ReasonCode`, snake_case on the wire) and a message in Polish and
//! English, so the chat can explain a verdict in the customer's language. Scores are combined as a noisy-OR of
//! the strongest weight per reason code, which keeps them explainable: each reason's weight is the chance, on its
//! own, that the text is a scam.

use okienko_core::Lang;
use serde::{Deserialize, Serialize};

/// Score at or above which the verdict is `Scam`.
pub const SCAM_THRESHOLD: f32 = 0.75;
/// Score at or above which the verdict is `Suspicious` (below `SCAM_THRESHOLD`).
pub const SUSPICIOUS_THRESHOLD: f32 = 0.4;

/// The three verdicts of the `okienko guard check` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    Scam,
    Suspicious,
    Safe,
}

impl VerdictKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            VerdictKind::Scam => "scam",
            VerdictKind::Suspicious => "suspicious",
            VerdictKind::Safe => "safe",
        }
    }

    /// Maps a combined score to a verdict.
    pub fn from_score(score: f32) -> Self {
        if score >= SCAM_THRESHOLD {
            VerdictKind::Scam
        } else if score >= SUSPICIOUS_THRESHOLD {
            VerdictKind::Suspicious
        } else {
            VerdictKind::Safe
        }
    }
}

/// Stable reason codes. The wire form (`as_str`, serde) never changes once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    // Links.
    KnownBadDomain,
    BrandDomainEmbedded,
    HomoglyphBrand,
    BrandInSubdomain,
    BrandInDomain,
    BrandTldSwap,
    TypoBrand,
    FakeSuffix,
    PlHyphenTrick,
    MixedScript,
    Punycode,
    RiskyTld,
    LureWordInLink,
    IpAddressLink,
    UserinfoTrick,
    LinkShortener,
    InvalidDomain,
    AllowlistedDomain,
    UnknownDomain,
    // Messages.
    BlikCodeRequest,
    CodeReadback,
    RemoteAccessApp,
    BankStaffImpersonation,
    AuthorityImpersonation,
    SafeAccount,
    NewNumberFamily,
    ParcelSurcharge,
    SmallFeeAmount,
    MarketplaceLure,
    InvestmentScam,
    CardDataRequest,
    CredentialsRequest,
    AccountThreat,
    PrizeLure,
    Urgency,
    PaymentRequest,
    UrgencyPaymentCombo,
    Excuse,
    RepaymentPromise,
    FriendOpener,
    LinkWithLure,
    // Input hygiene.
    HiddenCharacters,
    InputTruncated,
}

impl ReasonCode {
    /// The stable wire form of the code.
    pub fn as_str(&self) -> &'static str {
        use ReasonCode::*;
        match self {
            KnownBadDomain => "known_bad_domain",
            BrandDomainEmbedded => "brand_domain_embedded",
            HomoglyphBrand => "homoglyph_brand",
            BrandInSubdomain => "brand_in_subdomain",
            BrandInDomain => "brand_in_domain",
            BrandTldSwap => "brand_tld_swap",
            TypoBrand => "typo_brand",
            FakeSuffix => "fake_suffix",
            PlHyphenTrick => "pl_hyphen_trick",
            MixedScript => "mixed_script",
            Punycode => "punycode",
            RiskyTld => "risky_tld",
            LureWordInLink => "lure_word_in_link",
            IpAddressLink => "ip_address_link",
            UserinfoTrick => "userinfo_trick",
            LinkShortener => "link_shortener",
            InvalidDomain => "invalid_domain",
            AllowlistedDomain => "allowlisted_domain",
            UnknownDomain => "unknown_domain",
            BlikCodeRequest => "blik_code_request",
            CodeReadback => "code_readback",
            RemoteAccessApp => "remote_access_app",
            BankStaffImpersonation => "bank_staff_impersonation",
            AuthorityImpersonation => "authority_impersonation",
            SafeAccount => "safe_account",
            NewNumberFamily => "new_number_family",
            ParcelSurcharge => "parcel_surcharge",
            SmallFeeAmount => "small_fee_amount",
            MarketplaceLure => "marketplace_lure",
            InvestmentScam => "investment_scam",
            CardDataRequest => "card_data_request",
            CredentialsRequest => "credentials_request",
            AccountThreat => "account_threat",
            PrizeLure => "prize_lure",
            Urgency => "urgency",
            PaymentRequest => "payment_request",
            UrgencyPaymentCombo => "urgency_payment_combo",
            Excuse => "excuse",
            RepaymentPromise => "repayment_promise",
            FriendOpener => "friend_opener",
            LinkWithLure => "link_with_lure",
            HiddenCharacters => "hidden_characters",
            InputTruncated => "input_truncated",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One explainable finding. `weight` 0 marks an informational reason (it never raises the score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub weight: f32,
    /// What the reason is about (a domain, in its ASCII form), when it is about a link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub message_pl: String,
    pub message_en: String,
}

impl Reason {
    pub fn new(code: ReasonCode, weight: f32, message_pl: String, message_en: String) -> Self {
        Self {
            code,
            weight,
            subject: None,
            message_pl,
            message_en,
        }
    }

    pub fn with_subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_owned());
        self
    }

    /// The message in the customer's language.
    pub fn message(&self, lang: Lang) -> &str {
        match lang {
            Lang::Pl => &self.message_pl,
            Lang::En => &self.message_en,
        }
    }

    /// The contract's string form of a reason: `"<code>: <English message>"`.
    pub fn contract_string(&self) -> String {
        format!("{}: {}", self.code.as_str(), self.message_en)
    }
}

/// The result of `Guard::check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    /// 0..=1; 1 only for a known-bad list hit.
    pub score: f32,
    /// Strongest first; informational reasons (weight 0) last.
    pub reasons: Vec<Reason>,
}

impl Verdict {
    /// Combines reasons: noisy-OR over the strongest weight per reason code.
    pub fn from_reasons(mut reasons: Vec<Reason>) -> Self {
        let mut best: std::collections::BTreeMap<ReasonCode, f32> = Default::default();
        for r in &reasons {
            let w = r.weight.clamp(0.0, 1.0);
            let e = best.entry(r.code).or_insert(0.0);
            if w > *e {
                *e = w;
            }
        }
        let keep = best.values().fold(1.0_f32, |acc, w| acc * (1.0 - w));
        let score = (1.0 - keep).clamp(0.0, 1.0);
        reasons.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.code.cmp(&b.code)));
        Verdict {
            verdict: VerdictKind::from_score(score),
            score,
            reasons,
        }
    }

    /// True when the verdict is not `Safe`.
    pub fn is_flagged(&self) -> bool {
        self.verdict != VerdictKind::Safe
    }

    /// True when some reason has this code.
    pub fn has(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }

    /// A short chat-ready explanation in the customer's language: the headline and the scoring reasons.
    pub fn explain(&self, lang: Lang) -> String {
        let head = match (self.verdict, lang) {
            (VerdictKind::Scam, Lang::Pl) => "To wygląda na oszustwo.",
            (VerdictKind::Scam, Lang::En) => "This looks like a scam.",
            (VerdictKind::Suspicious, Lang::Pl) => "To wygląda podejrzanie.",
            (VerdictKind::Suspicious, Lang::En) => "This looks suspicious.",
            (VerdictKind::Safe, Lang::Pl) => "Nie widzę typowych oznak oszustwa.",
            (VerdictKind::Safe, Lang::En) => "I see no typical signs of a scam.",
        };
        let mut out = String::from(head);
        for r in &self.reasons {
            out.push_str("\n- ");
            out.push_str(r.message(lang));
        }
        out
    }
}
