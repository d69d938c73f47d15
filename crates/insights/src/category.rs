//! Merchant cleaning and categories for Polish and US merchants.
//!
//! The bank's raw description stays as it was; the category is derived from the cleaned merchant
//! (or, failing that, the description) by the table in `data/merchants.tsv`, and a customer's own
//! corrections ("Orlen to dla mnie jedzenie") win over the table for that customer only.

use std::collections::HashMap;

use okienko_core::Lang;
use okienko_core::transaction::fold;
use serde::{Deserialize, Serialize};

/// Spending categories. Small on purpose: a chart with twelve bars is still readable on a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Groceries,
    Restaurants,
    Transport,
    Fuel,
    Shopping,
    Health,
    Subscriptions,
    Bills,
    Cash,
    Transfers,
    Income,
    Other,
}

impl Category {
    pub const ALL: [Category; 12] = [
        Category::Groceries,
        Category::Restaurants,
        Category::Transport,
        Category::Fuel,
        Category::Shopping,
        Category::Health,
        Category::Subscriptions,
        Category::Bills,
        Category::Cash,
        Category::Transfers,
        Category::Income,
        Category::Other,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Category::Groceries => "groceries",
            Category::Restaurants => "restaurants",
            Category::Transport => "transport",
            Category::Fuel => "fuel",
            Category::Shopping => "shopping",
            Category::Health => "health",
            Category::Subscriptions => "subscriptions",
            Category::Bills => "bills",
            Category::Cash => "cash",
            Category::Transfers => "transfers",
            Category::Income => "income",
            Category::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The name a customer reads.
    pub fn label(&self, lang: Lang) -> &'static str {
        let (pl, en) = match self {
            Category::Groceries => ("Zakupy spożywcze", "Groceries"),
            Category::Restaurants => ("Jedzenie na mieście", "Eating out"),
            Category::Transport => ("Transport", "Transport"),
            Category::Fuel => ("Paliwo", "Fuel"),
            Category::Shopping => ("Zakupy", "Shopping"),
            Category::Health => ("Zdrowie i uroda", "Health & beauty"),
            Category::Subscriptions => ("Subskrypcje", "Subscriptions"),
            Category::Bills => ("Rachunki", "Bills"),
            Category::Cash => ("Gotówka", "Cash"),
            Category::Transfers => ("Przelewy", "Transfers"),
            Category::Income => ("Wpływy", "Income"),
            Category::Other => ("Inne", "Other"),
        };
        match lang {
            Lang::Pl => pl,
            Lang::En => en,
        }
    }
}

/// How customers name each category, folded (lower case, no diacritics).
const NAMES: [(Category, &[&str]); 12] = [
    (
        Category::Groceries,
        &[
            "zakupy spozywcze",
            "spozywcze",
            "spozywka",
            "spozywczy",
            "artykuly spozywcze",
            "groceries",
            "grocery",
            "food shopping",
        ],
    ),
    (
        Category::Restaurants,
        &[
            "restauracja",
            "restauracje",
            "restauracji",
            "restauracjach",
            "jedzenie na miescie",
            "gastronomia",
            "knajpa",
            "knajpy",
            "restaurant",
            "restaurants",
            "eating out",
            "dining",
            "food and drink",
        ],
    ),
    (
        Category::Transport,
        &["transport", "komunikacja", "przejazdy", "travel", "commute"],
    ),
    (
        Category::Fuel,
        &["paliwo", "paliwa", "tankowanie", "fuel", "gas", "petrol"],
    ),
    (
        Category::Shopping,
        &["zakupy", "shopping", "sklep", "shops"],
    ),
    (
        Category::Health,
        &[
            "zdrowie",
            "zdrowie i uroda",
            "uroda",
            "apteka",
            "kosmetyki",
            "health",
            "health and beauty",
            "beauty",
            "pharmacy",
        ],
    ),
    (
        Category::Subscriptions,
        &[
            "subskrypcje",
            "subskrypcja",
            "abonament",
            "abonamenty",
            "subscription",
            "subscriptions",
        ],
    ),
    (
        Category::Bills,
        &[
            "rachunki",
            "rachunek",
            "oplaty",
            "media",
            "bills",
            "bill",
            "utilities",
        ],
    ),
    (Category::Cash, &["gotowka", "cash"]),
    (
        Category::Transfers,
        &["przelewy", "przelew", "transfers", "transfer"],
    ),
    (Category::Income, &["wplywy", "wplyw", "przychod", "income"]),
    (Category::Other, &["inne", "inna", "other", "misc"]),
];

impl Category {
    /// The category a customer's phrase names ("zakupy spożywcze", "Groceries", "restauracja"),
    /// when the whole phrase (punctuation and a leading "na"/"to"/"a"/"as" aside) is one of the
    /// names above or a category's label. Diacritics and case do not matter.
    pub fn named(phrase: &str) -> Option<Category> {
        let norm = norm_words(phrase);
        let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
        let words = match words.first() {
            Some(&("na" | "to" | "a" | "an" | "as" | "jako" | "do" | "the")) => &words[1..],
            _ => &words[..],
        };
        let phrase = words.join(" ");
        if phrase.is_empty() {
            return None;
        }
        NAMES
            .iter()
            .find(|(_, names)| names.contains(&phrase.as_str()))
            .map(|(c, _)| *c)
            .or_else(|| {
                Category::ALL.into_iter().find(|c| {
                    [Lang::Pl, Lang::En]
                        .iter()
                        .any(|l| norm_words(c.label(*l)) == phrase)
                })
            })
    }
}

/// Folded words joined by single spaces, "&" read as "and".
fn norm_words(s: &str) -> String {
    fold(s)
        .replace('&', " and ")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row of the merchant table.
#[derive(Debug, Clone)]
struct Rule {
    /// Folded (lower-case, no diacritics) text that must appear in the merchant or description.
    pattern: String,
    /// The merchant's display name.
    name: String,
    category: Category,
}

const TABLE: &str = include_str!("../data/merchants.tsv");

/// Words that say how money moved rather than where.
const TRANSFER_WORDS: [&str; 6] = [
    "przelew",
    "transfer",
    "blik na telefon",
    "przelew na telefon",
    "zelle",
    "venmo",
];
const CASH_WORDS: [&str; 4] = ["bankomat", "atm", "wyplata gotowki", "cash withdrawal"];
const INCOME_WORDS: [&str; 5] = ["wynagrodzenie", "pensja", "salary", "payroll", "direct dep"];

/// Assigns categories; built once, shared.
#[derive(Debug, Clone)]
pub struct Categoriser {
    rules: Vec<Rule>,
}

impl Default for Categoriser {
    fn default() -> Self {
        Self::new()
    }
}

impl Categoriser {
    /// The built-in table. Longer patterns are tried first so "uber eats" beats "uber".
    pub fn new() -> Categoriser {
        let mut rules: Vec<Rule> = TABLE
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let pattern = fold(cols.next()?.trim());
                let name = cols.next()?.trim().to_owned();
                let category = Category::parse(cols.next()?.trim())?;
                Some(Rule {
                    pattern,
                    name,
                    category,
                })
            })
            .collect();
        rules.sort_by_key(|r| std::cmp::Reverse(r.pattern.len()));
        Categoriser { rules }
    }

    /// How many merchants the table knows.
    pub fn known_merchants(&self) -> usize {
        self.rules.len()
    }

    /// The cleaned merchant name and category of one transaction. `incoming` is true for money
    /// arriving. `overrides` are this customer's own corrections, by folded merchant name.
    pub fn categorise(
        &self,
        merchant: Option<&str>,
        raw_description: &str,
        incoming: bool,
        overrides: &HashMap<String, Category>,
    ) -> (Option<String>, Category) {
        let text = fold(&format!("{} {}", merchant.unwrap_or(""), raw_description));
        let rule = self.rules.iter().find(|r| contains_word(&text, &r.pattern));
        let name = rule
            .map(|r| r.name.clone())
            .or_else(|| merchant.map(str::to_owned));
        if let Some(c) = name.as_deref().and_then(|n| overrides.get(&fold(n))) {
            return (name, *c);
        }
        let category = if incoming {
            if INCOME_WORDS.iter().any(|w| text.contains(w)) {
                Category::Income
            } else {
                Category::Transfers
            }
        } else if let Some(r) = rule {
            r.category
        } else if CASH_WORDS.iter().any(|w| text.contains(w)) {
            Category::Cash
        } else if TRANSFER_WORDS.iter().any(|w| text.contains(w)) {
            Category::Transfers
        } else {
            Category::Other
        };
        (name, category)
    }
}

/// Whether `pattern` occurs in `text` starting at a word boundary ("lot" in "lot polish airlines",
/// not in "parking lotos").
fn contains_word(text: &str, pattern: &str) -> bool {
    text.match_indices(pattern).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + pattern.len()..].chars().next();
        before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(merchant: Option<&str>, raw: &str) -> (Option<String>, Category) {
        Categoriser::new().categorise(merchant, raw, false, &HashMap::new())
    }

    #[test]
    fn polish_and_us_merchants_get_their_category() {
        assert_eq!(cat(Some("Biedronka"), "").1, Category::Groceries);
        assert_eq!(
            cat(None, "ZAKUP PRZY UZYCIU KARTY ZABKA Z1234 WARSZAWA"),
            (Some("Żabka".into()), Category::Groceries)
        );
        assert_eq!(cat(None, "ORLEN STACJA NR 123").1, Category::Fuel);
        assert_eq!(
            cat(None, "STARBUCKS STORE 00123 SEATTLE WA").1,
            Category::Restaurants
        );
        assert_eq!(
            cat(None, "AMAZON.COM*MKTP AMZN.COM/BILL").1,
            Category::Shopping
        );
        assert_eq!(
            cat(None, "UBER EATS HELP.UBER.COM").1,
            Category::Restaurants
        );
        assert_eq!(cat(None, "UBER *TRIP HELP.UBER.COM").1, Category::Transport);
        assert_eq!(cat(None, "WYPLATA GOTOWKI BANKOMAT").1, Category::Cash);
        assert_eq!(cat(None, "PARKING LOTOSOWY").1, Category::Other);
    }

    #[test]
    fn incoming_money_is_income_or_a_transfer() {
        let c = Categoriser::new();
        let none = HashMap::new();
        assert_eq!(
            c.categorise(
                Some("ACME Sp. z o.o."),
                "WYNAGRODZENIE 10/2026",
                true,
                &none
            )
            .1,
            Category::Income
        );
        assert_eq!(
            c.categorise(Some("Jan Nowak"), "zwrot za pizze", true, &none)
                .1,
            Category::Transfers
        );
    }

    #[test]
    fn a_customer_correction_wins_for_that_customer_only() {
        let c = Categoriser::new();
        let mine = HashMap::from([("orlen".to_owned(), Category::Groceries)]);
        assert_eq!(
            c.categorise(None, "ORLEN STACJA", false, &mine).1,
            Category::Groceries
        );
        assert_eq!(
            c.categorise(None, "ORLEN STACJA", false, &HashMap::new()).1,
            Category::Fuel
        );
    }

    #[test]
    fn customers_name_categories_in_both_languages() {
        assert_eq!(
            Category::named("zakupy spożywcze"),
            Some(Category::Groceries)
        );
        assert_eq!(
            Category::named("Zakupy spozywcze!"),
            Some(Category::Groceries)
        );
        assert_eq!(Category::named("zakupy"), Some(Category::Shopping));
        assert_eq!(Category::named("na zakupy"), Some(Category::Shopping));
        assert_eq!(Category::named("restauracja"), Some(Category::Restaurants));
        assert_eq!(Category::named("groceries"), Some(Category::Groceries));
        assert_eq!(Category::named("Eating out"), Some(Category::Restaurants));
        assert_eq!(Category::named("health & beauty"), Some(Category::Health));
        assert_eq!(Category::named("ile mam na koncie"), None);
        assert_eq!(Category::named(""), None);
        assert_eq!(Category::named("biedronka"), None);
        for c in Category::ALL {
            for l in [Lang::Pl, Lang::En] {
                assert_eq!(Category::named(c.label(l)), Some(c), "{c:?} {l:?}");
            }
        }
    }

    #[test]
    fn the_table_covers_both_markets() {
        assert!(Categoriser::new().known_merchants() >= 80);
    }
}
