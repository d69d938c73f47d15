//! What a bank agent is told about the customer's conversation with the bot when it is handed
//! to them: the latest intents and any form left open. Read-only, and without financial data:
//! intents by name, a form by which of its fields are filled, never their values.

use okienko_core::CustomerId;
use okienko_nlu::{Intent, Nlu, Parse};
use serde::Serialize;

use super::{DialogState, Engine};
use crate::forms::Slot;

/// Intents kept per customer.
const RECENT_INTENTS: usize = 6;

/// The bot's side of a conversation, for the person it is handed to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConversationSummary {
    /// The latest intents, oldest first ("balance", "transfer", "agent"); messages the bot did
    /// not understand count as "out_of_scope".
    pub intents: Vec<&'static str>,
    /// A form the customer started and did not finish.
    pub form: Option<OpenForm>,
}

/// An unfinished form: its kind and which fields it has, never their values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenForm {
    /// "transfer".
    pub kind: &'static str,
    pub filled: Vec<&'static str>,
    pub missing: Vec<&'static str>,
    /// Everything is filled: the customer was asked to confirm the read-back.
    pub awaiting_confirmation: bool,
}

/// Notes what the bot made of one message.
pub(super) fn note(st: &mut DialogState, parse: &Parse) {
    let unsure = parse.confidence < Nlu::LOW_CONFIDENCE && parse.alternatives.len() > 1;
    let intent = if unsure {
        Intent::OutOfScope
    } else {
        parse.intent
    };
    st.recent_intents.push_back(intent);
    while st.recent_intents.len() > RECENT_INTENTS {
        st.recent_intents.pop_front();
    }
}

fn slot_name(s: Slot) -> &'static str {
    match s {
        Slot::Amount => "amount",
        Slot::Recipient => "recipient",
        Slot::Account => "account",
        Slot::BankLogin => "bank_login",
    }
}

impl Engine {
    /// The summary of the customer's conversation with the bot (empty if they never spoke).
    pub async fn summary(&self, customer: CustomerId) -> ConversationSummary {
        let Some(st) = self.states.lock().await.get(&customer).cloned() else {
            return ConversationSummary::default();
        };
        let c = st.lock().await;
        let st = &c.st;
        let form = st.form.as_ref().map(|f| {
            let mut filled = Vec::new();
            let mut missing = Vec::new();
            for (slot, has) in [
                (Slot::Amount, f.amount.is_some()),
                (Slot::Recipient, f.recipient.is_some()),
            ] {
                if has {
                    filled.push(slot_name(slot));
                } else {
                    missing.push(slot_name(slot));
                }
            }
            OpenForm {
                kind: "transfer",
                awaiting_confirmation: f.missing().is_none(),
                filled,
                missing,
            }
        });
        ConversationSummary {
            intents: st.recent_intents.iter().map(|i| i.as_str()).collect(),
            form,
        }
    }
}
