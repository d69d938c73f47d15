//! Chooses the static-encoder hybrid's constants on BANKING77's TRAIN file only (every 5th row
//! held out for validation; k-shot samples from the other four fifths, three seeds), like
//! `b77_encoder_tune.rs` for the full encoder. test.csv is never read.
//!
//! `cargo run --release -p okienko-nlu --features encoder --example b77_static_tune -- \
//!    DATA_DIR MODEL_DIR SHOTS(0=full) SCALES WEIGHTING(zipf|none) PROTO_WEIGHTS LABEL_NAMES(0|1) [DROP_TOP(-1=off)]`

use std::path::{Path, PathBuf};

use okienko_nlu::bench::{read_banking77_csv, sample_shots, scores};
use okienko_nlu::hybrid::{Hybrid, HybridConfig, label_text};
use okienko_nlu::static_encoder::{Postprocess, StaticEncoder, Weighting};

fn list(s: Option<&String>, default: &str) -> Vec<f32> {
    s.map_or(default, String::as_str)
        .split(',')
        .filter_map(|x| x.parse().ok())
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(
        args.get(1)
            .map_or("../shared/data/banking77", String::as_str),
    );
    let model_dir = PathBuf::from(args.get(2).cloned().unwrap_or_default());
    let shots: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let scales = list(args.get(4), "1.5");
    let weighting = match args.get(5).map(String::as_str) {
        Some("none") => Weighting::None,
        _ => Weighting::Zipf,
    };
    let pws = list(args.get(6), "0");
    let names = args.get(7).is_some_and(|s| s == "1");
    // 8th argument: -1 = no post-processing, k >= 0 = centre and drop the top k directions.
    let post = match args.get(8).and_then(|s| s.parse::<i64>().ok()) {
        Some(k) if k >= 0 => Postprocess {
            centre: true,
            drop_top: k as usize,
        },
        _ => Postprocess::NONE,
    };

    let all = read_banking77_csv(&dir.join("train.csv"))?;
    let (encoder, distill) = StaticEncoder::load_or_distill(&model_dir, weighting, post)?;
    eprintln!("static table ready (distilled in {distill:.1}s)");
    let (mut tr, mut va) = (Vec::new(), Vec::new());
    for (i, r) in all.into_iter().enumerate() {
        if i % 5 == 4 {
            va.push(r);
        } else {
            tr.push(r);
        }
    }
    let va_texts: Vec<&str> = va.iter().map(|r| r.0.as_str()).collect();
    let va_e = encoder.embed_all(&va_texts)?;
    let mut labels: Vec<String> = tr.iter().map(|r| r.1.clone()).collect();
    labels.sort_unstable();
    labels.dedup();
    let label_embs: Vec<(String, Vec<f32>)> = labels
        .iter()
        .map(|l| Ok((l.clone(), encoder.embed(&label_text(l))?)))
        .collect::<Result<_, okienko_nlu::NluError>>()?;
    let seeds: &[u64] = if shots > 0 { &[77, 1, 2] } else { &[0] };
    for &scale in &scales {
        for &pw in &pws {
            let mut accs = Vec::new();
            for &seed in seeds {
                let data = if shots > 0 {
                    sample_shots(&tr, shots, seed)
                } else {
                    tr.clone()
                };
                let texts: Vec<&str> = data.iter().map(|r| r.0.as_str()).collect();
                let embs = encoder.embed_all(&texts)?;
                let base = if shots > 0 {
                    HybridConfig::few_shot()
                } else {
                    HybridConfig::full()
                };
                let cfg = HybridConfig {
                    scale,
                    proto_weight: pw,
                    label_names: names,
                    ..base
                };
                let m = Hybrid::train(&data, &embs, &label_embs, &cfg);
                let pred: Vec<String> = va
                    .iter()
                    .zip(&va_e)
                    .map(|(r, e)| {
                        m.predict(&r.0, e)
                            .first()
                            .and_then(|(i, _)| m.labels().get(*i).cloned())
                            .unwrap_or_default()
                    })
                    .collect();
                let gold: Vec<&str> = va.iter().map(|r| r.1.as_str()).collect();
                accs.push(scores(&gold, &pred).0);
            }
            let mean = accs.iter().sum::<f64>() / accs.len() as f64;
            println!(
                "shots={shots} weighting={weighting:?} post={post:?} scale={scale} proto_weight={pw} names={names} val_acc={mean:.4} {accs:?}"
            );
        }
    }
    Ok(())
}
