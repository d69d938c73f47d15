//! Category corrections from the chat: "to nie restauracja, to zakupy", "Żabka is groceries", or
//! the "Popraw kategorię" button under a spending summary. The correction is kept for this
//! customer only, through the privacy gate (sealed, erased with their data), and the next summary
//! counts the merchant in the customer's category.
//!
//! The conversation remembers the merchants of the customer's last summary (names and the
//! category each was counted in, never amounts) so "to nie restauracja" can find which merchant
//! was meant, and the buttons can name them.

use std::collections::HashMap;

use chrono::NaiveDate;
use okienko_core::transaction::fold;
use okienko_core::{CustomerId, Lang, Transaction};
use okienko_insights::{Categoriser, Category};
use okienko_nlu::Parse;
use okienko_privacy::{ChannelInfo, CorrectionError, Purpose};
use uuid::Uuid;

use crate::engine::Engine;
use crate::texts::T;
use crate::{InboundEvent, QuickReply, Reply};

const PREFIX: &str = "cat:";
/// Merchants offered as buttons under "Popraw kategorię".
const MAX_BUTTONS: usize = 6;

/// What the conversation keeps between a summary and a correction.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct CategoryDialog {
    /// Names the buttons of the last summary; a button of an older one is stale.
    summary: Option<Uuid>,
    /// The last summary's merchants, largest spend first, with the category they were counted in.
    merchants: Vec<(String, Category)>,
}

impl std::fmt::Debug for CategoryDialog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CategoryDialog")
            .field("merchants", &self.merchants.len())
            .finish_non_exhaustive()
    }
}

impl CategoryDialog {
    /// Remembers a new summary's merchants; returns the id its buttons carry.
    pub(crate) fn remember(&mut self, merchants: Vec<(String, Category)>) -> Uuid {
        let id = Uuid::new_v4();
        self.summary = Some(id);
        self.merchants = merchants;
        id
    }

    /// Forgets the merchants (the customer's data was erased, or they moved on for good).
    pub fn forget(&mut self) {
        self.summary = None;
        self.merchants.clear();
    }
}

/// The merchants of the period's payments, largest spend first, each with the category the
/// summary counts it in (the same rules as `summarise`: the customer's correction, then the
/// bank's category, then the table).
pub(crate) fn merchants_of(
    txs: &[Transaction],
    from: NaiveDate,
    to: NaiveDate,
    categoriser: &Categoriser,
    overrides: &HashMap<String, Category>,
) -> Vec<(String, Category)> {
    let mut spent: HashMap<String, (rust_decimal::Decimal, Category)> = HashMap::new();
    for t in txs
        .iter()
        .filter(|t| t.amount.is_negative() && t.date >= from && t.date <= to)
    {
        let (name, table) =
            categoriser.categorise(t.merchant.as_deref(), &t.raw_description, false, overrides);
        let Some(name) = name else { continue };
        let corrected = overrides.contains_key(&fold(&name));
        let category = match t.category.as_deref().and_then(Category::parse) {
            Some(given) if !corrected => given,
            _ => table,
        };
        let e = spent
            .entry(name)
            .or_insert((rust_decimal::Decimal::ZERO, category));
        e.0 -= t.amount.amount();
    }
    let mut out: Vec<(String, rust_decimal::Decimal, Category)> =
        spent.into_iter().map(|(n, (s, c))| (n, s, c)).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.into_iter().map(|(n, _, c)| (n, c)).collect()
}

/// What a correction message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionAsk {
    /// The merchant as the customer wrote it, when they named one.
    pub merchant: Option<String>,
    /// The category it was wrongly counted in, when they said so ("to nie restauracja").
    pub from: Option<Category>,
    pub to: Category,
}

/// Reads "to nie restauracja, to zakupy", "Żabka to zakupy spożywcze", "Żabka is groceries",
/// "zmień Orlen na jedzenie", "that's not eating out, it's shopping". `None` for anything else:
/// the right-hand side must be exactly a category's name.
pub fn parse_correction(text: &str) -> Option<CorrectionAsk> {
    let t = fold(text);
    let t = t.trim().trim_end_matches(['.', '!', '?']).trim();
    if t.is_empty() || t.len() > 120 {
        return None;
    }
    // "[merchant] to nie X, (to|tylko|a) Y" / "[merchant] is not X, (it's|but) Y".
    for neg in [
        "to nie ",
        "nie jest ",
        "that's not ",
        "thats not ",
        "it's not ",
        "its not ",
        "isn't ",
        "isnt ",
        "is not ",
        "not ",
        "nie ",
    ] {
        let Some(at) = find_word(t, neg) else {
            continue;
        };
        let before = t[..at].trim().trim_end_matches(',').trim();
        let after = &t[at + neg.len()..];
        for sep in [
            ", to ", ", tylko ", ", a ", ", ale ", ", lecz ", ", it's ", ", its ", ", it is ",
            ", but ", ", ", " tylko ", " lecz ", " ale ", " but ", " it's ", " its ", " to ",
        ] {
            if let Some(i) = after.find(sep) {
                let (x, y) = (&after[..i], &after[i + sep.len()..]);
                let y = y
                    .trim_start_matches("it's ")
                    .trim_start_matches("its ")
                    .trim_start_matches("it is ")
                    .trim_start_matches("to ");
                if let (Some(from), Some(to)) = (Category::named(x), Category::named(y)) {
                    let merchant = merchant_words(before);
                    return Some(CorrectionAsk {
                        merchant,
                        from: Some(from),
                        to,
                    });
                }
            }
        }
    }
    // "zmień X na Y" / "change X to Y".
    for verb in [
        "zmien kategorie ",
        "zmien ",
        "popraw ",
        "change the category of ",
        "change category of ",
        "change ",
        "recategorise ",
        "recategorize ",
    ] {
        if let Some(rest) = t.strip_prefix(verb) {
            for sep in [" na ", " to ", " as ", " into "] {
                if let Some(i) = rest.rfind(sep) {
                    let (m, c) = (&rest[..i], &rest[i + sep.len()..]);
                    if let (Some(m), Some(to)) = (merchant_words(m), Category::named(c)) {
                        return Some(CorrectionAsk {
                            merchant: Some(m),
                            from: None,
                            to,
                        });
                    }
                }
            }
        }
    }
    // "X to Y" / "X is Y" / "X = Y" / "X jest Y".
    for sep in [
        " to jest ",
        " powinno byc ",
        " powinna byc ",
        " should be ",
        " to ",
        " is ",
        " jest ",
        " = ",
        " are ",
    ] {
        if let Some(i) = t.find(sep) {
            let (m, c) = (&t[..i], &t[i + sep.len()..]);
            if let (Some(m), Some(to)) = (merchant_words(m), Category::named(c)) {
                return Some(CorrectionAsk {
                    merchant: Some(m),
                    from: None,
                    to,
                });
            }
        }
    }
    None
}

/// `pat` at the start of `t` or after a space or comma.
fn find_word(t: &str, pat: &str) -> Option<usize> {
    t.match_indices(pat)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || t[..i].ends_with([' ', ',']))
}

/// A merchant named in a correction: one to five words, not a pronoun or a question.
fn merchant_words(s: &str) -> Option<String> {
    let s = s
        .trim()
        .trim_matches(|c: char| c == '"' || c == '„' || c == '”' || c == ',');
    let s = s
        .strip_prefix("sklep ")
        .or_else(|| s.strip_prefix("the shop "))
        .or_else(|| s.strip_prefix("the "))
        .unwrap_or(s)
        .trim();
    let words: Vec<&str> = s.split_whitespace().collect();
    const NOT_MERCHANTS: [&str; 14] = [
        "to", "it", "this", "that", "ten", "ta", "tamto", "co", "what", "ile", "how", "where",
        "gdzie", "which",
    ];
    if words.is_empty() || words.len() > 5 || NOT_MERCHANTS.contains(&words[0]) {
        return None;
    }
    Some(s.to_owned())
}

// ---------------------------------------------------------------- texts

const SAVED: T = T(
    "Zapamiętane: {merchant} to dla Ciebie „{category}”. Tak policzę to w Twoich kolejnych podsumowaniach (tylko Twoich).",
    "Got it: {merchant} is “{category}” for you. Your next summaries will count it that way (yours only).",
);
const UNKNOWN_MERCHANT: T = T(
    "Nie znalazłem sklepu „{merchant}” w Twoich wydatkach, więc niczego nie zmieniam.",
    "I couldn't find “{merchant}” among your spending, so I'm not changing anything.",
);
const WHICH_MERCHANT: T = T("Którego sklepu to dotyczy?", "Which shop do you mean?");
const NAME_IT: T = T(
    "Napisz, którego sklepu to dotyczy, np. „Żabka to zakupy spożywcze”.",
    "Tell me which shop you mean, e.g. “Żabka is groceries”.",
);
const PICK_MERCHANT: T = T(
    "Kategorię którego sklepu poprawić?",
    "Which shop's category should I correct?",
);
const PICK_CATEGORY: T = T(
    "Jaka to kategoria dla {merchant}?",
    "Which category is {merchant}?",
);
const NO_SUMMARY: T = T(
    "Najpierw poproś o podsumowanie wydatków, np. „ile wydałem w tym miesiącu?”.",
    "Ask for a spending summary first, e.g. “how much did I spend this month?”.",
);
const STALE: T = T(
    "Ten przycisk dotyczy starszego podsumowania, więc niczego nie zmieniam.",
    "That button belongs to an older summary, so I'm not changing anything.",
);
const INVALID: T = T(
    "Nie mogę zapamiętać tej poprawki.",
    "I can't keep that correction.",
);
pub(crate) const QR_FIX: T = T("Popraw kategorię", "Correct a category");
const QR_SUMMARY: T = T("Pokaż podsumowanie", "Show the summary");

/// The button under a spending summary.
pub(crate) fn fix_button(lang: Lang, summary: Uuid) -> QuickReply {
    QuickReply::new(QR_FIX.pick(lang), format!("{PREFIX}fix:{summary}"))
}

impl Engine {
    /// A typed correction, if the message is one; `None` lets the message go on as usual.
    pub(crate) async fn category_text(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        cd: &mut CategoryDialog,
        lang: Lang,
        parse: &Parse,
    ) -> Option<Vec<Reply>> {
        let ask = parse_correction(&parse.text)?;
        let Some(written) = ask.merchant.as_deref() else {
            // "To nie restauracja, to zakupy": the merchant of the last summary counted as that.
            let from = ask.from?;
            let Some(sid) = cd.summary else {
                return Some(vec![Reply::text(NAME_IT.pick(lang))]);
            };
            let hits: Vec<usize> = cd
                .merchants
                .iter()
                .enumerate()
                .filter(|(_, (_, c))| *c == from)
                .map(|(i, _)| i)
                .collect();
            return Some(match hits.as_slice() {
                [] => vec![Reply::text(NAME_IT.pick(lang))],
                [i] => {
                    let name = cd.merchants[*i].0.clone();
                    vec![
                        self.save_correction(customer, via, cd, lang, &name, ask.to)
                            .await,
                    ]
                }
                many => {
                    let buttons = many
                        .iter()
                        .take(MAX_BUTTONS)
                        .map(|i| {
                            QuickReply::new(
                                crate::reply::short_label(&cd.merchants[*i].0),
                                format!("{PREFIX}set:{sid}:{i}:{}", ask.to.as_str()),
                            )
                        })
                        .collect();
                    vec![Reply::text(WHICH_MERCHANT.pick(lang)).with_quick_replies(buttons)]
                }
            });
        };
        // A named merchant must be one of the customer's own (or one the table knows that the
        // customer paid): otherwise the message was something else ("ile wydałem na zakupy").
        let name = match self.resolve_merchant(customer, via, cd, written).await {
            Some(n) => n,
            None if ask.from.is_some() => {
                return Some(vec![Reply::text(
                    UNKNOWN_MERCHANT.pick(lang).replace("{merchant}", written),
                )]);
            }
            None => return None,
        };
        Some(vec![
            self.save_correction(customer, via, cd, lang, &name, ask.to)
                .await,
        ])
    }

    /// The merchant's name as summaries show it, when the customer paid there.
    async fn resolve_merchant(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        cd: &CategoryDialog,
        written: &str,
    ) -> Option<String> {
        let w = fold(written);
        let matches = |name: &str| {
            let n = fold(name);
            n == w || n.split_whitespace().any(|word| word == w) || w.contains(&n)
        };
        if let Some((n, _)) = cd.merchants.iter().find(|(n, _)| matches(n)) {
            return Some(n.clone());
        }
        let mine = self
            .gate
            .merchants(&self.req(customer, via, Purpose::ServiceSpendingSummary))
            .await
            .ok()?;
        let none = HashMap::new();
        mine.data()
            .iter()
            .map(|m| {
                self.insights
                    .categoriser()
                    .categorise(Some(m), "", false, &none)
                    .0
                    .unwrap_or_else(|| m.clone())
            })
            .find(|n| matches(n))
    }

    async fn save_correction(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        cd: &mut CategoryDialog,
        lang: Lang,
        merchant: &str,
        to: Category,
    ) -> Reply {
        let req = self.req(customer, via, Purpose::ServiceSpendingSummary);
        match self
            .gate
            .correct_category(&req, merchant, to.as_str())
            .await
        {
            Ok(()) => {
                for m in cd.merchants.iter_mut().filter(|(n, _)| n == merchant) {
                    m.1 = to;
                }
                Reply::text(
                    SAVED
                        .pick(lang)
                        .replace("{merchant}", merchant)
                        .replace("{category}", to.label(lang)),
                )
                .with_quick_replies(vec![QuickReply::new(
                    QR_SUMMARY.pick(lang),
                    "intent:spending_summary",
                )])
            }
            Err(CorrectionError::Access(e)) => self.access_error_reply(e, lang),
            Err(CorrectionError::Invalid) => Reply::text(INVALID.pick(lang)),
        }
    }

    /// The correction buttons (`cat:…`); `None` for any other event.
    pub(crate) async fn category_button(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
        cd: &mut CategoryDialog,
        lang: Lang,
        event: &InboundEvent,
    ) -> Option<Vec<Reply>> {
        let InboundEvent::QuickReply(p) = event else {
            return None;
        };
        let rest = p.strip_prefix(PREFIX)?;
        let parts: Vec<&str> = rest.split(':').collect();
        let stale = vec![Reply::text(STALE.pick(lang))];
        let Some(sid) = cd.summary else {
            return Some(vec![Reply::text(NO_SUMMARY.pick(lang))]);
        };
        if parts.get(1) != Some(&sid.to_string().as_str()) {
            return Some(stale);
        }
        let merchant = |i: Option<&&str>| {
            i.and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| cd.merchants.get(i).cloned())
        };
        Some(match parts.as_slice() {
            ["fix", _] => {
                if cd.merchants.is_empty() {
                    return Some(vec![Reply::text(NO_SUMMARY.pick(lang))]);
                }
                let buttons = cd
                    .merchants
                    .iter()
                    .take(MAX_BUTTONS)
                    .enumerate()
                    .map(|(i, (n, c))| {
                        // Name and category when they fit, else the name alone.
                        QuickReply::new(
                            match format!("{n} ({})", c.label(lang)) {
                                both if both.chars().count() <= crate::reply::MAX_LABEL_CHARS => {
                                    both
                                }
                                _ => crate::reply::short_label(n),
                            },
                            format!("{PREFIX}m:{sid}:{i}"),
                        )
                    })
                    .collect();
                vec![Reply::text(PICK_MERCHANT.pick(lang)).with_quick_replies(buttons)]
            }
            ["m", _, i] => match merchant(Some(i)) {
                Some((name, current)) => {
                    let buttons = Category::ALL
                        .into_iter()
                        .filter(|c| *c != current)
                        .map(|c| {
                            QuickReply::new(
                                c.label(lang),
                                format!("{PREFIX}set:{sid}:{i}:{}", c.as_str()),
                            )
                        })
                        .collect();
                    vec![
                        Reply::text(PICK_CATEGORY.pick(lang).replace("{merchant}", &name))
                            .with_quick_replies(buttons),
                    ]
                }
                None => stale,
            },
            ["set", _, i, c] => match (merchant(Some(i)), Category::parse(c)) {
                (Some((name, _)), Some(to)) => {
                    vec![
                        self.save_correction(customer, via, cd, lang, &name, to)
                            .await,
                    ]
                }
                _ => stale,
            },
            _ => stale,
        })
    }

    /// The customer's corrections, for their summary (read through the gate).
    pub(crate) async fn category_overrides(
        &self,
        customer: CustomerId,
        via: ChannelInfo,
    ) -> HashMap<String, Category> {
        match self
            .gate
            .category_corrections(&self.req(customer, via, Purpose::ServiceSpendingSummary))
            .await
        {
            Ok(g) => g
                .into_data()
                .into_iter()
                .filter_map(|c| Category::parse(&c.category).map(|k| (c.merchant, k)))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "category corrections not read; table categories used");
                HashMap::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(m: Option<&str>, from: Option<Category>, to: Category) -> Option<CorrectionAsk> {
        Some(CorrectionAsk {
            merchant: m.map(str::to_owned),
            from,
            to,
        })
    }

    #[test]
    fn corrections_in_both_languages() {
        use Category::*;
        assert_eq!(
            parse_correction("to nie restauracja, to zakupy"),
            ask(None, Some(Restaurants), Shopping)
        );
        assert_eq!(
            parse_correction("To nie restauracja tylko zakupy!"),
            ask(None, Some(Restaurants), Shopping)
        );
        assert_eq!(
            parse_correction("Żabka to zakupy spożywcze"),
            ask(Some("zabka"), None, Groceries)
        );
        assert_eq!(
            parse_correction("Żabka is groceries"),
            ask(Some("zabka"), None, Groceries)
        );
        assert_eq!(
            parse_correction("that's not eating out, it's shopping"),
            ask(None, Some(Restaurants), Shopping)
        );
        assert_eq!(
            parse_correction("Orlen to nie paliwo, to jedzenie na mieście"),
            ask(Some("orlen"), Some(Fuel), Restaurants)
        );
        assert_eq!(
            parse_correction("zmień Orlen na zakupy spożywcze"),
            ask(Some("orlen"), None, Groceries)
        );
        for other in [
            "ile mam na koncie",
            "ile wydałem w tym miesiącu",
            "to jest zakupy",
            "what is groceries",
            "przelej 50 zł Annie",
            "",
            "zablokuj kartę",
        ] {
            assert_eq!(parse_correction(other), None, "{other}");
        }
    }
}
