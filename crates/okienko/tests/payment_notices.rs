//! A payment's end told exactly once across instances (issue 9), on real processes: two
//! `okienko serve` gateways on one PostgreSQL schema and NATS, in front of `okienko
//! sandbox-bank` (support/cluster.rs).
//!
//! The leader (A) ends a payment in the store and is SIGKILLed before telling the customer:
//! the receipt is not lost — B takes the payments lease and its sweep pushes it, once, into the
//! customer's chat on B — and no second receipt follows.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::cluster::*;
use support::*;

/// The longest wait for one reply or one bank-side change.
const WAIT: Duration = Duration::from_secs(40);
/// The longest the whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(120);
const LEASE_MOVE: Duration = Duration::from_secs(30);

/// The transfer form up to its read-back, in English.
async fn fill_transfer(chat: &mut Chat, amount: u32, iban: &str) -> Value {
    chat.say(&format!("send {amount} PLN to John {}", spaced(iban)))
        .await;
    chat.expect("text", "login", WAIT).await;
    chat.say("anna").await;
    chat.expect("text", "new payee", WAIT).await;
    chat.say("yes").await;
    chat.expect("text", "Please check", WAIT).await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_after_ending_a_payment_the_receipt_comes_once() {
    let steps = async {
        let mut c = Cluster::start(ClusterOptions {
            instances: 2,
            ..ClusterOptions::default()
        })
        .await;
        let (_, iban) = pln_payee(c.bank_url()).await;
        // The customer talks to B; A leads the payments lease.
        let mut chat = Chat::connect(c.url(1), "en").await;
        link(&mut chat, "connect my bank", "anna").await;
        let read_back = fill_transfer(&mut chat, 27, &iban).await;
        chat.press(&button(&read_back, "form:confirm:")).await;
        chat.expect("text", "bank's app", WAIT).await;
        assert_eq!(wait_and_approve(c.bank_url(), "anna", WAIT).await, 1);

        // A ends the payment in the store (as its follower does on the bank's ACSC) and dies
        // before it tells anyone. Should A's follower have been quicker than this statement,
        // it told the customer itself; either way the customer hears it exactly once.
        let pool = c.schema.pool().await;
        let ended_by_hand = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE \"{}\".payments SET state = 'executed', updated_at = $1 \
             WHERE state = 'awaiting_sca' AND notified_at IS NULL",
            c.schema.name
        )))
        .bind(
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                .to_string(),
        )
        .execute(&pool)
        .await
        .unwrap()
        .rows_affected();
        pool.close().await;
        eprintln!("ended in the store by the test: {ended_by_hand}");
        let before = c.all_terms(PAYMENTS_LEASE);
        c.kill(0);
        c.wait_new_term(PAYMENTS_LEASE, &[1], &before, LEASE_MOVE)
            .await;

        let receipt = expect_text(&mut chat, "Transfer made", WAIT, &c).await;
        assert!(text_of(&receipt).contains("27.00"), "{}", text_of(&receipt));
        if ended_by_hand == 1 {
            assert!(
                c.gateways[1].log().contains("payment end told late"),
                "B's sweep told it\n{}",
                c.logs()
            );
        }
        // Several more follower rounds and sweeps on B: nothing is told again.
        let before = chat.replies.len();
        let _ = chat
            .frame_of_type("none-such", Duration::from_secs(5))
            .await;
        let again: Vec<&Value> = chat.replies[before..]
            .iter()
            .filter(|r| text_of(r).contains("Transfer made"))
            .collect();
        assert!(again.is_empty(), "a second receipt: {again:#?}");
        assert_eq!(
            c.schema
                .count(
                    "SELECT count(*) FROM {schema}.payments \
                     WHERE state = 'executed' AND notified_at IS NOT NULL"
                )
                .await,
            1
        );
        let l = ledger(c.bank_url()).await;
        assert_eq!(payments_with_status(&l, "ACSC"), 1, "{l}");
    };
    if tokio::time::timeout(TEST_LIMIT, steps).await.is_err() {
        panic!("the test did not finish within {TEST_LIMIT:?}");
    }
}
