//! Scale-out fault tests (issue 9) on real processes: three `okienko serve` gateways sharing one
//! PostgreSQL schema and one NATS JetStream stream, in front of one `okienko sandbox-bank`
//! (support/cluster.rs). Gateway 0 ("A") is started first and leads both leader leases
//! (`payments-status`, `bank-events`) before the other two start.
//!
//! 1. Any instance serves any customer: linked through A, asked on B and C, the balances shown
//!    are the sandbox bank's own.
//! 2. SIGKILL mid-payment, right after the confirmation was answered and, separately, while the
//!    payment initiation is in flight at the bank (a proxy holds it and passes it on after A
//!    died): the payment is made exactly once at the sandbox ledger, the payments lease moves to
//!    a surviving instance, and the receipt reaches the customer on another instance.
//! 3. SIGKILL mid-conversation: a transfer form half filled on A is finished on B.
//! 4. NATS stopped and started again (a nats-server of the test's own, on the same JetStream
//!    store directory): every instance keeps answering during the outage, and a payment's status
//!    event published after it reaches the customer on an instance other than the leader's.
//! 5. Every PostgreSQL connection of the gateways terminated: the next questions are answered,
//!    the leases are taken again (one holder each), an open payment finishes once, and the audit
//!    chain verifies.

mod support;

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;
use support::cluster::*;
use support::*;

/// The longest wait for one reply or one bank-side change.
const WAIT: Duration = Duration::from_secs(60);
/// The longest a whole test may take: a hang anywhere fails instead of blocking the suite.
const TEST_LIMIT: Duration = Duration::from_secs(420);
/// How long the leases may take to move (the lock dies with the killed process's connection;
/// the others retry every 3 s).
const LEASE_MOVE: Duration = Duration::from_secs(30);

async fn within(steps: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(TEST_LIMIT, steps).await.is_err() {
        panic!("the test did not finish within {TEST_LIMIT:?}");
    }
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
        .parse()
        .unwrap()
}

/// (currency, interimAvailable) of every account, as the bank itself says.
async fn bank_balances(bank: &str, psu: &str) -> Vec<(String, Decimal)> {
    let truth = bank_truth(bank, psu).await;
    let mut v: Vec<(String, Decimal)> = truth["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["currency"].as_str().unwrap().to_owned(),
                dec(&a["balances"]["interimAvailable"]),
            )
        })
        .collect();
    v.sort();
    v
}

fn shown_balances(reply: &Value) -> Vec<(String, Decimal)> {
    let mut v: Vec<(String, Decimal)> = part(reply, "balance_card")["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["currency"].as_str().unwrap().to_owned(),
                dec(&a["amount"]),
            )
        })
        .collect();
    v.sort();
    v
}

/// Asks for the balance and checks it against the bank's; returns how long the answer took.
async fn balance_matches(chat: &mut Chat, bank: &str, psu: &str, wait: Duration) -> Duration {
    let t = Instant::now();
    chat.say("what's my balance?").await;
    let reply = chat.expect("balance_card", "", wait).await;
    let took = t.elapsed();
    assert_eq!(shown_balances(&reply), bank_balances(bank, psu).await);
    took
}

/// Replies that arrive within `quiet` (nothing is expected: a second receipt would show here).
async fn replies_within(chat: &mut Chat, quiet: Duration) -> Vec<Value> {
    let before = chat.replies.len();
    let _ = chat.frame_of_type("none-such", quiet).await;
    chat.replies[before..].to_vec()
}

/// The transfer form up to its read-back, in English: amount, payee's IBAN, bank login, the
/// new-payee warning answered. Returns the read-back.
async fn fill_transfer(chat: &mut Chat, amount: u32, iban: &str) -> Value {
    chat.say(&format!("send {amount} PLN to John {}", spaced(iban)))
        .await;
    chat.expect("text", "login", WAIT).await;
    chat.say("anna").await;
    chat.expect("text", "new payee", WAIT).await;
    chat.say("yes").await;
    let read_back = chat.expect("text", "Please check", WAIT).await;
    assert!(
        text_of(&read_back).contains(&format!("{amount}.00")),
        "{}",
        text_of(&read_back)
    );
    read_back
}

/// The payment is at the bank exactly once, executed, and the ledger balances; the payee got
/// the amount once; the gateways' store holds exactly one payment, executed.
async fn paid_exactly_once(c: &Cluster, payee: &str, payee_before: Decimal, amount: u32) {
    let l = ledger(c.bank_url()).await;
    assert_eq!(l["consistent"], true, "{l}");
    assert_eq!(l["payments"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(payments_with_status(&l, "ACSC"), 1, "{l}");
    let after =
        bank_truth(c.bank_url(), payee).await["accounts"][0]["balances"]["interimAvailable"]
            .clone();
    assert_eq!(dec(&after) - payee_before, Decimal::from(amount));
    assert_eq!(
        c.schema
            .count("SELECT count(*) FROM {schema}.payments")
            .await,
        1
    );
    assert_eq!(
        c.schema
            .count("SELECT count(*) FROM {schema}.payments WHERE state = 'executed'")
            .await,
        1
    );
}

async fn payee_available(bank: &str, payee: &str) -> Decimal {
    dec(&bank_truth(bank, payee).await["accounts"][0]["balances"]["interimAvailable"])
}

/// Waits for a reply whose text contains `contains`; fails with the replies seen meanwhile and
/// the gateways' logs.
async fn expect_text(chat: &mut Chat, contains: &str, wait: Duration, c: &Cluster) -> Value {
    let deadline = Instant::now() + wait;
    let before = chat.replies.len();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match chat.frame_of_type("reply", left).await {
            Some(f) if text_of(&f["reply"]).contains(contains) => return f["reply"].clone(),
            Some(_) => {}
            None => panic!(
                "no reply containing {contains:?} within {wait:?}; got {:#?}\n{}",
                &chat.replies[before..],
                c.logs()
            ),
        }
    }
}

/// Waits for the receipt, then makes sure no second one follows.
async fn receipt_once(chat: &mut Chat, amount: u32, c: &Cluster) {
    let receipt = expect_text(chat, "Transfer made", WAIT, c).await;
    assert!(
        text_of(&receipt).contains(&format!("{amount}.00")),
        "{}",
        text_of(&receipt)
    );
    let more = replies_within(chat, Duration::from_secs(4)).await;
    assert!(
        !more.iter().any(|r| text_of(r).contains("Transfer made")),
        "a second receipt: {more:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_instance_serves_any_customer() {
    within(async {
        let c = Cluster::start(ClusterOptions::default()).await;
        // Linked through A...
        let mut chat = Chat::connect(c.url(0), "en").await;
        link(&mut chat, "connect my bank", "anna").await;
        balance_matches(&mut chat, c.bank_url(), "anna", WAIT).await;
        // ...asked on B and on C: the same customer, the bank's own figures.
        for i in [1, 2] {
            let mut on = resume(c.url(i), &chat, "en").await;
            balance_matches(&mut on, c.bank_url(), "anna", WAIT).await;
            chat = on;
        }
        // And the other way round: john linked through C, asked on A.
        let mut john = Chat::connect(c.url(2), "en").await;
        link(&mut john, "connect my bank", "john").await;
        let mut on_a = resume(c.url(0), &john, "en").await;
        balance_matches(&mut on_a, c.bank_url(), "john", WAIT).await;
    })
    .await;
}

/// A confirmed transfer, A killed right after it answered "approve in your bank's app".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_the_confirmation_pays_once_and_the_lease_moves() {
    within(async {
        let mut c = Cluster::start(ClusterOptions::default()).await;
        let (payee, iban) = pln_payee(c.bank_url()).await;
        let payee_before = payee_available(c.bank_url(), &payee).await;
        let mut chat = Chat::connect(c.url(0), "en").await;
        link(&mut chat, "connect my bank", "anna").await;
        let read_back = fill_transfer(&mut chat, 35, &iban).await;
        chat.press(&button(&read_back, "form:confirm:")).await;
        chat.expect("text", "bank's app", WAIT).await;
        let before = c.all_terms(PAYMENTS_LEASE);
        c.kill(0);

        let leader = c
            .wait_new_term(PAYMENTS_LEASE, &[1, 2], &before, LEASE_MOVE)
            .await;
        // The customer comes back on the instance that does not lead: the receipt must travel.
        let other = if leader == 1 { 2 } else { 1 };
        let mut chat = resume(c.url(other), &chat, "en").await;
        assert_eq!(
            wait_and_approve(c.bank_url(), "anna", WAIT).await,
            1,
            "one payment waits in the bank's app"
        );
        receipt_once(&mut chat, 35, &c).await;
        paid_exactly_once(&c, &payee, payee_before, 35).await;
        assert_eq!(c.schema.lease_holders(PAYMENTS_LEASE).await.len(), 1);
    })
    .await;
}

/// A confirmed transfer whose initiation is in flight at the bank when A is killed; the bank
/// makes it after A died and its answer goes nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_the_bank_call_is_in_flight_pays_once() {
    within(async {
        let mut c = Cluster::start(ClusterOptions {
            delay_proxy_for: Some(0),
            ..ClusterOptions::default()
        })
        .await;
        let (payee, iban) = pln_payee(c.bank_url()).await;
        let payee_before = payee_available(c.bank_url(), &payee).await;
        let mut chat = Chat::connect(c.url(0), "en").await;
        link(&mut chat, "connect my bank", "anna").await;
        let read_back = fill_transfer(&mut chat, 42, &iban).await;
        let proxy = c.proxy.as_ref().unwrap();
        proxy.hold_initiations(Duration::from_secs(5));
        chat.press(&button(&read_back, "form:confirm:")).await;
        proxy.wait_arrived(1, WAIT).await;
        let before = c.all_terms(PAYMENTS_LEASE);
        c.kill(0);
        let proxy = c.proxy.as_ref().unwrap();
        let in_flight = proxy.arrived.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            proxy.answered.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "A died before the bank answered"
        );

        let leader = c
            .wait_new_term(PAYMENTS_LEASE, &[1, 2], &before, LEASE_MOVE)
            .await;
        // The held initiation reaches the bank after A died.
        c.proxy
            .as_ref()
            .unwrap()
            .wait_answered(in_flight, Duration::from_secs(30))
            .await;
        let other = if leader == 1 { 2 } else { 1 };
        let mut chat = resume(c.url(other), &chat, "en").await;
        assert_eq!(
            wait_and_approve(c.bank_url(), "anna", WAIT).await,
            1,
            "one payment waits in the bank's app"
        );
        receipt_once(&mut chat, 42, &c).await;
        paid_exactly_once(&c, &payee, payee_before, 42).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_conversation_the_customer_continues_on_another_instance() {
    within(async {
        let mut c = Cluster::start(ClusterOptions::default()).await;
        let (payee, iban) = pln_payee(c.bank_url()).await;
        let payee_before = payee_available(c.bank_url(), &payee).await;
        let mut chat = Chat::connect(c.url(0), "en").await;
        link(&mut chat, "connect my bank", "anna").await;
        // Half a form on A: the amount and the payee's name, no account number yet.
        chat.say("send 27 PLN to John").await;
        chat.expect("text", "account number", WAIT).await;
        c.kill(0);

        // On B the form goes on from where it was.
        let mut chat = resume(c.url(1), &chat, "en").await;
        chat.say(&spaced(&iban)).await;
        chat.expect("text", "login", WAIT).await;
        chat.say("anna").await;
        chat.expect("text", "new payee", WAIT).await;
        chat.say("yes").await;
        let read_back = chat.expect("text", "Please check", WAIT).await;
        let t = text_of(&read_back);
        assert!(t.contains("27.00") && t.contains("John"), "{t}");
        chat.press(&button(&read_back, "form:confirm:")).await;
        chat.expect("text", "bank's app", WAIT).await;
        assert_eq!(wait_and_approve(c.bank_url(), "anna", WAIT).await, 1);
        receipt_once(&mut chat, 27, &c).await;
        paid_exactly_once(&c, &payee, payee_before, 27).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restarted_chat_keeps_answering_and_later_events_flow() {
    within(async {
        let nats_dir = tempfile::tempdir().unwrap();
        let mut nats = NatsServer::start(nats_dir.path()).await;
        // A long bus timeout: an answer that waited on the bus would show as a slow answer.
        let c = Cluster::start(ClusterOptions {
            nats_url: nats.url(),
            env: vec![("OKIENKO_BUS__TIMEOUT_SECS".into(), "10".into())],
            ..ClusterOptions::default()
        })
        .await;
        // A customer of their own on every instance (no session moves in this test).
        let mut chats = Vec::new();
        for i in 0..3 {
            let mut chat = Chat::connect(c.url(i), "en").await;
            link(&mut chat, "connect my bank", "anna").await;
            chats.push(chat);
        }

        nats.stop();
        // Money arrives during the outage, so the answers' syncs find new transactions (whose
        // events cannot be published now).
        let resp = http()
            .post(format!("{}/sandbox/customers/anna/bookings", c.bank_url()))
            .json(&serde_json::json!({"type": "credit", "amount": "123.45", "counterparty": "ACME SP Z O O"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        // The bus is not on the answer path: every instance answers, promptly, from the bank.
        for chat in &mut chats {
            let took = balance_matches(chat, c.bank_url(), "anna", WAIT).await;
            assert!(
                took < Duration::from_secs(5),
                "an answer during the NATS outage took {took:?}"
            );
        }
        // A new visitor can still start a session.
        let fresh = Chat::connect(c.url(1), "en").await;
        assert!(!fresh.customer.is_empty());
        for (i, g) in c.gateways.iter().enumerate() {
            let h = http().get(format!("{}/healthz", g.url)).send().await.unwrap();
            assert_eq!(h.status(), 200, "gateway {i} health during the outage");
        }

        nats.start_again().await;
        // An event published after the restart is processed: a payment confirmed on B, driven
        // by the payments leader (A), reaches the customer on B through the bus.
        let (payee, iban) = pln_payee(c.bank_url()).await;
        let payee_before = payee_available(c.bank_url(), &payee).await;
        let chat = &mut chats[1];
        let read_back = fill_transfer(chat, 18, &iban).await;
        chat.press(&button(&read_back, "form:confirm:")).await;
        chat.expect("text", "bank's app", WAIT).await;
        assert_eq!(wait_and_approve(c.bank_url(), "anna", WAIT).await, 1);
        receipt_once(chat, 18, &c).await;
        paid_exactly_once(&c, &payee, payee_before, 18).await;
        // And the chat still answers on every instance.
        for chat in &mut chats {
            balance_matches(chat, c.bank_url(), "anna", WAIT).await;
        }
        drop(c);
        nats.stop();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_dropped_the_cluster_recovers() {
    within(async {
        let c = Cluster::start(ClusterOptions::default()).await;
        let (payee, iban) = pln_payee(c.bank_url()).await;
        let payee_before = payee_available(c.bank_url(), &payee).await;
        let mut chat = Chat::connect(c.url(0), "en").await;
        link(&mut chat, "connect my bank", "anna").await;
        let mut other = Chat::connect(c.url(1), "en").await;
        link(&mut other, "connect my bank", "john").await;
        balance_matches(&mut chat, c.bank_url(), "anna", WAIT).await;
        // An open payment when the connections go.
        let read_back = fill_transfer(&mut chat, 23, &iban).await;
        chat.press(&button(&read_back, "form:confirm:")).await;
        chat.expect("text", "bank's app", WAIT).await;

        let before_pay = c.all_terms(PAYMENTS_LEASE);
        let before_bank = c.all_terms(BANK_EVENTS_LEASE);
        let killed = c.schema.terminate_connections(&c.app_name).await;
        assert!(
            killed >= 4,
            "pools on three instances and two lease connections, got {killed}"
        );

        // The next questions are answered: the pools reconnect.
        balance_matches(&mut chat, c.bank_url(), "anna", WAIT).await;
        balance_matches(&mut other, c.bank_url(), "john", WAIT).await;
        // The leases are taken again, one holder each.
        c.wait_new_term(PAYMENTS_LEASE, &[0, 1, 2], &before_pay, LEASE_MOVE)
            .await;
        c.wait_new_term(BANK_EVENTS_LEASE, &[0, 1, 2], &before_bank, LEASE_MOVE)
            .await;
        for lease in [PAYMENTS_LEASE, BANK_EVENTS_LEASE] {
            assert_eq!(
                c.schema.lease_holders(lease).await.len(),
                1,
                "{lease} has one holder"
            );
        }
        // The open payment finishes once and its receipt arrives once.
        assert_eq!(wait_and_approve(c.bank_url(), "anna", WAIT).await, 1);
        receipt_once(&mut chat, 23, &c).await;
        paid_exactly_once(&c, &payee, payee_before, 23).await;
        // Nothing lost in the audit trail either.
        let v = c.audit_verify();
        assert_eq!(v["intact"], true, "{v}");
    })
    .await;
}
