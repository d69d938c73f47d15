//! The masked card list (issue 10): on Messenger (a platform that reads everything) "moje karty"
//! comes back as a view link; the bank's page behind it shows the cards once, and the gate
//! audits that view under `service.cards`, the purpose the cards were read for, never under
//! `service.balance`. Real processes: `okienko sandbox-bank`, `okienko serve` with Messenger on,
//! and a local Graph API stand-in that records every Send API call.

mod support;

use serde_json::Value;
use support::messenger::*;
use support::*;

/// The customer's cards at the bank: their last four digits.
async fn last_fours(bank: &str, psu: &str) -> Vec<String> {
    let v: Value = http()
        .get(format!("{bank}/sandbox/customers/{psu}/cards"))
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
        .map(|c| {
            let m = c["maskedPan"].as_str().unwrap();
            m[m.len() - 4..].to_owned()
        })
        .collect()
}

/// The audit lines of the access log that name the masked-reply view.
fn view_lines(log: &str) -> Vec<String> {
    log.split("\\n")
        .filter(|l| l.contains("view.masked_reply"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_masked_card_list_is_viewed_under_service_cards() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let (graph, graph_url) = fake_graph().await;
    let gw = spawn_messenger_gateway(dir.path(), &bank.url, &graph_url, &[]);
    let psid = "7654321098760001";

    let from = graph.count();
    say(&gw.url, psid, "m_link", "połącz bank").await;
    let link = graph
        .wait_for(from, "with the consent link", |c| {
            c.to_string().contains(&bank.url)
        })
        .await;
    let consent_url = link["message"]["attachment"]["payload"]["buttons"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let from = graph.count();
    let callback = approve_at_bank(&consent_url, "anna", "demo", "approve").await;
    assert_eq!(http().get(&callback).send().await.unwrap().status(), 200);
    graph
        .wait_for(from, "after the bank confirmed", |c| {
            c["messaging_type"] == "UPDATE"
        })
        .await;

    let fours = last_fours(&bank.url, "anna").await;
    assert!(!fours.is_empty());
    let from = graph.count();
    say(&gw.url, psid, "m_cards", "moje karty").await;
    let masked = graph
        .wait_for(from, "with a view link", |c| view_url(c).is_some())
        .await;
    let text = masked.to_string();
    assert!(text.contains("Lista Twoich kart jest gotowa"), "{text}");
    for f in &fours {
        assert!(
            !text.contains(&format!("•••• {f}")),
            "a card number reached Meta: {text}"
        );
    }
    let url = view_url(&masked).unwrap();
    let r = http().post(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Twoje karty"), "{html}");
    for f in &fours {
        assert!(
            html.contains(f.as_str()),
            "card {f} not on the page: {html}"
        );
    }

    // The view is on the customer's record under the cards' purpose.
    let from = graph.count();
    say(&gw.url, psid, "m_log", "kto widział moje dane?").await;
    let log = graph
        .wait_for(from, "with the access log", |c| {
            c.to_string().contains("view.masked_reply")
        })
        .await
        .to_string();
    let lines = view_lines(&log);
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("service.cards"), "{}", lines[0]);
    assert!(!lines[0].contains("service.balance"), "{}", lines[0]);
}
