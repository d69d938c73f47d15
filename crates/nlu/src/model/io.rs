//! The model's file format: magic, version, config, labels, buckets, idf, weights, bias — all
//! little-endian, lengths checked on load so a truncated or foreign file is an error, not a panic.

use super::{GROUPS, Model, RowIndex, TrainConfig};
use crate::NluError;

const MAGIC: &[u8; 8] = b"OKNLUM02";
/// The same layout plus dense (embedding) input rows after the hashed ones: written only for
/// models trained with [`Model::train_dense`], so n-gram-only files stay byte-identical.
const MAGIC_DENSE: &[u8; 8] = b"OKNLUM03";

pub(super) fn encode(m: &Model) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 8 * m.weights.len() / 2 + 8 * m.buckets.len());
    out.extend_from_slice(if m.dense_dim > 0 { MAGIC_DENSE } else { MAGIC });
    let c = &m.config;
    out.extend_from_slice(&c.hash_bits.to_le_bytes());
    out.extend_from_slice(&(c.char_max as u32).to_le_bytes());
    out.extend_from_slice(&(c.cross_max as u32).to_le_bytes());
    for g in c.group_weight {
        out.extend_from_slice(&g.to_le_bytes());
    }
    out.extend_from_slice(&(c.epochs as u32).to_le_bytes());
    out.extend_from_slice(&c.learning_rate.to_le_bytes());
    out.extend_from_slice(&c.l2.to_le_bytes());
    out.extend_from_slice(&c.seed.to_le_bytes());
    out.extend_from_slice(&(c.lbfgs_iters as u32).to_le_bytes());
    out.extend_from_slice(&c.c.to_le_bytes());
    out.extend_from_slice(&c.temperature.to_le_bytes());
    out.extend_from_slice(&(m.labels.len() as u32).to_le_bytes());
    for l in &m.labels {
        out.extend_from_slice(&(l.len() as u32).to_le_bytes());
        out.extend_from_slice(l.as_bytes());
    }
    out.extend_from_slice(&(m.buckets.len() as u32).to_le_bytes());
    for b in &m.buckets {
        out.extend_from_slice(&b.to_le_bytes());
    }
    if m.dense_dim > 0 {
        out.extend_from_slice(&(m.dense_dim as u32).to_le_bytes());
    }
    for v in m.idf.iter().chain(&m.weights).chain(&m.bias) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], NluError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or(NluError::BadModel("truncated"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, NluError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, NluError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn f32(&mut self) -> Result<f32, NluError> {
        Ok(f32::from_bits(self.u32()?))
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, NluError> {
        let b = self.take(n.checked_mul(4).ok_or(NluError::BadModel("too large"))?)?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

pub(super) fn decode(bytes: &[u8]) -> Result<Model, NluError> {
    let mut r = Reader { bytes, at: 0 };
    let magic = r.take(8)?;
    let dense = magic == MAGIC_DENSE;
    if magic != MAGIC && !dense {
        return Err(NluError::BadModel("not an okienko NLU model"));
    }
    let hash_bits = r.u32()?;
    if !(8..=28).contains(&hash_bits) {
        return Err(NluError::BadModel("hash size out of range"));
    }
    let char_max = r.u32()? as usize;
    if !(2..=8).contains(&char_max) {
        return Err(NluError::BadModel("n-gram size out of range"));
    }
    let cross_max = r.u32()? as usize;
    if cross_max > 8 {
        return Err(NluError::BadModel("n-gram size out of range"));
    }
    let mut group_weight = [0f32; GROUPS];
    for g in group_weight.iter_mut() {
        *g = r.f32()?;
    }
    let epochs = r.u32()? as usize;
    let learning_rate = r.f32()?;
    let l2 = r.f32()?;
    let seed = r.u64()?;
    let lbfgs_iters = r.u32()? as usize;
    let c = r.f32()?;
    let temperature = r.f32()?;
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(NluError::BadModel("temperature out of range"));
    }
    let n_labels = r.u32()? as usize;
    if n_labels == 0 || n_labels > 100_000 {
        return Err(NluError::BadModel("label count out of range"));
    }
    let mut labels = Vec::with_capacity(n_labels);
    for _ in 0..n_labels {
        let n = r.u32()? as usize;
        let s =
            std::str::from_utf8(r.take(n)?).map_err(|_| NluError::BadModel("label not UTF-8"))?;
        labels.push(s.to_owned());
    }
    let n_rows = r.u32()? as usize;
    if n_rows > (1usize << hash_bits) {
        return Err(NluError::BadModel("more rows than buckets"));
    }
    let mut buckets = Vec::with_capacity(n_rows);
    for _ in 0..n_rows {
        buckets.push(r.u32()?);
    }
    if buckets.windows(2).any(|w| w[0] >= w[1]) {
        return Err(NluError::BadModel("buckets not sorted"));
    }
    let dense_dim = if dense { r.u32()? as usize } else { 0 };
    if dense_dim > 65_536 {
        return Err(NluError::BadModel("dense size out of range"));
    }
    let idf = r.f32s(n_rows)?;
    let weights = r.f32s(
        (n_rows + dense_dim)
            .checked_mul(n_labels)
            .ok_or(NluError::BadModel("too large"))?,
    )?;
    let bias = r.f32s(n_labels)?;
    if r.at != bytes.len() {
        return Err(NluError::BadModel("trailing bytes"));
    }
    Ok(Model {
        config: TrainConfig {
            hash_bits,
            char_max,
            cross_max,
            group_weight,
            epochs,
            learning_rate,
            l2,
            seed,
            lbfgs_iters,
            c,
            temperature,
        },
        labels,
        buckets,
        idf,
        weights,
        bias,
        dense_dim,
        row_index: RowIndex::default(),
    })
}
