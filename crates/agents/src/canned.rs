//! Canned responses for the console, in Polish and English: short, common answers an agent sends
//! with one click (and may edit first).

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Canned {
    pub id: &'static str,
    pub pl: &'static str,
    pub en: &'static str,
}

pub const CANNED: &[Canned] = &[
    Canned {
        id: "greeting",
        pl: "Dzień dobry, w czym mogę pomóc?",
        en: "Hello, how can I help you?",
    },
    Canned {
        id: "checking",
        pl: "Chwileczkę, sprawdzam to dla Pana/Pani.",
        en: "One moment please, I'm checking that for you.",
    },
    Canned {
        id: "card_blocked",
        pl: "Karta została zablokowana. Nową kartę wyślemy w ciągu 7 dni roboczych.",
        en: "The card has been blocked. We'll send a new one within 7 working days.",
    },
    Canned {
        id: "never_share",
        pl: "Bank nigdy nie prosi o kody BLIK, hasła ani kody SMS. Proszę ich nikomu nie podawać.",
        en: "The bank never asks for BLIK codes, passwords or SMS codes. Please don't share them with anyone.",
    },
    Canned {
        id: "anything_else",
        pl: "Czy mogę pomóc w czymś jeszcze?",
        en: "Is there anything else I can help with?",
    },
    Canned {
        id: "goodbye",
        pl: "Dziękuję za rozmowę, miłego dnia!",
        en: "Thank you for the conversation, have a nice day!",
    },
];

/// Resolution codes an agent closes a conversation with.
pub const RESOLUTIONS: &[&str] = &[
    "solved",
    "information_given",
    "card_blocked",
    "fraud_reported",
    "escalated_elsewhere",
    "no_response",
];
