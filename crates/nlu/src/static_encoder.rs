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
use crate::encoder::{Encoder, TokenContexts};

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

/// How the training corpus reshapes the table ("contextual static table"): every token that
/// occurs in the training sentences gets the mean of its last-layer MiniLM outputs *in those
/// sentences* ([`crate::encoder::Encoder::contextual_pass`]) instead of its output when run
/// alone, so that a sentence's static embedding approaches what the full encoder gives it.
/// Tokens never seen in training keep their single-token row, optionally mapped into the
/// contextual space by a linear map fitted (ridge regression) on the tokens that have both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contextual {
    /// Map the single-token rows of unseen tokens into the contextual space.
    pub align: bool,
    /// Pseudo-count of the single-token (or mapped) row in a seen token's mean: a token seen
    /// `c` times gets `(c·ctx + prior·fallback) / (c + prior)`; 0 = the contextual mean alone.
    pub prior: f32,
    /// Tokenlearn-style refinement (0: off): the seen tokens' rows are then fitted, by least
    /// squares, so that every corpus text's static embedding (weights and unseen rows as served)
    /// points where the full encoder's does, with a ridge pull of strength `fit` (relative to
    /// the mean diagonal of the normal equations) back towards the contextual means.
    pub fit: f32,
}

/// The distilled table plus the tokeniser, for serving: one signed byte per value with one
/// scale per row (weights already applied), a quarter of the f32 table; the rounding changes a
/// sentence embedding by far less than the classifier can see (cosine > 0.9999 to the f32 one).
pub struct StaticEncoder {
    tokenizer: Tokenizer,
    dim: usize,
    /// `vocab × dim`, row-major, quantised: value = `scales[row] · q`.
    table: Vec<i8>,
    scales: Vec<f32>,
    /// Ids of `[CLS]`, `[SEP]`, `[PAD]`: skipped when embedding.
    special: [u32; 3],
}

impl std::fmt::Debug for StaticEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticEncoder")
            .field("dim", &self.dim)
            .field("vocab", &self.scales.len())
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
    use std::io::Write;
    let io = |source| NluError::Io {
        what: "writing the static encoder table",
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
    w.write_all(MAGIC).map_err(io)?;
    w.write_all(&((table.len() / dim.max(1)) as u32).to_le_bytes())
        .map_err(io)?;
    w.write_all(&(dim as u32).to_le_bytes()).map_err(io)?;
    for x in table {
        w.write_all(&x.to_le_bytes()).map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Reads the raw table, streaming: the file's bytes are converted block by block, never held
/// whole beside the floats (that copy used to be 47 MB of the bench's peak).
fn read_table(path: &Path) -> Result<Option<(Vec<f32>, usize)>, NluError> {
    use std::io::Read;
    let io = |source| NluError::Io {
        what: "reading the static encoder table",
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io(source)),
    };
    let len = file.metadata().map_err(io)?.len() as usize;
    let bad = || err(STATIC_FILE)("truncated or foreign file".to_owned());
    let mut r = std::io::BufReader::with_capacity(1 << 16, file);
    let mut head = [0u8; 16];
    if len < 16 || r.read_exact(&mut head).is_err() || &head[..8] != MAGIC {
        return Err(bad());
    }
    let u = |o: usize| u32::from_le_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]]);
    let (vocab, dim) = (u(8) as usize, u(12) as usize);
    if dim == 0 || Some(len) != vocab.checked_mul(dim * 4).and_then(|n| n.checked_add(16)) {
        return Err(bad());
    }
    let mut table = Vec::with_capacity(vocab * dim);
    let mut block = vec![0u8; 1 << 16];
    let mut left = vocab * dim * 4;
    while left > 0 {
        let n = left.min(block.len());
        r.read_exact(&mut block[..n]).map_err(|_| bad())?;
        table.extend(
            block[..n]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        left -= n;
    }
    Ok(Some((table, dim)))
}

/// The raw distilled table (one unit vector per vocabulary token, unweighted) with its
/// tokeniser: what [`StaticEncoder`]s are built from. Training-time only; dropped once the
/// serving encoder is built.
pub struct RawTable {
    tokenizer: Tokenizer,
    table: Vec<f32>,
    dim: usize,
}

impl std::fmt::Debug for RawTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawTable")
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl RawTable {
    /// Loads `static-minilm-v1.f32` from `model_dir`, distilling it first (with the full encoder
    /// from the same directory, dropped afterwards) when it is missing. Returns the table and the
    /// seconds spent distilling (0 when it was already there).
    pub fn load_or_distill(model_dir: &Path) -> Result<(RawTable, f64), NluError> {
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
        let tokenizer = load_tokenizer(model_dir)?;
        if dim == 0 || table.len() != tokenizer.get_vocab_size(true) * dim {
            return Err(err(STATIC_FILE)(
                "table does not match the tokeniser's vocabulary".to_owned(),
            ));
        }
        Ok((
            RawTable {
                tokenizer,
                table,
                dim,
            },
            distill_seconds,
        ))
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The serving encoder: post-processing, then (optionally) the contextual rows learnt from
    /// a training corpus, then the token weights, then int8 rows. Deterministic.
    pub fn build(
        &self,
        weighting: Weighting,
        post: Postprocess,
        contexts: Option<(&TokenContexts, Contextual)>,
    ) -> StaticEncoder {
        let dim = self.dim;
        let processed;
        let base: &[f32] = if post == Postprocess::NONE {
            &self.table
        } else {
            let mut t = self.table.clone();
            postprocess(&mut t, dim, post);
            processed = t;
            &processed
        };
        let vocab = base.len() / dim;
        let ctx = contexts.and_then(|(c, how)| contextual_rows(base, dim, c, how, weighting));
        let mut table = vec![0i8; vocab * dim];
        let mut scales = vec![0f32; vocab];
        let mut row = vec![0f32; dim];
        for t in 0..vocab {
            let single = &base[t * dim..(t + 1) * dim];
            match &ctx {
                Some(c) => c.row(t as u32, single, &mut row),
                None => row.copy_from_slice(single),
            }
            if weighting == Weighting::Zipf {
                let w = (1.0 + t as f32).ln();
                row.iter_mut().for_each(|x| *x *= w);
            }
            let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 0.0 };
            scales[t] = scale;
            if scale > 0.0 {
                for (q, x) in table[t * dim..(t + 1) * dim].iter_mut().zip(&row) {
                    *q = (x / scale).round().clamp(-127.0, 127.0) as i8;
                }
            }
        }
        let id = |t: &str| self.tokenizer.token_to_id(t).unwrap_or(u32::MAX);
        let special = [id("[CLS]"), id("[SEP]"), id("[PAD]")];
        StaticEncoder {
            tokenizer: self.tokenizer.clone(),
            dim,
            table,
            scales,
            special,
        }
    }
}

/// The contextual rows of the tokens seen in a corpus, and how unseen tokens are mapped.
struct ContextRows {
    dim: usize,
    /// Seen token → its final row.
    seen: std::collections::BTreeMap<u32, Vec<f32>>,
    /// `dim × dim` map applied to single-token rows of unseen tokens (`None`: kept as they are).
    map: Option<Vec<f32>>,
}

impl ContextRows {
    fn fallback(&self, single: &[f32], out: &mut [f32]) {
        match &self.map {
            Some(w) => {
                out.iter_mut().for_each(|o| *o = 0.0);
                for (a, x) in single.iter().enumerate() {
                    let wr = &w[a * self.dim..(a + 1) * self.dim];
                    out.iter_mut().zip(wr).for_each(|(o, w)| *o += x * w);
                }
            }
            None => out.copy_from_slice(single),
        }
    }

    fn row(&self, token: u32, single: &[f32], out: &mut [f32]) {
        match self.seen.get(&token) {
            Some(r) => out.copy_from_slice(r),
            None => self.fallback(single, out),
        }
    }
}

/// Mean contextual vector per seen token, scaled so the average one has unit length (the
/// single-token rows are unit vectors), the ridge map from single-token rows to them, and the
/// blend with the prior.
fn contextual_rows(
    base: &[f32],
    dim: usize,
    ctx: &TokenContexts,
    how: Contextual,
    weighting: Weighting,
) -> Option<ContextRows> {
    let vocab = base.len() / dim.max(1);
    let means: Vec<(u32, Vec<f32>, u32)> = ctx
        .tokens
        .iter()
        .filter(|(t, (_, c))| (**t as usize) < vocab && *c > 0 && ctx.dim == dim)
        .map(|(t, (s, c))| (*t, s.iter().map(|x| x / *c as f32).collect(), *c))
        .collect();
    if means.is_empty() {
        return None;
    }
    let avg_norm = means
        .iter()
        .map(|(_, m, _)| m.iter().map(|x| x * x).sum::<f32>().sqrt())
        .sum::<f32>()
        / means.len() as f32;
    let g = if avg_norm > 0.0 { 1.0 / avg_norm } else { 1.0 };
    let mut rows = ContextRows {
        dim,
        seen: Default::default(),
        map: None,
    };
    if how.align {
        rows.map = ridge_map(base, dim, &means, g);
    }
    let mut fb = vec![0f32; dim];
    for (t, m, c) in means {
        let single = &base[t as usize * dim..(t as usize + 1) * dim];
        rows.fallback(single, &mut fb);
        let (c, p) = (c as f32, how.prior.max(0.0));
        let r: Vec<f32> = m
            .iter()
            .zip(&fb)
            .map(|(x, f)| (c * x * g + p * f) / (c + p))
            .collect();
        rows.seen.insert(t, r);
    }
    if how.fit > 0.0 {
        fit_rows(&mut rows, base, ctx, how.fit, weighting);
    }
    Some(rows)
}

/// Token weight as [`RawTable::build`] applies it.
fn token_weight(weighting: Weighting, t: u32) -> f32 {
    match weighting {
        Weighting::Zipf => (1.0 + t as f32).ln(),
        Weighting::None => 1.0,
    }
}

/// Least-squares refinement of the seen rows ([`Contextual::fit`]): minimises
/// `Σ_s ‖(f_s + Σ_{t∈s} w_t r_t) / n_s − T_s‖² + λ Σ_t ‖r_t − r⁰_t‖²` over the seen rows `r_t`,
/// where `f_s` is the fixed part from unseen tokens, `n_s` the norm of the text's static sum with
/// the starting rows `r⁰` (so only directions are asked to match) and `T_s` the full encoder's
/// unit embedding. Conjugate gradients on the normal equations, every dimension at once, from
/// `r⁰`, a fixed number of steps: deterministic.
fn fit_rows(rows: &mut ContextRows, base: &[f32], ctx: &TokenContexts, fit: f32, w: Weighting) {
    let dim = rows.dim;
    let index: std::collections::BTreeMap<u32, usize> =
        rows.seen.keys().enumerate().map(|(k, t)| (*t, k)).collect();
    let k_rows = index.len();
    let mut r0 = vec![0f64; k_rows * dim];
    for (t, k) in &index {
        if let Some(r) = rows.seen.get(t) {
            for (o, x) in r0[k * dim..(k + 1) * dim].iter_mut().zip(r) {
                *o = f64::from(*x);
            }
        }
    }
    // Sparse design rows (token index, coefficient) and targets.
    let mut design: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut target: Vec<f64> = Vec::new();
    let mut fb = vec![0f32; dim];
    for (ids, teacher) in ctx.sentences.iter().zip(&ctx.teacher) {
        if ids.is_empty() || teacher.len() != dim {
            continue;
        }
        let mut fixed = vec![0f64; dim];
        let mut sum = vec![0f64; dim];
        let mut entries = Vec::with_capacity(ids.len());
        for &t in ids {
            let wt = f64::from(token_weight(w, t));
            match index.get(&t) {
                Some(&k) => {
                    entries.push((k, wt));
                    sum.iter_mut()
                        .zip(&r0[k * dim..(k + 1) * dim])
                        .for_each(|(s, x)| *s += wt * x);
                }
                None => {
                    let Some(single) = base.get(t as usize * dim..(t as usize + 1) * dim) else {
                        continue;
                    };
                    rows.fallback(single, &mut fb);
                    fixed
                        .iter_mut()
                        .zip(&fb)
                        .for_each(|(s, x)| *s += wt * f64::from(*x));
                }
            }
        }
        let n = sum
            .iter()
            .zip(&fixed)
            .map(|(a, b)| (a + b) * (a + b))
            .sum::<f64>()
            .sqrt();
        if entries.is_empty() || n <= 0.0 {
            continue;
        }
        design.push(entries.into_iter().map(|(k, wt)| (k, wt / n)).collect());
        target.extend(
            teacher
                .iter()
                .zip(&fixed)
                .map(|(t, f)| f64::from(*t) - f / n),
        );
    }
    if design.is_empty() {
        return;
    }
    let mut diag = vec![0f64; k_rows];
    for row in &design {
        for (k, a) in row {
            diag[*k] += a * a;
        }
    }
    let lambda = f64::from(fit) * diag.iter().sum::<f64>() / k_rows.max(1) as f64;
    // M·p = Aᵀ(A p) + λ p.
    let apply = |p: &[f64], out: &mut [f64]| {
        out.iter_mut().zip(p).for_each(|(o, x)| *o = lambda * x);
        let mut q = vec![0f64; dim];
        for row in &design {
            q.iter_mut().for_each(|x| *x = 0.0);
            for (k, a) in row {
                q.iter_mut()
                    .zip(&p[k * dim..(k + 1) * dim])
                    .for_each(|(x, y)| *x += a * y);
            }
            for (k, a) in row {
                out[k * dim..(k + 1) * dim]
                    .iter_mut()
                    .zip(&q)
                    .for_each(|(o, y)| *o += a * y);
            }
        }
    };
    // Residual r = Aᵀ(Y − A r⁰) (the ridge terms cancel at the start).
    let mut res = vec![0f64; k_rows * dim];
    let mut q = vec![0f64; dim];
    for (s, row) in design.iter().enumerate() {
        q.copy_from_slice(&target[s * dim..(s + 1) * dim]);
        for (k, a) in row {
            q.iter_mut()
                .zip(&r0[k * dim..(k + 1) * dim])
                .for_each(|(x, y)| *x -= a * y);
        }
        for (k, a) in row {
            res[k * dim..(k + 1) * dim]
                .iter_mut()
                .zip(&q)
                .for_each(|(o, y)| *o += a * y);
        }
    }
    let col_dots = |a: &[f64], b: &[f64]| {
        let mut d = vec![0f64; dim];
        for (ra, rb) in a.chunks_exact(dim).zip(b.chunks_exact(dim)) {
            d.iter_mut()
                .zip(ra.iter().zip(rb))
                .for_each(|(d, (x, y))| *d += x * y);
        }
        d
    };
    let mut x = r0;
    let mut p = res.clone();
    let mut rs = col_dots(&res, &res);
    let mut mp = vec![0f64; k_rows * dim];
    for _ in 0..FIT_STEPS {
        apply(&p, &mut mp);
        let pmp = col_dots(&p, &mp);
        let alpha: Vec<f64> = rs
            .iter()
            .zip(&pmp)
            .map(|(r, d)| if *d > 0.0 { r / d } else { 0.0 })
            .collect();
        for ((xr, pr), (rr, mr)) in x
            .chunks_exact_mut(dim)
            .zip(p.chunks_exact(dim))
            .zip(res.chunks_exact_mut(dim).zip(mp.chunks_exact(dim)))
        {
            for c in 0..dim {
                xr[c] += alpha[c] * pr[c];
                rr[c] -= alpha[c] * mr[c];
            }
        }
        let rs_new = col_dots(&res, &res);
        let beta: Vec<f64> = rs_new
            .iter()
            .zip(&rs)
            .map(|(n, o)| if *o > 0.0 { n / o } else { 0.0 })
            .collect();
        for (pr, rr) in p.chunks_exact_mut(dim).zip(res.chunks_exact(dim)) {
            for c in 0..dim {
                pr[c] = rr[c] + beta[c] * pr[c];
            }
        }
        rs = rs_new;
    }
    for (t, k) in &index {
        if let Some(r) = rows.seen.get_mut(t) {
            for (o, v) in r.iter_mut().zip(&x[k * dim..(k + 1) * dim]) {
                *o = *v as f32;
            }
        }
    }
}

/// Conjugate-gradient steps of [`fit_rows`].
const FIT_STEPS: usize = 40;

/// Ridge regression `W = (XᵀX + λI)⁻¹ XᵀY` from the single-token rows `X` of the seen tokens to
/// their scaled contextual means `Y`, by Cholesky in f64; λ is 1 % of the mean diagonal.
fn ridge_map(base: &[f32], dim: usize, means: &[(u32, Vec<f32>, u32)], g: f32) -> Option<Vec<f32>> {
    let mut a = vec![0f64; dim * dim];
    let mut b = vec![0f64; dim * dim];
    for (t, m, _) in means {
        let x = &base[*t as usize * dim..(*t as usize + 1) * dim];
        for i in 0..dim {
            let xi = f64::from(x[i]);
            if xi == 0.0 {
                continue;
            }
            let ar = &mut a[i * dim..(i + 1) * dim];
            for (aij, xj) in ar.iter_mut().zip(x) {
                *aij += xi * f64::from(*xj);
            }
            let br = &mut b[i * dim..(i + 1) * dim];
            for (bij, yj) in br.iter_mut().zip(m) {
                *bij += xi * f64::from(*yj * g);
            }
        }
    }
    let trace: f64 = (0..dim).map(|i| a[i * dim + i]).sum();
    let lambda = 0.01 * trace / dim as f64;
    (0..dim).for_each(|i| a[i * dim + i] += lambda.max(1e-9));
    // Cholesky: a = L Lᵀ, L stored in the lower triangle.
    for j in 0..dim {
        let mut d = a[j * dim + j];
        for k in 0..j {
            d -= a[j * dim + k] * a[j * dim + k];
        }
        if d <= 0.0 {
            return None;
        }
        let d = d.sqrt();
        a[j * dim + j] = d;
        for i in j + 1..dim {
            let mut s = a[i * dim + j];
            for k in 0..j {
                s -= a[i * dim + k] * a[j * dim + k];
            }
            a[i * dim + j] = s / d;
        }
    }
    // Solve L Z = B, then Lᵀ W = Z, column block by column block (all columns at once).
    for i in 0..dim {
        for k in 0..i {
            let l = a[i * dim + k];
            if l != 0.0 {
                for c in 0..dim {
                    b[i * dim + c] -= l * b[k * dim + c];
                }
            }
        }
        let d = a[i * dim + i];
        b[i * dim..(i + 1) * dim].iter_mut().for_each(|v| *v /= d);
    }
    for i in (0..dim).rev() {
        for k in i + 1..dim {
            let l = a[k * dim + i];
            if l != 0.0 {
                for c in 0..dim {
                    b[i * dim + c] -= l * b[k * dim + c];
                }
            }
        }
        let d = a[i * dim + i];
        b[i * dim..(i + 1) * dim].iter_mut().for_each(|v| *v /= d);
    }
    Some(b.into_iter().map(|v| v as f32).collect())
}

impl StaticEncoder {
    /// Loads `static-minilm-v1.f32` from `model_dir` (distilling it first when missing, see
    /// [`RawTable::load_or_distill`]) and builds the encoder without a training corpus.
    /// Returns the encoder and the seconds spent distilling (0 when the table was there).
    pub fn load_or_distill(
        model_dir: &Path,
        weighting: Weighting,
        post: Postprocess,
    ) -> Result<(StaticEncoder, f64), NluError> {
        let (raw, secs) = RawTable::load_or_distill(model_dir)?;
        Ok((raw.build(weighting, post, None), secs))
    }

    /// Builds the encoder from a raw (unweighted) table.
    pub fn from_table(
        tokenizer: Tokenizer,
        table: Vec<f32>,
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
        let raw = RawTable {
            tokenizer,
            table,
            dim,
        };
        Ok(raw.build(weighting, post, None))
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Bytes held by the table (values and row scales).
    pub fn table_bytes(&self) -> usize {
        self.table.len() + 4 * self.scales.len()
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
            if let (Some(row), Some(s)) = (
                self.table.get(start..start + self.dim),
                self.scales.get(id as usize),
            ) {
                v.iter_mut()
                    .zip(row)
                    .for_each(|(a, q)| *a += s * f32::from(*q));
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
