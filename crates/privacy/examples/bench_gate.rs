//! `cargo run --release -p okienko-privacy --example bench_gate -- [N] [POSTGRES_URL]`: the same
//! figures as `okienko bench gate [--n N] [--postgres URL]`, without building the whole binary.

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let postgres = args.next();
    println!(
        "{}",
        okienko_privacy::bench::bench_gate_with(n, postgres.as_deref()).await
    );
}
