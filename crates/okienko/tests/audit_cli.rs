//! `okienko audit verify` and `okienko audit repair-checkpoint` as an operator runs them: the real
//! binary against a real SQLite data directory, judged by exit status, the JSON on stdout and the
//! sentence on stderr. Audit rows are made the way the gateway makes them: through the privacy
//! gate (denied accesses are audited too), which also keeps the head file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use okienko_core::{CustomerId, SystemClock};
use okienko_privacy::{AccessRequest, ChannelContext, PrivacyGate, Purpose};
use okienko_store::{Keyring, Store};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_okienko");

struct DataDir {
    dir: tempfile::TempDir,
}

impl DataDir {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> PathBuf {
        self.path().join("okienko.sqlite")
    }

    /// `n` audited accesses through the gate, as the gateway with the default configuration for
    /// this data directory makes them (same store, master key file and head file).
    async fn accesses(&self, n: usize) {
        let keyring = Keyring::from_file_or_create(&self.path().join("master.key")).unwrap();
        let url = format!("sqlite://{}?mode=rwc", self.db().display());
        let store = Store::connect(&url, keyring).await.unwrap();
        let gate = PrivacyGate::try_new(store.clone(), Arc::new(SystemClock))
            .unwrap()
            .with_audit_head_file(self.path().join("audit.head"));
        for i in 0..n {
            let purpose = if i % 2 == 0 {
                Purpose::ServiceBalance
            } else {
                Purpose::Advertising
            };
            let req = AccessRequest::customer(CustomerId::new(), purpose, ChannelContext::WebChat);
            assert!(gate.balances(&req).await.is_err(), "no consent: denied");
        }
        gate.flush_audit().await;
        store.close().await;
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.path())
            .env("OKIENKO_DATA_DIR", self.path())
            .env_remove("OKIENKO_STORE_URL")
            .output()
            .unwrap()
    }

    /// Runs SQL on the audit file directly, as someone with access to the disk could.
    async fn tamper(&self, statements: &[&'static str]) {
        let url = format!("sqlite://{}.audit", self.db().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        for sql in statements {
            sqlx::query(*sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }

    async fn audit_rows(&self) -> i64 {
        let url = format!("sqlite://{}.audit", self.db().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }
}

fn data_dir() -> DataDir {
    DataDir {
        dir: tempfile::tempdir().unwrap(),
    }
}

fn json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "stdout {stdout:?}; stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn verify_exits_zero_on_an_intact_log_and_non_zero_naming_the_changed_row() {
    let d = data_dir();
    d.accesses(6).await;
    let ok = d.run(&["audit", "verify"]);
    assert!(ok.status.success(), "intact: {}", stderr(&ok));
    let v = json(&ok);
    assert_eq!(v["rows"], 6, "{v}");
    assert_eq!(v["intact"], true, "{v}");

    // Someone with disk access rewrites a denial as an allowed advertising read.
    d.tamper(&[
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET decision = 'allow' WHERE seq = 4",
    ])
    .await;
    let bad = d.run(&["audit", "verify"]);
    assert!(!bad.status.success(), "tampering must fail the command");
    let v = json(&bad);
    assert_eq!(v["first_broken_seq"], 4, "{v}");
    assert_eq!(v["intact"], false, "{v}");
    assert!(
        stderr(&bad).contains("broken at row 4"),
        "stderr: {}",
        stderr(&bad)
    );
}

#[tokio::test]
async fn repair_checkpoint_fixes_only_a_damaged_checkpoint_and_refuses_a_changed_row() {
    let d = data_dir();
    d.accesses(4).await;

    // Nothing to repair: exit 0, nothing written.
    let out = d.run(&["audit", "repair-checkpoint", "--operator", "op-7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["outcome"], "not_needed");
    assert_eq!(d.audit_rows().await, 4);

    // A damaged checkpoint: verify fails; the repair verifies the chain and records itself.
    d.tamper(&["UPDATE audit_head SET mac = 'damaged'"]).await;
    assert!(!d.run(&["audit", "verify"]).status.success());
    let out = d.run(&["audit", "repair-checkpoint", "--operator", "op-7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["outcome"], "repaired", "{v}");
    assert_eq!(v["repair_seq"], 5, "{v}");
    let out = d.run(&["audit", "verify"]);
    assert!(out.status.success(), "after the repair: {}", stderr(&out));
    assert_eq!(json(&out)["rows"], 5);

    // A changed row with a damaged checkpoint: refused, non-zero, nothing written.
    d.tamper(&[
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET purpose = 'service.balance' WHERE seq = 2",
        "UPDATE audit_head SET mac = 'damaged again'",
    ])
    .await;
    let out = d.run(&["audit", "repair-checkpoint", "--operator", "op-7"]);
    assert!(
        !out.status.success(),
        "a changed row must not be repaired over"
    );
    let v = json(&out);
    assert_eq!(v["outcome"], "refused", "{v}");
    assert_eq!(v["reason"]["seq"], 2, "{v}");
    assert!(stderr(&out).contains("nothing written"), "{}", stderr(&out));
    assert_eq!(d.audit_rows().await, 5);
    assert!(!d.run(&["audit", "verify"]).status.success());
}

#[tokio::test]
async fn verify_names_a_database_restored_from_an_older_copy() {
    let d = data_dir();
    d.accesses(2).await;
    let backup = tempfile::tempdir().unwrap();
    let files: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("okienko.sqlite")
        })
        .collect();
    for e in &files {
        std::fs::copy(e.path(), backup.path().join(e.file_name())).unwrap();
    }
    d.accesses(3).await;
    assert!(d.run(&["audit", "verify"]).status.success());
    for e in std::fs::read_dir(d.path()).unwrap() {
        let e = e.unwrap();
        if e.file_name()
            .to_string_lossy()
            .starts_with("okienko.sqlite")
        {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    for e in std::fs::read_dir(backup.path()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), d.path().join(e.file_name())).unwrap();
    }
    let out = d.run(&["audit", "verify"]);
    assert!(!out.status.success(), "a rolled-back database must fail");
    let v = json(&out);
    assert_eq!(v["rows"], 2, "{v}");
    assert!(
        stderr(&out).contains("rolled back") || stderr(&out).contains("older"),
        "{}",
        stderr(&out)
    );
}
