//! Pushed replies are masked per channel, end to end over real processes: `okienko sandbox-bank`,
//! `okienko serve` with Messenger on, the local fake Graph API that records every Send API call,
//! and a real web chat WebSocket.
//!
//! A push names no channel; each channel masks it for itself. The account list the bank's
//! confirmation pushes (a Financial reply) arrives in full in the bank's own web chat, and on
//! Messenger (a platform that reads everything) as "your account list is ready" with a
//! single-use link to the bank's page, which shows it once. Opening that link again shows
//! nothing and tells the customer in the chat, once, when it was first opened (a leaked link
//! does not go unnoticed).

mod support;

use std::time::Duration;

use support::messenger::*;
use support::*;

/// The customer's accounts at the bank: (name, IBAN).
async fn accounts(bank: &str, psu: &str) -> Vec<(String, String)> {
    bank_truth(bank, psu).await["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["iban"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn post(url: &str) -> (u16, String) {
    let r = http().post(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_financial_push_is_shown_in_the_web_chat_and_masked_with_a_view_link_on_messenger() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let (graph, graph_url) = fake_graph().await;
    let gw = spawn_messenger_gateway(
        dir.path(),
        &bank.url,
        &graph_url,
        &[("OKIENKO_LOG", "debug,hyper=info,h2=info".to_owned())],
    );

    // The web chat (the bank's own page): the pushed account list arrives in full.
    let mut chat = Chat::connect(&gw.url, "en").await;
    link(&mut chat, "connect my bank", "john").await;
    let list = chat
        .replies
        .iter()
        .rev()
        .find(|r| r.to_string().contains("account_list"))
        .cloned()
        .expect("the pushed account list");
    let johns = accounts(&bank.url, "john").await;
    assert!(!johns.is_empty());
    for (name, _) in &johns {
        assert!(list.to_string().contains(name.as_str()), "{name} in {list}");
    }

    // Messenger: the same kind of push arrives masked, with a link to the bank's page.
    let psid = "5432109876543210";
    let from = graph.count();
    say(&gw.url, psid, "m_link", "połącz bank").await;
    let consent = graph
        .wait_for(from, "with the consent link", |c| {
            c.to_string().contains(&bank.url)
        })
        .await;
    let consent_url = consent["message"]["attachment"]["payload"]["buttons"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let from = graph.count();
    let callback = approve_at_bank(&consent_url, "anna", "demo", "approve").await;
    assert_eq!(http().get(&callback).send().await.unwrap().status(), 200);
    let pushed = graph
        .wait_for(from, "the pushed account list", |c| {
            c["messaging_type"] == "UPDATE" && view_url(c).is_some()
        })
        .await;
    assert_eq!(pushed["recipient"]["id"], psid);
    let sent = pushed.to_string();
    assert!(
        sent.contains("Lista Twoich rachunków jest gotowa"),
        "{sent}"
    );
    let annas = accounts(&bank.url, "anna").await;
    assert!(!annas.is_empty());
    for (name, iban) in &annas {
        assert!(
            !sent.contains(name.as_str()),
            "account name {name} sent to Meta"
        );
        assert!(!sent.contains(iban.as_str()), "an IBAN sent to Meta");
    }
    assert!(
        !sent.contains("account_list") && !sent.contains("generic"),
        "{sent}"
    );
    // Nothing else that went to Meta names the accounts either (no "withheld" fallback, no
    // second copy).
    let everything = serde_json::to_string(&graph.calls()).unwrap();
    for (name, iban) in &annas {
        assert!(!everything.contains(name.as_str()));
        assert!(!everything.contains(iban.as_str()));
    }
    assert!(!everything.contains("Nie pokażę ich na Messengerze"));

    // The bank's page shows the list once.
    let url = view_url(&pushed).unwrap();
    assert!(url.starts_with(&gw.url), "{url}");
    let (status, html) = post(&url).await;
    assert_eq!(status, 200, "{html}");
    for (name, _) in &annas {
        assert!(html.contains(name.as_str()), "{name} not on the page");
    }

    // Opened again: nothing shown, and the customer hears about it in the chat, once.
    let from = graph.count();
    let (status, html) = post(&url).await;
    assert_eq!(status, 410);
    for (name, _) in &annas {
        assert!(!html.contains(name.as_str()));
    }
    let notice = graph
        .wait_for(from, "the replay notice", |c| {
            c.to_string().contains("został już otwarty o")
        })
        .await;
    assert_eq!(notice["recipient"]["id"], psid);
    assert_eq!(notice["messaging_type"], "UPDATE");
    let text = notice.to_string();
    assert!(text.contains("jeśli to nie Ty"), "{text}");
    // "o HH:MM" in the customer's zone.
    let at = text.find("otwarty o ").unwrap() + "otwarty o ".len();
    let hhmm: String = text[at..].chars().take(5).collect();
    assert!(
        chrono::NaiveTime::parse_from_str(&hhmm, "%H:%M").is_ok(),
        "{hhmm}"
    );
    assert_eq!(post(&url).await.0, 410);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let notices = graph
        .calls()
        .iter()
        .filter(|c| c.to_string().contains("został już otwarty o"))
        .count();
    assert_eq!(notices, 1, "one notice per link");
    // The web chat customer was told nothing about Anna's link.
    assert!(
        !chat
            .replies
            .iter()
            .any(|r| r.to_string().contains("opened again"))
    );
    // The log holds neither the token nor the account names.
    let token = url.rsplit('/').next().unwrap();
    let log = gw.log();
    assert!(!log.contains(token), "a view token in the log");
    for (name, iban) in annas.iter().chain(&johns) {
        assert!(!log.contains(iban.as_str()), "an IBAN in the log");
        assert!(!log.contains(name.as_str()), "an account name in the log");
    }
}
