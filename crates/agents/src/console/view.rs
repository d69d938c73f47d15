//! What the console shows, built from the support desk's records: short customer references, waits
//! in seconds, and the customer's data formatted for reading (read through the privacy gate).

use chrono::{DateTime, Utc};
use okienko_core::Transaction;
use okienko_core::{Lang, format};
use okienko_dialog::engine::{ConversationSummary, OpenForm};
use okienko_privacy::AccountBalances;
use okienko_privacy::FraudCase;
use okienko_privacy::support::{Staff, SupportConversation};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConversationView {
    pub id: String,
    /// The first part of the customer id: enough to tell conversations apart on screen.
    pub customer_ref: String,
    pub reason: String,
    pub lang: Lang,
    pub team: String,
    pub status: &'static str,
    pub owner: Option<String>,
    pub owner_name: Option<String>,
    pub waiting_secs: i64,
    pub escalated: bool,
    pub has_case: bool,
}

impl ConversationView {
    pub(crate) fn new(c: &SupportConversation, now: DateTime<Utc>, staff: &[Staff]) -> Self {
        let until = c.claimed_at.unwrap_or(now);
        ConversationView {
            id: c.id.clone(),
            customer_ref: c.customer.to_string().chars().take(8).collect(),
            reason: c.reason.clone(),
            lang: c.lang,
            team: c.team.clone(),
            status: c.status.as_str(),
            owner: c.owner.clone(),
            owner_name: c.owner.as_ref().and_then(|o| {
                staff
                    .iter()
                    .find(|s| &s.id == o)
                    .map(|s| s.display_name.clone())
            }),
            waiting_secs: (until - c.requested_at).num_seconds().max(0),
            escalated: c.escalated,
            has_case: c.case.is_some(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct AccountView {
    pub name: String,
    pub iban_masked: String,
    pub balances: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TxView {
    pub date: String,
    pub description: String,
    pub amount: String,
}

pub(crate) fn accounts(data: &[AccountBalances], lang: Lang) -> Vec<AccountView> {
    data.iter()
        .map(|a| AccountView {
            name: a.account.name.clone(),
            iban_masked: a
                .account
                .iban
                .as_ref()
                .map(|i| i.masked())
                .unwrap_or_default(),
            balances: a
                .balances
                .iter()
                .map(|b| format::money(&b.amount, lang))
                .collect(),
        })
        .collect()
}

pub(crate) fn transactions(data: &[Transaction], lang: Lang) -> Vec<TxView> {
    data.iter()
        .map(|t| TxView {
            date: format::date(t.date, lang),
            description: t
                .merchant
                .clone()
                .unwrap_or_else(|| t.raw_description.clone()),
            amount: format::money(&t.amount, lang),
        })
        .collect()
}

/// Per team: how many wait, the longest wait, how many past the SLA; per agent: how many they hold.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Overview {
    pub teams: Vec<TeamLoad>,
    pub agents: Vec<AgentLoad>,
    pub offline: usize,
    pub closed_today: usize,
    pub csat_average: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TeamLoad {
    pub team: String,
    pub waiting: usize,
    pub longest_wait_secs: i64,
    pub escalated: usize,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct AgentLoad {
    pub username: String,
    pub display_name: String,
    pub active: usize,
}

/// What the agent is told when they open a conversation: why it came to people, what the bot
/// understood lately, a form left open, and the customer's open fraud cases. No amounts: those
/// are read through the gate for the agent's case and shown apart.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    pub reason: String,
    pub intents: Vec<&'static str>,
    pub form: Option<OpenForm>,
    pub cases: Vec<CaseView>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct CaseView {
    /// The case id's first 8 characters, as the customer was told it.
    pub reference: String,
    pub id: String,
    pub opened_at: DateTime<Utc>,
    pub cards_blocked: u32,
}

impl Summary {
    pub(crate) fn new(
        c: &SupportConversation,
        bot: ConversationSummary,
        cases: &[FraudCase],
    ) -> Self {
        Summary {
            reason: c.reason.clone(),
            intents: bot.intents,
            form: bot.form,
            cases: cases
                .iter()
                .map(|k| CaseView {
                    reference: k.id.to_string().chars().take(8).collect(),
                    id: k.id.to_string(),
                    opened_at: k.opened_at,
                    cards_blocked: k.cards_blocked,
                })
                .collect(),
        }
    }
}
