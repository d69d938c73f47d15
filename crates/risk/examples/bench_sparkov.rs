//! Runs the Sparkov benchmark and prints its JSON on stdout.
//! `cargo run --release -p okienko-risk --example bench_sparkov -- ../shared/data/fraud/sparkov_1000c_2023/transactions.csv.gz [YYYY-MM-DD]`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: bench_sparkov FILE.csv.gz [TEST_FROM YYYY-MM-DD]");
        return ExitCode::from(2);
    };
    let test_from = match args.next().map(|s| s.parse()) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => {
            eprintln!("TEST_FROM must be YYYY-MM-DD");
            return ExitCode::from(2);
        }
    };
    match okienko_risk::bench_sparkov(&path, test_from) {
        Ok(v) => {
            println!("{v:#}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
