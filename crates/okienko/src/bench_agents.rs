//! `okienko bench agents`: messages relayed between customers and bank agents per second, with
//! latency percentiles, for many simultaneous conversations, beside the web chat's bot-only path
//! measured the same way in the same run.
//!
//! A real gateway runs in this process (SQLite store in a temporary directory, the same
//! `gateway::start` as `okienko serve`); everything else talks to it over real WebSockets on
//! loopback: one web chat socket per customer (`/ws`) and one agent console socket per agent
//! (`/agent/ws`, signed in through `/agent/login`).
//!
//! 1. Bot only: every customer sends `messages` messages ("pomoc") one after another, each time
//!    waiting for the bot's answer. Timed: send → answer shown.
//! 2. Handover: every customer asks for a person; the agents claim the conversations (round
//!    robin), then every customer sends `messages` messages, and the agent holding the
//!    conversation answers each one the moment it shows in the console. Timed per message:
//!    customer → console, console → customer, and the round trip.
//!
//! Each message carries its send time (nanoseconds since the run's epoch), so one clock measures
//! both directions. The per-session rate limit of the web chat is raised for the run (it exists
//! to stop one browser, not to shape a benchmark). Output: one JSON object on stdout.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use okienko_privacy::support::StaffRole;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::config::Config;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for any one frame before the run fails.
const FRAME_WAIT: Duration = Duration::from_secs(60);
/// While relaying, a customer message whose answer has not come back within this long counts as
/// lost (and the customer goes on with the next one).
const RELAY_WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "bench-password";

/// Runs the benchmark and prints one JSON object on stdout; progress goes to stderr.
pub async fn run(conversations: usize, messages: usize, agents: usize) -> anyhow::Result<()> {
    let out = measure(conversations, messages, agents).await?;
    println!("{out}");
    Ok(())
}

/// The benchmark's figures (what [`run`] prints).
pub async fn measure(
    conversations: usize,
    messages: usize,
    agents: usize,
) -> anyhow::Result<Value> {
    anyhow::ensure!(
        (1..=2000).contains(&conversations),
        "--conversations must be 1..=2000"
    );
    anyhow::ensure!(
        (1..=10_000).contains(&messages),
        "--messages must be 1..=10000"
    );
    anyhow::ensure!(
        (1..=conversations.min(200)).contains(&agents),
        "--agents must be 1..=min(conversations, 200)"
    );
    let dir = std::env::temp_dir().join(format!("okienko-bench-agents-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let result = in_dir(&dir, conversations, messages, agents).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn in_dir(
    dir: &std::path::Path,
    conversations: usize,
    messages: usize,
    agents: usize,
) -> anyhow::Result<Value> {
    let mut cfg = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.join("data"),
        ..Config::default()
    };
    // Nobody links a bank in this run; the address is never called.
    cfg.bank.base_url = "http://127.0.0.1:9".into();
    cfg.chat.chart_font = None;
    cfg.chat.rate_per_second = 1_000_000;
    cfg.chat.rate_burst = 1_000_000;
    // No escalations while the run sets up.
    cfg.agents.sla_secs = 24 * 3600;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = crate::gateway::start(&cfg, listener, stop_rx)
        .await
        .context("starting the gateway")?;
    let base = running.url.clone();
    let result = drive(
        &base,
        &running.handover,
        &cfg.bank.name,
        conversations,
        messages,
        agents,
    )
    .await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), running.task).await;
    result
}

async fn drive(
    base: &str,
    handover: &okienko_agents::Handover,
    bank: &str,
    conversations: usize,
    messages: usize,
    agents: usize,
) -> anyhow::Result<Value> {
    let epoch = Instant::now();
    eprintln!("bench agents: {agents} staff accounts, {conversations} web chat sessions");
    for i in 0..agents {
        handover
            .desk()
            .add_staff(
                bank,
                &format!("bench{i}"),
                &format!("Agent {i}"),
                StaffRole::Agent,
                "general",
                PASSWORD,
            )
            .await
            .map_err(|e| anyhow::anyhow!("adding a staff account: {e}"))?;
    }
    let mut customers = Vec::with_capacity(conversations);
    for _ in 0..conversations {
        customers.push(Customer::connect(base).await?);
    }

    // 1. The bot alone.
    eprintln!("bench agents: bot only, {messages} messages per conversation");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut c in customers {
        tasks.push(tokio::spawn(async move {
            let mut rtt = Vec::with_capacity(messages);
            for _ in 0..messages {
                let t = Instant::now();
                c.say("pomoc").await?;
                c.reply(|_| true).await?;
                rtt.push(t.elapsed());
            }
            anyhow::Ok((c, rtt))
        }));
    }
    let mut customers = Vec::new();
    let mut bot_rtt = Vec::new();
    for t in tasks {
        let (c, r) = t.await??;
        customers.push(c);
        bot_rtt.extend(r);
    }
    let bot_secs = started.elapsed().as_secs_f64();

    // 2. Everyone asks for a person.
    eprintln!("bench agents: {conversations} customers ask for a person");
    let mut tasks = Vec::new();
    for mut c in customers {
        tasks.push(tokio::spawn(async move {
            c.say("chcę rozmawiać z konsultantem").await?;
            c.reply(|r| r.to_string().contains("handover:back")).await?;
            anyhow::Ok(c)
        }));
    }
    let mut customers = Vec::new();
    for t in tasks {
        customers.push(t.await??);
    }

    // The agents sign in and claim round robin.
    let mut consoles = Vec::with_capacity(agents);
    for i in 0..agents {
        consoles.push(Console::connect(base, &format!("bench{i}")).await?);
    }
    let queue = consoles[0].state_queue().await?;
    anyhow::ensure!(
        queue.len() == conversations,
        "expected {conversations} queued conversations, found {}",
        queue.len()
    );
    // Conversation id for each customer, by the customer reference the console shows.
    let mut conv_of: Vec<Option<String>> = vec![None; conversations];
    for q in &queue {
        let (Some(id), Some(r)) = (q["id"].as_str(), q["customer_ref"].as_str()) else {
            bail!("a queue entry without id or customer reference");
        };
        let matching: Vec<usize> = customers
            .iter()
            .enumerate()
            .filter(|(_, c)| c.id.starts_with(r))
            .map(|(i, _)| i)
            .collect();
        match matching.as_slice() {
            [i] => conv_of[*i] = Some(id.to_owned()),
            _ => bail!("a customer reference matched {} customers", matching.len()),
        }
    }
    eprintln!("bench agents: {agents} agents claim {conversations} conversations");
    let mut tasks = Vec::new();
    for (j, mut console) in consoles.into_iter().enumerate() {
        let mine: Vec<String> = conv_of
            .iter()
            .enumerate()
            .filter(|(i, _)| i % agents == j)
            .filter_map(|(_, c)| c.clone())
            .collect();
        tasks.push(tokio::spawn(async move {
            for id in &mine {
                console.claim(id).await?;
            }
            anyhow::Ok((console, mine.len()))
        }));
    }
    let mut consoles = Vec::new();
    for t in tasks {
        consoles.push(t.await??);
    }
    // Each customer is told who joined.
    let mut tasks = Vec::new();
    for mut c in customers {
        tasks.push(tokio::spawn(async move {
            c.reply(|r| r.to_string().contains("Agent ")).await?;
            anyhow::Ok(c)
        }));
    }
    let mut customers = Vec::new();
    for t in tasks {
        customers.push(t.await??);
    }
    // Let the consoles' queue refreshes settle before timing.
    for (console, _) in consoles.iter_mut() {
        console.drain_quiet(Duration::from_millis(300)).await?;
    }

    // 3. Customer ↔ agent.
    eprintln!("bench agents: relaying {messages} messages each way per conversation");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let mut agent_tasks = Vec::new();
    for (mut console, _) in consoles {
        let stop = stop_rx.clone();
        agent_tasks.push(tokio::spawn(
            async move { console.answer(epoch, stop).await },
        ));
    }
    let mut tasks = Vec::new();
    for (i, mut c) in customers.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut rtt = Vec::with_capacity(messages);
            let mut back = Vec::with_capacity(messages);
            let mut lost = 0usize;
            for k in 0..messages {
                let t = Instant::now();
                let sent = epoch.elapsed().as_nanos();
                c.say(&format!("bench {i} {k} {sent}")).await?;
                let tag = format!("re {i} {k} ");
                let reply = match tokio::time::timeout(
                    RELAY_WAIT,
                    c.reply(|r| r.to_string().contains(&tag)),
                )
                .await
                {
                    Ok(r) => r?,
                    Err(_) => {
                        lost += 1;
                        continue;
                    }
                };
                let now = epoch.elapsed().as_nanos();
                rtt.push(t.elapsed());
                let text = reply.to_string();
                let agent_sent = text
                    .split(&tag)
                    .nth(1)
                    .and_then(|r| r.split(|ch: char| !ch.is_ascii_digit()).next())
                    .and_then(|n| n.parse::<u128>().ok())
                    .context("the agent's reply lost its time stamp")?;
                back.push(nanos(now.saturating_sub(agent_sent)));
            }
            anyhow::Ok((rtt, back, lost))
        }));
    }
    let mut rtt = Vec::new();
    let mut to_customer = Vec::new();
    let mut unanswered = 0usize;
    for t in tasks {
        let (r, b, l) = t.await??;
        rtt.extend(r);
        to_customer.extend(b);
        unanswered += l;
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let mut to_agent = Vec::new();
    let mut agent_replies = 0usize;
    let mut resyncs = 0usize;
    for t in agent_tasks {
        let a = t.await??;
        to_agent.extend(a.latencies);
        agent_replies += a.replies;
        resyncs += a.resyncs;
    }
    let sent_by_customers = conversations * messages;
    let relayed = to_agent.len() + to_customer.len();
    let bot_messages = bot_rtt.len() * 2;
    Ok(json!({
        "conversations": conversations,
        "messages_per_conversation": messages,
        "agents": agents,
        "relayed_messages": relayed,
        "seconds": round3(secs),
        "relayed_per_second": round1(relayed as f64 / secs),
        "customer_to_agent_p50_ms": pct(&mut to_agent, 0.50),
        "customer_to_agent_p99_ms": pct(&mut to_agent, 0.99),
        "agent_to_customer_p50_ms": pct(&mut to_customer, 0.50),
        "agent_to_customer_p99_ms": pct(&mut to_customer, 0.99),
        "round_trip_p50_ms": pct(&mut rtt, 0.50),
        "round_trip_p99_ms": pct(&mut rtt, 0.99),
        // Loss, counted rather than hidden: customer messages no console showed, agent replies
        // no customer saw, and consoles that fell behind the hub and had to reload.
        "lost_customer_to_agent": sent_by_customers.saturating_sub(to_agent.len()),
        "lost_agent_to_customer": agent_replies.saturating_sub(to_customer.len()),
        "unanswered_messages": unanswered,
        "console_resyncs": resyncs,
        "hub_overflows": handover.hub().overflows(),
        "baseline_bot_only": {
            "messages": bot_messages,
            "seconds": round3(bot_secs),
            "messages_per_second": round1(bot_messages as f64 / bot_secs),
            "round_trip_p50_ms": pct(&mut bot_rtt, 0.50),
            "round_trip_p99_ms": pct(&mut bot_rtt, 0.99),
        },
    }))
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
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

async fn next_json(ws: &mut Ws) -> anyhow::Result<Value> {
    loop {
        let msg = tokio::time::timeout(FRAME_WAIT, ws.next())
            .await
            .context("no frame within a minute")?
            .context("the socket closed")??;
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).context("a frame that is not JSON");
        }
    }
}

/// A customer in the web chat.
struct Customer {
    ws: Ws,
    id: String,
}

impl Customer {
    async fn connect(base: &str) -> anyhow::Result<Customer> {
        let url = format!("{}/ws", base.replace("http://", "ws://"));
        // Browsers send small frames at once (no Nagle delay); so does this client.
        let (mut ws, _) = tokio::time::timeout(
            FRAME_WAIT,
            tokio_tungstenite::connect_async_with_config(url, None, true),
        )
        .await
        .context("connecting to the web chat timed out")??;
        ws.send(Message::text(
            json!({"type": "hello", "session": null, "lang": "pl"}).to_string(),
        ))
        .await?;
        let welcome = next_json(&mut ws).await?;
        let id = welcome["customer"]
            .as_str()
            .context("no welcome from the web chat")?
            .to_owned();
        Ok(Customer { ws, id })
    }

    async fn say(&mut self, text: &str) -> anyhow::Result<()> {
        self.ws
            .send(Message::text(
                json!({"type": "message", "text": text}).to_string(),
            ))
            .await?;
        Ok(())
    }

    /// The next reply that `pred` accepts (typing notices and other replies are skipped).
    async fn reply(&mut self, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        loop {
            let f = next_json(&mut self.ws).await?;
            match f["type"].as_str() {
                Some("reply") if pred(&f["reply"]) => return Ok(f["reply"].clone()),
                Some("error") => bail!("the web chat refused a frame: {}", f["code"]),
                _ => {}
            }
        }
    }
}

/// What one agent did while relaying.
#[derive(Default)]
struct Answered {
    latencies: Vec<Duration>,
    replies: usize,
    resyncs: usize,
}

/// An agent in the console.
struct Console {
    ws: Ws,
}

impl Console {
    async fn connect(base: &str, username: &str) -> anyhow::Result<Console> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let r = http
            .post(format!("{base}/agent/login"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "sign-in refused: {}", r.status());
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("no session cookie")?
            .to_owned();
        let mut req =
            format!("{}/agent/ws", base.replace("http://", "ws://")).into_client_request()?;
        req.headers_mut().insert("cookie", cookie.parse()?);
        let (ws, _) = tokio::time::timeout(
            FRAME_WAIT,
            tokio_tungstenite::connect_async_with_config(req, None, true),
        )
        .await
        .context("connecting to the console timed out")??;
        Ok(Console { ws })
    }

    async fn frame(&mut self, want: &str) -> anyhow::Result<Value> {
        loop {
            let f = next_json(&mut self.ws).await?;
            if f["type"] == want {
                return Ok(f);
            }
            if f["type"] == "error" {
                bail!("the console refused: {}", f["code"]);
            }
        }
    }

    async fn state_queue(&mut self) -> anyhow::Result<Vec<Value>> {
        let state = self.frame("state").await?;
        Ok(state["queue"].as_array().cloned().unwrap_or_default())
    }

    async fn claim(&mut self, id: &str) -> anyhow::Result<()> {
        self.ws
            .send(Message::text(
                json!({"type": "claim", "conversation": id}).to_string(),
            ))
            .await?;
        self.frame("opened").await?;
        Ok(())
    }

    /// Reads until nothing came for `quiet`.
    async fn drain_quiet(&mut self, quiet: Duration) -> anyhow::Result<()> {
        while let Ok(m) = tokio::time::timeout(quiet, self.ws.next()).await {
            match m {
                Some(Ok(_)) => {}
                _ => bail!("the console socket closed"),
            }
        }
        Ok(())
    }

    /// Answers every customer line the moment it shows, until `stop`; returns each line's
    /// customer → console time, how many replies it sent and how often it had to reload.
    async fn answer(
        &mut self,
        epoch: Instant,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<Answered> {
        let mut out = Answered::default();
        loop {
            let f = tokio::select! {
                f = self.ws.next() => match f {
                    Some(Ok(Message::Text(t))) => {
                        serde_json::from_str::<Value>(t.as_str()).context("a frame that is not JSON")?
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                    None => bail!("the console socket closed"),
                },
                _ = stop.changed() => return Ok(out),
            };
            if f["type"] == "error" {
                bail!("the console refused: {}", f["code"]);
            }
            if f["type"] == "resync" {
                out.resyncs += 1;
                continue;
            }
            if f["type"] != "line" || f["line"]["sender"]["kind"] != "customer" {
                continue;
            }
            let now = epoch.elapsed().as_nanos();
            let text = f["line"]["text"].as_str().unwrap_or_default();
            let mut words = text.split(' ').skip(1);
            let (Some(i), Some(k), Some(sent)) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            let sent: u128 = sent
                .parse()
                .context("a customer line without a time stamp")?;
            out.latencies.push(nanos(now.saturating_sub(sent)));
            let conversation = f["conversation"].as_str().unwrap_or_default();
            let reply_at = epoch.elapsed().as_nanos();
            self.ws
                .send(Message::text(
                    json!({
                        "type": "reply",
                        "conversation": conversation,
                        "text": format!("re {i} {k} {reply_at}"),
                    })
                    .to_string(),
                ))
                .await?;
            out.replies += 1;
        }
    }
}
