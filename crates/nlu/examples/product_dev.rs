//! Tuning the product model on a dev set that is neither train nor test: tests/data/intents.tsv
//! (the rule classifier's hand-written examples). `cargo run --release -p okienko-nlu --example
//! product_dev -- [epochs lr l2 w_extra lbfgs_iters C]`

use std::sync::Arc;

use chrono::NaiveDate;
use okienko_nlu::{Intent, Nlu, product_config, train_product_with};

fn main() {
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let mut c = product_config();
    if let Some(v) = args.first() {
        c.epochs = *v as usize
    }
    if let Some(v) = args.get(1) {
        c.learning_rate = *v as f32
    }
    if let Some(v) = args.get(2) {
        c.l2 = *v as f32
    }
    if let Some(v) = args.get(3) {
        c.group_weight[3] = *v as f32
    }
    if let Some(v) = args.get(4) {
        c.lbfgs_iters = *v as usize
    }
    if let Some(v) = args.get(5) {
        c.c = *v as f32
    }
    let t = std::time::Instant::now();
    let nlu = Nlu::from_model(Arc::new(train_product_with(&c)));
    let secs = t.elapsed().as_secs_f64();
    let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
    let dev =
        std::fs::read_to_string(std::env::var("DEV").unwrap_or("tests/data/intents.tsv".into()))
            .unwrap_or_default();
    let (mut n, mut right, mut conf_right, mut conf_wrong) = (0, 0, 0.0, 0.0);
    for l in dev
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut f = l.splitn(3, '\t');
        let (_, intent, text) = (
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
        );
        let p = nlu.parse(text, today, &[]);
        n += 1;
        if Some(p.intent) == Intent::parse(intent) {
            right += 1;
            conf_right += p.confidence;
        } else {
            conf_wrong += p.confidence;
            if args.len() > 6 {
                println!(
                    "miss {intent}\t{text}\t→ {} {:.2}",
                    p.intent.as_str(),
                    p.confidence
                )
            }
        }
    }
    let karta = nlu.parse("karta", today, &[]).confidence;
    println!(
        "dev {right}/{n} = {:.4}; mean conf right {:.2} wrong {:.2}; karta {karta:.2}; train {secs:.2}s",
        right as f64 / n as f64,
        conf_right / right.max(1) as f32,
        conf_wrong / (n - right).max(1) as f32
    );
}
