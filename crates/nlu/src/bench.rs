//! The BANKING77 benchmark behind `okienko nlu bench --banking77 DIR [--shots N]`.
//!
//! Owns reading the data set (RFC 4180 CSV via the `csv` crate: some texts hold quoted
//! newlines), the deterministic k-shot sample, training, and the measurements: accuracy,
//! macro-F1, training seconds, per-query latency percentiles (single thread) and model size.
//! Prints nothing: it returns the JSON object; progress goes to stderr through `tracing` only.

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use crate::NluError;
use crate::model::{Model, TrainConfig};

/// (text, label) rows of a BANKING77 CSV file (`text,category` header).
pub fn read_banking77_csv(path: &Path) -> Result<Vec<(String, String)>, NluError> {
    let bad = |reason: String| NluError::BadData {
        file: path.display().to_string(),
        reason,
    };
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        match (rec.get(0), rec.get(1)) {
            (Some(t), Some(l)) if !l.is_empty() => out.push((t.to_owned(), l.to_owned())),
            _ => return Err(bad(format!("row {} lacks text or category", out.len() + 2))),
        }
    }
    if out.is_empty() {
        return Err(bad("no rows".to_owned()));
    }
    Ok(out)
}

/// `shots` examples per label, chosen by a seeded shuffle of each label's rows (file order kept
/// in the result). Labels with fewer rows keep them all.
pub fn sample_shots(data: &[(String, String)], shots: usize, seed: u64) -> Vec<(String, String)> {
    let mut labels: Vec<&str> = data.iter().map(|d| d.1.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let mut rng = crate::model::SplitMix(seed);
    let mut keep: Vec<usize> = Vec::new();
    for l in labels {
        let mut idx: Vec<usize> = (0..data.len()).filter(|&i| data[i].1 == l).collect();
        rng.shuffle(&mut idx);
        idx.truncate(shots);
        keep.extend(idx);
    }
    keep.sort_unstable();
    keep.into_iter().map(|i| data[i].clone()).collect()
}

/// What one train/test run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub train_seconds: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub model_bytes: usize,
}

/// Trains on `train`, tests on `test`.
pub fn evaluate(
    train: &[(String, String)],
    test: &[(String, String)],
    config: &TrainConfig,
) -> Evaluation {
    let t0 = Instant::now();
    let model = Model::train(train, config);
    let train_seconds = t0.elapsed().as_secs_f64();
    let mut lat = Vec::with_capacity(test.len());
    let mut pred = Vec::with_capacity(test.len());
    for (text, _) in test {
        let t = Instant::now();
        let p = model.predict(text);
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        pred.push(p.into_iter().next().map(|x| x.0).unwrap_or_default());
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
    Evaluation {
        accuracy,
        macro_f1,
        train_seconds,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        model_bytes: model.to_bytes().len(),
    }
}

/// Accuracy and macro-F1 (over the gold labels, as scikit-learn's `f1_score(average="macro")`
/// over the labels present).
pub fn scores(gold: &[&str], pred: &[String]) -> (f64, f64) {
    let n = gold.len().max(1) as f64;
    let right = gold
        .iter()
        .zip(pred)
        .filter(|(g, p)| **g == p.as_str())
        .count();
    let mut labels: Vec<&str> = gold
        .iter()
        .copied()
        .chain(pred.iter().map(String::as_str))
        .collect();
    labels.sort_unstable();
    labels.dedup();
    let mut f1_sum = 0.0;
    for l in &labels {
        let tp = gold
            .iter()
            .zip(pred)
            .filter(|(g, p)| **g == *l && p.as_str() == *l)
            .count() as f64;
        let fp = gold
            .iter()
            .zip(pred)
            .filter(|(g, p)| **g != *l && p.as_str() == *l)
            .count() as f64;
        let fn_ = gold
            .iter()
            .zip(pred)
            .filter(|(g, p)| **g == *l && p.as_str() != *l)
            .count() as f64;
        let denom = 2.0 * tp + fp + fn_;
        if denom > 0.0 {
            f1_sum += 2.0 * tp / denom;
        }
    }
    (right as f64 / n, f1_sum / labels.len().max(1) as f64)
}

/// `okienko nlu bench --banking77 DIR [--shots N]`: trains on DIR/train.csv (all of it, or N per
/// intent chosen deterministically), tests on DIR/test.csv, returns
/// `{accuracy, macro_f1, train_seconds, p50_us, p99_us, model_bytes}`.
pub fn bench_banking77(dir: &Path, shots: Option<usize>) -> Result<serde_json::Value, NluError> {
    let train = read_banking77_csv(&dir.join("train.csv"))?;
    let test = read_banking77_csv(&dir.join("test.csv"))?;
    let train = match shots {
        Some(n) => sample_shots(&train, n, SHOT_SEED),
        None => train,
    };
    tracing::info!(
        train = train.len(),
        test = test.len(),
        "banking77: training"
    );
    let e = evaluate(&train, &test, &TrainConfig::default());
    Ok(json!({
        "accuracy": e.accuracy,
        "macro_f1": e.macro_f1,
        "train_seconds": e.train_seconds,
        "p50_us": e.p50_us,
        "p99_us": e.p99_us,
        "model_bytes": e.model_bytes,
        "model": "ngram",
        "peak_rss_mb": peak_rss_mb(),
    }))
}

/// Which sentence encoder `--encoder DIR` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderMode {
    /// The distilled static token table, made contextual on the training sentences
    /// (microseconds per query: see `hybrid::bench_banking77_static`).
    Static,
    /// The full 6-layer all-MiniLM-L6-v2 transformer per query: the accurate mode.
    Full,
}

impl EncoderMode {
    /// The mode `--encoder` uses unless told otherwise. The static table, contextual and fitted
    /// to MiniLM's embeddings of the training sentences, reaches 93.7 % (full data, exactly the
    /// target) and 84.1 % (10-shot, target 85.2 %) on the official test split; the full
    /// encoder meets both (94.1 %, 86.7 %), so it stays the default; `static` is the mode that
    /// meets the latency target (p99 ≈ 0.25–0.55 ms on one loaded core).
    pub const RECOMMENDED: EncoderMode = EncoderMode::Full;
}

impl std::str::FromStr for EncoderMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "static" => Ok(EncoderMode::Static),
            "full" => Ok(EncoderMode::Full),
            _ => Err("expected `static` or `full`".to_owned()),
        }
    }
}

/// The bench with the sentence encoder in `encoder` (a model directory, feature `encoder`) in
/// the recommended mode, or the n-gram model alone when `None`.
pub fn bench_banking77_with(
    dir: &Path,
    shots: Option<usize>,
    encoder: Option<&Path>,
) -> Result<serde_json::Value, NluError> {
    bench_banking77_with_mode(dir, shots, encoder, EncoderMode::RECOMMENDED)
}

/// Like [`bench_banking77_with`] with an explicit encoder mode. A build without the feature
/// refuses a model directory with a clear error rather than silently running the other model.
pub fn bench_banking77_with_mode(
    dir: &Path,
    shots: Option<usize>,
    encoder: Option<&Path>,
    mode: EncoderMode,
) -> Result<serde_json::Value, NluError> {
    match (encoder, mode) {
        (None, _) => bench_banking77(dir, shots),
        #[cfg(feature = "encoder")]
        (Some(model_dir), EncoderMode::Full) => {
            crate::hybrid::bench_banking77_encoder(dir, shots, model_dir)
        }
        #[cfg(feature = "encoder")]
        (Some(model_dir), EncoderMode::Static) => {
            crate::hybrid::bench_banking77_static(dir, shots, model_dir)
        }
        #[cfg(not(feature = "encoder"))]
        (Some(_), _) => Err(NluError::Encoder {
            what: "--encoder",
            reason: "this build has no sentence encoder (build with --features encoder)".to_owned(),
        }),
    }
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in MB; 0 elsewhere.
pub fn peak_rss_mb() -> f64 {
    status_kb("VmHWM:").map_or(0.0, |kb| kb / 1024.0)
}

/// Resident memory of this process now (Linux `VmRSS`), in MB; 0 elsewhere.
pub fn current_rss_mb() -> f64 {
    status_kb("VmRSS:").map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak [`peak_rss_mb`] reports to the current resident size (Linux ≥ 4.0, writing
/// `5` to `/proc/self/clear_refs`), so a phase's own peak can be measured. Best effort: where
/// that is not possible the peak simply keeps counting from the start.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kb(key: &str) -> Option<f64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
}

/// Seed of the k-shot sample (the Python baseline uses the same rows: it reads them by the same rule).
pub const SHOT_SEED: u64 = 77;
