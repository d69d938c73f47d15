//! Masked replies: financial answers never go where they may not be shown.
//!
//! A reply marked [`Sensitivity::Financial`] is shown in the conversation itself only when the
//! channel's platform cannot read it and the room holds the account holder alone
//! ([`ChannelInfo::may_show_financial`]). Anywhere else the data is read for the bank's own page
//! instead ([`shown_in`]), kept encrypted behind a short-lived single-use link by the privacy
//! gate, and the customer gets "Twoje saldo jest gotowe — zobacz je na stronie banku" with that
//! link. Opening the link is decided and audited by the gate again ([`open`]). This module never
//! lets a financial reply through unmasked: if the link cannot be made, the customer gets an
//! apology, not the numbers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use okienko_core::{CustomerId, Lang};
use okienko_privacy::{
    ChannelContext, ChannelInfo, DEFAULT_VIEW_TTL, PrivacyGate, Purpose, Room, ViewError,
};

use crate::Outbox;
use crate::reply::{QuickReply, Reply, ReplyPart, Sensitivity};
use crate::texts::T;

/// Where view links point and how long they work.
#[derive(Debug, Clone)]
pub struct ViewConfig {
    /// The gateway's public URL (no trailing slash); links are `{base_url}/view/{token}`.
    pub base_url: String,
    /// How long a link works (default 5 minutes). It works once.
    pub ttl: Duration,
}

impl Default for ViewConfig {
    fn default() -> Self {
        ViewConfig {
            base_url: "http://127.0.0.1:8080".into(),
            ttl: DEFAULT_VIEW_TTL,
        }
    }
}

const BALANCE_READY: T = T(
    "Twoje saldo jest gotowe — zobacz je na stronie banku.",
    "Your balance is ready — view it on the bank's page.",
);
const TRANSACTIONS_READY: T = T(
    "Twoje transakcje są gotowe — zobacz je na stronie banku.",
    "Your transactions are ready — view them on the bank's page.",
);
const ACCOUNTS_READY: T = T(
    "Lista Twoich rachunków jest gotowa — zobacz ją na stronie banku.",
    "Your account list is ready — view it on the bank's page.",
);
const CARDS_READY: T = T(
    "Lista Twoich kart jest gotowa — zobacz ją na stronie banku.",
    "Your card list is ready — view it on the bank's page.",
);
const WHY_MASKED: T = T(
    "Nie pokazuję tu kwot, bo tę rozmowę może czytać ktoś poza Tobą. Link działa raz, przez {minutes} min.",
    "I don't show amounts here because someone besides you can read this conversation. The link works once, for {minutes} min.",
);
const VIEW_LABEL: T = T("Zobacz na stronie banku", "View on the bank's page");
const VIEW_FAILED: T = T(
    "Nie udało mi się przygotować bezpiecznego linku. Spróbuj za chwilę albo zapytaj w czacie na stronie banku.",
    "I couldn't prepare a safe link. Please try again in a moment, or ask in the chat on the bank's website.",
);

/// The conversation a gate request should name: where the data will actually be shown. In a
/// conversation that may show it, that is the conversation; elsewhere the bank's own page.
pub(crate) fn shown_in(via: ChannelInfo) -> ChannelInfo {
    if via.may_show_financial() {
        via
    } else {
        ChannelInfo::new(via.name, ChannelContext::BankPage, Room::HolderAlone)
    }
}

/// Is it the card list (`service.cards`)? Its buttons are the card menu.
fn is_card_list(reply: &Reply) -> bool {
    reply
        .quick_replies
        .iter()
        .any(|q| q.payload.starts_with(crate::cards::PREFIX))
}

/// The purpose a financial reply's content was read for, from what it shows: the view link
/// is opened (and audited) under the same purpose.
fn purpose_of(reply: &Reply) -> Purpose {
    let transactions = reply
        .parts
        .iter()
        .any(|p| matches!(p, ReplyPart::TransactionsTable(_)));
    if transactions {
        Purpose::ServiceTransactions
    } else if is_card_list(reply) {
        Purpose::ServiceCards
    } else {
        Purpose::ServiceBalance
    }
}

fn ready_text(reply: &Reply) -> T {
    if is_card_list(reply) {
        return CARDS_READY;
    }
    let mut text = ACCOUNTS_READY;
    for p in &reply.parts {
        match p {
            ReplyPart::TransactionsTable(_) => return TRANSACTIONS_READY,
            ReplyPart::BalanceCard { .. } => text = BALANCE_READY,
            _ => {}
        }
    }
    text
}

/// Replaces every financial reply that may not be shown in `via` by a masked one with a view
/// link; everything else passes unchanged.
pub(crate) async fn apply(
    gate: &PrivacyGate,
    config: &ViewConfig,
    customer: CustomerId,
    via: ChannelInfo,
    lang: Lang,
    replies: Vec<Reply>,
) -> Vec<Reply> {
    if via.may_show_financial() {
        return replies;
    }
    let mut out = Vec::with_capacity(replies.len());
    for reply in replies {
        if reply.sensitivity != Sensitivity::Financial {
            out.push(reply);
            continue;
        }
        // Boxed: only masked channels pay for the view link's future.
        out.push(Box::pin(mask(gate, config, customer, lang, reply)).await);
    }
    out
}

/// [`apply`] for one pushed reply, in the channel that is about to deliver it.
pub(crate) async fn apply_one(
    gate: &PrivacyGate,
    config: &ViewConfig,
    customer: CustomerId,
    via: ChannelInfo,
    lang: Lang,
    reply: Reply,
) -> Reply {
    if via.may_show_financial() || reply.sensitivity != Sensitivity::Financial {
        return reply;
    }
    Box::pin(mask(gate, config, customer, lang, reply)).await
}

async fn mask(
    gate: &PrivacyGate,
    config: &ViewConfig,
    customer: CustomerId,
    lang: Lang,
    reply: Reply,
) -> Reply {
    let ready = ready_text(&reply);
    let purpose = purpose_of(&reply);
    // The page shows the reply without its buttons: they belong to the chat.
    let content = Reply {
        quick_replies: Vec::new(),
        ..reply.clone()
    };
    let link = match serde_json::to_string(&content) {
        Ok(json) => {
            gate.create_view_link(customer, purpose, lang, json, config.ttl)
                .await
        }
        Err(_) => return Reply::text(VIEW_FAILED.pick(lang)),
    };
    let token = match link {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "a view link could not be kept");
            return Reply::text(VIEW_FAILED.pick(lang));
        }
    };
    let minutes = config.ttl.as_secs().div_ceil(60).max(1);
    Reply {
        parts: vec![
            ReplyPart::Text {
                text: format!(
                    "{}\n{}",
                    ready.pick(lang),
                    WHY_MASKED
                        .pick(lang)
                        .replace("{minutes}", &minutes.to_string())
                ),
            },
            ReplyPart::Link {
                label: VIEW_LABEL.pick(lang).to_owned(),
                url: format!(
                    "{}/view/{}",
                    config.base_url.trim_end_matches('/'),
                    token.expose()
                ),
            },
        ],
        // Follow-ups ("more", menu) still work: their answers are masked the same way.
        quick_replies: reply.quick_replies,
        sensitivity: Sensitivity::Public,
    }
}

/// What the bank's page behind a view link shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewPage {
    /// The reply, once.
    Shown { lang: Lang, reply: Reply },
    /// Nothing: the link was used, ran out, or never existed. `lang` when it is known.
    Gone {
        lang: Option<Lang>,
        reason: GoneReason,
    },
    /// The store failed; the link may still work later.
    Unavailable,
}

/// Why a view link shows nothing (the page says it plainly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoneReason {
    Used,
    Expired,
    /// Unknown, or no longer allowed (the bank was disconnected since).
    Invalid,
}

impl GoneReason {
    /// The sentence the page shows.
    pub fn explain(&self, lang: Lang) -> &'static str {
        let t = match self {
            GoneReason::Used => T(
                "Ten link został już użyty. Każdy link działa tylko raz — zapytaj w czacie jeszcze raz.",
                "This link has already been used. Each link works only once — ask in the chat again.",
            ),
            GoneReason::Expired => T(
                "Ten link wygasł. Linki działają kilka minut — zapytaj w czacie jeszcze raz.",
                "This link has expired. Links work for a few minutes — ask in the chat again.",
            ),
            GoneReason::Invalid => T(
                "Ten link jest nieprawidłowy albo nieaktualny. Zapytaj w czacie jeszcze raz.",
                "This link is invalid or no longer valid. Ask in the chat again.",
            ),
        };
        t.pick(lang)
    }
}

const OPENED_AGAIN: T = T(
    "Ktoś ponownie otworzył link do Twoich danych. Ten link został już otwarty o {time} — jeśli to nie Ty, ktoś mógł go zobaczyć: odłącz bank albo porozmawiaj z konsultantem. Za drugim razem link nie pokazał niczego.",
    "Someone opened the link to your data again. It had already been opened at {time} — if that wasn't you, someone may have seen it: disconnect your bank or talk to an agent. The second time the link showed nothing.",
);
const QR_DISCONNECT: T = T("Odłącz bank", "Disconnect bank");
const QR_AGENT: T = T("Konsultant", "Talk to an agent");

/// The chat message telling the customer their link was opened again (see [`open`]).
pub(crate) fn opened_again(lang: Lang, opened_at: DateTime<Utc>, tz: Tz) -> Reply {
    let time = opened_at.with_timezone(&tz).format("%H:%M").to_string();
    Reply::text(OPENED_AGAIN.pick(lang).replace("{time}", &time)).with_quick_replies(vec![
        QuickReply::new(QR_DISCONNECT.pick(lang), "intent:revoke_consent"),
        QuickReply::new(QR_AGENT.pick(lang), crate::handover::ASK_FOR_HUMAN_PAYLOAD),
    ])
}

/// Opens a view link through the gate (which audits it) and turns it into the page's content.
///
/// A view link is a bearer link: whoever holds it sees the data once. So that a leaked link
/// does not go unnoticed, the first time an already-opened link is opened again the customer is
/// told in the chat (through `outbox`, to every channel that reaches them) when it was first
/// opened; the gate grants that notice once per link.
pub(crate) async fn open(gate: &PrivacyGate, outbox: &dyn Outbox, tz: Tz, token: &str) -> ViewPage {
    match gate.open_view_link(token).await {
        Ok(view) => {
            let view = view.into_data();
            match serde_json::from_str::<Reply>(&view.content) {
                Ok(reply) => ViewPage::Shown {
                    lang: view.lang,
                    reply,
                },
                Err(_) => {
                    tracing::error!("a view link's content does not parse");
                    ViewPage::Unavailable
                }
            }
        }
        Err(ViewError::Used { lang, notice }) => {
            if let Some(n) = notice {
                tracing::info!(customer = %n.customer, "a spent view link was opened again; the customer is told");
                outbox.push(n.customer, opened_again(lang, n.opened_at, tz));
            }
            ViewPage::Gone {
                lang: Some(lang),
                reason: GoneReason::Used,
            }
        }
        Err(ViewError::Expired { lang }) => ViewPage::Gone {
            lang: Some(lang),
            reason: GoneReason::Expired,
        },
        Err(ViewError::Denied { lang }) => ViewPage::Gone {
            lang: Some(lang),
            reason: GoneReason::Invalid,
        },
        Err(ViewError::Unknown) => ViewPage::Gone {
            lang: None,
            reason: GoneReason::Invalid,
        },
        Err(ViewError::Store(e)) => {
            tracing::error!(error = %e, "a view link could not be opened");
            ViewPage::Unavailable
        }
    }
}

/// The page's own words (title, button), so the server shows the same language as the chat.
pub mod page_texts {
    use super::T;

    pub const TITLE: T = T("Okienko — Twoje dane", "Okienko — your data");
    pub const INTRO: T = T(
        "Ta strona pokaże Twoje dane tylko raz. Otwórz ją, gdy nikt nie patrzy na ekran.",
        "This page shows your data only once. Open it when nobody else is looking at your screen.",
    );
    pub const SHOW: T = T("Pokaż moje dane", "Show my data");
    pub const SHOWN_ONCE: T = T(
        "Ta strona nie pokaże tych danych drugi raz. Zamknij ją, gdy skończysz.",
        "This page will not show this data again. Close it when you are done.",
    );
    pub const UNAVAILABLE: T = T(
        "Nie możemy teraz pokazać tej strony. Spróbuj za chwilę.",
        "We can't show this page right now. Please try again in a moment.",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_privacy::ChannelContext;

    #[test]
    fn only_private_one_to_one_conversations_show_financial_data() {
        let e2ee = ChannelInfo::new(
            "matrix",
            ChannelContext::EndToEndEncrypted,
            Room::HolderAlone,
        );
        let group = ChannelInfo::new("matrix", ChannelContext::EndToEndEncrypted, Room::Shared);
        let messenger = ChannelInfo::new(
            "messenger",
            ChannelContext::PlatformReadable,
            Room::HolderAlone,
        );
        assert_eq!(shown_in(ChannelInfo::WEB_CHAT), ChannelInfo::WEB_CHAT);
        assert_eq!(shown_in(e2ee), e2ee);
        for masked in [group, messenger] {
            let to = shown_in(masked);
            assert_eq!(to.context, ChannelContext::BankPage);
            assert_eq!(to.room, Room::HolderAlone);
        }
    }

    #[test]
    fn the_replay_notice_names_the_local_time_in_both_languages() {
        let at: DateTime<Utc> = "2026-11-30T09:42:10Z".parse().unwrap();
        let pl = opened_again(Lang::Pl, at, chrono_tz::Europe::Warsaw);
        let text = pl.plain_text();
        assert!(
            text.contains("Ten link został już otwarty o 10:42 — jeśli to nie Ty"),
            "{text}"
        );
        assert_eq!(pl.sensitivity, Sensitivity::Public);
        let payloads: Vec<_> = pl
            .quick_replies
            .iter()
            .map(|q| q.payload.as_str())
            .collect();
        assert_eq!(payloads, ["intent:revoke_consent", "intent:agent"]);
        let en = opened_again(Lang::En, at, chrono_tz::America::New_York).plain_text();
        assert!(en.contains("already been opened at 04:42"), "{en}");
    }

    #[test]
    fn masked_texts_say_what_is_ready() {
        let table = Reply {
            parts: vec![ReplyPart::TransactionsTable(crate::TransactionsTable {
                title: String::new(),
                columns: Vec::new(),
                rows: Vec::new(),
                page: 0,
                page_size: 10,
                total: 0,
                next_page: None,
                totals: Vec::new(),
            })],
            quick_replies: Vec::new(),
            sensitivity: Sensitivity::Financial,
        };
        assert_eq!(purpose_of(&table), Purpose::ServiceTransactions);
        assert_eq!(ready_text(&table).pick(Lang::En), TRANSACTIONS_READY.1);
        let card = Reply {
            parts: vec![ReplyPart::BalanceCard {
                title: String::new(),
                accounts: Vec::new(),
            }],
            quick_replies: Vec::new(),
            sensitivity: Sensitivity::Financial,
        };
        assert_eq!(purpose_of(&card), Purpose::ServiceBalance);
        // The masked card list is opened under service.cards, not service.balance.
        let cards = Reply::text("Twoje karty:\n• Visa •••• 0042")
            .with_quick_replies(vec![crate::QuickReply::new("Zablokuj", "card:ask:block")]);
        let cards = Reply {
            sensitivity: Sensitivity::Financial,
            ..cards
        };
        assert_eq!(purpose_of(&cards), Purpose::ServiceCards);
        assert_eq!(ready_text(&cards).pick(Lang::En), CARDS_READY.1);
        assert_eq!(
            ready_text(&card).pick(Lang::Pl),
            "Twoje saldo jest gotowe — zobacz je na stronie banku."
        );
    }
}
