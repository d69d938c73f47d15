//! What `okienko nlu bench --banking77 DIR [--shots N]` prints, for runs before the CLI is wired:
//! `cargo run --release -p okienko-nlu --example b77_bench -- ../shared/data/banking77 [N]`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(
        args.get(1)
            .map_or("../shared/data/banking77", String::as_str),
    );
    let shots = args.get(2).and_then(|s| s.parse().ok());
    let v = okienko_nlu::bench_banking77(&dir, shots)?;
    println!("{v}");
    Ok(())
}
