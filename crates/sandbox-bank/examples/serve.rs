//! Starts a sandbox bank with the control API on 127.0.0.1:PORT (default 0 = any free port) and
//! prints the base URL. Used by scripts/schemathesis.sh and for poking at the bank by hand.
//! Usage: cargo run -p okienko-sandbox-bank --example serve -- [PORT]

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let today = chrono::Utc::now().date_naive();
    let bank = okienko_sandbox_bank::SandboxBank::new(okienko_sandbox_bank::SandboxConfig {
        customers: 100,
        seed: 42,
        today,
        control_api: true,
    });
    println!("http://{addr}");
    bank.serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
