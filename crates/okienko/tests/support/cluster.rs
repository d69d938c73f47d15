//! Scale-out harness: several real `okienko serve` processes sharing one PostgreSQL schema and
//! one NATS JetStream stream, in front of one `okienko sandbox-bank` process, for the fault tests
//! in tests/scale_out.rs.
//!
//! What a test leaves behind is removed when it ends, passed or failed: the gateways are killed
//! first, then the JetStream stream is deleted and the PostgreSQL schema dropped (each on a thread
//! of its own with its own runtime, since `Drop` may run inside the test's runtime or while a
//! failed assertion unwinds), then the temporary directory goes.
//!
//! Also here: a private `nats-server` that a test may stop and start again on the same JetStream
//! store directory (the machine's own server at 127.0.0.1:4222 is shared with every other test
//! running, so it is never restarted from a test), a delaying HTTP proxy that holds the bank's
//! payment initiations in flight, and helpers to resume a web chat session on another instance,
//! to find and kill a schema's PostgreSQL connections, and to see who holds a leader lease.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Chat, Proc, spawn, spawn_bank};

/// The PostgreSQL server the tests use (the test script's variable, then the leader test's).
pub fn pg_url() -> String {
    std::env::var("OKIENKO_TEST_POSTGRES")
        .or_else(|_| std::env::var("OKIENKO_TEST_PG_URL"))
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".to_owned())
}

/// The machine's NATS server (JetStream on).
pub const SYSTEM_NATS: &str = "nats://127.0.0.1:4222";

/// The leases in crates/okienko/src/leader.rs.
pub const PAYMENTS_LEASE: &str = "payments-status";
pub const BANK_EVENTS_LEASE: &str = "bank-events";

fn short_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", std::process::id(), nanos & 0xff_ffff_ffff)
}

/// Runs `f` to completion on a fresh current-thread runtime on a thread of its own.
fn on_own_runtime<F, T>(f: impl FnOnce() -> F + Send + 'static) -> std::thread::Result<T>
where
    F: std::future::Future<Output = T>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the clean-up")
            .block_on(f())
    })
    .join()
}

/// A PostgreSQL schema of one test, migrated once before any gateway starts, dropped on drop.
pub struct PgSchema {
    pub url: String,
    pub name: String,
}

impl PgSchema {
    /// Creates `name` and runs the store's migrations in it with the keyring in `key_file`.
    pub async fn create(name: &str, key_file: &Path) -> PgSchema {
        let url = pg_url();
        let keyring = okienko_store::Keyring::from_file_or_create(key_file).unwrap();
        let store = okienko_store::Store::connect_isolated(&url, name, keyring)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url} is required: {e}"));
        store.close().await;
        PgSchema {
            url,
            name: name.to_owned(),
        }
    }

    /// A raw pool (one connection) for the test's own queries, outside the gateways.
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(okienko_store::pg_connect_options(&self.url).unwrap())
            .await
            .unwrap()
    }

    /// One number from a query (`{schema}` in `sql` is replaced by the quoted schema name).
    pub async fn count(&self, sql: &str) -> i64 {
        let pool = self.pool().await;
        let sql = sql.replace("{schema}", &format!("\"{}\"", self.name));
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }

    /// The backends holding `lease` in this schema (the advisory lock of
    /// crates/store/src/lease.rs, read back from `pg_locks`).
    pub async fn lease_holders(&self, lease: &str) -> Vec<i32> {
        let pool = self.pool().await;
        let pids: Vec<i32> = sqlx::query_scalar(LEASE_HOLDERS_SQL)
            .bind(&self.name)
            .bind(lease)
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        pids
    }

    /// Terminates every PostgreSQL connection of this test's gateways: the pools (named by
    /// `application_name`) and the leases' own lock connections in this schema. Returns how
    /// many backends were terminated.
    pub async fn terminate_connections(&self, application_name: &str) -> usize {
        let pool = self.pool().await;
        let mut pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND application_name = $1",
        )
        .bind(application_name)
        .fetch_all(&pool)
        .await
        .unwrap();
        for lease in [PAYMENTS_LEASE, BANK_EVENTS_LEASE] {
            let holders: Vec<i32> = sqlx::query_scalar(LEASE_HOLDERS_SQL)
                .bind(&self.name)
                .bind(lease)
                .fetch_all(&pool)
                .await
                .unwrap();
            pids.extend(holders);
        }
        let mut killed = 0;
        for pid in pids {
            let ok: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .fetch_one(&pool)
                .await
                .unwrap();
            killed += usize::from(ok);
        }
        pool.close().await;
        killed
    }
}

/// The advisory lock key of crates/store/src/lease.rs, split the way `pg_locks` shows a bigint
/// key (high half in `classid`, low half in `objid`, `objsubid` 1).
const LEASE_HOLDERS_SQL: &str = "\
    WITH k AS (SELECT hashtextextended('okienko-lease:' || $1 || ':' || $2, 0) AS key) \
    SELECT l.pid FROM pg_locks l, k \
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
      AND l.classid::bigint = ((k.key >> 32) & 4294967295) \
      AND l.objid::bigint = (k.key & 4294967295)";

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.name.clone());
        let dropped = on_own_runtime(move || async move {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(okienko_store::pg_connect_options(&url).expect("the test URL"))
                .await
                .expect("PostgreSQL to drop the test schema");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
            )))
            .execute(&pool)
            .await
            .expect("the test schema dropped");
            pool.close().await;
        });
        if dropped.is_err() && !std::thread::panicking() {
            panic!("the PostgreSQL test schema was not dropped");
        }
    }
}

/// A JetStream stream of one test, deleted on drop (best effort: a private server may be gone).
pub struct StreamGuard {
    pub url: String,
    pub name: String,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let _ = on_own_runtime(move || async move {
            let opts = okienko_bus::BusOptions {
                timeout: Duration::from_secs(3),
                ..okienko_bus::BusOptions::default()
            };
            if let Ok(bus) = okienko_bus::JetStreamBus::connect(&url, &name, opts).await {
                let _ = bus.delete_stream().await;
            }
        });
    }
}

/// A `nats-server` of the test's own (`/usr/sbin/nats-server` or `OKIENKO_NATS_SERVER`), started
/// the way the machine's server runs (`-a 127.0.0.1 -p PORT -js -sd DIR`) on a free port, so a
/// test can stop it and start it again on the same JetStream store directory.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    pub store_dir: PathBuf,
    log: PathBuf,
}

impl NatsServer {
    pub async fn start(dir: &Path) -> NatsServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store_dir = dir.join("nats-store");
        std::fs::create_dir_all(&store_dir).unwrap();
        let mut s = NatsServer {
            child: None,
            port,
            store_dir,
            log: dir.join("nats-server.log"),
        };
        s.run().await;
        s
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) {
        let bin = std::env::var("OKIENKO_NATS_SERVER")
            .unwrap_or_else(|_| "/usr/sbin/nats-server".to_owned());
        let child = Command::new(bin)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store_dir)
            .arg("-l")
            .arg(&self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is required for this test");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server the way an operator does (SIGTERM, then SIGKILL after 10 s) and waits
    /// for it to exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts it again on the same port and store directory.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        self.run().await;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How to start a cluster.
pub struct ClusterOptions {
    pub instances: usize,
    /// The NATS server (`SYSTEM_NATS`, or a private [`NatsServer`]'s URL).
    pub nats_url: String,
    /// Extra `OKIENKO_*` settings for every gateway.
    pub env: Vec<(String, String)>,
    /// The instance that talks to the bank through a [`DelayProxy`] (the others go straight).
    pub delay_proxy_for: Option<usize>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            instances: 3,
            nats_url: SYSTEM_NATS.to_owned(),
            env: Vec::new(),
            delay_proxy_for: None,
        }
    }
}

/// Gateways sharing one PostgreSQL schema, one master key and one JetStream stream, and the
/// sandbox bank. Fields drop in order: gateways, bank, stream, schema, directory.
pub struct Cluster {
    pub gateways: Vec<Proc>,
    pub proxy: Option<DelayProxy>,
    pub bank: Proc,
    pub stream: StreamGuard,
    pub schema: PgSchema,
    /// The `application_name` of every gateway's pool connections.
    pub app_name: String,
    envs: Vec<(String, String)>,
    proxied: Option<usize>,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts the bank, then gateway 0 and waits until it leads both leases (so a test knows
    /// who leads), then the others.
    pub async fn start(opts: ClusterOptions) -> Cluster {
        Self::start_in(tempfile::tempdir().unwrap(), opts).await
    }

    pub async fn start_in(dir: tempfile::TempDir, opts: ClusterOptions) -> Cluster {
        let id = short_id();
        let key_file = dir.path().join("master.key");
        let schema = PgSchema::create(&format!("scale_out_{id}"), &key_file).await;
        let stream = StreamGuard {
            url: opts.nats_url.clone(),
            name: format!("h7-{id}"),
        };
        let app_name = format!("okienko-scale-out-{id}");
        let bank = spawn_bank(dir.path(), 0);
        let sep = if schema.url.contains('?') { '&' } else { '?' };
        let store_url = format!(
            "{}{sep}options[search_path]={}&application_name={app_name}",
            schema.url, schema.name
        );
        let mut envs: Vec<(String, String)> = [
            ("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()),
            ("OKIENKO_STORE_URL", store_url),
            ("OKIENKO_MASTER_KEY_FILE", key_file.display().to_string()),
            ("OKIENKO_BANK__BASE_URL", bank.url.clone()),
            ("OKIENKO_BANK__RETRY_AFTER_SECS", "1".to_owned()),
            ("OKIENKO_BANK__TIMEOUT_SECS", "10".to_owned()),
            ("OKIENKO_PAYMENTS__POLL_SECS", "1".to_owned()),
            ("OKIENKO_GUARD__QUIET_HOURS", "00:00-00:00".to_owned()),
            ("OKIENKO_BUS__KIND", "nats".to_owned()),
            ("OKIENKO_BUS__URL", opts.nats_url.clone()),
            ("OKIENKO_BUS__STREAM", stream.name.clone()),
            ("OKIENKO_BUS__ACK_WAIT_SECS", "5".to_owned()),
            ("OKIENKO_BUS__TIMEOUT_SECS", "3".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        envs.extend(opts.env);
        let proxy = match opts.delay_proxy_for {
            Some(_) => Some(DelayProxy::start(&bank.url).await),
            None => None,
        };
        let mut cluster = Cluster {
            gateways: Vec::new(),
            proxy,
            bank,
            stream,
            schema,
            app_name,
            envs,
            proxied: opts.delay_proxy_for,
            dir,
        };
        for i in 0..opts.instances {
            let gw = cluster.spawn_gateway(i);
            cluster.gateways.push(gw);
            if i == 0 {
                for lease in [PAYMENTS_LEASE, BANK_EVENTS_LEASE] {
                    cluster
                        .wait_leader(lease, &[0], Duration::from_secs(30))
                        .await;
                }
            }
        }
        cluster
    }

    fn spawn_gateway(&self, i: usize) -> Proc {
        let mut envs: Vec<(&str, String)> = self
            .envs
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        envs.push((
            "OKIENKO_DATA_DIR",
            self.dir.path().join(format!("gw{i}")).display().to_string(),
        ));
        if let (Some(p), Some(proxy)) = (self.proxied, &self.proxy)
            && p == i
        {
            envs.push(("OKIENKO_BANK__BASE_URL", proxy.url.clone()));
        }
        spawn(&["serve"], &envs, self.dir.path(), "listening on")
    }

    pub fn url(&self, i: usize) -> &str {
        &self.gateways[i].url
    }

    pub fn bank_url(&self) -> &str {
        &self.bank.url
    }

    /// SIGKILL: no shutdown, no flush, no lease released by hand.
    pub fn kill(&mut self, i: usize) {
        self.gateways[i].kill();
    }

    /// How many times instance `i` took `lease` so far (its log's "runs the jobs" lines).
    pub fn terms(&self, i: usize, lease: &str) -> usize {
        self.gateways[i]
            .log()
            .lines()
            .filter(|l| l.contains("this instance runs the jobs") && l.contains(lease))
            .count()
    }

    /// Waits until one of `among` has taken `lease` (one more time than `before`, per instance,
    /// when given) and returns which.
    pub async fn wait_leader(&self, lease: &str, among: &[usize], wait: Duration) -> usize {
        self.wait_new_term(lease, among, &vec![0; self.gateways.len()], wait)
            .await
    }

    /// Waits until one of `among` logs a term of `lease` beyond `before[i]`; returns which.
    pub async fn wait_new_term(
        &self,
        lease: &str,
        among: &[usize],
        before: &[usize],
        wait: Duration,
    ) -> usize {
        let deadline = Instant::now() + wait;
        loop {
            for &i in among {
                if self.terms(i, lease) > before.get(i).copied().unwrap_or(0) {
                    return i;
                }
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = among
                    .iter()
                    .map(|&i| format!("--- gateway {i}:\n{}", tail(&self.gateways[i].log(), 40)))
                    .collect();
                panic!(
                    "no instance of {among:?} took the {lease} lease within {wait:?}\n{}",
                    logs.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn all_terms(&self, lease: &str) -> Vec<usize> {
        (0..self.gateways.len())
            .map(|i| self.terms(i, lease))
            .collect()
    }

    /// Runs `okienko audit verify` against the cluster's store; returns its JSON.
    pub fn audit_verify(&self) -> Value {
        let mut cmd = Command::new(super::BIN);
        cmd.args(["audit", "verify"]).current_dir(self.dir.path());
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.env("OKIENKO_DATA_DIR", self.dir.path().join("audit"));
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
            panic!(
                "audit verify printed {stdout:?}; stderr {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// Every gateway log, for failure messages.
    pub fn logs(&self) -> String {
        self.gateways
            .iter()
            .enumerate()
            .map(|(i, g)| format!("--- gateway {i}:\n{}", tail(&g.log(), 60)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Why a session could not be resumed on another instance.
#[derive(Debug)]
pub enum ResumeError {
    /// The WebSocket did not open (the instance is down).
    Connect(String),
    /// No welcome frame came.
    NoWelcome,
    /// The instance did not know the session: it opened a new one (a new customer).
    NotResumed(Value),
}

/// Opens the web chat on `gateway` and resumes the session `chat` is in, asking for the replies
/// after the last one `chat` saw. The returned client carries `chat`'s replies on.
pub async fn resume_on(gateway: &str, chat: &Chat, lang: &str) -> Result<Chat, ResumeError> {
    let url = format!("{}/ws", gateway.replace("http://", "ws://"));
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .map_err(|_| ResumeError::Connect("timed out".into()))?
    .map_err(|e| ResumeError::Connect(e.to_string()))?;
    let mut hello = json!({"type": "hello", "session": chat.session, "lang": lang});
    if let Some(seq) = chat.last_seq {
        hello["last_seen"] = json!(seq);
    }
    ws.send(Message::text(hello.to_string()))
        .await
        .map_err(|e| ResumeError::Connect(e.to_string()))?;
    let mut next = Chat {
        ws,
        session: chat.session.clone(),
        customer: chat.customer.clone(),
        replies: chat.replies.clone(),
        last_seq: chat.last_seq,
    };
    let welcome = next
        .frame(Duration::from_secs(10))
        .await
        .ok_or(ResumeError::NoWelcome)?;
    if welcome["type"] != "welcome"
        || welcome["resumed"] != true
        || welcome["customer"] != json!(chat.customer)
    {
        return Err(ResumeError::NotResumed(welcome));
    }
    Ok(next)
}

/// [`resume_on`], failing the test with a clear reason when the instance cannot resume.
pub async fn resume(gateway: &str, chat: &Chat, lang: &str) -> Chat {
    match resume_on(gateway, chat, lang).await {
        Ok(c) => c,
        Err(ResumeError::NotResumed(w)) => panic!(
            "the web chat session was not resumed on another instance (sessions are not shared \
             between gateways): welcome {w}"
        ),
        Err(e) => panic!("resuming the web chat session failed: {e:?}"),
    }
}

/// An HTTP proxy in front of the bank that holds payment initiations (`POST /v1/payments/…`)
/// for a while before passing them on. The bank call is forwarded on a task of its own, so a
/// held initiation still reaches the bank when the gateway that sent it has died meanwhile: the
/// bank makes the payment and the answer goes nowhere (the answer-lost case).
pub struct DelayProxy {
    pub url: String,
    delay: Arc<Mutex<Duration>>,
    /// Initiations that arrived (and are held or were passed on).
    pub arrived: Arc<AtomicUsize>,
    /// Initiations the bank answered.
    pub answered: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ProxyState {
    bank: String,
    client: reqwest::Client,
    delay: Arc<Mutex<Duration>>,
    arrived: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
}

impl DelayProxy {
    pub async fn start(bank: &str) -> DelayProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let st = ProxyState {
            bank: bank.trim_end_matches('/').to_owned(),
            client: super::http(),
            delay: Arc::new(Mutex::new(Duration::ZERO)),
            arrived: Arc::new(AtomicUsize::new(0)),
            answered: Arc::new(AtomicUsize::new(0)),
        };
        DelayProxy {
            url,
            delay: st.delay.clone(),
            arrived: st.arrived.clone(),
            answered: st.answered.clone(),
            task: tokio::spawn(async move {
                let app = axum::Router::new().fallback(forward).with_state(st);
                let _ = axum::serve(listener, app).await;
            }),
        }
    }

    /// From now on, hold each payment initiation this long.
    pub fn hold_initiations(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }

    /// Waits until `n` initiations have arrived in all.
    pub async fn wait_arrived(&self, n: usize, wait: Duration) {
        let deadline = Instant::now() + wait;
        while self.arrived.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "no payment initiation reached the proxy within {wait:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_answered(&self, n: usize, wait: Duration) {
        let deadline = Instant::now() + wait;
        while self.answered.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "the held initiation was not answered by the bank within {wait:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A payment initiation: `POST /v1/payments/{product}` (not its authorisations or status).
fn is_initiation(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::POST
        && path.starts_with("/v1/payments/")
        && path.trim_end_matches('/').matches('/').count() == 3
}

async fn forward(
    axum::extract::State(st): axum::extract::State<ProxyState>,
    req: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 << 20).await else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let held = is_initiation(&parts.method, parts.uri.path());
    let delay = if held {
        st.arrived.fetch_add(1, Ordering::SeqCst);
        *st.delay.lock().unwrap()
    } else {
        Duration::ZERO
    };
    let mut out = st
        .client
        .request(parts.method.clone(), format!("{}{path}", st.bank))
        .body(body);
    for (k, v) in &parts.headers {
        if !matches!(k.as_str(), "host" | "content-length" | "connection") {
            out = out.header(k, v);
        }
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let answered = st.answered.clone();
    // On its own task: the bank gets the call even if the gateway hung up meanwhile.
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let res = out.send().await;
        if held && res.is_ok() {
            answered.fetch_add(1, Ordering::SeqCst);
        }
        let res = match res {
            Ok(r) => {
                let status = r.status();
                let headers = r.headers().clone();
                r.bytes().await.map(|b| (status, headers, b))
            }
            Err(e) => Err(e),
        };
        let _ = tx.send(res);
    });
    match rx.await {
        Ok(Ok((status, headers, bytes))) => {
            let mut resp = axum::response::Response::new(axum::body::Body::from(bytes));
            *resp.status_mut() = status;
            for (k, v) in &headers {
                if !matches!(
                    k.as_str(),
                    "transfer-encoding" | "connection" | "content-length"
                ) {
                    resp.headers_mut().insert(k.clone(), v.clone());
                }
            }
            resp
        }
        _ => axum::http::StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// Buttons and texts of replies.
pub fn text_of(reply: &Value) -> String {
    reply["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

pub fn button(reply: &Value, prefix: &str) -> String {
    reply["quick_replies"]
        .as_array()
        .and_then(|q| {
            q.iter()
                .filter_map(|b| b["payload"].as_str())
                .find(|p| p.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no {prefix} button in {reply}"))
        .to_owned()
}

pub fn spaced(iban: &str) -> String {
    iban.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The sandbox bank's ledger (`/sandbox/ledger`).
pub async fn ledger(bank: &str) -> Value {
    super::http()
        .get(format!("{bank}/sandbox/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn payments_with_status(l: &Value, status: &str) -> usize {
    l["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["transactionStatus"] == status)
        .count()
}

/// A sandbox customer besides anna who banks in PLN (the bank refuses transfers between
/// currencies), and that customer's first IBAN.
pub async fn pln_payee(bank: &str) -> (String, String) {
    for i in 3..=5 {
        let psu = format!("cust{i:05}");
        let truth = super::bank_truth(bank, &psu).await;
        if truth["currency"] == "PLN" {
            let iban = truth["accounts"][0]["iban"].as_str().unwrap().to_owned();
            return (psu, iban);
        }
    }
    panic!("no PLN customer among the sandbox's first five");
}

/// Logs in to the sandbox bank's app as `psu` and approves every payment waiting there;
/// returns how many it approved.
pub async fn approve_in_bank_app(bank: &str, psu: &str) -> usize {
    let c = super::http();
    let page = c
        .post(format!("{bank}/app/login"))
        .form(&[("psu_id", psu), ("password", "demo")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"session\" value=\"";
    let s = page.find(marker).unwrap() + marker.len();
    let session = page[s..s + page[s..].find('"').unwrap()].to_owned();
    let marker = "name=\"payment_id\" value=\"";
    let mut ids: Vec<String> = page
        .match_indices(marker)
        .map(|(i, _)| {
            let s = i + marker.len();
            page[s..s + page[s..].find('"').unwrap()].to_owned()
        })
        .collect();
    ids.dedup();
    for id in &ids {
        let resp = c
            .post(format!("{bank}/app/decide"))
            .form(&[
                ("session", session.as_str()),
                ("payment_id", id.as_str()),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
    ids.len()
}

/// Approves in the bank's app as soon as a payment waits there; returns how many.
pub async fn wait_and_approve(bank: &str, psu: &str, wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    loop {
        let n = approve_in_bank_app(bank, psu).await;
        if n > 0 || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
