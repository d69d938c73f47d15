//! What `okienko nlu bench --banking77 DIR [--shots N] [--encoder MODEL_DIR]` prints, without
//! building the whole binary:
//! `cargo run --release -p okienko-nlu [--features encoder] --example b77_bench -- DIR [N|0] [MODEL_DIR]`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(
        args.get(1)
            .map_or("../shared/data/banking77", String::as_str),
    );
    let shots = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .filter(|n: &usize| *n > 0);
    let encoder = args.get(3).map(std::path::PathBuf::from);
    let v = okienko_nlu::bench_banking77_with(&dir, shots, encoder.as_deref())?;
    println!("{v}");
    Ok(())
}
