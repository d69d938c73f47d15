//! A small, deterministic, pure-Rust text classifier: hashed TF-IDF features ([`features`]) and
//! multinomial logistic regression trained by AdaGrad SGD ([`train`]), saved as a compact binary.
//!
//! Owns the model's lifecycle: `train` (fixed seed, fixed order, single thread — two trainings
//! on the same data give byte-identical files), `save`/`load` (versioned little-endian format,
//! rejected cleanly when truncated or foreign) and `predict` (labels with softmax probabilities,
//! best first). It knows nothing about the product's intents; [`crate::product`] does.

mod features;
mod io;
mod train;

use std::path::Path;
use std::sync::OnceLock;

pub(crate) use features::GROUPS;
pub(crate) use train::SplitMix;
#[cfg(feature = "encoder")]
pub(crate) use train::softmax;

use crate::NluError;

/// One training example with caller-computed extra features: (text, extras, label).
pub(crate) type Example<'a> = (&'a str, Vec<(&'a str, f32)>, &'a str);

/// How to train. The defaults are the ones tuned on a held-out part of BANKING77's train split.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Hash space is `2^hash_bits` buckets.
    pub hash_bits: u32,
    /// Longest character n-gram (from 2).
    pub char_max: usize,
    /// Longest cross-word character n-gram (from 3); 0 turns them off.
    pub cross_max: usize,
    /// Weights of the word, char, raw-form, extra and cross-word feature groups.
    pub group_weight: [f32; GROUPS],
    /// Passes over the data.
    pub epochs: usize,
    /// AdaGrad base learning rate.
    pub learning_rate: f32,
    /// L2 penalty per touched weight and step.
    pub l2: f32,
    /// Seed of the example order.
    pub seed: u64,
    /// Full-batch L-BFGS iterations after the SGD warm-up (0: SGD only).
    pub lbfgs_iters: usize,
    /// Inverse L2 strength for L-BFGS (scikit-learn's `C`).
    pub c: f32,
    /// Softmax temperature applied at prediction (calibration); 1 leaves the logits as they are.
    pub temperature: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hash_bits: 20,
            char_max: 5,
            cross_max: 0,
            group_weight: [1.3, 1.0, 0.3, 1.0, 0.7],
            epochs: 3,
            learning_rate: 0.2,
            l2: 1e-6,
            seed: 0x6f6b_6965_6e6b_6f00,
            lbfgs_iters: 150,
            c: 20.0,
            temperature: 1.0,
        }
    }
}

/// A trained classifier. `rows` maps a hash bucket to its weight row; buckets never seen in
/// training have no row (their weights would be zero).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub(crate) config: TrainConfig,
    pub(crate) labels: Vec<String>,
    /// Sorted buckets that have a row; row `i` belongs to `buckets[i]`.
    pub(crate) buckets: Vec<u32>,
    /// Inverse document frequency per row.
    pub(crate) idf: Vec<f32>,
    /// `buckets.len() × labels.len()` weights, row-major.
    pub(crate) weights: Vec<f32>,
    pub(crate) bias: Vec<f32>,
    /// Dense inputs after the hashed rows (0 for an n-gram-only model): row `buckets.len() + j`
    /// weighs dense input `j`.
    pub(crate) dense_dim: usize,
    pub(crate) row_index: RowIndex,
}

/// Largest hash space given a direct bucket → row table (4 MiB); larger ones search `buckets`.
const DIRECT_INDEX_BITS: u32 = 20;

/// The row of every bucket in one array, built at the first prediction: each feature is then one
/// load instead of a binary search over the buckets (the search's cache misses were most of the
/// time spent turning a message into features). Derived from `buckets`, so it is not saved and
/// takes no part in equality.
#[derive(Clone, Default)]
pub(crate) struct RowIndex(OnceLock<Box<[u32]>>);

impl RowIndex {
    fn of(&self, buckets: &[u32], hash_bits: u32) -> &[u32] {
        self.0.get_or_init(|| {
            if hash_bits > DIRECT_INDEX_BITS || u32::try_from(buckets.len()).is_err() {
                return Box::default();
            }
            let mut index = vec![u32::MAX; 1 << hash_bits];
            for (row, &bucket) in buckets.iter().enumerate() {
                if let Some(slot) = index.get_mut(bucket as usize) {
                    *slot = row as u32;
                }
            }
            index.into_boxed_slice()
        })
    }
}

impl PartialEq for RowIndex {
    fn eq(&self, _: &RowIndex) -> bool {
        true
    }
}

impl std::fmt::Debug for RowIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RowIndex")
    }
}

impl Model {
    /// Trains on `(text, label)` pairs. Labels are sorted, so the input order of labels does not
    /// matter; the example order does (it is shuffled with `config.seed`).
    pub fn train<S: AsRef<str>, L: AsRef<str>>(data: &[(S, L)], config: &TrainConfig) -> Model {
        let rows: Vec<Example<'_>> = data
            .iter()
            .map(|(t, l)| (t.as_ref(), Vec::new(), l.as_ref()))
            .collect();
        train::train(&rows, None, config)
    }

    /// Trains on texts plus one dense vector per example (e.g. a scaled sentence embedding).
    pub fn train_dense<S: AsRef<str>, L: AsRef<str>>(
        data: &[(S, L)],
        dense: &[Vec<f32>],
        config: &TrainConfig,
    ) -> Model {
        let rows: Vec<Example<'_>> = data
            .iter()
            .map(|(t, l)| (t.as_ref(), Vec::new(), l.as_ref()))
            .collect();
        train::train(&rows, Some(dense), config)
    }

    /// Length of the dense input [`Model::predict_dense`] expects (0: none).
    pub fn dense_dim(&self) -> usize {
        self.dense_dim
    }

    /// Label indices with probabilities (most likely first) for a text and its dense input.
    pub fn predict_dense(&self, text: &str, dense: &[f32]) -> Vec<(usize, f32)> {
        let mut x = self.vectorise(text, &[]);
        let base = self.buckets.len();
        x.extend(
            dense
                .iter()
                .take(self.dense_dim)
                .enumerate()
                .map(|(j, v)| (base + j, *v)),
        );
        self.ranked(self.logits(&x))
    }

    /// Trains with caller-computed extra features per example (e.g. rule scores).
    pub(crate) fn train_with_extras(data: &[Example<'_>], config: &TrainConfig) -> Model {
        train::train(data, None, config)
    }

    /// All labels with their probabilities, most likely first.
    pub fn predict(&self, text: &str) -> Vec<(String, f32)> {
        self.predict_with_extras(text, &[])
            .into_iter()
            .map(|(i, p)| (self.labels[i].clone(), p))
            .collect()
    }

    /// Label indices with probabilities, most likely first.
    pub(crate) fn predict_with_extras(
        &self,
        text: &str,
        extra: &[(&str, f32)],
    ) -> Vec<(usize, f32)> {
        let x = self.vectorise(text, extra);
        self.ranked(self.logits(&x))
    }

    /// Temperature, softmax and ranking of logits.
    fn ranked(&self, mut p: Vec<f32>) -> Vec<(usize, f32)> {
        let t = self.config.temperature;
        if t > 0.0 && t != 1.0 {
            p.iter_mut().for_each(|z| *z /= t);
        }
        train::softmax(&mut p);
        let mut ranked: Vec<(usize, f32)> = p.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The row of a bucket, if it was seen in training.
    fn row(&self, bucket: u32) -> Option<usize> {
        let index = self.row_index.of(&self.buckets, self.config.hash_bits);
        if index.is_empty() {
            return self.buckets.binary_search(&bucket).ok();
        }
        match index.get(bucket as usize) {
            Some(&row) if row != u32::MAX => Some(row as usize),
            _ => None,
        }
    }

    /// Weighted features as (row, value), unseen buckets dropped.
    pub(crate) fn vectorise(&self, text: &str, extra: &[(&str, f32)]) -> Vec<(usize, f32)> {
        let mask = (1u32 << self.config.hash_bits) - 1;
        let raw = features::extract(
            text,
            extra,
            mask,
            self.config.char_max,
            self.config.cross_max,
        );
        // Buckets never seen in training weigh nothing, in the norms too: dropped here, each
        // bucket looked up once.
        let rows: Vec<(features::Group, usize, f32)> = raw
            .into_iter()
            .filter_map(|(g, b, tf)| self.row(b).map(|r| (g, r, tf)))
            .collect();
        let mut w = features::weigh(&rows, |r| self.idf[r], &self.config.group_weight);
        w.retain(|(_, v)| *v != 0.0);
        w
    }

    fn logits(&self, x: &[(usize, f32)]) -> Vec<f32> {
        let k = self.labels.len();
        let mut z = self.bias.clone();
        for &(r, v) in x {
            let row = &self.weights[r * k..(r + 1) * k];
            for (zi, wi) in z.iter_mut().zip(row) {
                *zi += v * wi;
            }
        }
        z
    }

    /// Writes the model (deterministic bytes for a given model).
    pub fn save(&self, path: &Path) -> Result<(), NluError> {
        std::fs::write(path, self.to_bytes()).map_err(|e| NluError::Io {
            what: "writing the model",
            source: e,
        })
    }

    /// Reads a model written by [`Model::save`].
    pub fn load(path: &Path) -> Result<Model, NluError> {
        let bytes = std::fs::read(path).map_err(|e| NluError::Io {
            what: "reading the model",
            source: e,
        })?;
        Model::from_bytes(&bytes)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        io::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Model, NluError> {
        io::decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_index_finds_what_the_search_finds() {
        let data = [
            ("ile mam na koncie", "balance"),
            ("saldo", "balance"),
            ("zablokuj karte", "card"),
            ("block my card", "card"),
        ];
        for hash_bits in [12, DIRECT_INDEX_BITS + 1] {
            let config = TrainConfig {
                hash_bits,
                lbfgs_iters: 0,
                ..TrainConfig::default()
            };
            let model = Model::train(&data, &config);
            assert!(!model.buckets.is_empty());
            for (i, b) in model.buckets.iter().enumerate() {
                assert_eq!(model.row(*b), Some(i));
            }
            let unseen = (0..1u32 << hash_bits.min(16))
                .filter(|b| model.buckets.binary_search(b).is_err())
                .take(50);
            for b in unseen {
                assert_eq!(model.row(b), None);
            }
            let direct = !model.row_index.of(&model.buckets, hash_bits).is_empty();
            assert_eq!(direct, hash_bits <= DIRECT_INDEX_BITS);
        }
    }
}
