//! Matrix end to end over real processes: a real Synapse (SQLite, loopback, no federation),
//! `okienko sandbox-bank`, and `okienko serve` with the Matrix bot on; the customers are
//! matrix-sdk clients with their own encrypted stores and cross-signing, as a phone app would be.
//!
//! In an encrypted DM the customer links the bank through the consent page, then gets the
//! balance and the transactions, checked against the sandbox bank's own data. Asking for a
//! human puts the conversation in the agents' queue (the same handover as the web chat and
//! Messenger); the agent's reply, driven over the console's HTTP and WebSocket API, arrives in
//! the encrypted DM, the customer's answer reaches the console, and after the agent closes the
//! bot answers again. An unencrypted
//! room and a room with three people get the refusal and no data. Finally Synapse's own database
//! is scanned: no balance and no amount in plaintext, while the refusal (sent unencrypted, in
//! the unencrypted room) is found there, so the scan does see plaintext.
//!
//! Needs the `matrix` feature (`cargo test -p okienko --features matrix --test matrix`) and
//! Synapse in `$OKIENKO_VENV` (scripts/test installs it); without Synapse it says so and skips.
#![cfg(feature = "matrix")]
// matrix-sdk's futures are deep: spawning its sync loop needs more than the default 128.
#![recursion_limit = "256"]

mod support;
#[path = "support/synapse.rs"]
mod synapse;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use msdk::config::SyncSettings;
use msdk::ruma::api::client::room::create_room::v3::{Request as CreateRoom, RoomPreset};
use msdk::ruma::api::client::uiaa;
use msdk::ruma::events::InitialStateEvent;
use msdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use msdk::ruma::events::room::member::MembershipState;
use msdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use msdk::ruma::{OwnedRoomId, OwnedUserId, RoomId};
use msdk::{Client, Room};
use okienko_channels::matrix::sdk as msdk;
use serde_json::json;
use support::console::{console_ws, send as console_send, sign_in, until};
use support::*;

const WAIT: Duration = Duration::from_secs(90);
const BOT_PASSWORD: &str = "bot-password-123";
const STORE_PASSPHRASE: &str = "bot-store-passphrase-123";

/// A message a customer's client saw.
#[derive(Debug, Clone)]
struct Seen {
    room: OwnedRoomId,
    sender: OwnedUserId,
    body: String,
    html: Option<String>,
    /// Whether it arrived encrypted (decrypted by the client).
    encrypted: bool,
    /// For an `m.image`: where its (encrypted) file is.
    image: Option<msdk::ruma::events::room::MediaSource>,
}

/// A customer with a matrix-sdk client syncing in the background.
struct Person {
    client: Client,
    seen: Arc<Mutex<Vec<Seen>>>,
    sync: tokio::task::JoinHandle<()>,
}

impl Drop for Person {
    fn drop(&mut self) {
        self.sync.abort();
    }
}

impl Person {
    async fn login(hs: &str, user: &str, password: &str, store: &Path) -> Person {
        let client = Client::builder()
            .homeserver_url(hs)
            .sqlite_store(store, Some("customer-store-passphrase"))
            .build()
            .await
            .unwrap();
        client
            .matrix_auth()
            .login_username(user, password)
            .initial_device_display_name("phone")
            .await
            .unwrap();
        // The customer's device is cross-signed, as a current Matrix app does on first login:
        // the bot shares room keys only with such devices.
        if let Err(e) = client
            .encryption()
            .bootstrap_cross_signing_if_needed(None)
            .await
        {
            let info = e.as_uiaa_response().expect("cross-signing bootstrap");
            let mut auth = uiaa::Password::new(
                uiaa::UserIdentifier::Matrix(uiaa::MatrixUserIdentifier::new(user.to_owned())),
                password.to_owned(),
            );
            auth.session = info.session.clone();
            client
                .encryption()
                .bootstrap_cross_signing(Some(uiaa::AuthData::Password(auth)))
                .await
                .unwrap();
        }
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let sink = seen.clone();
        client.add_event_handler(
            move |ev: OriginalSyncRoomMessageEvent,
                  room: Room,
                  enc: Option<msdk::deserialized_responses::EncryptionInfo>| {
                let sink = sink.clone();
                async move {
                    let (body, html, image) = match &ev.content.msgtype {
                        MessageType::Notice(n) => (
                            n.body.clone(),
                            n.formatted.as_ref().map(|f| f.body.clone()),
                            None,
                        ),
                        MessageType::Text(t) => (
                            t.body.clone(),
                            t.formatted.as_ref().map(|f| f.body.clone()),
                            None,
                        ),
                        MessageType::Image(i) => (i.body.clone(), None, Some(i.source.clone())),
                        _ => return,
                    };
                    sink.lock().unwrap().push(Seen {
                        room: room.room_id().to_owned(),
                        sender: ev.sender,
                        body,
                        html,
                        encrypted: enc.is_some(),
                        image,
                    });
                }
            },
        );
        let first = client.sync_once(SyncSettings::default()).await.unwrap();
        let c = client.clone();
        let sync = tokio::spawn(async move {
            let settings = SyncSettings::default()
                .token(first.next_batch)
                .timeout(Duration::from_secs(5));
            let _ = c.sync(settings).await;
        });
        Person { client, seen, sync }
    }

    /// Creates a room inviting `invite`; a DM (encrypted or not) or a group.
    async fn create_room(&self, invite: &[&str], encrypted: bool) -> Room {
        let mut req = CreateRoom::new();
        req.invite = invite.iter().map(|u| u.parse().unwrap()).collect();
        req.is_direct = invite.len() == 1;
        req.preset = Some(RoomPreset::TrustedPrivateChat);
        if encrypted {
            req.initial_state = vec![
                InitialStateEvent::with_empty_state_key(
                    RoomEncryptionEventContent::with_recommended_defaults(),
                )
                .to_raw_any(),
            ];
        }
        self.client.create_room(req).await.unwrap()
    }

    /// Waits until `users` have joined `room` (as this client's sync sees it); false if they
    /// never do.
    async fn wait_joined(&self, room: &RoomId, users: &[&str]) -> bool {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(r) = self.client.get_room(room) {
                let mut all = true;
                for u in users {
                    let id: OwnedUserId = u.parse().unwrap();
                    let joined = matches!(
                        r.get_member_no_sync(&id).await,
                        Ok(Some(m)) if *m.membership() == MembershipState::Join
                    );
                    all &= joined;
                }
                if all {
                    return true;
                }
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn say(&self, room: &RoomId, text: &str) -> usize {
        let from = self.seen.lock().unwrap().len();
        let r = self.client.get_room(room).unwrap();
        r.send(RoomMessageEventContent::text_plain(text))
            .await
            .unwrap();
        from
    }

    /// Waits for a message from `sender` in `room`, after the first `from`, matching `pred`.
    async fn expect(
        &self,
        room: &RoomId,
        sender: &str,
        from: usize,
        what: &str,
        pred: impl Fn(&Seen) -> bool,
    ) -> Seen {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .seen
                .lock()
                .unwrap()
                .iter()
                .skip(from)
                .filter(|s| s.room.as_str() == room.as_str() && s.sender.as_str() == sender)
                .find(|s| pred(s))
                .cloned();
            if let Some(s) = found {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "no message {what}; seen {:#?}",
                self.seen.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn seen_in(&self, room: &RoomId) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.room.as_str() == room.as_str())
            .cloned()
            .collect()
    }
}

/// Every way an amount could be written: 1234.56, 1234,56, 1 234,56, 1,234.56.
fn amount_forms(decimal: &str) -> Vec<String> {
    let abs = decimal.trim_start_matches('-');
    let (int, frac) = abs.split_once('.').unwrap_or((abs, "00"));
    let group = |sep: &str| {
        let d: Vec<char> = int.chars().collect();
        let mut out = String::new();
        for (i, c) in d.iter().enumerate() {
            if i > 0 && (d.len() - i).is_multiple_of(3) {
                out.push_str(sep);
            }
            out.push(*c);
        }
        out
    };
    vec![
        format!("{int}.{frac}"),
        format!("{int},{frac}"),
        format!("{},{frac}", group(" ")),
        format!("{},{frac}", group("\u{a0}")),
        format!("{}.{frac}", group(",")),
    ]
}

fn shows_amount(text: &str, decimal: &str) -> bool {
    amount_forms(decimal).iter().any(|f| text.contains(f))
}

/// Adds a console staff account (password `demo`) with `okienko agents add-staff`, in the data
/// directory the gateway will use.
fn add_staff(dir: &Path, username: &str, name: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(BIN)
        .args([
            "agents",
            "add-staff",
            "--bank",
            "sandbox",
            "--role",
            "agent",
            "--username",
            username,
            "--name",
            name,
        ])
        .current_dir(dir)
        .env("OKIENKO_DATA_DIR", dir.join("data"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"demo\n").unwrap();
    assert!(child.wait().unwrap().success(), "add-staff failed");
}

fn bytes_contain(path: &Path, needle: &str) -> bool {
    // `str::contains` runs the standard library's optimised search even in a debug build; a
    // byte-window scan of Synapse's database per amount took minutes. Invalid UTF-8 only ever
    // becomes U+FFFD, which no needle contains, so no match is made or lost.
    std::fs::read(path).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_bot_links_and_answers_only_in_an_encrypted_dm_and_synapse_sees_no_amounts() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(python) = synapse::python() else {
        eprintln!(
            "SKIPPED: Synapse is not installed in $OKIENKO_VENV (scripts/test installs it from scripts/requirements-matrix.txt)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut hs = synapse::Synapse::start(&python, &dir.path().join("synapse")).await;
    let bot_id = hs.register("bank", BOT_PASSWORD).await;
    assert_eq!(
        hs.register("alice", "alice-password-123").await,
        "@alice:localhost"
    );
    hs.register("bob", "bob-password-123").await;

    let bank = spawn_bank(dir.path(), 0);
    add_staff(dir.path(), "agent", "Ola (konsultantka)");
    let gw = spawn(
        &["serve"],
        &[
            ("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()),
            (
                "OKIENKO_DATA_DIR",
                dir.path().join("data").display().to_string(),
            ),
            ("OKIENKO_BANK__BASE_URL", bank.url.clone()),
            ("OKIENKO_BANK__TIMEOUT_SECS", "5".to_owned()),
            ("OKIENKO_MATRIX__ENABLED", "true".to_owned()),
            ("OKIENKO_MATRIX__HOMESERVER_URL", hs.url.clone()),
            ("OKIENKO_MATRIX__USER_ID", bot_id.clone()),
            ("OKIENKO_MATRIX__PASSWORD", BOT_PASSWORD.to_owned()),
            (
                "OKIENKO_MATRIX__STORE_PASSPHRASE",
                STORE_PASSPHRASE.to_owned(),
            ),
        ],
        dir.path(),
        "listening on",
    );

    let alice = Person::login(
        &hs.url,
        "alice",
        "alice-password-123",
        &dir.path().join("alice-store"),
    )
    .await;

    // The encrypted DM: the bot accepts the invite.
    let dm = alice.create_room(&[bot_id.as_str()], true).await;
    let dm_id = dm.room_id().to_owned();
    assert!(
        alice.wait_joined(&dm_id, &[bot_id.as_str()]).await,
        "members never joined; gateway log:\n{}",
        gw.log()
    );

    // Linking: the consent link comes in the DM; the customer approves at the bank's page.
    let from = alice.say(&dm_id, "połącz bank").await;
    let link = alice
        .expect(&dm_id, &bot_id, from, "with the consent link", |s| {
            s.body.contains(&bank.url)
        })
        .await;
    assert!(link.encrypted, "the bot's answer came unencrypted");
    let url = link
        .body
        .split_whitespace()
        .find(|w| w.starts_with(&bank.url))
        .unwrap()
        .to_owned();
    assert!(
        link.html.as_deref().is_some_and(|h| h.contains("<a href=")),
        "{link:?}"
    );
    let callback = approve_at_bank(&url, "anna", "demo", "approve").await;
    let page = http().get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // The bank confirmed: the bot writes first with the linked accounts.
    let truth = bank_truth(&bank.url, "anna").await;
    let accounts = truth["accounts"].as_array().unwrap();
    let iban = accounts[0]["iban"].as_str().unwrap();
    let iban_tail = &iban[iban.len() - 4..];
    alice
        .expect(&dm_id, &bot_id, from, "after the bank confirmed", |s| {
            s.body.contains(iban_tail)
        })
        .await;

    // Balance: every account's interimAvailable, from the bank, shown in full (the room is
    // end-to-end encrypted with the account holder alone).
    let from = alice.say(&dm_id, "ile mam na koncie?").await;
    let balances: Vec<String> = accounts
        .iter()
        .map(|a| {
            a["balances"]["interimAvailable"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let balance = alice
        .expect(&dm_id, &bot_id, from, "with the balances", |s| {
            shows_amount(&s.body, &balances[0])
        })
        .await;
    assert!(balance.encrypted);
    for b in &balances {
        assert!(shows_amount(&balance.body, b), "{b} not in {balance:?}");
    }
    assert!(
        !balance.body.contains("/view/"),
        "masked in an E2EE DM: {balance:?}"
    );

    // Transactions: the most recent ones, as a table, with the bank's amounts.
    let mut txs: Vec<(String, String)> = accounts
        .iter()
        .flat_map(|a| a["transactions"].as_array().unwrap().iter())
        .map(|t| {
            (
                t["bookingDate"]
                    .as_str()
                    .or(t["valueDate"].as_str())
                    .unwrap()
                    .to_owned(),
                t["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    txs.sort();
    txs.reverse();
    let from = alice.say(&dm_id, "pokaż ostatnie transakcje").await;
    let table = alice
        .expect(&dm_id, &bot_id, from, "with a transactions table", |s| {
            s.html.as_deref().is_some_and(|h| h.contains("<table>"))
        })
        .await;
    assert!(table.encrypted);
    let newest = &txs[0];
    assert!(
        shows_amount(&table.body, &newest.1),
        "the newest transaction {newest:?} is not in {table:?}"
    );
    let shown = txs
        .iter()
        .take(5)
        .filter(|(_, a)| shows_amount(&table.body, a))
        .count();
    assert!(
        shown >= 3,
        "{shown} of the 5 newest amounts shown: {table:?}"
    );

    // A spending summary: the chart arrives as an encrypted `m.image` whose file is a real PNG,
    // with the text version beside it for clients that show no images.
    let from = alice.say(&dm_id, "ile wydałem w tym miesiącu?").await;
    let chart = alice
        .expect(&dm_id, &bot_id, from, "a chart image", |s| {
            s.image.is_some()
        })
        .await;
    assert!(chart.encrypted, "{chart:?}");
    let source = chart.image.clone().unwrap();
    assert!(
        matches!(source, msdk::ruma::events::room::MediaSource::Encrypted(_)),
        "the chart file must be uploaded encrypted: {source:?}"
    );
    let png_bytes = alice
        .client
        .media()
        .get_media_content(
            &msdk::media::MediaRequestParameters {
                source,
                format: msdk::media::MediaFormat::File,
            },
            false,
        )
        .await
        .unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    assert!(reader.info().width >= 320 && reader.info().height >= 120);
    assert!(
        !chart.body.trim().is_empty(),
        "the chart has a text alternative"
    );

    // Asking for a human: the conversation goes to the agents' queue.
    let from = alice.say(&dm_id, "chcę rozmawiać z konsultantem").await;
    alice
        .expect(&dm_id, &bot_id, from, "the queue notice", |s| {
            s.body.contains("w kolejce")
        })
        .await;
    let console = format!("{}/agent", gw.url);
    let cookie = sign_in(&console, "agent").await;
    let mut ws = console_ws(&console, Some(&cookie), None).await.unwrap();
    let state = until(&mut ws, WAIT, |v| {
        v["type"] == "state" && v["queue"].as_array().is_some_and(|q| q.len() == 1)
    })
    .await;
    let conv = state["queue"][0]["id"].as_str().unwrap().to_owned();
    console_send(&mut ws, json!({"type": "claim", "conversation": conv})).await;
    let opened = until(&mut ws, WAIT, |v| v["type"] == "opened").await;
    assert!(
        opened["transcript"].to_string().contains("konsultantem"),
        "{opened}"
    );
    alice
        .expect(&dm_id, &bot_id, from, "the agent joining", |s| {
            s.body.contains("dołącza do rozmowy")
        })
        .await;
    // The agent's reply reaches the encrypted DM.
    let from = alice.seen.lock().unwrap().len();
    console_send(
        &mut ws,
        json!({"type": "reply", "conversation": conv, "text": "Dzień dobry, tu Ola z banku."}),
    )
    .await;
    let reply = alice
        .expect(&dm_id, &bot_id, from, "the agent's reply", |s| {
            s.body.contains("tu Ola z banku")
        })
        .await;
    assert!(reply.encrypted, "the agent's reply came unencrypted");
    // The customer's answer reaches the console, and the bot keeps quiet.
    let from = alice.say(&dm_id, "Mam pytanie o kartę").await;
    let line = until(&mut ws, WAIT, |v| {
        v["type"] == "line" && v["line"]["sender"]["kind"] == "customer"
    })
    .await;
    assert_eq!(line["line"]["text"], "Mam pytanie o kartę");
    assert_eq!(line["conversation"], conv.as_str());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bot_after = alice
        .seen
        .lock()
        .unwrap()
        .iter()
        .skip(from)
        .filter(|s| s.room == dm_id && s.sender.as_str() == bot_id)
        .count();
    assert_eq!(
        bot_after, 0,
        "the bot answered while the agent held the chat"
    );
    // Closing: the bot owns the chat again.
    console_send(
        &mut ws,
        json!({"type": "close", "conversation": conv, "resolution": "information_given"}),
    )
    .await;
    alice
        .expect(&dm_id, &bot_id, from, "the closing note", |s| {
            s.body.contains("Jak oceniasz")
        })
        .await;
    let from = alice.say(&dm_id, "ile mam na koncie?").await;
    alice
        .expect(&dm_id, &bot_id, from, "the bot answering again", |s| {
            shows_amount(&s.body, &balances[0])
        })
        .await;

    // An unencrypted room: refused, with the reason, and nothing else.
    let open = alice.create_room(&[bot_id.as_str()], false).await;
    let open_id = open.room_id().to_owned();
    assert!(
        alice.wait_joined(&open_id, &[bot_id.as_str()]).await,
        "members never joined; gateway log:\n{}",
        gw.log()
    );
    let from = alice.say(&open_id, "ile mam na koncie?").await;
    let refusal = alice
        .expect(
            &open_id,
            &bot_id,
            from,
            "refusing the unencrypted room",
            |_| true,
        )
        .await;
    assert!(!refusal.encrypted);
    assert!(refusal.body.contains("nie jest szyfrowany"), "{refusal:?}");
    assert!(
        refusal.body.contains("not end-to-end encrypted"),
        "{refusal:?}"
    );

    // A room with three people: refused, with the reason.
    let group = alice
        .create_room(&[bot_id.as_str(), "@bob:localhost"], true)
        .await;
    let group_id = group.room_id().to_owned();
    let bob = Client::builder()
        .homeserver_url(&hs.url)
        .sqlite_store(dir.path().join("bob-store"), Some("bob-store-passphrase"))
        .build()
        .await
        .unwrap();
    bob.matrix_auth()
        .login_username("bob", "bob-password-123")
        .await
        .unwrap();
    bob.join_room_by_id(&group_id).await.unwrap();
    assert!(
        alice
            .wait_joined(&group_id, &[bot_id.as_str(), "@bob:localhost"])
            .await,
        "members never joined; gateway log:\n{}",
        gw.log()
    );
    let from = alice.say(&group_id, "ile mam na koncie?").await;
    let crowded = alice
        .expect(&group_id, &bot_id, from, "refusing the group room", |_| {
            true
        })
        .await;
    assert!(crowded.body.contains("jest 2 os."), "{crowded:?}");
    assert!(crowded.body.contains("2 people besides me"), "{crowded:?}");
    // Give the bot time to (wrongly) say more, then check it did not.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for room in [&open_id, &group_id] {
        for s in alice.seen_in(room) {
            for b in &balances {
                assert!(
                    !shows_amount(&s.body, b),
                    "a balance in a refused room: {s:?}"
                );
            }
            assert!(
                !s.body.contains(&bank.url),
                "a consent link in a refused room"
            );
        }
    }
    assert_eq!(
        alice
            .seen_in(&open_id)
            .iter()
            .filter(|s| s.sender.as_str() == bot_id)
            .count(),
        1
    );

    // Synapse's own database: no balance and no transaction amount in plaintext.
    drop(alice);
    hs.stop();
    let files = hs.database_files();
    assert!(!files.is_empty());
    let mut amounts = balances.clone();
    for (_, a) in &txs {
        // Small amounts ("5.00") could match unrelated digits; the rest are distinctive.
        if a.trim_start_matches('-').len() >= 5 {
            amounts.push(a.clone());
        }
    }
    for f in &files {
        for a in &amounts {
            for form in amount_forms(a) {
                assert!(
                    !bytes_contain(f, &form),
                    "amount {form} in plaintext in {}",
                    f.display()
                );
            }
        }
        assert!(
            !bytes_contain(f, iban),
            "the IBAN in plaintext in {}",
            f.display()
        );
    }
    // The scan sees plaintext where there is some: the refusal went unencrypted.
    assert!(
        files
            .iter()
            .any(|f| bytes_contain(f, "This room is not end-to-end encrypted")),
        "the plaintext refusal should be in Synapse's database"
    );
    // Nor did the gateway log any message text.
    let log = gw.log();
    assert!(
        !log.contains("ile mam na koncie"),
        "message text in the log"
    );
    assert!(!log.contains(BOT_PASSWORD) && !log.contains(STORE_PASSPHRASE));
}
