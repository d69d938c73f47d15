//! `okienko bench chat`: web chat messages per second, latency percentiles and peak memory for
//! many concurrent WebSocket sessions asking balance (and some transactions) questions, beside a
//! minimal axum WebSocket echo server driven by the same client code in the same run.
//!
//! Everything measured runs as its own process, started from this same binary, so each one's
//! peak memory is its own (`VmHWM` in `/proc/PID/status`): a sandbox bank (`sandbox-bank`), one
//! or three gateways (`serve`, SQLite in a temporary directory, or one PostgreSQL schema shared
//! by three), and the echo server (`bench chat-echo`). This process is only the load generator.
//!
//! Set-up is not timed: every session says hello, links a sandbox customer's bank through the
//! real consent page (as a browser would), and waits for its account list. Then, for the given
//! seconds, every session asks a question, waits for the answer, and asks again; the latency of
//! a message is send → answer shown. The per-session rate limit of the web chat is raised for
//! the gateways of the run through its configuration (it exists to stop one browser, not to
//! shape a benchmark); nothing else about them differs from `okienko serve`.
//!
//! With three instances each session opens on one of them (round robin) and stays on its
//! socket; the sessions and their replies are in the shared PostgreSQL store (the default there,
//! `chat.shared_sessions`), as in a deployment behind a load balancer. The output says so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for a child process to say where it listens.
const START_WAIT: Duration = Duration::from_secs(120);
/// Longest wait for the answer to one message before it counts as an error.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// Longest wait for a bank link (consent page, callback, first sync of two years).
const LINK_WAIT: Duration = Duration::from_secs(120);
/// Links set up at once.
const LINK_CONCURRENCY: usize = 16;
/// Idle sessions opened at once in `--open-sessions` mode.
const OPEN_CONCURRENCY: usize = 256;
/// Customers in the sandbox bank; sessions beyond it share logins (each still links its own
/// consent under its own gateway customer).
const MAX_BANK_CUSTOMERS: usize = 200;
const SEED: u64 = 7;
/// Untimed questions before the measurement (see [`load`]).
const WARM_UP: Duration = Duration::from_secs(5);

const BALANCE: &str = r#"{"type":"message","text":"ile mam na koncie?"}"#;
const TRANSACTIONS: &str = r#"{"type":"message","text":"pokaż moje ostatnie transakcje"}"#;
const HELLO: &str = r#"{"type":"hello","session":null,"lang":"pl"}"#;

/// What to run.
#[derive(Debug, Clone)]
pub struct ChatBench {
    /// Concurrent sessions.
    pub sessions: usize,
    /// Timed seconds of questions.
    pub seconds: u64,
    /// Gateway processes: 1 (SQLite) or 3 (one PostgreSQL schema).
    pub instances: usize,
    /// PostgreSQL server for three instances.
    pub postgres: String,
    /// Every n-th question is a transactions question (0: balance only).
    pub transactions_every: usize,
    /// Instead of questions: open this many idle sessions and report memory.
    pub open_sessions: Option<usize>,
    /// Instead of `seconds`: run the questions this many minutes, sampling memory every 10 s.
    pub soak_minutes: Option<u64>,
    /// The gateways' `chat.refresh_after_secs`: how old a customer's data may be before a
    /// question asks the bank again (0: every question asks the bank).
    pub refresh_after_secs: u64,
}

impl Default for ChatBench {
    fn default() -> Self {
        ChatBench {
            sessions: 100,
            seconds: 10,
            instances: 1,
            postgres: "postgres://127.0.0.1:5432/test".into(),
            transactions_every: 10,
            open_sessions: None,
            soak_minutes: None,
            refresh_after_secs: 30,
        }
    }
}

/// Runs the benchmark and prints one JSON object on stdout; progress goes to stderr.
pub async fn run(opts: ChatBench) -> anyhow::Result<()> {
    let out = measure(opts).await?;
    println!("{out}");
    Ok(())
}

/// The benchmark's figures (what [`run`] prints).
pub async fn measure(opts: ChatBench) -> anyhow::Result<Value> {
    anyhow::ensure!(
        (1..=20_000).contains(&opts.sessions),
        "--sessions must be 1..=20000"
    );
    anyhow::ensure!(
        (1..=3600).contains(&opts.seconds),
        "--seconds must be 1..=3600"
    );
    anyhow::ensure!(
        opts.instances == 1 || opts.instances == 3,
        "--instances must be 1 or 3"
    );
    if let Some(m) = opts.open_sessions {
        anyhow::ensure!(
            (1..=100_000).contains(&m),
            "--open-sessions must be 1..=100000"
        );
    }
    anyhow::ensure!(
        opts.refresh_after_secs <= 3600,
        "--refresh-after-secs must be at most 3600"
    );
    if let Some(m) = opts.soak_minutes {
        anyhow::ensure!(
            (1..=24 * 60).contains(&m),
            "--soak-minutes must be 1..=1440"
        );
    }
    check_fd_limit(opts.open_sessions.unwrap_or(opts.sessions));
    let dir = std::env::temp_dir().join(format!("okienko-bench-chat-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let result = in_dir(&dir, &opts).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn in_dir(dir: &Path, opts: &ChatBench) -> anyhow::Result<Value> {
    let exe = std::env::current_exe().context("finding the okienko binary")?;
    if let Some(m) = opts.open_sessions {
        return open_sessions(&exe, dir, m).await;
    }
    let today = chrono::Utc::now().date_naive();
    let bank_customers = opts.sessions.clamp(2, MAX_BANK_CUSTOMERS);
    eprintln!("bench chat: sandbox bank with {bank_customers} customers");
    let bank = Child::spawn(
        &exe,
        &[
            "sandbox-bank",
            "--port",
            "0",
            "--customers",
            &bank_customers.to_string(),
            "--seed",
            &SEED.to_string(),
            "--today",
            &today.to_string(),
        ],
        &[],
        &dir.join("bank.log"),
        "listening on",
    )
    .await?;
    // The same generator, in this process, names the bank's logins.
    let logins = okienko_sandbox_bank::SandboxBank::new(okienko_sandbox_bank::SandboxConfig {
        customers: bank_customers,
        seed: SEED,
        today,
        control_api: false,
    })
    .demo_logins();

    let (gateways, note) = start_gateways(&exe, dir, &bank.url, opts).await?;
    let result = drive_gateways(&gateways, &logins, opts).await;
    let bank_rss = bank.peak_rss_mb();
    drop(gateways);
    drop(bank);
    let (mut gw, soak) = result?;

    eprintln!("bench chat: echo baseline");
    let echo = Child::spawn(
        &exe,
        &["bench", "chat-echo", "--port", "0"],
        &[],
        &dir.join("echo.log"),
        "listening on",
    )
    .await?;
    let mut base = drive_echo(&echo, opts).await?;
    let ratio = if base.per_second > 0.0 {
        gw.per_second / base.per_second
    } else {
        0.0
    };
    let mut out = gw.json();
    let o = out
        .as_object_mut()
        .context("the figures are not an object")?;
    o.insert("sessions".into(), json!(opts.sessions));
    o.insert("instances".into(), json!(opts.instances));
    o.insert("transactions_every".into(), json!(opts.transactions_every));
    o.insert("refresh_after_secs".into(), json!(opts.refresh_after_secs));
    o.insert("bank_peak_rss_mb".into(), json!(bank_rss));
    o.insert("baseline".into(), base.json());
    o.insert("ratio_to_baseline".into(), json!(significant4(ratio)));
    if let Some(n) = note {
        o.insert("note".into(), json!(n));
    }
    if let Some(s) = soak {
        o.insert("soak".into(), s);
    }
    Ok(out)
}

/// Starts the gateways; returns them and a note about how sessions are spread.
async fn start_gateways(
    exe: &Path,
    dir: &Path,
    bank_url: &str,
    opts: &ChatBench,
) -> anyhow::Result<(Vec<Child>, Option<String>)> {
    let mut common: Vec<(String, String)> = vec![
        ("OKIENKO_LISTEN".into(), "127.0.0.1:0".into()),
        ("OKIENKO_BANK__BASE_URL".into(), bank_url.to_owned()),
        // Raised for the run only; production keeps the per-session default.
        ("OKIENKO_CHAT__RATE_PER_SECOND".into(), "1000000".into()),
        ("OKIENKO_CHAT__RATE_BURST".into(), "1000000".into()),
        // No unattended background sync in the middle of the measurement.
        ("OKIENKO_SYNC_INTERVAL_SECS".into(), "86400".into()),
        ("OKIENKO_LOG".into(), "warn".into()),
        (
            "OKIENKO_CHAT__REFRESH_AFTER_SECS".into(),
            opts.refresh_after_secs.to_string(),
        ),
    ];
    let mut note = None;
    if opts.instances > 1 {
        let key_file = dir.join("master.key");
        let keyring = okienko_store::Keyring::from_file_or_create(&key_file)
            .context("creating the shared master key")?;
        let schema = format!("bench_chat_{}", uuid::Uuid::new_v4().simple());
        // Creates the schema and runs the migrations once, before the instances start.
        okienko_store::Store::connect_isolated(&opts.postgres, &schema, keyring)
            .await
            .with_context(|| format!("PostgreSQL at {}", opts.postgres))?;
        let sep = if opts.postgres.contains('?') {
            '&'
        } else {
            '?'
        };
        common.push((
            "OKIENKO_STORE_URL".into(),
            format!("{}{sep}options[search_path]={schema}", opts.postgres),
        ));
        common.push((
            "OKIENKO_MASTER_KEY_FILE".into(),
            key_file.display().to_string(),
        ));
        note = Some(format!(
            "{} gateway instances on one PostgreSQL schema ({schema}, left in place); web chat \
             sessions and their replies are kept in that store, and each session stays on the \
             instance it opened on (round robin)",
            opts.instances
        ));
    }
    let mut gateways = Vec::with_capacity(opts.instances);
    for i in 0..opts.instances {
        let mut envs = common.clone();
        envs.push((
            "OKIENKO_DATA_DIR".into(),
            dir.join(format!("gateway{i}")).display().to_string(),
        ));
        eprintln!("bench chat: gateway {}", i + 1);
        gateways.push(
            Child::spawn(
                exe,
                &["serve"],
                &envs,
                &dir.join(format!("gateway{i}.log")),
                "listening on",
            )
            .await?,
        );
    }
    Ok((gateways, note))
}

/// What one target did: figures, plus the raw latencies until they are summarised.
struct Figures {
    messages: usize,
    errors: usize,
    seconds: f64,
    per_second: f64,
    latencies: Vec<Duration>,
    peak_rss_mb: f64,
    per_instance_rss_mb: Vec<f64>,
    balance: Vec<Duration>,
    transactions: Vec<Duration>,
    /// CPU time the server processes used while the clock ran (user + system).
    cpu_seconds: f64,
}

impl Figures {
    fn json(&mut self) -> Value {
        let mut v = json!({
            "messages": self.messages,
            "errors": self.errors,
            "seconds": round3(self.seconds),
            "messages_per_second": round1(self.per_second),
            "p50_ms": pct(&mut self.latencies, 0.50),
            "p99_ms": pct(&mut self.latencies, 0.99),
            "peak_rss_mb": self.peak_rss_mb,
            "server_cpu_seconds": round3(self.cpu_seconds),
            "server_cpu_us_per_message": round1(
                self.cpu_seconds * 1e6 / (self.messages.max(1) as f64)
            ),
        });
        if self.per_instance_rss_mb.len() > 1 {
            v["peak_rss_mb_per_instance"] = json!(self.per_instance_rss_mb);
        }
        if !self.transactions.is_empty() {
            v["balance_p50_ms"] = json!(pct(&mut self.balance, 0.50));
            v["balance_p99_ms"] = json!(pct(&mut self.balance, 0.99));
            v["transactions_p50_ms"] = json!(pct(&mut self.transactions, 0.50));
            v["transactions_p99_ms"] = json!(pct(&mut self.transactions, 0.99));
        }
        v
    }
}

/// Which answer ends a question.
#[derive(Clone, Copy)]
enum Target {
    /// The gateway: a reply with this part kind (typing notices are skipped).
    Gateway,
    /// The echo server: the frame itself.
    Echo,
}

impl Target {
    fn answer_marker(self, question: &str) -> &'static str {
        match (self, question == TRANSACTIONS) {
            (Target::Echo, _) => r#""type":"message""#,
            (Target::Gateway, false) => r#""kind":"balance_card""#,
            (Target::Gateway, true) => r#""kind":"transactions_table""#,
        }
    }
}

async fn drive_gateways(
    gateways: &[Child],
    logins: &[okienko_sandbox_bank::DemoLogin],
    opts: &ChatBench,
) -> anyhow::Result<(Figures, Option<Value>)> {
    eprintln!(
        "bench chat: {} sessions link their banks ({} at a time)",
        opts.sessions, LINK_CONCURRENCY
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?;
    let started = Instant::now();
    let mut clients = Vec::with_capacity(opts.sessions);
    let mut pending = futures::stream::iter((0..opts.sessions).map(|i| {
        let gw = &gateways[i % gateways.len()];
        let login = &logins[i % logins.len()];
        let http = http.clone();
        async move {
            let mut c = Client::connect(&gw.url).await?;
            tokio::time::timeout(
                LINK_WAIT,
                c.link(&http, &gw.url, &login.psu_id, &login.password),
            )
            .await
            .context("linking a bank took over two minutes")??;
            anyhow::Ok(c)
        }
    }))
    .buffer_unordered(LINK_CONCURRENCY);
    while let Some(c) = pending.next().await {
        clients.push(c?);
    }
    drop(pending);
    eprintln!(
        "bench chat: {} sessions linked in {:.1} s",
        clients.len(),
        started.elapsed().as_secs_f64()
    );
    let duration = match opts.soak_minutes {
        Some(m) => Duration::from_secs(m * 60),
        None => Duration::from_secs(opts.seconds),
    };
    let pids: Vec<u32> = gateways.iter().map(|g| g.pid).collect();
    let sampler = opts
        .soak_minutes
        .map(|_| tokio::spawn(sample_rss(pids.clone(), duration)));
    let mut figures = load(
        clients,
        Target::Gateway,
        duration,
        opts.transactions_every,
        &pids,
    )
    .await?;
    let per_instance: Vec<f64> = gateways.iter().map(|g| g.peak_rss_mb()).collect();
    figures.peak_rss_mb = round1(per_instance.iter().sum());
    figures.per_instance_rss_mb = per_instance;
    let soak = match sampler {
        Some(s) => {
            let series = s.await?;
            let first = series.first().copied().unwrap_or(0.0);
            let last = series.last().copied().unwrap_or(0.0);
            Some(json!({
                "minutes": opts.soak_minutes,
                "rss_mb_every_10s": series,
                "rss_growth_mb": round1(last - first),
                "errors": figures.errors,
            }))
        }
        None => None,
    };
    Ok((figures, soak))
}

async fn drive_echo(echo: &Child, opts: &ChatBench) -> anyhow::Result<Figures> {
    let mut clients = Vec::with_capacity(opts.sessions);
    let mut pending = futures::stream::iter((0..opts.sessions).map(|_| Client::connect(&echo.url)))
        .buffer_unordered(OPEN_CONCURRENCY);
    while let Some(c) = pending.next().await {
        clients.push(c?);
    }
    drop(pending);
    let mut figures = load(
        clients,
        Target::Echo,
        Duration::from_secs(opts.seconds),
        opts.transactions_every,
        &[echo.pid],
    )
    .await?;
    figures.peak_rss_mb = echo.peak_rss_mb();
    Ok(figures)
}

/// Every client asks, waits for the answer, and asks again until `duration` is over. Each asks
/// untimed for [`WARM_UP`] first, so no session's first answers are counted and the gateway's
/// work after the links (first syncs announced, the fraud watcher reading each new history) is
/// over before the clock starts.
async fn load(
    clients: Vec<Client>,
    target: Target,
    duration: Duration,
    transactions_every: usize,
    servers: &[u32],
) -> anyhow::Result<Figures> {
    let n = clients.len();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n + 1));
    let mut tasks = Vec::with_capacity(n);
    for mut c in clients {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let mut errors = 0;
            let warm_until = Instant::now() + WARM_UP;
            while Instant::now() < warm_until {
                if let Err(e) = c.ask(BALANCE, target).await {
                    errors += e.count();
                    if e.fatal() {
                        break;
                    }
                }
            }
            barrier.wait().await;
            let deadline = Instant::now() + duration;
            let mut balance = Vec::new();
            let mut transactions = Vec::new();
            let mut k = 0usize;
            while Instant::now() < deadline {
                k += 1;
                let q = if transactions_every > 0 && k.is_multiple_of(transactions_every) {
                    TRANSACTIONS
                } else {
                    BALANCE
                };
                let t = Instant::now();
                match c.ask(q, target).await {
                    Ok(()) => {
                        if q == TRANSACTIONS {
                            transactions.push(t.elapsed());
                        } else {
                            balance.push(t.elapsed());
                        }
                    }
                    Err(e) => {
                        errors += e.count();
                        if e.fatal() {
                            break;
                        }
                    }
                }
            }
            c.close().await;
            (balance, transactions, errors)
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let cpu_before: f64 = servers.iter().map(|p| cpu_seconds(*p)).sum();
    let mut f = Figures {
        messages: 0,
        errors: 0,
        seconds: 0.0,
        per_second: 0.0,
        latencies: Vec::new(),
        peak_rss_mb: 0.0,
        per_instance_rss_mb: Vec::new(),
        balance: Vec::new(),
        transactions: Vec::new(),
        cpu_seconds: 0.0,
    };
    for t in tasks {
        let (b, tx, e) = t.await?;
        f.errors += e;
        f.balance.extend(b);
        f.transactions.extend(tx);
    }
    f.seconds = started.elapsed().as_secs_f64();
    f.cpu_seconds = servers.iter().map(|p| cpu_seconds(*p)).sum::<f64>() - cpu_before;
    f.latencies = f.balance.iter().chain(&f.transactions).copied().collect();
    f.messages = f.latencies.len();
    f.per_second = f.messages as f64 / f.seconds.max(1e-9);
    Ok(f)
}

/// `--open-sessions M`: idle sessions (hello, welcome, nothing more) and the memory they hold,
/// against one gateway and against the echo server.
async fn open_sessions(exe: &Path, dir: &Path, m: usize) -> anyhow::Result<Value> {
    let envs: Vec<(String, String)> = vec![
        ("OKIENKO_LISTEN".into(), "127.0.0.1:0".into()),
        // Nobody links a bank in this mode; the address is never called.
        ("OKIENKO_BANK__BASE_URL".into(), "http://127.0.0.1:9".into()),
        ("OKIENKO_SYNC_INTERVAL_SECS".into(), "86400".into()),
        ("OKIENKO_LOG".into(), "warn".into()),
        (
            "OKIENKO_DATA_DIR".into(),
            dir.join("gateway0").display().to_string(),
        ),
    ];
    let gw = Child::spawn(
        exe,
        &["serve"],
        &envs,
        &dir.join("gateway0.log"),
        "listening on",
    )
    .await?;
    eprintln!("bench chat: opening {m} idle sessions on the gateway");
    let gateway = hold_open(&gw, m).await?;
    drop(gw);
    let echo = Child::spawn(
        exe,
        &["bench", "chat-echo", "--port", "0"],
        &[],
        &dir.join("echo.log"),
        "listening on",
    )
    .await?;
    eprintln!("bench chat: opening {m} idle sessions on the echo server");
    let baseline = hold_open(&echo, m).await?;
    Ok(json!({
        "open_sessions": m,
        "rss_mb": gateway["rss_mb"],
        "peak_rss_mb": gateway["peak_rss_mb"],
        "rss_before_mb": gateway["rss_before_mb"],
        "kb_per_session": gateway["kb_per_session"],
        "open_seconds": gateway["open_seconds"],
        "errors": gateway["errors"],
        "baseline": baseline,
    }))
}

async fn hold_open(child: &Child, m: usize) -> anyhow::Result<Value> {
    let before = child.rss_mb("VmRSS:");
    let started = Instant::now();
    let mut clients = Vec::with_capacity(m);
    let mut errors = 0usize;
    let mut pending = futures::stream::iter((0..m).map(|_| Client::connect(&child.url)))
        .buffer_unordered(OPEN_CONCURRENCY);
    while let Some(c) = pending.next().await {
        match c {
            Ok(c) => clients.push(c),
            Err(_) => errors += 1,
        }
    }
    drop(pending);
    let open_seconds = started.elapsed().as_secs_f64();
    // Let anything started per session settle before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = child.rss_mb("VmRSS:");
    let peak = child.peak_rss_mb();
    let per_session_kb = if clients.is_empty() {
        0.0
    } else {
        (rss - before) * 1024.0 / clients.len() as f64
    };
    for mut c in clients {
        c.close().await;
    }
    Ok(json!({
        "open_sessions": m - errors,
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "rss_before_mb": before,
        "kb_per_session": round1(per_session_kb),
        "open_seconds": round3(open_seconds),
        "errors": errors,
    }))
}

/// The gateways' resident memory together, every 10 s for `duration`.
async fn sample_rss(pids: Vec<u32>, duration: Duration) -> Vec<f64> {
    let total = || {
        round1(
            pids.iter()
                .map(|p| proc_status_kb(*p, "VmRSS:").unwrap_or(0) as f64 / 1024.0)
                .sum(),
        )
    };
    let mut series = vec![total()];
    let end = Instant::now() + duration;
    while Instant::now() + Duration::from_secs(10) <= end {
        tokio::time::sleep(Duration::from_secs(10)).await;
        series.push(total());
    }
    series
}

/// Why a question failed; `count` errors, and whether the session can go on.
enum AskError {
    /// The server answered with an error frame, or with a reply that is not the answer.
    Answer(usize),
    /// No answer in time, or the socket failed: the session stops.
    Lost,
}

impl AskError {
    fn count(&self) -> usize {
        match self {
            AskError::Answer(n) => *n,
            AskError::Lost => 1,
        }
    }

    fn fatal(&self) -> bool {
        matches!(self, AskError::Lost)
    }
}

/// One WebSocket session, the same code against the gateway and the echo server.
struct Client {
    ws: Ws,
}

impl Client {
    async fn connect(base: &str) -> anyhow::Result<Client> {
        let url = format!("{}/ws", base.replace("http://", "ws://"));
        // Browsers send small frames at once (no Nagle delay); so does this client.
        let (mut ws, _) = tokio::time::timeout(
            ANSWER_WAIT,
            tokio_tungstenite::connect_async_with_config(url, None, true),
        )
        .await
        .context("connecting timed out")??;
        ws.send(Message::text(HELLO)).await?;
        // The gateway's welcome, or the echo of the hello.
        let first = tokio::time::timeout(ANSWER_WAIT, next_text(&mut ws))
            .await
            .context("no welcome in time")??;
        anyhow::ensure!(
            first.contains(r#""type":"welcome""#) || first.contains(r#""type":"hello""#),
            "the first frame is not a welcome"
        );
        Ok(Client { ws })
    }

    /// Sends `question` and reads frames until its answer.
    async fn ask(&mut self, question: &'static str, target: Target) -> Result<(), AskError> {
        let marker = target.answer_marker(question);
        if self.ws.send(Message::text(question)).await.is_err() {
            return Err(AskError::Lost);
        }
        let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
        let mut wrong = 0usize;
        loop {
            let frame = match tokio::time::timeout_at(deadline, next_text(&mut self.ws)).await {
                Ok(Ok(f)) => f,
                _ => return Err(AskError::Lost),
            };
            if frame.contains(marker) {
                return if wrong == 0 {
                    Ok(())
                } else {
                    Err(AskError::Answer(wrong))
                };
            }
            if frame.contains(r#""type":"typing""#) {
                continue;
            }
            // An error frame, or a reply that is not the answer (a "bank unreachable" note, a
            // "not linked"): counted, and the answer still awaited.
            wrong += 1;
            if frame.contains(r#""type":"error""#) {
                return Err(AskError::Answer(wrong));
            }
        }
    }

    /// Links the bank as a customer would: asks, opens the link, signs in and approves at the
    /// bank, follows the redirect back to the gateway, and waits for the account list.
    async fn link(
        &mut self,
        http: &reqwest::Client,
        gateway: &str,
        psu: &str,
        password: &str,
    ) -> anyhow::Result<()> {
        self.ws
            .send(Message::text(
                json!({"type": "message", "text": "połącz bank"}).to_string(),
            ))
            .await?;
        let url = loop {
            let f = next_text(&mut self.ws).await?;
            if f.contains(r#""kind":"link""#) {
                let v: Value = serde_json::from_str(&f).context("a frame that is not JSON")?;
                let parts = v["reply"]["parts"].as_array().cloned().unwrap_or_default();
                let url = parts
                    .iter()
                    .find(|p| p["kind"] == "link")
                    .and_then(|p| p["url"].as_str())
                    .context("a link part without a URL")?;
                break url.to_owned();
            }
            if f.contains(r#""type":"error""#) {
                bail!("the web chat refused to start a link");
            }
        };
        let callback =
            crate::sandbox_customer::decide_at_consent_page(http, &url, psu, password, "approve")
                .await?;
        anyhow::ensure!(
            callback.as_str().starts_with(gateway),
            "the bank redirected somewhere else than the gateway"
        );
        let page = http.get(callback).send().await?;
        anyhow::ensure!(
            page.status().is_success(),
            "the consent callback answered HTTP {}",
            page.status()
        );
        loop {
            let f = next_text(&mut self.ws).await?;
            if f.contains(r#""kind":"account_list""#) {
                return Ok(());
            }
            if f.contains(r#""type":"error""#) {
                bail!("the web chat sent an error while linking");
            }
        }
    }

    async fn close(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

async fn next_text(ws: &mut Ws) -> anyhow::Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | None => bail!("the socket closed"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// A child process of this binary, killed when dropped.
struct Child {
    child: tokio::process::Child,
    pid: u32,
    url: String,
}

impl Child {
    /// Starts `exe args` and waits until a stdout line has `marker` followed by a URL; stderr
    /// goes to `log` (shown in the error when the child does not start).
    async fn spawn(
        exe: &Path,
        args: &[&str],
        envs: &[(String, String)],
        log: &Path,
        marker: &str,
    ) -> anyhow::Result<Child> {
        let stderr =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting okienko {}", args.join(" ")))?;
        let pid = child.id().context("the child has no pid")?;
        let stdout = child.stdout.take().context("the child has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(START_WAIT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(pos) = line.find(marker) {
                    let url = line[pos + marker.len()..]
                        .split_whitespace()
                        .find(|w| w.starts_with("http://"))
                        .map(|u| u.trim_end_matches('/').to_owned());
                    return anyhow::Ok(url);
                }
            }
            anyhow::Ok(None)
        })
        .await;
        let url = match found {
            Ok(Ok(Some(url))) => url,
            _ => {
                let _ = child.kill().await;
                let log_text = std::fs::read_to_string(log).unwrap_or_default();
                let tail: String = log_text
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                bail!(
                    "okienko {} did not start; its log ends:\n{tail}",
                    args.join(" ")
                );
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Child { child, pid, url })
    }

    fn peak_rss_mb(&self) -> f64 {
        self.rss_mb("VmHWM:")
    }

    fn rss_mb(&self, key: &str) -> f64 {
        round1(proc_status_kb(self.pid, key).unwrap_or(0) as f64 / 1024.0)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// CPU time a process has used so far (user + system), from `/proc/PID/stat` (fields 14 and
/// 15, in clock ticks of 1/100 s: Linux's `USER_HZ` for `/proc`). 0 when it cannot be read.
/// Unlike messages per second, CPU per message hardly moves when something else runs on the
/// machine, so it compares two builds fairly.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// A `kB` figure from `/proc/PID/status` (`VmHWM:` is the peak resident set, `VmRSS:` the
/// current one).
fn proc_status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(PathBuf::from(format!("/proc/{pid}/status"))).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Thousands of sessions need thousands of sockets, here and in the gateway: says so up front
/// when the open-files limit is too low, rather than failing half-way.
fn check_fd_limit(sessions: usize) {
    let want = (sessions as u64).saturating_mul(2).saturating_add(1024);
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    let soft_hard = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|w| w.parse::<u64>().ok())
                .collect::<Vec<_>>()
        });
    if let Some([soft, ..]) = soft_hard.as_deref()
        && *soft < want
    {
        eprintln!(
            "bench chat: the open-files limit is {soft}; {want} may be needed (ulimit -n {want})"
        );
    }
}

/// The echo baseline: a minimal axum WebSocket server that sends every text frame back.
pub async fn echo_server(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    use axum::extract::ws::{Message as AxMessage, WebSocket, WebSocketUpgrade};
    use axum::serve::ListenerExt;

    async fn echo(mut socket: WebSocket) {
        while let Some(Ok(msg)) = socket.recv().await {
            let back = match msg {
                AxMessage::Text(t) => AxMessage::Text(t),
                AxMessage::Close(_) => break,
                _ => continue,
            };
            if socket.send(back).await.is_err() {
                break;
            }
        }
    }
    let app = axum::Router::new().route(
        "/ws",
        axum::routing::get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }),
    );
    // The same TCP_NODELAY as the gateway (okienko_server::serve).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

/// Four significant digits: a ratio far below one still shows.
fn significant4(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let scale = 10f64.powi(3 - x.log10().floor() as i32);
    (x * scale).round() / scale
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The `p` quantile in milliseconds (nearest rank).
fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let idx = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    round3(v[idx].as_secs_f64() * 1000.0)
}
