//! Test support: real `okienko` processes on random ports, a WebSocket chat client, and a
//! "customer" who approves consents on the bank's HTML page over plain HTTP.
#![allow(dead_code)]

// One Chromium harness for the whole workspace: the web chat's own tests keep it.
#[path = "../../../channels/tests/support/browser.rs"]
pub mod browser;
pub mod cluster;
pub mod console;
pub mod messenger;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub const BIN: &str = env!("CARGO_BIN_EXE_okienko");

/// A child process killed on drop, with its stderr kept in a file for log scans.
pub struct Proc {
    child: Child,
    pub url: String,
    pub stderr: PathBuf,
    pub stdout_lines: Vec<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// Starts `okienko ARGS` and waits until a stdout line contains `marker` followed by a URL.
pub fn spawn(args: &[&str], envs: &[(&str, String)], dir: &Path, marker: &str) -> Proc {
    let stderr = dir.join(format!("{}-{}.log", args[0], uuid_like()));
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
        .env("OKIENKO_LOG", "info");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut proc = Proc {
        child: cmd.spawn().unwrap(),
        url: String::new(),
        stderr: stderr.clone(),
        stdout_lines: Vec::new(),
    };
    let stdout = proc.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "okienko {args:?} did not print {marker:?}; stdout {lines:?}; stderr:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        });
        lines.push(line.clone());
        if let Some(pos) = line.find(marker) {
            let rest = &line[pos + marker.len()..];
            let url = rest
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .unwrap()
                .trim_end_matches('/')
                .to_owned();
            // Keep draining so the child never blocks on a full pipe.
            std::thread::spawn(move || while rx.recv().is_ok() {});
            proc.url = url;
            proc.stdout_lines = lines;
            return proc;
        }
    }
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

pub fn spawn_bank(dir: &Path, port: u16) -> Proc {
    spawn(
        &[
            "sandbox-bank",
            "--port",
            &port.to_string(),
            "--customers",
            "5",
        ],
        &[],
        dir,
        "listening on",
    )
}

pub fn spawn_gateway(dir: &Path, bank_url: &str, store_url: Option<&str>) -> Proc {
    let mut envs = vec![
        ("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()),
        ("OKIENKO_DATA_DIR", dir.join("data").display().to_string()),
        ("OKIENKO_BANK__BASE_URL", bank_url.to_owned()),
        ("OKIENKO_BANK__RETRY_AFTER_SECS", "1".to_owned()),
        ("OKIENKO_BANK__TIMEOUT_SECS", "3".to_owned()),
    ];
    if let Some(u) = store_url {
        envs.push(("OKIENKO_STORE_URL", u.to_owned()));
    }
    spawn(&["serve"], &envs, dir, "listening on")
}

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The bank's own view of a customer (test control API).
pub async fn bank_truth(bank: &str, psu: &str) -> Value {
    http()
        .get(format!("{bank}/sandbox/customers/{psu}"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A customer in the web chat, over a real WebSocket.
pub struct Chat {
    ws: Ws,
    pub session: String,
    pub customer: String,
    /// Every reply received so far, in order.
    pub replies: Vec<Value>,
    /// The highest reply `seq` received (what a resuming `hello` sends as `last_seen`).
    pub last_seq: Option<u64>,
}

impl Chat {
    pub async fn connect(gateway: &str, lang: &str) -> Chat {
        let url = format!("{}/ws", gateway.replace("http://", "ws://"));
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws.send(Message::text(
            json!({"type": "hello", "session": null, "lang": lang}).to_string(),
        ))
        .await
        .unwrap();
        let mut chat = Chat {
            ws,
            session: String::new(),
            customer: String::new(),
            replies: Vec::new(),
            last_seq: None,
        };
        let welcome = chat.frame(Duration::from_secs(10)).await.unwrap();
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        chat.session = welcome["session"].as_str().unwrap().to_owned();
        chat.customer = welcome["customer"].as_str().unwrap().to_owned();
        chat
    }

    async fn frame(&mut self, wait: Duration) -> Option<Value> {
        // One deadline for the whole wait: the server's pings must not restart it.
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??
                .ok()?;
            if let Message::Text(t) = msg {
                let frame: Option<Value> = serde_json::from_str(t.as_str()).ok();
                if let Some(seq) = frame.as_ref().and_then(|f| f["seq"].as_u64()) {
                    self.last_seq = self.last_seq.max(Some(seq));
                }
                return frame;
            }
        }
    }

    pub async fn say(&mut self, text: &str) {
        self.ws
            .send(Message::text(
                json!({"type": "message", "text": text}).to_string(),
            ))
            .await
            .unwrap();
    }

    /// Waits for the next frame of type `ty` (skipping others, replies recorded); `None` when
    /// none came within `wait`.
    pub async fn frame_of_type(&mut self, ty: &str, wait: Duration) -> Option<Value> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.frame(left).await?;
            if frame["type"] == "reply" {
                self.replies.push(frame["reply"].clone());
            }
            if frame["type"] == ty {
                return Some(frame);
            }
        }
    }

    /// Tells the web chat the customer is typing.
    pub async fn typing(&mut self) {
        self.ws
            .send(Message::text(json!({"type": "typing"}).to_string()))
            .await
            .unwrap();
    }

    pub async fn press(&mut self, payload: &str) {
        self.ws
            .send(Message::text(
                json!({"type": "quick_reply", "payload": payload}).to_string(),
            ))
            .await
            .unwrap();
    }

    /// Waits for a reply that has a part of `kind` (or any reply when `kind` is "any")
    /// whose text form contains `contains`; panics with everything seen after `wait`.
    pub async fn expect(&mut self, kind: &str, contains: &str, wait: Duration) -> Value {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(frame) = self.frame(left).await else {
                let before = self.replies.iter().rev().nth(seen.len());
                panic!(
                    "no reply with {kind:?} containing {contains:?} within {wait:?}; got \
                     {seen:#?}; the last reply before this wait: {before:#?}"
                );
            };
            if frame["type"] != "reply" {
                continue;
            }
            let reply = frame["reply"].clone();
            self.replies.push(reply.clone());
            let text = reply.to_string();
            let kind_ok = kind == "any"
                || reply["parts"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["kind"] == kind));
            if kind_ok && text.contains(contains) {
                return reply;
            }
            seen.push(reply);
        }
    }

    pub async fn ask(&mut self, text: &str, kind: &str) -> Value {
        self.say(text).await;
        self.expect(kind, "", Duration::from_secs(60)).await
    }
}

pub fn part<'a>(reply: &'a Value, kind: &str) -> &'a Value {
    reply["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {reply}"))
}

/// Plays the customer at the bank's consent page: signs in and approves (or rejects).
/// Returns the gateway callback URL the bank redirected to.
pub async fn approve_at_bank(
    authorize_url: &str,
    psu: &str,
    password: &str,
    decision: &str,
) -> String {
    okienko::sandbox_customer::decide_at_consent_page(
        &http(),
        authorize_url,
        psu,
        password,
        decision,
    )
    .await
    .unwrap()
    .to_string()
}

/// Scans a file's raw bytes for a needle.
pub fn file_contains(path: &Path, needle: &str) -> bool {
    match std::fs::read(path) {
        Ok(bytes) => bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
        Err(_) => false,
    }
}

const LINK_WAIT: Duration = Duration::from_secs(60);

/// Links the bank for the chat's customer: asks, follows the link, approves, returns the consent id.
pub async fn link(chat: &mut Chat, text: &str, psu: &str) -> String {
    chat.say(text).await;
    let reply = chat.expect("link", "", LINK_WAIT).await;
    let url = part(&reply, "link")["url"].as_str().unwrap().to_owned();
    let consent_id = url
        .split("AIS%3A")
        .nth(1)
        .or_else(|| url.split("AIS:").nth(1))
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let callback = approve_at_bank(&url, psu, "demo", "approve").await;
    let page = http().get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200, "callback page");
    let html = page.text().await.unwrap();
    assert!(html.contains("callback-title"));
    chat.expect("account_list", "", LINK_WAIT).await;
    consent_id
}

/// Where `figure` (an amount the test used, e.g. "1249" or "23.50") stands on its own in `log`,
/// the text around it; `None` when it does not. Inside a longer run of letters, digits or
/// hyphens it is part of an id (a UUID, a digest, an idempotency key) that happens to contain
/// those digits, not an amount.
#[allow(dead_code)]
pub fn amount_in_log(log: &str, figure: &str) -> Option<String> {
    let id_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    log.match_indices(figure).find_map(|(at, _)| {
        let before = log[..at].chars().next_back();
        let after = log[at + figure.len()..].chars().next();
        if before.is_some_and(id_char) || after.is_some_and(id_char) {
            return None;
        }
        let from = log[..at].char_indices().rev().nth(60).map_or(0, |(i, _)| i);
        let to = log[at..]
            .char_indices()
            .nth(60 + figure.len())
            .map_or(log.len(), |(i, _)| at + i);
        Some(log[from..to].to_owned())
    })
}

/// Asserts that none of `figures` stands on its own in `log` ([`amount_in_log`]).
#[allow(dead_code)]
pub fn assert_no_amounts(log: &str, figures: &[&str]) {
    for f in figures {
        if let Some(around) = amount_in_log(log, f) {
            panic!("amount {f:?} in logs: …{around}…");
        }
    }
}
