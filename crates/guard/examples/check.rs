//! Reads one message or URL per line on stdin and prints the `okienko guard check` JSON lines.
//! `cargo run -p okienko-guard --example check [-- LIST_FILE...]`

use std::io::BufRead;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let guard = okienko_guard::Guard::new(okienko_guard::GuardConfig {
        known_bad_files: files,
        ..Default::default()
    })?;
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        println!("{}", guard.check_json_line(&line?));
    }
    Ok(())
}
