//! The audit head kept outside the database, and the repair of a damaged checkpoint, over real
//! SQLite files: a database restored from an older copy is named as rolled back (and the gate
//! refuses to go on with it), a missing head file is reported without blocking a fresh database,
//! and a damaged checkpoint is repaired only when the chain itself verifies.

mod common;
use common::raw;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, Utc};
use okienko_core::{
    Account, AccountId, Balance, BalanceKind, ConsentId, ConsentScope, ConsentStatus, Currency,
    CustomerId, Lang, Money, SystemClock,
};
use okienko_privacy::{AccessError, AccessRequest, ChannelContext, PrivacyGate, Purpose};
use okienko_store::{
    AccountRecord, AuditHeadSeal, AuditProblem, ConsentRecord, CustomerRecord, HeadFileStatus,
    Keyring, RepairOutcome, RepairRefusal, Store,
};

struct Env {
    dir: tempfile::TempDir,
    keyring: Keyring,
    customer: CustomerId,
}

impl Env {
    fn db(&self) -> PathBuf {
        self.dir.path().join("okienko.sqlite")
    }

    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.db().display())
    }

    /// Kept in its own directory, as it would be on other storage.
    fn head(&self) -> PathBuf {
        self.dir.path().join("elsewhere").join("audit.head")
    }

    async fn open(&self) -> (Store, PrivacyGate) {
        let store = Store::connect(&self.url(), self.keyring.clone())
            .await
            .unwrap();
        let gate = PrivacyGate::new(store.clone(), Arc::new(SystemClock))
            .with_audit_head_file(self.head());
        (store, gate)
    }

    fn req(&self) -> AccessRequest {
        AccessRequest::customer(
            self.customer,
            Purpose::ServiceBalance,
            ChannelContext::WebChat,
        )
    }

    /// The database's files (main, keys, and WAL files if any) copied to `to`.
    fn copy_db(&self, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("okienko.sqlite") {
                std::fs::copy(entry.path(), to.join(&name)).unwrap();
            }
        }
    }

    /// Replaces the database's files with the copy in `from` (what restoring a backup does).
    fn restore_db(&self, from: &Path) {
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let entry = entry.unwrap();
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("okienko.sqlite")
            {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), self.dir.path().join(entry.file_name())).unwrap();
        }
    }
}

/// A customer with a valid consent and one account with a balance.
async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
    let env = Env {
        dir,
        keyring: Keyring::generate(),
        customer: CustomerId::new(),
    };
    let now = Utc::now();
    let store = Store::connect(&env.url(), env.keyring.clone())
        .await
        .unwrap();
    store
        .upsert_customer(&CustomerRecord {
            id: env.customer,
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
            customer: env.customer,
            bank: "sandbox".into(),
            bank_consent_id: Some("c-1".into()),
            status: ConsentStatus::Valid,
            scopes: vec![ConsentScope::Balances],
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
                iban: None,
                currency: Currency::PLN,
                name: "Konto".into(),
            },
            customer: env.customer,
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
                amount: Money::parse("100.00", "PLN").unwrap(),
                reference_date: None,
                fetched_at: now,
            }],
        )
        .await
        .unwrap();
    store.close().await;
    env
}

async fn reads(gate: &PrivacyGate, req: &AccessRequest, n: usize) {
    for _ in 0..n {
        gate.deferred_audit(gate.balances(req))
            .await
            .unwrap()
            .unwrap();
    }
    gate.flush_audit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restored_from_an_older_copy_is_named_as_rolled_back() {
    let env = env().await;
    let req = env.req();
    let (store, gate) = env.open().await;
    reads(&gate, &req, 5).await;
    let v = gate.verify_audit().await.unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(
        v.head_file,
        Some(HeadFileStatus::Matches {
            head_seq: 5,
            db_seq: 5
        })
    );
    store.close().await;

    // A backup now; then the gateway goes on.
    let backup = env.dir.path().join("backup");
    env.copy_db(&backup);
    let (store, gate) = env.open().await;
    reads(&gate, &req, 7).await;
    assert!(gate.verify_audit().await.unwrap().ok());
    store.close().await;
    let head = AuditHeadSeal::read(&env.head()).unwrap().unwrap();
    assert_eq!(head.seq, 12);

    // Someone restores the older copy: the chain in it is intact, but it is behind the head.
    env.restore_db(&backup);
    let (store, gate) = env.open().await;
    let v = gate.verify_audit().await.unwrap();
    assert!(v.intact, "the copy's own chain is intact: {v:?}");
    assert_eq!(
        v.head_file,
        Some(HeadFileStatus::RolledBack {
            head_seq: 12,
            db_seq: 5
        })
    );
    assert!(!v.ok());
    let complaint = v.complaint().unwrap();
    assert!(complaint.contains("rolled back"), "{complaint}");

    // The gate does not go on with it (that would overwrite the evidence): reads are refused,
    // and the head file still names the rollback.
    assert!(matches!(
        gate.deferred_audit(gate.balances(&req)).await,
        Err(AccessError::Store(_))
    ));
    assert!(matches!(
        gate.balances(&req).await,
        Err(AccessError::Store(_))
    ));
    assert_eq!(AuditHeadSeal::read(&env.head()).unwrap().unwrap(), head);
    // The refused accesses' rows went in (audited, never disclosed): now the copy has been
    // written to since, and verify says so.
    let v = gate.verify_audit().await.unwrap();
    assert!(
        matches!(
            v.head_file,
            Some(HeadFileStatus::RolledBack { head_seq: 12, .. })
                | Some(HeadFileStatus::Forked { head_seq: 12, .. })
        ),
        "{v:?}"
    );
    assert!(!v.ok());
    // A repair does not launder it either.
    match gate.repair_audit_checkpoint("ops-7").await.unwrap() {
        RepairOutcome::Refused {
            reason: RepairRefusal::HeadFile { status },
        } => assert!(!status.is_ok(), "{status:?}"),
        other => panic!("a rolled-back database was repaired: {other:?}"),
    }
    assert!(!gate.verify_audit().await.unwrap().ok());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restored_and_written_again_is_named_as_forked() {
    let env = env().await;
    let req = env.req();
    let (store, gate) = env.open().await;
    reads(&gate, &req, 3).await;
    store.close().await;
    let backup = env.dir.path().join("backup");
    env.copy_db(&backup);
    let (store, gate) = env.open().await;
    reads(&gate, &req, 3).await;
    store.close().await;
    env.restore_db(&backup);
    // Written past the head by something that does not keep the head file (another tool).
    let store = Store::connect(&env.url(), env.keyring.clone())
        .await
        .unwrap();
    let plain = PrivacyGate::new(store.clone(), Arc::new(SystemClock));
    reads(&plain, &req, 5).await;
    let gate = plain.with_audit_head_file(env.head());
    let v = gate.verify_audit().await.unwrap();
    assert!(v.intact, "{v:?}");
    assert_eq!(
        v.head_file,
        Some(HeadFileStatus::Forked {
            head_seq: 6,
            db_seq: 8
        })
    );
    assert!(v.complaint().unwrap().contains("rolled back"));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_head_file_is_reported_but_a_fresh_database_is_not_blocked() {
    let env = env().await;
    let req = env.req();
    let (store, gate) = env.open().await;
    // Fresh: no rows, no file; nothing to complain about, and reads work.
    let v = gate.verify_audit().await.unwrap();
    assert_eq!(v.head_file, Some(HeadFileStatus::NotYetWritten));
    assert!(v.ok(), "{v:?}");
    reads(&gate, &req, 2).await;
    assert!(env.head().exists());
    store.close().await;

    // The file is gone while the database has rows: reported, not taken as fine.
    std::fs::remove_file(env.head()).unwrap();
    let (store, gate) = env.open().await;
    let v = gate.verify_audit().await.unwrap();
    assert!(v.intact);
    assert_eq!(v.head_file, Some(HeadFileStatus::Missing { db_seq: 2 }));
    assert!(!v.ok());
    assert!(v.complaint().unwrap().contains("missing"));
    // The gateway starts a new one (with a warning in the log) and goes on.
    reads(&gate, &req, 1).await;
    let v = gate.verify_audit().await.unwrap();
    assert!(v.ok(), "{v:?}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_file_from_another_database_or_edited_is_refused() {
    let env = env().await;
    let req = env.req();
    let (store, gate) = env.open().await;
    reads(&gate, &req, 2).await;
    let mut head = AuditHeadSeal::read(&env.head()).unwrap().unwrap();
    head.seq = 1;
    head.write_atomic(&env.head()).unwrap();
    let v = gate.verify_audit().await.unwrap();
    assert_eq!(v.head_file, Some(HeadFileStatus::BadSeal { head_seq: 1 }));
    assert!(!v.ok());
    std::fs::write(env.head(), b"not a head").unwrap();
    let v = gate.verify_audit().await.unwrap();
    assert!(matches!(
        v.head_file,
        Some(HeadFileStatus::Unreadable { .. })
    ));
    assert!(!v.ok());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_checkpoint_is_repaired_only_over_an_intact_chain() {
    let env = env().await;
    let req = env.req();
    let (store, gate) = env.open().await;
    reads(&gate, &req, 4).await;
    assert!(matches!(
        gate.repair_audit_checkpoint("ops-7").await.unwrap(),
        RepairOutcome::NotNeeded {
            rows: 4,
            head_seq: 4
        }
    ));
    let pool = raw(&env.db()).await;
    sqlx::query("UPDATE audit_head SET mac = 'damaged'")
        .execute(&pool)
        .await
        .unwrap();
    // Every read is refused while the checkpoint does not verify.
    assert!(matches!(
        gate.balances(&req).await,
        Err(AccessError::Store(_))
    ));
    let v = gate.verify_audit().await.unwrap();
    assert_eq!(v.kind, Some(AuditProblem::BadCheckpoint));
    assert!(matches!(
        gate.repair_audit_checkpoint("Jan Kowalski").await,
        Err(AccessError::Store(okienko_store::StoreError::Invalid(_)))
    ));
    let outcome = gate.repair_audit_checkpoint("ops-7").await.unwrap();
    let RepairOutcome::Repaired {
        rows_verified,
        previous,
        repair_seq,
        seal,
    } = outcome
    else {
        panic!("not repaired: {outcome:?}");
    };
    assert_eq!(
        (rows_verified, previous, repair_seq),
        (4, AuditProblem::BadCheckpoint, 5)
    );
    assert_eq!(AuditHeadSeal::read(&env.head()).unwrap(), Some(seal));
    let v = gate.verify_audit().await.unwrap();
    assert!(v.ok(), "{v:?}");
    let row: (String, String, String, String) =
        sqlx::query_as("SELECT actor, subject, action, decision FROM audit_log WHERE seq = 5")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        row,
        (
            "operator:ops-7".into(),
            "okienko:audit".into(),
            "repair.checkpoint".into(),
            "repaired:bad_checkpoint".into()
        )
    );
    // Reads work again and go on from the repair row.
    let g = gate.balances(&req).await.unwrap();
    assert_eq!(g.audit_seq(), 6);

    // A changed row and a damaged checkpoint: refused, with the row named; nothing written.
    for sql in [
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET decision = 'deny:no_consent[]' WHERE seq = 3",
        "UPDATE audit_head SET mac = 'damaged'",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let outcome = gate.repair_audit_checkpoint("ops-7").await.unwrap();
    assert_eq!(
        outcome,
        RepairOutcome::Refused {
            reason: RepairRefusal::Chain {
                seq: 3,
                problem: AuditProblem::BadMac
            }
        }
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 6);
    pool.close().await;
    store.close().await;
}
