//! Runs the Fraud Detection Handbook benchmark and prints its JSON on stdout.
//! `cargo run --release -p okienko-risk --example bench_handbook -- ../shared/data/fraud/handbook_sim_5000c_183d [--validation]`
//! `--validation` moves the whole protocol back 14 days (test week before the book's training
//! week): the split used to choose settings. `--train-start=N` runs any week (the book's
//! chapter 5 test weeks train from 115, 122, 129 and 136, and are printed together under
//! `book_chapter5_protocol` unless HB_CH5=0).

use std::path::PathBuf;
use std::process::ExitCode;

use okienko_risk::handbook::CardScore;
use okienko_risk::{HandbookOptions, Protocol};

fn main() -> ExitCode {
    let mut path = None;
    let mut opts = HandbookOptions::default();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--validation" => opts.protocol = Protocol::BOOK.validation(),
            // A further validation fold: the protocol moved back N days (N ≥ 14).
            _ if a.starts_with("--shift=") => match a["--shift=".len()..].parse::<u32>() {
                Ok(d) if d >= 14 => opts.protocol = Protocol::BOOK.shifted_back(d),
                _ => {
                    eprintln!("--shift=N needs N >= 14 (days before the book's protocol)");
                    return ExitCode::from(2);
                }
            },
            // Any training start day (the book's chapter 5 test folds start at 115, 122, 129
            // and 136; never use those weeks to choose settings).
            _ if a.starts_with("--train-start=") => {
                match a["--train-start=".len()..].parse::<u32>() {
                    Ok(d) => opts.protocol.train_start_day = d,
                    Err(_) => {
                        eprintln!("--train-start=N needs a day number");
                        return ExitCode::from(2);
                    }
                }
            }
            _ if path.is_none() => path = Some(PathBuf::from(a)),
            _ => {
                eprintln!("usage: bench_handbook DIR [--validation]");
                return ExitCode::from(2);
            }
        }
    }
    // Optional overrides for exploring settings on the validation split:
    // HB_TREES, HB_LR, HB_LEAVES, HB_DEPTH, HB_MIN_LEAF, HB_SUBSAMPLE, HB_L2, HB_BAG,
    // HB_LR_BLEND, HB_CARD (max | noisy_or | sum), HB_CW and HB_TERM_AGE (1 | 0: the
    // customer-window and terminal fraud-age features), HB_DUMP (file for the test scores).
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    let p = &mut opts.params;
    if let Some(v) = env("HB_TREES") {
        p.n_trees = v as u32;
    }
    if let Some(v) = env("HB_LR") {
        p.learning_rate = v;
    }
    if let Some(v) = env("HB_LEAVES") {
        p.max_leaves = v as u32;
    }
    if let Some(v) = env("HB_DEPTH") {
        p.max_depth = v as u32;
    }
    if let Some(v) = env("HB_MIN_LEAF") {
        p.min_data_in_leaf = v as u32;
    }
    if let Some(v) = env("HB_SUBSAMPLE") {
        p.subsample = v;
    }
    if let Some(v) = env("HB_L2") {
        p.lambda_l2 = v;
    }
    if let Some(v) = env("HB_BAG") {
        opts.bag = v as u32;
    }
    if let Some(v) = env("HB_LR_BLEND") {
        opts.lr_blend = v;
    }
    match std::env::var("HB_CARD").as_deref() {
        Ok("max") => opts.card_score = CardScore::Max,
        Ok("noisy_or") => opts.card_score = CardScore::NoisyOr,
        Ok("sum") => opts.card_score = CardScore::Sum,
        _ => {}
    }
    let flag = |k: &str| std::env::var(k).ok().map(|v| v == "1");
    if let Some(v) = flag("HB_CW") {
        opts.customer_windows = v;
    }
    if let Some(v) = flag("HB_TERM_AGE") {
        opts.terminal_fraud_age = v;
    }
    // HB_CH5=0 skips the book's chapter 5 test folds (four times the work).
    if let Some(v) = flag("HB_CH5") {
        opts.chapter5_folds = v;
    }
    if let Some(v) = flag("HB_TERM_COMP") {
        opts.terminal_compromise = v;
    }
    if let Ok(v) = std::env::var("HB_DUMP") {
        opts.scores_csv = Some(PathBuf::from(v));
    }
    let Some(path) = path else {
        eprintln!("usage: bench_handbook DIR [--validation]");
        return ExitCode::from(2);
    };
    match okienko_risk::bench_handbook(&path, &opts) {
        Ok(v) => {
            println!("{v:#}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
