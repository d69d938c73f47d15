//! Chooses the contextual static table's settings ([`okienko_nlu::static_encoder::Contextual`])
//! and the hybrid's scale on BANKING77's TRAIN file only: every 5th row held out for
//! validation, k-shot samples drawn from the other four fifths (three seeds). test.csv is never
//! read.
//!
//! `cargo run --release -p okienko-nlu --features encoder --example b77_ctx_tune -- \
//!    DATA_DIR MODEL_DIR SHOTS(0=full) SCALES PROTO_WEIGHTS VARIANTS WEIGHTING(zipf|none)`
//! VARIANTS: comma-separated from `single` (the single-token table), `ctx` (contextual rows,
//! unseen tokens single), `align` (contextual, unseen tokens mapped), `alignP` (… with prior
//! P), `fitF` (`align`, then the seen rows fitted to MiniLM's sentence embeddings with ridge
//! strength F), `teacher` (train on the full encoder's embeddings, test on `align`).
//! Environment: OKIENKO_CENTRE (set: centre the embeddings, [`HybridConfig::centre`]),
//! OKIENKO_PROTO_TEMP (prototype temperature), OKIENKO_EXTRA_CORPUS (a file of unlabelled
//! sentences, one a line, added to the contextual pass only).

use std::path::{Path, PathBuf};

use okienko_nlu::bench::{read_banking77_csv, sample_shots, scores};
use okienko_nlu::encoder::Encoder;
use okienko_nlu::hybrid::{Hybrid, HybridConfig, label_text};
use okienko_nlu::static_encoder::{Contextual, Postprocess, RawTable, Weighting};

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
    let scales = list(args.get(4), "2");
    let pws = list(args.get(5), "0");
    let variants: Vec<String> = args
        .get(6)
        .map_or("single,ctx,align", String::as_str)
        .split(',')
        .map(str::to_owned)
        .collect();
    let weighting = match args.get(7).map(String::as_str) {
        Some("none") => Weighting::None,
        _ => Weighting::Zipf,
    };

    // Unlabelled text from elsewhere (one sentence a line) that only shapes the table.
    let extra: Vec<String> = match std::env::var_os("OKIENKO_EXTRA_CORPUS") {
        Some(p) => std::fs::read_to_string(p)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let all = read_banking77_csv(&dir.join("train.csv"))?;
    let (raw, _) = RawTable::load_or_distill(&model_dir)?;
    let full = Encoder::load(&model_dir)?;
    let (mut tr, mut va) = (Vec::new(), Vec::new());
    for (i, r) in all.into_iter().enumerate() {
        if i % 5 == 4 {
            va.push(r);
        } else {
            tr.push(r);
        }
    }
    let va_texts: Vec<&str> = va.iter().map(|r| r.0.as_str()).collect();
    let mut labels: Vec<String> = tr.iter().map(|r| r.1.clone()).collect();
    labels.sort_unstable();
    labels.dedup();
    let label_texts: Vec<String> = labels.iter().map(|l| label_text(l)).collect();
    let seeds: &[u64] = if shots > 0 { &[77, 1, 2] } else { &[0] };
    let mut results: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for &seed in seeds {
        let data = if shots > 0 {
            sample_shots(&tr, shots, seed)
        } else {
            tr.clone()
        };
        let base = if shots > 0 {
            HybridConfig::few_shot()
        } else {
            HybridConfig::full()
        };
        let mut corpus: Vec<&str> = data.iter().map(|r| r.0.as_str()).collect();
        if base.label_names {
            corpus.extend(label_texts.iter().map(String::as_str));
        }
        corpus.extend(extra.iter().map(String::as_str));
        let t0 = std::time::Instant::now();
        let (teacher, ctx) = full.contextual_pass(&corpus)?;
        eprintln!(
            "seed {seed}: contextual pass over {} texts in {:.1}s, {} tokens",
            corpus.len(),
            t0.elapsed().as_secs_f64(),
            ctx.tokens.len()
        );
        for v in &variants {
            let how = match v.as_str() {
                "single" => None,
                "ctx" => Some(Contextual {
                    align: false,
                    prior: 0.0,
                    fit: 0.0,
                }),
                s if s.starts_with("fit") => Some(Contextual {
                    align: true,
                    prior: 0.0,
                    fit: s.trim_start_matches("fit").parse().unwrap_or(1.0),
                }),
                s if s.starts_with("align") || s == "teacher" => Some(Contextual {
                    align: true,
                    prior: s.trim_start_matches("align").parse().unwrap_or(0.0),
                    fit: 0.0,
                }),
                s if s.starts_with("ctx") => Some(Contextual {
                    align: false,
                    prior: s.trim_start_matches("ctx").parse().unwrap_or(0.0),
                    fit: 0.0,
                }),
                _ => return Err(format!("unknown variant {v}").into()),
            };
            let enc = raw.build(weighting, Postprocess::NONE, how.map(|h| (&ctx, h)));
            let texts: Vec<&str> = data.iter().map(|r| r.0.as_str()).collect();
            let embs = if v == "teacher" {
                teacher[..texts.len()].to_vec()
            } else {
                enc.embed_all(&texts)?
            };
            let label_embs: Vec<(String, Vec<f32>)> = if v == "teacher" {
                labels
                    .iter()
                    .cloned()
                    .zip(teacher[texts.len()..].iter().cloned())
                    .collect()
            } else {
                labels
                    .iter()
                    .zip(&label_texts)
                    .map(|(l, t)| Ok((l.clone(), enc.embed(t)?)))
                    .collect::<Result<_, okienko_nlu::NluError>>()?
            };
            let va_e = enc.embed_all(&va_texts)?;
            for &scale in &scales {
                for &pw in &pws {
                    let cfg = HybridConfig {
                        scale,
                        proto_weight: pw,
                        proto_temp: std::env::var("OKIENKO_PROTO_TEMP")
                            .ok()
                            .and_then(|t| t.parse().ok())
                            .unwrap_or(base.proto_temp),
                        centre: std::env::var_os("OKIENKO_CENTRE").is_some(),
                        ..base.clone()
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
                    let acc = scores(&gold, &pred).0;
                    let key = format!("variant={v} weighting={weighting:?} scale={scale} pw={pw}");
                    eprintln!("seed {seed} {key} val_acc={acc:.4}");
                    results.entry(key).or_default().push(acc);
                }
            }
        }
    }
    for (k, accs) in &results {
        let mean = accs.iter().sum::<f64>() / accs.len() as f64;
        println!("shots={shots} {k} val_acc={mean:.4} {accs:?}");
    }
    Ok(())
}
