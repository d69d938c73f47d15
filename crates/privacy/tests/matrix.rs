//! The decision matrix, through the real gate over a real SQLite file: every purpose × consent
//! state × actor kind × channel × room, compared with a table written here from the issue's
//! rules, independently of the Cedar policies. Every request leaves exactly one audit row whose
//! decision matches, and only allowed requests return data.

use std::sync::Arc;

use chrono::{Duration, Utc};
use okienko_core::{
    Account, AccountId, Balance, BalanceKind, Clock, ConsentId, ConsentScope, ConsentStatus,
    Currency, CustomerId, Lang, Money, SystemClock,
};
use okienko_privacy::{
    AccessError, AccessRequest, Actor, CaseId, ChannelContext, DenyReason, PrivacyGate, Purpose,
    Room, parse_decision,
};
use okienko_store::{AccountRecord, ConsentRecord, CustomerRecord, Keyring, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Consent {
    /// Balances and transactions, valid until in 90 days.
    Valid,
    /// Only the transactions scope.
    TransactionsOnly,
    /// Status valid, but the date has passed.
    Expired,
    /// Revoked by the customer at the bank.
    Revoked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActorKind {
    CustomerSelf,
    OtherCustomer,
    AgentInCase,
    /// The agent's open case is about another customer.
    AgentCaseOfOther,
    AgentNoCase,
    AgentClosedCase,
    /// Naming an open case of this customer that another agent handles.
    AgentOthersCase,
    SystemJob,
}

const CONSENTS: [Consent; 4] = [
    Consent::Valid,
    Consent::TransactionsOnly,
    Consent::Expired,
    Consent::Revoked,
];
const ACTORS: [ActorKind; 8] = [
    ActorKind::CustomerSelf,
    ActorKind::OtherCustomer,
    ActorKind::AgentInCase,
    ActorKind::AgentCaseOfOther,
    ActorKind::AgentNoCase,
    ActorKind::AgentClosedCase,
    ActorKind::AgentOthersCase,
    ActorKind::SystemJob,
];

/// The purposes nobody may ever use.
const FORBIDDEN: [Purpose; 5] = [
    Purpose::Advertising,
    Purpose::Marketing,
    Purpose::Profiling,
    Purpose::ThirdPartySharing,
    Purpose::ModelTraining,
];

/// Who may use which purpose, when everything else is right.
const MAY_USE: [(ActorKind, &[Purpose]); 3] = [
    (
        ActorKind::CustomerSelf,
        &[
            Purpose::ServiceBalance,
            Purpose::ServiceTransactions,
            Purpose::ServiceSpendingSummary,
            Purpose::ServiceFraudAlert,
            Purpose::ServiceSupport,
            Purpose::ServicePayment,
            Purpose::ServiceAccessLog,
            Purpose::ServiceCards,
        ],
    ),
    (ActorKind::AgentInCase, &[Purpose::ServiceSupport]),
    (
        ActorKind::SystemJob,
        &[
            Purpose::ServiceFraudAlert,
            Purpose::ServicePayment,
            Purpose::ServiceNoticeLowBalance,
            Purpose::ServiceNoticeLargePayment,
            Purpose::ServiceNoticeSalary,
            Purpose::ServiceNoticeRecurringUp,
            Purpose::ServiceNoticeDuplicate,
            Purpose::ServiceNoticeSubscription,
        ],
    ),
];

/// The consent scope each purpose needs (the rest need none).
const NEEDS_SCOPE: [(Purpose, ConsentScope); 9] = [
    (Purpose::ServiceBalance, ConsentScope::Balances),
    (Purpose::ServiceTransactions, ConsentScope::Transactions),
    (Purpose::ServiceSpendingSummary, ConsentScope::Transactions),
    (Purpose::ServiceNoticeLowBalance, ConsentScope::Balances),
    (
        Purpose::ServiceNoticeLargePayment,
        ConsentScope::Transactions,
    ),
    (Purpose::ServiceNoticeSalary, ConsentScope::Transactions),
    (
        Purpose::ServiceNoticeRecurringUp,
        ConsentScope::Transactions,
    ),
    (Purpose::ServiceNoticeDuplicate, ConsentScope::Transactions),
    (
        Purpose::ServiceNoticeSubscription,
        ConsentScope::Transactions,
    ),
];

fn valid_scopes(c: Consent) -> &'static [ConsentScope] {
    match c {
        Consent::Valid => &[ConsentScope::Balances, ConsentScope::Transactions],
        Consent::TransactionsOnly => &[ConsentScope::Transactions],
        Consent::Expired | Consent::Revoked => &[],
    }
}

/// The expected outcome, checked in the order: purpose, actor, place, consent.
fn expected(
    purpose: Purpose,
    consent: Consent,
    actor: ActorKind,
    channel: ChannelContext,
    room: Room,
) -> Result<(), DenyReason> {
    if FORBIDDEN.contains(&purpose) {
        return Err(DenyReason::ForbiddenPurpose);
    }
    let may = MAY_USE
        .iter()
        .any(|(a, ps)| *a == actor && ps.contains(&purpose));
    if !may {
        return Err(DenyReason::NotTheSubject);
    }
    let readable_ok = purpose == Purpose::ServiceAccessLog && actor == ActorKind::CustomerSelf;
    if channel == ChannelContext::PlatformReadable && !readable_ok {
        return Err(DenyReason::ChannelNotPrivate);
    }
    // Only the customer's own conversation shows data in a room; agents and jobs have none.
    if actor == ActorKind::CustomerSelf && room == Room::Shared {
        return Err(DenyReason::ChannelNotPrivate);
    }
    if let Some((_, scope)) = NEEDS_SCOPE.iter().find(|(p, _)| *p == purpose)
        && !valid_scopes(consent).contains(scope)
    {
        return Err(DenyReason::NoConsent);
    }
    Ok(())
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    gate: PrivacyGate,
    subject: CustomerId,
}

async fn fixture(consent: Consent) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("matrix.sqlite").display()
    );
    let store = Store::connect(&url, Keyring::generate()).await.unwrap();
    let now = Utc::now();
    let subject = CustomerId::new();
    store
        .upsert_customer(&CustomerRecord {
            id: subject,
            lang: Lang::En,
            tz: "Europe/Warsaw".into(),
            created_at: now,
        })
        .await
        .unwrap();
    let (status, scopes, valid_until) = match consent {
        Consent::Valid => (
            ConsentStatus::Valid,
            vec![ConsentScope::Balances, ConsentScope::Transactions],
            now + Duration::days(90),
        ),
        Consent::TransactionsOnly => (
            ConsentStatus::Valid,
            vec![ConsentScope::Transactions],
            now + Duration::days(90),
        ),
        Consent::Expired => (
            ConsentStatus::Valid,
            vec![ConsentScope::Balances, ConsentScope::Transactions],
            now - Duration::days(1),
        ),
        Consent::Revoked => (
            ConsentStatus::RevokedByPsu,
            vec![ConsentScope::Balances, ConsentScope::Transactions],
            now + Duration::days(90),
        ),
    };
    let consent_id = ConsentId::new();
    store
        .insert_consent(&ConsentRecord {
            id: consent_id,
            customer: subject,
            bank: "sandbox".into(),
            bank_consent_id: Some("c-1".into()),
            status,
            scopes,
            valid_until: valid_until.date_naive(),
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
            customer: subject,
            consent: consent_id,
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
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Fixture {
        gate: PrivacyGate::new(store.clone(), clock),
        _dir: dir,
        store,
        subject,
    }
}

/// The actor and the case it names, with the cases opened for it.
async fn actor(f: &Fixture, kind: ActorKind) -> (Actor, Option<CaseId>) {
    let agent = |n: &str| Actor::BankAgent(n.to_owned());
    match kind {
        ActorKind::CustomerSelf => (Actor::Customer(f.subject), None),
        ActorKind::OtherCustomer => (Actor::Customer(CustomerId::new()), None),
        ActorKind::AgentInCase => (
            agent("agent-1"),
            Some(f.gate.open_case("agent-1", f.subject).await.unwrap()),
        ),
        ActorKind::AgentCaseOfOther => (
            agent("agent-2"),
            Some(
                f.gate
                    .open_case("agent-2", CustomerId::new())
                    .await
                    .unwrap(),
            ),
        ),
        ActorKind::AgentNoCase => (agent("agent-3"), None),
        ActorKind::AgentClosedCase => {
            let case = f.gate.open_case("agent-4", f.subject).await.unwrap();
            assert!(f.gate.close_case(case).await.unwrap());
            (agent("agent-4"), Some(case))
        }
        ActorKind::AgentOthersCase => (
            agent("agent-5"),
            Some(f.gate.open_case("agent-6", f.subject).await.unwrap()),
        ),
        ActorKind::SystemJob => (Actor::System("guard.scoring".into()), None),
    }
}

#[tokio::test]
async fn every_purpose_consent_actor_channel_and_room_decides_as_the_table_says() {
    let mut checked = 0;
    let mut allowed = 0;
    for consent in CONSENTS {
        let f = fixture(consent).await;
        let mut calls = 0u64;
        for kind in ACTORS {
            let (actor, case) = actor(&f, kind).await;
            for purpose in Purpose::ALL {
                for channel in ChannelContext::ALL {
                    for room in [Room::HolderAlone, Room::Shared] {
                        let req = AccessRequest {
                            actor: actor.clone(),
                            subject: f.subject,
                            purpose,
                            channel,
                            room,
                            case,
                        };
                        let want = expected(purpose, consent, kind, channel, room);
                        let got = f.gate.balances(&req).await;
                        calls += 1;
                        checked += 1;
                        let at = format!("{purpose:?} {consent:?} {kind:?} {channel:?} {room:?}");
                        match (want, got) {
                            (Ok(()), Ok(data)) => {
                                allowed += 1;
                                assert_eq!(data.data().len(), 1, "{at}");
                                let rows = f
                                    .store
                                    .audit_for_subject(&f.subject.to_string(), 1)
                                    .await
                                    .unwrap();
                                assert_eq!(rows[0].seq, data.audit_seq(), "{at}");
                                let (verdict, ids) = parse_decision(&rows[0].decision);
                                assert_eq!(verdict, "allow", "{at}");
                                assert_eq!(ids.len(), 1, "{at}: {ids:?}");
                            }
                            (Err(reason), Err(AccessError::Denied(r))) => {
                                assert_eq!(reason, r, "{at}");
                                let rows = f
                                    .store
                                    .audit_for_subject(&f.subject.to_string(), 1)
                                    .await
                                    .unwrap();
                                assert_eq!(parse_decision(&rows[0].decision).0, r.as_str(), "{at}");
                            }
                            (want, got) => panic!("{at}: expected {want:?}, got {got:?}"),
                        }
                    }
                }
            }
        }
        let v = f.gate.verify_audit().await.unwrap();
        assert!(v.intact);
        assert_eq!(v.rows, calls, "one audit row per request");
    }
    assert_eq!(
        checked,
        4 * 8 * Purpose::ALL.len() * ChannelContext::ALL.len() * 2
    );
    assert!(allowed > 0);
}
