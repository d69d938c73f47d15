//! Debug helper: prints `verdict<TAB>domain<TAB>codes` for each line of a list (used to tune the heuristics).
use std::io::BufRead;
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let g = okienko_guard::Guard::new(okienko_guard::GuardConfig {
        known_bad_files: files,
        ..Default::default()
    })?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let v = g.check(line);
        let codes: Vec<&str> = v.reasons.iter().map(|r| r.code.as_str()).collect();
        println!("{}\t{}\t{}", v.verdict.as_str(), line, codes.join(","));
    }
    Ok(())
}
