//! The agent console as a test drives it: sign-in over HTTP, the console WebSocket, and waiting
//! for a frame.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::http;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Signs in over HTTP with the demo password and returns the whole `Set-Cookie` header.
pub async fn sign_in_cookie(console: &str, user: &str) -> String {
    let r = http()
        .post(format!("{console}/login"))
        .json(&json!({"username": user, "password": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// Signs in and returns the session cookie (`name=value`), checking its attributes.
pub async fn sign_in(console: &str, user: &str) -> String {
    let cookie = sign_in_cookie(console, user).await;
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/agent"), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

pub async fn console_ws(
    console: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, u16> {
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
pub async fn until(ws: &mut Ws, wait: Duration, pred: impl Fn(&Value) -> bool) -> Value {
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

/// Sends one console frame.
pub async fn send(ws: &mut Ws, v: Value) {
    use futures::SinkExt;
    ws.send(Message::text(v.to_string())).await.unwrap();
}
