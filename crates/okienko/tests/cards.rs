//! Cards and category corrections end to end over real processes: `okienko sandbox-bank` and
//! `okienko serve`, customers linked at the sandbox bank, the web chat over a real WebSocket.
//! Every card change is checked through the bank's own API (the control route lists each card's
//! status, and a pushed payment is declined while no card is active); corrections are checked in
//! the next spending summary of the customer who made them, and of another who did not.

mod support;

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::*;

const WAIT: Duration = Duration::from_secs(60);

/// The customer's cards as the sandbox bank's control API lists them.
async fn sandbox_cards(bank: &str, psu: &str) -> Vec<Value> {
    let v: Value = http()
        .get(format!("{bank}/sandbox/customers/{psu}/cards"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["cards"].as_array().unwrap().clone()
}

/// The bank's own list of the customer's cards: (last four, status).
async fn bank_cards(bank: &str, psu: &str) -> Vec<(String, String)> {
    sandbox_cards(bank, psu)
        .await
        .iter()
        .map(|c| {
            let pan = c["maskedPan"].as_str().unwrap();
            (
                pan[pan.len() - 4..].to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The account of the card ending in `last4` (the bank's resource id).
async fn account_of(bank: &str, psu: &str, last4: &str) -> String {
    sandbox_cards(bank, psu)
        .await
        .iter()
        .find(|c| c["maskedPan"].as_str().unwrap().ends_with(last4))
        .unwrap()["accountId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Pushes a card payment on `account` at the bank; 201 when a card paid, 409 when none is active.
async fn pay(bank: &str, psu: &str, account: &str) -> u16 {
    http()
        .post(format!("{bank}/sandbox/customers/{psu}/transactions"))
        .json(&json!({ "amount": "12.30", "merchant": "KIOSK", "city": "WARSZAWA", "country": "PL", "card_present": true, "account": account }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn payloads(reply: &Value) -> Vec<(String, String)> {
    reply["quick_replies"]
        .as_array()
        .map(|q| {
            q.iter()
                .map(|b| {
                    (
                        b["label"].as_str().unwrap_or_default().to_owned(),
                        b["payload"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn button(reply: &Value, prefix: &str) -> String {
    payloads(reply)
        .into_iter()
        .map(|(_, p)| p)
        .find(|p| p.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} button in {reply}"))
}

/// Every reply that arrives within `wait`.
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

/// Asks for an action on a card and answers a "which card" question with the first one.
async fn ask_for(chat: &mut Chat, text: &str, read_back: &str) -> Value {
    chat.say(text).await;
    let r = chat.expect("any", "", WAIT).await;
    if r.to_string().contains("card:pick:") {
        chat.press(&button(&r, "card:pick:")).await;
        return chat.expect("any", read_back, WAIT).await;
    }
    assert!(r.to_string().contains(read_back), "{r}");
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polish_list_block_unblock_and_double_press() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    let mut chat = Chat::connect(&gw.url, "pl").await;
    link(&mut chat, "połącz bank", "anna").await;
    drain(&mut chat, Duration::from_secs(2)).await;

    // The list: masked, with brand, account and status, as the bank has them.
    let truth = bank_cards(&bank.url, "anna").await;
    assert!(!truth.is_empty());
    chat.say("moje karty").await;
    let list = chat.expect("text", "Twoje karty", WAIT).await;
    assert_eq!(list["sensitivity"], "financial");
    let text = list.to_string();
    for (last4, status) in &truth {
        assert_eq!(status, "active");
        assert!(text.contains(&format!("•••• {last4}")), "{text}");
    }
    assert!(text.contains("aktywna"), "{text}");
    assert!(
        text.contains("Visa") || text.contains("Mastercard"),
        "{text}"
    );
    assert!(!text.contains("************"), "only the last four: {text}");

    // Block: a read-back first; nothing changes until the customer confirms.
    let read_back = ask_for(&mut chat, "zablokuj kartę", "Zablokować tymczasowo kartę").await;
    let yes = button(&read_back, "card:yes:");
    let no = button(&read_back, "card:no:");
    assert!(
        bank_cards(&bank.url, "anna")
            .await
            .iter()
            .all(|(_, s)| s == "active")
    );
    chat.press(&yes).await;
    let done = chat.expect("any", "Gotowe", WAIT).await;
    let blocked: Vec<(String, String)> = bank_cards(&bank.url, "anna")
        .await
        .into_iter()
        .filter(|(_, s)| s == "blocked")
        .collect();
    assert_eq!(blocked.len(), 1, "exactly one card frozen");
    assert!(done.to_string().contains(&blocked[0].0), "{done}");
    let account = account_of(&bank.url, "anna", &blocked[0].0).await;
    assert_eq!(
        pay(&bank.url, "anna", &account).await,
        409,
        "a frozen card declines"
    );

    // A double press and a stale "no" do nothing.
    chat.press(&yes).await;
    chat.expect("any", "już zostało zrobione", WAIT).await;
    chat.press(&no).await;
    chat.expect("any", "nic", WAIT).await;
    let after: Vec<(String, String)> = bank_cards(&bank.url, "anna").await;
    assert_eq!(
        after.iter().filter(|(_, s)| s == "blocked").count(),
        1,
        "{after:?}"
    );

    // Unblock, confirmed by typing (without diacritics).
    let read_back = ask_for(&mut chat, "odblokuj karte", "Odblokować kartę").await;
    let old_yes = button(&read_back, "card:yes:");
    chat.say("tak").await;
    chat.expect("any", "znów aktywna", WAIT).await;
    assert!(
        bank_cards(&bank.url, "anna")
            .await
            .iter()
            .all(|(_, s)| s == "active")
    );
    assert_eq!(
        pay(&bank.url, "anna", &account).await,
        201,
        "an active card pays"
    );
    // The unblock's button after the typed answer: already done, not repeated.
    chat.press(&old_yes).await;
    chat.expect("any", "już zostało zrobione", WAIT).await;

    // Every card read and action went through the gate and is in the customer's access log.
    chat.say("kto widział moje dane?").await;
    let log = chat.expect("any", "service.cards", WAIT).await.to_string();
    for action in ["read.cards", "card.block", "card.unblock"] {
        assert!(log.contains(action), "{action} in {log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_report_stolen_orders_a_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    let mut chat = Chat::connect(&gw.url, "en").await;
    link(&mut chat, "connect my bank", "john").await;
    drain(&mut chat, Duration::from_secs(2)).await;
    let before = bank_cards(&bank.url, "john").await;

    let read_back = ask_for(&mut chat, "my card was stolen", "Report card").await;
    assert!(
        read_back.to_string().contains("cannot be undone"),
        "{read_back}"
    );
    // "yes" alone is not enough for something permanent.
    chat.say("yes").await;
    chat.expect("any", "is not enough", WAIT).await;
    assert_eq!(bank_cards(&bank.url, "john").await, before);
    // The card's last four digits confirm it.
    let text = read_back.to_string();
    let last4 = before
        .iter()
        .map(|(l, _)| l.clone())
        .find(|l| text.contains(&format!("•••• {l}")))
        .expect("the read-back names one of john's cards");
    chat.say(&last4).await;
    let done = chat.expect("any", "stopped for good", WAIT).await;
    let after = bank_cards(&bank.url, "john").await;
    assert!(
        after.contains(&(last4.clone(), "stolen".to_owned())),
        "{after:?}"
    );
    let ordered: Vec<&(String, String)> = after.iter().filter(|(_, s)| s == "ordered").collect();
    assert_eq!(ordered.len(), 1, "one replacement ordered: {after:?}");
    assert!(done.to_string().contains(&ordered[0].0), "{done}");

    // A stolen card cannot be unblocked, and the list shows both cards.
    chat.say("unblock my card").await;
    chat.expect("any", "None of your cards is frozen", WAIT)
        .await;
    chat.say("show my cards").await;
    let list = chat.expect("text", "Your cards", WAIT).await;
    let list = list.to_string();
    assert!(list.contains("reported stolen"), "{list}");
    assert!(list.contains("ordered, on its way"), "{list}");
    let account = account_of(&bank.url, "john", &last4).await;
    assert_eq!(
        pay(&bank.url, "john", &account).await,
        409,
        "no active card pays"
    );
}

/// The category lines of a summary (before "Najwięcej u:"): label → amount.
fn categories(reply: &Value) -> Vec<(String, Decimal)> {
    let text = reply["parts"][0]["text"].as_str().unwrap();
    text.lines()
        .skip(1)
        .take_while(|l| !l.starts_with("Najwięcej u:"))
        .filter_map(|l| l.strip_prefix("• "))
        .map(|l| {
            let (label, rest) = l.split_once(": ").unwrap();
            let amount = rest.split(" (").next().unwrap();
            (label.to_owned(), pl_amount(amount))
        })
        .collect()
}

/// The merchant lines: name → amount.
fn merchants(reply: &Value) -> Vec<(String, Decimal)> {
    let text = reply["parts"][0]["text"].as_str().unwrap();
    text.lines()
        .skip_while(|l| !l.starts_with("Najwięcej u:"))
        .skip(1)
        .filter_map(|l| l.strip_prefix("• "))
        .filter_map(|l| {
            let (name, rest) = l.rsplit_once(": ")?;
            Some((name.to_owned(), pl_amount(rest.split(" (").next()?)))
        })
        .collect()
}

fn pl_amount(s: &str) -> Decimal {
    let digits: String = s
        .trim()
        .trim_end_matches('.')
        .trim_end_matches("zł")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    digits
        .replace(',', ".")
        .parse()
        .unwrap_or_else(|_| panic!("amount {s:?}"))
}

fn amount_of(list: &[(String, Decimal)], label: &str) -> Decimal {
    list.iter()
        .find(|(l, _)| l == label)
        .map(|(_, a)| *a)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_change_the_next_summary_of_that_customer_only() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    // Two customers of the gateway with the same bank data (both sign in as anna).
    let mut me = Chat::connect(&gw.url, "pl").await;
    link(&mut me, "połącz bank", "anna").await;
    let mut other = Chat::connect(&gw.url, "pl").await;
    link(&mut other, "połącz bank", "anna").await;

    const ASK: &str = "ile wydałem w zeszłym miesiącu?";
    me.say(ASK).await;
    let first = me.expect("text", "Wydatki", WAIT).await;
    other.say(ASK).await;
    let theirs_before = other.expect("text", "Wydatki", WAIT).await;
    assert_eq!(categories(&first), categories(&theirs_before));

    // The button under the summary: pick the top merchant, then a new category for it.
    let fix = button(&first, "cat:fix:");
    me.press(&fix).await;
    let pick = me.expect("any", "Kategorię którego sklepu", WAIT).await;
    let (label, payload) = payloads(&pick).into_iter().next().unwrap();
    // "Biedronka (Zakupy)" when it fits Messenger's 20 characters, else the name alone.
    let merchant = label
        .rsplit_once(" (")
        .map_or(label.as_str(), |(m, _)| m)
        .to_owned();
    let merchant = merchant.as_str();
    let spent = amount_of(&merchants(&first), merchant);
    assert!(spent > Decimal::ZERO, "{merchant} in {first}");
    me.press(&payload).await;
    let cats = me.expect("any", "Jaka to kategoria", WAIT).await;
    // Every category but the merchant's current one is offered.
    let offered: Vec<String> = payloads(&cats).into_iter().map(|(l, _)| l).collect();
    let all = [
        "Zakupy spożywcze",
        "Jedzenie na mieście",
        "Transport",
        "Paliwo",
        "Zakupy",
        "Zdrowie i uroda",
        "Subskrypcje",
        "Rachunki",
        "Gotówka",
        "Przelewy",
        "Wpływy",
        "Inne",
    ];
    let missing: Vec<&str> = all
        .into_iter()
        .filter(|c| !offered.iter().any(|o| o == c))
        .collect();
    assert_eq!(missing.len(), 1, "{offered:?}");
    let current = missing[0].to_owned();
    let target = if current == "Gotówka" {
        "Inne"
    } else {
        "Gotówka"
    };
    let set = payloads(&cats)
        .into_iter()
        .find(|(l, _)| l == target)
        .unwrap()
        .1;
    me.press(&set).await;
    me.expect("any", "Zapamiętane", WAIT).await;

    me.say(ASK).await;
    let second = me.expect("text", "Wydatki", WAIT).await;
    let (b, a) = (categories(&first), categories(&second));
    assert_eq!(
        amount_of(&a, target),
        amount_of(&b, target) + spent,
        "{first}\n{second}"
    );
    assert_eq!(
        amount_of(&a, &current),
        amount_of(&b, &current) - spent,
        "{first}\n{second}"
    );

    // Typed: "<merchant> to zakupy spożywcze" moves it again.
    let next = if current == "Zakupy spożywcze" {
        ("transport", "Transport")
    } else {
        ("zakupy spożywcze", "Zakupy spożywcze")
    };
    me.say(&format!("{merchant} to {}", next.0)).await;
    me.expect("any", "Zapamiętane", WAIT).await;
    me.say(ASK).await;
    let third = me.expect("text", "Wydatki", WAIT).await;
    let c = categories(&third);
    assert_eq!(amount_of(&c, target), amount_of(&b, target), "{third}");
    assert_eq!(
        amount_of(&c, next.1),
        amount_of(&b, next.1) + spent,
        "{third}"
    );

    // The other customer's summary has not changed.
    other.say(ASK).await;
    let theirs_after = other.expect("text", "Wydatki", WAIT).await;
    assert_eq!(categories(&theirs_after), categories(&theirs_before));

    // A button of an older summary changes nothing.
    me.press(&set).await;
    me.expect("any", "starszego podsumowania", WAIT).await;

    // Disconnecting erases the corrections with the rest of the customer's data.
    me.say("odłącz bank").await;
    me.expect("any", "", WAIT).await;
    link(&mut me, "połącz bank", "anna").await;
    me.say(ASK).await;
    let relinked = me.expect("text", "Wydatki", WAIT).await;
    assert_eq!(categories(&relinked), categories(&first), "{relinked}");
}

/// A read-back left unanswered goes stale when the customer moves on: its button then does
/// nothing, and the bank's card is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_back_goes_stale_when_the_customer_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    let mut chat = Chat::connect(&gw.url, "pl").await;
    link(&mut chat, "połącz bank", "anna").await;
    drain(&mut chat, Duration::from_secs(2)).await;
    let read_back = ask_for(&mut chat, "zablokuj kartę", "Zablokować tymczasowo kartę").await;
    let yes = button(&read_back, "card:yes:");
    chat.say("moje karty").await;
    chat.expect("text", "Twoje karty", WAIT).await;
    chat.press(&yes).await;
    chat.expect("any", "nieaktualna", WAIT).await;
    // Typing "tak" now confirms nothing either.
    chat.say("tak").await;
    let r = chat.expect("any", "", WAIT).await;
    assert!(!r.to_string().contains("Gotowe"), "{r}");
    assert!(
        bank_cards(&bank.url, "anna")
            .await
            .iter()
            .all(|(_, s)| s == "active"),
        "a stale confirmation blocked nothing"
    );
}
