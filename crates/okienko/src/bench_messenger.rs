//! `okienko bench messenger`: Messenger webhook deliveries handled per second with the
//! signature check, replay check, parsing and queueing to the conversation, beside an unsigned
//! no-op handler on the same server in the same run. Each delivery is one text event with a
//! fresh `mid`, signed beforehand with the demo app secret (signing is Meta's cost, not ours).
//! The attached conversation answers nothing, so no Send API call is made: this measures the
//! inbound path only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use okienko_channels::messenger::signature::sign;
use okienko_core::{CustomerId, Lang, SystemClock};
use okienko_dialog::{ChannelInfo, Conversation, InboundEvent, Reply};
use serde_json::{Value, json};

use crate::messenger::{DEMO_APP_SECRET, build, demo_settings};

/// A conversation that says nothing: the benchmark measures the channel, not the engine.
struct NoReply;

#[async_trait::async_trait]
impl Conversation for NoReply {
    async fn handle(
        &self,
        _customer: CustomerId,
        _channel: ChannelInfo,
        _lang: Option<Lang>,
        _event: InboundEvent,
    ) -> Vec<Reply> {
        Vec::new()
    }
}

/// Runs the benchmark and prints one JSON object on stdout; progress goes to stderr.
pub async fn run(events: usize, concurrency: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        (100..=1_000_000).contains(&events),
        "--events must be 100..=1000000"
    );
    anyhow::ensure!(
        (1..=256).contains(&concurrency),
        "--concurrency must be 1..=256"
    );
    let settings = demo_settings("http://127.0.0.1:9/v25.0");
    // Replay protection writes every event id to the store, as in the gateway: a fresh SQLite
    // file, removed at the end.
    let dir = std::env::temp_dir().join(format!("okienko-bench-messenger-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let keyring = okienko_store::Keyring::from_file_or_create(&dir.join("master.key"))?;
    let store = okienko_store::Store::connect(
        &format!("sqlite://{}?mode=rwc", dir.join("bench.sqlite").display()),
        keyring,
    )
    .await?;
    let messenger = build(
        &settings,
        Arc::new(SystemClock),
        "http://127.0.0.1:9",
        &store,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("messenger not built"))?;
    messenger.attach(Arc::new(NoReply));
    let app = okienko_server::messenger::routes(messenger.clone()).route(
        "/bench/noop",
        post(|_body: axum::body::Bytes| async { "ok" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    eprintln!("bench messenger: signing {events} deliveries");
    let now = chrono::Utc::now().timestamp_millis();
    let bodies: Vec<(Vec<u8>, String)> = (0..events)
        .map(|i| {
            let body = serde_json::to_vec(&json!({
                "object": "page",
                "entry": [{"id": "PAGE", "time": now, "messaging": [{
                    "sender": {"id": format!("{}", 1_000_000 + i % 1000)},
                    "recipient": {"id": "PAGE"},
                    "timestamp": now,
                    "message": {"mid": format!("m_bench_{i}"), "text": "ile mam na koncie?"}
                }]}]
            }))
            .unwrap_or_default();
            let sig = sign(DEMO_APP_SECRET, &body);
            (body, sig)
        })
        .collect();
    let bodies = Arc::new(bodies);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(concurrency)
        .build()?;

    eprintln!("bench messenger: unsigned no-op baseline");
    let baseline = drive(
        &client,
        &format!("{base}/bench/noop"),
        &bodies,
        concurrency,
        false,
    )
    .await?;
    eprintln!("bench messenger: signed webhook");
    let signed = drive(
        &client,
        &format!("{base}{}", okienko_server::messenger::PATH),
        &bodies,
        concurrency,
        true,
    )
    .await?;
    server.abort();
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    let out = json!({
        "events": events,
        "concurrency": concurrency,
        "events_per_second": signed["events_per_second"],
        "p50_ms": signed["p50_ms"],
        "p99_ms": signed["p99_ms"],
        "refused": signed["refused"],
        "baseline": baseline,
    });
    println!("{out}");
    Ok(())
}

async fn drive(
    client: &reqwest::Client,
    url: &str,
    bodies: &Arc<Vec<(Vec<u8>, String)>>,
    concurrency: usize,
    signed: bool,
) -> anyhow::Result<Value> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, bodies, next) =
            (client.clone(), url.to_owned(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut refused = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((body, sig)) = bodies.get(i) else {
                    break;
                };
                let mut req = client.post(&url).body(body.clone());
                if signed {
                    req = req.header("x-hub-signature-256", sig);
                }
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().is_success() => {}
                    _ => refused += 1,
                }
                lat.push(t.elapsed());
            }
            (lat, refused)
        }));
    }
    let mut lat = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (l, r) = t.await?;
        lat.extend(l);
        refused += r;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        let idx = ((lat.len() as f64 * p).ceil() as usize).saturating_sub(1);
        lat.get(idx.min(lat.len().saturating_sub(1)))
            .map(|d| (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0)
            .unwrap_or(0.0)
    };
    Ok(json!({
        "events_per_second": ((lat.len() as f64 / secs) * 10.0).round() / 10.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "refused": refused,
    }))
}
