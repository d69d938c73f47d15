//! The README's first command as a new user meets it: `okienko demo` in a real headless Chromium.
//! The customer connects the bank on the bank's own page, comes back to the chat, asks for the
//! balance and sees the balance card, in Polish and in English. Screenshots are kept under
//! `$CARGO_TARGET_DIR/screenshots/`.

mod support;

use std::time::Duration;

use fantoccini::{Client, Locator};
use rust_decimal::Decimal;
use support::browser::{ChromeDriver, screenshot, wait_for};
use support::*;

const WAIT: Duration = Duration::from_secs(60);

async fn type_and_send(c: &Client, text: &str) {
    let input = wait_for(c, "#chat-input", WAIT).await.unwrap();
    input.send_keys(&format!("{text}\n")).await.unwrap();
}

/// Connects the bank as `psu` and asks for the balance; returns the amounts on the card.
async fn demo_in_browser(
    c: &Client,
    chat_url: &str,
    lang: &str,
    psu: &str,
    link: &str,
    ask: &str,
) -> Vec<String> {
    c.goto(&format!("{chat_url}/?lang={lang}")).await.unwrap();
    wait_for(c, "body[data-ready=\"1\"]", WAIT).await.unwrap();
    type_and_send(c, link).await;
    let a = wait_for(c, "a.bank-link", WAIT).await.unwrap();
    let href = a.attr("href").await.unwrap().unwrap();

    // The bank's page: what is shared and until when, then sign in and approve.
    c.goto(&href).await.unwrap();
    let body = wait_for(c, "form", WAIT).await.unwrap();
    let _ = body;
    let page = c.source().await.unwrap();
    assert!(page.contains("psu_id"));
    c.find(Locator::Css("input[name=psu_id]"))
        .await
        .unwrap()
        .send_keys(psu)
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

    // Back at the gateway: the callback page, then the chat, resumed.
    wait_for(c, "#callback-title", WAIT).await.unwrap();
    c.find(Locator::Css("a[href=\"/\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(c, "body[data-ready=\"1\"]", WAIT).await.unwrap();
    type_and_send(c, ask).await;
    wait_for(c, ".balance-card", WAIT).await.unwrap();
    let mut amounts = Vec::new();
    for el in c
        .find_all(Locator::Css(".balance-card .balance-amount"))
        .await
        .unwrap()
    {
        amounts.push(el.text().await.unwrap());
    }
    amounts
}

/// Each account's available balance in the bank's own books.
async fn available_at_bank(bank_url: &str, psu: &str) -> Vec<Decimal> {
    bank_truth(bank_url, psu).await["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a["balances"]["interimAvailable"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

fn parse_shown(s: &str) -> Decimal {
    // "1 234,56 zł" / "$1,234.56" → 1234.56
    let neg = s.contains('-');
    let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    let v = Decimal::new(digits.parse::<i64>().unwrap(), 2);
    if neg { -v } else { v }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_conversation_in_chromium_in_polish_and_english() {
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

    let pl = driver.new_client().await.unwrap();
    let shown = demo_in_browser(
        &pl,
        &chat_url,
        "pl",
        "anna",
        "połącz bank",
        "ile mam na koncie?",
    )
    .await;
    screenshot(&pl, "demo-pl-balance.png").await.unwrap();
    let mut expected = available_at_bank(&bank_url, "anna").await;
    let mut got: Vec<Decimal> = shown.iter().map(|s| parse_shown(s)).collect();
    assert!(shown.iter().all(|s| s.ends_with("zł")), "{shown:?}");
    expected.sort();
    got.sort();
    assert_eq!(got, expected);

    // A spending summary: its charts are real images the browser decoded, with their words.
    type_and_send(&pl, "ile wydałem w zeszłym miesiącu?").await;
    wait_for(&pl, "img.chart-image", WAIT).await.unwrap();
    let loaded = pl
        .execute(
            "const imgs = [...document.querySelectorAll('img.chart-image')];\
             return imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt.length > 0]);",
            vec![],
        )
        .await
        .unwrap();
    let loaded = loaded.as_array().unwrap();
    assert_eq!(loaded.len(), 2, "{loaded:?}");
    for img in loaded {
        assert_eq!(img, &serde_json::json!([true, 640, 360, true]));
    }
    screenshot(&pl, "demo-pl-summary.png").await.unwrap();
    pl.close().await.unwrap();

    let en = driver.new_client().await.unwrap();
    let shown = demo_in_browser(
        &en,
        &chat_url,
        "en",
        "john",
        "connect my bank",
        "whats my balance",
    )
    .await;
    screenshot(&en, "demo-en-balance.png").await.unwrap();
    assert!(shown.iter().all(|s| s.contains('$')), "{shown:?}");
    let expected = available_at_bank(&bank_url, "john").await;
    let got: Vec<Decimal> = shown.iter().map(|s| parse_shown(s)).collect();
    assert_eq!(got, expected);
    en.close().await.unwrap();
}
