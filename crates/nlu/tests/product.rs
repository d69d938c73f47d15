//! The trained product model: held-out accuracy per language, determinism, save/load.

use chrono::NaiveDate;
use okienko_nlu::{Intent, Model, Nlu, TrainConfig, train_product_model};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

#[test]
fn test_split_accuracy_is_at_least_97_percent_per_language() {
    let data =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/test.tsv")).unwrap();
    let nlu = Nlu::new();
    let mut n = std::collections::BTreeMap::<String, (usize, usize)>::new();
    let mut per_intent = std::collections::BTreeMap::<(String, String), usize>::new();
    for line in data
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut c = line.splitn(3, '\t');
        let (lang, intent, text) = (c.next().unwrap(), c.next().unwrap(), c.next().unwrap());
        let want = Intent::parse(intent).unwrap();
        let p = nlu.parse(text, today(), &[]);
        let e = n.entry(lang.to_owned()).or_default();
        e.0 += 1;
        *per_intent
            .entry((lang.to_owned(), intent.to_owned()))
            .or_default() += 1;
        if p.intent == want {
            e.1 += 1;
        } else {
            println!(
                "miss {lang}\t{intent}\t{text}\t→ {} {:.2} {:?}",
                p.intent.as_str(),
                p.confidence,
                p.alternatives
            );
        }
    }
    for i in Intent::ALL {
        for lang in ["pl", "en"] {
            let k = per_intent
                .get(&(lang.to_owned(), i.as_str().to_owned()))
                .copied()
                .unwrap_or(0);
            assert!(k >= 20, "{lang} {} has {k} test lines", i.as_str());
        }
    }
    for (lang, (total, right)) in &n {
        let acc = *right as f64 / *total as f64;
        println!("{lang}: {right}/{total} = {acc:.4}");
        assert!(acc >= 0.97, "{lang} accuracy {acc:.4} below 0.97");
    }
}

#[test]
fn training_data_has_60_examples_per_intent_and_language() {
    let data =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/train.tsv")).unwrap();
    let mut per = std::collections::BTreeMap::<(String, String), usize>::new();
    for line in data
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut c = line.splitn(3, '\t');
        let (lang, intent) = (c.next().unwrap(), c.next().unwrap());
        assert!(Intent::parse(intent).is_some(), "{intent}");
        *per.entry((lang.to_owned(), intent.to_owned())).or_default() += 1;
    }
    for i in Intent::ALL {
        for lang in ["pl", "en"] {
            let k = per
                .get(&(lang.to_owned(), i.as_str().to_owned()))
                .copied()
                .unwrap_or(0);
            assert!(k >= 60, "{lang} {} has {k} training lines", i.as_str());
        }
    }
}

#[test]
fn two_trainings_give_byte_identical_models_and_save_load_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
    let report = train_product_model(&a).unwrap();
    train_product_model(&b).unwrap();
    let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(ba, bb, "two trainings differ");
    assert_eq!(report.model_bytes, ba.len());
    assert_eq!(report.intents, 17);

    let loaded = Nlu::with_model(&a).unwrap();
    let fresh = Nlu::new();
    for text in [
        "ile mam na koncie",
        "przelej 50 zł Annie",
        "who saw my data?",
        "🙏",
    ] {
        assert_eq!(
            loaded.parse(text, today(), &[]),
            fresh.parse(text, today(), &[])
        );
    }
    let m = Model::load(&a).unwrap();
    assert_eq!(m.to_bytes(), ba);
}

#[test]
fn generic_model_round_trip_and_bad_files() {
    let data = vec![
        ("block my card", "card"),
        ("freeze the card", "card"),
        ("what is my balance", "balance"),
        ("how much money do i have", "balance"),
    ];
    let cfg = TrainConfig {
        lbfgs_iters: 20,
        ..TrainConfig::default()
    };
    let m = Model::train(&data, &cfg);
    assert_eq!(m.predict("block card")[0].0, "card");
    assert_eq!(m.predict("my balance")[0].0, "balance");
    let p: f32 = m.predict("anything").iter().map(|x| x.1).sum();
    assert!((p - 1.0).abs() < 1e-4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.bin");
    m.save(&path).unwrap();
    assert_eq!(Model::load(&path).unwrap(), m);
    let bytes = m.to_bytes();
    for cut in [0, 7, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(Model::from_bytes(&bytes[..cut]).is_err());
    }
    assert!(Model::from_bytes(b"not a model at all").is_err());
    std::fs::write(&path, b"garbage").unwrap();
    assert!(Nlu::with_model(&path).is_err());
}

#[test]
fn low_confidence_offers_three_alternatives() {
    let p = Nlu::new().parse("karta", today(), &[]);
    assert_eq!(p.alternatives.len(), 3);
    assert_eq!(p.alternatives[0], (p.intent, p.alternatives[0].1));
    assert!(p.alternatives.windows(2).all(|w| w[0].1 >= w[1].1));
    let line = Nlu::new().parse_json_line("karta", today());
    assert!(!line.contains("alternatives"));
}

/// Quiet hours come with clock times, which the model otherwise reads as amounts and dates: at
/// some times of day "quiet hours from 13:01 to 14:03" was not understood. Every start minute of
/// the day, with an end an hour and two minutes later, in both languages, must be understood
/// confidently as alert settings.
#[test]
fn quiet_hours_with_any_clock_times_are_alert_settings() {
    let nlu = Nlu::new();
    let mut wrong = Vec::new();
    for start in 0..24 * 60 {
        let end = (start + 62) % (24 * 60);
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        let (from, to) = (hm(start), hm(end));
        for text in [
            format!("cisza nocna od {from} do {to}"),
            format!("quiet hours from {from} to {to}"),
        ] {
            let p = nlu.parse(&text, today(), &[]);
            if p.intent != Intent::AlertSettings || p.confidence < Nlu::LOW_CONFIDENCE {
                wrong.push((text, p.intent, p.confidence));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} misread: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
}
