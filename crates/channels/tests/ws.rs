//! The web chat's WebSocket protocol, over a real socket on 127.0.0.1 with a recording
//! conversation behind it.

#[path = "support/conversation.rs"]
mod conversation;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use conversation::{TestConversation, balance_text};
use futures::{SinkExt, StreamExt};
use okienko_channels::{WebChat, WebChatConfig};
use okienko_core::{CustomerId, Lang};
use okienko_dialog::{InboundEvent, Outbox, Reply};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

struct App {
    addr: SocketAddr,
    chat: WebChat,
    conv: Arc<TestConversation>,
}

async fn spawn_app(config: WebChatConfig) -> App {
    let chat = WebChat::new(config);
    let conv = TestConversation::new();
    chat.attach(conv.clone());
    let addr = serve(&chat).await;
    App { addr, chat, conv }
}

async fn serve(chat: &WebChat) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = chat.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

const WAIT: Duration = Duration::from_secs(5);

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .unwrap();
        Client { ws }
    }

    async fn send_raw(&mut self, s: &str) {
        self.ws.send(Message::text(s)).await.unwrap();
    }

    async fn send(&mut self, v: Value) {
        self.send_raw(&v.to_string()).await;
    }

    async fn say(&mut self, text: &str) {
        self.send(json!({"type": "message", "text": text})).await;
    }

    /// The next JSON frame from the server.
    async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket closed")
                .expect("socket error");
            match msg {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// The next frame that is not `typing`.
    async fn recv_no_typing(&mut self) -> Value {
        loop {
            let f = self.recv().await;
            if f["type"] != "typing" {
                return f;
            }
        }
    }

    async fn reply(&mut self) -> Value {
        let f = self.recv_no_typing().await;
        assert_eq!(f["type"], "reply", "expected a reply, got {f}");
        f
    }

    async fn error(&mut self) -> String {
        let f = self.recv_no_typing().await;
        assert_eq!(f["type"], "error", "expected an error, got {f}");
        assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()));
        f["code"].as_str().unwrap().to_owned()
    }

    async fn hello(&mut self, session: Option<&str>, last_seen: Option<u64>) -> Value {
        let mut h = json!({"type": "hello", "session": session, "lang": "pl"});
        if let Some(n) = last_seen {
            h["last_seen"] = json!(n);
        }
        self.send(h).await;
        let w = self.recv().await;
        assert_eq!(w["type"], "welcome", "expected welcome, got {w}");
        w
    }

    /// Asserts nothing but pings arrives for a while.
    async fn expect_silence(&mut self, for_: Duration) {
        if let Ok(Some(Ok(msg))) = tokio::time::timeout(for_, self.ws.next()).await {
            assert!(
                matches!(msg, Message::Ping(_) | Message::Pong(_)),
                "expected silence, got {msg:?}"
            );
        }
    }

    async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Let the server notice before the test moves on.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.ws.next()).await {}
    }
}

fn text_of(reply_frame: &Value) -> String {
    reply_frame["reply"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn hello_gets_welcome_then_replies_and_typing_only_when_slow() {
    let app = spawn_app(WebChatConfig::default()).await;
    let mut c = Client::connect(app.addr).await;
    let w = c.hello(None, None).await;
    let token = w["session"].as_str().unwrap();
    assert_eq!(token.len(), 43, "32 bytes base64url");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let customer: CustomerId = w["customer"].as_str().unwrap().parse().unwrap();
    assert_eq!(w["lang"], "pl");
    assert_eq!(w["resumed"], false);

    c.say("dzień dobry").await;
    let r = c.recv().await;
    assert_eq!(
        r["type"], "reply",
        "a quick answer comes without a typing notice"
    );
    assert_eq!(r["seq"], 1);
    assert_eq!(text_of(&r), "echo: dzień dobry");
    assert_eq!(r["reply"]["sensitivity"], "public");

    c.say("balance").await;
    let r = c.reply().await;
    assert_eq!(r["seq"], 2);
    let part = &r["reply"]["parts"][0];
    assert_eq!(part["kind"], "balance_card");
    assert_eq!(part["accounts"][0]["available"], balance_text());
    assert_eq!(part["accounts"][0]["amount"], "1234.56");

    c.send(json!({"type": "quick_reply", "payload": "tx:page:1"}))
        .await;
    assert_eq!(text_of(&c.reply().await), "quick: tx:page:1");

    let events = app.conv.events();
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|(who, lang, _)| *who == customer && *lang == Some(Lang::Pl))
    );
    assert_eq!(events[2].2, InboundEvent::QuickReply("tx:page:1".into()));

    // An answer that takes a while is announced by the typing notice, then comes.
    c.say("sleep:600 slow").await;
    assert_eq!(c.recv().await["type"], "typing", "typing comes first");
    let r = c.recv().await;
    assert_eq!(r["type"], "reply");
    assert_eq!(text_of(&r), "echo: slow");
}

#[tokio::test]
async fn several_replies_to_one_event_keep_their_order() {
    let app = spawn_app(WebChatConfig::default()).await;
    let mut c = Client::connect(app.addr).await;
    c.hello(None, None).await;
    c.say("two").await;
    let a = c.reply().await;
    let b = c.reply().await;
    assert_eq!(
        (a["seq"].as_u64(), text_of(&a).as_str()),
        (Some(1), "first")
    );
    assert_eq!(
        (b["seq"].as_u64(), text_of(&b).as_str()),
        (Some(2), "second")
    );
}

#[tokio::test]
async fn resuming_with_the_token_keeps_the_customer() {
    let app = spawn_app(WebChatConfig::default()).await;
    let mut c = Client::connect(app.addr).await;
    let w = c.hello(None, None).await;
    let token = w["session"].as_str().unwrap().to_owned();
    c.say("hi").await;
    c.reply().await;
    c.close().await;

    let mut c = Client::connect(app.addr).await;
    c.send(json!({"type": "hello", "session": token, "lang": "en", "last_seen": 1}))
        .await;
    let w2 = c.recv().await;
    assert_eq!(w2["type"], "welcome");
    assert_eq!(w2["resumed"], true);
    assert_eq!(w2["customer"], w["customer"]);
    assert_eq!(w2["session"], token.as_str());
    assert_eq!(w2["lang"], "en", "the hello's language wins on resume");
    c.say("again").await;
    let r = c.reply().await;
    assert_eq!(r["seq"], 2, "seq continues across reconnects");
    assert_eq!(app.conv.events().last().unwrap().1, Some(Lang::En));

    // An unknown (or malformed) token starts over with a new customer.
    for bogus in ["A".repeat(43), "not-a-token".into()] {
        let mut c = Client::connect(app.addr).await;
        let w3 = c.hello(Some(&bogus), Some(5)).await;
        assert_eq!(w3["resumed"], false);
        assert_ne!(w3["customer"], w["customer"]);
        assert_ne!(w3["session"], token.as_str());
        c.say("x").await;
        assert_eq!(c.reply().await["seq"], 1, "a new session counts from 1");
    }
}

#[tokio::test]
async fn push_while_disconnected_is_delivered_exactly_once_on_resume() {
    let app = spawn_app(WebChatConfig::default()).await;
    let mut c = Client::connect(app.addr).await;
    let w = c.hello(None, None).await;
    let token = w["session"].as_str().unwrap().to_owned();
    let customer: CustomerId = w["customer"].as_str().unwrap().parse().unwrap();
    c.say("hi").await;
    assert_eq!(c.reply().await["seq"], 1);
    c.close().await;

    app.chat
        .push(customer, Reply::text("Twój bank jest połączony"));

    let mut c = Client::connect(app.addr).await;
    c.hello(Some(&token), Some(1)).await;
    let r = c.reply().await;
    assert_eq!(r["seq"], 2);
    assert_eq!(text_of(&r), "Twój bank jest połączony");
    c.expect_silence(Duration::from_millis(300)).await;
    c.say("next").await;
    let r = c.reply().await;
    assert_eq!(
        r["seq"], 3,
        "no second copy of the push before the next reply"
    );
    assert_eq!(text_of(&r), "echo: next");
    c.close().await;

    // Seen everything: nothing is replayed. Without last_seen, only what no tab ever got.
    let mut c = Client::connect(app.addr).await;
    c.hello(Some(&token), Some(3)).await;
    c.expect_silence(Duration::from_millis(300)).await;
    c.close().await;
    let mut c = Client::connect(app.addr).await;
    c.hello(Some(&token), None).await;
    c.expect_silence(Duration::from_millis(300)).await;
    c.close().await;

    // A browser that lost its place asks from 0 and gets the kept history in order.
    let mut c = Client::connect(app.addr).await;
    c.hello(Some(&token), Some(0)).await;
    let seqs = [c.reply().await, c.reply().await, c.reply().await].map(|f| f["seq"].as_u64());
    assert_eq!(seqs, [Some(1), Some(2), Some(3)]);
    assert_eq!(app.conv.received(), vec!["text:hi", "text:next"]);
}

#[tokio::test]
async fn pushes_reach_every_open_tab_of_the_session() {
    let app = spawn_app(WebChatConfig::default()).await;
    let mut a = Client::connect(app.addr).await;
    let w = a.hello(None, None).await;
    let token = w["session"].as_str().unwrap().to_owned();
    let customer: CustomerId = w["customer"].as_str().unwrap().parse().unwrap();
    let mut b = Client::connect(app.addr).await;
    assert_eq!(b.hello(Some(&token), None).await["resumed"], true);

    app.chat.push(customer, Reply::text("push"));
    for tab in [&mut a, &mut b] {
        let r = tab.reply().await;
        assert_eq!(
            (r["seq"].as_u64(), text_of(&r)),
            (Some(1), "push".to_owned())
        );
    }
    // A reply to one tab's message shows in both.
    b.say("from b").await;
    for tab in [&mut a, &mut b] {
        assert_eq!(text_of(&tab.reply().await), "echo: from b");
    }
    // Another customer's push reaches neither.
    let mut other = Client::connect(app.addr).await;
    let ow = other.hello(None, None).await;
    app.chat.push(
        ow["customer"].as_str().unwrap().parse().unwrap(),
        Reply::text("not yours"),
    );
    assert_eq!(text_of(&other.reply().await), "not yours");
    a.expect_silence(Duration::from_millis(200)).await;
    // A customer with no session: dropped, no panic.
    app.chat.push(CustomerId::new(), Reply::text("nobody"));
    assert_eq!(app.chat.session_count(), 2);
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_never_reach_the_conversation() {
    let app = spawn_app(WebChatConfig {
        max_message_bytes: 256,
        rate_burst: 100,
        ..WebChatConfig::default()
    })
    .await;
    let mut c = Client::connect(app.addr).await;

    c.say("before hello").await;
    assert_eq!(c.error().await, "hello_required");
    c.send(json!({"type": "quick_reply", "payload": "x"})).await;
    assert_eq!(c.error().await, "hello_required");
    c.send_raw("not json {").await;
    assert_eq!(c.error().await, "invalid_json");
    c.send(json!({"type": "hello", "lang": "de"})).await;
    assert_eq!(c.error().await, "bad_lang");

    c.hello(None, None).await;
    c.send(json!({"type": "hello", "session": null, "lang": "pl"}))
        .await;
    assert_eq!(c.error().await, "duplicate_hello");
    c.send_raw("{\"type\":\"message\"").await;
    assert_eq!(c.error().await, "invalid_json");
    c.send(json!({"type": "shout", "text": "hi"})).await;
    assert_eq!(c.error().await, "bad_frame");
    c.send(json!({"type": "message", "text": 42})).await;
    assert_eq!(c.error().await, "bad_frame");
    c.send(json!([1, 2, 3])).await;
    assert_eq!(c.error().await, "bad_frame");
    c.say("").await;
    assert_eq!(c.error().await, "empty_message");
    c.say("   \n\t  ").await;
    assert_eq!(c.error().await, "empty_message");
    c.say("\u{0000}\u{0007}\u{001b}\u{007f}").await;
    assert_eq!(c.error().await, "empty_message");
    c.send(json!({"type": "quick_reply", "payload": "\u{0001}"}))
        .await;
    assert_eq!(c.error().await, "empty_message");
    c.say(&"ż".repeat(200)).await; // 400 bytes > 256
    assert_eq!(c.error().await, "too_large");
    c.ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(c.error().await, "binary_not_supported");

    assert!(
        app.conv.events().is_empty(),
        "nothing reached the conversation"
    );

    // Still usable, and the text arrives cleaned of control characters.
    c.say("  sa\u{0007}ldo  ").await;
    assert_eq!(text_of(&c.reply().await), "echo: saldo");
    assert_eq!(app.conv.received(), vec!["text:saldo"]);
}

#[tokio::test]
async fn frames_far_above_the_limit_close_only_that_connection() {
    let app = spawn_app(WebChatConfig {
        max_message_bytes: 256,
        ..WebChatConfig::default()
    })
    .await;
    let mut c = Client::connect(app.addr).await;
    c.hello(None, None).await;
    c.say(&"a".repeat(64 * 1024)).await;
    let end = tokio::time::timeout(WAIT, c.ws.next()).await.unwrap();
    assert!(
        !matches!(end, Some(Ok(Message::Text(_)))),
        "connection ends instead of buffering: {end:?}"
    );
    let mut d = Client::connect(app.addr).await;
    d.hello(None, None).await;
    d.say("ok").await;
    assert_eq!(text_of(&d.reply().await), "echo: ok");
    assert_eq!(app.conv.received(), vec!["text:ok"]);
}

#[tokio::test]
async fn flooding_a_session_is_rate_limited() {
    let app = spawn_app(WebChatConfig {
        rate_burst: 5,
        // No refill, so the count does not depend on how fast this machine sends.
        rate_per_second: 0,
        ..WebChatConfig::default()
    })
    .await;
    let mut c = Client::connect(app.addr).await;
    c.hello(None, None).await;
    for i in 0..12 {
        c.say(&format!("m{i}")).await;
    }
    let mut replies = 0;
    let mut limited = 0;
    while replies + limited < 12 {
        let f = c.recv_no_typing().await;
        match f["type"].as_str() {
            Some("reply") => replies += 1,
            Some("error") => {
                assert_eq!(f["code"], "rate_limited");
                limited += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // hello took one token of the connection's own bucket, not the session's.
    assert_eq!(replies, 5, "the burst goes through");
    assert_eq!(limited, 7);
    assert_eq!(app.conv.events().len(), 5);
}

#[tokio::test]
async fn one_session_is_handled_in_order_one_event_at_a_time() {
    let app = spawn_app(WebChatConfig::default()).await;
    let mut a = Client::connect(app.addr).await;
    let w = a.hello(None, None).await;
    let token = w["session"].as_str().unwrap().to_owned();
    let mut b = Client::connect(app.addr).await;
    b.hello(Some(&token), None).await;

    a.say("sleep:300 slow").await;
    a.say("fast").await;
    // Give the first tab's frames a head start, then the second tab joins in.
    tokio::time::sleep(Duration::from_millis(50)).await;
    b.say("from b").await;

    let texts: Vec<String> = [a.reply().await, a.reply().await, a.reply().await]
        .iter()
        .map(text_of)
        .collect();
    assert_eq!(texts, vec!["echo: slow", "echo: fast", "echo: from b"]);
    assert_eq!(
        app.conv.received(),
        vec!["text:sleep:300 slow", "text:fast", "text:from b"]
    );

    // Another session is not held up by a slow one.
    a.say("sleep:1000 very slow").await;
    let mut other = Client::connect(app.addr).await;
    other.hello(None, None).await;
    other.say("quick").await;
    let started = std::time::Instant::now();
    assert_eq!(text_of(&other.reply().await), "echo: quick");
    assert!(started.elapsed() < Duration::from_millis(800));
}

#[tokio::test]
async fn a_panicking_conversation_costs_one_event_not_the_session() {
    let app = spawn_app(WebChatConfig::default()).await;
    let mut c = Client::connect(app.addr).await;
    c.hello(None, None).await;
    c.say("panic").await;
    assert_eq!(c.error().await, "internal");
    c.say("still here").await;
    let r = c.reply().await;
    assert_eq!(text_of(&r), "echo: still here");
    assert_eq!(r["seq"], 1);
}

#[tokio::test]
async fn without_a_conversation_hello_is_refused() {
    let chat = WebChat::new(WebChatConfig::default());
    let addr = serve(&chat).await;
    let mut c = Client::connect(addr).await;
    c.send(json!({"type": "hello", "session": null, "lang": "en"}))
        .await;
    let f = c.recv().await;
    assert_eq!(f["code"], "unavailable");
    assert_eq!(
        f["message"],
        "The chat is unavailable right now. Try again shortly."
    );
}

#[tokio::test]
async fn the_page_and_assets_are_served_with_strict_headers() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let app = spawn_app(WebChatConfig::default()).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.addr);

    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    let body = page.text().await.unwrap();
    assert!(body.contains("id=\"chat-input\"") && body.contains("/assets/chat.js"));

    for (path, ctype) in [
        ("/assets/chat.js", "text/javascript; charset=utf-8"),
        ("/assets/chat.css", "text/css; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], ctype, "{path}");
        let etag = r.headers()["etag"].clone();
        let again = http
            .get(format!("{base}{path}"))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path} revalidates");
    }
    for path in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // The socket endpoint wants an upgrade.
    let r = http.get(format!("{base}/ws")).send().await.unwrap();
    assert!(r.status().is_client_error());
}
