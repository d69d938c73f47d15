//! The product's intent model: trained on the embedded PL/EN data (`data/train.tsv`), with the
//! rule table's scores and the slot hints as extra features, so the model learns how far to
//! trust each rule.
//!
//! Owns the product training config, the embedded data, the process-wide default model (trained
//! once, cached in a `OnceLock`), the `okienko nlu train` entry point and its report.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;

use crate::intent::{Hints, Intent};
use crate::model::{Model, TrainConfig};
use crate::{Nlu, NluError};

/// The training data, compiled in: the default build needs no model file.
pub(crate) const TRAIN_TSV: &str = include_str!("../data/train.tsv");
/// The held-out test split (used by `train_product_model`'s report and the tests).
pub(crate) const TEST_TSV: &str = include_str!("../data/test.tsv");

/// The product model's training config, chosen by 5-fold cross-validation over the hand-written
/// seed lines (examples/product_cv.rs) and on an earlier dev split (see data/PROVENANCE.md):
/// eight AdaGrad epochs and no L-BFGS pass. On this small data set the early-stopped SGD model
/// generalised better (≈ 96 % CV) than the L-BFGS optimum (≈ 93 %), and trains in well under a
/// second.
pub fn product_config() -> TrainConfig {
    TrainConfig {
        hash_bits: 18,
        char_max: 5,
        group_weight: [1.0, 1.0, 0.5, 1.0, 0.0],
        epochs: 8,
        learning_rate: 0.2,
        l2: 1e-5,
        lbfgs_iters: 0,
        ..TrainConfig::default()
    }
}

/// `(lang, intent, text)` rows of a TSV file in the data format; `#` lines are comments.
pub(crate) fn rows(tsv: &str) -> Vec<(&str, Intent, &str)> {
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut c = l.splitn(3, '\t');
            let (lang, intent, text) = (c.next()?, c.next()?, c.next()?);
            Some((lang, Intent::parse(intent)?, text))
        })
        .collect()
}

const RULE_FEATURES: [&str; 17] = [
    "rule:greeting",
    "rule:thanks",
    "rule:help",
    "rule:link_bank",
    "rule:balance",
    "rule:transactions",
    "rule:spending_summary",
    "rule:card_block",
    "rule:card_unblock",
    "rule:transfer",
    "rule:agent",
    "rule:report_fraud",
    "rule:scam_check",
    "rule:alert_settings",
    "rule:revoke_consent",
    "rule:access_log",
    "rule:out_of_scope",
];

/// The rules' scores and the slot hints as model features. A rule score becomes a feature of
/// value `score / 4` (capped at 1.5); so does its rank ("rule:top"), and each hint found is 1.
pub(crate) fn extras(scores: &[f32; 17], hints: &Hints) -> Vec<(&'static str, f32)> {
    let mut out: Vec<(&'static str, f32)> = Vec::with_capacity(24);
    let mut best = (0usize, 0f32);
    for (i, s) in scores.iter().enumerate() {
        if *s > 0.0 {
            out.push((RULE_FEATURES[i], (s / 4.0).min(1.5)));
            if *s > best.1 {
                best = (i, *s);
            }
        }
    }
    if best.1 == 0.0 {
        out.push(("rule:none", 1.0));
    }
    for (on, name) in [
        (hints.url, "hint:url"),
        (hints.amount, "hint:amount"),
        (hints.recipient, "hint:recipient"),
        (hints.merchant, "hint:merchant"),
        (hints.date, "hint:date"),
        (hints.category, "hint:category"),
    ] {
        if on {
            out.push((name, 1.0));
        }
    }
    out
}

/// A fixed reference day for training (dates only matter as "a date was found").
fn train_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 15).unwrap_or_default()
}

/// Trains the product model on the embedded data.
pub fn train_product() -> Model {
    train_product_with(&product_config())
}

/// Trains the product model on the embedded data with another config (for tuning).
pub fn train_product_with(config: &TrainConfig) -> Model {
    let data: Vec<(&str, Intent)> = rows(TRAIN_TSV)
        .into_iter()
        .map(|(_, i, t)| (t, i))
        .collect();
    train_intents(&data, config)
}

/// Trains an intent model on any `(text, intent)` rows, with the rule and hint features.
pub fn train_intents(data: &[(&str, Intent)], config: &TrainConfig) -> Model {
    let feats: Vec<Vec<(&'static str, f32)>> = data
        .iter()
        .map(|(text, _)| {
            let pre = crate::Pre::new(text, train_day(), &[]);
            extras(&pre.scores, &pre.hints)
        })
        .collect();
    let examples: Vec<crate::model::Example<'_>> = data
        .iter()
        .zip(feats)
        .map(|((text, intent), f)| (*text, f, intent.as_str()))
        .collect();
    Model::train_with_extras(&examples, config)
}

static DEFAULT_MODEL: OnceLock<Arc<Model>> = OnceLock::new();

/// The process-wide model behind `Nlu::new()`, trained on first use.
pub(crate) fn default_model() -> Arc<Model> {
    DEFAULT_MODEL
        .get_or_init(|| {
            let t = Instant::now();
            let m = train_product();
            tracing::debug!(
                ms = t.elapsed().as_millis() as u64,
                "nlu: product model trained"
            );
            Arc::new(m)
        })
        .clone()
}

/// What `okienko nlu train` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    pub examples: usize,
    pub intents: usize,
    pub train_seconds: f64,
    pub model_bytes: usize,
    /// Intent accuracy on the embedded held-out test split, per language.
    pub test_accuracy_pl: f64,
    pub test_accuracy_en: f64,
}

/// `okienko nlu train`: trains the product model on the embedded data, writes it to `out`
/// (loadable with [`Nlu::with_model`]), and reports its accuracy on the held-out test split.
pub fn train_product_model(out: &Path) -> Result<TrainReport, NluError> {
    let t = Instant::now();
    let model = train_product();
    let train_seconds = t.elapsed().as_secs_f64();
    model.save(out)?;
    let nlu = Nlu::from_model(Arc::new(model.clone()));
    let (pl, en) = test_accuracy(&nlu);
    Ok(TrainReport {
        examples: rows(TRAIN_TSV).len(),
        intents: model.labels().len(),
        train_seconds,
        model_bytes: model.to_bytes().len(),
        test_accuracy_pl: pl,
        test_accuracy_en: en,
    })
}

/// Intent accuracy on the embedded test split: (Polish, English).
pub fn test_accuracy(nlu: &Nlu) -> (f64, f64) {
    let mut n = [0usize; 2];
    let mut right = [0usize; 2];
    for (lang, intent, text) in rows(TEST_TSV) {
        let i = usize::from(lang != "pl");
        n[i] += 1;
        if nlu.parse(text, train_day(), &[]).intent == intent {
            right[i] += 1;
        }
    }
    let acc = |i: usize| right[i] as f64 / n[i].max(1) as f64;
    (acc(0), acc(1))
}
