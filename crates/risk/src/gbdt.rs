//! A compact histogram gradient-boosted decision tree learner for binary log-loss, in the
//! LightGBM style: features quantised to at most 256 bins, leaf-wise growth with a leaf budget,
//! histogram subtraction, row subsampling from a seeded ChaCha stream. Training is
//! single-threaded and sums in a fixed order, so one seed gives bit-identical models.
//! Prediction walks float thresholds, so the binning is not needed at scoring time.
//!
//! Written here rather than taken from a crate: we need bit-exact determinism, a serde model
//! format we control, and a single-row predict path of a few microseconds without a thread pool.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::RiskError;

/// Hyper-parameters. The defaults were set on the training months only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtParams {
    pub n_trees: u32,
    pub learning_rate: f64,
    pub max_leaves: u32,
    pub max_depth: u32,
    pub min_data_in_leaf: u32,
    pub min_hessian: f64,
    pub lambda_l2: f64,
    pub subsample: f64,
    pub max_bins: u16,
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            n_trees: 200,
            learning_rate: 0.1,
            max_leaves: 31,
            max_depth: 6,
            min_data_in_leaf: 20,
            min_hessian: 1e-3,
            lambda_l2: 1.0,
            subsample: 0.8,
            max_bins: 255,
            seed: 42,
        }
    }
}

const LEAF: u32 = 1 << 31;

/// An inner node: go left when `x[feature] <= threshold`. Children with the `LEAF` bit set
/// index into the tree's leaf values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u16,
    pub threshold: f32,
    pub left: u32,
    pub right: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
    pub leaves: Vec<f32>,
}

impl Tree {
    #[inline]
    fn predict(&self, x: &[f32]) -> f32 {
        if self.nodes.is_empty() {
            return self.leaves.first().copied().unwrap_or(0.0);
        }
        let mut i = 0u32;
        loop {
            let node = &self.nodes[i as usize];
            let v = x.get(node.feature as usize).copied().unwrap_or(0.0);
            let next = if v <= node.threshold {
                node.left
            } else {
                node.right
            };
            if next & LEAF != 0 {
                return self.leaves[(next & !LEAF) as usize];
            }
            i = next;
        }
    }
}

/// A trained ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbdt {
    pub n_features: usize,
    pub base_score: f32,
    pub trees: Vec<Tree>,
}

impl Gbdt {
    /// Raw margin (log-odds).
    pub fn margin(&self, x: &[f32]) -> f32 {
        self.base_score + self.trees.iter().map(|t| t.predict(x)).sum::<f32>()
    }

    /// Probability of the positive class.
    pub fn predict(&self, x: &[f32]) -> f32 {
        1.0 / (1.0 + (-self.margin(x)).exp())
    }

    /// Checks that every node refers to a real feature, child and leaf, so a tampered model
    /// file is rejected at load rather than panicking while scoring.
    pub fn validate(&self) -> Result<(), RiskError> {
        for (ti, t) in self.trees.iter().enumerate() {
            if t.leaves.is_empty() || t.nodes.len() >= LEAF as usize {
                return Err(RiskError::Model(format!("tree {ti} is malformed")));
            }
            for (ni, n) in t.nodes.iter().enumerate() {
                if n.feature as usize >= self.n_features || n.threshold.is_nan() {
                    return Err(RiskError::Model(format!(
                        "tree {ti} node {ni} is malformed"
                    )));
                }
                for c in [n.left, n.right] {
                    let ok = if c & LEAF != 0 {
                        ((c & !LEAF) as usize) < t.leaves.len()
                    } else {
                        // Children come after their parent: no cycles.
                        (c as usize) < t.nodes.len() && c as usize > ni
                    };
                    if !ok {
                        return Err(RiskError::Model(format!(
                            "tree {ti} node {ni} is malformed"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct HBin {
    g: f64,
    h: f64,
    n: u32,
}

#[derive(Debug, Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: u8,
}

struct Leaf {
    start: usize,
    end: usize,
    hist: Vec<HBin>,
    g: f64,
    h: f64,
    depth: u32,
    best: Option<Split>,
    /// (node index, is left child) of the slot pointing at this leaf; None for the root.
    parent: Option<(usize, bool)>,
}

/// Quantile cut points per feature: bin(v) = number of cuts below v.
fn cut_points(x: &[f32], n_rows: usize, n_features: usize, max_bins: usize) -> Vec<Vec<f32>> {
    let stride = (n_rows / 200_000).max(1);
    (0..n_features)
        .map(|f| {
            let mut v: Vec<f32> = (0..n_rows)
                .step_by(stride)
                .map(|r| x[r * n_features + f])
                .collect();
            v.sort_by(f32::total_cmp);
            v.dedup();
            if v.len() <= max_bins {
                v.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2.0).collect()
            } else {
                let mut cuts: Vec<f32> = (1..max_bins).map(|i| v[i * v.len() / max_bins]).collect();
                cuts.dedup();
                cuts
            }
        })
        .collect()
}

/// Trains on a row-major matrix `x` (`labels.len()` rows of `n_features`).
pub fn train(
    x: &[f32],
    labels: &[bool],
    n_features: usize,
    p: &GbdtParams,
) -> Result<Gbdt, RiskError> {
    let n = labels.len();
    if n == 0 || n_features == 0 || x.len() != n * n_features {
        return Err(RiskError::NotEnoughData(
            "empty or ragged training matrix".into(),
        ));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(RiskError::Invalid(
            "training features must be finite".into(),
        ));
    }
    let positives = labels.iter().filter(|l| **l).count();
    if positives == 0 || positives == n {
        return Err(RiskError::NotEnoughData(
            "training needs both fraud and legitimate transactions".into(),
        ));
    }
    let max_bins = (p.max_bins as usize).clamp(2, 256);
    let cuts = cut_points(x, n, n_features, max_bins);
    let mut binned = vec![0u8; n * n_features];
    for r in 0..n {
        for f in 0..n_features {
            let v = x[r * n_features + f];
            binned[r * n_features + f] = cuts[f].partition_point(|c| *c < v) as u8;
        }
    }
    let rate = positives as f64 / n as f64;
    let base = (rate / (1.0 - rate)).ln();
    let mut margin = vec![base; n];
    let mut grad = vec![0f64; n];
    let mut hess = vec![0f64; n];
    let mut trees = Vec::with_capacity(p.n_trees as usize);
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let mut rows: Vec<u32> = Vec::with_capacity(n);
    let mut scratch: Vec<u32> = Vec::with_capacity(n);
    let hist_len = n_features * 256;

    for _ in 0..p.n_trees {
        for i in 0..n {
            let prob = 1.0 / (1.0 + (-margin[i]).exp());
            grad[i] = prob - labels[i] as u8 as f64;
            hess[i] = (prob * (1.0 - prob)).max(1e-16);
        }
        rows.clear();
        for i in 0..n {
            if p.subsample >= 1.0 || rng.random::<f64>() < p.subsample {
                rows.push(i as u32);
            }
        }
        let build = |rows: &[u32]| {
            let mut hist = vec![HBin::default(); hist_len];
            for &r in rows {
                let r = r as usize;
                let (g, h) = (grad[r], hess[r]);
                let row = &binned[r * n_features..(r + 1) * n_features];
                for (f, b) in row.iter().enumerate() {
                    let e = &mut hist[f * 256 + *b as usize];
                    e.g += g;
                    e.h += h;
                    e.n += 1;
                }
            }
            hist
        };
        let best_split = |hist: &[HBin], g: f64, h: f64, count: usize| -> Option<Split> {
            let parent = g * g / (h + p.lambda_l2);
            let mut best: Option<Split> = None;
            for (f, fcuts) in cuts.iter().enumerate() {
                let (mut gl, mut hl, mut nl) = (0f64, 0f64, 0usize);
                for b in 0..fcuts.len() {
                    let e = hist[f * 256 + b];
                    gl += e.g;
                    hl += e.h;
                    nl += e.n as usize;
                    let nr = count - nl;
                    if nl < p.min_data_in_leaf as usize || hl < p.min_hessian {
                        continue;
                    }
                    if nr < p.min_data_in_leaf as usize {
                        break;
                    }
                    let (gr, hr) = (g - gl, h - hl);
                    if hr < p.min_hessian {
                        break;
                    }
                    let gain = gl * gl / (hl + p.lambda_l2) + gr * gr / (hr + p.lambda_l2) - parent;
                    if gain > 1e-9 && best.is_none_or(|s| gain > s.gain) {
                        best = Some(Split {
                            gain,
                            feature: f,
                            bin: b as u8,
                        });
                    }
                }
            }
            best
        };

        let root_hist = build(&rows);
        let (g0, h0) = rows.iter().fold((0.0, 0.0), |(g, h), r| {
            (g + grad[*r as usize], h + hess[*r as usize])
        });
        let mut leaves = vec![Leaf {
            start: 0,
            end: rows.len(),
            best: if p.max_depth > 0 {
                best_split(&root_hist, g0, h0, rows.len())
            } else {
                None
            },
            hist: root_hist,
            g: g0,
            h: h0,
            depth: 0,
            parent: None,
        }];
        let mut nodes: Vec<Node> = Vec::new();
        let mut node_bins: Vec<u8> = Vec::new();

        while (leaves.len() as u32) < p.max_leaves.max(1) {
            let Some((li, split)) = leaves
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.best.map(|s| (i, s)))
                .fold(None, |acc: Option<(usize, Split)>, (i, s)| match acc {
                    Some((_, b)) if b.gain >= s.gain => acc,
                    _ => Some((i, s)),
                })
            else {
                break;
            };
            let (start, end) = (leaves[li].start, leaves[li].end);
            // Stable partition of this leaf's rows: left rows first.
            scratch.clear();
            let mut w = start;
            for k in start..end {
                let r = rows[k];
                if binned[r as usize * n_features + split.feature] <= split.bin {
                    rows[w] = r;
                    w += 1;
                } else {
                    scratch.push(r);
                }
            }
            rows[w..end].copy_from_slice(&scratch);
            let mid = w;

            let node_idx = nodes.len();
            nodes.push(Node {
                feature: split.feature as u16,
                threshold: cuts[split.feature][split.bin as usize],
                left: 0,
                right: 0,
            });
            node_bins.push(split.bin);
            if let Some((pi, is_left)) = leaves[li].parent {
                if is_left {
                    nodes[pi].left = node_idx as u32;
                } else {
                    nodes[pi].right = node_idx as u32;
                }
            }
            let parent_hist = std::mem::take(&mut leaves[li].hist);
            let (pg, ph, depth) = (leaves[li].g, leaves[li].h, leaves[li].depth + 1);
            let left_small = mid - start <= end - mid;
            let small_rows = if left_small {
                &rows[start..mid]
            } else {
                &rows[mid..end]
            };
            let small = build(small_rows);
            let (sg, sh) = small_rows.iter().fold((0.0, 0.0), |(g, h), r| {
                (g + grad[*r as usize], h + hess[*r as usize])
            });
            let mut large = parent_hist;
            for (e, s) in large.iter_mut().zip(small.iter()) {
                e.g -= s.g;
                e.h -= s.h;
                e.n -= s.n;
            }
            let (lg, lh) = (pg - sg, ph - sh);
            let (lhist, lgs, rhist, rgs) = if left_small {
                (small, (sg, sh), large, (lg, lh))
            } else {
                (large, (lg, lh), small, (sg, sh))
            };
            let mk = |hist: Vec<HBin>, (g, h): (f64, f64), s: usize, e: usize, left: bool| Leaf {
                start: s,
                end: e,
                best: if depth < p.max_depth {
                    best_split(&hist, g, h, e - s)
                } else {
                    None
                },
                hist,
                g,
                h,
                depth,
                parent: Some((node_idx, left)),
            };
            let left_leaf = mk(lhist, lgs, start, mid, true);
            let right_leaf = mk(rhist, rgs, mid, end, false);
            leaves[li] = left_leaf;
            leaves.push(right_leaf);
        }

        let mut values = Vec::with_capacity(leaves.len());
        for (k, l) in leaves.iter().enumerate() {
            values.push((-l.g / (l.h + p.lambda_l2) * p.learning_rate) as f32);
            if let Some((pi, is_left)) = l.parent {
                if is_left {
                    nodes[pi].left = LEAF | k as u32;
                } else {
                    nodes[pi].right = LEAF | k as u32;
                }
            }
        }
        // Update every row's margin (not only the subsample) by walking the binned tree.
        for r in 0..n {
            let leaf = if nodes.is_empty() {
                0
            } else {
                let mut i = 0usize;
                loop {
                    let nd = &nodes[i];
                    let b = binned[r * n_features + nd.feature as usize];
                    let next = if b <= node_bins[i] { nd.left } else { nd.right };
                    if next & LEAF != 0 {
                        break (next & !LEAF) as usize;
                    }
                    i = next as usize;
                }
            };
            margin[r] += values[leaf] as f64;
        }
        trees.push(Tree {
            nodes,
            leaves: values,
        });
    }
    Ok(Gbdt {
        n_features,
        base_score: base as f32,
        trees,
    })
}

/// Deepest tree [`Gbdt::compile`] accepts (a complete tree of this depth has 4096 leaves).
pub const MAX_COMPILED_DEPTH: u32 = 12;

/// The forest laid out as complete binary trees of one depth, for branch-free scoring: each
/// level is one compare and an index step, so the CPU never mispredicts a tree walk. Nodes
/// that the trained tree did not split get an always-left threshold (+inf) and both subtrees
/// carry the leaf's value, so predictions equal [`Gbdt::margin`]'s.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledForest {
    depth: u32,
    n_features: usize,
    base: f32,
    nodes: Vec<PackedNode>,
    leaves: Vec<f32>,
}

/// One compare of the compiled forest: 8 bytes, so a cache line holds eight.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PackedNode {
    threshold: f32,
    feature: u32,
}

impl Gbdt {
    fn depth_of(t: &Tree, child: u32, level: u32) -> u32 {
        if child & LEAF != 0 {
            return level;
        }
        let n = t.nodes[child as usize];
        Self::depth_of(t, n.left, level + 1).max(Self::depth_of(t, n.right, level + 1))
    }

    fn root(t: &Tree) -> u32 {
        if t.nodes.is_empty() { LEAF } else { 0 }
    }

    /// Lays the (validated) forest out for fast scoring.
    pub fn compile(&self) -> Result<CompiledForest, RiskError> {
        self.validate()?;
        let depth = self
            .trees
            .iter()
            .map(|t| Self::depth_of(t, Self::root(t), 0))
            .max()
            .unwrap_or(0);
        if depth > MAX_COMPILED_DEPTH {
            return Err(RiskError::Model(format!(
                "trees deeper than {MAX_COMPILED_DEPTH} levels are not supported"
            )));
        }
        let inner = (1usize << depth) - 1;
        let mut c = CompiledForest {
            depth,
            n_features: self.n_features,
            base: self.base_score,
            nodes: vec![
                PackedNode {
                    threshold: f32::INFINITY,
                    feature: 0,
                };
                inner * self.trees.len()
            ],
            leaves: vec![0.0; (inner + 1) * self.trees.len()],
        };
        for (ti, t) in self.trees.iter().enumerate() {
            c.fill(t, ti, Self::root(t), 0);
        }
        Ok(c)
    }
}

impl CompiledForest {
    fn fill(&mut self, t: &Tree, ti: usize, child: u32, pos: usize) {
        let inner = (1usize << self.depth) - 1;
        if pos >= inner {
            let v = if child & LEAF != 0 {
                t.leaves[(child & !LEAF) as usize]
            } else {
                0.0 // unreachable for a validated tree within `depth`
            };
            self.leaves[ti * (inner + 1) + pos - inner] = v;
            return;
        }
        if child & LEAF != 0 {
            // Pad: always left, and both sides hold the same leaf.
            self.fill(t, ti, child, 2 * pos + 1);
            self.fill(t, ti, child, 2 * pos + 2);
            return;
        }
        let n = t.nodes[child as usize];
        self.nodes[ti * inner + pos] = PackedNode {
            threshold: n.threshold,
            feature: n.feature as u32,
        };
        self.fill(t, ti, n.left, 2 * pos + 1);
        self.fill(t, ti, n.right, 2 * pos + 2);
    }

    /// Raw margin (log-odds). `x` shorter than the model's feature count reads as zeros.
    #[inline]
    pub fn margin(&self, x: &[f32]) -> f32 {
        if x.len() < self.n_features {
            let mut padded = vec![0.0; self.n_features];
            padded[..x.len()].copy_from_slice(x);
            return self.margin(&padded);
        }
        if self.depth == 0 {
            return self.base + self.leaves.iter().sum::<f32>();
        }
        let inner = (1usize << self.depth) - 1;
        let nleaf = inner + 1;
        let n_trees = self.leaves.len() / nleaf;
        let node = |t: usize, i: usize| {
            let n = self.nodes[t * inner + i];
            // Negated on purpose: NaN goes right, exactly as in `Tree::predict`.
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let right = !(x[n.feature as usize] <= n.threshold);
            right as usize
        };
        let mut sum = self.base;
        // Four trees per pass: four independent index chains keep the CPU busy while each
        // waits on its loads.
        let mut t = 0;
        while t + 4 <= n_trees {
            let (mut a, mut b, mut c, mut d) = (0usize, 0usize, 0usize, 0usize);
            for _ in 0..self.depth {
                a = 2 * a + 1 + node(t, a);
                b = 2 * b + 1 + node(t + 1, b);
                c = 2 * c + 1 + node(t + 2, c);
                d = 2 * d + 1 + node(t + 3, d);
            }
            sum += self.leaves[t * nleaf + a - inner]
                + self.leaves[(t + 1) * nleaf + b - inner]
                + self.leaves[(t + 2) * nleaf + c - inner]
                + self.leaves[(t + 3) * nleaf + d - inner];
            t += 4;
        }
        while t < n_trees {
            let mut a = 0usize;
            for _ in 0..self.depth {
                a = 2 * a + 1 + node(t, a);
            }
            sum += self.leaves[t * nleaf + a - inner];
            t += 1;
        }
        sum
    }

    /// Probability of the positive class.
    #[inline]
    pub fn predict(&self, x: &[f32]) -> f32 {
        1.0 / (1.0 + (-self.margin(x)).exp())
    }
}
