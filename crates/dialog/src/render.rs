//! Turns data that passed the privacy gate into replies in the customer's language.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use okienko_core::{Account, BalanceKind, Currency, Lang, Money, Transaction, format};
use okienko_privacy::{AccessLogEntry, AccountBalances};

use crate::reply::{
    AccountLine, BalanceLine, QuickReply, Reply, ReplyPart, Sensitivity, TransactionsTable, TxRow,
};
use crate::texts;

fn masked(a: &Account) -> String {
    a.iban.as_ref().map(|i| i.masked()).unwrap_or_default()
}

pub fn link(lang: Lang, intro: &str, label: &str, url: &str) -> Reply {
    let _ = lang;
    Reply {
        parts: vec![
            ReplyPart::Text { text: intro.into() },
            ReplyPart::Link {
                label: label.into(),
                url: url.into(),
            },
        ],
        quick_replies: Vec::new(),
        sensitivity: Sensitivity::Public,
    }
}

pub fn linked(lang: Lang, accounts: &[Account]) -> Reply {
    Reply {
        parts: vec![ReplyPart::AccountList {
            title: texts::LINKED.pick(lang).into(),
            accounts: accounts
                .iter()
                .map(|a| AccountLine {
                    name: a.name.clone(),
                    iban_masked: masked(a),
                    currency: a.currency.code().into(),
                })
                .collect(),
        }],
        quick_replies: vec![
            QuickReply::new(texts::QR_BALANCE.pick(lang), "intent:balance"),
            QuickReply::new(texts::QR_TRANSACTIONS.pick(lang), "intent:transactions"),
        ],
        sensitivity: Sensitivity::Financial,
    }
}

pub fn balances(lang: Lang, data: &[AccountBalances], tz: Tz, now: DateTime<Utc>) -> Reply {
    if data.is_empty() {
        return Reply::text(texts::NO_ACCOUNTS.pick(lang));
    }
    let accounts = data
        .iter()
        .map(|ab| {
            let find = |k: BalanceKind| ab.balances.iter().find(|b| b.kind == k);
            let available =
                find(BalanceKind::InterimAvailable).or(find(BalanceKind::ClosingBooked));
            let booked = find(BalanceKind::ClosingBooked);
            let amount = available
                .map(|b| b.amount)
                .unwrap_or_else(|| Money::zero(ab.account.currency));
            let fetched = available.map(|b| b.fetched_at).unwrap_or(now);
            BalanceLine {
                name: ab.account.name.clone(),
                iban_masked: masked(&ab.account),
                available: format::money(&amount, lang),
                booked: booked.map(|b| format::money(&b.amount, lang)),
                amount: amount.amount_string(),
                currency: amount.currency().code().into(),
                as_of: format!(
                    "{} {}",
                    texts::AS_OF.pick(lang),
                    format::datetime(fetched, tz, lang)
                ),
            }
        })
        .collect();
    Reply {
        parts: vec![ReplyPart::BalanceCard {
            title: texts::BALANCE_TITLE.pick(lang).into(),
            accounts,
        }],
        quick_replies: vec![QuickReply::new(
            texts::QR_TRANSACTIONS.pick(lang),
            "intent:transactions",
        )],
        sensitivity: Sensitivity::Financial,
    }
}

/// A page of `rows` starting at `offset`; `total` counts every match (it may exceed the rows read).
pub fn transactions(
    lang: Lang,
    rows: &[Transaction],
    total: u64,
    offset: usize,
    page_size: usize,
) -> Reply {
    if rows.is_empty() {
        return Reply::text(texts::TX_NONE.pick(lang));
    }
    let page: Vec<TxRow> = rows
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|t| TxRow {
            date: format::date(t.date, lang),
            description: t
                .merchant
                .clone()
                .unwrap_or_else(|| t.raw_description.clone()),
            amount: format::money(&t.amount, lang),
            raw_amount: t.amount.amount_string(),
            currency: t.amount.currency().code().into(),
            status: t.status.as_str().into(),
        })
        .collect();
    let next = offset + page_size;
    let next_page = (next < rows.len()).then(|| format!("tx:page:{next}"));
    // Totals only when every match was read, so the sum is never of a partial set.
    let totals = if total as usize == rows.len() {
        let mut sums: BTreeMap<Currency, Money> = BTreeMap::new();
        for t in rows {
            let cur = t.amount.currency();
            let acc = sums.entry(cur).or_insert_with(|| Money::zero(cur));
            if let Ok(s) = acc.checked_add(&t.amount) {
                *acc = s;
            }
        }
        sums.values().map(|m| format::money(m, lang)).collect()
    } else {
        Vec::new()
    };
    let mut quick_replies = Vec::new();
    if let Some(p) = &next_page {
        quick_replies.push(QuickReply::new(texts::MORE.pick(lang), p.clone()));
    }
    Reply {
        parts: vec![ReplyPart::TransactionsTable(TransactionsTable {
            title: format!("{} ({})", texts::TX_TITLE.pick(lang), total),
            columns: texts::TX_COLUMNS
                .iter()
                .map(|c| c.pick(lang).to_owned())
                .collect(),
            rows: page,
            page: (offset / page_size.max(1)) as u32,
            page_size: page_size as u32,
            total,
            next_page,
            totals,
        })],
        quick_replies,
        sensitivity: Sensitivity::Financial,
    }
}

pub fn access_log(lang: Lang, entries: &[AccessLogEntry], tz: Tz) -> Reply {
    if entries.is_empty() {
        return Reply::text(texts::ACCESS_LOG_EMPTY.pick(lang));
    }
    let mut lines = vec![texts::ACCESS_LOG_TITLE.pick(lang).to_owned()];
    for e in entries.iter().take(20) {
        let who = match (e.actor.split(':').next(), lang) {
            (Some("customer"), Lang::Pl) => "Ty (czat)",
            (Some("customer"), Lang::En) => "You (chat)",
            (Some("agent"), Lang::Pl) => "konsultant banku",
            (Some("agent"), Lang::En) => "a bank agent",
            (_, Lang::Pl) => "system Okienka",
            (_, Lang::En) => "Okienko's system",
        };
        let verdict = match (e.decision.as_str(), lang) {
            ("allow", _) => "",
            (_, Lang::Pl) => " — odmówiono",
            (_, Lang::En) => " — denied",
        };
        lines.push(format!(
            "• {} {} — {} ({}){}",
            format::datetime(e.at, tz, lang),
            who,
            e.purpose,
            e.action,
            verdict
        ));
    }
    Reply {
        parts: vec![ReplyPart::Text {
            text: lines.join("\n"),
        }],
        quick_replies: Vec::new(),
        sensitivity: Sensitivity::Public,
    }
}
