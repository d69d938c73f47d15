//! Messenger end to end over real processes: `okienko sandbox-bank` and `okienko serve` with
//! Messenger on, a local fake Graph API (axum, in this test) that records every Send API call and
//! enforces Meta's documented limits, and webhook deliveries shaped as Meta documents them,
//! signed with the demo app secret. Nothing here mocks okienko itself.

mod support;

use std::time::Duration;

use okienko::messenger::{DEMO_APP_SECRET, DEMO_VERIFY_TOKEN};
use okienko_channels::messenger::signature::sign;
use serde_json::{Value, json};
use support::messenger::*;
use support::*;

const PAGE: &str = "1234567890";
const HOOK: &str = "/channels/messenger/webhook";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A delivery as Meta sends it: one entry, one messaging item.
fn delivery(psid: &str, ts: i64, item: Value) -> Vec<u8> {
    let mut m = json!({"sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": ts});
    for (k, v) in item.as_object().unwrap() {
        m[k] = v.clone();
    }
    serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": PAGE, "time": ts, "messaging": [m]}]}),
    )
    .unwrap()
}

fn text_event(psid: &str, mid: &str, text: &str) -> Vec<u8> {
    delivery(
        psid,
        now_ms(),
        json!({"message": {"mid": mid, "text": text}}),
    )
}

async fn post_hook(gw: &str, body: &[u8], signature: Option<String>) -> (u16, String) {
    let mut req = http()
        .post(format!("{gw}{HOOK}"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn send_signed(gw: &str, body: &[u8]) -> (u16, String) {
    post_hook(gw, body, Some(sign(DEMO_APP_SECRET, body))).await
}

fn to_psid(psid: &str) -> impl Fn(&Value) -> bool + '_ {
    move |c: &Value| c["recipient"]["id"] == psid
}

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
        format!("{}.{frac}", group(",")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_check_echoes_the_challenge_only_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let (_graph, graph_url) = fake_graph().await;
    let gw = spawn_messenger_gateway(
        dir.path(),
        &bank.url,
        &graph_url,
        &[("OKIENKO_BANK__RETRY_AFTER_SECS", "1".to_owned())],
    );
    let get = |q: String| {
        let url = format!("{}{HOOK}?{q}", gw.url);
        async move {
            let r = http().get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let ok = get(format!(
        "hub.mode=subscribe&hub.verify_token={DEMO_VERIFY_TOKEN}&hub.challenge=1158201444"
    ))
    .await;
    assert_eq!(ok, (200, "1158201444".to_owned()));
    let wrong =
        get("hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444".into()).await;
    assert_eq!(wrong.0, 403);
    assert!(!wrong.1.contains("1158201444"));
    let no_mode = get(format!(
        "hub.verify_token={DEMO_VERIFY_TOKEN}&hub.challenge=1"
    ))
    .await;
    assert_eq!(no_mode.0, 403);
    let other_mode = get(format!(
        "hub.mode=unsubscribe&hub.verify_token={DEMO_VERIFY_TOKEN}&hub.challenge=1"
    ))
    .await;
    assert_eq!(other_mode.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_conversation_is_signed_deduplicated_and_never_shows_money() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let (graph, graph_url) = fake_graph().await;
    let gw = spawn_messenger_gateway(
        dir.path(),
        &bank.url,
        &graph_url,
        &[("OKIENKO_BANK__RETRY_AFTER_SECS", "1".to_owned())],
    );
    let psid = "6543210987654321";

    // A greeting: answered with messaging_type RESPONSE to the sender's PSID.
    let hello = text_event(psid, "m_hello", "cześć");
    assert_eq!(send_signed(&gw.url, &hello).await.0, 200);
    let first = graph
        .wait_for(0, "answering the greeting", to_psid(psid))
        .await;
    assert_eq!(first["messaging_type"], "RESPONSE", "{first}");
    assert!(first["tag"].is_null());
    // Let the answer finish before counting calls.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Forged, missing, malformed signatures and a replay: refused, and no Send API call.
    let before = graph.count();
    let ask = text_event(psid, "m_forged", "ile mam na koncie?");
    let forged = post_hook(&gw.url, &ask, Some(sign("not-the-app-secret", &ask))).await;
    assert_eq!(forged.0, 403, "{forged:?}");
    assert_eq!(post_hook(&gw.url, &ask, None).await.0, 401);
    assert_eq!(
        post_hook(&gw.url, &ask, Some("sha256=zz".into())).await.0,
        403
    );
    assert_eq!(
        post_hook(&gw.url, &ask, Some(sign(DEMO_APP_SECRET, b"{}")))
            .await
            .0,
        403,
        "a signature of another body"
    );
    // The same signed delivery again (Meta's retry, or an attacker's replay).
    assert_eq!(send_signed(&gw.url, &hello).await.0, 409);
    // A correctly signed event stamped two hours ago.
    let stale = delivery(
        psid,
        now_ms() - 2 * 3_600_000,
        json!({"message": {"mid": "m_stale", "text": "cześć"}}),
    );
    assert_eq!(send_signed(&gw.url, &stale).await.0, 409);
    // Not a page webhook, and garbage, even when signed.
    assert_eq!(send_signed(&gw.url, b"{\"object\":\"user\"}").await.0, 400);
    assert_eq!(send_signed(&gw.url, b"\xff\x00garbage").await.0, 400);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(graph.count(), before, "{:#?}", graph.calls());

    // A quick reply and a postback reach the conversation as button presses.
    let from = graph.count();
    let qr = delivery(
        psid,
        now_ms(),
        json!({"message": {"mid": "m_qr", "text": "Pomoc", "quick_reply": {"payload": "intent:help"}}}),
    );
    assert_eq!(send_signed(&gw.url, &qr).await.0, 200);
    let help = graph
        .wait_for(from, "answering a quick reply", |c| {
            to_psid(psid)(c) && c["message"]["quick_replies"].is_array()
        })
        .await;
    let qrs = help["message"]["quick_replies"].as_array().unwrap();
    assert!(!qrs.is_empty() && qrs.len() <= 13, "{help}");
    let from = graph.count();
    let pb = delivery(
        psid,
        now_ms(),
        json!({"postback": {"mid": "m_pb", "title": "Pomoc", "payload": "intent:help"}}),
    );
    assert_eq!(send_signed(&gw.url, &pb).await.0, 200);
    graph
        .wait_for(from, "answering a postback", to_psid(psid))
        .await;

    // Linking: the consent link arrives as a button template with a URL button.
    let from = graph.count();
    assert_eq!(
        send_signed(&gw.url, &text_event(psid, "m_link", "połącz bank"))
            .await
            .0,
        200
    );
    let link = graph
        .wait_for(from, "with the consent link", |c| {
            c["message"]["attachment"]["payload"]["template_type"] == "button"
        })
        .await;
    assert_eq!(link["messaging_type"], "RESPONSE");
    let button = &link["message"]["attachment"]["payload"]["buttons"][0];
    assert_eq!(button["type"], "web_url", "{link}");
    let consent_url = button["url"].as_str().unwrap().to_owned();
    assert!(consent_url.starts_with(&bank.url), "{consent_url}");
    let callback = approve_at_bank(&consent_url, "anna", "demo", "approve").await;
    let page = http().get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // The bank confirmed: okienko writes first, inside the window, so UPDATE.
    let pushed = graph
        .wait_for(from, "after the bank confirmed", |c| {
            c["messaging_type"] == "UPDATE"
        })
        .await;
    assert_eq!(pushed["recipient"]["id"], psid);

    // A balance question: a masked answer with a link to the bank-owned view, no amounts.
    let from = graph.count();
    assert_eq!(
        send_signed(&gw.url, &text_event(psid, "m_bal", "ile mam na koncie?"))
            .await
            .0,
        200
    );
    let masked = graph
        .wait_for(from, "with a view link", |c| {
            c.to_string().contains("/view/")
        })
        .await;
    assert_eq!(masked["messaging_type"], "RESPONSE");
    let from = graph.count();
    assert_eq!(
        send_signed(
            &gw.url,
            &text_event(psid, "m_tx", "pokaż ostatnie transakcje")
        )
        .await
        .0,
        200
    );
    graph
        .wait_for(from, "answering transactions", to_psid(psid))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Nothing that went to Meta holds a balance or a transaction amount.
    let truth = bank_truth(&bank.url, "anna").await;
    let mut amounts = Vec::new();
    for acc in truth["accounts"].as_array().unwrap() {
        amounts.push(
            acc["balances"]["interimAvailable"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        for t in acc["transactions"].as_array().unwrap() {
            let a = t["amount"].as_str().unwrap();
            // Small amounts ("5.00") could match unrelated digits; the rest are distinctive.
            if a.trim_start_matches('-').len() >= 5 {
                amounts.push(a.to_owned());
            }
        }
    }
    let sent = serde_json::to_string(&graph.calls()).unwrap();
    for a in &amounts {
        for form in amount_forms(a) {
            assert!(!sent.contains(&form), "amount {form} was sent to Meta");
        }
    }
    assert!(
        graph.refused.lock().unwrap().is_empty(),
        "{:?}",
        graph.refused
    );
    // The gateway's log holds no message text.
    let log = gw.log();
    assert!(
        !log.contains("ile mam na koncie"),
        "message text in the log"
    );
}

/// The account-link button's URL in a Send API call, if the call holds one.
fn account_link_url(call: &Value) -> Option<String> {
    let b = &call["message"]["attachment"]["payload"]["buttons"][0];
    (b["type"] == "account_link").then(|| b["url"].as_str().unwrap().to_owned())
}

/// Opens the account-link page as Meta does (with its token and redirect_uri); returns the
/// status and the Location header.
async fn open_account_link(url: &str, redirect: &str) -> (u16, Option<String>) {
    let r = http()
        .get(url)
        .query(&[
            ("account_linking_token", "ALT-1"),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), loc)
}

const META_REDIRECT: &str =
    "https://www.facebook.com/messenger_platform/account_linking/?account_linking_token=ALT-1";

fn code_in(location: &str) -> Option<String> {
    location
        .split_once("authorization_code=")
        .map(|(_, c)| c.split('&').next().unwrap().to_owned())
}

/// Asks for the account-link button and walks Meta's side of it: returns the authorization code.
async fn get_code(gw: &str, graph: &Graph, psid: &str, mid: &str) -> String {
    let from = graph.count();
    let pb = delivery(
        psid,
        now_ms(),
        json!({"postback": {"mid": mid, "title": "Połącz", "payload": "MESSENGER_ACCOUNT_LINK"}}),
    );
    assert_eq!(send_signed(gw, &pb).await.0, 200);
    let call = graph
        .wait_for(from, "with the account-link button", |c| {
            to_psid(psid)(c) && account_link_url(c).is_some()
        })
        .await;
    assert_eq!(call["messaging_type"], "RESPONSE");
    let url = account_link_url(&call).unwrap();
    assert!(url.starts_with(gw), "{url}");
    let (status, loc) = open_account_link(&url, META_REDIRECT).await;
    assert_eq!(status, 303);
    let loc = loc.unwrap();
    assert!(loc.starts_with(META_REDIRECT), "{loc}");
    code_in(&loc).unwrap()
}

fn linking(psid: &str, ts: i64, status: &str, code: Option<&str>) -> Vec<u8> {
    let mut al = json!({"status": status});
    if let Some(c) = code {
        al["authorization_code"] = json!(c);
    }
    delivery(psid, ts, json!({"account_linking": al}))
}

/// Meta's account linking completes only with the code the gateway issued for that PSID, once,
/// in time; after a gateway restart a replayed webhook is still refused and the PSID links hold
/// (a push reaches a linked PSID that has not written since); `unlinked` drops the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_links_survive_a_restart_and_account_linking_takes_only_its_own_code() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let (graph, graph_url) = fake_graph().await;
    // One address for both runs: the bank's consent redirect (and OAuth's redirect_uri check)
    // must find the gateway again after the restart.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = [
        ("OKIENKO_BANK__RETRY_AFTER_SECS", "1".to_owned()),
        ("OKIENKO_MESSENGER__ACCOUNT_LINK_TTL_SECS", "8".to_owned()),
        ("OKIENKO_LISTEN", format!("127.0.0.1:{port}")),
    ];
    let mut gw = spawn_messenger_gateway(dir.path(), &bank.url, &graph_url, &env);
    let (anna, john) = ("5550001112223334", "5550001112229999");

    let hello = text_event(anna, "m_r_hello", "cześć");
    assert_eq!(send_signed(&gw.url, &hello).await.0, 200);
    graph.wait_for(0, "answering anna", to_psid(anna)).await;
    let from = graph.count();
    assert_eq!(
        send_signed(&gw.url, &text_event(john, "m_r_john", "cześć"))
            .await
            .0,
        200
    );
    graph.wait_for(from, "answering john", to_psid(john)).await;

    // The account-link page: Meta's redirect only, and each state once.
    let from = graph.count();
    let pb = delivery(
        anna,
        now_ms(),
        json!({"postback": {"mid": "m_r_pb0", "title": "Połącz", "payload": "MESSENGER_ACCOUNT_LINK"}}),
    );
    assert_eq!(send_signed(&gw.url, &pb).await.0, 200);
    let call = graph
        .wait_for(from, "with the account-link button", |c| {
            account_link_url(c).is_some()
        })
        .await;
    let url = account_link_url(&call).unwrap();
    let evil = open_account_link(&url, "https://evil.example/cb").await;
    assert_eq!(evil, (400, None));
    let first = open_account_link(&url, META_REDIRECT).await;
    assert_eq!(first.0, 303);
    assert!(code_in(first.1.as_deref().unwrap()).is_some());
    let again = open_account_link(&url, META_REDIRECT).await;
    assert_eq!(
        again,
        (303, Some(META_REDIRECT.to_owned())),
        "a state works once"
    );
    let forged = open_account_link(
        &format!("{}/channels/messenger/account-link?state=forged", gw.url),
        META_REDIRECT,
    )
    .await;
    assert_eq!(forged, (303, Some(META_REDIRECT.to_owned())));

    // Anna's code, brought by john: refused, and anna's code is still good.
    let code = get_code(&gw.url, &graph, anna, "m_r_pb1").await;
    let from = graph.count();
    let foreign = linking(john, now_ms(), "linked", Some(&code));
    assert_eq!(send_signed(&gw.url, &foreign).await.0, 200);
    graph
        .wait_for(from, "refusing john", |c| {
            to_psid(john)(c) && c.to_string().contains("Nie udało się połączyć")
        })
        .await;
    let from = graph.count();
    let own = linking(anna, now_ms(), "linked", Some(&code));
    assert_eq!(send_signed(&gw.url, &own).await.0, 200);
    graph
        .wait_for(from, "confirming anna's link", |c| {
            to_psid(anna)(c) && c.to_string().contains("Messenger jest połączony")
        })
        .await;
    // The same code again (a new event, so no replay): used.
    let from = graph.count();
    let reused = linking(anna, now_ms() + 1, "linked", Some(&code));
    assert_eq!(send_signed(&gw.url, &reused).await.0, 200);
    graph
        .wait_for(from, "refusing a used code", |c| {
            to_psid(anna)(c) && c.to_string().contains("Nie udało się połączyć")
        })
        .await;
    // A code past its lifetime.
    let late = get_code(&gw.url, &graph, anna, "m_r_pb2").await;
    tokio::time::sleep(Duration::from_secs(9)).await;
    let from = graph.count();
    let expired = linking(anna, now_ms(), "linked", Some(&late));
    assert_eq!(send_signed(&gw.url, &expired).await.0, 200);
    graph
        .wait_for(from, "refusing an expired code", |c| {
            to_psid(anna)(c) && c.to_string().contains("Nie udało się połączyć")
        })
        .await;

    // Anna starts linking her bank, then the gateway restarts before she approves.
    let from = graph.count();
    assert_eq!(
        send_signed(&gw.url, &text_event(anna, "m_r_link", "połącz bank"))
            .await
            .0,
        200
    );
    let link = graph
        .wait_for(from, "with anna's consent link", |c| {
            to_psid(anna)(c) && c["message"]["attachment"]["payload"]["template_type"] == "button"
        })
        .await;
    let anna_consent = link["message"]["attachment"]["payload"]["buttons"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let from = graph.count();
    assert_eq!(
        send_signed(&gw.url, &text_event(john, "m_r_link2", "połącz bank"))
            .await
            .0,
        200
    );
    let link = graph
        .wait_for(from, "with john's consent link", |c| {
            to_psid(john)(c) && c["message"]["attachment"]["payload"]["template_type"] == "button"
        })
        .await;
    let john_consent = link["message"]["attachment"]["payload"]["buttons"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let old_url = gw.url.clone();
    gw.kill();
    let gw = spawn_messenger_gateway(dir.path(), &bank.url, &graph_url, &env);
    assert_eq!(gw.url, old_url);

    // A delivery handled before the restart, replayed after it: refused, nothing sent.
    let before = graph.count();
    assert_eq!(send_signed(&gw.url, &hello).await.0, 409);
    assert_eq!(send_signed(&gw.url, &own).await.0, 409);

    // Anna approves at the bank: the push reaches her PSID though she has not written since
    // the restart.
    let callback = approve_at_bank(&anna_consent, "anna", "demo", "approve").await;
    assert_eq!(http().get(&callback).send().await.unwrap().status(), 200);
    let pushed = graph
        .wait_for(before, "the push after the restart", |c| {
            to_psid(anna)(c) && c["messaging_type"] == "UPDATE"
        })
        .await;
    assert_eq!(pushed["recipient"]["id"], anna);
    // And her questions are answered (masked).
    let from = graph.count();
    assert_eq!(
        send_signed(&gw.url, &text_event(anna, "m_r_bal", "ile mam na koncie?"))
            .await
            .0,
        200
    );
    graph
        .wait_for(from, "with a view link", |c| {
            to_psid(anna)(c) && c.to_string().contains("/view/")
        })
        .await;

    // John unlinks: told so, and a push no longer reaches him.
    let from = graph.count();
    let unlink = linking(john, now_ms(), "unlinked", None);
    assert_eq!(send_signed(&gw.url, &unlink).await.0, 200);
    graph
        .wait_for(from, "confirming the unlink", |c| {
            to_psid(john)(c) && c.to_string().contains("odłączony")
        })
        .await;
    let from = graph.count();
    let callback = approve_at_bank(&john_consent, "john", "demo", "approve").await;
    assert_eq!(http().get(&callback).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !graph.calls().iter().skip(from).any(|c| to_psid(john)(c)),
        "a push reached an unlinked PSID: {:#?}",
        graph.calls()
    );
    assert!(
        graph.refused.lock().unwrap().is_empty(),
        "{:?}",
        graph.refused
    );
    let log = gw.log();
    assert!(
        !log.contains(anna) && !log.contains(&code),
        "a PSID or code in the log"
    );
}
