//! Tuning on BANKING77's TRAIN split only: holds out every 5th row of train.csv for validation.
//! `cargo run --release -p okienko-nlu --example b77_tune -- ../shared/data/banking77 [epochs lr l2 char_max wword wchar shots lbfgs_iters C cross_max w_cross]`

use std::path::Path;

use okienko_nlu::TrainConfig;
use okienko_nlu::bench::{evaluate, read_banking77_csv, sample_shots};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(
        args.get(1)
            .map_or("../shared/data/banking77", String::as_str),
    );
    let all = read_banking77_csv(&dir.join("train.csv"))?;
    let (mut tr, mut va) = (Vec::new(), Vec::new());
    for (i, r) in all.into_iter().enumerate() {
        if i % 5 == 4 { va.push(r) } else { tr.push(r) }
    }
    let mut c = TrainConfig::default();
    let num = |i: usize| args.get(i).and_then(|s| s.parse::<f64>().ok());
    if let Some(v) = num(2) {
        c.epochs = v as usize
    }
    if let Some(v) = num(3) {
        c.learning_rate = v as f32
    }
    if let Some(v) = num(4) {
        c.l2 = v as f32
    }
    if let Some(v) = num(5) {
        c.char_max = v as usize
    }
    if let Some(v) = num(6) {
        c.group_weight[0] = v as f32
    }
    if let Some(v) = num(7) {
        c.group_weight[1] = v as f32
    }
    if let Some(v) = num(9) {
        c.lbfgs_iters = v as usize
    }
    if let Some(v) = num(10) {
        c.c = v as f32
    }
    if let Some(v) = num(11) {
        c.cross_max = v as usize
    }
    if let Some(v) = num(12) {
        c.group_weight[4] = v as f32
    }
    let shots = num(8).map(|v| v as usize).filter(|n| *n > 0);
    let tr = match shots {
        Some(n) => sample_shots(&tr, n, 77),
        None => tr,
    };
    let e = evaluate(&tr, &va, &c);
    println!("{c:?}\n{e:?}");
    Ok(())
}
