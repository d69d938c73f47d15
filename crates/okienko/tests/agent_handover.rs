//! What the agent gets when a conversation is handed over, through the real binary over real
//! WebSockets (`okienko demo`: its sandbox bank, the gateway, the console):
//!
//! - a fraud episode pushed through the sandbox bank's control API warns the customer; "Nie,
//!   zablokuj kartę" blocks the card, opens a fraud case and puts the customer in the agents'
//!   queue at once; the agent who claims it sees the case (the same number the customer was
//!   told) and the recent intents in the summary, and the customer's data through the gate;
//! - a half-filled transfer form shows in the summary by its fields, never their values;
//! - two misunderstandings in a row offer a person, and the button queues the customer;
//! - the customer's typing reaches the console of the agent holding the conversation, and only
//!   theirs.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::console::*;
use support::*;

const WAIT: Duration = Duration::from_secs(60);

fn demo(dir: &std::path::Path) -> (Proc, String) {
    let data = dir.join("data");
    let p = spawn(
        &[
            "demo",
            "--port",
            "0",
            "--data-dir",
            data.to_str().unwrap(),
            "--customers",
            "3",
        ],
        // Tests run at any hour: no quiet hours.
        &[("OKIENKO_GUARD__QUIET_HOURS", "00:00-00:00".to_owned())],
        dir,
        "Agent console:",
    );
    let bank = p
        .stdout_lines
        .iter()
        .find_map(|l| l.strip_prefix("Sandbox bank:"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    (p, bank)
}

/// Every reply within `wait`.
async fn drain(chat: &mut Chat, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return out;
        }
        let inner = left + Duration::from_secs(30);
        match tokio::time::timeout(left, chat.expect("any", "", inner)).await {
            Ok(r) => out.push(r),
            Err(_) => return out,
        }
    }
}

/// The queued conversation whose customer reference starts the customer's id.
fn queued_for<'a>(state: &'a Value, customer: &str) -> Option<&'a Value> {
    state["queue"].as_array()?.iter().find(|q| {
        q["customer_ref"]
            .as_str()
            .is_some_and(|r| customer.starts_with(r))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fraud_case_goes_to_the_agents_with_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, bank) = demo(dir.path());
    let console = gw.url.clone();
    let chat_url = console.trim_end_matches("/agent").to_owned();

    let mut chat = Chat::connect(&chat_url, "pl").await;
    link(&mut chat, "połącz bank", "anna").await;
    drain(&mut chat, Duration::from_secs(3)).await;
    let r = http()
        .post(format!("{bank}/sandbox/customers/anna/fraud-episode"))
        .json(&json!({ "count": 4, "amount": "1249.00" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    chat.say("ile mam na koncie?").await;
    let warning = chat.expect("any", "Czy to Ty?", WAIT).await;
    let no = warning["quick_replies"][1]["payload"]
        .as_str()
        .unwrap()
        .to_owned();

    // Nobody is queued before the answer.
    let cookie = sign_in(&console, "agent").await;
    let mut ws = console_ws(&console, Some(&cookie), None).await.unwrap();
    let state = until(&mut ws, WAIT, |v| v["type"] == "state").await;
    assert!(queued_for(&state, &chat.customer).is_none(), "{state}");

    // "Nie, zablokuj kartę": blocked, a case, and straight into the queue for a person.
    chat.press(&no).await;
    let done = chat.expect("any", "Zablokowałem", WAIT).await;
    let done = done.to_string();
    let case_ref = done
        .split("zgłoszenie oszustwa nr ")
        .nth(1)
        .unwrap()
        .chars()
        .take(8)
        .collect::<String>();
    assert_eq!(case_ref.len(), 8, "{done}");
    chat.expect("any", "łączę Cię z konsultantem", WAIT).await;
    let queued = chat.expect("any", "w kolejce", WAIT).await;
    assert!(queued.to_string().contains("handover:back"), "{queued}");

    // The console's queue shows it as a fraud handover; the agent claims it.
    let state = until(&mut ws, WAIT, |v| {
        v["type"] == "state" && queued_for(v, &chat.customer).is_some()
    })
    .await;
    let item = queued_for(&state, &chat.customer).unwrap();
    assert_eq!(item["reason"], "fraud", "{item}");
    let id = item["id"].as_str().unwrap().to_owned();
    send(&mut ws, json!({"type": "claim", "conversation": id})).await;
    let opened = until(&mut ws, WAIT, |v| v["type"] == "opened").await;
    let summary = &opened["summary"];
    assert_eq!(summary["reason"], "fraud", "{summary}");
    let cases = summary["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "{summary}");
    assert_eq!(cases[0]["reference"], case_ref.as_str(), "{summary}");
    assert!(
        cases[0]["cards_blocked"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    let intents: Vec<&str> = summary["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(intents.contains(&"link_bank"), "{intents:?}");
    assert!(intents.contains(&"balance"), "{intents:?}");
    assert!(summary["form"].is_null(), "{summary}");
    // The summary holds no amount; the customer's data comes through the gate, apart.
    assert!(!summary.to_string().contains("1249"), "{summary}");
    assert!(!summary.to_string().contains("1 249"), "{summary}");
    assert!(
        opened["customer"]["accounts"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{opened}"
    );
    chat.expect("any", "dołącza do rozmowy", WAIT).await;

    // The customer types: the agent holding the conversation sees it.
    chat.typing().await;
    let typing = until(&mut ws, WAIT, |v| v["type"] == "customer_typing").await;
    assert_eq!(typing["conversation"], id.as_str());

    // The agent answers; the customer reads it.
    send(
        &mut ws,
        json!({"type": "reply", "conversation": id, "text": "Karta jest zablokowana, zamówimy nową."}),
    )
    .await;
    chat.expect("any", "zamówimy nową", WAIT).await;

    let log = gw.log();
    assert!(
        log.contains("fraud case handed to the agents' queue"),
        "{log}"
    );
    assert_no_amounts(&log, &["1249", "1 249"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_form_shows_in_the_summary_and_typing_reaches_only_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, _bank) = demo(dir.path());
    let console = gw.url.clone();
    let chat_url = console.trim_end_matches("/agent").to_owned();

    // A transfer form left half-filled, then a person.
    let mut chat = Chat::connect(&chat_url, "pl").await;
    chat.say("przelej 50 zł").await;
    chat.expect("any", "", WAIT).await;
    chat.say("chcę rozmawiać z konsultantem").await;
    chat.expect("any", "w kolejce", WAIT).await;

    // Two misunderstandings in a row: the bot offers a person, and the button queues.
    let mut lost = Chat::connect(&chat_url, "pl").await;
    lost.say("qwerty asdfgh zxcvbn").await;
    lost.expect("any", "", WAIT).await;
    lost.say("blorp zzyzx qwghlm").await;
    // (Gibberish may switch the conversation to English: look for the button, not the words.)
    let offer = lost.expect("any", "intent:agent", WAIT).await;
    let payloads: Vec<&str> = offer["quick_replies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|q| q["payload"].as_str())
        .collect();
    assert_eq!(payloads, ["intent:agent", "intent:help"], "{offer}");
    lost.press("intent:agent").await;
    lost.expect("any", "handover:back", WAIT).await;

    let ola = sign_in(&console, "agent").await;
    let mut ola_ws = console_ws(&console, Some(&ola), None).await.unwrap();
    let jan = sign_in(&console, "agent2").await;
    let mut jan_ws = console_ws(&console, Some(&jan), None).await.unwrap();
    let state = until(&mut ola_ws, WAIT, |v| {
        v["type"] == "state"
            && queued_for(v, &chat.customer).is_some()
            && queued_for(v, &lost.customer).is_some()
    })
    .await;
    let id = queued_for(&state, &chat.customer).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(&mut ola_ws, json!({"type": "claim", "conversation": id})).await;
    let opened = until(&mut ola_ws, WAIT, |v| v["type"] == "opened").await;
    let summary = &opened["summary"];
    assert_eq!(summary["reason"], "customer_asked", "{summary}");
    assert!(summary["cases"].as_array().unwrap().is_empty(), "{summary}");
    let form = &summary["form"];
    assert_eq!(form["kind"], "transfer", "{summary}");
    assert_eq!(form["filled"], json!(["amount"]), "{summary}");
    assert_eq!(form["missing"], json!(["recipient"]), "{summary}");
    assert_eq!(form["awaiting_confirmation"], false, "{summary}");
    let intents = summary["intents"].to_string();
    assert!(
        intents.contains("transfer") && intents.contains("agent"),
        "{intents}"
    );
    // Fields, never values.
    assert!(!summary.to_string().contains("50"), "{summary}");

    // Typing: Ola (who holds it) sees it; Jan, signed in at the same bank, does not, and
    // typing in a chat that only the queue holds reaches nobody.
    lost.typing().await;
    chat.typing().await;
    until(&mut ola_ws, WAIT, |v| {
        v["type"] == "customer_typing" && v["conversation"] == id.as_str()
    })
    .await;
    chat.say("Halo?").await;
    until(&mut ola_ws, WAIT, |v| v["type"] == "line").await;
    let quiet = tokio::time::timeout(
        Duration::from_secs(2),
        until(&mut jan_ws, Duration::from_secs(30), |v| {
            v["type"] == "customer_typing" || v["type"] == "line"
        }),
    )
    .await;
    assert!(quiet.is_err(), "another agent saw the customer: {quiet:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_stay_private_a_transfer_moves_the_conversation_and_the_customer_can_leave() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, _bank) = demo(dir.path());
    let console = gw.url.clone();
    let chat_url = console.trim_end_matches("/agent").to_owned();

    let mut chat = Chat::connect(&chat_url, "pl").await;
    chat.say("chcę rozmawiać z konsultantem").await;
    chat.expect("any", "w kolejce", WAIT).await;

    let ola = sign_in(&console, "agent").await;
    let mut ola_ws = console_ws(&console, Some(&ola), None).await.unwrap();
    let jan = sign_in(&console, "agent2").await;
    let mut jan_ws = console_ws(&console, Some(&jan), None).await.unwrap();
    let state = until(&mut ola_ws, WAIT, |v| {
        v["type"] == "state" && queued_for(v, &chat.customer).is_some()
    })
    .await;
    let id = queued_for(&state, &chat.customer).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(&mut ola_ws, json!({"type": "claim", "conversation": id})).await;
    until(&mut ola_ws, WAIT, |v| v["type"] == "opened").await;
    chat.expect("any", "dołącza do rozmowy", WAIT).await;

    // The agent types: the customer's chat shows the typing indicator.
    send(&mut ola_ws, json!({"type": "typing", "conversation": id})).await;
    assert!(
        chat.frame_of_type("typing", WAIT).await.is_some(),
        "no typing indicator in the web chat"
    );
    // A typing frame for a conversation Ola does not hold is refused.
    send(&mut jan_ws, json!({"type": "typing", "conversation": id})).await;
    let err = until(&mut jan_ws, WAIT, |v| v["type"] == "error").await;
    assert_eq!(err["code"], "forbidden", "{err}");

    // A private note reaches the console, never the customer; the reply does.
    send(
        &mut ola_ws,
        json!({"type": "note", "conversation": id, "text": "Klient pyta o limit"}),
    )
    .await;
    let note = until(&mut ola_ws, WAIT, |v| {
        v["type"] == "line" && v["line"]["note"] == true
    })
    .await;
    assert_eq!(note["line"]["text"], "Klient pyta o limit");
    send(
        &mut ola_ws,
        json!({"type": "reply", "conversation": id, "text": "Już sprawdzam."}),
    )
    .await;
    chat.expect("any", "Już sprawdzam.", WAIT).await;
    assert!(
        !chat
            .replies
            .iter()
            .any(|r| r.to_string().contains("pyta o limit")),
        "the note reached the customer: {:?}",
        chat.replies
    );

    // Ola transfers to Jan: he holds it at once and sees the customer's next words; Ola no longer.
    send(
        &mut ola_ws,
        json!({"type": "transfer", "conversation": id, "target": {"kind": "agent", "to": "agent2"}}),
    )
    .await;
    until(&mut ola_ws, WAIT, |v| v["type"] == "transferred").await;
    until(&mut jan_ws, WAIT, |v| {
        v["type"] == "state"
            && v["mine"]
                .as_array()
                .is_some_and(|m| m.iter().any(|c| c["id"] == id.as_str()))
    })
    .await;
    send(&mut jan_ws, json!({"type": "open", "conversation": id})).await;
    let opened = until(&mut jan_ws, WAIT, |v| v["type"] == "opened").await;
    assert!(
        opened["transcript"].to_string().contains("Już sprawdzam."),
        "{opened}"
    );
    chat.say("Czy jest ktoś?").await;
    let line = until(&mut jan_ws, WAIT, |v| {
        v["type"] == "line" && v["line"]["sender"]["kind"] == "customer"
    })
    .await;
    assert_eq!(line["line"]["text"], "Czy jest ktoś?");
    send(
        &mut jan_ws,
        json!({"type": "reply", "conversation": id, "text": "Tu Jan, przejąłem sprawę."}),
    )
    .await;
    let from_jan = chat.expect("any", "przejąłem sprawę", WAIT).await;
    assert!(from_jan.to_string().contains("Jan"), "{from_jan}");

    // The customer goes back to the bot: Jan's console says so, and the bot answers again.
    chat.say("wróć do bota").await;
    chat.expect("any", "Wróciłeś", WAIT).await;
    let ended = until(&mut jan_ws, WAIT, |v| v["type"] == "ended").await;
    assert_eq!(ended["conversation"], id.as_str());
    assert_eq!(ended["by_customer"], true);
    chat.say("pomoc").await;
    chat.expect("any", "Potrafię", WAIT).await;

    // Ola, who gave it away, saw none of the customer's words after the transfer.
    let quiet = tokio::time::timeout(
        Duration::from_secs(2),
        until(&mut ola_ws, Duration::from_secs(30), |v| {
            v["type"] == "line" || v["type"] == "ended"
        }),
    )
    .await;
    assert!(quiet.is_err(), "Ola still saw the conversation: {quiet:?}");
}
