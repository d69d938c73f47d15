//! The support desk's rules through the real binary, over real WebSockets: outside business hours
//! the customer leaves a message instead of queueing (and supervisors see it); a customer waiting
//! past the SLA is escalated; the console's cookie is HttpOnly and SameSite=Strict and its socket
//! refuses strangers and other origins.

mod support;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn demo(dir: &std::path::Path, envs: &[(&str, String)]) -> Proc {
    let data = dir.join("data");
    spawn(
        &[
            "demo",
            "--port",
            "0",
            "--data-dir",
            data.to_str().unwrap(),
            "--customers",
            "2",
        ],
        envs,
        dir,
        "Agent console:",
    )
}

/// Signs in over HTTP and returns the session cookie (`name=value`).
async fn sign_in(console: &str, user: &str) -> String {
    let r = http()
        .post(format!("{console}/login"))
        .json(&json!({"username": user, "password": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/agent"), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

async fn console_ws(console: &str, cookie: Option<&str>, origin: Option<&str>) -> Result<Ws, u16> {
    let mut req = format!("{}/ws", console.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

/// Reads console frames until `pred` holds for one; panics with what it saw after `wait`.
async fn until(ws: &mut Ws, wait: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(m))) => m,
            _ => panic!("no matching console frame; saw {seen:#?}"),
        };
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if pred(&v) {
                return v;
            }
            seen.push(v);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_business_hours_the_customer_leaves_a_message() {
    let dir = tempfile::tempdir().unwrap();
    // Open from 00:00 until 00:00: never.
    let gw = demo(
        dir.path(),
        &[
            ("OKIENKO_AGENTS__HOURS__DAYS", "[1,2,3,4,5]".into()),
            ("OKIENKO_AGENTS__HOURS__OPEN", "\"00:00\"".into()),
            ("OKIENKO_AGENTS__HOURS__CLOSE", "\"00:00\"".into()),
        ],
    );
    let console = gw.url.clone();
    let chat_url = console.trim_end_matches("/agent").to_owned();

    // The console refuses strangers and other sites' pages.
    assert_eq!(console_ws(&console, None, None).await.err(), Some(401));
    let cookie = sign_in(&console, "supervisor").await;
    assert_eq!(
        console_ws(&console, Some(&cookie), Some("http://evil.example"))
            .await
            .err(),
        Some(403)
    );
    let bad = http()
        .post(format!("{console}/login"))
        .json(&json!({"username": "supervisor", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);

    let mut chat = Chat::connect(&chat_url, "en").await;
    chat.say("talk to a human").await;
    let offline = chat
        .expect("any", "leave a message", Duration::from_secs(30))
        .await;
    assert!(
        offline.to_string().contains("handover:callback"),
        "{offline}"
    );
    chat.press("handover:leave_message").await;
    chat.expect("any", "Write your message", Duration::from_secs(30))
        .await;
    chat.say("Please call me about my card").await;
    chat.expect("any", "waiting for our staff", Duration::from_secs(30))
        .await;

    let mut ws = console_ws(&console, Some(&cookie), None).await.unwrap();
    let hello = until(&mut ws, Duration::from_secs(10), |v| v["type"] == "hello").await;
    assert_eq!(hello["me"]["role"], "supervisor");
    assert!(hello["canned"].as_array().unwrap().len() >= 3);
    let state = until(&mut ws, Duration::from_secs(10), |v| v["type"] == "state").await;
    assert_eq!(state["supervisor"]["offline"], 1, "{state}");
    assert!(state["queue"].as_array().unwrap().is_empty(), "{state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_waiting_past_the_sla_is_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let gw = demo(dir.path(), &[("OKIENKO_AGENTS__SLA_SECS", "1".into())]);
    let console = gw.url.clone();
    let chat_url = console.trim_end_matches("/agent").to_owned();

    let mut chat = Chat::connect(&chat_url, "pl").await;
    chat.say("chcę rozmawiać z konsultantem").await;
    chat.expect("any", "w kolejce", Duration::from_secs(30))
        .await;

    let sup = sign_in(&console, "supervisor").await;
    let mut ws = console_ws(&console, Some(&sup), None).await.unwrap();
    let state = until(&mut ws, Duration::from_secs(30), |v| {
        v["type"] == "state" && v["supervisor"]["teams"][0]["escalated"] == 1
    })
    .await;
    assert_eq!(state["supervisor"]["teams"][0]["waiting"], 1);
    assert_eq!(state["queue"][0]["escalated"], true);

    // An agent sees the flag on the queue, but not the supervisor view.
    let agent = sign_in(&console, "agent").await;
    let mut ws = console_ws(&console, Some(&agent), None).await.unwrap();
    let state = until(&mut ws, Duration::from_secs(10), |v| v["type"] == "state").await;
    assert!(state["supervisor"].is_null(), "{state}");
    assert_eq!(state["queue"][0]["escalated"], true);

    // The customer can go back to the bot while waiting; the queue empties.
    chat.say("wróć do bota").await;
    chat.expect("any", "Wróciłeś", Duration::from_secs(30))
        .await;
    until(&mut ws, Duration::from_secs(10), |v| {
        v["type"] == "state" && v["queue"].as_array().is_some_and(|q| q.is_empty())
    })
    .await;
    ws.send(Message::text(
        json!({"type": "claim", "conversation": "nope"}).to_string(),
    ))
    .await
    .unwrap();
    let err = until(&mut ws, Duration::from_secs(10), |v| v["type"] == "error").await;
    assert_eq!(err["code"], "not_found");
}
