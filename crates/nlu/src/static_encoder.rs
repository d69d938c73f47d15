//! A static sentence encoder distilled from all-MiniLM-L6-v2 (feature `encoder`), in the
//! Model2Vec style: every WordPiece vocabulary token is passed through MiniLM once, alone
//! (`[CLS] token [SEP]`, mean-pooled as sentence-transformers does), and its output vector is
//! kept. A message is then embedded as the weighted mean of its tokens' vectors, L2-normalised:
//! a tokeniser pass and a few hundred additions, microseconds instead of a 6-layer transformer.
//!
//! Owns distillation (deterministic: the same weights give the same table; written once next to
//! the model as `static-minilm-v1.f32`, see [`StaticEncoder::load_or_distill`]) and embedding.
//! Token weights follow Zipf's law over the vocabulary rank (BERT's vocabulary is roughly in
//! frequency order): `ln(1 + rank)`, so frequent sub-words ("the", "my", "##s") count less.
//! Never touches the network; errors never carry the text.

use std::path::{Path, PathBuf};

use tokenizers::Tokenizer;

use crate::NluError;
use crate::encoder::Encoder;

/// File name of the distilled table inside the model directory.
pub const STATIC_FILE: &str = "static-minilm-v1.f32";

/// Magic at the start of the table file (format version 1).
const MAGIC: &[u8; 8] = b"OKSTAT01";

/// How token vectors are weighed in the mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    /// Plain mean.
    None,
    /// `ln(1 + rank)` with rank = the token's vocabulary id.
    Zipf,
}

/// Post-processing of the raw table before weighting ("all-but-the-top", Mu & Viswanath 2018):
/// subtract the mean token vector, then remove the projections on the `drop_top` leading
/// principal directions. Single-token passes through MiniLM share a large common component that
/// otherwise dominates every sentence mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Postprocess {
    pub centre: bool,
    pub drop_top: usize,
}

impl Postprocess {
    /// No post-processing.
    pub const NONE: Postprocess = Postprocess {
        centre: false,
        drop_top: 0,
    };
}

/// Centres `table` (`rows × dim`) and removes its `drop_top` leading principal directions,
/// found by power iteration on the covariance with deflation (deterministic start vectors).
fn postprocess(table: &mut [f32], dim: usize, p: Postprocess) {
    let rows = table.len() / dim.max(1);
    if rows == 0 || !(p.centre || p.drop_top > 0) {
        return;
    }
    let mut mean = vec![0f64; dim];
    for row in table.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, x)| *m += *x as f64);
    }
    mean.iter_mut().for_each(|m| *m /= rows as f64);
    for row in table.chunks_exact_mut(dim) {
        row.iter_mut().zip(&mean).for_each(|(x, m)| *x -= *m as f32);
    }
    if p.drop_top == 0 {
        return;
    }
    let mut cov = vec![0f64; dim * dim];
    for row in table.chunks_exact(dim) {
        for a in 0..dim {
            let xa = row[a] as f64;
            for b in a..dim {
                cov[a * dim + b] += xa * row[b] as f64;
            }
        }
    }
    for a in 0..dim {
        for b in 0..a {
            cov[a * dim + b] = cov[b * dim + a];
        }
    }
    let mut dirs: Vec<Vec<f64>> = Vec::new();
    for k in 0..p.drop_top.min(dim) {
        let mut v: Vec<f64> = (0..dim)
            .map(|i| 1.0 + ((i * 7 + k * 13) % 11) as f64 / 11.0)
            .collect();
        for _ in 0..200 {
            let mut w = vec![0f64; dim];
            for a in 0..dim {
                w[a] = (0..dim).map(|b| cov[a * dim + b] * v[b]).sum();
            }
            for d in &dirs {
                let dot: f64 = w.iter().zip(d).map(|(x, y)| x * y).sum();
                w.iter_mut().zip(d).for_each(|(x, y)| *x -= dot * y);
            }
            let n = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if n == 0.0 {
                break;
            }
            w.iter_mut().for_each(|x| *x /= n);
            v = w;
        }
        dirs.push(v);
    }
    for row in table.chunks_exact_mut(dim) {
        for d in &dirs {
            let dot: f64 = row.iter().zip(d).map(|(x, y)| *x as f64 * y).sum();
            row.iter_mut()
                .zip(d)
                .for_each(|(x, y)| *x -= (dot * y) as f32);
        }
    }
}

/// The weighting the bench and the product use (chosen on BANKING77 validation).
pub const STATIC_WEIGHTING: Weighting = Weighting::Zipf;

/// The post-processing the bench uses: none (centring and removing 1 or 3 leading directions
/// changed BANKING77 validation accuracy by ≤ 0.2 points either way).
pub const STATIC_POST: Postprocess = Postprocess::NONE;

/// The distilled table plus the tokeniser.
pub struct StaticEncoder {
    tokenizer: Tokenizer,
    dim: usize,
    /// `vocab × dim`, row-major, each row already multiplied by its token's weight.
    table: Vec<f32>,
    /// Ids of `[CLS]`, `[SEP]`, `[PAD]`: skipped when embedding.
    special: [u32; 3],
}

impl std::fmt::Debug for StaticEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticEncoder")
            .field("dim", &self.dim)
            .field("vocab", &(self.table.len() / self.dim.max(1)))
            .finish_non_exhaustive()
    }
}

fn err(what: &'static str) -> impl Fn(String) -> NluError {
    move |reason| NluError::Encoder { what, reason }
}

fn load_tokenizer(dir: &Path) -> Result<Tokenizer, NluError> {
    let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
        .map_err(|e| err("tokenizer.json")(e.to_string()))?;
    tokenizer
        .with_truncation(Some(tokenizers::TruncationParams {
            max_length: 256,
            ..Default::default()
        }))
        .map_err(|e| err("tokenizer.json")(e.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// Runs every vocabulary token through the full encoder and returns the raw `vocab × dim`
/// table (unweighted). Deterministic; about a minute on two cores.
pub fn distill(encoder: &Encoder, model_dir: &Path) -> Result<Vec<f32>, NluError> {
    let tokenizer = load_tokenizer(model_dir)?;
    let vocab = tokenizer.get_vocab_size(true);
    let mut ids: Vec<(u32, String)> = tokenizer
        .get_vocab(true)
        .into_iter()
        .map(|(t, i)| (i, t))
        .collect();
    ids.sort_unstable();
    if ids.len() != vocab || ids.iter().enumerate().any(|(k, (i, _))| *i as usize != k) {
        return Err(err("tokenizer.json")(
            "vocabulary ids are not 0..n".to_owned(),
        ));
    }
    let dim = encoder.dim();
    let mut table = Vec::with_capacity(vocab * dim);
    for (n, chunk) in ids.chunks(256).enumerate() {
        let tokens: Vec<u32> = chunk.iter().map(|(i, _)| *i).collect();
        table.extend(encoder.embed_token_ids(&tokens)?.into_iter().flatten());
        if n % 20 == 0 {
            tracing::info!(done = table.len() / dim, of = vocab, "distilling");
        }
    }
    Ok(table)
}

fn table_path(model_dir: &Path) -> PathBuf {
    model_dir.join(STATIC_FILE)
}

/// Writes the raw table: magic, vocab and dim as u32 LE, then f32 LE values.
fn write_table(path: &Path, table: &[f32], dim: usize) -> Result<(), NluError> {
    let mut bytes = Vec::with_capacity(16 + table.len() * 4);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&((table.len() / dim.max(1)) as u32).to_le_bytes());
    bytes.extend_from_slice(&(dim as u32).to_le_bytes());
    for x in table {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|source| NluError::Io {
        what: "writing the static encoder table",
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| NluError::Io {
        what: "writing the static encoder table",
        source,
    })
}

fn read_table(path: &Path) -> Result<Option<(Vec<f32>, usize)>, NluError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(NluError::Io {
                what: "reading the static encoder table",
                source,
            });
        }
    };
    let bad = || err(STATIC_FILE)("truncated or foreign file".to_owned());
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(bad());
    }
    let u = |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    let (vocab, dim) = (u(8) as usize, u(12) as usize);
    if dim == 0 || bytes.len() != 16 + vocab * dim * 4 {
        return Err(bad());
    }
    let table = bytes[16..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Some((table, dim)))
}

impl StaticEncoder {
    /// Loads `static-minilm-v1.f32` from `model_dir`, distilling it first (with the full encoder
    /// from the same directory) when it is missing. Returns the encoder and the seconds spent
    /// distilling (0 when the table was already there).
    pub fn load_or_distill(
        model_dir: &Path,
        weighting: Weighting,
        post: Postprocess,
    ) -> Result<(StaticEncoder, f64), NluError> {
        let path = table_path(model_dir);
        let mut distill_seconds = 0.0;
        let (table, dim) = match read_table(&path)? {
            Some(t) => t,
            None => {
                let t0 = std::time::Instant::now();
                let encoder = Encoder::load(model_dir)?;
                let table = distill(&encoder, model_dir)?;
                write_table(&path, &table, encoder.dim())?;
                distill_seconds = t0.elapsed().as_secs_f64();
                (table, encoder.dim())
            }
        };
        Ok((
            StaticEncoder::from_table(load_tokenizer(model_dir)?, table, dim, weighting, post)?,
            distill_seconds,
        ))
    }

    /// Builds the encoder from a raw (unweighted) table.
    pub fn from_table(
        tokenizer: Tokenizer,
        mut table: Vec<f32>,
        dim: usize,
        weighting: Weighting,
        post: Postprocess,
    ) -> Result<StaticEncoder, NluError> {
        let vocab = tokenizer.get_vocab_size(true);
        if dim == 0 || table.len() != vocab * dim {
            return Err(err(STATIC_FILE)(
                "table does not match the tokeniser's vocabulary".to_owned(),
            ));
        }
        postprocess(&mut table, dim, post);
        if weighting == Weighting::Zipf {
            for (rank, row) in table.chunks_exact_mut(dim).enumerate() {
                let w = (1.0 + rank as f32).ln();
                row.iter_mut().for_each(|x| *x *= w);
            }
        }
        let id = |t: &str| tokenizer.token_to_id(t).unwrap_or(u32::MAX);
        let special = [id("[CLS]"), id("[SEP]"), id("[PAD]")];
        Ok(StaticEncoder {
            tokenizer,
            dim,
            table,
            special,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Bytes held by the table.
    pub fn table_bytes(&self) -> usize {
        self.table.len() * 4
    }

    /// One text's embedding (unit length; zeros when no token is known).
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, NluError> {
        let bounded: String = text.chars().take(crate::text::MAX_CHARS).collect();
        let enc = self
            .tokenizer
            .encode(bounded, false)
            .map_err(|e| err("tokenising")(e.to_string()))?;
        let mut v = vec![0f32; self.dim];
        for &id in enc.get_ids() {
            if self.special.contains(&id) {
                continue;
            }
            let start = id as usize * self.dim;
            if let Some(row) = self.table.get(start..start + self.dim) {
                v.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            v.iter_mut().for_each(|x| *x /= n);
        }
        Ok(v)
    }

    /// Embeddings of several texts.
    pub fn embed_all(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, NluError> {
        texts.iter().map(|t| self.embed(t)).collect()
    }
}
