//! Forms: tasks that need several answers before they can run (a transfer needs an amount and a
//! recipient), and a read-back confirmation before anything executes.
//!
//! A form lives in the customer's dialog state until it is confirmed or cancelled. While it waits
//! for an answer the customer may ask something else ("ile mam na koncie?"): the other question
//! is answered, the form stays where it was, and the bot says how to carry on. Confirmation is
//! bound to the form's id, so a second press of an old "confirm" button does nothing twice.

use okienko_core::{Currency, Lang, Money, format};
use okienko_nlu::{Intent, Parse};
use uuid::Uuid;

use crate::texts::{self, T};
use crate::{QuickReply, Reply};

/// Payload prefix of the read-back's confirm button; the form's id follows.
pub const CONFIRM: &str = "form:confirm:";
pub const CANCEL: &str = "form:cancel";
pub const RESUME: &str = "form:resume";

/// What a form still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Amount,
    Recipient,
}

/// A transfer being put together in the chat. Nothing leaves the gateway until the customer
/// confirms the read-back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferForm {
    pub id: Uuid,
    pub amount: Option<Money>,
    /// The recipient as the customer named them, reduced to the base form ("Annie" → "anna").
    pub recipient: Option<String>,
}

/// A transfer the customer confirmed, ready to hand to the payments service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedTransfer {
    /// Travels to the bank as the idempotency key: a retried confirmation never pays twice.
    pub id: Uuid,
    pub amount: Money,
    pub recipient: String,
}

/// How the customer answered a yes/no question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YesNo {
    Yes,
    No,
    Neither,
}

impl TransferForm {
    /// Starts a transfer from what the customer already said ("przelej 50 zł Annie").
    pub fn start(parse: &Parse, default_currency: Currency) -> TransferForm {
        let mut form = TransferForm {
            id: Uuid::new_v4(),
            amount: None,
            recipient: None,
        };
        form.fill(parse, None, default_currency);
        form
    }

    /// The next thing to ask for, or `None` when the form is ready for the read-back.
    pub fn missing(&self) -> Option<Slot> {
        if self.amount.is_none() {
            Some(Slot::Amount)
        } else if self.recipient.is_none() {
            Some(Slot::Recipient)
        } else {
            None
        }
    }

    /// Takes what this message adds. `asked` is the slot the bot just asked for: a bare name
    /// ("Tomkowi") answers "to whom?" even when the model could not tell it was a recipient.
    /// Returns whether anything changed.
    pub fn fill(&mut self, parse: &Parse, asked: Option<Slot>, default_currency: Currency) -> bool {
        let mut changed = false;
        if let Some(amount) = parse.slots.amount {
            let currency = parse.slots.currency.unwrap_or(default_currency);
            // A zero, negative or over-precise amount is not an amount anyone can send.
            if let Ok(m) = Money::new(amount, currency)
                && amount > rust_decimal::Decimal::ZERO
            {
                changed |= self.amount.as_ref() != Some(&m);
                self.amount = Some(m);
            }
        }
        let recipient = parse.slots.recipient.clone().or_else(|| {
            (asked == Some(Slot::Recipient))
                .then(|| bare_name(&parse.text))
                .flatten()
        });
        if let Some(r) = recipient {
            changed |= self.recipient.as_deref() != Some(r.as_str());
            self.recipient = Some(r);
        }
        changed
    }

    /// The question for the next missing slot, or the read-back with confirm / change / cancel.
    pub fn prompt(&self, lang: Lang) -> Reply {
        match self.missing() {
            Some(Slot::Amount) => Reply::text(texts::FORM_ASK_AMOUNT.pick(lang))
                .with_quick_replies(vec![cancel_button(lang)]),
            Some(Slot::Recipient) => Reply::text(texts::FORM_ASK_RECIPIENT.pick(lang))
                .with_quick_replies(vec![cancel_button(lang)]),
            None => {
                let (Some(amount), Some(recipient)) = (&self.amount, &self.recipient) else {
                    return Reply::text(texts::FORM_ASK_AMOUNT.pick(lang));
                };
                let text = texts::FORM_READ_BACK
                    .pick(lang)
                    .replace("{amount}", &format::money(amount, lang))
                    .replace("{recipient}", &title_case(recipient));
                Reply::text(text).with_quick_replies(vec![
                    QuickReply::new(
                        texts::FORM_CONFIRM.pick(lang),
                        format!("{CONFIRM}{}", self.id),
                    ),
                    cancel_button(lang),
                ])
            }
        }
    }

    /// The confirmed transfer, if the form is complete.
    pub fn confirmed(&self) -> Option<ConfirmedTransfer> {
        Some(ConfirmedTransfer {
            id: self.id,
            amount: self.amount?,
            recipient: self.recipient.clone()?,
        })
    }
}

/// The reminder after answering another question while a form waits.
pub fn reminder(lang: Lang) -> Reply {
    Reply::text(texts::FORM_REMINDER.pick(lang)).with_quick_replies(vec![
        QuickReply::new(texts::FORM_RESUME.pick(lang), RESUME),
        cancel_button(lang),
    ])
}

fn cancel_button(lang: Lang) -> QuickReply {
    QuickReply::new(texts::FORM_CANCEL.pick(lang), CANCEL)
}

/// Whether a message answers a yes/no question, in either language, with or without diacritics.
pub fn yes_no(text: &str) -> YesNo {
    let folded = okienko_core::transaction::fold(text);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() || words.len() > 4 {
        return YesNo::Neither;
    }
    const YES: [&str; 12] = [
        "tak",
        "yes",
        "yep",
        "yeah",
        "ok",
        "okej",
        "potwierdzam",
        "confirm",
        "wyslij",
        "send",
        "zgadza",
        "jasne",
    ];
    const NO: [&str; 8] = [
        "nie",
        "no",
        "nope",
        "anuluj",
        "cancel",
        "stop",
        "rezygnuje",
        "niet",
    ];
    // "nie, anuluj" and "no" win over a stray "ok": cancelling is the safe reading.
    if words.iter().any(|w| NO.contains(w)) {
        YesNo::No
    } else if words.iter().any(|w| YES.contains(w)) {
        YesNo::Yes
    } else {
        YesNo::Neither
    }
}

/// Whether a parse is a confident question of its own, so a waiting form should step aside.
pub fn is_other_task(parse: &Parse, low_confidence: f32) -> bool {
    !matches!(
        parse.intent,
        Intent::OutOfScope | Intent::Transfer | Intent::Thanks | Intent::Greeting
    ) && parse.confidence >= low_confidence
}

/// A reply to "to whom?" that is just a name: one to three words of letters.
fn bare_name(text: &str) -> Option<String> {
    let folded = text.trim().to_lowercase();
    let words: Vec<&str> = folded
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let words: Vec<&str> = match words.first() {
        Some(&"do") | Some(&"dla") | Some(&"to") | Some(&"for") => words[1..].to_vec(),
        _ => words,
    };
    let is_name = !words.is_empty()
        && words.len() <= 3
        && words
            .iter()
            .all(|w| w.chars().all(|c| c.is_alphabetic() || c == '-'));
    is_name.then(|| words.join(" "))
}

fn title_case(name: &str) -> String {
    name.split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tells the customer a transfer was confirmed but this gateway has no payments service
/// configured: honest, and nothing was sent.
pub const NOT_ENABLED: T = texts::FORM_TRANSFERS_OFF;

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_nlu::Nlu;

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default()
    }

    #[test]
    fn a_full_request_goes_straight_to_the_read_back() {
        let nlu = Nlu::new();
        let p = nlu.parse("przelej 50 zł Annie", today(), &[]);
        let form = TransferForm::start(&p, Currency::PLN);
        assert_eq!(form.missing(), None);
        assert_eq!(form.recipient.as_deref(), Some("anna"));
        let read_back = form.prompt(Lang::Pl).plain_text();
        assert!(read_back.contains("50,00 zł"), "{read_back}");
        assert!(read_back.contains("Anna"), "{read_back}");
        let confirm = form.prompt(Lang::Pl).quick_replies[0].payload.clone();
        assert_eq!(confirm, format!("{CONFIRM}{}", form.id));
    }

    #[test]
    fn missing_slots_are_asked_one_at_a_time() {
        let nlu = Nlu::new();
        let mut form = TransferForm::start(
            &nlu.parse("chcę zrobić przelew", today(), &[]),
            Currency::PLN,
        );
        assert_eq!(form.missing(), Some(Slot::Amount));
        assert!(form.fill(
            &nlu.parse("120,50 zł", today(), &[]),
            Some(Slot::Amount),
            Currency::PLN
        ));
        assert_eq!(form.missing(), Some(Slot::Recipient));
        assert!(form.fill(
            &nlu.parse("Tomkowi", today(), &[]),
            Some(Slot::Recipient),
            Currency::PLN
        ));
        assert_eq!(form.missing(), None);
        let t = form.confirmed().map(|c| c.amount.amount_string());
        assert_eq!(t.as_deref(), Some("120.50"));
    }

    #[test]
    fn a_zero_or_negative_amount_is_not_taken() {
        let nlu = Nlu::new();
        let form =
            TransferForm::start(&nlu.parse("send 0 zł to Anna", today(), &[]), Currency::PLN);
        assert_eq!(form.missing(), Some(Slot::Amount));
    }

    #[test]
    fn yes_and_no_in_both_languages() {
        for y in ["tak", "Tak, wyślij", "yes", "ok", "potwierdzam", "TAK!"] {
            assert_eq!(yes_no(y), YesNo::Yes, "{y}");
        }
        for n in ["nie", "no", "anuluj", "Nie, anuluj", "cancel", "no ok"] {
            assert_eq!(yes_no(n), YesNo::No, "{n}");
        }
        for x in ["ile mam na koncie", "", "🙂", "tak tak tak tak tak"] {
            assert_eq!(yes_no(x), YesNo::Neither, "{x}");
        }
    }

    #[test]
    fn a_bare_name_answers_to_whom() {
        assert_eq!(bare_name("do Tomka").as_deref(), Some("tomka"));
        assert_eq!(bare_name("Anna Nowak").as_deref(), Some("anna nowak"));
        assert_eq!(bare_name("ile mam na koncie teraz"), None);
        assert_eq!(bare_name("50 zł"), None);
    }
}
