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
        /// A file with the secret new-transaction notifications are signed with (shared with
        /// the gateway's `bank.notify_secret_file`); without it the bank sends none.
        #[arg(long)]
        notify_secret_file: Option<PathBuf>,
    },
    /// Run the card vault alone: its own port, SQLite file and key hierarchy (cards live only
    /// there; the gateway holds tokens).
    Vault {
        #[arg(long, default_value_t = 8090)]
        port: u16,
        #[arg(long, default_value = "okienko-vault-data")]
        data_dir: PathBuf,
        /// The card issuer's base URL (the sandbox bank's acquiring endpoint).
        #[arg(long, default_value = "http://127.0.0.1:8081")]
        issuer_url: String,
        /// Default: DATA_DIR/vault-master.key, created (0600) if missing.
        #[arg(long)]
        master_key_file: Option<PathBuf>,
        /// The secret the gateway signs requests with. Default: DATA_DIR/vault-api.secret.
        #[arg(long)]
        api_secret_file: Option<PathBuf>,
        #[arg(long, default_value_t = 10)]
        issuer_timeout_secs: u64,
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
    /// Fraud and scam protection.
    Guard {
        #[command(subcommand)]
        command: GuardCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Bank staff for the agent console.
    Agents {
        #[command(subcommand)]
        command: AgentsCommand,
    },
}

#[derive(Subcommand)]
enum AgentsCommand {
    /// Add a staff account; the password is read from the first line of stdin.
    AddStaff {
        #[arg(long)]
        bank: String,
        /// agent or supervisor
        #[arg(long)]
        role: String,
        #[arg(long)]
        username: String,
        /// Shown to customers when this person joins a chat.
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "general")]
        team: String,
        #[arg(long)]
        config: Option<PathBuf>,
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
    /// Train the product intent model from the data in the repo (deterministic) and save it.
    Train {
        #[arg(long, default_value = "okienko-nlu.model")]
        out: PathBuf,
    },
    /// Train and test on BANKING77 (DIR/train.csv, DIR/test.csv); print one JSON object.
    Bench {
        #[arg(long)]
        banking77: PathBuf,
        /// Train on N examples per intent instead of all.
        #[arg(long)]
        shots: Option<usize>,
        /// Add the sentence encoder from this model directory (scripts/fetch-encoder.sh;
        /// needs a build with `--features encoder`).
        #[arg(long)]
        encoder: Option<PathBuf>,
        /// With --encoder: `full` (the 6-layer transformer per query) or `static` (the
        /// distilled token table, made contextual on the training sentences and fitted to the
        /// full encoder's sentence embeddings: well under a millisecond per query; on BANKING77
        /// 93.70 % full data, 84.06 % 10-shot, against 94.09 / 86.72 for `full`).
        #[arg(long, default_value = "full", requires = "encoder")]
        encoder_mode: okienko_nlu::EncoderMode,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Tokenized card payments end to end (vault → sandbox bank, real HTTP) per second and p99,
    /// beside the same charges straight at the bank; and the ledger's transfers per second beside
    /// a plain insert of the same rows.
    Payments {
        #[arg(long, default_value_t = 2000)]
        payments: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Sandbox customers whose cards pay (PLN ones).
        #[arg(long, default_value_t = 20)]
        customers: usize,
        #[arg(long, default_value_t = 200_000)]
        ledger_transfers: usize,
        /// P2P transfers through the payment driver against the sandbox bank's PIS (0 = skip).
        #[arg(long, default_value_t = 500)]
        pis_payments: usize,
        /// Share of the driver's bank calls that meet a fault (refused, answer dropped,
        /// duplicated, delayed).
        #[arg(long, default_value_t = 0.1)]
        fault_rate: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The sandbox ledger alone: two-phase transfers per second beside a plain insert.
    Ledger {
        #[arg(long, default_value_t = 200_000)]
        transfers: usize,
        #[arg(long, default_value_t = 1000)]
        accounts: usize,
    },
    /// The privacy gate's added cost per read (policy decision + audit), beside a direct read of
    /// the same data in the same run.
    Gate {
        #[arg(long, default_value_t = 2000)]
        n: usize,
        /// Also measure on PostgreSQL at this URL (schema `okienko_bench_gate`).
        #[arg(long)]
        postgres: Option<String>,
    },
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
    /// Messenger webhook deliveries per second with signature checks, and p99, beside an
    /// unsigned no-op handler on the same server.
    Messenger {
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Messages relayed customer ↔ agent per second and latency percentiles, over real web chat
    /// and agent console WebSockets of a gateway in this process, beside the bot-only path.
    Agents {
        #[arg(long, default_value_t = 200)]
        conversations: usize,
        /// Messages each way per conversation.
        #[arg(long, default_value_t = 20)]
        messages: usize,
        /// Agents sharing the conversations (round robin).
        #[arg(long, default_value_t = 20)]
        agents: usize,
    },
    /// Web chat messages per second, p50/p99 latency and peak memory for N concurrent sessions
    /// asking balance (and some transactions) questions over real WebSockets, beside a minimal
    /// axum WebSocket echo server driven the same way in the same run.
    Chat {
        #[arg(long, default_value_t = 100)]
        sessions: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Gateway processes: 1 (SQLite) or 3 (sharing one PostgreSQL schema).
        #[arg(long, default_value_t = 1)]
        instances: usize,
        /// PostgreSQL for `--instances 3` (a fresh schema per run).
        #[arg(long, default_value = "postgres://127.0.0.1:5432/test")]
        postgres: String,
        /// Every n-th question asks for transactions; 0 asks balances only.
        #[arg(long, default_value_t = 10)]
        transactions_every: usize,
        /// Instead: open M idle sessions and report the gateway's memory (and the echo server's).
        #[arg(long)]
        open_sessions: Option<usize>,
        /// Instead of --seconds: ask for this many minutes, sampling memory every 10 s.
        #[arg(long)]
        soak_minutes: Option<u64>,
        /// The gateways' chat.refresh_after_secs (0: every question asks the bank).
        #[arg(long, default_value_t = 30)]
        refresh_after_secs: u64,
    },
    /// The echo server `bench chat` measures beside the gateway (started by it).
    #[command(hide = true)]
    ChatEcho {
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

#[derive(Subcommand)]
enum GuardCommand {
    /// Read one message or URL per line on stdin; write one JSON verdict per line.
    Check {
        /// Known-bad domain lists (CERT Polska's one-domain-a-line format), re-read when they change.
        #[arg(long = "known-bad")]
        known_bad: Vec<PathBuf>,
    },
    /// Train the live risk model on a card-transaction file (Sparkov columns, gzip or plain) and
    /// write it as JSON, for the gateway's `guard.model_file`. Deterministic.
    Train {
        #[arg(long)]
        transactions: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Benchmarks, one JSON object on stdout. With --transactions: train on a card-transaction
    /// stream (Sparkov columns) before a date and score the rest as a stream. With --links: the
    /// share of a scam-domain list flagged, and of a legitimate-domain list wrongly flagged.
    Bench {
        #[arg(long, conflicts_with_all = ["links", "handbook"], required_unless_present_any = ["links", "handbook"])]
        transactions: Option<PathBuf>,
        /// The Fraud Detection Handbook's simulated data set (folder or transactions.csv.gz),
        /// scored with the book's protocol beside its baselines.
        #[arg(long, conflicts_with = "links")]
        handbook: Option<PathBuf>,
        /// First day of the test period (default: 1 October of the data's year).
        #[arg(long)]
        test_from: Option<NaiveDate>,
        /// A scam-domain list (one domain a line).
        #[arg(long, requires = "legit")]
        links: Option<PathBuf>,
        /// A list of legitimate domains (one a line).
        #[arg(long)]
        legit: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and report the first broken row, and compare the database with
    /// the head kept outside it (`audit.head_file`): a database restored from an older copy is
    /// reported as rolled back. Exits non-zero on any problem.
    Verify {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Re-verify the whole chain under the audit key and, only if it is intact, write a fresh
    /// checkpoint after a row recording the repair (a damaged checkpoint stops every read).
    RepairCheckpoint {
        /// Your pseudonymous staff id (recorded in the audit row; not a name).
        #[arg(long)]
        operator: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// mimalloc rather than glibc's malloc: a chat answer makes many small, short-lived allocations
/// (frames, JSON, decrypted rows) on tokio's worker threads and frees them on others; under
/// `okienko bench chat` glibc's allocator took about a seventh of the gateway's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let quiet = matches!(
        cli.command,
        Command::Nlu { .. }
            | Command::Bench { .. }
            | Command::Audit { .. }
            | Command::Guard { .. }
            | Command::Agents { .. }
    );
    logging::init(quiet);
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
            notify_secret_file,
        } => {
            sandbox_bank(
                port,
                customers,
                seed,
                today,
                !no_control_api,
                notify_secret_file,
            )
            .await
        }
        Command::Vault {
            port,
            data_dir,
            issuer_url,
            master_key_file,
            api_secret_file,
            issuer_timeout_secs,
        } => {
            let mut stop = shutdown_channel();
            okienko::vault::run(
                okienko::vault::VaultArgs {
                    port,
                    data_dir,
                    issuer_url,
                    master_key_file,
                    api_secret_file,
                    issuer_timeout_secs,
                },
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            )
            .await
        }
        Command::Nlu {
            command: NluCommand::Parse { today },
        } => nlu_parse(today),
        Command::Nlu {
            command: NluCommand::Train { out },
        } => {
            let report = okienko_nlu::train_product_model(&out)?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Command::Nlu {
            command:
                NluCommand::Bench {
                    banking77,
                    shots,
                    encoder,
                    encoder_mode,
                },
        } => {
            let out = tokio::task::spawn_blocking(move || {
                okienko_nlu::bench_banking77_with_mode(
                    &banking77,
                    shots,
                    encoder.as_deref(),
                    encoder_mode,
                )
            })
            .await??;
            println!("{out}");
            Ok(())
        }
        Command::Bench {
            command:
                BenchCommand::Payments {
                    payments,
                    concurrency,
                    customers,
                    ledger_transfers,
                    pis_payments,
                    fault_rate,
                    seed,
                },
        } => {
            anyhow::ensure!(
                (0.0..=0.9).contains(&fault_rate),
                "--fault-rate must be from 0.0 to 0.9"
            );
            let v = okienko::bench_payments::run(okienko::bench_payments::PaymentsBench {
                payments,
                concurrency,
                customers,
                ledger_transfers,
                pis: okienko::bench_payments::PisBench {
                    payments: pis_payments,
                    concurrency,
                    fault_rate,
                    seed,
                },
            })
            .await?;
            println!("{v}");
            Ok(())
        }
        Command::Bench {
            command:
                BenchCommand::Ledger {
                    transfers,
                    accounts,
                },
        } => {
            println!(
                "{}",
                okienko_sandbox_bank::ledger_bench(transfers, accounts, 7)
            );
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Gate { n, postgres },
        } => {
            println!(
                "{}",
                okienko_privacy::bench::bench_gate_with(n, postgres.as_deref()).await
            );
            Ok(())
        }
        Command::Bench {
            command:
                BenchCommand::Sync {
                    customers,
                    postgres,
                    seed,
                },
        } => okienko::bench::sync(customers, &postgres, seed).await,
        Command::Bench {
            command:
                BenchCommand::Messenger {
                    events,
                    concurrency,
                },
        } => okienko::bench_messenger::run(events, concurrency).await,
        Command::Bench {
            command:
                BenchCommand::Agents {
                    conversations,
                    messages,
                    agents,
                },
        } => okienko::bench_agents::run(conversations, messages, agents).await,
        Command::Bench {
            command:
                BenchCommand::Chat {
                    sessions,
                    seconds,
                    instances,
                    postgres,
                    transactions_every,
                    open_sessions,
                    soak_minutes,
                    refresh_after_secs,
                },
        } => {
            okienko::bench_chat::run(okienko::bench_chat::ChatBench {
                sessions,
                seconds,
                instances,
                postgres,
                transactions_every,
                open_sessions,
                soak_minutes,
                refresh_after_secs,
            })
            .await
        }
        Command::Bench {
            command: BenchCommand::ChatEcho { port },
        } => {
            let listener = bind(port).await?;
            println!(
                "echo server listening on http://{}/",
                listener.local_addr()?
            );
            okienko::bench_chat::echo_server(listener).await?;
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { config },
        } => audit_verify(config).await,
        Command::Audit {
            command: AuditCommand::RepairCheckpoint { operator, config },
        } => audit_repair_checkpoint(config, &operator).await,
        Command::Agents {
            command:
                AgentsCommand::AddStaff {
                    bank,
                    role,
                    username,
                    name,
                    team,
                    config,
                },
        } => {
            okienko::agents::add_staff_cli(
                config.as_deref(),
                &bank,
                &role,
                &username,
                name.as_deref(),
                &team,
            )
            .await
        }
        Command::Guard {
            command: GuardCommand::Check { known_bad },
        } => guard_check(known_bad),
        Command::Guard {
            command: GuardCommand::Train { transactions, out },
        } => {
            let model = tokio::task::spawn_blocking(move || {
                okienko_risk::train_sparkov_file(&transactions)
            })
            .await??;
            std::fs::write(&out, model.to_json()?)
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
            eprintln!(
                "guard train: {} rows, {} trees, written to {}",
                model.trained_rows,
                model.gbdt.trees.len(),
                out.display()
            );
            Ok(())
        }
        Command::Guard {
            command:
                GuardCommand::Bench {
                    transactions,
                    test_from,
                    links,
                    legit,
                    handbook,
                },
        } => {
            // CPU-bound and single-threaded by design: keep it off the async workers.
            let out = tokio::task::spawn_blocking(move || match (transactions, links, legit) {
                _ if handbook.is_some() => Ok(handbook
                    .as_deref()
                    .map(|d| okienko_risk::bench_handbook(d, &Default::default()))
                    .transpose()?
                    .unwrap_or_default()),
                (Some(tx), _, _) => Ok(okienko_risk::bench_sparkov(&tx, test_from)?),
                (None, Some(bad), Some(good)) => Ok(okienko_guard::bench_links(&bad, &good)),
                _ => Err(anyhow::anyhow!(
                    "give --transactions FILE, --handbook DIR, or --links FILE --legit FILE"
                )),
            })
            .await??;
            println!("{out}");
            Ok(())
        }
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
    // The bank pushes new transactions to the gateway, signed with a secret kept in the data
    // directory (created on first start).
    let notify_file = data_dir.join("bank-notify.secret");
    let notify_secret = demo_notify_secret(&notify_file)?;
    bank.enable_notifications(&notify_secret);
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
    cfg.bank.notify_secret_file = Some(notify_file);
    okienko::messenger::enable_for_demo(&mut cfg);
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
    okienko::agents::seed_demo_staff(&running.handover).await?;
    for (username, _, role, _) in okienko::agents::DEMO_STAFF {
        let password = okienko::agents::DEMO_STAFF_PASSWORD;
        writeln!(
            out,
            "Staff login:         {username} / {password}  ({})",
            role.as_str()
        )?;
    }
    writeln!(out, "Agent console:       {}/agent", running.url)?;
    for line in okienko::messenger::demo_lines(&cfg, &running.url) {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "Data directory:      {}", cfg.data_dir.display())?;
    writeln!(out, "Press Ctrl+C to stop.")?;
    out.flush()?;
    drop(out);

    running.task.await??;
    bank_task.await??;
    Ok(())
}

/// The demo's bank-notification secret: read from `path`, or made and written there (0600).
fn demo_notify_secret(path: &std::path::Path) -> anyhow::Result<String> {
    if let Ok(s) = std::fs::read_to_string(path)
        && s.trim().len() >= 16
    {
        return Ok(s.trim().to_owned());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data dir {}", dir.display()))?;
    }
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(secret.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
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
    notify_secret_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let bank = SandboxBank::new(SandboxConfig {
        customers,
        seed,
        today: today.unwrap_or_else(|| chrono::Utc::now().date_naive()),
        control_api,
    });
    if let Some(path) = notify_secret_file {
        let secret = std::fs::read_to_string(&path)
            .with_context(|| format!("reading --notify-secret-file {}", path.display()))?;
        anyhow::ensure!(
            bank.enable_notifications(&secret),
            "--notify-secret-file must hold a secret of at least 16 characters"
        );
    }
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

fn guard_check(known_bad: Vec<PathBuf>) -> anyhow::Result<()> {
    let guard = okienko_guard::Guard::new(okienko_guard::GuardConfig {
        known_bad_files: known_bad,
        ..okienko_guard::GuardConfig::default()
    })?;
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.split(b'\n') {
        let line = line.context("reading stdin")?;
        let text = String::from_utf8_lossy(&line);
        writeln!(
            out,
            "{}",
            guard.check_json_line(text.trim_end_matches('\r'))
        )?;
    }
    out.flush()?;
    Ok(())
}

/// The gate of the configured store, with the configured audit head file, for `okienko audit`.
async fn audit_gate(config: Option<PathBuf>) -> anyhow::Result<okienko_privacy::PrivacyGate> {
    let cfg = Config::load(config.as_deref())?;
    let key_file = cfg.master_key_file();
    let keyring = okienko_store::Keyring::from_file_or_create(&key_file)
        .with_context(|| format!("loading the master key file {}", key_file.display()))?;
    let store = okienko_store::Store::connect(&cfg.store_url(), keyring)
        .await
        .context("opening the store")?;
    Ok(
        okienko_privacy::PrivacyGate::try_new(
            store,
            std::sync::Arc::new(okienko_core::SystemClock),
        )
        .context("loading the privacy policies")?
        .with_audit_head_file(cfg.audit_head_file()),
    )
}

async fn audit_verify(config: Option<PathBuf>) -> anyhow::Result<()> {
    let gate = audit_gate(config).await?;
    let v = gate.verify_audit().await?;
    println!("{}", serde_json::to_string(&v)?);
    if let Some(complaint) = v.complaint() {
        anyhow::bail!("{complaint}");
    }
    Ok(())
}

async fn audit_repair_checkpoint(config: Option<PathBuf>, operator: &str) -> anyhow::Result<()> {
    let gate = audit_gate(config).await?;
    let outcome = gate
        .repair_audit_checkpoint(operator)
        .await
        .context("repairing the audit checkpoint")?;
    println!("{}", serde_json::to_string(&outcome)?);
    match outcome {
        okienko_store::RepairOutcome::Refused { reason } => {
            anyhow::bail!("repair refused, nothing written: {reason}")
        }
        okienko_store::RepairOutcome::NotNeeded { .. } => {
            eprintln!("the checkpoint verifies and matches the chain: nothing to repair");
            Ok(())
        }
        okienko_store::RepairOutcome::Repaired { repair_seq, .. } => {
            eprintln!("the chain verified; repair recorded as audit row {repair_seq}");
            Ok(())
        }
    }
}
