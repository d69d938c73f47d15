//! The risk engine: training by replaying a labelled stream through the feature code, the
//! serialisable model, and live scoring (features, then model, then rules as a floor).

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::error::RiskError;
use crate::features::{CustomerState, FEATURE_NAMES, FeatureExtractor, N_FEATURES};
use crate::gbdt::{self, CompiledForest, Gbdt, GbdtParams};
use crate::rules::{RuleHit, RuleSet};
use crate::tx::Tx;

/// Bumped when the feature vector or model format changes; old model files are then refused.
pub const MODEL_FORMAT: u32 = 1;

/// One labelled transaction of a customer, for training.
#[derive(Debug, Clone)]
pub struct LabelledTx<K> {
    pub customer: K,
    pub tx: Tx,
    pub is_fraud: bool,
}

/// A trained model with what it needs to build its features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskModel {
    pub format: u32,
    pub feature_names: Vec<String>,
    /// Category vocabulary: code = index.
    pub categories: Vec<String>,
    pub params: GbdtParams,
    pub trained_rows: u64,
    pub gbdt: Gbdt,
}

impl RiskModel {
    /// Deterministic JSON bytes.
    pub fn to_json(&self) -> Result<Vec<u8>, RiskError> {
        serde_json::to_vec(self).map_err(|e| RiskError::Model(e.to_string()))
    }

    /// Loads and validates a model written by [`RiskModel::to_json`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, RiskError> {
        let m: RiskModel =
            serde_json::from_slice(bytes).map_err(|e| RiskError::Model(e.to_string()))?;
        if m.format != MODEL_FORMAT
            || m.gbdt.n_features != N_FEATURES
            || m.feature_names.iter().map(String::as_str).ne(FEATURE_NAMES)
        {
            return Err(RiskError::Model(
                "model was built for other features".into(),
            ));
        }
        m.gbdt.validate()?;
        Ok(m)
    }
}

/// Replays `rows` (in time order) through the feature code and trains the GBDT on the result.
/// Returns the model and every customer's state after the replay, so scoring can go on from
/// where training stopped.
pub fn train<K: Hash + Eq + Clone>(
    rows: &[LabelledTx<K>],
    params: &GbdtParams,
) -> Result<(RiskModel, HashMap<K, CustomerState>), RiskError> {
    let categories: Vec<String> = rows
        .iter()
        .filter_map(|r| r.tx.category.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let extractor = FeatureExtractor::new(&categories);
    let mut states: HashMap<K, CustomerState> = HashMap::new();
    let mut x = Vec::with_capacity(rows.len() * N_FEATURES);
    let mut y = Vec::with_capacity(rows.len());
    for r in rows {
        let state = states.entry(r.customer.clone()).or_default();
        x.extend_from_slice(&extractor.observe(state, &r.tx));
        y.push(r.is_fraud);
    }
    let gbdt = gbdt::train(&x, &y, N_FEATURES, params)?;
    let model = RiskModel {
        format: MODEL_FORMAT,
        feature_names: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        categories,
        params: params.clone(),
        trained_rows: rows.len() as u64,
        gbdt,
    };
    Ok((model, states))
}

/// What the engine says about one transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// Final score in 0..=1: the model's probability, raised by any rule that fired.
    pub score: f32,
    pub model_score: f32,
    pub rules_version: String,
    pub rule_hits: Vec<RuleHit>,
}

/// Scores transactions live with a model and a rule set.
#[derive(Debug, Clone)]
pub struct RiskEngine {
    model: RiskModel,
    forest: CompiledForest,
    rules: RuleSet,
    extractor: FeatureExtractor,
}

impl RiskEngine {
    /// Fails only for a model whose trees are malformed or too deep to compile.
    pub fn new(model: RiskModel, rules: RuleSet) -> Result<Self, RiskError> {
        let extractor = FeatureExtractor::new(&model.categories);
        let forest = model.gbdt.compile()?;
        Ok(Self {
            model,
            forest,
            rules,
            extractor,
        })
    }

    pub fn model(&self) -> &RiskModel {
        &self.model
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Scores `tx` against the customer's history and then adds it to that history.
    pub fn score(&self, state: &mut CustomerState, tx: &Tx) -> f32 {
        let f = self.extractor.observe(state, tx);
        self.forest.predict(&f).max(self.rules.floor(&f))
    }

    /// Like [`RiskEngine::score`] with the model score and the rules that fired.
    pub fn assess(&self, state: &mut CustomerState, tx: &Tx) -> Assessment {
        let f = self.extractor.observe(state, tx);
        let model_score = self.forest.predict(&f);
        let rule_hits = self.rules.hits(&f);
        let floor = rule_hits.iter().map(|h| h.min_score).fold(0.0, f32::max);
        Assessment {
            score: model_score.max(floor),
            model_score,
            rules_version: self.rules.version.clone(),
            rule_hits,
        }
    }
}
