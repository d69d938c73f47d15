//! Training: document frequencies, TF-IDF vectors, and multinomial logistic regression fitted by
//! AdaGrad SGD with an L2 penalty on the touched rows. Single thread, examples visited in an
//! order shuffled by a seeded SplitMix64, so the result depends only on the data and the config.

use super::{Example, Model, RowIndex, TrainConfig, features};

/// SplitMix64: a tiny, well-known deterministic generator (no dependency, same on every platform).
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0); the tiny modulo bias is irrelevant for shuffling.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

pub(crate) fn softmax(z: &mut [f32]) {
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut s = 0.0;
    for v in z.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    if s > 0.0 {
        for v in z.iter_mut() {
            *v /= s;
        }
    }
}

/// The training matrix, kept small because it is alive during the whole optimisation: hashed
/// features per example as (row, value) with 32-bit rows, and the dense inputs borrowed from the
/// caller instead of copied into (row, value) pairs (a 384-wide embedding per example would
/// otherwise cost 16 bytes a value). Iterating an example yields the hashed features, then the
/// dense ones in order — the same sequence, hence the same floating-point sums, as before.
struct Examples<'a> {
    sparse: Vec<Vec<(u32, f32)>>,
    dense: Option<&'a [Vec<f32>]>,
    /// Row of dense input 0.
    base: usize,
    dim: usize,
}

impl Examples<'_> {
    fn len(&self) -> usize {
        self.sparse.len()
    }

    fn features(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let dense: &[f32] = self
            .dense
            .and_then(|d| d.get(i))
            .map_or(&[], |d| &d[..self.dim.min(d.len())]);
        let base = self.base;
        self.sparse
            .get(i)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|&(r, v)| (r as usize, v))
            .chain(dense.iter().enumerate().map(move |(j, v)| (base + j, *v)))
    }
}

/// `dense`: optional dense inputs per example (all of one length), appended after the hashed
/// rows, so one logistic regression weighs n-grams and e.g. sentence embeddings together.
pub(super) fn train(
    data: &[Example<'_>],
    dense: Option<&[Vec<f32>]>,
    config: &TrainConfig,
) -> Model {
    let hash_bits = config.hash_bits.clamp(8, 28);
    let mask = (1u32 << hash_bits) - 1;
    let mut config = config.clone();
    config.hash_bits = hash_bits;
    config.char_max = config.char_max.clamp(2, 8);
    config.cross_max = config.cross_max.min(8);

    let mut labels: Vec<String> = data.iter().map(|d| d.2.to_owned()).collect();
    labels.sort();
    labels.dedup();
    let k = labels.len().max(1);
    let y: Vec<usize> = data
        .iter()
        .map(|d| {
            labels
                .binary_search_by(|l| l.as_str().cmp(d.2))
                .unwrap_or(0)
        })
        .collect();

    let raws: Vec<features::RawFeatures> = data
        .iter()
        .map(|(t, extra, _)| features::extract(t, extra, mask, config.char_max, config.cross_max))
        .collect();
    let mut all: Vec<u32> = Vec::new();
    let mut df_pairs: Vec<u32> = Vec::new();
    for raw in &raws {
        let mut doc: Vec<u32> = raw.iter().map(|f| f.1).collect();
        doc.sort_unstable();
        doc.dedup();
        df_pairs.extend_from_slice(&doc);
    }
    df_pairs.sort_unstable();
    let mut df: Vec<u32> = Vec::new();
    for b in df_pairs {
        if all.last() == Some(&b) {
            if let Some(c) = df.last_mut() {
                *c += 1;
            }
        } else {
            all.push(b);
            df.push(1);
        }
    }
    let n = data.len() as f32;
    let idf: Vec<f32> = df
        .iter()
        .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
        .collect();
    let buckets = all;
    let row = |b: u32| buckets.binary_search(&b).ok();
    let dense_dim = dense.and_then(|d| d.first()).map_or(0, Vec::len);
    let n_hashed = buckets.len();
    let sparse: Vec<Vec<(u32, f32)>> = raws
        .iter()
        .map(|raw| {
            let rows: Vec<(features::Group, u32, f32)> = raw
                .iter()
                .filter_map(|&(g, b, tf)| row(b).map(|r| (g, r as u32, tf)))
                .collect();
            features::weigh(&rows, |r| idf[r as usize], &config.group_weight)
        })
        .collect();
    // The raw counts are not needed any more: free them before the optimiser allocates its
    // buffers (part of the training peak, see `Examples`).
    drop(raws);
    let xs = Examples {
        sparse,
        dense,
        base: n_hashed,
        dim: dense_dim,
    };

    let rows = n_hashed + dense_dim;
    let mut theta = vec![0f32; rows * k + k];
    let mut rng = SplitMix(config.seed);
    adagrad(&mut theta, &xs, &y, k, &config, &mut rng);
    if config.lbfgs_iters > 0 {
        lbfgs(&mut theta, &xs, &y, k, &config);
    }
    let bias = theta.split_off(rows * k);
    Model {
        config,
        labels,
        buckets,
        idf,
        weights: theta,
        bias,
        dense_dim,
        row_index: RowIndex::default(),
    }
}

/// Warm-up: AdaGrad SGD over shuffled examples (`config.epochs` passes).
fn adagrad(
    theta: &mut [f32],
    xs: &Examples<'_>,
    y: &[usize],
    k: usize,
    config: &TrainConfig,
    rng: &mut SplitMix,
) {
    if config.epochs == 0 {
        return;
    }
    let wlen = theta.len() - k;
    let mut g2 = vec![0f32; theta.len()];
    let mut order: Vec<usize> = (0..xs.len()).collect();
    let lr = config.learning_rate;
    let l2 = config.l2;
    const EPS: f32 = 1e-6;
    let mut z = vec![0f32; k];
    for _ in 0..config.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            z.copy_from_slice(&theta[wlen..]);
            for (r, v) in xs.features(i) {
                for (zi, wi) in z.iter_mut().zip(&theta[r * k..(r + 1) * k]) {
                    *zi += v * wi;
                }
            }
            softmax(&mut z);
            z[y[i]] -= 1.0; // now the gradient of the loss w.r.t. the logits
            for (r, v) in xs.features(i) {
                let ws = &mut theta[r * k..(r + 1) * k];
                let gs = &mut g2[r * k..(r + 1) * k];
                for ((wi, gi), dz) in ws.iter_mut().zip(gs.iter_mut()).zip(&z) {
                    let g = dz * v + l2 * *wi;
                    *gi += g * g;
                    *wi -= lr * g / (gi.sqrt() + EPS);
                }
            }
            let (bs, gs) = (&mut theta[wlen..], &mut g2[wlen..]);
            for ((bi, gi), dz) in bs.iter_mut().zip(gs.iter_mut()).zip(&z) {
                *gi += dz * dz;
                *bi -= lr * dz / (gi.sqrt() + EPS);
            }
        }
    }
}

/// The full objective `C · Σ cross-entropy + ½‖W‖²` (bias not penalised, as scikit-learn's
/// `LogisticRegression(C)`), and its gradient into `grad`.
fn objective(
    theta: &[f32],
    xs: &Examples<'_>,
    y: &[usize],
    k: usize,
    c: f64,
    grad: &mut [f32],
) -> f64 {
    let wlen = theta.len() - k;
    let mut reg = 0f64;
    for (g, w) in grad[..wlen].iter_mut().zip(&theta[..wlen]) {
        *g = *w;
        reg += f64::from(*w) * f64::from(*w);
    }
    grad[wlen..].iter_mut().for_each(|g| *g = 0.0);
    let cf = c as f32;
    let mut loss = 0f64;
    let mut z = vec![0f32; k];
    for (i, &yi) in y.iter().enumerate().take(xs.len()) {
        z.copy_from_slice(&theta[wlen..]);
        for (r, v) in xs.features(i) {
            for (zi, wi) in z.iter_mut().zip(&theta[r * k..(r + 1) * k]) {
                *zi += v * wi;
            }
        }
        softmax(&mut z);
        loss -= f64::from(z[yi].max(1e-30)).ln();
        z[yi] -= 1.0;
        for dz in z.iter_mut() {
            *dz *= cf;
        }
        for (r, v) in xs.features(i) {
            for (g, dz) in grad[r * k..(r + 1) * k].iter_mut().zip(&z) {
                *g += v * dz;
            }
        }
        for (g, dz) in grad[wlen..].iter_mut().zip(&z) {
            *g += dz;
        }
    }
    c * loss + 0.5 * reg
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// Limited-memory BFGS (memory 5) with a backtracking Armijo line search: converges to the same
/// optimum scikit-learn's lbfgs solver finds, deterministically.
fn lbfgs(theta: &mut [f32], xs: &Examples<'_>, y: &[usize], k: usize, config: &TrainConfig) {
    const M: usize = 5;
    let n = theta.len();
    let c = f64::from(config.c);
    let mut g = vec![0f32; n];
    let mut f = objective(theta, xs, y, k, c, &mut g);
    let mut s_hist: Vec<Vec<f32>> = Vec::new();
    let mut y_hist: Vec<Vec<f32>> = Vec::new();
    let mut rho: Vec<f64> = Vec::new();
    let mut d = vec![0f32; n];
    let mut g_new = vec![0f32; n];
    let mut trial = vec![0f32; n];
    for it in 0..config.lbfgs_iters {
        // Two-loop recursion: d = −H·g.
        d.iter_mut().zip(&g).for_each(|(di, gi)| *di = -gi);
        let mut alpha = vec![0f64; s_hist.len()];
        for j in (0..s_hist.len()).rev() {
            alpha[j] = rho[j] * dot(&s_hist[j], &d);
            let a = alpha[j] as f32;
            d.iter_mut()
                .zip(&y_hist[j])
                .for_each(|(di, yi)| *di -= a * yi);
        }
        if let (Some(s), Some(yv)) = (s_hist.last(), y_hist.last()) {
            let gamma = (dot(s, yv) / dot(yv, yv).max(1e-30)) as f32;
            d.iter_mut().for_each(|di| *di *= gamma);
        } else {
            let gn = dot(&g, &g).sqrt().max(1e-12) as f32;
            d.iter_mut().for_each(|di| *di /= gn);
        }
        for j in 0..s_hist.len() {
            let b = rho[j] * dot(&y_hist[j], &d);
            let a = (alpha[j] - b) as f32;
            d.iter_mut()
                .zip(&s_hist[j])
                .for_each(|(di, si)| *di += a * si);
        }
        let gd = dot(&g, &d);
        if gd >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            continue;
        }
        let mut step = 1f32;
        let mut f_new = f;
        let mut ok = false;
        for _ in 0..20 {
            trial
                .iter_mut()
                .zip(theta.iter().zip(&d))
                .for_each(|(t, (w, di))| *t = w + step * di);
            f_new = objective(&trial, xs, y, k, c, &mut g_new);
            if f_new <= f + 1e-4 * f64::from(step) * gd {
                ok = true;
                break;
            }
            step *= 0.5;
        }
        if !ok {
            break;
        }
        let mut s_vec = if s_hist.len() == M {
            s_hist.remove(0)
        } else {
            vec![0f32; n]
        };
        let mut y_vec = if y_hist.len() == M {
            y_hist.remove(0)
        } else {
            vec![0f32; n]
        };
        if rho.len() == M {
            rho.remove(0);
        }
        for i in 0..n {
            s_vec[i] = trial[i] - theta[i];
            y_vec[i] = g_new[i] - g[i];
        }
        let sy = dot(&s_vec, &y_vec);
        theta.copy_from_slice(&trial);
        std::mem::swap(&mut g, &mut g_new);
        let rel = (f - f_new).abs() / f.abs().max(1.0);
        f = f_new;
        if sy > 1e-12 {
            s_hist.push(s_vec);
            y_hist.push(y_vec);
            rho.push(1.0 / sy);
        }
        if it % 25 == 0 {
            tracing::debug!(it, f, "lbfgs");
        }
        if rel < 1e-7 {
            break;
        }
    }
}
