//! Human handover on Messenger, over real processes: `okienko demo` with Messenger on, sending to
//! a local fake Graph API (tests/support/messenger.rs) that records every Send API call and
//! enforces Meta's limits, and signed webhook deliveries shaped as Meta documents them. The
//! customer asks for a person on Messenger, the agent claims and replies in the console, the
//! reply goes out through the Send API, the customer's answer reaches the console, and closing
//! asks for a CSAT score that the customer gives with a quick reply.

mod support;

use std::time::Duration;

use okienko::messenger::DEMO_APP_SECRET;
use okienko_channels::messenger::signature::sign;
use serde_json::{Value, json};
use support::console::*;
use support::messenger::*;
use support::*;

const PAGE: &str = "1234567890";
const HOOK: &str = "/channels/messenger/webhook";
const WAIT: Duration = Duration::from_secs(60);

fn delivery(psid: &str, message: Value) -> Vec<u8> {
    let ts = chrono::Utc::now().timestamp_millis();
    serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": PAGE, "time": ts, "messaging": [{
            "sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": ts, "message": message,
        }]}]}),
    )
    .unwrap()
}

async fn deliver(gw: &str, body: Vec<u8>) {
    let r = http()
        .post(format!("{gw}{HOOK}"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(DEMO_APP_SECRET, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn text_to(psid: &str, needle: &str) -> impl Fn(&Value) -> bool {
    let psid = psid.to_owned();
    let needle = needle.to_owned();
    move |c: &Value| c["recipient"]["id"] == psid.as_str() && c.to_string().contains(&needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messenger_customer_reaches_an_agent_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let (graph, graph_url) = fake_graph().await;
    let data = dir.path().join("data");
    let demo = spawn(
        &[
            "demo",
            "--port",
            "0",
            "--data-dir",
            data.to_str().unwrap(),
            "--customers",
            "2",
        ],
        &[("OKIENKO_MESSENGER__GRAPH_API_URL", graph_url)],
        dir.path(),
        "Agent console:",
    );
    let console = demo.url.clone();
    let gw = console.trim_end_matches("/agent").to_owned();
    let psid = "7700112233445566";

    // The customer asks for a person on Messenger: queued, told their place.
    deliver(
        &gw,
        delivery(
            psid,
            json!({"mid": "m_h1", "text": "chcę rozmawiać z konsultantem"}),
        ),
    )
    .await;
    let queued = graph
        .wait_for(0, "queue notice", text_to(psid, "w kolejce"))
        .await;
    assert_eq!(queued["messaging_type"], "RESPONSE", "{queued}");

    // The agent claims it in the console; the customer is told who joined.
    let cookie = sign_in(&console, "agent").await;
    let mut ws = console_ws(&console, Some(&cookie), None).await.unwrap();
    let state = until(&mut ws, WAIT, |v| {
        v["type"] == "state" && v["queue"].as_array().is_some_and(|q| q.len() == 1)
    })
    .await;
    let id = state["queue"][0]["id"].as_str().unwrap().to_owned();
    send(&mut ws, json!({"type": "claim", "conversation": id})).await;
    let opened = until(&mut ws, WAIT, |v| v["type"] == "opened").await;
    assert!(
        opened["transcript"].to_string().contains("konsultantem"),
        "{opened}"
    );
    let from = graph.count();
    graph
        .wait_for(0, "agent joined", text_to(psid, "dołącza do rozmowy"))
        .await;

    // The agent's reply goes out through the Send API.
    send(
        &mut ws,
        json!({"type": "reply", "conversation": id, "text": "Dzień dobry, tu Ola z banku."}),
    )
    .await;
    let reply = graph
        .wait_for(from, "agent reply", text_to(psid, "tu Ola z banku"))
        .await;
    assert!(reply["message"]["text"].is_string(), "{reply}");

    // The customer's answer on Messenger reaches the console, not the bot.
    let before = graph.count();
    deliver(
        &gw,
        delivery(psid, json!({"mid": "m_h2", "text": "Mam pytanie o kartę"})),
    )
    .await;
    let line = until(&mut ws, WAIT, |v| {
        v["type"] == "line" && v["line"]["sender"]["kind"] == "customer"
    })
    .await;
    assert_eq!(line["line"]["text"], "Mam pytanie o kartę");
    assert_eq!(line["conversation"], id.as_str());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        graph.count(),
        before,
        "the bot answered while the agent held the chat"
    );

    // Closing: the bot owns the chat again and asks for a score; a quick reply gives it.
    send(
        &mut ws,
        json!({"type": "close", "conversation": id, "resolution": "information_given"}),
    )
    .await;
    let csat = graph
        .wait_for(before, "CSAT question", text_to(psid, "Jak oceniasz"))
        .await;
    let five = csat["message"]["quick_replies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["title"] == "5")
        .unwrap()["payload"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = graph.count();
    deliver(
        &gw,
        delivery(
            psid,
            json!({"mid": "m_h3", "text": "5", "quick_reply": {"payload": five}}),
        ),
    )
    .await;
    graph
        .wait_for(before, "CSAT thanks", text_to(psid, "Dziękujemy za ocenę"))
        .await;
    assert!(graph.refused.lock().unwrap().is_empty());
}
