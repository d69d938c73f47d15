//! A small `Conversation` for the web chat tests: it records every event it receives and
//! answers with fixed, recognisable replies.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use okienko_core::{CustomerId, Lang, Money, format};
use okienko_dialog::{
    BalanceLine, ChannelInfo, Conversation, InboundEvent, QuickReply, Reply, ReplyPart,
    Sensitivity, TransactionsTable, TxRow,
};

#[derive(Default)]
pub struct TestConversation {
    seen: Mutex<Vec<(CustomerId, Option<Lang>, InboundEvent)>>,
}

impl TestConversation {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn events(&self) -> Vec<(CustomerId, Option<Lang>, InboundEvent)> {
        self.seen.lock().unwrap().clone()
    }

    /// What it received, as "text:..." / "qr:..." strings, in order.
    pub fn received(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .map(|(_, _, e)| match e {
                InboundEvent::Text(t) => format!("text:{t}"),
                InboundEvent::QuickReply(p) => format!("qr:{p}"),
            })
            .collect()
    }
}

/// The amount the balance card shows, formatted by core as the engine would.
pub fn balance_text() -> String {
    let m = Money::parse("1234.56", "PLN").expect("valid money");
    format::money(&m, Lang::Pl)
}

pub fn balance_reply() -> Reply {
    Reply {
        parts: vec![ReplyPart::BalanceCard {
            title: "Twoje saldo".into(),
            accounts: vec![BalanceLine {
                name: "Konto osobiste".into(),
                iban_masked: "PL61 •••• 2874".into(),
                available: balance_text(),
                booked: Some("1 300,00 zł".into()),
                amount: "1234.56".into(),
                currency: "PLN".into(),
                as_of: "stan na 30.11.2026 14:05".into(),
            }],
        }],
        quick_replies: Vec::new(),
        sensitivity: Sensitivity::Financial,
    }
}

pub fn table_reply() -> Reply {
    Reply {
        parts: vec![ReplyPart::TransactionsTable(TransactionsTable {
            title: "Ostatnie transakcje".into(),
            columns: vec!["Data".into(), "Opis".into(), "Kwota".into()],
            rows: vec![
                TxRow {
                    date: "29.11.2026".into(),
                    description: "Biedronka".into(),
                    amount: "-49,99 zł".into(),
                    raw_amount: "-49.99".into(),
                    currency: "PLN".into(),
                    status: "pending".into(),
                },
                TxRow {
                    date: "28.11.2026".into(),
                    description: "Wynagrodzenie".into(),
                    amount: "5 000,00 zł".into(),
                    raw_amount: "5000.00".into(),
                    currency: "PLN".into(),
                    status: "booked".into(),
                },
            ],
            page: 0,
            page_size: 2,
            total: 5,
            next_page: Some("tx:page:1".into()),
            totals: vec!["4 950,01 zł".into()],
        })],
        quick_replies: Vec::new(),
        sensitivity: Sensitivity::Financial,
    }
}

pub fn link_reply() -> Reply {
    Reply {
        parts: vec![
            ReplyPart::Link {
                label: "Połącz bank".into(),
                url: "https://bank.example/consent?id=1".into(),
            },
            ReplyPart::Link {
                label: "Zły link".into(),
                url: "javascript:alert(1)".into(),
            },
        ],
        quick_replies: Vec::new(),
        sensitivity: Sensitivity::Public,
    }
}

pub fn menu_reply() -> Reply {
    Reply::text("Co mogę zrobić?").with_quick_replies(vec![
        QuickReply::new("Pokaż saldo", "balance"),
        QuickReply::new("Historia", "table"),
    ])
}

#[async_trait]
impl Conversation for TestConversation {
    async fn handle(
        &self,
        customer: CustomerId,
        channel: ChannelInfo,
        lang_hint: Option<Lang>,
        event: InboundEvent,
    ) -> Vec<Reply> {
        // The web chat is bank-owned and one customer per session.
        if channel != ChannelInfo::WEB_CHAT {
            return vec![Reply::text("wrong channel context")];
        }
        self.seen
            .lock()
            .unwrap()
            .push((customer, lang_hint, event.clone()));
        let word = match &event {
            InboundEvent::Text(t) => t.clone(),
            InboundEvent::QuickReply(p) => p.clone(),
        };
        if let Some(rest) = word.strip_prefix("sleep:") {
            let (ms, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(100))).await;
            return vec![Reply::text(format!("echo: {tail}"))];
        }
        match word.as_str() {
            "balance" => vec![balance_reply()],
            "table" => vec![table_reply()],
            "link" => vec![link_reply()],
            "menu" => vec![menu_reply()],
            "two" => vec![Reply::text("first"), Reply::text("second")],
            "panic" => panic!("test conversation asked to panic"),
            _ => match event {
                InboundEvent::Text(t) => vec![Reply::text(format!("echo: {t}"))],
                InboundEvent::QuickReply(p) => vec![Reply::text(format!("quick: {p}"))],
            },
        }
    }
}
