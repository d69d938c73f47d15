//! Several gateway instances driving the same payments (issue 9): a real sandbox bank over real
//! HTTP and one real SQLite file opened by two stores (two processes).
//!
//! 1. Eight drivers step one payment the customer just approved (or rejected) at the same
//!    moment: all see it final, exactly one reports that it ended it (`ended_here`), so exactly
//!    one tells the customer.
//! 2. Confirmations of one customer on two instances at once under a daily cap: exactly as many
//!    payments as fit are recorded and reach the bank; the rest are refused before the bank is
//!    called.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use okienko_bank::pis::PaymentProduct;
use okienko_bank::{NextGenPsd2Connector, RetryPolicy, ScaApproach};
use okienko_core::{CustomerId, FixedClock, Iban, Lang, Money};
use okienko_payments::{PaymentState, Payments, PaymentsError, TransferOrder};
use okienko_sandbox_bank::{SandboxBank, SandboxConfig};
use okienko_store::{CustomerRecord, KeyId, Keyring, MasterKey, Store};
use serde_json::Value;
use uuid::Uuid;

struct World {
    base: String,
    http: reqwest::Client,
    /// Two stores on one database: two gateway processes.
    stores: [Store; 2],
    bank: Arc<NextGenPsd2Connector>,
    clock: Arc<FixedClock>,
    customer: CustomerId,
    anna: Iban,
    payee: Iban,
    _dir: tempfile::TempDir,
}

fn keyring() -> Keyring {
    Keyring::single(KeyId::new("f-1").unwrap(), MasterKey::from_bytes([5; 32]))
}

async fn world() -> World {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bank = SandboxBank::new(SandboxConfig {
        customers: 30,
        seed: 11,
        today: NaiveDate::from_ymd_opt(2026, 10, 15).unwrap(),
        control_api: true,
    });
    tokio::spawn(bank.serve(listener, std::future::pending()));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("f.sqlite").display());
    let a = Store::connect(&url, keyring()).await.unwrap();
    let b = Store::connect(&url, keyring()).await.unwrap();
    let clock = Arc::new(FixedClock::new(
        Utc.with_ymd_and_hms(2026, 10, 15, 9, 0, 0).unwrap(),
    ));
    let customer = CustomerId::new();
    a.upsert_customer(&CustomerRecord {
        id: customer,
        lang: Lang::Pl,
        tz: "Europe/Warsaw".into(),
        created_at: okienko_core::Clock::now(&*clock),
    })
    .await
    .unwrap();
    let connector = NextGenPsd2Connector::new(&base, "okienko", Duration::from_secs(5))
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 1,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
        });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let get = |path: String| {
        let http = http.clone();
        async move {
            http.get(path)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let iban = |v: &Value| -> Iban { v["accounts"][0]["iban"].as_str().unwrap().parse().unwrap() };
    let anna = iban(&get(format!("{base}/sandbox/customers/anna")).await);
    let mut payee = None;
    for i in 3..=30 {
        let t = get(format!("{base}/sandbox/customers/cust{i:05}")).await;
        if t["currency"] == "PLN" {
            payee = Some(iban(&t));
            break;
        }
    }
    World {
        base,
        http,
        stores: [a, b],
        bank: Arc::new(connector),
        clock,
        customer,
        anna,
        payee: payee.expect("a PLN payee in the sandbox"),
        _dir: dir,
    }
}

impl World {
    /// The driver of instance `i` (0 or 1).
    fn driver(&self, i: usize) -> Payments {
        Payments::new(
            self.stores[i % 2].clone(),
            self.bank.clone(),
            self.clock.clone(),
        )
    }

    fn order(&self, amount: &str) -> TransferOrder {
        TransferOrder {
            action: Uuid::new_v4(),
            product: PaymentProduct::InstantSepaCreditTransfer,
            debtor: self.anna.clone(),
            creditor: self.payee.clone(),
            creditor_name: "Jan Kowalski".into(),
            amount: Money::parse(amount, "PLN").unwrap(),
            remittance: None,
            psu_id: Some("anna".into()),
            psu_ip: "127.0.0.1".into(),
            approach: ScaApproach::Decoupled,
            redirect_uri: None,
        }
    }

    /// The customer's decision in the bank app.
    async fn decide(&self, bank_payment_id: &str, decision: &str) {
        let status =
            common::decide_in_bank_app(&self.http, &self.base, bank_payment_id, decision).await;
        assert!(status.is_success() || status.is_redirection(), "{status}");
    }

    /// How many payments the sandbox bank holds under each of `keys` (X-Request-IDs).
    async fn at_bank(&self, keys: &[String]) -> usize {
        let l: Value = self
            .http
            .get(format!("{}/sandbox/ledger", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(l["consistent"], true, "ledger: {l}");
        l["payments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| keys.iter().any(|k| p["requestId"] == k.as_str()))
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_many_followers_ends_a_payment() {
    let w = world().await;
    for (round, decision, end) in [
        (0, "approve", PaymentState::Executed),
        (1, "reject", PaymentState::Rejected),
        (2, "approve", PaymentState::Executed),
    ] {
        let view = w
            .driver(round)
            .start(w.customer, &w.order("12.34"))
            .await
            .unwrap();
        assert_eq!(view.state, PaymentState::AwaitingSca, "round {round}");
        assert!(!view.ended_here);
        let bank_id = w.stores[0]
            .payment(&view.id)
            .await
            .unwrap()
            .unwrap()
            .bank_payment_id
            .expect("the bank's payment id");
        w.decide(&bank_id, decision).await;

        let steps: Vec<_> = (0..8)
            .map(|i| {
                let d = w.driver(i);
                let id = view.id.clone();
                tokio::spawn(async move { d.step(&id).await.unwrap() })
            })
            .collect();
        let mut ended_here = 0;
        for s in steps {
            let v = s.await.unwrap();
            assert_eq!(v.state, end, "round {round}: every follower sees the end");
            if v.ended_here {
                ended_here += 1;
            }
        }
        assert_eq!(ended_here, 1, "round {round}: one follower ended it");
        // Stepped again later, nobody ends it a second time.
        assert!(!w.driver(1).step(&view.id).await.unwrap().ended_here);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_cap_holds_across_instances() {
    let w = world().await;
    let from = Utc.with_ymd_and_hms(2026, 10, 14, 22, 0, 0).unwrap();
    let until = from + chrono::Duration::days(1);
    let max = Money::parse("100", "PLN").unwrap();
    let orders: Vec<TransferOrder> = (0..6).map(|_| w.order("40")).collect();
    let tasks: Vec<_> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let d = w.driver(i);
            let (o, customer) = (o.clone(), w.customer);
            tokio::spawn(async move { d.start_within(customer, &o, from, until, max).await })
        })
        .collect();
    let (mut started, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => started += 1,
            Err(PaymentsError::OverLimit { spent }) => {
                assert_eq!(spent, Money::parse("80", "PLN").unwrap());
                refused += 1;
            }
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(
        (started, refused),
        (2, 4),
        "2 × 40 fit under 100, a third does not"
    );
    let stored = w.stores[1].customer_payments(w.customer).await.unwrap();
    assert_eq!(stored.len(), 2);
    let keys: Vec<String> = stored.iter().map(|p| p.request_id.clone()).collect();
    assert_eq!(
        w.at_bank(&keys).await,
        2,
        "only the recorded ones reach the bank"
    );

    // A retry of a recorded confirmation is never refused and pays nothing new.
    let recorded = orders
        .iter()
        .find(|o| stored.iter().any(|p| p.action_key == o.action.to_string()))
        .unwrap();
    let again = w
        .driver(1)
        .start_within(w.customer, recorded, from, until, max)
        .await
        .unwrap();
    assert!(stored.iter().any(|p| p.id == again.id));
    assert_eq!(
        w.stores[0]
            .customer_payments(w.customer)
            .await
            .unwrap()
            .len(),
        2
    );
}
