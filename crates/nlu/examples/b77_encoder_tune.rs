//! Chooses the hybrid model's constants (`okienko_nlu::hybrid::HybridConfig`) on BANKING77's
//! TRAIN file only: every 5th row is held out for validation; k-shot samples come from the other
//! four fifths (three seeds). test.csv is never read. Train embeddings are cached in
//! $HOME/.cache/okienko/b77_train_minilm.f32 (row order of train.csv).
//!
//! `cargo run --release -p okienko-nlu --features encoder --example b77_encoder_tune -- \
//!    DATA_DIR MODEL_DIR SHOTS(0=full) SCALES PROTO_WEIGHTS TEMPS LABEL_NAMES(0|1) [C]`
//! where the lists are comma-separated, e.g. `3 0,0.3 0.05 1`.

use std::path::{Path, PathBuf};

use okienko_nlu::bench::{read_banking77_csv, sample_shots, scores};
use okienko_nlu::encoder::Encoder;
use okienko_nlu::hybrid::{Hybrid, HybridConfig, embed_all, label_embeddings};

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
    let scales = list(args.get(4), "3");
    let pws = list(args.get(5), "0");
    let temps = list(args.get(6), "0.05");
    let names = args.get(7).is_some_and(|s| s == "1");
    let c: Option<f32> = args.get(8).and_then(|s| s.parse().ok());

    let all = read_banking77_csv(&dir.join("train.csv"))?;
    let encoder = Encoder::load(&model_dir)?;
    let cache = PathBuf::from(std::env::var("HOME")?).join(".cache/okienko/b77_train_minilm.f32");
    let emb: Vec<Vec<f32>> = match std::fs::read(&cache) {
        Ok(b) if b.len() == all.len() * encoder.dim() * 4 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect::<Vec<f32>>()
            .chunks(encoder.dim())
            .map(<[f32]>::to_vec)
            .collect(),
        _ => {
            let t = std::time::Instant::now();
            let texts: Vec<&str> = all.iter().map(|r| r.0.as_str()).collect();
            let e = embed_all(&encoder, &texts)?;
            eprintln!(
                "embedded {} texts in {:.1}s",
                texts.len(),
                t.elapsed().as_secs_f64()
            );
            let bytes: Vec<u8> = e.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
            std::fs::write(&cache, bytes)?;
            e
        }
    };
    let (mut tr, mut tr_e, mut va, mut va_e) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, (r, e)) in all.into_iter().zip(emb).enumerate() {
        if i % 5 == 4 {
            va.push(r);
            va_e.push(e);
        } else {
            tr.push(r);
            tr_e.push(e);
        }
    }
    let labels = label_embeddings(&encoder, &tr)?;
    let seeds: &[u64] = if shots > 0 { &[77, 1, 2] } else { &[0] };
    for &scale in &scales {
        for &pw in &pws {
            for &temp in &temps {
                let mut accs = Vec::new();
                for &seed in seeds {
                    let (data, embs): (Vec<_>, Vec<_>) = if shots > 0 {
                        let s = sample_shots(&tr, shots, seed);
                        // Recover each sampled row's embedding (rows are unique by text+label).
                        let e = s
                            .iter()
                            .map(|r| {
                                let i = tr.iter().position(|x| x == r).unwrap_or(0);
                                tr_e[i].clone()
                            })
                            .collect();
                        (s, e)
                    } else {
                        (tr.clone(), tr_e.clone())
                    };
                    let mut cfg = HybridConfig {
                        scale,
                        proto_weight: pw,
                        proto_temp: temp,
                        label_names: names,
                        ..HybridConfig::full()
                    };
                    if let Some(c) = c {
                        cfg.linear.c = c;
                    }
                    let m = Hybrid::train(&data, &embs, &labels, &cfg);
                    let pred: Vec<String> = va
                        .iter()
                        .zip(&va_e)
                        .map(|(r, e)| {
                            let p = m.predict(&r.0, e);
                            p.first()
                                .and_then(|(i, _)| m.labels().get(*i).cloned())
                                .unwrap_or_default()
                        })
                        .collect();
                    let gold: Vec<&str> = va.iter().map(|r| r.1.as_str()).collect();
                    accs.push(scores(&gold, &pred).0);
                }
                let mean = accs.iter().sum::<f64>() / accs.len() as f64;
                println!(
                    "shots={shots} scale={scale} proto_weight={pw} temp={temp} names={names} C={c:?} val_acc={mean:.4} {accs:?}"
                );
            }
        }
    }
    Ok(())
}
