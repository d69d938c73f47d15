//! Messenger test support: a local fake Graph API (axum) that records every Send API call and
//! enforces Meta's documented limits, and a gateway with Messenger on.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use okienko::messenger::{DEMO_APP_SECRET, DEMO_PAGE_TOKEN, DEMO_VERIFY_TOKEN};
use serde_json::{Value, json};

use super::{Proc, spawn};

const WAIT: Duration = Duration::from_secs(60);

/// Send API calls as the fake Graph API received them.
#[derive(Clone, Default)]
pub struct Graph {
    calls: Arc<Mutex<Vec<Value>>>,
    pub refused: Arc<Mutex<Vec<String>>>,
}

impl Graph {
    pub fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// Every call so far, as JSON text (for scanning).
    pub fn all(&self) -> String {
        serde_json::to_string(&self.calls()).unwrap()
    }

    /// Waits for a call after the first `from` that matches `pred`.
    pub async fn wait_for(&self, from: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(c) = self.calls().into_iter().skip(from).find(|c| pred(c)) {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "no Send API call {what}; got {:#?}; refused {:?}",
                self.calls(),
                self.refused.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Meta's documented limits; a call that breaks one gets Graph's error 100 and is not recorded.
fn contract_violation(body: &Value) -> Option<String> {
    if body["recipient"]["id"].as_str().is_none() {
        return Some("recipient.id".into());
    }
    match body["messaging_type"].as_str() {
        Some("RESPONSE") | Some("UPDATE") => {
            if !body["tag"].is_null() {
                return Some("tag without MESSAGE_TAG".into());
            }
        }
        Some("MESSAGE_TAG") => {
            if body["tag"] != "ACCOUNT_UPDATE" {
                return Some("unexpected tag".into());
            }
        }
        _ => return Some("messaging_type".into()),
    }
    let m = &body["message"];
    let has_text = m["text"].is_string();
    let has_att = m["attachment"].is_object();
    if has_text == has_att {
        return Some("exactly one of text / attachment".into());
    }
    if let Some(t) = m["text"].as_str()
        && (t.is_empty() || t.chars().count() > 2000)
    {
        return Some("text length".into());
    }
    if let Some(qr) = m["quick_replies"].as_array() {
        if qr.len() > 13 {
            return Some("more than 13 quick replies".into());
        }
        for q in qr {
            if q["content_type"] != "text"
                || q["title"].as_str().is_none_or(|t| t.chars().count() > 20)
                || q["payload"].as_str().is_none_or(|p| p.len() > 1000)
            {
                return Some(format!("quick reply {q}"));
            }
        }
    }
    if has_att {
        let p = &m["attachment"]["payload"];
        if m["attachment"]["type"] != "template" {
            return Some("attachment type".into());
        }
        match p["template_type"].as_str() {
            Some("button") => {
                let b = p["buttons"].as_array().map(Vec::len).unwrap_or(0);
                if !(1..=3).contains(&b)
                    || p["text"].as_str().is_none_or(|t| t.chars().count() > 640)
                {
                    return Some("button template".into());
                }
                for b in p["buttons"].as_array().unwrap() {
                    // Meta's account_link button has a URL and no title.
                    if b["type"] == "account_link" {
                        if b["url"].as_str().is_none() || !b["title"].is_null() {
                            return Some("account_link button".into());
                        }
                        continue;
                    }
                    if b["title"].as_str().is_none_or(|t| t.chars().count() > 20) {
                        return Some("button title".into());
                    }
                }
            }
            Some("generic") => {
                let e = p["elements"].as_array().map(Vec::len).unwrap_or(0);
                if !(1..=10).contains(&e) {
                    return Some("generic elements".into());
                }
            }
            _ => return Some("template_type".into()),
        }
    }
    None
}

async fn messages(
    State(g): State<Graph>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {DEMO_PAGE_TOKEN}") {
        g.refused.lock().unwrap().push("token".into());
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": 190, "message": "Invalid OAuth access token"}})),
        );
    }
    if let Some(why) = contract_violation(&body) {
        g.refused.lock().unwrap().push(why.clone());
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": 100, "message": why}})),
        );
    }
    let mut calls = g.calls.lock().unwrap();
    calls.push(body.clone());
    (
        StatusCode::OK,
        Json(
            json!({"recipient_id": body["recipient"]["id"], "message_id": format!("m_{}", calls.len())}),
        ),
    )
}

pub async fn fake_graph() -> (Graph, String) {
    let graph = Graph::default();
    let app = axum::Router::new()
        .route("/v25.0/me/messages", post(messages))
        .with_state(graph.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v25.0", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (graph, url)
}

/// `okienko serve` with Messenger on (demo secrets), sending to `graph_url`; `extra` adds or
/// overrides environment settings.
pub fn spawn_messenger_gateway(
    dir: &std::path::Path,
    bank_url: &str,
    graph_url: &str,
    extra: &[(&str, String)],
) -> Proc {
    let mut envs = vec![
        ("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()),
        ("OKIENKO_DATA_DIR", dir.join("data").display().to_string()),
        ("OKIENKO_BANK__BASE_URL", bank_url.to_owned()),
        ("OKIENKO_BANK__TIMEOUT_SECS", "3".to_owned()),
        ("OKIENKO_MESSENGER__ENABLED", "true".to_owned()),
        ("OKIENKO_MESSENGER__APP_SECRET", DEMO_APP_SECRET.to_owned()),
        (
            "OKIENKO_MESSENGER__VERIFY_TOKEN",
            DEMO_VERIFY_TOKEN.to_owned(),
        ),
        (
            "OKIENKO_MESSENGER__PAGE_ACCESS_TOKEN",
            DEMO_PAGE_TOKEN.to_owned(),
        ),
        ("OKIENKO_MESSENGER__GRAPH_API_URL", graph_url.to_owned()),
    ];
    envs.extend(extra.iter().cloned());
    spawn(&["serve"], &envs, dir, "listening on")
}

/// The Facebook Page the tests' webhooks come from.
pub const PAGE: &str = "1234567890";

/// Delivers one signed text message from `psid` to the gateway's webhook; the gateway must
/// accept it (200).
pub async fn say(gw: &str, psid: &str, mid: &str, text: &str) {
    let ts = chrono::Utc::now().timestamp_millis();
    let body = serde_json::to_vec(&json!({"object": "page", "entry": [{"id": PAGE, "time": ts,
        "messaging": [{"sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": ts,
        "message": {"mid": mid, "text": text}}]}]}))
    .unwrap();
    let status = super::http()
        .post(format!("{gw}/channels/messenger/webhook"))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            okienko_channels::messenger::signature::sign(DEMO_APP_SECRET, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

/// The `/view/…` URL in a Send API call.
pub fn view_url(call: &Value) -> Option<String> {
    let s = call.to_string();
    let at = s.find("http")?;
    let url: String = s[at..]
        .chars()
        .take_while(|c| !matches!(c, '"' | ' ' | '\\'))
        .collect();
    url.contains("/view/").then_some(url)
}
