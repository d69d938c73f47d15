//! `okienko`: the one binary. See `okienko --help` and the command-line contract in
//! docs/ARCHITECTURE.md.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use okienko::config::Config;
use okienko::{gateway, logging};
use okienko_sandbox_bank::{SandboxBank, SandboxConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Parser)]
#[command(
    name = "okienko",
    version,
    about = "A conversational banking gateway: your bank, in your chat."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the sandbox bank, the gateway and the web chat on 127.0.0.1 with demo customers.
    Demo {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        #[arg(long, default_value = "okienko-data")]
        data_dir: PathBuf,
        /// Synthetic customers in the sandbox bank (besides the demo ones).
        #[arg(long, default_value_t = 100)]
        customers: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Run the gateway alone against the bank in the configuration.
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run the NextGenPSD2 sandbox bank alone, serving `/v1/` at its root.
    SandboxBank {
        #[arg(long, default_value_t = 8081)]
        port: u16,
        #[arg(long, default_value_t = 1000)]
        customers: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The bank's "today" (YYYY-MM-DD); defaults to the UTC date.
        #[arg(long)]
        today: Option<NaiveDate>,
        /// Turn off the `/sandbox/*` test control API.
        #[arg(long)]
        no_control_api: bool,
    },
    /// Understanding customers' messages.
    Nlu {
        #[command(subcommand)]
        command: NluCommand,
    },
    /// Benchmarks; each prints one JSON object on stdout.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum NluCommand {
    /// Read one message per line on stdin; write one JSON object per line.
    Parse {
        /// Resolve relative dates against this day (default: today in Europe/Warsaw).
        #[arg(long)]
        today: Option<NaiveDate>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Sync N customers × 2 years from the sandbox bank into SQLite and PostgreSQL, beside a
    /// plain bulk insert of the same rows.
    Sync {
        #[arg(long, default_value_t = 20)]
        customers: usize,
        /// PostgreSQL URL; `none` to skip PostgreSQL.
        #[arg(long, default_value = "postgres://127.0.0.1:5432/test")]
        postgres: String,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and report the first broken row.
    Verify {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init();
    // One TLS provider for every HTTPS client: ring (no C toolchain needed beyond cc).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo {
            port,
            data_dir,
            customers,
            seed,
        } => demo(port, data_dir, customers, seed).await,
        Command::Serve { config } => serve(config).await,
        Command::SandboxBank {
            port,
            customers,
            seed,
            today,
            no_control_api,
        } => sandbox_bank(port, customers, seed, today, !no_control_api).await,
        Command::Nlu {
            command: NluCommand::Parse { today },
        } => nlu_parse(today),
        Command::Bench {
            command:
                BenchCommand::Sync {
                    customers,
                    postgres,
                    seed,
                },
        } => okienko::bench::sync(customers, &postgres, seed).await,
        Command::Audit {
            command: AuditCommand::Verify { config },
        } => audit_verify(config).await,
    }
}

fn shutdown_channel() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    rx
}

async fn bind(port: u16) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is the port taken? try --port)"))
}

async fn demo(port: u16, data_dir: PathBuf, customers: usize, seed: u64) -> anyhow::Result<()> {
    let shutdown = shutdown_channel();
    let today = chrono::Utc::now().date_naive();
    let bank = SandboxBank::new(SandboxConfig {
        customers,
        seed,
        today,
        control_api: true,
    });
    let bank_listener = bind(0).await?;
    let bank_url = format!("http://{}", bank_listener.local_addr()?);
    let logins = bank.demo_logins();
    let mut stop = shutdown.clone();
    let bank_task = tokio::spawn(bank.serve(bank_listener, async move {
        let _ = stop.wait_for(|s| *s).await;
    }));

    let listener = bind(port).await?;
    let addr = listener.local_addr()?;
    let mut cfg = Config::load(None)?;
    cfg.listen = addr.to_string();
    cfg.data_dir = data_dir;
    cfg.bank.base_url = bank_url.clone();
    let running = gateway::start(&cfg, listener, shutdown).await?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "okienko demo is running.")?;
    writeln!(out, "Open the web chat:   {}/", running.url)?;
    writeln!(
        out,
        "Sandbox bank:        {bank_url}/  (NextGenPSD2 under /v1/, bank app at /app)"
    )?;
    // The first two are the demo personas (PLN and USD); the rest are synthetic.
    for l in logins.iter().take(2) {
        writeln!(
            out,
            "Demo login:          {} / {}  ({}, {})",
            l.psu_id, l.password, l.name, l.currency
        )?;
    }
    writeln!(out, "Data directory:      {}", cfg.data_dir.display())?;
    writeln!(out, "Press Ctrl+C to stop.")?;
    out.flush()?;
    drop(out);

    running.task.await??;
    bank_task.await??;
    Ok(())
}

async fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let cfg = Config::load(config.as_deref())?;
    let listener = TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let running = gateway::start(&cfg, listener, shutdown_channel()).await?;
    println!("okienko gateway listening on {}/", running.url);
    running.task.await??;
    Ok(())
}

async fn sandbox_bank(
    port: u16,
    customers: usize,
    seed: u64,
    today: Option<NaiveDate>,
    control_api: bool,
) -> anyhow::Result<()> {
    let bank = SandboxBank::new(SandboxConfig {
        customers,
        seed,
        today: today.unwrap_or_else(|| chrono::Utc::now().date_naive()),
        control_api,
    });
    let listener = bind(port).await?;
    println!(
        "sandbox bank listening on http://{}/",
        listener.local_addr()?
    );
    let mut stop = shutdown_channel();
    bank.serve(listener, async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await?;
    Ok(())
}

fn nlu_parse(today: Option<NaiveDate>) -> anyhow::Result<()> {
    let today = today.unwrap_or_else(|| {
        okienko_core::format::local_date(chrono::Utc::now(), okienko_core::format::DEFAULT_TZ)
    });
    let nlu = okienko_nlu::Nlu::new();
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.split(b'\n') {
        let line = line.context("reading stdin")?;
        // Bytes that are not UTF-8 are replaced, not rejected: one answer per input line.
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches('\r');
        writeln!(out, "{}", nlu.parse_json_line(text, today))?;
    }
    out.flush()?;
    Ok(())
}

async fn audit_verify(config: Option<PathBuf>) -> anyhow::Result<()> {
    let cfg = Config::load(config.as_deref())?;
    let store = okienko_store::Store::connect(&cfg.store_url())
        .await
        .context("opening the store")?;
    let gate =
        okienko_privacy::PrivacyGate::new(store, std::sync::Arc::new(okienko_core::SystemClock));
    let v = gate.verify_audit().await?;
    println!("{}", serde_json::to_string(&v)?);
    if !v.intact {
        anyhow::bail!("the audit trail is broken");
    }
    Ok(())
}
