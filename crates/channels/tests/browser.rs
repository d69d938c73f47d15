//! The web chat page in a real headless Chromium (chromedriver + fantoccini), against a real
//! WebChat on 127.0.0.1 with the recording test conversation behind it.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver; without them the test fails and says how
//! to install them.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/conversation.rs"]
mod conversation;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use browser::{ChromeDriver, screenshot, wait_for, wait_for_count};
use conversation::{TestConversation, balance_text};
use fantoccini::{Client, Locator};
use okienko_channels::{WebChat, WebChatConfig};
use okienko_core::Lang;
use okienko_dialog::{InboundEvent, Outbox, Reply};

const WAIT: Duration = Duration::from_secs(15);
const ENTER: &str = "\u{e007}";

struct App {
    addr: SocketAddr,
    chat: WebChat,
    conv: Arc<TestConversation>,
}

async fn spawn_app() -> anyhow::Result<App> {
    // WebDriver types nine messages, each with its typing frame, and reloads the page within
    // about two seconds, faster than the default limit (10 frames at once, 5 a second) lets a
    // person: on a fast run the last message was refused as too many. The limit has a test of its
    // own (`tests/ws.rs`); this one is about the page.
    let chat = WebChat::new(WebChatConfig {
        rate_burst: 100,
        ..WebChatConfig::default()
    });
    let conv = TestConversation::new();
    chat.attach(conv.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = chat.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(App { addr, chat, conv })
}

async fn text(client: &Client, css: &str) -> anyhow::Result<String> {
    Ok(wait_for(client, css, WAIT).await?.text().await?)
}

async fn attr(client: &Client, css: &str, name: &str) -> anyhow::Result<String> {
    Ok(wait_for(client, css, WAIT)
        .await?
        .attr(name)
        .await?
        .unwrap_or_default())
}

async fn title(client: &Client) -> anyhow::Result<String> {
    Ok(client.title().await?)
}

async fn type_and_send(client: &Client, words: &str) -> anyhow::Result<()> {
    let input = wait_for(client, "#chat-input", WAIT).await?;
    input.send_keys(&format!("{words}{ENTER}")).await?;
    Ok(())
}

/// Waits until the conversation has received `n` events.
async fn events_reach(app: &App, n: usize) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    while app.conv.events().len() < n {
        ensure!(
            started.elapsed() < WAIT,
            "the conversation got {:?}",
            app.conv.received()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn last_text(client: &Client, css: &str) -> anyhow::Result<String> {
    let all = client.find_all(Locator::Css(css)).await?;
    match all.last() {
        Some(e) => Ok(e.text().await?),
        None => Ok(String::new()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_chat_in_a_real_browser() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let app = spawn_app().await?;
    let driver = ChromeDriver::start().await?;
    let client = driver.new_client().await?;
    let outcome = scenario(&client, &app).await;
    if outcome.is_err() {
        let _ = screenshot(&client, "webchat-failure.png").await;
    }
    let _ = client.close().await;
    outcome
}

async fn scenario(client: &Client, app: &App) -> anyhow::Result<()> {
    let base = format!("http://{}", app.addr);

    // Polish UI from ?lang=pl.
    client.goto(&format!("{base}/?lang=pl")).await?;
    wait_for(client, "body[data-ready='1']", WAIT)
        .await
        .context("the welcome frame never arrived")?;
    ensure!(title(client).await? == "Okienko — czat z bankiem");
    ensure!(text(client, "#title").await? == "Okienko — czat z bankiem");
    ensure!(attr(client, "#chat-input", "placeholder").await? == "Napisz wiadomość…");
    ensure!(text(client, "#chat-send").await? == "Wyślij");
    ensure!(text(client, "#conn-state").await? == "Połączono");
    ensure!(attr(client, "html", "lang").await? == "pl");
    ensure!(attr(client, "#messages", "aria-live").await? == "polite");

    // "balance" + Enter shows a balance card with the amount.
    type_and_send(client, "balance").await?;
    let card = wait_for(client, ".msg.bot .balance-card", WAIT).await?;
    let amount = card
        .find(Locator::Css(".balance-amount"))
        .await?
        .text()
        .await?;
    ensure!(amount == balance_text(), "balance shown as {amount:?}");
    ensure!(card.text().await?.contains("PL61 •••• 2874"));
    ensure!(text(client, ".msg.me").await? == "balance");
    ensure!(attr(client, "#chat-input", "value").await?.is_empty());
    let shot = screenshot(client, "webchat-balance.png").await?;
    let png = std::fs::read(&shot)?;
    ensure!(
        png.starts_with(b"\x89PNG"),
        "{} is not a PNG",
        shot.display()
    );

    let customer = app.conv.events()[0].0;
    ensure!(app.conv.events()[0].1 == Some(Lang::Pl));

    // A transactions table: real <table>, pending in italics, totals, and "Więcej".
    type_and_send(client, "table").await?;
    let table = wait_for(client, "table.tx-table", WAIT).await?;
    let heads: Vec<String> = {
        let mut v = Vec::new();
        for th in table.find_all(Locator::Css("thead th")).await? {
            v.push(th.text().await?);
        }
        v
    };
    ensure!(
        heads.iter().map(|h| h.to_lowercase()).collect::<Vec<_>>() == ["data", "opis", "kwota"],
        "{heads:?}"
    );
    ensure!(table.find_all(Locator::Css("tbody tr")).await?.len() == 2);
    let pending = table.find(Locator::Css("tbody tr.pending td.desc")).await?;
    ensure!(pending.css_value("font-style").await? == "italic");
    ensure!(pending.text().await?.contains("Biedronka"));
    let totals = table.find(Locator::Css("tfoot tr")).await?.text().await?;
    ensure!(
        totals.contains("Razem") && totals.contains("4 950,01 zł"),
        "{totals}"
    );
    let more = wait_for(client, ".more-button", WAIT).await?;
    ensure!(more.text().await? == "Więcej");
    more.click().await?;
    events_reach(app, 3).await?;
    ensure!(app.conv.events()[2].2 == InboundEvent::QuickReply("tx:page:1".into()));
    wait_for_count(client, ".msg.bot", 3, WAIT).await?;
    ensure!(last_text(client, ".msg.bot").await? == "quick: tx:page:1");

    // Quick replies: buttons that send their payload and show their label as mine.
    type_and_send(client, "menu").await?;
    let buttons = wait_for_count(client, ".quick-reply", 2, WAIT).await?;
    ensure!(buttons[0].text().await? == "Pokaż saldo");
    buttons[0].click().await?;
    events_reach(app, 5).await?;
    ensure!(app.conv.events()[4].2 == InboundEvent::QuickReply("balance".into()));
    ensure!(last_text(client, ".msg.me").await? == "Pokaż saldo");
    wait_for_count(client, ".balance-card", 2, WAIT).await?;

    // Text is text: markup in a message never becomes markup on the page.
    let evil = "<img src=x onerror=\"document.body.dataset.pwned='1'\"><b>bold</b>";
    type_and_send(client, evil).await?;
    wait_for_count(client, ".msg.bot", 6, WAIT).await?;
    ensure!(last_text(client, ".msg.bot").await? == format!("echo: {evil}"));
    ensure!(
        client
            .find_all(Locator::Css("#messages img, #messages b"))
            .await?
            .is_empty()
    );
    ensure!(attr(client, "body", "data-pwned").await?.is_empty());

    // Links: https opens in a new tab; javascript: is not a link at all.
    type_and_send(client, "link").await?;
    let link = wait_for(client, "a.bank-link", WAIT).await?;
    ensure!(link.attr("href").await?.as_deref() == Some("https://bank.example/consent?id=1"));
    ensure!(link.attr("target").await?.as_deref() == Some("_blank"));
    ensure!(
        link.attr("rel")
            .await?
            .unwrap_or_default()
            .contains("noopener")
    );
    ensure!(link.text().await?.contains("Połącz bank"));
    ensure!(client.find_all(Locator::Css("a.bank-link")).await?.len() == 1);
    ensure!(
        client
            .find_all(Locator::Css("a[href^='javascript']"))
            .await?
            .is_empty()
    );

    // An Outbox push arrives on the open page.
    app.chat
        .push(customer, Reply::text("Twój bank jest połączony"));
    wait_for_count(client, ".msg.bot", 8, WAIT).await?;
    ensure!(last_text(client, ".msg.bot").await? == "Twój bank jest połączony");

    // The PL/EN toggle switches the UI and the language sent in hello, keeping the session.
    wait_for(client, "#lang-en", WAIT).await?.click().await?;
    ensure!(title(client).await? == "Okienko — chat with your bank");
    ensure!(attr(client, "#chat-input", "placeholder").await? == "Type a message…");
    ensure!(text(client, "#chat-send").await? == "Send");
    ensure!(text(client, ".more-button").await? == "More");
    ensure!(attr(client, "html", "lang").await? == "en");
    ensure!(attr(client, "#lang-en", "aria-pressed").await? == "true");
    let started = std::time::Instant::now();
    while text(client, "#conn-state").await? != "Connected" {
        ensure!(
            started.elapsed() < WAIT,
            "never reconnected after the toggle"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    type_and_send(client, "hello").await?;
    events_reach(app, 8).await?;
    let (who, lang, event) = app.conv.events()[7].clone();
    ensure!(event == InboundEvent::Text("hello".into()));
    ensure!(who == customer, "the toggle kept the same customer");
    ensure!(lang == Some(Lang::En));
    wait_for_count(client, ".msg.bot", 9, WAIT).await?;
    ensure!(
        client.find_all(Locator::Css(".msg.bot")).await?.len() == 9,
        "reconnecting replayed nothing already shown"
    );

    // A reload resumes the session (token in localStorage) and shows English from ?lang=en.
    client.refresh().await?;
    wait_for(client, "body[data-ready='1']", WAIT).await?;
    ensure!(title(client).await? == "Okienko — chat with your bank");
    type_and_send(client, "after reload").await?;
    events_reach(app, 9).await?;
    ensure!(app.conv.events()[8].0 == customer);
    Ok(())
}
