//! Model selection for the product intents without touching the test split: 5-fold cross-validation
//! over the hand-written seed lines (data/train_seeds.txt, no augmented variants, so a sentence and
//! its typo'd copy never straddle folds). Training folds get their diacritic-free copies added.
//! `cargo run --release -p okienko-nlu --example product_cv -- [epochs lr w_extra cross_max w_cross char_max w_word lbfgs C]`

use std::sync::Arc;

use chrono::NaiveDate;
use okienko_nlu::{Intent, Nlu, product_config, train_intents};

fn fold_pl(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            _ => c,
        })
        .collect()
}

fn main() {
    let a: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let mut c = product_config();
    let g = |i: usize| a.get(i).copied();
    if let Some(v) = g(0) {
        c.epochs = v as usize
    }
    if let Some(v) = g(1) {
        c.learning_rate = v as f32
    }
    if let Some(v) = g(2) {
        c.group_weight[3] = v as f32
    }
    if let Some(v) = g(3) {
        c.cross_max = v as usize
    }
    if let Some(v) = g(4) {
        c.group_weight[4] = v as f32
    }
    if let Some(v) = g(5) {
        c.char_max = v as usize
    }
    if let Some(v) = g(6) {
        c.group_weight[0] = v as f32
    }
    if let Some(v) = g(7) {
        c.lbfgs_iters = v as usize
    }
    if let Some(v) = g(8) {
        c.c = v as f32
    }
    let seeds = std::fs::read_to_string("data/train_seeds.txt").unwrap_or_default();
    let mut rows: Vec<(usize, String, Intent)> = Vec::new();
    let (mut intent, mut k) = (Intent::OutOfScope, 0usize);
    for l in seeds.lines() {
        if let Some(h) = l.strip_prefix('@') {
            intent = h
                .split_whitespace()
                .next()
                .and_then(Intent::parse)
                .unwrap_or(Intent::OutOfScope);
            continue;
        }
        if l.trim().is_empty() {
            continue;
        }
        rows.push((k % 5, l.trim().to_owned(), intent));
        k += 1;
    }
    let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
    let (mut n, mut right) = (0usize, 0usize);
    let mut gold_logp: Vec<Vec<(Intent, f32)>> = Vec::new();
    let mut gold: Vec<Intent> = Vec::new();
    for f in 0..5 {
        let mut train: Vec<(String, Intent)> = Vec::new();
        for (ff, t, i) in &rows {
            if *ff != f {
                train.push((t.clone(), *i));
                let folded = fold_pl(t);
                if folded != *t {
                    train.push((folded, *i))
                }
            }
        }
        let data: Vec<(&str, Intent)> = train.iter().map(|(t, i)| (t.as_str(), *i)).collect();
        let nlu = Nlu::from_model(Arc::new(train_intents(&data, &c)));
        for (ff, t, i) in &rows {
            if *ff == f {
                n += 1;
                if nlu.parse(t, today, &[]).intent == *i {
                    right += 1
                }
                gold_logp.push(nlu.intent_probabilities(t, today));
                gold.push(*i);
            }
        }
    }
    println!("cv {right}/{n} = {:.4}", right as f64 / n as f64);
    // Calibration: the temperature that minimises the cross-validated negative log-likelihood.
    let mut best = (f64::MAX, 1.0f64);
    for step in 0..=30 {
        let t = 0.5 + 0.1 * step as f64;
        let mut nll = 0.0;
        for (probs, g) in gold_logp.iter().zip(&gold) {
            let z: Vec<f64> = probs
                .iter()
                .map(|(_, p)| (f64::from(p.max(1e-12))).ln() / t)
                .collect();
            let m = z.iter().copied().fold(f64::MIN, f64::max);
            let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            let k = probs.iter().position(|(i, _)| i == g).unwrap_or(0);
            nll -= z[k] - lse;
        }
        if nll < best.0 {
            best = (nll, t)
        }
    }
    println!(
        "calibration: best temperature {:.1} (mean NLL {:.4})",
        best.1,
        best.0 / gold.len() as f64
    );
}
