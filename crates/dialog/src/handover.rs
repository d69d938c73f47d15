//! The engine's side of handing a conversation to a person: what the bot says when the customer
//! asks for one (or when it failed to understand twice), and the button that asks. The engine
//! only notes the request (`Engine::take_handover_request`); the agents crate, which wraps the
//! engine, queues the customer and owns the conversation from then on.

use okienko_core::Lang;

use crate::texts::T;
use crate::{QuickReply, Reply};

/// The payload of the "talk to a person" button: the `agent` intent.
pub const ASK_FOR_HUMAN_PAYLOAD: &str = "intent:agent";

const ASK_HUMAN: T = T(
    "Nie udało mi się zrozumieć dwa razy z rzędu. Mogę przekazać rozmowę konsultantowi banku.",
    "I didn't understand twice in a row. I can pass the conversation to a member of the bank's staff.",
);
const TO_HUMAN: T = T(
    "Przekazuję rozmowę konsultantowi banku.",
    "I'm passing the conversation to a member of the bank's staff.",
);
const QR_HUMAN: T = T("Chcę konsultanta", "Talk to a person");
const QR_HELP: T = T("Pomoc", "Help");

/// After two misunderstandings in a row: offer a person.
pub(crate) fn ask_human(lang: Lang) -> Reply {
    Reply::text(ASK_HUMAN.pick(lang)).with_quick_replies(vec![
        QuickReply::new(QR_HUMAN.pick(lang), ASK_FOR_HUMAN_PAYLOAD),
        QuickReply::new(QR_HELP.pick(lang), "intent:help"),
    ])
}

/// The customer asked for a person.
pub(crate) fn to_human(lang: Lang) -> Reply {
    Reply::text(TO_HUMAN.pick(lang))
}
