//! What `okienko nlu bench --banking77 DIR [--shots N] [--encoder MODEL_DIR]` prints, without
//! building the whole binary:
//! `cargo run --release -p okienko-nlu [--features encoder] --example b77_bench -- DIR [N|0] [MODEL_DIR [full|static]]`

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
    let mode = match args.get(4) {
        Some(m) => m.parse::<okienko_nlu::EncoderMode>()?,
        None => okienko_nlu::EncoderMode::RECOMMENDED,
    };
    let v = okienko_nlu::bench_banking77_with_mode(&dir, shots, encoder.as_deref(), mode)?;
    println!("{v}");
    Ok(())
}
