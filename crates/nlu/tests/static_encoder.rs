//! The distilled static encoder (feature `encoder`) on the real all-MiniLM-L6-v2 weights and
//! the real distilled table ($OKIENKO_ENCODER_DIR, default
//! $HOME/.cache/okienko/models/all-minilm-l6-v2; the table `static-minilm-v1.f32` is written
//! there by the first `b77_bench … static` run or `scripts/b77-encoders.sh`). Skips with a
//! message when either is absent: distilling 30,522 tokens in a debug build would take too long.
#![cfg(feature = "encoder")]

use std::path::PathBuf;

use okienko_nlu::encoder::Encoder;
use okienko_nlu::static_encoder::{
    Postprocess, STATIC_FILE, STATIC_POST, STATIC_WEIGHTING, StaticEncoder, Weighting,
};

fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("OKIENKO_ENCODER_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/okienko/models/all-minilm-l6-v2"))
        })?;
    if dir.join("model.safetensors").exists() && dir.join(STATIC_FILE).exists() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: no encoder weights or distilled table in {} (run scripts/fetch-encoder.sh, \
             then scripts/b77-encoders.sh once)",
            dir.display()
        );
        None
    }
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn a_one_token_text_embeds_exactly_as_the_full_encoder_does() {
    let Some(dir) = model_dir() else { return };
    let full = Encoder::load(&dir).unwrap();
    let (plain, secs) = StaticEncoder::load_or_distill(&dir, Weighting::None, Postprocess::NONE)
        .expect("table loads");
    assert_eq!(secs, 0.0, "the table was already there");
    assert_eq!(plain.dim(), 384);
    // "balance" and "card" are single WordPiece tokens: the static row is MiniLM's output for
    // "[CLS] balance [SEP]", which is what the full encoder computes for the text "balance".
    for word in ["balance", "card", "account"] {
        let s = plain.embed(word).unwrap();
        let f = full.embed(word).unwrap();
        assert!(cos(&s, &f) > 0.999, "{word}: {}", cos(&s, &f));
    }
    // And the batch path used by distillation agrees with it.
    let id = 4_003; // "card" in the all-MiniLM-L6-v2 vocabulary
    let row = full.embed_token_ids(&[id]).unwrap();
    assert!(cos(&row[0], &full.embed("card").unwrap()) > 0.9999);
}

#[test]
fn sentences_get_deterministic_unit_vectors_that_keep_topics_apart() {
    let Some(dir) = model_dir() else { return };
    let (enc, _) = StaticEncoder::load_or_distill(&dir, STATIC_WEIGHTING, STATIC_POST).unwrap();
    let texts = [
        "what is my account balance",
        "how much money is in my account",
        "I lost my card yesterday",
    ];
    let e: Vec<Vec<f32>> = texts.iter().map(|t| enc.embed(t).unwrap()).collect();
    for v in &e {
        assert!((cos(v, v).sqrt() - 1.0).abs() < 1e-4);
    }
    assert_eq!(e[0], enc.embed(texts[0]).unwrap(), "not deterministic");
    assert!(
        cos(&e[0], &e[1]) > cos(&e[0], &e[2]),
        "balance/money {} vs balance/lost card {}",
        cos(&e[0], &e[1]),
        cos(&e[0], &e[2])
    );
    // Nothing to embed: a zero vector, not NaN. Hostile input: an answer, no panic.
    assert!(enc.embed("").unwrap().iter().all(|x| *x == 0.0));
    let long = "balance ".repeat(5000);
    for t in [long.as_str(), "\u{202e}\u{0000}\u{feff}💳 zł €€ \t\r\n"] {
        let v = enc.embed(t).unwrap();
        assert_eq!(v.len(), 384);
        assert!(v.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn a_truncated_or_foreign_table_is_refused_not_redistilled() {
    let Some(dir) = model_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.join("tokenizer.json"),
        tmp.path().join("tokenizer.json"),
    )
    .unwrap();
    let table = std::fs::read(dir.join(STATIC_FILE)).unwrap();
    for bad in [&table[..table.len() / 2], b"not a table at all".as_slice()] {
        std::fs::write(tmp.path().join(STATIC_FILE), bad).unwrap();
        let e = StaticEncoder::load_or_distill(tmp.path(), Weighting::Zipf, Postprocess::NONE)
            .unwrap_err()
            .to_string();
        assert!(e.contains(STATIC_FILE), "{e}");
    }
}

/// The contextual table: tokens of the training sentences get their in-context MiniLM vectors,
/// so those sentences' static embeddings move towards what the full encoder gives them; the
/// build is deterministic, and tokens the corpus never saw still embed (through the fitted map).
#[test]
fn a_contextual_table_brings_training_sentences_closer_to_the_full_encoder() {
    use okienko_nlu::static_encoder::{Contextual, RawTable};
    let Some(dir) = model_dir() else { return };
    let full = Encoder::load(&dir).unwrap();
    let corpus = [
        "I still have not received my new card",
        "my card payment was declined at the shop",
        "how do I top up my account by bank transfer",
        "why was I charged a fee for withdrawing cash",
        "can I change my PIN at an ATM",
        "the exchange rate on my transfer looks wrong",
    ];
    let (teacher, ctx) = full.contextual_pass(&corpus).unwrap();
    for (t, e) in corpus.iter().zip(&teacher) {
        assert!(cos(e, &full.embed(t).unwrap()) > 0.999, "{t}");
    }
    assert!(ctx.tokens.values().all(|(_, c)| *c > 0));
    let (raw, _) = RawTable::load_or_distill(&dir).unwrap();
    let how = Contextual {
        align: true,
        prior: 0.0,
        fit: 0.0,
    };
    let plain = raw.build(STATIC_WEIGHTING, STATIC_POST, None);
    let ctx_enc = raw.build(STATIC_WEIGHTING, STATIC_POST, Some((&ctx, how)));
    let again = raw.build(STATIC_WEIGHTING, STATIC_POST, Some((&ctx, how)));
    let (mut before, mut after) = (0.0, 0.0);
    for (t, e) in corpus.iter().zip(&teacher) {
        before += cos(&plain.embed(t).unwrap(), e);
        after += cos(&ctx_enc.embed(t).unwrap(), e);
        assert_eq!(ctx_enc.embed(t).unwrap(), again.embed(t).unwrap(), "{t}");
    }
    assert!(after > before, "mean cosine to MiniLM: {before} → {after}");
    let unseen = ctx_enc.embed("zebra xylophone").unwrap();
    assert!((cos(&unseen, &unseen).sqrt() - 1.0).abs() < 1e-4);
    // The int8 table is a quarter of the f32 one.
    assert!(ctx_enc.table_bytes() < 30_522 * 384 * 4 / 3);
}

/// The fitted table (Tokenlearn-style least squares on the full encoder's sentence embeddings):
/// the corpus sentences' static embeddings end closer to MiniLM's than with the contextual means
/// alone, the fit is deterministic, and a sentence made of unseen tokens still embeds.
#[test]
fn fitting_the_table_brings_corpus_sentences_closer_still() {
    use okienko_nlu::static_encoder::{Contextual, RawTable};
    let Some(dir) = model_dir() else { return };
    let full = Encoder::load(&dir).unwrap();
    let corpus = [
        "I still have not received my new card",
        "my new card has not arrived yet",
        "my card payment was declined at the shop",
        "the shop declined my card",
        "how do I top up my account by bank transfer",
        "can I top up with a transfer from my bank",
        "why was I charged a fee for withdrawing cash",
        "there is a fee on my cash withdrawal",
    ];
    let (teacher, ctx) = full.contextual_pass(&corpus).unwrap();
    assert_eq!(ctx.sentences.len(), corpus.len());
    assert_eq!(ctx.teacher, teacher);
    let (raw, _) = RawTable::load_or_distill(&dir).unwrap();
    let means = Contextual {
        align: true,
        prior: 0.0,
        fit: 0.0,
    };
    let fitted = Contextual { fit: 3.0, ..means };
    let plain = raw.build(STATIC_WEIGHTING, STATIC_POST, Some((&ctx, means)));
    let fit = raw.build(STATIC_WEIGHTING, STATIC_POST, Some((&ctx, fitted)));
    let again = raw.build(STATIC_WEIGHTING, STATIC_POST, Some((&ctx, fitted)));
    let (mut before, mut after) = (0.0, 0.0);
    for (t, e) in corpus.iter().zip(&teacher) {
        before += cos(&plain.embed(t).unwrap(), e);
        after += cos(&fit.embed(t).unwrap(), e);
        assert_eq!(fit.embed(t).unwrap(), again.embed(t).unwrap(), "{t}");
    }
    assert!(after > before, "mean cosine to MiniLM: {before} → {after}");
    let unseen = fit.embed("zebra xylophone").unwrap();
    assert!((cos(&unseen, &unseen) - 1.0).abs() < 1e-3);
}

/// Centring ([`HybridConfig::centre`]): when every embedding shares one large direction, the
/// prototype cosines are squeezed together and the prototypes can hardly tell the labels apart;
/// centred on the training mean they can. No model needed.
#[test]
fn centring_separates_prototypes_that_share_a_common_direction() {
    use okienko_nlu::hybrid::{Hybrid, HybridConfig};
    let unit = |v: [f32; 3]| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    let data: Vec<(String, String)> = (0..10)
        .map(|i| {
            let l = if i % 2 == 0 { "even" } else { "odd" };
            ("same words".to_owned(), l.to_owned())
        })
        .collect();
    let embs: Vec<Vec<f32>> = (0..10)
        .map(|i| {
            unit(if i % 2 == 0 {
                [5.0, 0.1, 0.0]
            } else {
                [5.0, 0.0, 0.1]
            })
        })
        .collect();
    let base = HybridConfig {
        proto_weight: 1.0,
        label_names: false,
        ..HybridConfig::few_shot()
    };
    let query = unit([5.0, 0.1, 0.0]);
    let p_even = |centre: bool| {
        let m = Hybrid::train(
            &data,
            &embs,
            &[],
            &HybridConfig {
                centre,
                ..base.clone()
            },
        );
        let p = m.predict("same words", &query);
        assert_eq!(m.labels()[p[0].0], "even");
        p[0].1
    };
    let (plain, centred) = (p_even(false), p_even(true));
    assert!(plain < 0.6, "{plain}");
    assert!(centred > 0.9, "{centred}");
}
