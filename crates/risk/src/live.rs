//! Live scoring for the gateway: one [`LiveScorer`] shared by every customer, with the same
//! feature code as training ([`FeatureExtractor::observe`]). With a trained model it scores
//! max(model, rules); without one it runs on the versioned hard rules alone, so a gateway never
//! needs a model file to warn about the clear cases.

use std::path::Path;

use serde::Serialize;

use crate::engine::{Assessment, RiskModel, train};
use crate::error::RiskError;
use crate::features::{CustomerState, FeatureExtractor};
use crate::gbdt::{CompiledForest, GbdtParams};
use crate::rules::RuleSet;
use crate::sparkov::read_sparkov_file;
use crate::tx::Tx;

/// How urgent a warning is. High-severity warnings ignore quiet hours and the false-alarm
/// budget; low ones respect both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    High,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Severity::Low),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

/// Scores at or above this are high severity (the hard rules for clear fraud floor at 0.99).
pub const HIGH_SEVERITY_SCORE: f32 = 0.99;

/// The gateway's scorer.
#[derive(Debug, Clone)]
pub struct LiveScorer {
    extractor: FeatureExtractor,
    forest: Option<CompiledForest>,
    rules: RuleSet,
}

impl LiveScorer {
    /// Rules alone: category codes are unknown (-1) without a model's vocabulary, which no rule
    /// reads.
    pub fn rules_only(rules: RuleSet) -> Self {
        LiveScorer {
            extractor: FeatureExtractor::new(&[]),
            forest: None,
            rules,
        }
    }

    /// The model's probability raised by the rules.
    pub fn with_model(model: RiskModel, rules: RuleSet) -> Result<Self, RiskError> {
        Ok(LiveScorer {
            extractor: FeatureExtractor::new(&model.categories),
            forest: Some(model.gbdt.compile()?),
            rules,
        })
    }

    /// Loads a model file written by `okienko guard train`.
    pub fn from_model_file(path: &Path, rules: RuleSet) -> Result<Self, RiskError> {
        let bytes = std::fs::read(path).map_err(|source| RiskError::Io {
            what: "model file",
            source,
        })?;
        Self::with_model(RiskModel::from_json(&bytes)?, rules)
    }

    pub fn has_model(&self) -> bool {
        self.forest.is_some()
    }

    pub fn rules_version(&self) -> &str {
        &self.rules.version
    }

    /// Adds `tx` to the customer's history without judging it (rebuilding state from history).
    pub fn observe(&self, state: &mut CustomerState, tx: &Tx) {
        let _ = self.extractor.observe(state, tx);
    }

    /// Scores `tx` against the history in `state`, then adds it to that history.
    pub fn assess(&self, state: &mut CustomerState, tx: &Tx) -> Assessment {
        let f = self.extractor.observe(state, tx);
        let model_score = self.forest.as_ref().map_or(0.0, |m| m.predict(&f));
        let rule_hits = self.rules.hits(&f);
        let floor = rule_hits.iter().map(|h| h.min_score).fold(0.0, f32::max);
        Assessment {
            score: model_score.max(floor),
            model_score,
            rules_version: self.rules.version.clone(),
            rule_hits,
        }
    }

    /// The severity of an assessment.
    pub fn severity(a: &Assessment) -> Severity {
        if a.score >= HIGH_SEVERITY_SCORE {
            Severity::High
        } else {
            Severity::Low
        }
    }
}

/// `okienko guard train`: reads a Sparkov-layout file (the benchmark's loader) and trains on all
/// of it. Deterministic: the same file gives the same model bytes.
pub fn train_sparkov_file(path: &Path) -> Result<RiskModel, RiskError> {
    let rows = read_sparkov_file(path)?;
    if rows.iter().all(|r| !r.is_fraud) || rows.iter().all(|r| r.is_fraud) {
        return Err(RiskError::NotEnoughData(
            "training needs both fraudulent and legitimate rows".into(),
        ));
    }
    let (model, _) = train(&rows, &GbdtParams::default())?;
    Ok(model)
}
