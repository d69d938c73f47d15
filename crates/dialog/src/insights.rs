//! "Ile wydałem w tym miesiącu?": a spending summary for the period the customer named (this month
//! by default), by category and merchant, against what they usually spend, with a bar chart by
//! category and a line of the balance over the period. Read through the gate for this purpose
//! only; nothing is kept after the reply.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use chrono::{Datelike, NaiveDate};
use okienko_core::{BalanceKind, CustomerId, Lang, TxFilter, format};
use okienko_insights::chart::balance_history;
use okienko_insights::{Categoriser, Chart, Charts, SpendingSummary, summarise, summary};
use okienko_nlu::Parse;
use okienko_privacy::{ChannelInfo, Purpose};
use rust_decimal::Decimal;

use crate::engine::Engine;
use crate::texts;
use crate::{Reply, ReplyPart, Sensitivity};

/// Transactions read for one summary (the period and the history it is compared with).
const MAX_SUMMARY_ROWS: u32 = 5_000;

/// What the engine needs to summarise: the merchant table and, when a font was found, charts.
#[derive(Debug, Clone)]
pub(crate) struct Insights {
    categoriser: Categoriser,
    charts: Option<Charts>,
}

impl Insights {
    /// Without a usable font the summary still comes, as text: a chart is a bonus, never a reason
    /// to fail the answer.
    pub(crate) fn new(font: Option<&Path>) -> Insights {
        let charts = font.and_then(|f| match Charts::with_font_file(f) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "no chart font: spending summaries come as text only");
                None
            }
        });
        Insights {
            categoriser: Categoriser::new(),
            charts,
        }
    }

    pub(crate) fn categoriser(&self) -> &Categoriser {
        &self.categoriser
    }
}

impl Engine {
    /// Answers a spending question for the period in `parse` (this month when none).
    pub(crate) async fn spending_summary(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        lang: Lang,
        parse: &Parse,
        corrections: &mut crate::categories::CategoryDialog,
    ) -> Vec<Reply> {
        let mut out = Vec::new();
        match self.refresh(customer, lang).await {
            Ok(Some(note)) => out.push(note),
            Ok(None) => {}
            Err(reply) => return vec![reply],
        }
        let today = self.today();
        let from = parse
            .slots
            .date_from
            .unwrap_or_else(|| today.with_day(1).unwrap_or(today));
        let to = parse.slots.date_to.unwrap_or(today).min(today);
        if from > to {
            return vec![Reply::text(texts::SUMMARY_NONE.pick(lang))];
        }
        // The period, the history before it (for "usual") and everything up to today (to walk the
        // balance back from today's).
        let filter = TxFilter {
            date_from: Some(summary::history_start(from, to)),
            date_to: Some(today),
            ..TxFilter::default()
        };
        let page = match self
            .gate
            .transactions(
                &self.req(customer, via, Purpose::ServiceSpendingSummary),
                &filter,
                0,
                MAX_SUMMARY_ROWS,
            )
            .await
        {
            Ok(p) => p.into_data(),
            Err(e) => return vec![self.access_error_reply(e, lang)],
        };
        let insights = &self.insights;
        // The customer's own corrections win over the table, for this customer only.
        let overrides: HashMap<String, okienko_insights::Category> =
            self.category_overrides(customer, via).await;
        let Some(s) = summarise(
            &page.transactions,
            from,
            to,
            &insights.categoriser,
            &overrides,
        ) else {
            out.push(Reply::text(texts::SUMMARY_NONE.pick(lang)));
            return out;
        };
        let merchants: Vec<_> = crate::categories::merchants_of(
            &page.transactions,
            from,
            to,
            &insights.categoriser,
            &overrides,
        );
        let summary_id = corrections.remember(merchants);
        let mut reply = Reply {
            parts: vec![ReplyPart::Text {
                text: summary_text(&s, lang),
            }],
            quick_replies: vec![crate::categories::fix_button(lang, summary_id)],
            sensitivity: Sensitivity::Financial,
        };
        if let Some(charts) = &insights.charts {
            match charts.category_bars(&s, lang) {
                Ok(c) => reply.parts.push(image(c)),
                Err(e) => tracing::warn!(error = %e, "category chart not drawn"),
            }
            // The balance line needs today's balance in the summary's currency.
            if let Ok(balances) = self
                .gate
                .balances(&self.req(customer, via, Purpose::ServiceBalance))
                .await
            {
                let now: Option<Decimal> = balances
                    .data()
                    .iter()
                    .filter_map(|a| {
                        let find = |k| a.balances.iter().find(|b| b.kind == k);
                        find(BalanceKind::InterimAvailable).or(find(BalanceKind::ClosingBooked))
                    })
                    .filter(|b| b.amount.currency() == s.currency)
                    .map(|b| b.amount.amount())
                    .reduce(|a, b| a + b);
                let moves: Vec<(NaiveDate, Decimal)> = page
                    .transactions
                    .iter()
                    .filter(|t| t.amount.currency() == s.currency)
                    .map(|t| (t.date, t.amount.amount()))
                    .collect();
                if let Some(now) = now {
                    let points: Vec<(NaiveDate, Decimal)> =
                        balance_history(now, &moves, from, today)
                            .into_iter()
                            .filter(|(d, _)| *d <= to)
                            .collect();
                    match charts.balance_line(&points, s.currency, lang) {
                        Ok(c) => reply.parts.push(image(c)),
                        Err(e) => tracing::warn!(error = %e, "balance chart not drawn"),
                    }
                }
            }
        }
        out.push(reply);
        out
    }
}

fn image(c: Chart) -> ReplyPart {
    ReplyPart::Image {
        alt: c.alt,
        mime: "image/png".into(),
        data_base64: base64::engine::general_purpose::STANDARD.encode(&c.png),
        width: c.width,
        height: c.height,
    }
}

/// The summary in words: the total against the usual, each category, the top merchants, and what
/// changed the most. Also the text version of the charts.
fn summary_text(s: &SpendingSummary, lang: Lang) -> String {
    let money = |m: &okienko_core::Money| format::money(m, lang);
    let period = format!(
        "{} – {}",
        format::date(s.from, lang),
        format::date(s.to, lang)
    );
    let mut lines = vec![
        texts::SUMMARY_TITLE
            .pick(lang)
            .replace("{period}", &period)
            .replace("{total}", &money(&s.total)),
    ];
    if let Some(usual) = &s.usual_total {
        lines.push(
            texts::SUMMARY_USUAL
                .pick(lang)
                .replace("{usual}", &money(usual)),
        );
    }
    for c in &s.by_category {
        let usual = c
            .usual
            .as_ref()
            .map(|u| {
                texts::SUMMARY_USUALLY
                    .pick(lang)
                    .replace("{usual}", &money(u))
            })
            .unwrap_or_default();
        lines.push(format!(
            "• {}: {}{usual}",
            c.category.label(lang),
            money(&c.spent)
        ));
    }
    if !s.top_merchants.is_empty() {
        lines.push(texts::SUMMARY_MERCHANTS.pick(lang).to_owned());
        for m in &s.top_merchants {
            lines.push(format!(
                "• {}: {} ({}×)",
                m.merchant,
                money(&m.spent),
                m.count
            ));
        }
    }
    if let Some((cat, delta)) = s.changes.first() {
        let key = if delta.is_negative() {
            texts::SUMMARY_LESS
        } else {
            texts::SUMMARY_MORE
        };
        lines.push(
            key.pick(lang)
                .replace("{category}", cat.label(lang))
                .replace("{delta}", &money(&delta.abs())),
        );
    }
    lines.join("\n")
}
