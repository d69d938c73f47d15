//! Masked replies end to end over real processes: `okienko sandbox-bank` and `okienko serve` with
//! Messenger on (a platform that reads everything, so financial answers are masked), a local
//! Graph API stand-in (axum, in this test) that records every Send API call, and signed webhook
//! deliveries. The customer's balance question comes back as a link to `/view/{token}`; the page
//! shows the bank's own numbers once, a replay and a link made before "odłącz bank" show nothing,
//! and neither Meta nor the log ever sees an amount or a token.

mod support;

use support::messenger::*;
use support::*;

/// Every way an amount could be written: 1234.56, 1234,56, 1 234,56, 1,234.56.
fn amount_forms(decimal: &str) -> Vec<String> {
    let abs = decimal.trim_start_matches('-');
    let (int, frac) = abs.split_once('.').unwrap_or((abs, "00"));
    let group = |sep: &str| {
        let d: Vec<char> = int.chars().collect();
        let mut out = String::new();
        for (i, c) in d.iter().enumerate() {
            if i > 0 && (d.len() - i).is_multiple_of(3) {
                out.push_str(sep);
            }
            out.push(*c);
        }
        out
    };
    vec![
        format!("{int}.{frac}"),
        format!("{int},{frac}"),
        format!("{},{frac}", group(" ")),
        format!("{},{frac}", group("\u{a0}")),
        format!("{},{frac}", group("\u{202f}")),
        format!("{}.{frac}", group(",")),
    ]
}

async fn page(method: reqwest::Method, url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let r = http().request(method, url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.text().await.unwrap(), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_balance_opens_once_on_the_bank_page_and_never_reaches_meta_or_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let (graph, graph_url) = fake_graph().await;
    let gw = spawn_messenger_gateway(
        dir.path(),
        &bank.url,
        &graph_url,
        // Everything the gateway logs, so the scan below sees every line.
        &[("OKIENKO_LOG", "debug,hyper=info,h2=info".to_owned())],
    );
    let psid = "7654321098765432";

    // Link the bank from Messenger (the consent page is the bank's own).
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
    let truth = bank_truth(&bank.url, "anna").await;
    let balances: Vec<String> = truth["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a["balances"]["interimAvailable"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();

    // The balance question: masked, with a link to the bank's page.
    let from = graph.count();
    say(&gw.url, psid, "m_bal", "ile mam na koncie?").await;
    let masked = graph
        .wait_for(from, "with a view link", |c| view_url(c).is_some())
        .await;
    assert!(
        masked.to_string().contains("Twoje saldo jest gotowe"),
        "{masked}"
    );
    let url = view_url(&masked).unwrap();
    assert!(url.starts_with(&gw.url), "{url}");
    let token = url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(token.len(), 43);

    // GET only asks (link previews cannot use the link up) and shows nothing.
    let (status, html, headers) = page(reqwest::Method::GET, &url).await;
    assert_eq!(status, 200);
    assert!(html.contains("view-show"));
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    for b in &balances {
        for form in amount_forms(b) {
            assert!(!html.contains(&form));
        }
    }
    // POST shows the bank's own numbers, once.
    let (status, html, _) = page(reqwest::Method::POST, &url).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("view-content"));
    for b in &balances {
        assert!(
            amount_forms(b).iter().any(|f| html.contains(f)),
            "balance {b} not on the page: {html}"
        );
    }
    // A replay shows nothing.
    let (status, html, _) = page(reqwest::Method::POST, &url).await;
    assert_eq!(status, 410);
    assert!(
        html.contains("view-gone") && html.contains("już użyty"),
        "{html}"
    );
    for b in &balances {
        for form in amount_forms(b) {
            assert!(!html.contains(&form), "a replay showed {form}");
        }
    }
    // A guessed token shows nothing either.
    let guess = format!("{}/view/{}", gw.url, "A".repeat(43));
    assert_eq!(page(reqwest::Method::POST, &guess).await.0, 410);

    // A link made before "odłącz bank" is gone after it.
    let from = graph.count();
    say(&gw.url, psid, "m_bal2", "ile mam na koncie?").await;
    let pending = graph
        .wait_for(from, "with a second link", |c| view_url(c).is_some())
        .await;
    let pending = view_url(&pending).unwrap();
    assert_ne!(pending, url);
    let from = graph.count();
    say(&gw.url, psid, "m_revoke", "odłącz bank").await;
    graph
        .wait_for(from, "confirming the disconnect", |c| {
            c.to_string().contains("Odłączyłem")
        })
        .await;
    let (status, html, _) = page(reqwest::Method::POST, &pending).await;
    assert_eq!(status, 410, "{html}");
    for b in &balances {
        for form in amount_forms(b) {
            assert!(!html.contains(&form));
        }
    }

    // Meta never saw an amount, and the log holds no amount, no token, no message text.
    let sent = graph.all();
    let log = gw.log();
    assert!(!log.is_empty());
    for b in &balances {
        for form in amount_forms(b) {
            assert!(!sent.contains(&form), "amount {form} was sent to Meta");
            assert!(!log.contains(&form), "amount {form} in the log");
        }
    }
    assert!(!log.contains(&token), "a view token in the log");
    assert!(
        !log.contains("ile mam na koncie"),
        "message text in the log"
    );
    for acc in truth["accounts"].as_array().unwrap() {
        if let Some(iban) = acc["iban"].as_str() {
            assert!(!log.contains(iban), "an IBAN in the log");
        }
    }
}
