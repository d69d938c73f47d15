//! What the conversation says back, before any channel renders it.
//!
//! Replies are already in the customer's language and their amounts already formatted, so every
//! channel shows the same words; raw amounts travel beside the formatted ones only for channels
//! (and tests) that compare numbers. Each reply carries its sensitivity, which a channel uses to
//! decide whether it may show it at all.

use serde::{Deserialize, Serialize};

/// Who may see a reply's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Nothing about the customer's money: greetings, help, links.
    Public,
    /// Balances, transactions, account numbers: only on channels the platform cannot read.
    Financial,
}

/// `Debug` shows the shape (sensitivity, part kinds, button count) and never the content, so a
/// reply formatted into a log line by mistake carries no amount, account or text.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub parts: Vec<ReplyPart>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
    pub sensitivity: Sensitivity,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = self
            .parts
            .iter()
            .map(|p| match p {
                ReplyPart::Text { .. } => "text",
                ReplyPart::Link { .. } => "link",
                ReplyPart::BalanceCard { .. } => "balance_card",
                ReplyPart::AccountList { .. } => "account_list",
                ReplyPart::TransactionsTable(_) => "transactions_table",
                ReplyPart::Image { .. } => "image",
            })
            .collect();
        f.debug_struct("Reply")
            .field("sensitivity", &self.sensitivity)
            .field("parts", &kinds)
            .field("quick_replies", &self.quick_replies.len())
            .finish()
    }
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Reply {
            parts: vec![ReplyPart::Text { text: text.into() }],
            quick_replies: Vec::new(),
            sensitivity: Sensitivity::Public,
        }
    }

    pub fn with_quick_replies(mut self, qr: Vec<QuickReply>) -> Self {
        self.quick_replies = qr;
        self
    }

    /// All the plain text of a reply, for channels without rich content and for tests.
    pub fn plain_text(&self) -> String {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                ReplyPart::Text { text } => out.push(text.clone()),
                ReplyPart::Link { label, url } => out.push(format!("{label}: {url}")),
                ReplyPart::BalanceCard { title, accounts } => {
                    out.push(title.clone());
                    for a in accounts {
                        out.push(format!("{} {}: {}", a.name, a.iban_masked, a.available));
                    }
                }
                ReplyPart::AccountList { title, accounts } => {
                    out.push(title.clone());
                    for a in accounts {
                        out.push(format!("{} {}", a.name, a.iban_masked));
                    }
                }
                ReplyPart::TransactionsTable(t) => {
                    out.push(t.title.clone());
                    for r in &t.rows {
                        out.push(format!("{} {} {}", r.date, r.description, r.amount));
                    }
                }
                ReplyPart::Image { alt, .. } => out.push(alt.clone()),
            }
        }
        out.join("\n")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplyPart {
    Text {
        text: String,
    },
    /// A link the customer should open (the bank's consent page).
    Link {
        label: String,
        url: String,
    },
    BalanceCard {
        title: String,
        accounts: Vec<BalanceLine>,
    },
    AccountList {
        title: String,
        accounts: Vec<AccountLine>,
    },
    TransactionsTable(TransactionsTable),
    /// A chart drawn by the gateway. `alt` says the same in words, for screen readers and for
    /// channels that show no images.
    Image {
        alt: String,
        mime: String,
        data_base64: String,
        width: u32,
        height: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLine {
    pub name: String,
    pub iban_masked: String,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceLine {
    pub name: String,
    pub iban_masked: String,
    /// Formatted for the customer: "1 234,56 zł".
    pub available: String,
    /// Formatted booked balance, when the bank gave one.
    pub booked: Option<String>,
    /// The available amount as a decimal string ("1234.56"), and its currency.
    pub amount: String,
    pub currency: String,
    /// "stan na 30.11.2026 14:05" / "as of 30 Nov 2026 14:05".
    pub as_of: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionsTable {
    pub title: String,
    /// Column headers in the customer's language: date, description, amount.
    pub columns: Vec<String>,
    pub rows: Vec<TxRow>,
    /// Zero-based page shown, and the total number of matching transactions.
    pub page: u32,
    pub page_size: u32,
    pub total: u64,
    /// Quick-reply payload that fetches the next page, when there is one.
    pub next_page: Option<String>,
    /// Sum of the matching transactions, formatted, per currency.
    pub totals: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRow {
    pub date: String,
    pub description: String,
    pub amount: String,
    /// Decimal string ("-49.99") and currency, for comparison.
    pub raw_amount: String,
    pub currency: String,
    /// "booked" or "pending".
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickReply {
    pub label: String,
    /// Sent back verbatim when pressed.
    pub payload: String,
}

impl QuickReply {
    pub fn new(label: impl Into<String>, payload: impl Into<String>) -> Self {
        QuickReply {
            label: label.into(),
            payload: payload.into(),
        }
    }
}

/// Messenger shows at most 20 characters of a quick reply's title. Every fixed label the dialog
/// makes stays within it (a test checks them in both languages); labels made of data (a
/// merchant's or a payee's name) go through [`short_label`].
pub const MAX_LABEL_CHARS: usize = 20;

/// `text` as a quick reply label: itself when it fits [`MAX_LABEL_CHARS`] characters, else cut
/// to fit with "…" at the end.
pub fn short_label(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= MAX_LABEL_CHARS {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_LABEL_CHARS - 1).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}
