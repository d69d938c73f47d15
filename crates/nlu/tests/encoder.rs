//! The optional sentence encoder (feature `encoder`) on the real all-MiniLM-L6-v2 weights from
//! scripts/fetch-encoder.sh ($OKIENKO_ENCODER_DIR, default
//! $HOME/.cache/okienko/models/all-minilm-l6-v2). Skips with a message when the weights are
//! absent; never downloads anything.
#![cfg(feature = "encoder")]

use std::path::PathBuf;

use okienko_nlu::encoder::Encoder;
use okienko_nlu::hybrid::{Hybrid, HybridConfig, embed_all, label_embeddings};

fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("OKIENKO_ENCODER_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/okienko/models/all-minilm-l6-v2"))
        })?;
    if dir.join("model.safetensors").exists() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: no encoder weights in {} (run scripts/fetch-encoder.sh)",
            dir.display()
        );
        None
    }
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn embeddings_are_unit_vectors_that_put_paraphrases_together() {
    let Some(dir) = model_dir() else { return };
    let enc = Encoder::load(&dir).unwrap();
    assert_eq!(enc.dim(), 384);
    let texts = [
        "what is my account balance",
        "how much money do I have in my account",
        "I lost my card yesterday",
        "",
    ];
    let batch = enc.embed_batch(&texts).unwrap();
    for (t, e) in texts.iter().zip(&batch) {
        let norm = cos(e, e).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        // A text alone and in a padded batch give the same vector (padding is masked out).
        let single = enc.embed(t).unwrap();
        assert!(cos(&single, e) > 0.9999, "batch and single differ");
    }
    assert!(cos(&batch[0], &batch[1]) > 0.6);
    assert!(cos(&batch[0], &batch[1]) > cos(&batch[0], &batch[2]) + 0.2);
    // Hostile input: long, control and bidi characters, binary-ish text: an answer, no panic.
    let long = "balance ".repeat(5000);
    let odd = "\u{202e}\u{0000}\u{feff}💳💳 zł €€€ \t\r\n";
    for t in [long.as_str(), odd] {
        let e = enc.embed(t).unwrap();
        assert_eq!(e.len(), 384);
        assert!(e.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn a_missing_model_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Encoder::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");
    std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
    let err = Encoder::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("sentence encoder"), "{err}");
}

#[test]
fn the_hybrid_model_learns_from_a_few_examples_per_label() {
    let Some(dir) = model_dir() else { return };
    let enc = Encoder::load(&dir).unwrap();
    let rows: Vec<(String, String)> = [
        ("what's my balance", "balance"),
        ("how much money is in my account", "balance"),
        ("show my current balance please", "balance"),
        ("my card was stolen", "lost_card"),
        ("I can't find my card anywhere", "lost_card"),
        ("I lost my debit card", "lost_card"),
        ("send 50 pounds to my brother", "transfer"),
        ("I want to transfer money to a friend", "transfer"),
        ("pay my landlord the rent", "transfer"),
    ]
    .iter()
    .map(|(t, l)| ((*t).to_owned(), (*l).to_owned()))
    .collect();
    let texts: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let embs = embed_all(&enc, &texts).unwrap();
    let names = label_embeddings(&enc, &rows).unwrap();
    let config = HybridConfig::for_data(&rows);
    assert_eq!(config, HybridConfig::few_shot());
    let a = Hybrid::train(&rows, &embs, &names, &config);
    let b = Hybrid::train(&rows, &embs, &names, &config);
    for (text, want) in [
        ("how much cash do I have left", "balance"),
        ("somebody took my card from my bag", "lost_card"),
        ("move 20 dollars to my sister", "transfer"),
    ] {
        let e = enc.embed(text).unwrap();
        let p = a.predict(text, &e);
        assert_eq!(a.labels()[p[0].0], want, "{text}");
        // Deterministic: the same data trains the same model.
        assert_eq!(p, b.predict(text, &e));
        let total: f32 = p.iter().map(|x| x.1).sum();
        assert!((total - 1.0).abs() < 1e-3);
    }
}
