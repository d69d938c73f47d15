//! Web chat sessions across instances (issue 9) on real processes: three `okienko serve`
//! gateways on one PostgreSQL schema and one NATS JetStream stream (support/cluster.rs), web chat
//! sessions and their sealed reply backlog in the store (migration 0022).
//!
//! A browser talks to A; A answers a balance question that the browser never reads, and A is
//! SIGKILLed. While nobody is connected, a bank warning is published through B's admin API. The
//! browser comes back on B with its token and `last_seen`: it gets the balance answer and the
//! warning it missed, each once, in seq order, and goes on talking (a balance question answered
//! on B). A warning published through C then reaches it on B.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::cluster::*;
use support::*;

const WAIT: Duration = Duration::from_secs(60);
const TEST_LIMIT: Duration = Duration::from_secs(300);
const ADMIN_TOKEN: &str = "webchat-sessions-admin-token-7d2e";

/// The highest reply seq the store handed out for the customer.
async fn stored_seq(c: &Cluster, customer: &str) -> i64 {
    c.schema
        .count(&format!(
            "SELECT COALESCE(MAX(last_seq), 0) FROM {{schema}}.webchat_sessions \
             WHERE customer_id = '{customer}'"
        ))
        .await
}

/// Waits until the stored seq passes `above` and then stays put for a second; returns it.
async fn settled_seq(c: &Cluster, customer: &str, above: i64) -> i64 {
    let deadline = Instant::now() + WAIT;
    let mut last = stored_seq(c, customer).await;
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = stored_seq(c, customer).await;
        if now != last {
            last = now;
            since = Instant::now();
        } else if last > above && since.elapsed() >= Duration::from_secs(1) {
            return last;
        }
        assert!(
            Instant::now() < deadline,
            "no reply stored beyond seq {above} (at {last})\n{}",
            c.logs()
        );
    }
}

async fn warn_through(gateway: &str, id: &str, text_en: &str) -> Value {
    let resp = http()
        .post(format!("{gateway}/admin/warnings"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({
            "id": id,
            "text_pl": format!("Uwaga: {text_en}"),
            "text_en": text_en,
            "bank": "sandbox",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Every reply frame that arrives within `quiet` of the previous one.
async fn reply_frames(chat: &mut Chat, first_wait: Duration, quiet: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let mut wait = first_wait;
    while let Some(f) = chat.frame_of_type("reply", wait).await {
        out.push(f);
        wait = quiet;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_resumes_on_another_instance_with_what_it_missed_once() {
    let steps = async {
        let mut c = Cluster::start(ClusterOptions {
            env: vec![("OKIENKO_GUARD__ADMIN_TOKEN".into(), ADMIN_TOKEN.into())],
            ..ClusterOptions::default()
        })
        .await;
        let mut chat = Chat::connect(c.url(0), "en").await;
        link(&mut chat, "connect my bank", "anna").await;
        reply_frames(&mut chat, Duration::from_secs(2), Duration::from_secs(1)).await;
        let seen = chat.last_seq.expect("replies carry seqs");
        let customer = chat.customer.clone();
        assert_eq!(stored_seq(&c, &customer).await, seen as i64);

        // A answers; the browser does not read it before A dies.
        chat.say("what's my balance?").await;
        let answered = settled_seq(&c, &customer, seen as i64).await;
        c.kill(0);

        // Nobody is connected: a bank warning published through B waits in the backlog.
        let report = warn_through(c.url(1), "h6-away", "fake parcel texts (while away)").await;
        assert_eq!(report["delivered"], 1, "{report}");
        let missed_upto = settled_seq(&c, &customer, answered).await;

        // Back on B with the token and last_seen: what it missed, once, in order.
        let mut on_b = resume(c.url(1), &chat, "en").await;
        let frames = reply_frames(&mut on_b, WAIT, Duration::from_secs(3)).await;
        let seqs: Vec<u64> = frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
        let expected: Vec<u64> = (seen + 1..=missed_upto as u64).collect();
        assert_eq!(seqs, expected, "missed replies once, in seq order");
        let texts: Vec<String> = frames.iter().map(|f| f["reply"].to_string()).collect();
        assert!(
            frames.iter().any(|f| f["reply"]["parts"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["kind"] == "balance_card"))),
            "the balance answer A made: {texts:#?}"
        );
        assert!(
            texts.iter().any(|t| t.contains("while away")),
            "the warning pushed while away: {texts:#?}"
        );

        // The conversation goes on on B.
        on_b.say("what's my balance?").await;
        let reply = on_b.expect("balance_card", "", WAIT).await;
        assert!(
            part(&reply, "balance_card")["accounts"]
                .as_array()
                .is_some()
        );

        // A push made on C reaches the browser on B.
        let report = warn_through(c.url(2), "h6-on-b", "fake bank staff (on B)").await;
        assert_eq!(report["delivered"], 1, "{report}");
        on_b.expect("any", "on B", WAIT).await;
        let last = settled_seq(&c, &customer, missed_upto).await;
        assert_eq!(
            on_b.last_seq,
            Some(last as u64),
            "every stored reply arrived"
        );
        // Nothing more (no duplicates) comes.
        let extra = reply_frames(&mut on_b, Duration::from_secs(2), Duration::from_secs(1)).await;
        assert!(extra.is_empty(), "duplicates: {extra:#?}");
    };
    if tokio::time::timeout(TEST_LIMIT, steps).await.is_err() {
        panic!("the test did not finish within {TEST_LIMIT:?}");
    }
}
