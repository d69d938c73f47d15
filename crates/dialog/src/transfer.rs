//! Transfers from the chat, end to end: the transfer form's conversation (slot filling, payee
//! resolution, warnings, read-back, confirmation) and the replies about a payment's fate.
//!
//! The dialog never executes a payment itself and never sees the store: a [`Transfers`]
//! service (crates/okienko wires crates/payments into it) checks limits, initiates the payment
//! at the bank with the form's id as the idempotency key, and later pushes the receipt through
//! the outbox. Payees, past counterparties, accounts and the bank login are read through the
//! privacy gate for `service.payment`. Nothing here logs amounts, names or account numbers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use okienko_core::transaction::fold;
use okienko_core::{CustomerId, Iban, Lang, Money, format};
use okienko_guard::VerdictKind;
use okienko_nlu::{Intent, Nlu};
use okienko_privacy::{ChannelInfo, Purpose};
use uuid::Uuid;

use crate::engine::{DialogState, Engine, FormStep};
use crate::forms::{self, IbanInText, PayeeAccount, Slot, TransferForm, YesNo};
use crate::texts::{self, T};
use crate::{InboundEvent, QuickReply, Reply, ReplyPart, Sensitivity};

/// Payload prefix of "save this payee" under a receipt; the payment id follows.
pub const SAVE_PAYEE: &str = "transfer:save:";

/// A transfer the customer confirmed, as the payments service gets it.
#[derive(Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// The form's id: the payment's idempotency key all the way to the bank.
    pub action: Uuid,
    pub amount: Money,
    pub creditor_name: String,
    pub creditor: Iban,
    pub debtor: Iban,
    /// The customer's login at the bank, for approval in the bank app.
    pub bank_login: Option<String>,
}

impl std::fmt::Debug for TransferRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferRequest")
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

/// What the payments service thinks of a transfer before the customer confirms it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    /// Far above what the customer usually pays: the typical largest amount, for the warning.
    pub unusual: Option<Money>,
    /// A hard limit forbids it.
    pub refusal: Option<Refusal>,
}

/// A hard limit that refuses a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    PerTransfer { limit: Money },
    PerDay { limit: Money, left: Money },
}

/// How the customer approves the payment at the bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// In the bank's app (decoupled SCA).
    App,
    /// On the bank's page (redirect SCA).
    Link(String),
}

/// What happened when the service took the confirmed transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// The bank waits for the customer's approval; the service follows it and pushes the end.
    Approve {
        payment_id: String,
        how: Approval,
    },
    /// The bank's answer is not in yet; the service keeps asking and pushes the end.
    Pending {
        payment_id: String,
    },
    Executed(Receipt),
    Rejected {
        payment_id: String,
        reason: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("a limit refuses the transfer")]
    Limit(Refusal),
    #[error("the transfer is not valid: {0}")]
    Invalid(&'static str),
    #[error("payment not found")]
    NotFound,
    #[error("the payments service failed")]
    Failed,
}

/// A finished payment, for the receipt. `Debug` hides the amount and the payee.
#[derive(Clone, PartialEq, Eq)]
pub struct Receipt {
    pub payment_id: String,
    pub amount: Money,
    pub payee: String,
    pub iban: Iban,
    pub at: DateTime<Utc>,
    /// Whether the payee is saved already (else the receipt offers to save them).
    pub payee_saved: bool,
}

impl std::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipt")
            .field("payment_id", &self.payment_id)
            .finish_non_exhaustive()
    }
}

/// The payments side of transfers, implemented outside the dialog (crates/okienko).
#[async_trait]
pub trait Transfers: Send + Sync + 'static {
    /// Whether approval happens in the bank app, which needs the customer's bank login.
    fn needs_bank_login(&self) -> bool;

    /// Limits and how unusual the amount is for this customer.
    async fn assess(
        &self,
        customer: CustomerId,
        amount: &Money,
    ) -> Result<Assessment, TransferError>;

    /// Initiates the payment at the bank, once per `request.action` whatever happens.
    async fn submit(
        &self,
        customer: CustomerId,
        request: &TransferRequest,
    ) -> Result<Submitted, TransferError>;

    /// Saves the payee of one of the customer's payments; returns the name saved.
    async fn save_payee(
        &self,
        customer: CustomerId,
        payment_id: &str,
    ) -> Result<String, TransferError>;
}

// --------------------------------------------------------------------------- texts

const ASK_ACCOUNT: T = T(
    "Nie znam jeszcze konta: {name}. Podaj numer konta (IBAN lub 26 cyfr).",
    "I don't know {name}'s account yet. Type the account number (IBAN).",
);
const CHOOSE_PAYEE: T = T(
    "Do kogo dokładnie? Pasuje kilka osób:",
    "Which one? Several people match:",
);
const OTHER_ACCOUNT_LABEL: T = T("Inne konto", "Another account");
const TYPE_IBAN: T = T(
    "Podaj numer konta odbiorcy (IBAN lub 26 cyfr).",
    "Type the payee's account number (IBAN).",
);
const BAD_IBAN: T = T(
    "To nie jest poprawny numer konta: cyfry kontrolne się nie zgadzają. Sprawdź go i wpisz jeszcze raz. Nic nie zostało wysłane.",
    "That is not a valid account number: its check digits don't match. Please check it and type it again. Nothing was sent.",
);
const ASK_LOGIN: T = T(
    "Przelew potwierdzisz w aplikacji banku. Podaj swój login (identyfikator) w banku, żeby bank wiedział, komu wysłać prośbę. Nie podawaj hasła.",
    "You'll approve the transfer in your bank's app. Type your login (user ID) at the bank so it knows whom to ask. Never type your password.",
);
const BAD_LOGIN: T = T(
    "To nie wygląda na login w banku (jedno słowo, bez spacji). Spróbuj jeszcze raz.",
    "That doesn't look like a bank login (one word, no spaces). Please try again.",
);
const NO_SOURCE: T = T(
    "Nie widzę konta, z którego mógłbym wysłać przelew w tej walucie. Połącz bank i spróbuj ponownie.",
    "I can't see an account to pay from in this currency. Connect your bank and try again.",
);
const READ_BACK: T = T(
    "Sprawdź przelew:\nKwota: {amount}\nOdbiorca: {name}\nNa konto: {iban}\nZ konta: {from}\nWysłać?",
    "Please check the transfer:\nAmount: {amount}\nTo: {name}\nAccount: {iban}\nFrom: {from}\nSend it?",
);
const WARN_TITLE: T = T("Zanim wyślesz — uwaga:", "Before you send it — careful:");
const WARN_NEW_PAYEE: T = T(
    "• To nowy odbiorca: nigdy wcześniej nie przelewałeś(-aś) pieniędzy na to konto.",
    "• This is a new payee: you have never sent money to this account before.",
);
const WARN_UNUSUAL: T = T(
    "• Ta kwota jest dużo wyższa niż Twoje zwykłe płatności (zwykle najwyżej {typical}).",
    "• This amount is much higher than your usual payments (usually at most {typical}).",
);
const WARN_SCAM: T = T(
    "• Wiadomość z tej rozmowy wygląda jak znane oszustwo (np. „mamo, zgubiłam telefon, wyślij BLIK”). Oszuści podszywają się pod bliskich — zadzwoń do tej osoby na znany Ci numer, zanim wyślesz.",
    "• A message in this conversation looks like a known scam (e.g. \"hi mum, I lost my phone, send me money\"). Scammers pretend to be family — call the person on a number you know before you send.",
);
const WARN_ASK: T = T(
    "Czy na pewno chcesz kontynuować?",
    "Are you sure you want to continue?",
);
const SURE_LABEL: T = T("Tak, na pewno", "Yes, I'm sure");
const LIMIT_PER_TRANSFER: T = T(
    "Jednorazowo z czatu możesz przelać najwyżej {limit}. Nic nie zostało wysłane. Podaj mniejszą kwotę albo zrób przelew w aplikacji banku.",
    "From the chat you can send at most {limit} at once. Nothing was sent. Give a smaller amount, or use your bank's app.",
);
const LIMIT_PER_DAY: T = T(
    "Dzienny limit przelewów z czatu to {limit}; dziś zostało {left}. Nic nie zostało wysłane. Podaj mniejszą kwotę albo zrób przelew w aplikacji banku.",
    "The daily limit for transfers from the chat is {limit}; {left} is left today. Nothing was sent. Give a smaller amount, or use your bank's app.",
);
const APPROVE_IN_APP: T = T(
    "Przelew czeka w banku na Twoje potwierdzenie. Otwórz aplikację banku i zatwierdź go w „Płatnościach do potwierdzenia”. Dam znać tutaj, gdy bank go zrealizuje.",
    "The transfer is waiting at your bank for your approval. Open your bank's app and approve it under \"Payments to confirm\". I'll tell you here when the bank has made it.",
);
const APPROVE_LINK: T = T(
    "Przelew czeka w banku na Twoje potwierdzenie. Otwórz stronę banku i zatwierdź go. Dam znać tutaj, gdy bank go zrealizuje.",
    "The transfer is waiting at your bank for your approval. Open your bank's page and approve it. I'll tell you here when the bank has made it.",
);
const APPROVE_LINK_LABEL: T = T(
    "Potwierdź przelew w banku",
    "Approve the transfer at your bank",
);
const PENDING: T = T(
    "Przekazałem przelew do banku; czekam na jego odpowiedź. Dam znać tutaj, jak tylko ją dostanę. Nie wysyłaj go drugi raz — nie zostanie wykonany podwójnie.",
    "I've passed the transfer to your bank and am waiting for its answer. I'll tell you here as soon as I have it. No need to send it again — it won't be made twice.",
);
const RECEIPT: T = T(
    "✅ Przelew wykonany.\nKwota: {amount}\nOdbiorca: {name} ({iban})\nData: {date}\nNumer płatności: {id}\nStatus: zrealizowany (ACSC)",
    "✅ Transfer made.\nAmount: {amount}\nTo: {name} ({iban})\nDate: {date}\nPayment ID: {id}\nStatus: completed (ACSC)",
);
const SAVE_ASK: T = T("Zapisać odbiorcę?", "Save this payee?");
const SAVE_LABEL: T = T("Zapisz odbiorcę", "Save payee");
const SAVED: T = T(
    "Zapisałem odbiorcę: {name}. Następnym razem wystarczy „przelej … {name}”.",
    "Saved the payee: {name}. Next time just say \"send … to {name}\".",
);
const REJECTED: T = T(
    "❌ Bank odrzucił przelew {amount} do: {name}. Powód: {reason}. Pieniądze nie zostały wysłane.",
    "❌ The bank rejected the transfer of {amount} to {name}. Reason: {reason}. No money was sent.",
);
const REJECTED_SHORT: T = T(
    "❌ Bank odrzucił przelew. Powód: {reason}. Pieniądze nie zostały wysłane.",
    "❌ The bank rejected the transfer. Reason: {reason}. No money was sent.",
);
const FAILED: T = T(
    "Nie udało się teraz przekazać przelewu do banku. Nic nie zostało wysłane; spróbuj za chwilę.",
    "I couldn't pass the transfer to your bank just now. Nothing was sent; please try again in a moment.",
);
const INVALID: T = T(
    "Bank nie przyjmie takiego przelewu (sprawdź kwotę, odbiorcę i konto). Nic nie zostało wysłane.",
    "The bank won't accept this transfer (check the amount, payee and account). Nothing was sent.",
);
const SAVE_FAILED: T = T(
    "Nie udało się zapisać odbiorcy.",
    "I couldn't save the payee.",
);

/// The customer-facing words for an ISO 20022 reason code.
pub fn reason_text(code: Option<&str>, lang: Lang) -> String {
    let t = match code.unwrap_or("") {
        "AM04" => T(
            "brak wystarczających środków (AM04)",
            "insufficient funds (AM04)",
        ),
        "AM02" => T(
            "kwota przekracza dozwolony limit (AM02)",
            "amount above the allowed limit (AM02)",
        ),
        "AC01" => T(
            "błędny numer konta (AC01)",
            "incorrect account number (AC01)",
        ),
        "AC04" => T(
            "konto odbiorcy jest zamknięte (AC04)",
            "the payee's account is closed (AC04)",
        ),
        "AC06" => T(
            "konto jest zablokowane (AC06)",
            "the account is blocked (AC06)",
        ),
        "AG01" => T(
            "ten rodzaj przelewu jest niedozwolony dla konta (AG01)",
            "this kind of transfer is not allowed on the account (AG01)",
        ),
        "MS02" | "SCA_FAILED" | "PSU_REJECTED" => T(
            "przelew nie został zatwierdzony w banku (MS02)",
            "the transfer was not approved at the bank (MS02)",
        ),
        "CANC" => T("przelew anulowano", "the transfer was cancelled"),
        "FORMAT_ERROR" | "REFUSED" => T(
            "bank nie przyjął danych przelewu",
            "the bank did not accept the transfer's details",
        ),
        other => {
            return match lang {
                Lang::Pl => format!(
                    "kod banku {}",
                    if other.is_empty() { "RJCT" } else { other }
                ),
                Lang::En => format!(
                    "bank code {}",
                    if other.is_empty() { "RJCT" } else { other }
                ),
            };
        }
    };
    t.pick(lang).to_owned()
}

fn financial(mut r: Reply) -> Reply {
    r.sensitivity = Sensitivity::Financial;
    r
}

fn cancel_button(lang: Lang) -> QuickReply {
    QuickReply::new(texts::FORM_CANCEL.pick(lang), forms::CANCEL)
}

/// The receipt pushed when the bank executed a payment.
pub fn receipt(lang: Lang, tz: Tz, r: &Receipt) -> Reply {
    let text = RECEIPT
        .pick(lang)
        .replace("{amount}", &format::money(&r.amount, lang))
        .replace("{name}", &r.payee)
        .replace("{iban}", &masked(&r.iban))
        .replace("{date}", &format::datetime(r.at, tz, lang))
        .replace("{id}", &r.payment_id);
    let mut reply = financial(Reply::text(text));
    if !r.payee_saved {
        reply.parts.push(ReplyPart::Text {
            text: SAVE_ASK.pick(lang).to_owned(),
        });
        reply.quick_replies = vec![QuickReply::new(
            SAVE_LABEL.pick(lang),
            format!("{SAVE_PAYEE}{}", r.payment_id),
        )];
    }
    reply
}

/// The message pushed when the bank rejected a payment.
pub fn rejection(
    lang: Lang,
    amount: Option<&Money>,
    payee: Option<&str>,
    reason: Option<&str>,
) -> Reply {
    let reason = reason_text(reason, lang);
    let text = match (amount, payee) {
        (Some(a), Some(p)) => REJECTED
            .pick(lang)
            .replace("{amount}", &format::money(a, lang))
            .replace("{name}", p)
            .replace("{reason}", &reason),
        _ => REJECTED_SHORT.pick(lang).replace("{reason}", &reason),
    };
    financial(Reply::text(text))
}

/// "PL61 •••• 2874": enough to recognise the account, never the whole number.
pub fn masked(iban: &Iban) -> String {
    iban.masked()
}

/// A payee button within Messenger's 20 characters: the name (cut if long) and the IBAN's last
/// four, "Tomasz Nowak ••7890".
pub(crate) fn payee_label(name: &str, iban: &Iban) -> String {
    let s = iban.expose();
    let tail = &s[s.len().saturating_sub(4)..];
    let room = crate::reply::MAX_LABEL_CHARS - tail.chars().count() - 3;
    let name = crate::reply::short_label(name);
    let name = if name.chars().count() > room {
        let mut n: String = name.chars().take(room - 1).collect();
        n.truncate(n.trim_end().len());
        n.push('…');
        n
    } else {
        name
    };
    format!("{name} ••{tail}").trim().to_owned()
}

/// Whether `name` (a payee's name) is who the customer meant by `wanted` (base form, folded).
fn name_matches(name: &str, wanted: &str) -> bool {
    let name = fold(name);
    let words: Vec<&str> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let wanted = fold(wanted);
    let want: Vec<&str> = wanted
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    !want.is_empty() && want.iter().all(|w| words.iter().any(|n| n == w))
}

fn login_like(text: &str) -> Option<String> {
    let t = text.trim();
    let ok = !t.is_empty()
        && t.chars().count() <= 70
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    ok.then(|| t.to_owned())
}

// ------------------------------------------------------------------ the conversation

impl Engine {
    /// Starts a transfer form from "przelej 50 zł Annie" (an IBAN in the message counts too).
    pub(crate) async fn start_transfer(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        st: &mut DialogState,
        parse: &okienko_nlu::Parse,
        lang: Lang,
    ) -> Vec<Reply> {
        let (iban, rest) = forms::find_iban(&parse.text);
        let parse = if matches!(iban, IbanInText::None) {
            parse.clone()
        } else {
            self.nlu.parse(&rest, self.today(), &[])
        };
        let mut form = TransferForm::start(&parse, okienko_core::Currency::PLN);
        form.needs_account = self.transfers.get().is_some();
        let mut out = Vec::new();
        match iban {
            IbanInText::Valid(iban) if form.needs_account => form.account = Some(typed(iban)),
            IbanInText::Invalid(_) if form.needs_account => {
                out.push(Reply::text(BAD_IBAN.pick(lang)));
            }
            _ => {}
        }
        let reply = self.form_prompt(customer, via, st, &mut form, lang).await;
        out.push(reply);
        st.form = Some(form);
        out
    }

    /// Gives an open form the first look at an event: its buttons, the answer to its question,
    /// or the yes/no to its read-back.
    pub(crate) async fn form_step(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        st: &mut DialogState,
        lang: Lang,
        event: &InboundEvent,
    ) -> FormStep {
        let Some(mut form) = st.form.take() else {
            return FormStep::Pass;
        };
        let step = self
            .form_event(customer, via, st, &mut form, lang, event)
            .await;
        match step {
            Step::Keep(step) => {
                st.form = Some(form);
                step
            }
            Step::Drop(step) => step,
        }
    }

    async fn form_event(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        st: &mut DialogState,
        form: &mut TransferForm,
        lang: Lang,
        event: &InboundEvent,
    ) -> Step {
        let done = |r: Vec<Reply>| Step::Keep(FormStep::Done(r));
        let text = match event {
            InboundEvent::QuickReply(p) if p == forms::CANCEL => {
                return Step::Drop(FormStep::Done(vec![Reply::text(
                    texts::FORM_CANCELLED.pick(lang),
                )]));
            }
            InboundEvent::QuickReply(p) if p == forms::RESUME => {
                return done(vec![self.form_prompt(customer, via, st, form, lang).await]);
            }
            InboundEvent::QuickReply(p) if p == forms::OTHER_ACCOUNT => {
                form.candidates.clear();
                form.looked_up = true;
                return done(vec![
                    Reply::text(TYPE_IBAN.pick(lang)).with_quick_replies(vec![cancel_button(lang)]),
                ]);
            }
            InboundEvent::QuickReply(p) => {
                if let Some(i) = p.strip_prefix(forms::PAYEE) {
                    let chosen = i.parse::<usize>().ok().and_then(|i| form.candidates.get(i));
                    return match chosen {
                        Some(c) => {
                            form.account = Some(c.clone());
                            form.candidates.clear();
                            done(vec![self.form_prompt(customer, via, st, form, lang).await])
                        }
                        None => done(vec![Reply::text(texts::FORM_STALE.pick(lang))]),
                    };
                }
                if let Some(id) = p.strip_prefix(forms::SURE) {
                    if id != form.id.to_string() {
                        return done(vec![Reply::text(texts::FORM_STALE.pick(lang))]);
                    }
                    form.acknowledged = true;
                    return done(vec![self.form_prompt(customer, via, st, form, lang).await]);
                }
                return match p.strip_prefix(forms::CONFIRM) {
                    Some(id) if id == form.id.to_string() && self.ready(form) => Step::Drop(
                        FormStep::Done(self.execute_form(customer, form, lang).await),
                    ),
                    Some(id) if id == form.id.to_string() => {
                        done(vec![self.form_prompt(customer, via, st, form, lang).await])
                    }
                    Some(_) => done(vec![Reply::text(texts::FORM_STALE.pick(lang))]),
                    None => Step::Keep(FormStep::Pass),
                };
            }
            InboundEvent::Text(t) => t.as_str(),
        };
        // An account number typed in: checked before anything else, and cut out of the text so
        // its digits are not read as an amount.
        let (iban, rest) = if form.needs_account {
            forms::find_iban(text)
        } else {
            (IbanInText::None, text.to_owned())
        };
        match iban {
            IbanInText::Invalid(_) => {
                let mut again = Reply::text(BAD_IBAN.pick(lang));
                again.quick_replies = vec![cancel_button(lang)];
                return done(vec![again]);
            }
            IbanInText::Valid(iban) => {
                form.account = Some(typed(iban));
                form.candidates.clear();
                let parse = self.nlu.parse(&rest, self.today(), &[]);
                form.fill(&parse, None, okienko_core::Currency::PLN);
                return done(vec![self.form_prompt(customer, via, st, form, lang).await]);
            }
            IbanInText::None => {}
        }
        if form.missing() == Some(Slot::BankLogin) && forms::yes_no(text) != YesNo::No {
            return match login_like(text) {
                Some(login) => {
                    let req = self.req(customer, via, Purpose::ServicePayment);
                    if let Err(e) = self.gate.set_bank_login(&req, &login).await {
                        return done(vec![self.access_error_reply(e, lang)]);
                    }
                    form.bank_login = Some(login);
                    done(vec![self.form_prompt(customer, via, st, form, lang).await])
                }
                None => done(vec![
                    Reply::text(BAD_LOGIN.pick(lang)).with_quick_replies(vec![cancel_button(lang)]),
                ]),
            };
        }
        let parse = self.nlu.parse(text, self.today(), &[]);
        let answer = forms::yes_no(text);
        if form.missing().is_none() {
            // "nie, 60 zł": a correction of the transfer gets a new read-back.
            let names_slots = parse.slots.amount.is_some() || parse.slots.recipient.is_some();
            if names_slots && form.fill(&parse, None, okienko_core::Currency::PLN) {
                return done(vec![self.form_prompt(customer, via, st, form, lang).await]);
            }
            return match answer {
                YesNo::Yes if self.ready(form) => Step::Drop(FormStep::Done(
                    self.execute_form(customer, form, lang).await,
                )),
                YesNo::Yes if self.awaits_sure(form) => {
                    form.acknowledged = true;
                    done(vec![self.form_prompt(customer, via, st, form, lang).await])
                }
                YesNo::Yes => done(vec![self.form_prompt(customer, via, st, form, lang).await]),
                YesNo::No => Step::Drop(FormStep::Done(vec![Reply::text(
                    texts::FORM_CANCELLED.pick(lang),
                )])),
                YesNo::Neither if forms::is_other_task(&parse, Nlu::LOW_CONFIDENCE) => {
                    Step::Keep(FormStep::Aside(Box::new(parse)))
                }
                YesNo::Neither => {
                    let mut again = self.form_prompt(customer, via, st, form, lang).await;
                    again.parts.insert(
                        0,
                        ReplyPart::Text {
                            text: texts::FORM_NOT_UNDERSTOOD.pick(lang).to_owned(),
                        },
                    );
                    done(vec![again])
                }
            };
        }
        if answer == YesNo::No && parse.slots.amount.is_none() {
            return Step::Drop(FormStep::Done(vec![Reply::text(
                texts::FORM_CANCELLED.pick(lang),
            )]));
        }
        if parse.intent != Intent::Transfer && forms::is_other_task(&parse, Nlu::LOW_CONFIDENCE) {
            return Step::Keep(FormStep::Aside(Box::new(parse)));
        }
        let asked = form.missing();
        form.fill(&parse, asked, okienko_core::Currency::PLN);
        done(vec![self.form_prompt(customer, via, st, form, lang).await])
    }

    /// Whether the form may be executed now: complete, assessed, nothing refused, warnings
    /// acknowledged.
    fn ready(&self, form: &TransferForm) -> bool {
        if form.missing().is_some() {
            return false;
        }
        if self.transfers.get().is_none() {
            return true;
        }
        form.from.is_some()
            && form.refusal.is_none()
            && form.assessed_for.is_some()
            && (form.warnings.is_empty() || form.acknowledged)
    }

    fn awaits_sure(&self, form: &TransferForm) -> bool {
        form.refusal.is_none() && !form.warnings.is_empty() && !form.acknowledged
    }

    /// The next question, the warning, the refusal or the read-back, whichever the form needs.
    pub(crate) async fn form_prompt(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        st: &DialogState,
        form: &mut TransferForm,
        lang: Lang,
    ) -> Reply {
        let Some(service) = self.transfers.get() else {
            return form.prompt(lang);
        };
        form.needs_account = true;
        let req = self.req(customer, via, Purpose::ServicePayment);
        if form.missing() == Some(Slot::Account) && !form.looked_up {
            form.looked_up = true;
            let wanted = form.recipient.clone().unwrap_or_default();
            match self.gate.payees(&req).await {
                Ok(payees) => {
                    let matched: Vec<PayeeAccount> = payees
                        .into_data()
                        .into_iter()
                        .filter(|p| name_matches(&p.name, &wanted))
                        .map(|p| PayeeAccount {
                            name: Some(p.name),
                            iban: p.iban,
                            saved: p.saved,
                            times_paid: p.times_paid,
                        })
                        .take(5)
                        .collect();
                    if matched.len() == 1 {
                        form.account = matched.into_iter().next();
                    } else {
                        form.candidates = matched;
                    }
                }
                Err(e) => return self.access_error_reply(e, lang),
            }
        }
        if form.missing() == Some(Slot::Account) {
            if !form.candidates.is_empty() {
                let mut buttons: Vec<QuickReply> = form
                    .candidates
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        QuickReply::new(
                            payee_label(c.name.as_deref().unwrap_or(""), &c.iban),
                            format!("{}{i}", forms::PAYEE),
                        )
                    })
                    .collect();
                buttons.push(QuickReply::new(
                    OTHER_ACCOUNT_LABEL.pick(lang),
                    forms::OTHER_ACCOUNT,
                ));
                buttons.push(cancel_button(lang));
                return financial(Reply::text(CHOOSE_PAYEE.pick(lang)).with_quick_replies(buttons));
            }
            let name = form.payee_name().unwrap_or_default();
            return Reply::text(ASK_ACCOUNT.pick(lang).replace("{name}", &name))
                .with_quick_replies(vec![cancel_button(lang)]);
        }
        if form.missing().is_none() && service.needs_bank_login() && form.bank_login.is_none() {
            match self.gate.bank_login(&req).await {
                Ok(l) => form.bank_login = l.into_data(),
                Err(e) => return self.access_error_reply(e, lang),
            }
            form.needs_login = form.bank_login.is_none();
        }
        if form.missing() == Some(Slot::BankLogin) {
            return Reply::text(ASK_LOGIN.pick(lang)).with_quick_replies(vec![cancel_button(lang)]);
        }
        if form.missing().is_some() {
            return form.prompt(lang);
        }
        let (Some(amount), Some(account)) = (form.amount, form.account.clone()) else {
            return form.prompt(lang);
        };
        if form.from.is_none() {
            match self.gate.payment_accounts(&req).await {
                Ok(accounts) => {
                    form.from = accounts
                        .into_data()
                        .into_iter()
                        .filter(|a| a.currency == amount.currency())
                        .find_map(|a| {
                            let iban = a.iban?;
                            let label = format!("{} {}", a.name, masked(&iban));
                            (iban != account.iban).then_some((iban, label))
                        });
                }
                Err(e) => return self.access_error_reply(e, lang),
            }
            if form.from.is_none() {
                return Reply::text(NO_SOURCE.pick(lang))
                    .with_quick_replies(vec![cancel_button(lang)]);
            }
        }
        if form.assessed_for.as_ref() != Some(&(amount, account.iban.clone())) {
            let assessment = match service.assess(customer, &amount).await {
                Ok(a) => a,
                Err(e) => return self.transfer_error_reply(e, lang),
            };
            let mut warnings = Vec::new();
            if !account.saved && account.times_paid == 0 {
                warnings.push(WARN_NEW_PAYEE.pick(lang).to_owned());
            }
            if let Some(typical) = assessment.unusual {
                warnings.push(
                    WARN_UNUSUAL
                        .pick(lang)
                        .replace("{typical}", &format::money(&typical, lang)),
                );
            }
            if self.scam_in_conversation(st) {
                warnings.push(WARN_SCAM.pick(lang).to_owned());
            }
            // New warnings need a new "I'm sure"; the same ones keep it.
            if warnings != form.warnings {
                form.acknowledged = false;
            }
            form.warnings = warnings;
            form.refusal = assessment.refusal.map(|r| refusal_text(&r, lang));
            form.assessed_for = Some((amount, account.iban.clone()));
        }
        if let Some(refusal) = &form.refusal {
            return Reply::text(refusal.clone()).with_quick_replies(vec![cancel_button(lang)]);
        }
        let name = form.payee_name().unwrap_or_default();
        let from = form.from.as_ref().map(|f| f.1.clone()).unwrap_or_default();
        let card = READ_BACK
            .pick(lang)
            .replace("{amount}", &format::money(&amount, lang))
            .replace("{name}", &name)
            .replace("{iban}", &masked(&account.iban))
            .replace("{from}", &from);
        if !form.warnings.is_empty() && !form.acknowledged {
            let mut parts = vec![ReplyPart::Text {
                text: WARN_TITLE.pick(lang).to_owned(),
            }];
            parts.extend(
                form.warnings
                    .iter()
                    .map(|w| ReplyPart::Text { text: w.clone() }),
            );
            parts.push(ReplyPart::Text {
                text: card.replace(READ_BACK_TAIL.pick(lang), ""),
            });
            parts.push(ReplyPart::Text {
                text: WARN_ASK.pick(lang).to_owned(),
            });
            return financial(Reply {
                parts,
                quick_replies: vec![
                    QuickReply::new(SURE_LABEL.pick(lang), format!("{}{}", forms::SURE, form.id)),
                    cancel_button(lang),
                ],
                sensitivity: Sensitivity::Financial,
            });
        }
        financial(Reply::text(card).with_quick_replies(vec![
            QuickReply::new(
                texts::FORM_CONFIRM.pick(lang),
                format!("{}{}", forms::CONFIRM, form.id),
            ),
            cancel_button(lang),
        ]))
    }

    /// Whether a recent message of the customer's looks like a scam they were sent.
    fn scam_in_conversation(&self, st: &DialogState) -> bool {
        st.recent_texts
            .iter()
            .any(|t| self.guard.check(t).verdict != VerdictKind::Safe)
    }

    /// Runs a confirmed form: hands it to the payments service, or says plainly that this
    /// gateway does not execute transfers.
    async fn execute_form(
        &self,
        customer: CustomerId,
        form: &TransferForm,
        lang: Lang,
    ) -> Vec<Reply> {
        let Some(service) = self.transfers.get() else {
            tracing::info!(form = %form.id, "transfer confirmed; payments are not configured");
            return vec![Reply::text(forms::NOT_ENABLED.pick(lang)).with_quick_replies(menu(lang))];
        };
        let (Some(amount), Some(account), Some((debtor, _)), Some(name)) = (
            form.amount,
            form.account.as_ref(),
            form.from.as_ref(),
            form.payee_name(),
        ) else {
            return vec![Reply::text(texts::FORM_STALE.pick(lang))];
        };
        let request = TransferRequest {
            action: form.id,
            amount,
            creditor_name: name.clone(),
            creditor: account.iban.clone(),
            debtor: debtor.clone(),
            bank_login: form.bank_login.clone(),
        };
        tracing::info!(form = %form.id, "transfer confirmed; submitting");
        match service.submit(customer, &request).await {
            Ok(Submitted::Approve {
                how: Approval::App, ..
            }) => vec![Reply::text(APPROVE_IN_APP.pick(lang))],
            Ok(Submitted::Approve {
                how: Approval::Link(url),
                ..
            }) => vec![Reply {
                parts: vec![
                    ReplyPart::Text {
                        text: APPROVE_LINK.pick(lang).to_owned(),
                    },
                    ReplyPart::Link {
                        label: APPROVE_LINK_LABEL.pick(lang).to_owned(),
                        url,
                    },
                ],
                quick_replies: Vec::new(),
                sensitivity: Sensitivity::Public,
            }],
            Ok(Submitted::Pending { .. }) => vec![Reply::text(PENDING.pick(lang))],
            Ok(Submitted::Executed(r)) => vec![receipt(lang, self.config.timezone, &r)],
            Ok(Submitted::Rejected { reason, .. }) => {
                vec![rejection(
                    lang,
                    Some(&amount),
                    Some(&name),
                    reason.as_deref(),
                )]
            }
            Err(e) => vec![self.transfer_error_reply(e, lang)],
        }
    }

    fn transfer_error_reply(&self, e: TransferError, lang: Lang) -> Reply {
        match e {
            TransferError::Limit(r) => Reply::text(refusal_text(&r, lang)),
            TransferError::Invalid(_) => Reply::text(INVALID.pick(lang)),
            TransferError::NotFound => Reply::text(texts::FORM_STALE.pick(lang)),
            TransferError::Failed => Reply::text(FAILED.pick(lang)),
        }
    }

    /// A button under a transfer's receipt ("save this payee").
    pub(crate) async fn transfer_button(
        &self,
        customer: CustomerId,
        lang: Lang,
        payload: &str,
    ) -> Vec<Reply> {
        let Some(service) = self.transfers.get() else {
            return vec![Reply::text(texts::FORM_STALE.pick(lang))];
        };
        let Some(payment) = payload.strip_prefix(SAVE_PAYEE) else {
            return vec![Reply::text(texts::FORM_STALE.pick(lang))];
        };
        match service.save_payee(customer, payment).await {
            Ok(name) => vec![Reply::text(SAVED.pick(lang).replace("{name}", &name))],
            Err(TransferError::NotFound) => vec![Reply::text(texts::FORM_STALE.pick(lang))],
            Err(_) => vec![Reply::text(SAVE_FAILED.pick(lang))],
        }
    }
}

/// The customer's last few messages (never logged; stored only sealed, with the conversation
/// state): a scam text they quoted before asking for a transfer is what the transfer's warning
/// is about.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct RecentTexts(std::collections::VecDeque<String>);

impl std::fmt::Debug for RecentTexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecentTexts(<{} messages>)", self.0.len())
    }
}

impl RecentTexts {
    const KEEP: usize = 6;
    const MAX_CHARS: usize = 2000;

    pub(crate) fn push(&mut self, text: &str) {
        if self.0.len() == Self::KEEP {
            self.0.pop_front();
        }
        self.0
            .push_back(text.chars().take(Self::MAX_CHARS).collect());
    }

    fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter()
    }
}

/// The last line of the read-back ("Send it?"), left out when a warning asks first.
const READ_BACK_TAIL: T = T("\nWysłać?", "\nSend it?");

/// What an open form does with the event, and whether the form stays open.
enum Step {
    Keep(FormStep),
    Drop(FormStep),
}

fn typed(iban: Iban) -> PayeeAccount {
    PayeeAccount {
        name: None,
        iban,
        saved: false,
        times_paid: 0,
    }
}

fn refusal_text(r: &Refusal, lang: Lang) -> String {
    match r {
        Refusal::PerTransfer { limit } => LIMIT_PER_TRANSFER
            .pick(lang)
            .replace("{limit}", &format::money(limit, lang)),
        Refusal::PerDay { limit, left } => LIMIT_PER_DAY
            .pick(lang)
            .replace("{limit}", &format::money(limit, lang))
            .replace("{left}", &format::money(left, lang)),
    }
}

fn menu(lang: Lang) -> Vec<QuickReply> {
    vec![
        QuickReply::new(texts::QR_BALANCE.pick(lang), "intent:balance"),
        QuickReply::new(texts::QR_HELP.pick(lang), "intent:help"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payee_names_match_by_whole_words_without_diacritics() {
        assert!(name_matches("Anna Kowalska", "anna"));
        assert!(name_matches("Łukasz Żak", "lukasz"));
        assert!(name_matches("John Smith", "john smith"));
        assert!(!name_matches("Joanna Nowak", "anna"));
        assert!(!name_matches("John Smith", ""));
    }

    #[test]
    fn logins_are_one_word() {
        assert_eq!(login_like(" anna ").as_deref(), Some("anna"));
        assert_eq!(
            login_like("jan.kowalski@bank"),
            Some("jan.kowalski@bank".into())
        );
        assert_eq!(login_like("moje haslo to"), None);
        assert_eq!(login_like(""), None);
    }

    #[test]
    fn reasons_are_explained_in_both_languages() {
        assert!(reason_text(Some("AM04"), Lang::Pl).contains("brak wystarczających środków"));
        assert!(reason_text(Some("AM04"), Lang::En).contains("insufficient funds"));
        assert!(reason_text(Some("XY99"), Lang::En).contains("XY99"));
        assert!(reason_text(None, Lang::Pl).contains("RJCT"));
    }

    #[test]
    fn a_receipt_offers_to_save_a_new_payee_only() {
        let r = Receipt {
            payment_id: "p-1".into(),
            amount: Money::parse("50", "PLN").unwrap_or_else(|_| unreachable!()),
            payee: "John".into(),
            iban: "PL61109010140000071219812874"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
            at: Utc::now(),
            payee_saved: false,
        };
        let reply = receipt(Lang::Pl, format::DEFAULT_TZ, &r);
        let t = reply.plain_text();
        assert!(
            t.contains("50,00 zł") && t.contains("ACSC") && t.contains("p-1"),
            "{t}"
        );
        assert!(t.contains("PL61 •••• 2874") && !t.contains("1090"), "{t}");
        assert_eq!(reply.quick_replies[0].payload, "transfer:save:p-1");
        assert_eq!(reply.sensitivity, Sensitivity::Financial);
        let saved = receipt(
            Lang::En,
            format::DEFAULT_TZ,
            &Receipt {
                payee_saved: true,
                ..r
            },
        );
        assert!(saved.quick_replies.is_empty());
    }
}
