//! The support desk over a real SQLite file and a real PostgreSQL schema: staff sign-in with
//! hashed passwords and hashed session tokens, 50 agents racing for 20 conversations (each
//! claimed once, one case each), bank isolation, and transcripts readable only by the agent
//! holding the case, audited, and erased with the customer's data.

use std::collections::HashMap;
use std::sync::Arc;

use okienko_core::{Clock, CustomerId, Lang, SystemClock};
use okienko_privacy::support::{
    ConversationStatus, Sender, Staff, StaffRole, SupportDesk, SupportError, TransferTarget,
};
use okienko_privacy::{EpisodeId, FraudBook, PrivacyGate, parse_decision};
use okienko_store::{Keyring, Store};

const PG_URL: &str = "postgres://127.0.0.1:5432/test";

enum Db {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(String),
}

async fn store(pg: bool, name: &str) -> (Store, Db) {
    if pg {
        let url = std::env::var("OKIENKO_TEST_PG_URL").unwrap_or_else(|_| PG_URL.to_owned());
        let schema = format!("privsupport_{}_{name}", std::process::id());
        let store = Store::connect_isolated(&url, &schema, Keyring::generate())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url} is required ({e})"));
        (store, Db::Postgres(schema))
    } else {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("s.sqlite").display()
        );
        (
            Store::connect(&url, Keyring::generate()).await.unwrap(),
            Db::Sqlite(dir),
        )
    }
}

async fn finish(store: Store, db: Db) {
    store.close().await;
    if let Db::Postgres(schema) = db {
        let url = std::env::var("OKIENKO_TEST_PG_URL").unwrap_or_else(|_| PG_URL.to_owned());
        let pool = sqlx::PgPool::connect_with(okienko_store::pg_connect_options(&url).unwrap())
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(&pool)
        .await
        .unwrap();
    }
}

fn desk(store: &Store) -> (SupportDesk, PrivacyGate) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let gate = PrivacyGate::new(store.clone(), clock);
    (SupportDesk::new(gate.clone()), gate)
}

async fn staff(desk: &SupportDesk, bank: &str, name: &str, role: StaffRole) -> Staff {
    desk.add_staff(bank, name, name, role, "general", "secret-pw")
        .await
        .unwrap()
}

async fn race(pg: bool) {
    let (store, db) = store(pg, "race").await;
    let (desk, gate) = desk(&store);
    let mut agents = Vec::new();
    for i in 0..50 {
        // Hashing 50 passwords would only slow the test: the staff records are what matters.
        agents.push(Staff {
            id: format!("staff-{i}"),
            bank: "sandbox".into(),
            username: format!("a{i}"),
            display_name: format!("A{i}"),
            role: StaffRole::Agent,
            team: "general".into(),
        });
    }
    let mut ids = Vec::new();
    for _ in 0..20 {
        let c = desk
            .request(
                CustomerId::new(),
                "sandbox",
                "general",
                "customer_asked",
                Lang::Pl,
                false,
            )
            .await
            .unwrap();
        ids.push(c.id);
    }
    let ids = Arc::new(ids);
    let mut tasks = Vec::new();
    for (n, me) in agents.into_iter().enumerate() {
        let desk = desk.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for k in 0..ids.len() {
                let id = &ids[(k * 7 + n) % ids.len()];
                match desk.claim(&me, id).await {
                    Ok(c) => won.push((c.id, c.case)),
                    Err(SupportError::AlreadyTaken) => {}
                    Err(e) => panic!("claim failed: {e}"),
                }
            }
            (me, won)
        }));
    }
    let mut by_conv: HashMap<String, Vec<String>> = HashMap::new();
    let mut cases = Vec::new();
    for t in tasks {
        let (me, won) = t.await.unwrap();
        for (id, case) in won {
            by_conv.entry(id).or_default().push(me.id.clone());
            cases.push((me.id.clone(), case.expect("a claim opens a case")));
        }
    }
    assert_eq!(by_conv.len(), 20);
    for id in ids.iter() {
        assert_eq!(by_conv[id].len(), 1, "{id} claimed by {:?}", by_conv[id]);
        let c = desk.conversation(id).await.unwrap();
        assert_eq!(c.owner.as_ref(), Some(&by_conv[id][0]));
        assert_eq!(c.status, ConversationStatus::Active);
    }
    assert_eq!(cases.len(), 20, "exactly one case per conversation");
    let distinct: std::collections::HashSet<_> = cases.iter().map(|(_, c)| *c).collect();
    assert_eq!(distinct.len(), 20);
    // Each winner's case is open and theirs: the gate would let them read for support.
    for (agent, case) in &cases {
        assert!(
            gate.close_case(*case).await.unwrap(),
            "{agent}'s case was open"
        );
    }
    finish(store, db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_agents_race_for_twenty_conversations_on_sqlite() {
    race(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_agents_race_for_twenty_conversations_on_postgres() {
    race(true).await;
}

async fn lifecycle(pg: bool) {
    let (store, db) = store(pg, "life").await;
    let (desk, gate) = desk(&store);
    let ola = staff(&desk, "sandbox", "ola", StaffRole::Agent).await;
    let jan = staff(&desk, "sandbox", "jan", StaffRole::Agent).await;
    let other = staff(&desk, "otherbank", "eve", StaffRole::Agent).await;
    assert!(matches!(
        desk.add_staff(
            "sandbox",
            "ola",
            "x",
            StaffRole::Agent,
            "general",
            "pw-1234"
        )
        .await,
        Err(SupportError::UsernameTaken)
    ));
    assert!(matches!(
        desk.add_staff(
            "sandbox",
            "bad name",
            "x",
            StaffRole::Agent,
            "general",
            "pw-1234"
        )
        .await,
        Err(SupportError::Invalid("username"))
    ));

    // Sign-in: the password is checked against its argon2 hash; the token is a session.
    assert!(matches!(
        desk.sign_in("ola", "wrong").await,
        Err(SupportError::BadCredentials)
    ));
    assert!(matches!(
        desk.sign_in("nobody", "secret-pw").await,
        Err(SupportError::BadCredentials)
    ));
    let (me, token) = desk.sign_in("ola", "secret-pw").await.unwrap();
    assert_eq!(me, ola);
    assert_eq!(desk.session(&token).await.unwrap(), Some(ola.clone()));
    assert_eq!(desk.session("forged").await.unwrap(), None);

    let customer = CustomerId::new();
    let conv = desk
        .request(
            customer,
            "sandbox",
            "general",
            "customer_asked",
            Lang::En,
            false,
        )
        .await
        .unwrap();
    // Asking again while waiting gives the same conversation.
    let again = desk
        .request(
            customer,
            "sandbox",
            "general",
            "customer_asked",
            Lang::En,
            false,
        )
        .await
        .unwrap();
    assert_eq!(again.id, conv.id);
    assert_eq!(desk.queue_position(&conv).await.unwrap(), 1);
    desk.customer_says(&conv, "my card is gone, balance 123,45")
        .await
        .unwrap();

    // Another bank's agent sees nothing of it and cannot claim it.
    assert!(desk.queue(&other).await.unwrap().is_empty());
    assert!(matches!(
        desk.claim(&other, &conv.id).await,
        Err(SupportError::NotFound)
    ));
    // Nobody reads the transcript before holding it.
    assert!(matches!(
        desk.transcript(&ola, &conv.id).await,
        Err(SupportError::Forbidden)
    ));

    let held = desk.claim(&ola, &conv.id).await.unwrap();
    assert!(matches!(
        desk.claim(&jan, &conv.id).await,
        Err(SupportError::AlreadyTaken)
    ));
    assert!(matches!(
        desk.reply(&jan, &conv.id, "hi").await,
        Err(SupportError::Forbidden)
    ));
    desk.reply(&ola, &conv.id, "I'm blocking it now.")
        .await
        .unwrap();
    desk.note(&ola, &conv.id, "customer verified")
        .await
        .unwrap();
    let lines = desk.transcript(&ola, &conv.id).await.unwrap();
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.sender.clone(), l.note, l.text.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (Sender::Customer, false, "my card is gone, balance 123,45"),
            (Sender::Agent(ola.id.clone()), false, "I'm blocking it now."),
            (Sender::Agent(ola.id.clone()), true, "customer verified"),
        ]
    );
    // The transcript read is audited as the agent's, for support, allowed by the case policy.
    let audit = store
        .audit_for_subject(&customer.to_string(), 10)
        .await
        .unwrap();
    let read = audit
        .iter()
        .find(|r| r.action == "read.transcript")
        .expect("transcript read audited");
    assert_eq!(read.actor, format!("agent:{}", ola.id));
    assert_eq!(read.purpose, "service.support");
    assert_eq!(parse_decision(&read.decision).0, "allow");

    // Transfer to Jan: Ola's case closes, Jan gets his own.
    let moved = desk
        .transfer(&ola, &conv.id, &TransferTarget::Agent("jan".into()))
        .await
        .unwrap();
    assert_eq!(moved.owner.as_ref(), Some(&jan.id));
    assert_ne!(moved.case, held.case);
    assert!(matches!(
        desk.transcript(&ola, &conv.id).await,
        Err(SupportError::Forbidden)
    ));
    assert_eq!(desk.transcript(&jan, &conv.id).await.unwrap().len(), 3);
    // Transfers stay inside the bank.
    assert!(matches!(
        desk.transfer(&jan, &conv.id, &TransferTarget::Agent("eve".into()))
            .await,
        Err(SupportError::Invalid(_))
    ));

    // The customer's open fraud cases: for the agent holding the conversation only.
    let book = FraudBook::new(store.clone());
    let case = book
        .open_case(customer, EpisodeId::new(), 1, SystemClock.now())
        .await
        .unwrap();
    let done = book
        .open_case(customer, EpisodeId::new(), 0, SystemClock.now())
        .await
        .unwrap();
    book.close_case(&done, SystemClock.now()).await.unwrap();
    book.open_case(CustomerId::new(), EpisodeId::new(), 1, SystemClock.now())
        .await
        .unwrap();
    let cases = desk.fraud_cases(&jan, &conv.id).await.unwrap();
    assert_eq!(
        cases.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![case.id],
        "open cases of this customer only"
    );
    assert!(matches!(
        desk.fraud_cases(&ola, &conv.id).await,
        Err(SupportError::Forbidden)
    ));
    assert!(matches!(
        desk.fraud_cases(&other, &conv.id).await,
        Err(SupportError::NotFound)
    ));

    let closed = desk.close(&jan, &conv.id, "card_blocked").await.unwrap();
    assert_eq!(closed.status, ConversationStatus::Closed);
    assert!(
        !gate.close_case(moved.case.unwrap()).await.unwrap(),
        "case closed with it"
    );
    assert_eq!(desk.live_conversation(customer).await.unwrap(), None);
    assert!(desk.record_csat(customer, &conv.id, 5).await.unwrap());
    assert!(!desk.record_csat(customer, &conv.id, 4).await.unwrap());

    // Revocation erases the transcript with the customer's data key.
    store
        .delete_customer_financial_data(customer)
        .await
        .unwrap();
    assert!(store.support_messages(&conv.id).await.unwrap().is_empty());

    desk.sign_out(&token).await.unwrap();
    assert_eq!(desk.session(&token).await.unwrap(), None);
    finish(store, db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_lifecycle_on_sqlite() {
    lifecycle(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desk_lifecycle_on_postgres() {
    lifecycle(true).await;
}
