//! Cards from the chat: "moje karty" lists them (brand, last four digits, the account's name,
//! status); "zablokuj kartę" freezes one for now, "odblokuj kartę" unfreezes it, and "zgubiłem
//! kartę" / "my card was stolen" reports it lost or stolen for good, the bank ordering a
//! replacement.
//!
//! Every read and every action passes the privacy gate under `service.cards` (audited), and each
//! action runs only after a read-back the customer confirms. A confirmation is bound to an action
//! id: the buttons carry it, the id is the bank call's idempotency key, and once the action ran
//! (or another was asked for, or ten minutes passed) the same button does nothing. Reporting a
//! card is permanent, so it asks for more than "tak": the button that names the consequence, or
//! the card's last four digits typed.
//!
//! This module keeps no card data beyond the short-lived choice and read-back it is asking about,
//! and never logs a card number.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use okienko_bank::{BankError, CardStatus, LinkedCard, LostReason};
use okienko_core::transaction::fold;
use okienko_core::{AccountId, CustomerId, Lang};
use okienko_nlu::Intent;
use okienko_privacy::{CardAccess, CardAccessError, ChannelInfo, Purpose};
use uuid::Uuid;

use crate::engine::Engine;
use crate::forms::{YesNo, yes_no};
use crate::texts::T;
use crate::{InboundEvent, QuickReply, Reply, ReplyPart, Sensitivity};

/// How long a read-back waits for its answer.
const CONFIRM_TTL_MINUTES: i64 = 10;
/// How many executed actions are remembered, so a double press says "already done".
const DONE_REMEMBERED: usize = 16;

/// What can be done to a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "CardOpName", into = "CardOpName")]
pub enum CardOp {
    /// Freeze for now.
    Block,
    Unblock,
    /// Report lost or stolen: permanent, a replacement ordered.
    Report(LostReason),
}

impl CardOp {
    /// Whether a card in `status` is one this operation applies to.
    fn applies_to(&self, status: CardStatus) -> bool {
        match self {
            CardOp::Block => status == CardStatus::Active,
            CardOp::Unblock => status == CardStatus::Blocked,
            CardOp::Report(_) => matches!(status, CardStatus::Active | CardStatus::Blocked),
        }
    }

    fn access(&self) -> CardAccess {
        match self {
            CardOp::Block => CardAccess::Block,
            CardOp::Unblock => CardAccess::Unblock,
            CardOp::Report(_) => CardAccess::ReportLost,
        }
    }
}

/// How a [`CardOp`] is stored with the conversation state.
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum CardOpName {
    Block,
    Unblock,
    ReportLost,
    ReportStolen,
}

impl From<CardOp> for CardOpName {
    fn from(op: CardOp) -> Self {
        match op {
            CardOp::Block => CardOpName::Block,
            CardOp::Unblock => CardOpName::Unblock,
            CardOp::Report(LostReason::Lost) => CardOpName::ReportLost,
            CardOp::Report(LostReason::Stolen) => CardOpName::ReportStolen,
        }
    }
}

impl From<CardOpName> for CardOp {
    fn from(n: CardOpName) -> Self {
        match n {
            CardOpName::Block => CardOp::Block,
            CardOpName::Unblock => CardOp::Unblock,
            CardOpName::ReportLost => CardOp::Report(LostReason::Lost),
            CardOpName::ReportStolen => CardOp::Report(LostReason::Stolen),
        }
    }
}

/// What the customer asked about their cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardAsk {
    List,
    Do(CardOp),
}

/// A card the customer may pick. `Debug` shows no number.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Candidate {
    account: AccountId,
    card_id: String,
    /// "Visa •••• 1234".
    label: String,
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Candidate(<card>)")
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Pending {
    id: Uuid,
    op: CardOp,
    card: Candidate,
    asked_at: DateTime<Utc>,
}

/// The card conversation of one customer: a choice or a read-back waiting for an answer.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct CardDialog {
    choosing: Option<(Uuid, CardOp, Vec<Candidate>)>,
    pending: Option<Pending>,
    done: VecDeque<Uuid>,
}

impl CardDialog {
    /// Forgets what was being asked (the customer moved on).
    fn clear(&mut self) {
        self.choosing = None;
        self.pending = None;
    }
}

pub(crate) const PREFIX: &str = "card:";

const LIST_WORDS: [&str; 16] = [
    "moje karty",
    "moich kart",
    "pokaz karty",
    "pokaz moje karty",
    "jakie mam karty",
    "jakie karty",
    "lista kart",
    "status karty",
    "status kart",
    "my cards",
    "show cards",
    "list my cards",
    "list cards",
    "which cards",
    "what cards",
    "card status",
];
const STOLEN_WORDS: [&str; 9] = [
    "ukradl",
    "ukradzion",
    "kradziez",
    "skradzion",
    "okradzion",
    "stolen",
    "stole",
    "theft",
    "robbed",
];
const LOST_WORDS: [&str; 12] = [
    "zgubil",
    "zgubion",
    "zgubienie",
    "zginela",
    "stracil",
    "zastrzez",
    "zastrzec",
    "lost",
    "misplaced",
    "nie moge znalezc",
    "cant find",
    "cannot find",
];
const UNBLOCK_WORDS: [&str; 8] = [
    "odblok",
    "odmroz",
    "unblock",
    "unfreez",
    "unlock",
    "reactivat",
    "reaktyw",
    "odwies",
];
const BLOCK_WORDS: [&str; 7] = [
    "zablok",
    "zamroz",
    "block",
    "freeze",
    "lock",
    "wstrzymaj",
    "blokad",
];

/// What a message asks about cards, if anything: keywords first (so "odblokuj" never reads as
/// "zablokuj"), then the intent the model found, when it was sure of it (`None` otherwise: an
/// unclear "karta" gets the did-you-mean buttons, not a guess).
pub fn ask(text: &str, intent: Option<Intent>) -> Option<CardAsk> {
    let t = fold(text).replace(['\'', '’'], "");
    let card_intent = matches!(intent, Some(Intent::CardBlock | Intent::CardUnblock));
    let mentions_card = t.contains("kart") || t.contains("card");
    if !mentions_card && !card_intent {
        return None;
    }
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&STOLEN_WORDS) {
        return Some(CardAsk::Do(CardOp::Report(LostReason::Stolen)));
    }
    if has(&LOST_WORDS) {
        return Some(CardAsk::Do(CardOp::Report(LostReason::Lost)));
    }
    if has(&UNBLOCK_WORDS) {
        return Some(CardAsk::Do(CardOp::Unblock));
    }
    if has(&BLOCK_WORDS) {
        return Some(CardAsk::Do(CardOp::Block));
    }
    if has(&LIST_WORDS) {
        return Some(CardAsk::List);
    }
    match intent {
        Some(Intent::CardBlock) => Some(CardAsk::Do(CardOp::Block)),
        Some(Intent::CardUnblock) => Some(CardAsk::Do(CardOp::Unblock)),
        Some(Intent::OutOfScope) if t.split_whitespace().count() <= 3 => Some(CardAsk::List),
        _ => None,
    }
}

// ---------------------------------------------------------------- texts

const CARDS_TITLE: T = T("Twoje karty:", "Your cards:");
const NO_CARDS: T = T(
    "Nie widzę żadnej karty na połączonych kontach.",
    "I can't see any card on your linked accounts.",
);
const NONE_TO_BLOCK: T = T(
    "Nie masz aktywnej karty, którą można zablokować.",
    "You have no active card to block.",
);
const NONE_TO_UNBLOCK: T = T(
    "Żadna z Twoich kart nie jest zablokowana tymczasowo.",
    "None of your cards is frozen.",
);
const NONE_TO_REPORT: T = T(
    "Nie masz aktywnej ani zablokowanej karty, którą można zastrzec.",
    "You have no active or frozen card to report.",
);
const WHICH_BLOCK: T = T("Którą kartę zablokować?", "Which card should I block?");
const WHICH_UNBLOCK: T = T("Którą kartę odblokować?", "Which card should I unblock?");
const WHICH_REPORT: T = T("Której karty to dotyczy?", "Which card is it?");
const CONFIRM_BLOCK: T = T(
    "Zablokować tymczasowo kartę {card}? Możesz ją potem odblokować.",
    "Freeze card {card} for now? You can unblock it later.",
);
const CONFIRM_UNBLOCK: T = T(
    "Odblokować kartę {card}? Znów będzie można nią płacić.",
    "Unblock card {card}? It will work for payments again.",
);
const CONFIRM_LOST: T = T(
    "Zastrzec kartę {card} jako zgubioną? To nieodwracalne: karty nie da się już odblokować, a bank zamówi nową. Naciśnij „Zastrzeż na zawsze” albo wpisz 4 ostatnie cyfry karty. Jeśli możesz ją jeszcze znaleźć, wybierz „Tylko zablokuj”.",
    "Report card {card} as lost? This cannot be undone: the card can never be unblocked, and the bank orders a new one. Press “Report for good” or type the card's last 4 digits. If it may still turn up, choose “Just freeze”.",
);
const CONFIRM_STOLEN: T = T(
    "Zastrzec kartę {card} jako skradzioną? To nieodwracalne: karty nie da się już odblokować, a bank zamówi nową. Naciśnij „Zastrzeż na zawsze” albo wpisz 4 ostatnie cyfry karty.",
    "Report card {card} as stolen? This cannot be undone: the card can never be unblocked, and the bank orders a new one. Press “Report for good” or type the card's last 4 digits.",
);
const STRONGER: T = T(
    "To nieodwracalne, więc samo „tak” nie wystarczy: naciśnij „Zastrzeż na zawsze” albo wpisz 4 ostatnie cyfry karty.",
    "This cannot be undone, so “yes” is not enough: press “Report for good” or type the card's last 4 digits.",
);
const QR_YES_BLOCK: T = T("Tak, zablokuj", "Yes, freeze it");
const QR_YES_UNBLOCK: T = T("Tak, odblokuj", "Yes, unblock it");
const QR_YES_REPORT: T = T("Zastrzeż na zawsze", "Report for good");
const QR_JUST_FREEZE: T = T("Tylko zablokuj", "Just freeze");
const QR_NO: T = T("Nie", "No");
const QR_BLOCK: T = T("Zablokuj kartę", "Block a card");
const QR_UNBLOCK: T = T("Odblokuj kartę", "Unblock a card");
const QR_LOST: T = T("Zgubiona/skradziona", "Lost or stolen");
const QR_CARDS: T = T("Moje karty", "My cards");
const BLOCKED: T = T(
    "Gotowe: karta {card} jest zablokowana. Gdy zechcesz, napisz „odblokuj kartę”.",
    "Done: card {card} is frozen. Whenever you like, say “unblock my card”.",
);
const UNBLOCKED: T = T(
    "Gotowe: karta {card} jest znów aktywna.",
    "Done: card {card} is active again.",
);
const REPORTED: T = T(
    "Karta {card} jest zastrzeżona na zawsze. Bank zamówił nową kartę{new}; przyjdzie pocztą.",
    "Card {card} is reported and stopped for good. The bank has ordered a new card{new}; it will come by post.",
);
const REPLACEMENT: T = T(" ({card})", " ({card})");
const CANCELLED: T = T(
    "Dobrze, nic nie zmieniam.",
    "All right, I'm not changing anything.",
);
const STALE: T = T(
    "Ta prośba jest już nieaktualna, więc nic nie zmieniam. Napisz, co zrobić z kartą.",
    "That request is no longer current, so I'm not changing anything. Tell me what to do with your card.",
);
const ALREADY_DONE: T = T(
    "To już zostało zrobione, nic nie powtarzam.",
    "That has already been done; I'm not doing it twice.",
);
const CARD_REFUSED: T = T(
    "Bank nie pozwolił zmienić tej karty (może jest już zastrzeżona albo jeszcze nieaktywna). Sprawdź „moje karty”.",
    "The bank did not allow this change to the card (it may already be reported, or not active yet). Check “my cards”.",
);
const CARDS_UNSUPPORTED: T = T(
    "Twój bank nie pozwala zarządzać kartami przez okienko.",
    "Your bank does not let okienko manage cards.",
);

const ACTIVE: T = T("aktywna", "active");
const FROZEN: T = T("zablokowana tymczasowo", "frozen");
const LOST: T = T("zastrzeżona (zgubiona)", "reported lost");
const STOLEN: T = T("zastrzeżona (skradziona)", "reported stolen");
const ORDERED: T = T("zamówiona, w drodze", "ordered, on its way");

fn status_label(s: CardStatus) -> T {
    match s {
        CardStatus::Active => ACTIVE,
        CardStatus::Blocked => FROZEN,
        CardStatus::Lost => LOST,
        CardStatus::Stolen => STOLEN,
        CardStatus::Ordered => ORDERED,
    }
}

/// "Visa •••• 1234" (or "Karta •••• 1234" / "Card" when the bank named no brand).
fn label(card: &okienko_bank::BankCard, lang: Lang) -> String {
    let brand = match card.brand.as_deref() {
        Some("visa") => "Visa".to_owned(),
        Some("mastercard") => "Mastercard".to_owned(),
        Some(b) => {
            let mut c = b.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
        None => T("Karta", "Card").pick(lang).to_owned(),
    };
    // The label is also a quick reply (Messenger: 20 characters): a long brand is cut so the
    // last four always show.
    let brand = if brand.chars().count() > 10 {
        let mut b: String = brand.chars().take(9).collect();
        b.truncate(b.trim_end().len());
        b.push('…');
        b
    } else {
        brand
    };
    match card.last4() {
        Some(l) => format!("{brand} •••• {l}"),
        None => brand,
    }
}

fn qr(label: T, lang: Lang, payload: String) -> QuickReply {
    QuickReply::new(label.pick(lang), payload)
}

fn menu(lang: Lang) -> Vec<QuickReply> {
    vec![
        qr(QR_BLOCK, lang, format!("{PREFIX}ask:block")),
        qr(QR_UNBLOCK, lang, format!("{PREFIX}ask:unblock")),
        qr(QR_LOST, lang, format!("{PREFIX}ask:lost")),
    ]
}

/// The list: one line per card, with the account it pays from and its status.
fn render_list(lang: Lang, cards: &[LinkedCard]) -> Reply {
    if cards.is_empty() {
        return Reply::text(NO_CARDS.pick(lang));
    }
    let mut lines = vec![CARDS_TITLE.pick(lang).to_owned()];
    for c in cards {
        lines.push(format!(
            "• {} · {} · {}",
            label(&c.card, lang),
            c.account_name,
            status_label(c.card.status).pick(lang)
        ));
    }
    Reply {
        parts: vec![ReplyPart::Text {
            text: lines.join("\n"),
        }],
        quick_replies: menu(lang),
        sensitivity: Sensitivity::Financial,
    }
}

impl Engine {
    /// Reads the customer's cards at the bank through the gate (`service.cards`, `read.cards`).
    async fn read_cards(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        lang: Lang,
    ) -> Result<Vec<LinkedCard>, Reply> {
        let req = self.req(customer, via, Purpose::ServiceCards);
        match self
            .gate
            .cards(&req, CardAccess::List, self.bank.cards(customer, None))
            .await
        {
            Ok(g) => Ok(g.into_data()),
            Err(e) => Err(self.card_error_reply(customer, e, lang)),
        }
    }

    fn card_error_reply(
        &self,
        customer: CustomerId,
        e: CardAccessError<BankError>,
        lang: Lang,
    ) -> Reply {
        match e {
            CardAccessError::Access(e) => self.access_error_reply(e, lang),
            CardAccessError::Bank(BankError::Other(okienko_bank::ConnectorError::NotSupported)) => {
                Reply::text(CARDS_UNSUPPORTED.pick(lang))
            }
            CardAccessError::Bank(BankError::Other(
                okienko_bank::ConnectorError::Rejected { .. }
                | okienko_bank::ConnectorError::NotFound,
            )) => Reply::text(CARD_REFUSED.pick(lang)),
            CardAccessError::Bank(e) => self.bank_error_reply(customer, e, lang, false),
        }
    }

    /// Answers a card question: the list, or the first step of an action.
    pub(crate) async fn cards_ask(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        cd: &mut CardDialog,
        lang: Lang,
        ask: CardAsk,
    ) -> Vec<Reply> {
        cd.clear();
        let cards = match self.read_cards(customer, via, lang).await {
            Ok(c) => c,
            Err(r) => return vec![r],
        };
        let op = match ask {
            CardAsk::List => return vec![render_list(lang, &cards)],
            CardAsk::Do(op) => op,
        };
        let mut candidates: Vec<Candidate> = cards
            .iter()
            .filter(|c| op.applies_to(c.card.status))
            .map(|c| Candidate {
                account: c.account,
                card_id: c.card.card_id.clone(),
                label: label(&c.card, lang),
            })
            .collect();
        match candidates.len() {
            0 => {
                let none = match op {
                    CardOp::Block => NONE_TO_BLOCK,
                    CardOp::Unblock => NONE_TO_UNBLOCK,
                    CardOp::Report(_) => NONE_TO_REPORT,
                };
                vec![Reply::text(none.pick(lang)).with_quick_replies(vec![qr(
                    QR_CARDS,
                    lang,
                    format!("{PREFIX}ask:list"),
                )])]
            }
            1 => vec![self.read_back(cd, op, candidates.remove(0), lang)],
            _ => {
                let flow = Uuid::new_v4();
                let question = match op {
                    CardOp::Block => WHICH_BLOCK,
                    CardOp::Unblock => WHICH_UNBLOCK,
                    CardOp::Report(_) => WHICH_REPORT,
                };
                let buttons = candidates
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        QuickReply::new(c.label.clone(), format!("{PREFIX}pick:{flow}:{i}"))
                    })
                    .collect();
                cd.choosing = Some((flow, op, candidates));
                vec![Reply::text(question.pick(lang)).with_quick_replies(buttons)]
            }
        }
    }

    /// The read-back for one card, bound to a new action id.
    fn read_back(&self, cd: &mut CardDialog, op: CardOp, card: Candidate, lang: Lang) -> Reply {
        let id = Uuid::new_v4();
        let (text, yes) = match op {
            CardOp::Block => (CONFIRM_BLOCK, QR_YES_BLOCK),
            CardOp::Unblock => (CONFIRM_UNBLOCK, QR_YES_UNBLOCK),
            CardOp::Report(LostReason::Lost) => (CONFIRM_LOST, QR_YES_REPORT),
            CardOp::Report(LostReason::Stolen) => (CONFIRM_STOLEN, QR_YES_REPORT),
        };
        let mut buttons = vec![qr(yes, lang, format!("{PREFIX}yes:{id}"))];
        if op == CardOp::Report(LostReason::Lost) {
            buttons.push(qr(QR_JUST_FREEZE, lang, format!("{PREFIX}freeze:{id}")));
        }
        buttons.push(qr(QR_NO, lang, format!("{PREFIX}no:{id}")));
        let reply =
            Reply::text(text.pick(lang).replace("{card}", &card.label)).with_quick_replies(buttons);
        cd.pending = Some(Pending {
            id,
            op,
            card,
            asked_at: self.clock.now(),
        });
        reply
    }

    /// Card buttons and answers to a waiting read-back. `None`: the event is not about cards
    /// (and a read-back still waiting is dropped, so a later "tak" cannot act on it).
    pub(crate) async fn card_event(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        cd: &mut CardDialog,
        lang: Lang,
        event: &InboundEvent,
    ) -> Option<Vec<Reply>> {
        match event {
            InboundEvent::QuickReply(p) => {
                let rest = p.strip_prefix(PREFIX)?;
                Some(self.card_button(customer, via, cd, lang, rest).await)
            }
            InboundEvent::Text(text) => {
                let pending = cd.pending.as_ref()?;
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                let last4_typed = digits.len() == 4 && pending.card.label.ends_with(&digits);
                let id = pending.id;
                match (pending.op, yes_no(text)) {
                    (CardOp::Report(_), _) if last4_typed => {
                        Some(self.card_confirmed(customer, via, cd, lang, id).await)
                    }
                    (CardOp::Report(_), YesNo::Yes) => {
                        Some(vec![Reply::text(STRONGER.pick(lang)).with_quick_replies(
                            vec![
                                qr(QR_YES_REPORT, lang, format!("{PREFIX}yes:{id}")),
                                qr(QR_NO, lang, format!("{PREFIX}no:{id}")),
                            ],
                        )])
                    }
                    (_, YesNo::Yes) => Some(self.card_confirmed(customer, via, cd, lang, id).await),
                    (_, YesNo::No) => {
                        cd.clear();
                        Some(vec![Reply::text(CANCELLED.pick(lang))])
                    }
                    (_, YesNo::Neither) => {
                        cd.clear();
                        None
                    }
                }
            }
        }
    }

    async fn card_button(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        cd: &mut CardDialog,
        lang: Lang,
        rest: &str,
    ) -> Vec<Reply> {
        let (verb, arg) = rest.split_once(':').unwrap_or((rest, ""));
        let stale = || vec![Reply::text(STALE.pick(lang))];
        match verb {
            "ask" => {
                let ask = match arg {
                    "list" => CardAsk::List,
                    "block" => CardAsk::Do(CardOp::Block),
                    "unblock" => CardAsk::Do(CardOp::Unblock),
                    "lost" => CardAsk::Do(CardOp::Report(LostReason::Lost)),
                    "stolen" => CardAsk::Do(CardOp::Report(LostReason::Stolen)),
                    _ => return stale(),
                };
                self.cards_ask(customer, via, cd, lang, ask).await
            }
            "pick" => {
                let Some((flow, idx)) = arg.split_once(':') else {
                    return stale();
                };
                let Some((id, op, candidates)) = cd.choosing.take() else {
                    return stale();
                };
                let chosen = idx.parse::<usize>().ok().and_then(|i| candidates.get(i));
                match chosen {
                    Some(c) if id.to_string() == flow => {
                        let c = c.clone();
                        vec![self.read_back(cd, op, c, lang)]
                    }
                    _ => {
                        cd.choosing = Some((id, op, candidates));
                        stale()
                    }
                }
            }
            "yes" | "no" | "freeze" => {
                let Ok(id) = Uuid::parse_str(arg) else {
                    return stale();
                };
                if cd.done.contains(&id) {
                    return vec![Reply::text(ALREADY_DONE.pick(lang))];
                }
                let current = cd.pending.as_ref().is_some_and(|p| p.id == id);
                if !current {
                    return stale();
                }
                match verb {
                    "yes" => self.card_confirmed(customer, via, cd, lang, id).await,
                    "freeze" => match cd.pending.take() {
                        Some(p) => vec![self.read_back(cd, CardOp::Block, p.card, lang)],
                        None => stale(),
                    },
                    _ => {
                        cd.clear();
                        vec![Reply::text(CANCELLED.pick(lang))]
                    }
                }
            }
            _ => stale(),
        }
    }

    /// Runs the confirmed action `id` once: the pending read-back is taken first, so a second
    /// answer finds nothing to run; the id is the bank's idempotency key besides.
    async fn card_confirmed(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        cd: &mut CardDialog,
        lang: Lang,
        id: Uuid,
    ) -> Vec<Reply> {
        let Some(p) = cd.pending.take().filter(|p| p.id == id) else {
            return vec![Reply::text(STALE.pick(lang))];
        };
        cd.choosing = None;
        if self.clock.now() - p.asked_at > Duration::minutes(CONFIRM_TTL_MINUTES) {
            return vec![Reply::text(STALE.pick(lang))];
        }
        cd.done.push_back(id);
        while cd.done.len() > DONE_REMEMBERED {
            cd.done.pop_front();
        }
        let req = self.req(customer, via, Purpose::ServiceCards);
        let card = &p.card;
        let result = match p.op {
            CardOp::Block | CardOp::Unblock => self
                .gate
                .cards(
                    &req,
                    p.op.access(),
                    self.bank.set_card_blocked(
                        customer,
                        card.account,
                        &card.card_id,
                        p.op == CardOp::Block,
                        id,
                    ),
                )
                .await
                .map(|g| (g.into_data(), None)),
            CardOp::Report(reason) => self
                .gate
                .cards(
                    &req,
                    p.op.access(),
                    self.bank
                        .report_card_lost(customer, card.account, &card.card_id, reason, id),
                )
                .await
                .map(|g| {
                    let (stopped, new) = g.into_data();
                    (stopped, new)
                }),
        };
        match result {
            Ok((_, replacement)) => {
                let text = match p.op {
                    CardOp::Block => BLOCKED.pick(lang).replace("{card}", &card.label),
                    CardOp::Unblock => UNBLOCKED.pick(lang).replace("{card}", &card.label),
                    CardOp::Report(_) => {
                        let new = replacement
                            .map(|r| {
                                REPLACEMENT
                                    .pick(lang)
                                    .replace("{card}", &label(&r.card, lang))
                            })
                            .unwrap_or_default();
                        REPORTED
                            .pick(lang)
                            .replace("{card}", &card.label)
                            .replace("{new}", &new)
                    }
                };
                vec![Reply::text(text).with_quick_replies(vec![qr(
                    QR_CARDS,
                    lang,
                    format!("{PREFIX}ask:list"),
                )])]
            }
            Err(e) => {
                // Nothing happened at the bank (or we cannot tell): let the customer ask again.
                cd.done.retain(|d| *d != id);
                vec![self.card_error_reply(customer, e, lang)]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_questions_in_both_languages() {
        let list = Some(CardAsk::List);
        let block = Some(CardAsk::Do(CardOp::Block));
        let unblock = Some(CardAsk::Do(CardOp::Unblock));
        let lost = Some(CardAsk::Do(CardOp::Report(LostReason::Lost)));
        let stolen = Some(CardAsk::Do(CardOp::Report(LostReason::Stolen)));
        let o = Some(Intent::OutOfScope);
        assert_eq!(ask("moje karty", o), list);
        assert_eq!(ask("Pokaż moje karty", Some(Intent::Balance)), list);
        assert_eq!(ask("show my cards", o), list);
        assert_eq!(ask("zablokuj kartę", Some(Intent::CardBlock)), block);
        assert_eq!(ask("zablokuj karte", o), block);
        assert_eq!(ask("freeze my card", o), block);
        assert_eq!(ask("odblokuj kartę", Some(Intent::CardBlock)), unblock);
        assert_eq!(ask("unblock my card", Some(Intent::CardBlock)), unblock);
        assert_eq!(ask("zgubiłem kartę", Some(Intent::CardBlock)), lost);
        assert_eq!(ask("I lost my card", o), lost);
        assert_eq!(ask("my card was stolen", o), stolen);
        assert_eq!(ask("ukradli mi kartę", o), stolen);
        assert_eq!(ask("ile mam na koncie", Some(Intent::Balance)), None);
        assert_eq!(ask("card balance please", Some(Intent::Balance)), None);
        assert_eq!(ask("zamroź", Some(Intent::CardBlock)), block);
        // An unsure model is not a card question; the did-you-mean buttons ask instead.
        assert_eq!(ask("karta", None), None);
    }

    #[test]
    fn labels_show_brand_and_last_four_only() {
        let card = okienko_bank::BankCard {
            card_id: "x".into(),
            masked_pan: Some("************0042".into()),
            brand: Some("visa".into()),
            status: CardStatus::Active,
        };
        assert_eq!(label(&card, Lang::Pl), "Visa •••• 0042");
        let bare = okienko_bank::BankCard {
            masked_pan: None,
            brand: None,
            ..card
        };
        assert_eq!(label(&bare, Lang::En), "Card");
        // A long brand is cut; the label stays a valid quick reply with the last four.
        let amex = okienko_bank::BankCard {
            brand: Some("american express".into()),
            masked_pan: Some("***********1005".into()),
            ..bare
        };
        let l = label(&amex, Lang::En);
        assert_eq!(l, "American… •••• 1005");
        assert!(l.chars().count() <= crate::reply::MAX_LABEL_CHARS);
        let master = okienko_bank::BankCard {
            brand: Some("mastercard".into()),
            ..amex
        };
        assert_eq!(label(&master, Lang::Pl).chars().count(), 20);
    }
}
