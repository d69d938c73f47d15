//! The support desk's rules through the real binary, over real WebSockets: outside business hours
//! the customer leaves a message instead of queueing (and supervisors see it); a customer waiting
//! past the SLA is escalated; the console's cookie is HttpOnly and SameSite=Strict (and Secure
//! when the gateway's public URL is https) and its socket refuses strangers and other origins.

mod support;

use std::time::Duration;

use futures::SinkExt;
use serde_json::json;
use support::console::*;
use support::*;
use tokio_tungstenite::tungstenite::Message;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_secure_only_behind_https() {
    // The http demo: a Secure cookie would never come back, so it is not set.
    let dir = tempfile::tempdir().unwrap();
    let gw = demo(dir.path(), &[]);
    let plain = sign_in_cookie(&gw.url, "agent").await;
    assert!(!plain.contains("Secure"), "{plain}");
    let cookie = plain.split(';').next().unwrap().to_owned();
    let out = http()
        .post(format!("{}/logout", gw.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let cleared = out.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cleared.contains("Max-Age=0") && !cleared.contains("Secure"),
        "{cleared}"
    );
    drop(gw);

    // Behind https (the public URL the bank and customers use): Secure, on sign-in and sign-out.
    let dir = tempfile::tempdir().unwrap();
    let gw = demo(
        dir.path(),
        &[("OKIENKO_PUBLIC_URL", "https://chat.bank.example".into())],
    );
    let secure = sign_in_cookie(&gw.url, "agent").await;
    assert!(secure.contains("; Secure"), "{secure}");
    assert!(secure.contains("HttpOnly") && secure.contains("SameSite=Strict"));
    let cookie = secure.split(';').next().unwrap().to_owned();
    // The session itself works the same.
    let me = http()
        .get(format!("{}/me", gw.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let out = http()
        .post(format!("{}/logout", gw.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let cleared = out.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cleared.contains("Max-Age=0; Secure"), "{cleared}");
}
