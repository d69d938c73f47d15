//! okienko-nlu: what a customer's chat message means, in Polish or English, offline.
//!
//! Owns the `okienko nlu parse` contract: language, intent (a trained linear model, [`model`],
//! over character and word n-grams plus [`intent`]'s rule scores, see `product`), confidence
//! (the model's probability), alternatives, and slots — amounts and bounds ([`amount`]), date
//! ranges ([`date`]), merchants and categories ([`merchant`]) and transfer recipients
//! ([`recipient`]). Slot parsing is meant to stay as it is when the classifier changes.
//! Depends on okienko-core alone; never touches the network, files or logs message text.
//! Hostile input is bounded in [`text`]: every call returns a parse, in bounded time.
//!
//! With the cargo feature `encoder`, [`encoder`] runs the all-MiniLM-L6-v2 sentence encoder on
//! the CPU (candle, weights from a local directory) and [`hybrid`] combines its embedding with
//! the n-gram features for the English BANKING77 benchmark. The product's bilingual intents keep
//! the n-gram model: the encoder does not understand Polish.

mod amount;
pub mod bench;
mod date;
#[cfg(feature = "encoder")]
pub mod encoder;
mod error;
mod fuzzy;
#[cfg(feature = "encoder")]
pub mod hybrid;
mod intent;
mod lang;
mod merchant;
pub mod model;
mod product;
mod recipient;
#[cfg(feature = "encoder")]
pub mod static_encoder;
mod text;

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use okienko_core::{Currency, Lang};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use bench::{EncoderMode, bench_banking77, bench_banking77_with, bench_banking77_with_mode};
pub use error::NluError;
pub use intent::Intent;
pub use model::{Model, TrainConfig};
pub use product::{
    TrainReport, product_config, test_accuracy, train_intents, train_product, train_product_model,
    train_product_with,
};

/// What the message filters by or asks for. Each key is serialised only when found; decimals
/// as strings with the scale the customer gave ("120.50", "50"); dates as ISO, inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_min: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_max: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_to: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// One understood message: the contract's JSON object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parse {
    pub text: String,
    pub lang: Lang,
    pub intent: Intent,
    pub confidence: f32,
    pub slots: Slots,
    /// The three likeliest intents with their probabilities, best first (the first is `intent`).
    /// The dialog offers them as quick replies when `confidence` < [`Nlu::LOW_CONFIDENCE`].
    /// Not part of the `okienko nlu parse` JSON line.
    #[serde(skip)]
    pub alternatives: Vec<(Intent, f32)>,
}

/// What is read from a message before the intent is decided: tokens, language, the
/// intent-independent slots, the rule scores and the slot hints.
pub(crate) struct Pre {
    tokens: Vec<text::Token>,
    lang: Lang,
    used: Vec<bool>,
    dates: date::DateSpan,
    merchant: Option<String>,
    category: Option<String>,
    lexicon_recipient: Option<String>,
    pub(crate) scores: [f32; 17],
    pub(crate) hints: intent::Hints,
}

impl Pre {
    pub(crate) fn new(text: &str, today: NaiveDate, known_merchants: &[String]) -> Pre {
        let tokens = text::tokenize(text);
        let lang = lang::detect(text, &tokens);
        let mut used = vec![false; tokens.len()];

        // Slots that do not depend on the intent come first: they also hint at it.
        let dates = date::extract(&tokens, &mut used, today, lang);
        let merchant = merchant::extract(&tokens, &mut used, known_merchants);
        let category = merchant::category(&tokens, &used, merchant.is_some());
        let probe = {
            let mut u = used.clone();
            amount::extract(&tokens, &mut u, lang, amount::Mode::Filter)
        };
        let lexicon_recipient = recipient::extract(&tokens, &used, false);
        let hints = intent::Hints {
            url: tokens.iter().any(|t| t.kind == text::Kind::Url),
            amount: probe.amount.is_some() || probe.currency.is_some(),
            recipient: lexicon_recipient.is_some(),
            merchant: merchant.is_some(),
            date: dates.from.is_some() || dates.to.is_some(),
            category: category.is_some(),
        };
        let scores = intent::rule_scores(&tokens);
        Pre {
            tokens,
            lang,
            used,
            dates,
            merchant,
            category,
            lexicon_recipient,
            scores,
            hints,
        }
    }
}

/// The understanding engine: a trained intent model (shared, cheap to clone) plus the slot
/// parsers. `Nlu::new()` uses the model trained on the embedded data, once per process.
#[derive(Clone)]
pub struct Nlu {
    model: Arc<Model>,
}

impl std::fmt::Debug for Nlu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nlu")
            .field("labels", &self.model.labels().len())
            .finish_non_exhaustive()
    }
}

impl Default for Nlu {
    fn default() -> Self {
        Nlu::new()
    }
}

/// With no rule or slot evidence, a model probability below this is "not understood".
const UNSURE: f32 = 0.35;
/// Top two intents closer than this in probability: a close call, reported as low confidence.
const CLOSE_CALL: f32 = 0.3;

impl Nlu {
    /// Below this confidence the dialog should ask back with [`Parse::alternatives`].
    pub const LOW_CONFIDENCE: f32 = 0.5;

    /// The engine with the model trained on the embedded data (trained on first use, then shared).
    pub fn new() -> Nlu {
        Nlu {
            model: product::default_model(),
        }
    }

    /// The engine with a model written by [`train_product_model`] (`okienko nlu train`).
    pub fn with_model(path: &Path) -> Result<Nlu, NluError> {
        let model = Model::load(path)?;
        if model.labels().iter().any(|l| Intent::parse(l).is_none()) {
            return Err(NluError::BadModel("labels are not the product's intents"));
        }
        Ok(Nlu::from_model(Arc::new(model)))
    }

    /// The engine around an already trained model.
    pub fn from_model(model: Arc<Model>) -> Nlu {
        Nlu { model }
    }

    /// Intents with probabilities, best first.
    fn classify(&self, text: &str, pre: &Pre) -> Vec<(Intent, f32)> {
        let extras = product::extras(&pre.scores, &pre.hints);
        self.model
            .predict_with_extras(text, &extras)
            .into_iter()
            .filter_map(|(i, p)| Some((Intent::parse(self.model.labels().get(i)?)?, p)))
            .collect()
    }

    /// Every intent with the model's probability, best first (no out-of-scope fallback applied).
    pub fn intent_probabilities(&self, text: &str, today: NaiveDate) -> Vec<(Intent, f32)> {
        self.classify(text, &Pre::new(text, today, &[]))
    }

    /// `known_merchants`: the customer's own merchant names (from their transactions) to match against, e.g.
    /// ["Biedronka", "Żabka", "Starbucks"]; matching is case/diacritic/inflection tolerant ("w Biedronce" → biedronka,
    /// "w zabce" → żabka → output the base form lower-cased as the customer's merchant is written: "żabka").
    pub fn parse(&self, text: &str, today: NaiveDate, known_merchants: &[String]) -> Parse {
        let pre = Pre::new(text, today, known_merchants);
        let mut ranked = self.classify(text, &pre);
        // Nothing readable, or words no rule knows and the model is unsure: not understood.
        let no_evidence =
            pre.scores.iter().all(|s| *s == 0.0) && pre.hints == intent::Hints::default();
        let top = ranked.first().map_or(0.0, |r| r.1);
        if pre.tokens.iter().all(|t| t.kind == text::Kind::Symbol) || (no_evidence && top < UNSURE)
        {
            ranked.retain(|r| r.0 != Intent::OutOfScope);
            ranked.insert(0, (Intent::OutOfScope, (1.0 - top).max(0.5)));
        }
        let (intent, mut confidence) = ranked.first().copied().unwrap_or((Intent::OutOfScope, 0.0));
        // A close call between the two likeliest intents ("karta": block or unblock?) stays below
        // the ask-back threshold, so the dialog offers the alternatives instead of guessing.
        if let Some(second) = ranked.get(1)
            && confidence - second.1 < CLOSE_CALL
        {
            confidence = confidence.min(Nlu::LOW_CONFIDENCE - 0.01);
        }
        let confidence = ((confidence * 100.0).round() / 100.0).clamp(0.0, 1.0);
        let alternatives: Vec<(Intent, f32)> = ranked.into_iter().take(3).collect();
        let Pre {
            tokens,
            lang,
            mut used,
            dates,
            merchant,
            category,
            lexicon_recipient,
            ..
        } = pre;

        let mode = match intent {
            Intent::Transfer => amount::Mode::Transfer,
            Intent::AlertSettings => amount::Mode::Alert,
            _ => amount::Mode::Filter,
        };
        let money = amount::extract(&tokens, &mut used, lang, mode);
        let recipient = match intent {
            Intent::Transfer => recipient::extract(&tokens, &used, true),
            Intent::Transactions | Intent::SpendingSummary => lexicon_recipient,
            _ => None,
        };
        let slots = Slots {
            amount: money.amount,
            amount_min: money.amount_min,
            amount_max: money.amount_max,
            currency: money.currency,
            date_from: dates.from,
            date_to: dates.to,
            merchant,
            recipient,
            category,
        };
        Parse {
            text: text.to_owned(),
            lang,
            intent,
            confidence,
            slots,
            alternatives,
        }
    }

    /// One line of `okienko nlu parse` output (the contract's JSON object, no trailing newline).
    pub fn parse_json_line(&self, text: &str, today: NaiveDate) -> String {
        let p = self.parse(text, today, &[]);
        serde_json::to_string(&p).unwrap_or_else(|_| {
            // Serialising plain strings, numbers and enums cannot fail; keep a valid line anyway.
            format!(
                "{{\"text\":{},\"lang\":\"{}\",\"intent\":\"out_of_scope\",\"confidence\":0,\"slots\":{{}}}}",
                serde_json::Value::String(text.to_owned()),
                p.lang.code()
            )
        })
    }
}
