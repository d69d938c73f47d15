//! What the handover says to the customer, in Polish and in English.

use okienko_core::Lang;

pub(crate) struct T(pub &'static str, pub &'static str);

impl T {
    pub(crate) fn pick(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Pl => self.0,
            Lang::En => self.1,
        }
    }
}

pub(crate) const QUEUED: T = T(
    "Jesteś {n}. w kolejce. Szacowany czas oczekiwania: około {m} min. Konsultant zobaczy Twoje wiadomości.",
    "You are number {n} in the queue. Estimated wait: about {m} min. The agent will see your messages.",
);
pub(crate) const STILL_QUEUED: T = T(
    "Przekazałem wiadomość. Jesteś {n}. w kolejce (około {m} min).",
    "Message passed on. You are number {n} in the queue (about {m} min).",
);
pub(crate) const AGENT_JOINED: T = T(
    "{name} z banku dołącza do rozmowy.",
    "{name} from the bank has joined the conversation.",
);
pub(crate) const CLOSED: T = T(
    "Konsultant zakończył rozmowę. Dalej odpowiada Okienko, bot banku. Jak oceniasz rozmowę z konsultantem (1–5)?",
    "The agent has closed the conversation. Okienko, the bank's bot, is back. How would you rate the conversation (1–5)?",
);
pub(crate) const BACK_TO_BOT: T = T(
    "Wróciłeś do rozmowy z Okienkiem, botem banku. W czym mogę pomóc?",
    "You're back with Okienko, the bank's bot. How can I help?",
);
pub(crate) const CSAT_THANKS: T = T("Dziękujemy za ocenę!", "Thank you for your rating!");
pub(crate) const CSAT_ALREADY: T = T(
    "Ta rozmowa ma już ocenę. Dziękujemy!",
    "That conversation has already been rated. Thank you!",
);
pub(crate) const OFFLINE: T = T(
    "Konsultanci pracują w godzinach: {hours}. Możesz zostawić wiadomość albo poprosić o kontakt — odezwiemy się, gdy wrócimy.",
    "Our staff work {hours}. You can leave a message or ask us to call you back — we'll get in touch when we're back.",
);
pub(crate) const WRITE_MESSAGE: T = T(
    "Napisz wiadomość dla konsultanta — przekażę ją w całości.",
    "Write your message for the bank's staff — I'll pass it on as it is.",
);
pub(crate) const MESSAGE_LEFT: T = T(
    "Dziękuję, wiadomość czeka na konsultanta. Odpowiemy w godzinach pracy.",
    "Thank you, your message is waiting for our staff. We'll answer during working hours.",
);
pub(crate) const CALLBACK_NOTED: T = T(
    "Zapisałem prośbę o kontakt. Konsultant odezwie się w godzinach pracy.",
    "Your callback request is noted. A member of staff will contact you during working hours.",
);
pub(crate) const TRY_AGAIN: T = T(
    "Nie udało się połączyć z konsultantem. Spróbuj ponownie za chwilę.",
    "I couldn't reach the bank's staff. Please try again shortly.",
);
pub(crate) const FRAUD: T = T(
    "Widzimy coś niepokojącego na Twoim koncie, więc łączę Cię z konsultantem banku.",
    "We've noticed something worrying on your account, so I'm connecting you with the bank's staff.",
);
pub(crate) const QR_BACK: T = T("Wróć do bota", "Back to the bot");
pub(crate) const QR_LEAVE_MESSAGE: T = T("Zostaw wiadomość", "Leave a message");
pub(crate) const QR_CALLBACK: T = T("Poproś o kontakt", "Request a callback");

/// Words that take the customer back to the bot while they wait or talk to a person.
pub(crate) fn asks_for_bot(text: &str) -> bool {
    let t = okienko_core::transaction::fold(text);
    let t = t.trim().trim_end_matches(['.', '!']);
    [
        "wroc do bota",
        "powrot do bota",
        "wracam do bota",
        "back to bot",
        "back to the bot",
        "go back to the bot",
        "talk to the bot",
    ]
    .contains(&t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn back_to_bot_words() {
        assert!(super::asks_for_bot("Wróć do bota"));
        assert!(super::asks_for_bot("wroc do bota!"));
        assert!(super::asks_for_bot("Back to the bot"));
        assert!(!super::asks_for_bot("nie wracaj do bota, mam pytanie"));
    }
}
