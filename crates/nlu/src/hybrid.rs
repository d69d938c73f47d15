//! The BANKING77 classifier with the sentence encoder (feature `encoder`): one multinomial
//! logistic regression over the n-gram features *and* the scaled all-MiniLM-L6-v2 embedding
//! (dense rows after the hashed ones, [`Model::train_dense`]), blended with a nearest-prototype
//! classifier in embedding space (cosine to each label's mean embedding, softmax with a
//! temperature) — which is what carries the few-shot regime.
//!
//! Owns training (deterministic: the embeddings are, and the regression is), prediction, and
//! `okienko nlu bench --banking77 DIR [--shots N] --encoder MODEL_DIR`. Every constant below was
//! chosen on a validation split carved from BANKING77's *train* file (every 5th row held out;
//! 10-shot samples drawn from the other four fifths), never on test.csv: see
//! `examples/b77_encoder_tune.rs`.

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use crate::NluError;
use crate::bench::{SHOT_SEED, peak_rss_mb, read_banking77_csv, sample_shots, scores};
use crate::encoder::Encoder;
use crate::model::{Model, TrainConfig};
use crate::static_encoder::Contextual;

/// How the two views are weighed.
#[derive(Debug, Clone, PartialEq)]
pub struct HybridConfig {
    /// The logistic regression's config (n-gram weights, C, iterations).
    pub linear: TrainConfig,
    /// Multiplier on the unit-length embedding before the regression sees it (the n-gram
    /// groups are unit length each, so this sets the encoder's share).
    pub scale: f32,
    /// Share of the prototype classifier in the blended probabilities (0: regression only).
    pub proto_weight: f32,
    /// Softmax temperature over cosine similarities to the prototypes.
    pub proto_temp: f32,
    /// Adds each label's own name ("card_arrival" → "card arrival") as one more example, a
    /// data-free hint that matters when there are few examples.
    pub label_names: bool,
    /// Subtracts the training embeddings' mean from every embedding (then back to unit length)
    /// before both views see it: sentence embeddings share a large common direction that
    /// otherwise squeezes all cosines to the prototypes together.
    pub centre: bool,
}

impl HybridConfig {
    /// Chosen on validation for the full training data.
    pub fn full() -> HybridConfig {
        // Validation accuracy (full train minus every 5th row → that 5th): scale 1: 92.6 %,
        // 1.5: 92.8 %, 2: 92.7 %, 3: 92.4 %, 4: 92.1 %; prototypes (0.2) added nothing.
        HybridConfig {
            linear: TrainConfig::default(),
            scale: 1.5,
            proto_weight: 0.0,
            proto_temp: 0.1,
            label_names: false,
            centre: false,
        }
    }

    /// Chosen on validation for 10 examples per label.
    pub fn few_shot() -> HybridConfig {
        // Validation accuracy, mean of 3 samples of 10 per label: n-grams alone 73.0 %,
        // + embedding ×3: 83.7 %, + label names: 84.1 %, + prototypes (0.3, T 0.1): 84.3 %
        // (×5, C 5 or 100, prototype weight 0.6: no better).
        HybridConfig {
            linear: TrainConfig::default(),
            scale: 3.0,
            proto_weight: 0.3,
            proto_temp: 0.1,
            label_names: true,
            centre: false,
        }
    }

    /// [`HybridConfig::few_shot`] when the smallest label has fewer than 20 examples.
    pub fn for_data(data: &[(String, String)]) -> HybridConfig {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for (_, l) in data {
            *counts.entry(l.as_str()).or_default() += 1;
        }
        if counts.values().copied().min().unwrap_or(0) < 20 {
            HybridConfig::few_shot()
        } else {
            HybridConfig::full()
        }
    }
}

/// Whether the static bench makes the table contextual on the training sentences, and how.
/// Chosen on validation (every 5th train row held out; `examples/b77_ctx_tune.rs`), static
/// hybrid at the scales below: full data, single-token table 91.4 % → contextual with unseen
/// tokens mapped 92.15 % → seen rows then fitted to MiniLM's sentence embeddings (ridge 1)
/// 92.7 % (ridge 3: 92.55 %); 10-shot (mean of 3 samples) contextual 81.4 % → fitted, ridge 1:
/// 82.05 %, ridge 3: 82.1 %, ridge 0.3: 81.5 %. Not helping (10-shot, ridge 3): 1,700–2,000
/// unlabelled NLU++ or in-repo product sentences added to the fitted corpus (81.8–81.95 %),
/// re-fitting the unseen-token map after the fit (82.3 % vs 82.35 % with centring), training
/// on MiniLM's own embeddings of the training sentences (78.0 %), word-dropout copies (81.3 %).
pub const STATIC_CONTEXTUAL: Option<Contextual> = Some(Contextual {
    align: true,
    prior: 0.0,
    fit: 1.0,
});

/// A trained hybrid classifier. Prediction needs the text and its embedding.
#[derive(Debug, Clone)]
pub struct Hybrid {
    linear: Model,
    scale: f32,
    /// One unit-length mean embedding per label, in `linear.labels()` order.
    prototypes: Vec<Vec<f32>>,
    proto_weight: f32,
    proto_temp: f32,
    /// Mean training embedding subtracted before prediction ([`HybridConfig::centre`]).
    centre: Option<Vec<f32>>,
}

/// A label's name as words: "card_arrival" → "card arrival", "reverted_card_payment?" →
/// "reverted card payment".
pub fn label_text(label: &str) -> String {
    label.trim_end_matches('?').replace('_', " ").to_lowercase()
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Mean of equally long vectors (empty input: empty mean).
fn mean_of(vs: &[&[f32]]) -> Vec<f32> {
    let dim = vs.first().map_or(0, |v| v.len());
    let mut m = vec![0f32; dim];
    for v in vs {
        m.iter_mut().zip(*v).for_each(|(a, x)| *a += x);
    }
    let n = vs.len().max(1) as f32;
    m.iter_mut().for_each(|a| *a /= n);
    m
}

/// `v − centre`, back to unit length.
fn centred_unit(v: &[f32], centre: &[f32]) -> Vec<f32> {
    let mut out: Vec<f32> = v.iter().zip(centre).map(|(x, c)| x - c).collect();
    normalise(&mut out);
    out
}

impl Hybrid {
    /// Trains on `(text, label)` rows and their embeddings (same order, unit length).
    /// `label_embeddings` holds the embeddings of [`label_text`] per label when
    /// `config.label_names` is on (looked up by label; missing ones are skipped).
    pub fn train(
        data: &[(String, String)],
        embeddings: &[Vec<f32>],
        label_embeddings: &[(String, Vec<f32>)],
        config: &HybridConfig,
    ) -> Hybrid {
        // Borrowed rows and one scaled copy of the embeddings: the regression's training peak is
        // what bounds the bench's memory, so nothing here is copied twice.
        let names: Vec<(String, &str)> = if config.label_names {
            label_embeddings
                .iter()
                .map(|(label, _)| (label_text(label), label.as_str()))
                .collect()
        } else {
            Vec::new()
        };
        let rows: Vec<(&str, &str)> = data
            .iter()
            .map(|(t, l)| (t.as_str(), l.as_str()))
            .chain(names.iter().map(|(t, l)| (t.as_str(), *l)))
            .collect();
        let embs: Vec<&[f32]> = embeddings
            .iter()
            .chain(
                label_embeddings
                    .iter()
                    .filter(|_| config.label_names)
                    .map(|(_, e)| e),
            )
            .map(Vec::as_slice)
            .collect();
        let centre = config.centre.then(|| mean_of(&embs));
        let centred: Vec<Vec<f32>>;
        let embs: Vec<&[f32]> = match &centre {
            Some(c) => {
                centred = embs.iter().map(|e| centred_unit(e, c)).collect();
                centred.iter().map(Vec::as_slice).collect()
            }
            None => embs,
        };
        let scaled: Vec<Vec<f32>> = embs
            .iter()
            .map(|e| e.iter().map(|x| x * config.scale).collect())
            .collect();
        let linear = Model::train_dense(&rows, &scaled, &config.linear);
        let dim = embs.first().map_or(0, |e| e.len());
        let mut prototypes = vec![vec![0f32; dim]; linear.labels().len()];
        for ((_, l), e) in rows.iter().zip(&embs) {
            if let Ok(i) = linear.labels().binary_search_by(|x| x.as_str().cmp(l)) {
                prototypes[i].iter_mut().zip(*e).for_each(|(p, x)| *p += x);
            }
        }
        prototypes.iter_mut().for_each(|p| normalise(p));
        Hybrid {
            linear,
            scale: config.scale,
            prototypes,
            proto_weight: config.proto_weight,
            proto_temp: config.proto_temp,
            centre,
        }
    }

    pub fn labels(&self) -> &[String] {
        self.linear.labels()
    }

    /// Label indices with blended probabilities, most likely first.
    pub fn predict(&self, text: &str, embedding: &[f32]) -> Vec<(usize, f32)> {
        let centred;
        let embedding = match &self.centre {
            Some(c) => {
                centred = centred_unit(embedding, c);
                centred.as_slice()
            }
            None => embedding,
        };
        let scaled: Vec<f32> = embedding.iter().map(|x| x * self.scale).collect();
        let ranked = self.linear.predict_dense(text, &scaled);
        if self.proto_weight <= 0.0 {
            return ranked;
        }
        let k = self.prototypes.len();
        let mut p = vec![0f32; k];
        for (i, q) in ranked {
            if let Some(slot) = p.get_mut(i) {
                *slot = q * (1.0 - self.proto_weight);
            }
        }
        let mut z: Vec<f32> = self
            .prototypes
            .iter()
            .map(|c| c.iter().zip(embedding).map(|(a, b)| a * b).sum::<f32>() / self.proto_temp)
            .collect();
        crate::model::softmax(&mut z);
        for (pi, zi) in p.iter_mut().zip(&z) {
            *pi += self.proto_weight * zi;
        }
        let mut out: Vec<(usize, f32)> = p.into_iter().enumerate().collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// Size of what prediction keeps besides the encoder: the regression and the prototypes.
    pub fn model_bytes(&self) -> usize {
        self.linear.to_bytes().len()
            + self.prototypes.iter().map(|p| 4 * p.len()).sum::<usize>()
            + self.centre.as_ref().map_or(0, |c| 4 * c.len())
    }
}

/// Embeds texts in batches (faster than one by one; same vectors up to rounding).
pub fn embed_all(encoder: &Encoder, texts: &[&str]) -> Result<Vec<Vec<f32>>, NluError> {
    let mut out = Vec::with_capacity(texts.len());
    for (n, chunk) in texts.chunks(32).enumerate() {
        out.extend(encoder.embed_batch(chunk)?);
        if n % 50 == 0 {
            tracing::info!(done = out.len(), of = texts.len(), "embedding");
        }
    }
    Ok(out)
}

/// `okienko nlu bench --banking77 DIR [--shots N] --encoder MODEL_DIR`: like
/// [`crate::bench_banking77`], with the hybrid model. `train_seconds` includes embedding the
/// training texts; the latency percentiles are per query, one at a time, embedding included;
/// `model_bytes` includes the encoder's weights file.
pub fn bench_banking77_encoder(
    dir: &Path,
    shots: Option<usize>,
    model_dir: &Path,
) -> Result<serde_json::Value, NluError> {
    let train = read_banking77_csv(&dir.join("train.csv"))?;
    let test = read_banking77_csv(&dir.join("test.csv"))?;
    let train = match shots {
        Some(n) => sample_shots(&train, n, SHOT_SEED),
        None => train,
    };
    let encoder = Encoder::load(model_dir)?;
    let encoder_bytes = std::fs::metadata(model_dir.join("model.safetensors"))
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let config = HybridConfig::for_data(&train);
    tracing::info!(
        train = train.len(),
        test = test.len(),
        "banking77 with encoder: training"
    );

    let t0 = Instant::now();
    let texts: Vec<&str> = train.iter().map(|r| r.0.as_str()).collect();
    let embeddings = embed_all(&encoder, &texts)?;
    let label_embeddings = if config.label_names {
        label_embeddings(&encoder, &train)?
    } else {
        Vec::new()
    };
    let model = Hybrid::train(&train, &embeddings, &label_embeddings, &config);
    let train_seconds = t0.elapsed().as_secs_f64();

    tracing::info!("banking77 with encoder: testing, one query at a time");
    let mut lat = Vec::with_capacity(test.len());
    let mut pred = Vec::with_capacity(test.len());
    for (text, _) in &test {
        let t = Instant::now();
        let e = encoder.embed(text)?;
        let p = model.predict(text, &e);
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        let best = p.first().and_then(|(i, _)| model.labels().get(*i));
        pred.push(best.cloned().unwrap_or_default());
    }
    let gold: Vec<&str> = test.iter().map(|t| t.1.as_str()).collect();
    let (accuracy, macro_f1) = scores(&gold, &pred);
    lat.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() - 1) as f64 * q).round() as usize]
        }
    };
    Ok(json!({
        "accuracy": accuracy,
        "macro_f1": macro_f1,
        "train_seconds": train_seconds,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "model_bytes": model.model_bytes() + encoder_bytes,
        "model": "ngram+minilm",
        "peak_rss_mb": peak_rss_mb(),
        "threads": candle_core::utils::get_num_threads(),
    }))
}

/// Embeddings of every label's name, sorted by label.
pub fn label_embeddings(
    encoder: &Encoder,
    data: &[(String, String)],
) -> Result<Vec<(String, Vec<f32>)>, NluError> {
    let mut labels: Vec<&str> = data.iter().map(|d| d.1.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let names: Vec<String> = labels.iter().map(|l| label_text(l)).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let embs = embed_all(encoder, &refs)?;
    Ok(labels.into_iter().map(str::to_owned).zip(embs).collect())
}

impl HybridConfig {
    /// For the distilled static encoder, full training data; chosen on validation (every 5th
    /// train row held out), see `examples/b77_static_tune.rs`: n-grams alone 91.2 %, + static
    /// embedding ×1: 91.3 %, ×2: 91.4 %, ×3: 91.25 %, ×5: 91.2 % (unweighted mean ×2: 91.5 %).
    /// With the fitted contextual table (`examples/b77_ctx_tune.rs`): ×2 92.7 %, ×1.5 92.4 %,
    /// ×3 92.65 %; centred ×2 92.65 %, so not centred.
    pub fn static_full() -> HybridConfig {
        HybridConfig {
            scale: 2.0,
            ..HybridConfig::full()
        }
    }

    /// For the distilled static encoder, 10 examples per label; chosen on validation (mean of 3
    /// samples): n-grams + label names + prototypes 74.3 %, + static embedding ×3: 75.8 %,
    /// ×5: 75.3 %; without prototypes 75.65 %. With the fitted contextual table (ridge 3):
    /// ×3 82.1 %, ×2 81.2 %, ×4 82.2 %, ×5 82.0 % (prototype weight 0.5: within 0.1); centred
    /// embeddings ×3 82.35 % (prototype weight 0.5: 82.1 %; temperature 0.05: 81.9 %, 0.2:
    /// 82.2 %). The ridge the bench uses (1), centred, ×3: 82.3 %.
    pub fn static_few_shot() -> HybridConfig {
        HybridConfig {
            centre: true,
            ..HybridConfig::few_shot()
        }
    }

    /// [`HybridConfig::static_few_shot`] when the smallest label has fewer than 20 examples.
    pub fn static_for_data(data: &[(String, String)]) -> HybridConfig {
        if HybridConfig::for_data(data) == HybridConfig::few_shot() {
            HybridConfig::static_few_shot()
        } else {
            HybridConfig::static_full()
        }
    }
}

/// `okienko nlu bench --banking77 DIR [--shots N] --encoder MODEL_DIR --encoder-mode static`:
/// the hybrid with the static encoder ([`crate::static_encoder`]), made contextual on the
/// training sentences (and fitted to the full encoder's embeddings of them) when
/// [`STATIC_CONTEXTUAL`] says so. The single-token table is distilled
/// once per model directory (`distill_seconds`, 0 when it was already there, not in
/// `train_seconds`). Training runs in phases that never overlap in memory: (1) the full encoder
/// reads the training sentences once and is dropped, (2) the raw f32 table becomes the int8
/// serving table and is dropped, (3) the regression is fitted and its buffers dropped;
/// `train_seconds` covers all three. Latency is per query, one at a time on this thread,
/// tokenising and embedding included. Memory, from Linux `/proc/self/status`:
/// `peak_rss_mb` is the process's high-water mark over the whole run (distillation, when it
/// ran, included), `peak_rss_mb_by_phase` each phase's own high-water mark (reset between
/// phases through `/proc/self/clear_refs`), `serving_rss_mb` the resident size after training
/// with only what prediction needs left (tokeniser, int8 table, regression, test texts).
pub fn bench_banking77_static(
    dir: &Path,
    shots: Option<usize>,
    model_dir: &Path,
) -> Result<serde_json::Value, NluError> {
    use crate::bench::{current_rss_mb, reset_peak_rss};
    use crate::static_encoder::{RawTable, STATIC_FILE, STATIC_POST, STATIC_WEIGHTING};
    let train = read_banking77_csv(&dir.join("train.csv"))?;
    let test = read_banking77_csv(&dir.join("test.csv"))?;
    let train = match shots {
        Some(n) => sample_shots(&train, n, SHOT_SEED),
        None => train,
    };
    let config = HybridConfig::static_for_data(&train);
    let mut labels: Vec<&str> = train.iter().map(|d| d.1.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let names: Vec<String> = if config.label_names {
        labels.iter().map(|l| label_text(l)).collect()
    } else {
        Vec::new()
    };
    let texts: Vec<&str> = train.iter().map(|r| r.0.as_str()).collect();

    // Distillation (once per model directory) is not training: done and measured apart.
    let distill_seconds = if model_dir.join(STATIC_FILE).exists() {
        0.0
    } else {
        RawTable::load_or_distill(model_dir)?.1
    };
    let mut peak = peak_rss_mb();
    let mut phases = serde_json::Map::new();
    let mut phase_end = |name: &str, phases: &mut serde_json::Map<String, serde_json::Value>| {
        let p = peak_rss_mb();
        peak = peak.max(p);
        phases.insert(name.to_owned(), json!(p));
        reset_peak_rss();
    };
    reset_peak_rss();

    let t0 = Instant::now();
    let contexts = match STATIC_CONTEXTUAL {
        Some(how) => {
            let encoder = Encoder::load(model_dir)?;
            let corpus: Vec<&str> = texts
                .iter()
                .copied()
                .chain(names.iter().map(String::as_str))
                .collect();
            let (_, ctx) = encoder.contextual_pass(&corpus)?;
            Some((ctx, how))
        }
        None => None,
    };
    phase_end("encoder_pass", &mut phases);
    let encoder = {
        let (raw, _) = RawTable::load_or_distill(model_dir)?;
        raw.build(
            STATIC_WEIGHTING,
            STATIC_POST,
            contexts.as_ref().map(|(c, h)| (c, *h)),
        )
    };
    drop(contexts);
    phase_end("table", &mut phases);
    let model = {
        let embeddings = encoder.embed_all(&texts)?;
        let label_embeddings = labels
            .iter()
            .zip(&names)
            .map(|(l, n)| Ok(((*l).to_owned(), encoder.embed(n)?)))
            .collect::<Result<Vec<_>, NluError>>()?;
        Hybrid::train(&train, &embeddings, &label_embeddings, &config)
    };
    let train_seconds = t0.elapsed().as_secs_f64();
    drop(texts);
    drop(train);
    phase_end("regression", &mut phases);
    let serving_rss_mb = current_rss_mb();

    let mut lat = Vec::with_capacity(test.len());
    let mut pred = Vec::with_capacity(test.len());
    for (text, _) in &test {
        let t = Instant::now();
        let e = encoder.embed(text)?;
        let p = model.predict(text, &e);
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        let best = p.first().and_then(|(i, _)| model.labels().get(*i));
        pred.push(best.cloned().unwrap_or_default());
    }
    phase_end("serving", &mut phases);
    let gold: Vec<&str> = test.iter().map(|t| t.1.as_str()).collect();
    let (accuracy, macro_f1) = scores(&gold, &pred);
    lat.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() - 1) as f64 * q).round() as usize]
        }
    };
    Ok(json!({
        "accuracy": accuracy,
        "macro_f1": macro_f1,
        "train_seconds": train_seconds,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "model_bytes": model.model_bytes() + encoder.table_bytes(),
        "model": match STATIC_CONTEXTUAL {
            Some(c) if c.fit > 0.0 => "ngram+static-minilm-fit",
            Some(_) => "ngram+static-minilm-ctx",
            None => "ngram+static-minilm",
        },
        "distill_seconds": distill_seconds,
        "peak_rss_mb": peak,
        "peak_rss_mb_by_phase": phases,
        "serving_rss_mb": serving_rss_mb,
        "threads": 1,
    }))
}
