//! The audit log: gapless, append-only, keyed chain with a keyed checkpoint. Every kind of
//! tampering (made under the API with the append-only triggers dropped, as someone with database
//! access could) must be reported by `verify_audit` with its specific problem.

use chrono::{SecondsFormat, Utc};
use okienko_store::{AUDIT_GENESIS, AuditCheck, AuditEntry, AuditProblem, AuditRow};
use sha2::{Digest, Sha256};

use super::Ctx;
use super::harness::{Raw, keyring};

fn entry(subject: &str, decision: &str) -> AuditEntry {
    AuditEntry {
        at: Utc::now(),
        actor: "customer:c1".into(),
        subject: subject.into(),
        purpose: "service.transactions".into(),
        action: "read".into(),
        decision: decision.into(),
        channel: "webchat".into(),
    }
}

/// Runs `sql` with binds ($1 text, $2 integer) on the raw pool.
async fn raw(ctx: &Ctx, sql: &'static str, a: &str, n: i64) {
    match &ctx.raw {
        Raw::Sqlite(p) => sqlx::query(sql)
            .bind(a)
            .bind(n)
            .execute(p)
            .await
            .map(|_| ()),
        Raw::Postgres(p) => sqlx::query(sql)
            .bind(a)
            .bind(n)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .expect("raw statement");
}

/// Runs `sql` with binds ($1, $2 integers) on the raw pool.
async fn raw_ints(ctx: &Ctx, sql: &'static str, a: i64, b: i64) {
    match &ctx.raw {
        Raw::Sqlite(p) => sqlx::query(sql)
            .bind(a)
            .bind(b)
            .execute(p)
            .await
            .map(|_| ()),
        Raw::Postgres(p) => sqlx::query(sql)
            .bind(a)
            .bind(b)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .expect("raw statement");
}

async fn drop_append_only_triggers(ctx: &Ctx) {
    let stmts: &[&'static str] = match ctx.raw {
        Raw::Sqlite(_) => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ],
        Raw::Postgres(_) => &["DROP TRIGGER audit_log_no_update ON audit_log"],
    };
    for s in stmts {
        ctx.exec(s).await.expect("drop trigger");
    }
}

/// The unkeyed SHA-256 link (what the chain used before the key, and what a forger can compute).
fn sha_link(row: &AuditRow) -> String {
    let mut h = Sha256::new();
    for field in [
        row.prev_hash.clone(),
        row.seq.to_string(),
        row.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        row.actor.clone(),
        row.subject.clone(),
        row.purpose.clone(),
        row.action.clone(),
        row.decision.clone(),
        row.channel.clone(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Inserts `row` under the API (as a forger, or a database written before the keyed chain).
async fn insert_raw(ctx: &Ctx, row: &AuditRow) {
    let at = row.at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let sql = "INSERT INTO audit_log (seq, at, actor, subject, purpose, action, decision, \
               channel, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    macro_rules! run {
        ($p:expr) => {
            sqlx::query(sql)
                .bind(row.seq)
                .bind(&at)
                .bind(&row.actor)
                .bind(&row.subject)
                .bind(&row.purpose)
                .bind(&row.action)
                .bind(&row.decision)
                .bind(&row.channel)
                .bind(&row.prev_hash)
                .bind(&row.hash)
                .execute($p)
                .await
                .map(|_| ())
        };
    }
    match &ctx.raw {
        Raw::Sqlite(p) => run!(p),
        Raw::Postgres(p) => run!(p),
    }
    .expect("raw insert");
}

/// Rewrites every row's links with the unkeyed hash, after changing row 2's decision.
async fn rehash_without_key(ctx: &Ctx) -> Vec<AuditRow> {
    let mut rows = ctx.store.audit_rows(0, 100).await.unwrap();
    rows[1].decision = "allow".into();
    let mut prev = AUDIT_GENESIS.to_owned();
    for r in &mut rows {
        r.prev_hash = prev.clone();
        r.hash = sha_link(r);
        prev = r.hash.clone();
    }
    ctx.exec("DELETE FROM audit_log").await.unwrap();
    for r in &rows {
        insert_raw(ctx, r).await;
    }
    rows
}

type Head = (i64, i64, String, String);

/// Reads the checkpoint row (`restore` None), or writes `restore` back as the checkpoint.
async fn save_or_restore_head(ctx: &Ctx, restore: Option<&Head>) -> Head {
    let select = "SELECT keyed_from, seq, hash, mac FROM audit_head WHERE id = 1";
    let insert =
        "INSERT INTO audit_head (id, keyed_from, seq, hash, mac) VALUES (1, $1, $2, $3, $4)";
    macro_rules! run {
        ($p:expr) => {
            match restore {
                None => sqlx::query_as::<_, Head>(select).fetch_one($p).await,
                Some(h) => sqlx::query(insert)
                    .bind(h.0)
                    .bind(h.1)
                    .bind(&h.2)
                    .bind(&h.3)
                    .execute($p)
                    .await
                    .map(|_| h.clone()),
            }
        };
    }
    match &ctx.raw {
        Raw::Sqlite(p) => run!(p),
        Raw::Postgres(p) => run!(p),
    }
    .expect("raw checkpoint")
}

fn assert_broken(v: &AuditCheck, seq: i64, problem: AuditProblem, attack: &str) {
    assert_eq!(v.problem.as_ref(), Some(&problem), "{attack}: {v:?}");
    assert_eq!(v.first_broken_seq, Some(seq), "{attack}: {v:?}");
}

pub async fn audit_is_gapless_chained_and_append_only(ctx: &Ctx) {
    let s = &ctx.store;
    assert_eq!(s.last_audit().await.unwrap(), None);
    let v = s.verify_audit().await.unwrap();
    assert_eq!((v.rows, v.problem, v.head_seq), (0, None, None));
    let mut written = Vec::new();
    for i in 1..=12i64 {
        let subject = if i % 3 == 0 { "cust-a" } else { "cust-b" };
        let row = s.append_audit(&entry(subject, "allow")).await.unwrap();
        assert_eq!(row.seq, i);
        let prev = written
            .last()
            .map_or(AUDIT_GENESIS.to_owned(), |r: &AuditRow| r.hash.clone());
        assert_eq!(row.prev_hash, prev);
        // keyed: not the hash anyone could compute without the key
        assert_ne!(row.hash, sha_link(&row));
        written.push(row);
    }
    assert_eq!(s.last_audit().await.unwrap().as_ref(), written.last());
    assert_eq!(s.audit_rows(0, 100).await.unwrap(), written);
    assert_eq!(s.audit_rows(5, 3).await.unwrap(), written[5..8].to_vec());
    assert!(s.audit_rows(12, 10).await.unwrap().is_empty());
    let a = s.audit_for_subject("cust-a", 2).await.unwrap();
    assert_eq!(a.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![12, 9]);
    assert!(s.audit_for_subject("nobody", 10).await.unwrap().is_empty());
    let v = s.verify_audit().await.unwrap();
    assert_eq!(v.problem, None, "{v:?}");
    assert_eq!((v.rows, v.head_seq, v.keyed_from), (12, Some(12), Some(1)));
    assert_eq!(v.head_hash.as_deref(), Some(written[11].hash.as_str()));

    // the database refuses to rewrite history
    assert!(
        ctx.exec("UPDATE audit_log SET decision = 'deny' WHERE seq = 3")
            .await
            .is_err()
    );
    assert!(
        ctx.exec("DELETE FROM audit_log WHERE seq = 12")
            .await
            .is_err()
    );
    assert!(ctx.exec("DELETE FROM audit_log").await.is_err());
    assert_eq!(s.audit_rows(0, 100).await.unwrap(), written);

    // a store reopened with the same keyring goes on with the same chain
    let again = ctx.reopen(keyring()).await.unwrap();
    assert_eq!(
        again.append_audit(&entry("s", "allow")).await.unwrap().seq,
        13
    );
    assert_eq!(again.verify_audit().await.unwrap().problem, None);
    again.close().await;
}

pub async fn audit_concurrent_appenders_stay_gapless(ctx: &Ctx) {
    // Two stores on one database stand for two gateway processes.
    let other = ctx.reopen(keyring()).await.unwrap();
    let stores = [ctx.store.clone(), other.clone()];
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let s = stores[w % 2].clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    s.append_audit(&entry(&format!("w{w}"), "allow"))
                        .await
                        .expect("append");
                    let v = s.verify_audit().await.expect("verify");
                    assert_eq!(v.problem, None, "verify during appends: {v:?}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rows = ctx.store.audit_rows(0, 1000).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<_>>()
    );
    for pair in rows.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "chain is linear");
    }
    let v = ctx.store.verify_audit().await.unwrap();
    assert_eq!((v.problem, v.rows, v.head_seq), (None, 40, Some(40)));
    other.close().await;
}

pub async fn audit_tampering_of_each_kind_is_detected(ctx: &Ctx) {
    let s = &ctx.store;
    drop_append_only_triggers(ctx).await;
    for i in 0..5 {
        s.append_audit(&entry(&format!("c{i}"), "deny:no_consent[]"))
            .await
            .unwrap();
    }
    let valid_rows = s.audit_rows(0, 100).await.unwrap();
    let valid_head = save_or_restore_head(ctx, None).await;
    for attack in [
        "change",
        "delete_middle",
        "reorder",
        "truncate",
        "truncate_and_move_head",
        "append_forged",
        "append_forged_and_move_head",
        "rehash_without_key",
        "rehash_and_move_head",
        "delete_checkpoint",
    ] {
        // Back to the same valid five-row chain and checkpoint before each attack.
        ctx.exec("DELETE FROM audit_log").await.unwrap();
        ctx.exec("DELETE FROM audit_head").await.unwrap();
        for r in &valid_rows {
            insert_raw(ctx, r).await;
        }
        save_or_restore_head(ctx, Some(&valid_head)).await;
        assert_eq!(s.verify_audit().await.unwrap().problem, None, "{attack}");
        let rows = s.audit_rows(0, 100).await.unwrap();
        match attack {
            "change" => {
                ctx.exec("UPDATE audit_log SET decision = 'allow' WHERE seq = 3")
                    .await
                    .unwrap();
                assert_broken(
                    &s.verify_audit().await.unwrap(),
                    3,
                    AuditProblem::BadMac,
                    attack,
                );
            }
            "delete_middle" => {
                ctx.exec("DELETE FROM audit_log WHERE seq = 3")
                    .await
                    .unwrap();
                let problem = AuditProblem::Gap {
                    expected: 3,
                    found: 4,
                };
                assert_broken(&s.verify_audit().await.unwrap(), 3, problem, attack);
            }
            "reorder" => {
                for (from, to) in [(2, 100), (4, 2), (100, 4)] {
                    raw_ints(
                        ctx,
                        "UPDATE audit_log SET seq = $2 WHERE seq = $1",
                        from,
                        to,
                    )
                    .await;
                }
                let v = s.verify_audit().await.unwrap();
                assert_broken(&v, 2, AuditProblem::BrokenLink, attack);
            }
            "truncate" => {
                ctx.exec("DELETE FROM audit_log WHERE seq >= 4")
                    .await
                    .unwrap();
                let problem = AuditProblem::Truncated {
                    head_seq: 5,
                    last_seq: 3,
                };
                assert_broken(&s.verify_audit().await.unwrap(), 4, problem, attack);
            }
            "truncate_and_move_head" => {
                ctx.exec("DELETE FROM audit_log WHERE seq >= 4")
                    .await
                    .unwrap();
                raw(
                    ctx,
                    "UPDATE audit_head SET hash = $1, seq = $2",
                    &rows[2].hash,
                    3,
                )
                .await;
                assert_broken(
                    &s.verify_audit().await.unwrap(),
                    3,
                    AuditProblem::BadCheckpoint,
                    attack,
                );
            }
            "append_forged" | "append_forged_and_move_head" => {
                let mut forged = rows[4].clone();
                forged.seq = 6;
                forged.decision = "allow".into();
                forged.prev_hash = rows[4].hash.clone();
                forged.hash = sha_link(&forged);
                insert_raw(ctx, &forged).await;
                if attack == "append_forged" {
                    let problem = AuditProblem::PastHead { head_seq: 5 };
                    assert_broken(&s.verify_audit().await.unwrap(), 6, problem, attack);
                } else {
                    raw(
                        ctx,
                        "UPDATE audit_head SET hash = $1, seq = $2",
                        &forged.hash,
                        6,
                    )
                    .await;
                    assert_broken(
                        &s.verify_audit().await.unwrap(),
                        6,
                        AuditProblem::BadCheckpoint,
                        attack,
                    );
                }
            }
            "rehash_without_key" => {
                rehash_without_key(ctx).await;
                assert_broken(
                    &s.verify_audit().await.unwrap(),
                    1,
                    AuditProblem::BadMac,
                    attack,
                );
            }
            "rehash_and_move_head" => {
                let new = rehash_without_key(ctx).await;
                raw(
                    ctx,
                    "UPDATE audit_head SET hash = $1 WHERE seq = $2",
                    &new[4].hash,
                    5,
                )
                .await;
                assert_broken(
                    &s.verify_audit().await.unwrap(),
                    5,
                    AuditProblem::BadCheckpoint,
                    attack,
                );
            }
            "delete_checkpoint" => {
                ctx.exec("DELETE FROM audit_head").await.unwrap();
                assert_broken(
                    &s.verify_audit().await.unwrap(),
                    1,
                    AuditProblem::MissingCheckpoint,
                    attack,
                );
            }
            other => unreachable!("{other}"),
        }
        // A later append must not hide the tampering.
        let before = s.verify_audit().await.unwrap();
        match s.append_audit(&entry("later", "allow")).await {
            Ok(_) => {
                let after = s.verify_audit().await.unwrap();
                // (A truncation becomes a gap once a row follows it.)
                assert!(after.problem.is_some(), "{attack}: hidden by an append");
                assert_eq!(after.first_broken_seq, before.first_broken_seq, "{attack}");
            }
            Err(e) => {
                assert!(
                    matches!(
                        before.problem,
                        Some(AuditProblem::BadCheckpoint | AuditProblem::MissingCheckpoint)
                    ),
                    "{attack}: append refused ({e}) though {before:?}"
                );
                assert!(matches!(
                    e,
                    okienko_store::StoreError::Corrupt("audit_head")
                ));
                assert_eq!(s.verify_audit().await.unwrap(), before, "{attack}");
            }
        }
    }
}

/// A database written before the keyed chain (unkeyed SHA-256 links, no checkpoint) stays
/// readable and verifiable; the first keyed append seals its last legacy row into the chain.
pub async fn audit_legacy_rows_are_kept_and_sealed(ctx: &Ctx) {
    let s = &ctx.store;
    let mut prev = AUDIT_GENESIS.to_owned();
    let mut legacy = Vec::new();
    for seq in 1..=3 {
        let mut r = AuditRow {
            seq,
            at: chrono::DateTime::from_timestamp_micros(1_700_000_000_000_000 + seq).unwrap(),
            actor: "system".into(),
            subject: "c".into(),
            purpose: "service.balance".into(),
            action: "read".into(),
            decision: "allow".into(),
            channel: "webchat".into(),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        r.hash = sha_link(&r);
        prev = r.hash.clone();
        insert_raw(ctx, &r).await;
        legacy.push(r);
    }
    let v = s.verify_audit().await.unwrap();
    assert_eq!((v.rows, v.problem, v.keyed_from), (3, None, None));
    let first_keyed = s.append_audit(&entry("c", "allow")).await.unwrap();
    assert_eq!(
        (first_keyed.seq, first_keyed.prev_hash.as_str()),
        (4, legacy[2].hash.as_str())
    );
    s.append_audit(&entry("c", "allow")).await.unwrap();
    let v = s.verify_audit().await.unwrap();
    assert_eq!((v.rows, v.problem, v.keyed_from), (5, None, Some(4)));

    // Rehashing the legacy rows now breaks the first keyed row's link.
    drop_append_only_triggers(ctx).await;
    let mut forged = legacy.clone();
    forged[0].decision = "deny:no_consent[]".into();
    let mut prev = AUDIT_GENESIS.to_owned();
    for r in &mut forged {
        r.prev_hash = prev.clone();
        r.hash = sha_link(r);
        prev = r.hash.clone();
        raw(
            ctx,
            "UPDATE audit_log SET decision = $1 WHERE seq = $2",
            &r.decision,
            r.seq,
        )
        .await;
        raw(
            ctx,
            "UPDATE audit_log SET hash = $1 WHERE seq = $2",
            &r.hash,
            r.seq,
        )
        .await;
        raw(
            ctx,
            "UPDATE audit_log SET prev_hash = $1 WHERE seq = $2",
            &r.prev_hash,
            r.seq,
        )
        .await;
    }
    assert_broken(
        &s.verify_audit().await.unwrap(),
        4,
        AuditProblem::BrokenLink,
        "legacy rehash",
    );
}

pub async fn audit_batches_chain_like_single_appends(ctx: &Ctx) {
    // Two stores on one database stand for two gateway processes, each group-committing.
    let other = ctx.reopen(keyring()).await.unwrap();
    assert!(ctx.store.append_audit_batch(&[]).await.unwrap().is_empty());
    let stores = [ctx.store.clone(), other.clone()];
    let tasks: Vec<_> = (0..6)
        .map(|w| {
            let s = stores[w % 2].clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for size in [1usize, 7, 3] {
                    let batch: Vec<AuditEntry> = (0..size)
                        .map(|i| entry(&format!("w{w}-{i}"), "allow"))
                        .collect();
                    let rows = s.append_audit_batch(&batch).await.expect("append batch");
                    assert_eq!(rows.len(), size);
                    // A batch is contiguous and in the order given.
                    for (pair, e) in rows.windows(2).zip(&batch) {
                        assert_eq!(pair[1].seq, pair[0].seq + 1);
                        assert_eq!(pair[1].prev_hash, pair[0].hash);
                        assert_eq!(pair[0].subject, e.subject);
                    }
                    seqs.extend(rows.iter().map(|r| r.seq));
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=66).collect::<Vec<_>>());
    let rows = ctx.store.audit_rows(0, 1000).await.unwrap();
    for pair in rows.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "chain is linear");
    }
    let v = ctx.store.verify_audit().await.unwrap();
    assert_eq!((v.problem, v.rows, v.head_seq), (None, 66, Some(66)));
    // A row changed inside a batch is caught like any other.
    drop_append_only_triggers(ctx).await;
    ctx.exec("UPDATE audit_log SET decision = 'deny' WHERE seq = 5")
        .await
        .unwrap();
    let v = ctx.store.verify_audit().await.unwrap();
    assert_eq!(
        (v.problem, v.first_broken_seq),
        (Some(AuditProblem::BadMac), Some(5))
    );
    other.close().await;
}

/// A damaged or deleted checkpoint is repaired only over an intact chain: the repair is recorded
/// as a row and the fresh checkpoint goes after it; a broken chain, a checkpoint claiming more
/// rows than there are, or a chain rewritten without the key is refused and nothing is written.
pub async fn audit_checkpoint_repair_only_over_an_intact_chain(ctx: &Ctx) {
    use okienko_store::{HeadFileStatus, RepairOutcome, RepairRefusal};
    let s = &ctx.store;
    for i in 0..5 {
        s.append_audit(&entry(&format!("c{i}"), "allow"))
            .await
            .unwrap();
    }
    let repair = |external| s.repair_audit_checkpoint("operator:ops-1", Utc::now(), external);
    assert_eq!(
        repair(None).await.unwrap(),
        RepairOutcome::NotNeeded {
            rows: 5,
            head_seq: 5
        }
    );
    let count = || async { s.audit_rows(0, 1000).await.unwrap().len() };

    // A damaged checkpoint: appends stop; the repair verifies and reseals.
    ctx.exec("UPDATE audit_head SET mac = 'damaged'")
        .await
        .unwrap();
    assert!(s.append_audit(&entry("x", "allow")).await.is_err());
    let RepairOutcome::Repaired {
        rows_verified,
        previous,
        repair_seq,
        seal,
    } = repair(None).await.unwrap()
    else {
        panic!("not repaired");
    };
    assert_eq!(
        (rows_verified, previous, repair_seq),
        (5, AuditProblem::BadCheckpoint, 6)
    );
    let row = s.last_audit().await.unwrap().unwrap();
    assert_eq!(
        (row.seq, row.actor.as_str(), row.decision.as_str()),
        (6, "operator:ops-1", "repaired:bad_checkpoint")
    );
    let v = s.verify_audit().await.unwrap();
    assert_eq!(
        (v.problem, v.head_seq, v.keyed_from),
        (None, Some(6), Some(1))
    );
    assert_eq!(
        s.check_audit_head(Some(&seal)).await.unwrap(),
        HeadFileStatus::Matches {
            head_seq: 6,
            db_seq: 6
        }
    );
    assert_eq!(s.append_audit(&entry("x", "allow")).await.unwrap().seq, 7);
    // The head outside the database must be in the chain.
    let mut edited = seal.clone();
    edited.seq = 5;
    assert_eq!(
        repair(Some(&edited)).await.unwrap(),
        RepairOutcome::Refused {
            reason: RepairRefusal::HeadFile {
                status: HeadFileStatus::BadSeal { head_seq: 5 }
            }
        }
    );

    // A deleted checkpoint likewise.
    ctx.exec("DELETE FROM audit_head").await.unwrap();
    assert!(matches!(
        repair(Some(&seal)).await.unwrap(),
        RepairOutcome::Repaired {
            previous: AuditProblem::MissingCheckpoint,
            repair_seq: 8,
            ..
        }
    ));
    assert_eq!(s.verify_audit().await.unwrap().problem, None);

    // Refusals write nothing.
    drop_append_only_triggers(ctx).await;
    ctx.exec("DELETE FROM audit_log WHERE seq = 8")
        .await
        .unwrap();
    ctx.exec("UPDATE audit_head SET mac = 'damaged'")
        .await
        .unwrap();
    assert_eq!(
        repair(None).await.unwrap(),
        RepairOutcome::Refused {
            reason: RepairRefusal::CheckpointAhead {
                claimed_seq: 8,
                last_seq: 7
            }
        }
    );
    assert_eq!(count().await, 7);
    ctx.exec("DELETE FROM audit_head").await.unwrap();
    ctx.exec("UPDATE audit_log SET decision = 'deny' WHERE seq = 3")
        .await
        .unwrap();
    assert_eq!(
        repair(None).await.unwrap(),
        RepairOutcome::Refused {
            reason: RepairRefusal::Chain {
                seq: 3,
                problem: AuditProblem::BadMac
            }
        }
    );
    assert_eq!(count().await, 7);
    // Every row rewritten with the unkeyed link (what a forger without the key can do).
    rehash_without_key(ctx).await;
    assert_eq!(
        repair(None).await.unwrap(),
        RepairOutcome::Refused {
            reason: RepairRefusal::NoKeyedRows { rows: 7 }
        }
    );
    assert_eq!(count().await, 7);
}
