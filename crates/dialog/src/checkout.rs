//! Paying a merchant from the chat with a saved card: the merchant's page gives the customer a
//! payment code ("zapłać SD-4K7Q2M"); the chat reads it back ("Zapłacić 129,00 zł w Sklep Demo
//! kartą •••• 4242?") with buttons bound to the offer's action id, and a confirmed action is
//! paid once however often the button is pressed.
//!
//! The dialog never sees a card number: a [`Checkout`] service (crates/okienko wires the card
//! vault into it) knows the payment requests, the customer's card tokens and charges them. A
//! customer without a saved card gets a link to the vault's own card page. Nothing here logs
//! amounts, merchants or card digits.

use async_trait::async_trait;
use okienko_core::{CustomerId, Lang, Money, format};
use uuid::Uuid;

use crate::{InboundEvent, QuickReply, Reply};

/// Button payloads: pay or cancel the offer whose action id follows.
pub const PAY: &str = "checkout:pay:";
pub const CANCEL: &str = "checkout:cancel:";

/// What the customer is asked to confirm. `Debug` shows the action only.
#[derive(Clone, PartialEq, Eq)]
pub struct Offer {
    /// Binds the confirmation buttons to this one payment; the charge's idempotency key.
    pub action: Uuid,
    pub amount: Money,
    pub merchant: String,
    /// The last four digits of the saved card; `None` when the customer has no card yet.
    pub card_last4: Option<String>,
}

impl std::fmt::Debug for Offer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offer")
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

/// How a confirmed payment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paid {
    Approved,
    /// The issuer said no (`card_blocked`, `insufficient_funds`, ...).
    Declined {
        reason: String,
    },
    /// The vault or the bank did not answer; pressing again retries the same payment.
    Unavailable,
    /// The offer is unknown, someone else's, cancelled or expired.
    Stale,
}

/// The payments side of merchant checkout.
#[async_trait]
pub trait Checkout: Send + Sync + 'static {
    /// Binds the merchant's payment request `code` to this customer: `None` for an unknown,
    /// used or expired code.
    async fn offer(&self, customer: CustomerId, code: &str) -> Option<Offer>;
    /// Pays the offer `action` with the customer's saved card; idempotent per action.
    async fn pay(&self, customer: CustomerId, action: Uuid) -> Paid;
    /// Cancels an offer that was not paid.
    async fn cancel(&self, customer: CustomerId, action: Uuid);
    /// A link to the card vault's page where the customer saves a card.
    async fn card_page(&self, customer: CustomerId, lang: Lang) -> Option<String>;
}

/// The payment code in "zapłać SD-4K7Q2M" / "zaplac sd-4k7q2m" / "pay SD-4K7Q2M".
pub fn code_in(text: &str) -> Option<String> {
    let t = text.trim();
    if t.len() > 64 {
        return None;
    }
    let mut words = t.split_whitespace();
    let verb = words.next()?.to_lowercase();
    if !["zapłać", "zaplac", "zapłac", "zaplać", "pay"].contains(&verb.as_str()) {
        return None;
    }
    let code = words.next()?.to_ascii_uppercase();
    if words.next().is_some() {
        return None;
    }
    let ok = code.len() == 9
        && code.starts_with("SD-")
        && code[3..].bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(code)
}

fn tr(lang: Lang, pl: &str, en: &str) -> String {
    if lang == Lang::Pl { pl } else { en }.to_owned()
}

/// The read-back of an offer with its buttons, or the way to save a card first.
pub fn offer_reply(offer: &Offer, lang: Lang, card_page: Option<String>) -> Reply {
    let amount = format::money(&offer.amount, lang);
    match &offer.card_last4 {
        Some(last4) => Reply::text(match lang {
            Lang::Pl => format!(
                "Zapłacić {amount} w {} kartą •••• {last4}?",
                offer.merchant
            ),
            Lang::En => format!(
                "Pay {amount} at {} with card •••• {last4}?",
                offer.merchant
            ),
        })
        .with_quick_replies(vec![
            QuickReply::new(
                tr(lang, "Tak, zapłać", "Yes, pay"),
                format!("{PAY}{}", offer.action),
            ),
            QuickReply::new(
                tr(lang, "Anuluj", "Cancel"),
                format!("{CANCEL}{}", offer.action),
            ),
        ]),
        None => Reply::text(match (lang, card_page) {
            (Lang::Pl, Some(url)) => format!(
                "Aby zapłacić {amount} w {}, zapisz najpierw kartę na stronie banku: {url} — potem napisz ponownie kod płatności.",
                offer.merchant
            ),
            (Lang::En, Some(url)) => format!(
                "To pay {amount} at {}, first save a card on the bank's page: {url} — then send the payment code again.",
                offer.merchant
            ),
            (Lang::Pl, None) => "Nie masz zapisanej karty, a sejf kart jest teraz niedostępny. Spróbuj za chwilę.".to_owned(),
            (Lang::En, None) => "You have no saved card and the card vault is unavailable just now. Try again in a moment.".to_owned(),
        }),
    }
}

fn paid_reply(p: &Paid, lang: Lang, action: Uuid) -> Reply {
    match p {
        Paid::Approved => Reply::text(tr(
            lang,
            "Zapłacone. Sklep dostał potwierdzenie płatności.",
            "Paid. The shop has the payment confirmation.",
        )),
        Paid::Declined { reason } => Reply::text(match (lang, reason.as_str()) {
            (Lang::Pl, "card_blocked") => {
                "Bank odrzucił płatność: karta jest zablokowana.".to_owned()
            }
            (Lang::En, "card_blocked") => "The bank declined the payment: the card is blocked.".to_owned(),
            (Lang::Pl, "insufficient_funds") => {
                "Bank odrzucił płatność: brak wystarczających środków.".to_owned()
            }
            (Lang::En, "insufficient_funds") => {
                "The bank declined the payment: insufficient funds.".to_owned()
            }
            (Lang::Pl, _) => "Bank odrzucił płatność tą kartą.".to_owned(),
            (Lang::En, _) => "The bank declined the payment with this card.".to_owned(),
        }),
        Paid::Unavailable => Reply::text(tr(
            lang,
            "Bank nie odpowiedział. Nic nie zostało pobrane dwa razy — naciśnij ponownie, aby dokończyć tę samą płatność.",
            "The bank did not answer. Nothing is charged twice — press again to finish the same payment.",
        ))
        .with_quick_replies(vec![QuickReply::new(
            tr(lang, "Spróbuj ponownie", "Try again"),
            format!("{PAY}{action}"),
        )]),
        Paid::Stale => Reply::text(tr(
            lang,
            "Ta płatność jest już nieaktualna.",
            "This payment is no longer open.",
        )),
    }
}

/// Handles checkout events; `None` when the event is not about checkout.
pub async fn handle(
    service: Option<&dyn Checkout>,
    customer: CustomerId,
    lang: Lang,
    event: &InboundEvent,
) -> Option<Vec<Reply>> {
    match event {
        InboundEvent::Text(t) => {
            let code = code_in(t)?;
            let lang = if t.trim_start().to_lowercase().starts_with("pay") {
                Lang::En
            } else {
                lang
            };
            let Some(service) = service else {
                return Some(vec![Reply::text(tr(
                    lang,
                    "Płatności kartą u sprzedawców nie są tu włączone.",
                    "Card payments to shops are not enabled here.",
                ))]);
            };
            let reply = match service.offer(customer, &code).await {
                Some(offer) => {
                    let page = if offer.card_last4.is_none() {
                        service.card_page(customer, lang).await
                    } else {
                        None
                    };
                    offer_reply(&offer, lang, page)
                }
                None => Reply::text(tr(
                    lang,
                    "Nie znam tego kodu płatności albo już wygasł. Sprawdź go na stronie sklepu.",
                    "I do not know this payment code or it has expired. Check it on the shop's page.",
                )),
            };
            Some(vec![reply])
        }
        InboundEvent::QuickReply(p) => {
            let service = service?;
            if let Some(a) = p.strip_prefix(PAY) {
                let action = Uuid::parse_str(a).ok()?;
                let paid = service.pay(customer, action).await;
                return Some(vec![paid_reply(&paid, lang, action)]);
            }
            if let Some(a) = p.strip_prefix(CANCEL) {
                let action = Uuid::parse_str(a).ok()?;
                service.cancel(customer, action).await;
                return Some(vec![Reply::text(tr(
                    lang,
                    "Anulowano. Nic nie zostało pobrane.",
                    "Cancelled. Nothing was charged.",
                ))]);
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_codes_are_read_from_short_commands_only() {
        assert_eq!(code_in("zapłać SD-4K7Q2M").as_deref(), Some("SD-4K7Q2M"));
        assert_eq!(code_in("  zaplac sd-4k7q2m ").as_deref(), Some("SD-4K7Q2M"));
        assert_eq!(code_in("Pay SD-ABCDEF").as_deref(), Some("SD-ABCDEF"));
        assert_eq!(code_in("zapłać SD-4K7Q2M teraz"), None);
        assert_eq!(code_in("zapłać 50 zł"), None);
        assert_eq!(code_in("przelej 50 zł Annie"), None);
        assert_eq!(code_in("zapłać SD-4K7Q2'"), None);
        assert_eq!(code_in(""), None);
    }

    #[test]
    fn the_read_back_names_amount_shop_and_card_in_both_languages() {
        let offer = Offer {
            action: Uuid::nil(),
            amount: Money::parse("129.00", "PLN").unwrap(),
            merchant: "Sklep Demo".into(),
            card_last4: Some("4242".into()),
        };
        let pl = offer_reply(&offer, Lang::Pl, None);
        assert_eq!(
            pl.plain_text(),
            "Zapłacić 129,00 zł w Sklep Demo kartą •••• 4242?"
        );
        assert_eq!(pl.quick_replies[0].payload, format!("{PAY}{}", Uuid::nil()));
        let en = offer_reply(&offer, Lang::En, None);
        assert!(
            en.plain_text().starts_with("Pay PLN 129.00 at Sklep Demo"),
            "{}",
            en.plain_text()
        );
        assert!(!format!("{offer:?}").contains("4242"));
    }
}
