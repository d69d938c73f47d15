//! The privacy gate over a real SQLite file: forbidden purposes are refused and audited, service
//! reads need a valid consent, and hand-made changes to the audit trail are detected.

mod common;
use common::raw;

use std::sync::Arc;

use chrono::{Duration, Utc};
use okienko_core::{
    Account, AccountId, Balance, BalanceKind, BookingStatus, Clock, ConsentId, ConsentScope,
    ConsentStatus, Currency, CustomerId, Lang, Money, SystemClock, TransactionId, TxFilter,
};
use okienko_privacy::{
    AccessError, AccessRequest, Actor, ChannelContext, DenyReason, PrivacyGate, Purpose, Room,
    parse_decision,
};
use okienko_store::{AccountRecord, ConsentRecord, CustomerRecord, NewTransaction, Store, TxBatch};

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
    gate: PrivacyGate,
    customer: CustomerId,
    consent: ConsentId,
}

async fn fixture(status: ConsentStatus) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gate.sqlite");
    let store = Store::connect(
        &format!("sqlite://{}?mode=rwc", path.display()),
        okienko_store::Keyring::generate(),
    )
    .await
    .unwrap();
    let now = Utc::now();
    let customer = CustomerId::new();
    store
        .upsert_customer(&CustomerRecord {
            id: customer,
            lang: Lang::Pl,
            tz: "Europe/Warsaw".into(),
            created_at: now,
        })
        .await
        .unwrap();
    let consent = ConsentId::new();
    store
        .insert_consent(&ConsentRecord {
            id: consent,
            customer,
            bank: "sandbox".into(),
            bank_consent_id: Some("c-1".into()),
            status,
            scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
            valid_until: (now + Duration::days(90)).date_naive(),
            frequency_per_day: 4,
            recurring: true,
            access_token: None,
            oauth_state: None,
            pkce_verifier: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    let account = AccountId::new();
    store
        .upsert_account(&AccountRecord {
            account: Account {
                id: account,
                iban: Some("PL61109010140000071219812874".parse().unwrap()),
                currency: Currency::PLN,
                name: "Konto osobiste".into(),
            },
            customer,
            consent,
            bank_resource_id: "acc-1".into(),
        })
        .await
        .unwrap();
    store
        .replace_balances(
            account,
            &[Balance {
                account_id: account,
                kind: BalanceKind::InterimAvailable,
                amount: Money::parse("1234.56", "PLN").unwrap(),
                reference_date: None,
                fetched_at: now,
            }],
        )
        .await
        .unwrap();
    let tx = NewTransaction {
        id: TransactionId::new(),
        bank_transaction_id: Some("t-1".into()),
        status: BookingStatus::Booked,
        date: now.date_naive(),
        booking_date: Some(now.date_naive()),
        value_date: None,
        amount: Money::parse("-49.99", "PLN").unwrap(),
        merchant: Some("Biedronka".into()),
        raw_description: "PLATNOSC KARTA BIEDRONKA".into(),
        category: None,
        counterparty_iban: None,
        end_to_end_id: None,
        fingerprint: "f-1".into(),
    };
    store
        .apply_transactions(
            account,
            &TxBatch {
                insert: vec![tx],
                update: vec![],
                delete: vec![],
            },
        )
        .await
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Fixture {
        gate: PrivacyGate::new(store.clone(), clock),
        _dir: dir,
        path,
        store,
        customer,
        consent,
    }
}

#[tokio::test]
async fn every_forbidden_purpose_is_denied_and_audited() {
    let f = fixture(ConsentStatus::Valid).await;
    let forbidden: Vec<Purpose> = Purpose::ALL
        .into_iter()
        .filter(|p| !p.is_service())
        .collect();
    assert_eq!(forbidden.len(), 5);
    let actors = [
        Actor::Customer(f.customer),
        Actor::System("analytics".into()),
        Actor::BankAgent("agent-7".into()),
    ];
    let mut denials = 0;
    for purpose in &forbidden {
        for actor in &actors {
            let req = AccessRequest {
                actor: actor.clone(),
                subject: f.customer,
                purpose: *purpose,
                channel: ChannelContext::Internal,
                room: Room::HolderAlone,
                case: None,
            };
            let b = f.gate.balances(&req).await;
            assert!(matches!(
                b,
                Err(AccessError::Denied(DenyReason::ForbiddenPurpose))
            ));
            let t = f.gate.transactions(&req, &TxFilter::default(), 0, 10).await;
            assert!(matches!(
                t,
                Err(AccessError::Denied(DenyReason::ForbiddenPurpose))
            ));
            let m = f.gate.merchants(&req).await;
            assert!(matches!(
                m,
                Err(AccessError::Denied(DenyReason::ForbiddenPurpose))
            ));
            let by_id = f
                .gate
                .transactions_by_ids(&req, &[TransactionId::new()])
                .await;
            assert!(matches!(
                by_id,
                Err(AccessError::Denied(DenyReason::ForbiddenPurpose))
            ));
            denials += 4;
        }
    }
    let rows = f
        .store
        .audit_for_subject(&f.customer.to_string(), 1000)
        .await
        .unwrap();
    let audited: Vec<_> = rows
        .iter()
        .filter(|r| {
            parse_decision(&r.decision)
                == ("forbidden_purpose".into(), vec!["forbidden_purpose".into()])
        })
        .collect();
    assert_eq!(audited.len(), denials);
    for p in &forbidden {
        assert!(audited.iter().any(|r| r.purpose == p.as_str()));
    }
    assert!(f.gate.verify_audit().await.unwrap().intact);
}

#[tokio::test]
async fn the_customer_reads_their_own_data_with_a_valid_consent() {
    let f = fixture(ConsentStatus::Valid).await;
    let req = AccessRequest::customer(f.customer, Purpose::ServiceBalance, ChannelContext::WebChat);
    let got = f.gate.balances(&req).await.unwrap();
    assert_eq!(got.data().len(), 1);
    assert_eq!(got.data()[0].balances[0].amount.amount_string(), "1234.56");
    let tx_req = AccessRequest::customer(
        f.customer,
        Purpose::ServiceTransactions,
        ChannelContext::WebChat,
    );
    let page = f
        .gate
        .transactions(&tx_req, &TxFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(page.data().total, 1);
    // What a sync announced, read by id: the same row, and its own audit row.
    let id = page.data().transactions[0].id;
    let by_id = f.gate.transactions_by_ids(&tx_req, &[id]).await.unwrap();
    assert_eq!(by_id.data(), &page.data().transactions);
    assert!(matches!(
        f.gate.transactions_by_ids(&req, &[id]).await,
        Err(AccessError::WrongPurpose)
    ));
    let rows = f
        .store
        .audit_for_subject(&f.customer.to_string(), 10)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .any(|r| r.seq == got.audit_seq() && r.decision == "allow[customer_balance]")
    );
    assert!(
        rows.iter()
            .any(|r| r.seq == by_id.audit_seq() && r.action == "read.transactions")
    );

    // Someone else asking for this customer's data is refused, and so is a leaky channel.
    let other = AccessRequest {
        actor: Actor::Customer(CustomerId::new()),
        ..req.clone()
    };
    assert!(matches!(
        f.gate.balances(&other).await,
        Err(AccessError::Denied(DenyReason::NotTheSubject))
    ));
    let leaky = AccessRequest {
        channel: ChannelContext::PlatformReadable,
        ..req
    };
    assert!(matches!(
        f.gate.balances(&leaky).await,
        Err(AccessError::Denied(DenyReason::ChannelNotPrivate))
    ));
    // The customer can see every one of these accesses.
    let log = f.gate.access_log(f.customer).await.unwrap();
    assert!(log.data().len() >= 4);
}

#[tokio::test]
async fn no_valid_consent_no_data() {
    for status in [
        ConsentStatus::Received,
        ConsentStatus::Expired,
        ConsentStatus::TerminatedByTpp,
    ] {
        let f = fixture(status).await;
        let req =
            AccessRequest::customer(f.customer, Purpose::ServiceBalance, ChannelContext::WebChat);
        assert!(matches!(
            f.gate.balances(&req).await,
            Err(AccessError::Denied(DenyReason::NoConsent))
        ));
        let _ = f.consent;
    }
}

#[tokio::test]
async fn audit_tampering_is_detected() {
    use okienko_store::AuditProblem;
    for attack in [
        "change",
        "delete",
        "reorder",
        "truncate",
        "append_forged",
        "rewrite_every_link",
    ] {
        let f = fixture(ConsentStatus::Valid).await;
        let req =
            AccessRequest::customer(f.customer, Purpose::ServiceBalance, ChannelContext::WebChat);
        for _ in 0..5 {
            f.gate.balances(&req).await.unwrap();
        }
        let before = f.gate.verify_audit().await.unwrap();
        assert!(before.intact, "{before:?}");
        let rows = before.rows as i64;
        assert!(rows >= 5);
        let pool = raw(&f.path).await;
        // The triggers refuse changes; an attacker with file access drops them first.
        assert!(
            sqlx::query("DELETE FROM audit_log WHERE seq = 2")
                .execute(&pool)
                .await
                .is_err()
        );
        sqlx::query("DROP TRIGGER audit_log_no_update")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("DROP TRIGGER audit_log_no_delete")
            .execute(&pool)
            .await
            .unwrap();
        let exec = |sql: &'static str| {
            let pool = pool.clone();
            async move { sqlx::query(sql).execute(&pool).await.unwrap() }
        };
        let (seq, problem) = match attack {
            "change" => {
                exec("UPDATE audit_log SET decision = 'allow', purpose = 'advertising' WHERE seq = 3")
                    .await;
                (3, AuditProblem::BadMac)
            }
            "delete" => {
                exec("DELETE FROM audit_log WHERE seq = 2").await;
                (
                    2,
                    AuditProblem::Gap {
                        expected: 2,
                        found: 3,
                    },
                )
            }
            "reorder" => {
                exec("UPDATE audit_log SET seq = 100 WHERE seq = 2").await;
                exec("UPDATE audit_log SET seq = 2 WHERE seq = 4").await;
                exec("UPDATE audit_log SET seq = 4 WHERE seq = 100").await;
                (2, AuditProblem::BrokenLink)
            }
            "truncate" => {
                exec("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)").await;
                let problem = AuditProblem::Truncated {
                    head_seq: rows,
                    last_seq: rows - 1,
                };
                (rows, problem)
            }
            "append_forged" => {
                // A copy of the last row, relinked and rehashed as the unkeyed chain was.
                exec(
                    "INSERT INTO audit_log (seq, at, actor, subject, purpose, action, decision, \
                     channel, prev_hash, hash) SELECT seq + 1, at, actor, subject, 'advertising', \
                     action, decision, channel, hash, hash FROM audit_log \
                     WHERE seq = (SELECT MAX(seq) FROM audit_log)",
                )
                .await;
                (rows + 1, AuditProblem::PastHead { head_seq: rows })
            }
            _ => {
                // Without the key a forger can only write other hashes into every row (a full
                // rehash with the old unkeyed SHA-256 is in the store conformance suite).
                exec("UPDATE audit_log SET hash = 'x' || hash, prev_hash = 'x' || prev_hash").await;
                (1, AuditProblem::BrokenLink)
            }
        };
        pool.close().await;
        let v = f.gate.verify_audit().await.unwrap();
        assert!(!v.intact, "{attack} not detected");
        assert_eq!(v.kind, Some(problem), "{attack}: {v:?}");
        assert_eq!(v.first_broken_seq, Some(seq), "{attack}: {v:?}");
        assert!(v.problem.is_some());
    }
}
