//! Hard rules as versioned data (TOML, see `rules/default.toml`), applied beside the model.
//! A rule is a conjunction of comparisons on named features; when it fires, the transaction's
//! risk score is raised to at least the rule's `min_score`, and its reason (Polish and English)
//! is reported so the chat can explain the warning. Unknown feature names are rejected at load.

use serde::{Deserialize, Serialize};

use crate::error::RiskError;
use crate::features::{Features, feature_index};

/// The rules shipped with the crate.
pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub feature: String,
    pub op: Op,
    pub value: f32,
    #[serde(skip)]
    index: usize,
}

impl Condition {
    fn holds(&self, f: &Features) -> bool {
        let v = f[self.index];
        match self.op {
            Op::Gt => v > self.value,
            Op::Ge => v >= self.value,
            Op::Lt => v < self.value,
            Op::Le => v <= self.value,
            Op::Eq => v == self.value,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub reason_pl: String,
    pub reason_en: String,
    /// The score the transaction gets at least when the rule fires (0..=1).
    pub min_score: f32,
    #[serde(rename = "all")]
    pub conditions: Vec<Condition>,
}

/// A versioned set of rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub version: String,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleHit {
    pub id: String,
    pub reason_pl: String,
    pub reason_en: String,
    pub min_score: f32,
}

impl RuleSet {
    /// Parses and checks a rules file.
    pub fn from_toml(text: &str) -> Result<Self, RiskError> {
        let mut set: RuleSet =
            toml::from_str(text).map_err(|e| RiskError::Rules(e.message().to_string()))?;
        if set.version.trim().is_empty() {
            return Err(RiskError::Rules("version must not be empty".into()));
        }
        for r in &mut set.rules {
            if !(0.0..=1.0).contains(&r.min_score) {
                return Err(RiskError::Rules(format!(
                    "rule {}: min_score outside 0..=1",
                    r.id
                )));
            }
            if r.conditions.is_empty() {
                return Err(RiskError::Rules(format!("rule {}: no conditions", r.id)));
            }
            for c in &mut r.conditions {
                c.index = feature_index(&c.feature).ok_or_else(|| {
                    RiskError::Rules(format!("rule {}: unknown feature `{}`", r.id, c.feature))
                })?;
                if !c.value.is_finite() {
                    return Err(RiskError::Rules(format!("rule {}: value not finite", r.id)));
                }
            }
        }
        Ok(set)
    }

    /// The shipped default rules.
    pub fn default_rules() -> Result<Self, RiskError> {
        Self::from_toml(DEFAULT_RULES)
    }

    /// An empty set (model only).
    pub fn empty() -> Self {
        Self {
            version: "none".into(),
            rules: Vec::new(),
        }
    }

    /// Highest `min_score` among the rules that fire, or 0.
    pub fn floor(&self, f: &Features) -> f32 {
        self.rules
            .iter()
            .filter(|r| r.conditions.iter().all(|c| c.holds(f)))
            .map(|r| r.min_score)
            .fold(0.0, f32::max)
    }

    /// The rules that fire, in file order.
    pub fn hits(&self, f: &Features) -> Vec<RuleHit> {
        self.rules
            .iter()
            .filter(|r| r.conditions.iter().all(|c| c.holds(f)))
            .map(|r| RuleHit {
                id: r.id.clone(),
                reason_pl: r.reason_pl.clone(),
                reason_en: r.reason_en.clone(),
                min_score: r.min_score,
            })
            .collect()
    }
}
