//! Forms: tasks that need several answers before they can run (a transfer needs an amount and a
//! recipient), and a read-back confirmation before anything executes.
//!
//! A form lives in the customer's dialog state until it is confirmed or cancelled. While it waits
//! for an answer the customer may ask something else ("ile mam na koncie?"): the other question
//! is answered, the form stays where it was, and the bot says how to carry on. Confirmation is
//! bound to the form's id, so a second press of an old "confirm" button does nothing twice.

use okienko_core::{Currency, Iban, IbanError, Lang, Money, format};
use okienko_nlu::{Intent, Parse};
use uuid::Uuid;

use crate::texts::{self, T};
use crate::{QuickReply, Reply};

/// Payload prefix of the read-back's confirm button; the form's id follows.
pub const CONFIRM: &str = "form:confirm:";
pub const CANCEL: &str = "form:cancel";
pub const RESUME: &str = "form:resume";
/// Payload prefix of the "yes, I'm sure" button after a warning; the form's id follows.
pub const SURE: &str = "form:sure:";
/// Payload prefix of a payee choice when a name matched several; the candidate's index follows.
pub const PAYEE: &str = "form:payee:";
/// "Another account": the customer will type the IBAN.
pub const OTHER_ACCOUNT: &str = "form:other_account";

/// What a form still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Amount,
    Recipient,
    /// The payee's account: a saved payee, someone paid before, or an IBAN typed in.
    Account,
    /// The customer's login at the bank, for approval in the bank app.
    BankLogin,
}

/// The account a transfer goes to. `Debug` hides the name and the IBAN.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PayeeAccount {
    /// The name as saved or as the bank showed it; `None` for an IBAN typed in (the name the
    /// customer used goes to the bank then).
    pub name: Option<String>,
    pub iban: Iban,
    pub saved: bool,
    pub times_paid: u32,
}

impl std::fmt::Debug for PayeeAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayeeAccount")
            .field("saved", &self.saved)
            .field("times_paid", &self.times_paid)
            .finish_non_exhaustive()
    }
}

/// A transfer being put together in the chat. Nothing leaves the gateway until the customer
/// confirms the read-back. Stored between messages (sealed) with the conversation state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransferForm {
    pub id: Uuid,
    pub amount: Option<Money>,
    /// The recipient as the customer named them, reduced to the base form ("Annie" → "anna").
    pub recipient: Option<String>,
    /// Set when this gateway executes transfers: the form then also needs the payee's account
    /// (and, for approval in the bank app, the customer's bank login).
    pub needs_account: bool,
    pub account: Option<PayeeAccount>,
    /// Payees the recipient's name matched, offered as quick replies.
    pub candidates: Vec<PayeeAccount>,
    /// Whether saved payees and past counterparties were already searched for the recipient.
    pub looked_up: bool,
    /// The customer must give their bank login before the read-back.
    pub needs_login: bool,
    pub bank_login: Option<String>,
    /// The account paid from (masked form and IBAN), chosen before the read-back.
    pub from: Option<(Iban, String)>,
    /// Warnings shown for this amount and payee, and whether the customer said "I'm sure".
    pub warnings: Vec<String>,
    pub assessed_for: Option<(Money, Iban)>,
    pub acknowledged: bool,
    /// A hard limit refuses this amount: no confirm button until it changes.
    pub refusal: Option<String>,
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
            needs_account: false,
            account: None,
            candidates: Vec::new(),
            looked_up: false,
            needs_login: false,
            bank_login: None,
            from: None,
            warnings: Vec::new(),
            assessed_for: None,
            acknowledged: false,
            refusal: None,
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
        } else if self.needs_account && self.account.is_none() {
            Some(Slot::Account)
        } else if self.needs_login && self.bank_login.is_none() {
            Some(Slot::BankLogin)
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
            if self.recipient.as_deref() != Some(r.as_str()) {
                changed = true;
                // Another person: the account found for the old name is not theirs. An IBAN
                // typed in stays (the customer is naming its owner).
                if self.account.as_ref().is_some_and(|a| a.name.is_some()) {
                    self.account = None;
                }
                self.candidates.clear();
                self.looked_up = false;
            }
            self.recipient = Some(r);
        }
        changed
    }

    /// The question for the next missing slot, or the read-back with confirm / change / cancel.
    pub fn prompt(&self, lang: Lang) -> Reply {
        match self.missing() {
            Some(Slot::Amount) => Reply::text(texts::FORM_ASK_AMOUNT.pick(lang))
                .with_quick_replies(vec![cancel_button(lang)]),
            // The account and the bank login are asked by crate::transfer, which knows the
            // customer's payees; without it they are never missing.
            Some(Slot::Recipient | Slot::Account | Slot::BankLogin) => {
                Reply::text(texts::FORM_ASK_RECIPIENT.pick(lang))
                    .with_quick_replies(vec![cancel_button(lang)])
            }
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

    /// The name the payee's bank gets: the saved or seen name, else the name the customer used.
    pub fn payee_name(&self) -> Option<String> {
        self.account
            .as_ref()
            .and_then(|a| a.name.clone())
            .or_else(|| self.recipient.as_deref().map(title_case))
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

/// What an IBAN-like run of characters in a message turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IbanInText {
    None,
    Valid(Iban),
    /// It looks like an account number but its check digits (or length) are wrong.
    Invalid(IbanError),
}

/// Finds an account number typed in a message ("PL61 1090 1014 0000 0712 1981 2874", or 26
/// digits of a Polish NRB, which gets "PL" in front), checked by its ISO 13616 mod-97 digits.
pub fn find_iban(text: &str) -> (IbanInText, String) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_iban = i + 1 < chars.len()
            && chars[i].is_ascii_alphabetic()
            && chars[i + 1].is_ascii_alphabetic()
            && (i == 0 || !chars[i - 1].is_alphanumeric());
        let starts_nrb = chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric());
        if starts_iban || starts_nrb {
            // Take alphanumerics and single spaces while they continue the number.
            let mut j = i;
            let mut compact = String::new();
            while j < chars.len() {
                let c = chars[j];
                if c.is_ascii_alphanumeric() {
                    compact.push(c);
                } else if !(c == ' ' || c == '-')
                    || compact.len() >= 34
                    || !chars.get(j + 1).is_some_and(|n| n.is_ascii_digit())
                {
                    break;
                }
                j += 1;
            }
            let digits = compact.chars().filter(char::is_ascii_digit).count();
            let candidate = if starts_nrb && compact.len() == 26 && digits == 26 {
                Some(format!("PL{compact}"))
            } else if starts_iban
                && compact.len() >= 15
                && compact[2..].chars().take(2).all(|c| c.is_ascii_digit())
                && digits >= 10
            {
                Some(compact.clone())
            } else if starts_nrb && digits >= 20 {
                // Many digits typed as an account number, but not 26: a wrong number.
                return (IbanInText::Invalid(IbanError::Format), rest(&chars, i, j));
            } else {
                None
            };
            if let Some(c) = candidate {
                let rest = rest(&chars, i, j);
                return match c.parse::<Iban>() {
                    Ok(iban) => (IbanInText::Valid(iban), rest),
                    Err(e) => (IbanInText::Invalid(e), rest),
                };
            }
        }
        i += 1;
    }
    (IbanInText::None, text.to_owned())
}

fn rest(chars: &[char], from: usize, to: usize) -> String {
    chars[..from]
        .iter()
        .chain(chars[to..].iter())
        .collect::<String>()
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

pub fn title_case(name: &str) -> String {
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
    fn ibans_are_found_checked_and_cut_out() {
        let (found, rest) = find_iban("na konto PL61 1090 1014 0000 0712 1981 2874 dla Anny");
        assert_eq!(
            found,
            IbanInText::Valid("PL61109010140000071219812874".parse().unwrap())
        );
        assert_eq!(
            rest.split_whitespace().collect::<Vec<_>>(),
            ["na", "konto", "dla", "Anny"]
        );
        // A Polish NRB without the country code.
        let (found, _) = find_iban("61109010140000071219812874");
        assert!(matches!(found, IbanInText::Valid(_)), "{found:?}");
        // One digit wrong: the checksum says so.
        let (found, _) = find_iban("PL61 1090 1014 0000 0712 1981 2875");
        assert_eq!(found, IbanInText::Invalid(IbanError::Checksum));
        let (found, _) = find_iban("1234567890123456789012");
        assert!(matches!(found, IbanInText::Invalid(_)));
        for none in [
            "przelej 50 zł Annie",
            "send $20 to John",
            "",
            "PLN 50",
            "Tel 600 700 800",
        ] {
            assert_eq!(find_iban(none).0, IbanInText::None, "{none}");
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
