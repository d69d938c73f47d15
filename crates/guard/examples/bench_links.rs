//! Runs the link-check benchmark: `cargo run -p okienko-guard --example bench_links -- BAD_LIST [LEGIT_LIST]`.
//! Defaults: ../shared/data/phishing/KADomains_2021-07-16.txt and crates/guard/data/legit_domains.txt.

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let bad = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data/phishing/KADomains_2021-07-16.txt"));
    let legit = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/legit_domains.txt"
        ))
    });
    println!("{}", okienko_guard::bench_links(&bad, &legit));
}
