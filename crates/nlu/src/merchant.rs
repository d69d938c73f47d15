//! Merchants and spending categories named in a message.
//!
//! Owns matching merchant names tolerant of case, missing diacritics, Polish inflection
//! ("w Biedronce", "w zabce", "na Orlenie", "z Netflixa") and one-letter typos; the customer's
//! own merchant list comes first, then a built-in list of common Polish and US merchants, then
//! (English only) "at <Capitalised Name>". A bare "w X"/"u X" is never enough: too noisy.
//! Also owns the category lexicon ("na jedzenie" → "jedzenie", "on groceries" → "groceries").

use std::sync::LazyLock;

use crate::fuzzy;
use crate::text::{Kind, Token, fold};

/// Built-in merchants: (name as output, other spellings). `common` names are also ordinary
/// words ("Target", "Shell") and match only capitalised or after a preposition.
struct Builtin {
    name: &'static str,
    aliases: &'static [&'static str],
    common: bool,
}

const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "biedronka",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "żabka",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "lidl",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "kaufland",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "auchan",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "carrefour",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "netto",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "dino",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "stokrotka",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "lewiatan",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "orlen",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "circle k",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "bp",
        aliases: &[],
        common: true,
    },
    Builtin {
        name: "shell",
        aliases: &[],
        common: true,
    },
    Builtin {
        name: "allegro",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "rossmann",
        aliases: &["rossman"],
        common: false,
    },
    Builtin {
        name: "hebe",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "pkp intercity",
        aliases: &["intercity", "pkp"],
        common: false,
    },
    Builtin {
        name: "uber eats",
        aliases: &["ubereats"],
        common: false,
    },
    Builtin {
        name: "uber",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "bolt",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "glovo",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "wolt",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "pyszne.pl",
        aliases: &["pyszne"],
        common: false,
    },
    Builtin {
        name: "netflix",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "spotify",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "hbo max",
        aliases: &["hbo"],
        common: false,
    },
    Builtin {
        name: "disney+",
        aliases: &["disney"],
        common: false,
    },
    Builtin {
        name: "youtube",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "starbucks",
        aliases: &["starbuks"],
        common: false,
    },
    Builtin {
        name: "costa coffee",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "mcdonald's",
        aliases: &["mcdonalds", "maczek", "mcdonald"],
        common: false,
    },
    Builtin {
        name: "kfc",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "burger king",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "empik",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "media markt",
        aliases: &["mediamarkt"],
        common: false,
    },
    Builtin {
        name: "ikea",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "leroy merlin",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "castorama",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "decathlon",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "zara",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "reserved",
        aliases: &[],
        common: true,
    },
    Builtin {
        name: "pepco",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "sephora",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "vinted",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "olx",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "temu",
        aliases: &[],
        common: true,
    },
    Builtin {
        name: "aliexpress",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "amazon",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "walmart",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "target",
        aliases: &[],
        common: true,
    },
    Builtin {
        name: "costco",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "whole foods",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "trader joe's",
        aliases: &["trader joes"],
        common: false,
    },
    Builtin {
        name: "kroger",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "walgreens",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "home depot",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "best buy",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "chipotle",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "dunkin'",
        aliases: &["dunkin", "dunkin donuts"],
        common: false,
    },
    Builtin {
        name: "doordash",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "lyft",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "airbnb",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "ryanair",
        aliases: &[],
        common: false,
    },
    Builtin {
        name: "wizz air",
        aliases: &["wizzair"],
        common: false,
    },
    Builtin {
        name: "steam",
        aliases: &[],
        common: true,
    },
    Builtin {
        name: "apple",
        aliases: &[],
        common: true,
    },
    Builtin {
        name: "google",
        aliases: &[],
        common: true,
    },
];

/// Words before a merchant that make a `common` name count even lower-cased.
fn merchant_prep(fold: &str) -> bool {
    matches!(
        fold,
        "at" | "from" | "in" | "w" | "u" | "na" | "z" | "ze" | "przy" | "do" | "on"
    )
}

/// Endings a Polish-inflected merchant name may take after its stem.
const ENDINGS: &[&str] = &[
    "", "a", "u", "e", "i", "y", "o", "em", "om", "ach", "ami", "owi", "ie", "iem", "ow",
];

/// Stems a name may be inflected from: the name, without a final vowel, with the last consonant
/// softened as Polish locatives do (biedronk → biedronc, uber → uberz).
fn stems(name: &str) -> Vec<String> {
    let mut out = vec![name.to_owned()];
    let base = name.strip_suffix(['a', 'o', 'e', 'y', 'i']).unwrap_or(name);
    if base != name && base.chars().count() >= 3 {
        out.push(base.to_owned());
    }
    for (end, soft) in [
        ("k", "c"),
        ("g", "dz"),
        ("r", "rz"),
        ("ch", "sz"),
        ("t", "ci"),
        ("d", "dzi"),
        ("st", "sci"),
    ] {
        if let Some(s) = base.strip_suffix(end) {
            out.push(format!("{s}{soft}"));
        }
    }
    out
}

fn key(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| !matches!(c, '\'' | '+' | '.'))
        .collect()
}

/// One word of a merchant name (with its precomputed stems) against one token.
fn word_matches(word: &str, stems: &[String], token: &str) -> bool {
    if word == token {
        return true;
    }
    if word.as_bytes().first() != token.as_bytes().first() {
        return false;
    }
    let n = word.chars().count();
    if n >= 4 {
        for s in stems {
            if let Some(rest) = token.strip_prefix(s.as_str())
                && ENDINGS.contains(&rest)
            {
                return true;
            }
        }
    }
    n >= 6 && fuzzy::word_matches(word, token)
}

/// Where `name` occurs in `tokens` (first match), as (start, end inclusive).
/// A merchant name as it is matched: its words' keys, each with its stems.
struct Pattern {
    words: Vec<(String, Vec<String>)>,
}

impl Pattern {
    fn new(name: &str) -> Pattern {
        Pattern {
            words: name
                .split_whitespace()
                .map(key)
                .filter(|w| !w.is_empty())
                .map(|w| {
                    let s = stems(&w);
                    (w, s)
                })
                .collect(),
        }
    }
}

/// The built-in merchants' spellings, compiled once (they are tried on every message).
static BUILTIN_PATTERNS: LazyLock<Vec<(&'static Builtin, Vec<Pattern>)>> = LazyLock::new(|| {
    BUILTIN
        .iter()
        .map(|b| {
            let spellings = std::iter::once(b.name).chain(b.aliases.iter().copied());
            (b, spellings.map(Pattern::new).collect())
        })
        .collect()
});

fn find(
    pattern: &Pattern,
    tokens: &[Token],
    keys: &[String],
    used: &[bool],
    common: bool,
) -> Option<(usize, usize)> {
    let words = &pattern.words;
    if words.is_empty() {
        return None;
    }
    'outer: for start in 0..tokens.len() {
        for (k, (w, stems)) in words.iter().enumerate() {
            let i = start + k;
            if i >= tokens.len()
                || used[i]
                || !matches!(tokens[i].kind, Kind::Word | Kind::Number)
                || !word_matches(w, stems, &keys[i])
            {
                continue 'outer;
            }
        }
        if common {
            let prev = if start > 0 {
                tokens[start - 1].fold.as_str()
            } else {
                ""
            };
            if !(merchant_prep(prev) || (start > 0 && tokens[start].capitalised())) {
                continue;
            }
        }
        return Some((start, start + words.len() - 1));
    }
    None
}

/// The merchant the message names, lower-cased as the customer's list (or the built-in list)
/// writes it, and marks its tokens used.
pub fn extract(tokens: &[Token], used: &mut [bool], known: &[String]) -> Option<String> {
    let keys: Vec<String> = tokens.iter().map(|t| key(&t.raw)).collect();
    // Longer names first, so "Uber Eats" wins over "Uber".
    let mut own: Vec<&String> = known
        .iter()
        .filter(|m| !m.trim().is_empty())
        .take(5000)
        .collect();
    own.sort_by_key(|m| std::cmp::Reverse(m.split_whitespace().count()));
    for m in own {
        if let Some((a, b)) = find(&Pattern::new(m), tokens, &keys, used, false) {
            used[a..=b].iter_mut().for_each(|u| *u = true);
            return Some(m.trim().to_lowercase());
        }
    }
    for (b, spellings) in BUILTIN_PATTERNS.iter() {
        for s in spellings {
            if let Some((x, y)) = find(s, tokens, &keys, used, b.common) {
                used[x..=y].iter_mut().for_each(|u| *u = true);
                return Some(b.name.to_owned());
            }
        }
    }
    // English "at Joe's Diner".
    for i in 1..tokens.len() {
        if tokens[i - 1].fold != "at" {
            continue;
        }
        let mut words = Vec::new();
        let mut j = i;
        while j < tokens.len()
            && words.len() < 3
            && !used[j]
            && tokens[j].is_word()
            && tokens[j].capitalised()
            && !crate::date::is_calendar_word(&tokens[j].fold)
            && crate::amount::currency_word(&tokens[j].fold).is_none()
        {
            words.push(tokens[j].lower.clone());
            j += 1;
        }
        if !words.is_empty()
            && !matches!(
                words[0].as_str(),
                "all" | "least" | "most" | "i" | "my" | "the"
            )
        {
            used[i..j].iter_mut().for_each(|u| *u = true);
            return Some(words.join(" "));
        }
    }
    None
}

/// Category words: (folded form, base form written out). Generic ones need "na/on/for" before.
const CATEGORIES: &[(&str, &str, bool)] = &[
    ("jedzenie", "jedzenie", false),
    ("jedzenia", "jedzenie", false),
    ("jedzeniu", "jedzenie", false),
    ("jedzeniem", "jedzenie", false),
    ("zywnosc", "żywność", false),
    ("zywnosci", "żywność", false),
    ("spozywcze", "spożywcze", false),
    ("spozywczych", "spożywcze", false),
    ("food", "food", false),
    ("groceries", "groceries", false),
    ("grocery", "groceries", false),
    ("restauracje", "restauracje", false),
    ("restauracjach", "restauracje", false),
    ("restauracji", "restauracje", false),
    ("restaurants", "restaurants", false),
    ("restaurant", "restaurants", false),
    ("eating", "eating out", false),
    ("transport", "transport", false),
    ("transportu", "transport", false),
    ("transporcie", "transport", false),
    ("transportation", "transportation", false),
    ("komunikacje", "komunikacja", false),
    ("komunikacja", "komunikacja", false),
    ("komunikacji", "komunikacja", false),
    ("taxi", "taxi", false),
    ("taksowki", "taksówki", false),
    ("rozrywka", "rozrywka", false),
    ("rozrywke", "rozrywka", false),
    ("rozrywki", "rozrywka", false),
    ("rozrywce", "rozrywka", false),
    ("entertainment", "entertainment", false),
    ("zakupy", "zakupy", true),
    ("zakupow", "zakupy", true),
    ("zakupach", "zakupy", true),
    ("shopping", "shopping", true),
    ("ubrania", "ubrania", false),
    ("ubran", "ubrania", false),
    ("ciuchy", "ciuchy", false),
    ("clothes", "clothes", false),
    ("paliwo", "paliwo", false),
    ("paliwa", "paliwo", false),
    ("paliwie", "paliwo", false),
    ("benzyna", "benzyna", false),
    ("benzyne", "benzyna", false),
    ("benzyny", "benzyna", false),
    ("fuel", "fuel", false),
    ("gas", "gas", true),
    ("petrol", "petrol", false),
    ("rachunki", "rachunki", false),
    ("rachunkow", "rachunki", false),
    ("rachunkach", "rachunki", false),
    ("oplaty", "opłaty", false),
    ("oplat", "opłaty", false),
    ("bills", "bills", false),
    ("utilities", "utilities", false),
    ("czynsz", "czynsz", false),
    ("rent", "rent", true),
    ("subskrypcje", "subskrypcje", false),
    ("subskrypcji", "subskrypcje", false),
    ("subscriptions", "subscriptions", false),
    ("zdrowie", "zdrowie", false),
    ("apteke", "apteka", false),
    ("apteka", "apteka", false),
    ("leki", "leki", false),
    ("health", "health", false),
    ("pharmacy", "pharmacy", false),
    ("podroze", "podróże", false),
    ("podrozach", "podróże", false),
    ("travel", "travel", false),
    ("kawe", "kawa", false),
    ("kawa", "kawa", false),
    ("coffee", "coffee", false),
    ("alkohol", "alkohol", false),
    ("alcohol", "alcohol", false),
];

/// The spending category the message names. Generic words ("zakupy", "shopping") count only
/// after "na/on/for/za" and never when a merchant was named.
pub fn category(tokens: &[Token], used: &[bool], has_merchant: bool) -> Option<String> {
    for (i, t) in tokens.iter().enumerate() {
        if used[i] || t.kind != Kind::Word {
            continue;
        }
        let Some((_, base, generic)) = CATEGORIES.iter().find(|(f, _, _)| *f == t.fold) else {
            continue;
        };
        if *generic {
            let prev = if i > 0 {
                tokens[i - 1].fold.as_str()
            } else {
                ""
            };
            if has_merchant || !matches!(prev, "na" | "on" | "for" | "za") {
                continue;
            }
        }
        if *base == "eating out" && tokens.get(i + 1).is_none_or(|n| n.fold != "out") {
            continue;
        }
        return Some((*base).to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn m(text: &str, known: &[&str]) -> Option<String> {
        let tokens = tokenize(text);
        let mut used = vec![false; tokens.len()];
        let known: Vec<String> = known.iter().map(|s| (*s).to_owned()).collect();
        extract(&tokens, &mut used, &known)
    }

    #[test]
    fn inflected_merchants() {
        let known = [
            "Biedronka",
            "Żabka",
            "Starbucks",
            "Orlen",
            "Lidl",
            "Uber Eats",
            "Uber",
        ];
        for (text, want) in [
            ("płatności w Biedronce", "biedronka"),
            ("w zabce", "żabka"),
            ("ŻABKA", "żabka"),
            ("na Orlenie", "orlen"),
            ("w lidlu", "lidl"),
            ("zakupy w biedronka", "biedronka"),
            ("at Starbucks", "starbucks"),
            ("w starbuksie", "starbucks"),
            ("uber eats last week", "uber eats"),
            ("ubera", "uber"),
        ] {
            assert_eq!(m(text, &known).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn builtin_and_at_pattern() {
        for (text, want) in [
            ("ile wydałem w Rossmannie", "rossmann"),
            ("netflixa", "netflix"),
            ("bilety z PKP", "pkp intercity"),
            ("what did I pay at Joe's Diner last month", "joe's diner"),
            ("purchases at Target", "target"),
            ("w Kauflandzie", "kaufland"),
        ] {
            assert_eq!(m(text, &[]).as_deref(), Some(want), "{text}");
        }
        for text in [
            "ile mam na koncie",
            "I need a target for savings",
            "w domu",
            "at least 50",
            "u mamy",
        ] {
            assert_eq!(m(text, &[]), None, "{text}");
        }
    }

    #[test]
    fn categories() {
        for (text, want) in [
            ("ile wydałem na jedzenie", Some("jedzenie")),
            ("spending on groceries", Some("groceries")),
            ("wydatki na rozrywkę", Some("rozrywka")),
            ("ile poszło na paliwo", Some("paliwo")),
            ("ile na zakupy", Some("zakupy")),
            ("ostatnie zakupy", None),
            ("za rachunki", Some("rachunki")),
            ("transport w tym miesiącu", Some("transport")),
            ("how much on entertainment", Some("entertainment")),
        ] {
            let tokens = tokenize(text);
            let used = vec![false; tokens.len()];
            assert_eq!(category(&tokens, &used, false).as_deref(), want, "{text}");
        }
    }
}
