//! okienko-nlu: what a customer's chat message means, in Polish or English, offline.
//!
//! Owns the `okienko nlu parse` contract: language, intent (from [`intent`]'s rule table, to be
//! replaced by a trained model), confidence, and slots — amounts and bounds ([`amount`]), date
//! ranges ([`date`]), merchants and categories ([`merchant`]) and transfer recipients
//! ([`recipient`]). Slot parsing is meant to stay as it is when the classifier changes.
//! Depends on okienko-core alone; never touches the network, files or logs message text.
//! Hostile input is bounded in [`text`]: every call returns a parse, in bounded time.

mod amount;
mod date;
mod fuzzy;
mod intent;
mod lang;
mod merchant;
mod recipient;
mod text;

use chrono::NaiveDate;
use okienko_core::{Currency, Lang};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use intent::Intent;

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
}

/// The understanding engine. Cheap to create; the lexicons are built once per process.
#[derive(Debug, Clone, Default)]
pub struct Nlu {
    _private: (),
}

impl Nlu {
    pub fn new() -> Nlu {
        Nlu { _private: () }
    }

    /// `known_merchants`: the customer's own merchant names (from their transactions) to match against, e.g.
    /// ["Biedronka", "Żabka", "Starbucks"]; matching is case/diacritic/inflection tolerant ("w Biedronce" → biedronka,
    /// "w zabce" → żabka → output the base form lower-cased as the customer's merchant is written: "żabka").
    pub fn parse(&self, text: &str, today: NaiveDate, known_merchants: &[String]) -> Parse {
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
        let (intent, confidence) = intent::decide(intent::rule_scores(&tokens), hints);

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
