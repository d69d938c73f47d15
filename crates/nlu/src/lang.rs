//! Polish or English: a vote of function words, cue words and Polish diacritics.
//!
//! Owns the language decision for one message. Ambiguous input ("ok", "bal", "👍", "50 zł", an
//! empty line) is Polish: okienko serves a Polish bank's customers first, and a Polish reply to
//! an English speaker is cheaper than the reverse for the people it serves. Currency symbols lean
//! the vote ($ and £ to English, zł to Polish).

use okienko_core::Lang;

use crate::text::{Kind, Token, polish_diacritics};

const PL: &[&str] = &[
    "i",
    "w",
    "na",
    "z",
    "ze",
    "do",
    "nie",
    "mam",
    "mi",
    "mnie",
    "ile",
    "jak",
    "co",
    "czy",
    "jest",
    "moje",
    "moj",
    "moja",
    "moich",
    "moim",
    "sie",
    "ten",
    "ta",
    "to",
    "tej",
    "tego",
    "od",
    "za",
    "po",
    "pokaz",
    "przelej",
    "wyslij",
    "czesc",
    "dzieki",
    "dziekuje",
    "hej",
    "siema",
    "saldo",
    "konto",
    "koncie",
    "konta",
    "karte",
    "karta",
    "karty",
    "kasa",
    "kasy",
    "zl",
    "zlotych",
    "bank",
    "banku",
    "prosze",
    "chce",
    "moge",
    "mozesz",
    "jaki",
    "jaka",
    "jakie",
    "kto",
    "gdzie",
    "kiedy",
    "dlaczego",
    "wczoraj",
    "dzisiaj",
    "dzis",
    "tydzien",
    "tygodniu",
    "miesiacu",
    "miesiac",
    "roku",
    "zablokuj",
    "odblokuj",
    "wydalem",
    "wydalam",
    "transakcje",
    "platnosci",
    "pomoc",
    "dane",
    "danych",
    "stan",
    "wydatki",
    "ostatnie",
    "powyzej",
    "ponizej",
    "ponad",
    "jestem",
    "tak",
    "ale",
    "bo",
    "juz",
    "jeszcze",
    "tylko",
    "dla",
    "przez",
    "o",
    "u",
    "ktos",
    "mamie",
    "zeszlym",
    "tym",
    "polacz",
    "odlacz",
    "usun",
    "kod",
    "blik",
    "pieniadze",
    "przelew",
    "rachunek",
    "witam",
    "konsultant",
    "konsultantem",
    "rozmawiac",
    "ustaw",
    "powiadomienia",
    "wydac",
    "ukradl",
    "zgubilem",
    "dobry",
    "dzien",
    "hejka",
    "elo",
    "kasi",
    "annie",
    "tacie",
    "oszustwo",
    "strona",
];

const EN: &[&str] = &[
    "the",
    "a",
    "an",
    "my",
    "is",
    "are",
    "what",
    "how",
    "much",
    "show",
    "me",
    "you",
    "your",
    "i",
    "to",
    "for",
    "of",
    "in",
    "on",
    "at",
    "and",
    "or",
    "did",
    "do",
    "does",
    "can",
    "please",
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank",
    "balance",
    "account",
    "card",
    "send",
    "transfer",
    "money",
    "spend",
    "spent",
    "transactions",
    "payments",
    "last",
    "this",
    "week",
    "month",
    "year",
    "today",
    "yesterday",
    "block",
    "unblock",
    "freeze",
    "help",
    "talk",
    "human",
    "agent",
    "someone",
    "stole",
    "stolen",
    "who",
    "seen",
    "data",
    "delete",
    "disconnect",
    "connect",
    "link",
    "bank",
    "alert",
    "notify",
    "when",
    "over",
    "under",
    "above",
    "below",
    "more",
    "less",
    "than",
    "dollars",
    "bucks",
    "with",
    "it",
    "have",
    "has",
    "was",
    "be",
    "by",
    "from",
    "lost",
    "safe",
    "scam",
    "recognize",
    "recognise",
    "where",
    "pay",
    "paid",
    "get",
    "let",
    "know",
    "want",
    "need",
    "since",
    "be",
    "hiya",
    "yo",
    "thx",
    "ty",
    "options",
    "set",
    "up",
    "turn",
    "off",
    "enable",
    "notifications",
    "revoke",
    "consent",
    "access",
    "history",
    "alerts",
    "joke",
    "weather",
    "tell",
    "there",
    "left",
    "purchases",
    "spending",
    "food",
    "groceries",
];

/// Words both languages use, or that carry no language ("ok", "bal", "sms").
fn both(fold: &str) -> bool {
    matches!(
        fold,
        "ok" | "okay" | "bal" | "sms" | "blik" | "hej" | "super" | "halo" | "bank"
    )
}

/// Decides the language of a message.
pub fn detect(text: &str, tokens: &[Token]) -> Lang {
    let mut pl = 2.0 * polish_diacritics(text) as f32;
    let mut en = 0.0f32;
    for t in tokens {
        let f = t.fold.as_str();
        match t.kind {
            Kind::Symbol if matches!(f, "$" | "£") => en += 0.5,
            Kind::Word if both(f) => {}
            Kind::Word => {
                let in_pl = PL.contains(&f);
                let in_en = EN.contains(&f);
                match (in_pl, in_en) {
                    (true, false) => pl += 1.0,
                    (false, true) => en += 1.0,
                    (true, true) => {
                        pl += 0.3;
                        en += 0.3;
                    }
                    (false, false) => {
                        // Polish-looking endings and letter pairs English rarely has.
                        if f.len() > 3
                            && (f.ends_with("ie")
                                || f.ends_with("ego")
                                || f.ends_with("ych")
                                || f.ends_with("cie")
                                || f.ends_with("owi")
                                || f.contains("sz")
                                || f.contains("cz")
                                || f.contains("rz")
                                || f.ends_with("ac")
                                || f.ends_with("j"))
                        {
                            pl += 0.5;
                        } else if f.len() > 3
                            && (f.ends_with("ing")
                                || f.ends_with("tion")
                                || f.contains("th")
                                || f.ends_with("ed")
                                || f.contains("ee")
                                || f.contains("oo")
                                || f.contains("'"))
                        {
                            en += 0.5;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if en > pl { Lang::En } else { Lang::Pl }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn lang(s: &str) -> Lang {
        detect(s, &tokenize(s))
    }

    #[test]
    fn decides() {
        for s in [
            "ile mam na koncie",
            "ile mam na kocie",
            "saldo konat",
            "cześć",
            "przelej 50 zł Annie",
            "ok",
            "bal",
            "",
            "kasa?",
            "stan konta",
        ] {
            assert_eq!(lang(s), Lang::Pl, "{s}");
        }
        for s in [
            "what's my balance",
            "send $20 to John",
            "hi",
            "thanks",
            "talk to a human",
            "tell me a joke",
            "show my transactions over $100 this month",
        ] {
            assert_eq!(lang(s), Lang::En, "{s}");
        }
    }
}
