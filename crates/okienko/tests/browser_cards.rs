//! The card flow in the web chat as a customer meets it, in a real headless Chromium against
//! `okienko demo`: "moje karty", "zablokuj kartę", the read-back, the "Tak, zablokuj" button, the
//! result, and the same button pressed again doing nothing. The bank's own API confirms each
//! step. Screenshots are kept under `$CARGO_TARGET_DIR/screenshots/`.

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::Value;
use support::browser::{ChromeDriver, screenshot, wait_for};
use support::*;

const WAIT: Duration = Duration::from_secs(60);

async fn type_and_send(c: &Client, text: &str) {
    let input = wait_for(c, "#chat-input", WAIT).await.unwrap();
    input.send_keys(&format!("{text}\n")).await.unwrap();
}

/// How many times `needle` occurs in the chat's visible text.
async fn count_text(c: &Client, needle: &str) -> usize {
    c.execute(
        "return document.body.innerText.split(arguments[0]).length - 1;",
        vec![Value::from(needle)],
    )
    .await
    .unwrap()
    .as_u64()
    .unwrap_or(0) as usize
}

/// Waits until `needle` occurs at least `n` times on the page.
async fn wait_text(c: &Client, needle: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    while count_text(c, needle).await < n {
        assert!(Instant::now() < deadline, "{needle:?} ×{n} never shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Clicks the last quick-reply button whose label contains `label`.
async fn click_button(c: &Client, label: &str) {
    let clicked = c
        .execute(
            "const b = [...document.querySelectorAll('button.quick-reply')]\
               .filter(b => b.textContent.includes(arguments[0]));\
             if (!b.length) return false; b[b.length - 1].click(); return true;",
            vec![Value::from(label)],
        )
        .await
        .unwrap();
    assert_eq!(clicked, Value::Bool(true), "no {label:?} button");
}

async fn bank_statuses(bank: &str) -> Vec<String> {
    let v: Value = http()
        .get(format!("{bank}/sandbox/customers/anna/cards"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_block_in_chromium_with_read_back_and_double_press() {
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
        "Sandbox bank:",
    );
    let bank_url = demo.url.clone();
    let chat_url = demo
        .stdout_lines
        .iter()
        .find(|l| l.contains("Open the web chat:"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .unwrap()
        .trim_end_matches('/')
        .to_owned();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let driver = ChromeDriver::start().await.unwrap();
    let c = driver.new_client().await.unwrap();

    // Link the bank on the bank's own page.
    c.goto(&format!("{chat_url}/?lang=pl")).await.unwrap();
    wait_for(&c, "body[data-ready=\"1\"]", WAIT).await.unwrap();
    type_and_send(&c, "połącz bank").await;
    let a = wait_for(&c, "a.bank-link", WAIT).await.unwrap();
    let href = a.attr("href").await.unwrap().unwrap();
    c.goto(&href).await.unwrap();
    wait_for(&c, "form", WAIT).await.unwrap();
    c.find(Locator::Css("input[name=psu_id]"))
        .await
        .unwrap()
        .send_keys("anna")
        .await
        .unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("demo")
        .await
        .unwrap();
    c.find(Locator::Css("button[value=approve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&c, "#callback-title", WAIT).await.unwrap();
    c.find(Locator::Css("a[href=\"/\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&c, "body[data-ready=\"1\"]", WAIT).await.unwrap();

    // The list, as the bank has it.
    type_and_send(&c, "moje karty").await;
    wait_text(&c, "Twoje karty", 1).await;
    wait_text(&c, "aktywna", 1).await;
    assert!(count_text(&c, "••••").await >= 1);
    assert!(bank_statuses(&bank_url).await.iter().all(|s| s == "active"));
    screenshot(&c, "cards-pl-list.png").await.unwrap();

    // Block: pick the card if asked, read-back, confirm with the button.
    type_and_send(&c, "zablokuj kartę").await;
    let deadline = Instant::now() + WAIT;
    loop {
        if count_text(&c, "Zablokować tymczasowo").await >= 1 {
            break;
        }
        if count_text(&c, "Którą kartę zablokować").await >= 1 {
            click_button(&c, "••••").await;
            wait_text(&c, "Zablokować tymczasowo", 1).await;
            break;
        }
        assert!(Instant::now() < deadline, "no read-back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    screenshot(&c, "cards-pl-read-back.png").await.unwrap();
    click_button(&c, "Tak, zablokuj").await;
    wait_text(&c, "jest zablokowana", 1).await;
    let statuses = bank_statuses(&bank_url).await;
    assert_eq!(
        statuses.iter().filter(|s| *s == "blocked").count(),
        1,
        "{statuses:?}"
    );
    screenshot(&c, "cards-pl-blocked.png").await.unwrap();

    // The same button again: nothing is done twice.
    click_button(&c, "Tak, zablokuj").await;
    wait_text(&c, "już zostało zrobione", 1).await;
    assert_eq!(count_text(&c, "jest zablokowana").await, 1);
    assert_eq!(bank_statuses(&bank_url).await, statuses);
    screenshot(&c, "cards-pl-double-press.png").await.unwrap();
    c.close().await.unwrap();
}
