//! Human handover end to end: `okienko demo` with two real headless Chromium sessions at once, a
//! customer in the web chat and an agent in the console at `/agent`. The customer asks for a
//! person and sees their place in the queue; the agent signs in, claims, sees the summary (the
//! intents before the handover), replies; the customer sees the reply, types (the console shows
//! "Klient pisze…") and answers; the agent closes; the customer rates the conversation and the bot
//! answers again. Screenshots of both sides go to `$CARGO_TARGET_DIR/screenshots/`.

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use support::browser::{ChromeDriver, screenshot, wait_for};
use support::*;

const WAIT: Duration = Duration::from_secs(60);

/// Waits until some element matching `css` contains `needle`; returns its text.
async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        for e in c.find_all(Locator::Css(css)).await.unwrap() {
            if let Ok(t) = e.text().await
                && t.contains(needle)
            {
                return t;
            }
        }
        if started.elapsed() > WAIT {
            let all: Vec<String> = {
                let mut v = Vec::new();
                for e in c.find_all(Locator::Css(css)).await.unwrap() {
                    v.push(e.text().await.unwrap_or_default());
                }
                v
            };
            panic!("no `{css}` containing {needle:?} within {WAIT:?}; saw {all:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn say(c: &Client, text: &str) {
    let input = wait_for(c, "#chat-input", WAIT).await.unwrap();
    input.send_keys(&format!("{text}\n")).await.unwrap();
}

async fn click_quick_reply(c: &Client, label: &str) {
    let started = Instant::now();
    loop {
        for b in c
            .find_all(Locator::Css("button.quick-reply"))
            .await
            .unwrap()
        {
            if b.text().await.unwrap_or_default() == label {
                b.click().await.unwrap();
                return;
            }
        }
        assert!(started.elapsed() < WAIT, "no quick reply {label:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_and_agent_in_two_chromium_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let demo = spawn(
        &[
            "demo",
            "--port",
            "0",
            "--data-dir",
            data.to_str().unwrap(),
            "--customers",
            "3",
        ],
        &[],
        dir.path(),
        "Agent console:",
    );
    let console_url = demo.url.clone();
    assert!(console_url.ends_with("/agent"), "{console_url}");
    let chat_url = console_url.trim_end_matches("/agent").to_owned();
    assert!(
        demo.stdout_lines
            .iter()
            .any(|l| l.contains("Staff login:") && l.contains("agent / demo")),
        "{:?}",
        demo.stdout_lines
    );

    let _ = rustls::crypto::ring::default_provider().install_default();
    let driver = ChromeDriver::start().await.unwrap();
    let customer = driver.new_client().await.unwrap();
    let agent = driver.new_client().await.unwrap();

    // The customer asks for a person and is queued.
    customer
        .goto(&format!("{chat_url}/?lang=pl"))
        .await
        .unwrap();
    wait_for(&customer, "body[data-ready=\"1\"]", WAIT)
        .await
        .unwrap();
    say(&customer, "ile mam na koncie?").await;
    wait_text(&customer, ".msg.bot", "połączonego banku").await;
    say(&customer, "chcę rozmawiać z konsultantem").await;
    let queued = wait_text(&customer, ".msg.bot", "w kolejce").await;
    assert!(queued.contains("1."), "{queued}");
    assert!(queued.contains("min"), "{queued}");
    screenshot(&customer, "agents-1-customer-queued.png")
        .await
        .unwrap();

    // The agent signs in; a wrong password is refused first.
    agent.goto(&console_url).await.unwrap();
    wait_for(&agent, "#login-form", WAIT).await.unwrap();
    let user = wait_for(&agent, "#login-username", WAIT).await.unwrap();
    user.send_keys("agent").await.unwrap();
    let pw = agent.find(Locator::Css("#login-password")).await.unwrap();
    pw.send_keys("wrong").await.unwrap();
    agent
        .find(Locator::Css("#login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&agent, "#login-error:not([hidden])", WAIT)
        .await
        .unwrap();
    pw.clear().await.unwrap();
    pw.send_keys("demo").await.unwrap();
    agent
        .find(Locator::Css("#login-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The session cookie is HttpOnly: the page's script cannot read it.
    wait_for(&agent, "#console-view:not([hidden])", WAIT)
        .await
        .unwrap();
    let cookies = agent
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    assert!(
        !cookies
            .as_str()
            .unwrap_or_default()
            .contains("okienko_agent"),
        "{cookies}"
    );
    let item = wait_for(&agent, ".queue-item", WAIT).await.unwrap();
    assert!(item.text().await.unwrap().contains("customer_asked"));
    screenshot(&agent, "agents-2-console-queue.png")
        .await
        .unwrap();

    // Claim: the agent sees the summary and the customer's words; the customer sees who joined.
    agent
        .find(Locator::Css(".queue-item button.claim"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&agent, "#conversation:not([hidden])", WAIT)
        .await
        .unwrap();
    wait_text(&agent, "#transcript .line.customer", "konsultantem").await;
    // The summary: what the bot understood before the handover.
    wait_text(&agent, "#summary .summary-intents", "balance, agent").await;
    wait_text(&customer, ".msg.bot", "dołącza do rozmowy").await;

    // The agent replies; the customer sees it and answers; the agent sees the answer.
    let reply = wait_for(&agent, "#reply-input", WAIT).await.unwrap();
    reply
        .send_keys("Dzień dobry, tu Ola. W czym mogę pomóc?")
        .await
        .unwrap();
    agent
        .find(Locator::Css("#reply-send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&customer, ".msg.bot", "tu Ola. W czym mogę pomóc?").await;
    // The customer types: the console says so before the message arrives.
    let input = wait_for(&customer, "#chat-input", WAIT).await.unwrap();
    input.send_keys("Zgubiłem kartę").await.unwrap();
    let typing = wait_for(&agent, "#customer-typing:not([hidden])", WAIT)
        .await
        .unwrap();
    assert!(
        typing.text().await.unwrap().contains("Klient pisze"),
        "typing notice"
    );
    screenshot(&agent, "agents-3a-console-customer-typing.png")
        .await
        .unwrap();
    input.send_keys("\n").await.unwrap();
    wait_text(&agent, "#transcript .line.customer", "Zgubiłem kartę").await;
    screenshot(&agent, "agents-3-console-conversation.png")
        .await
        .unwrap();
    screenshot(&customer, "agents-4-customer-with-agent.png")
        .await
        .unwrap();

    // The agent closes with a resolution code; the bot owns the chat again and asks for CSAT.
    agent
        .find(Locator::Css("#close-resolution option[value=card_blocked]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    agent
        .find(Locator::Css("#close-btn"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&agent, "#notice[data-ended]", WAIT).await.unwrap();
    wait_text(&customer, ".msg.bot", "Jak oceniasz rozmowę").await;
    click_quick_reply(&customer, "5").await;
    wait_text(&customer, ".msg.bot", "Dziękujemy za ocenę").await;
    say(&customer, "pomoc").await;
    wait_text(&customer, ".msg.bot", "Potrafię").await;
    screenshot(&customer, "agents-5-customer-back-with-bot.png")
        .await
        .unwrap();

    customer.close().await.unwrap();
    agent.close().await.unwrap();
}
