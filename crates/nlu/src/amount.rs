//! Amounts of money and their bounds in chat text: "50 zł", "50zl", "120,50 PLN", "1 200 zł",
//! "$20", "20 dollars", "€30", "2k", "powyżej 200 zł", "under $100", "od 50 do 100 zł".
//!
//! Owns the number grammar (decimal comma or dot, thousands by space/dot/comma, decided by the
//! language where a lone separator is ambiguous), the currency words and the comparator words.
//! Values stay exact `Decimal`s with the scale the customer gave ("120.50" stays "120.50", "50"
//! stays "50"). It never guesses a currency the customer did not say.

use std::str::FromStr;

use okienko_core::{Currency, Lang};
use rust_decimal::Decimal;

use crate::text::{Kind, Token};

/// The largest amount taken from chat text; anything bigger is not an amount a customer means.
const MAX_AMOUNT: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Amounts {
    pub amount: Option<Decimal>,
    pub amount_min: Option<Decimal>,
    pub amount_max: Option<Decimal>,
    pub currency: Option<Currency>,
}

/// How the intent wants plain amounts read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Search filters: comparators give bounds; a bare number without currency or comparator is ignored.
    Filter,
    /// Alerts: like filters, but a bare number counts.
    Alert,
    /// Money movement: every amount is *the* amount, comparators are ignored, bare numbers count.
    Transfer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Min,
    Max,
}

#[derive(Debug, Clone)]
struct Candidate {
    start: usize,
    end: usize, // inclusive
    value: Decimal,
    /// For "50-100" written as one token.
    range_to: Option<Decimal>,
    currency: Option<Currency>,
    /// No currency, no multiplier: just a number.
    bare: bool,
}

/// Currency named by a word or symbol (folded), if any.
pub fn currency_word(fold: &str) -> Option<Currency> {
    let code = match fold {
        "zl" | "zloty" | "zlote" | "zlotych" | "zlotego" | "zlotowek" | "zlotowki" | "zlotowka"
        | "zlotowke" | "pln" | "złoty" => "PLN",
        "$" | "usd" | "dolar" | "dolary" | "dolarow" | "dolara" | "dolarach" | "dollar"
        | "dollars" | "buck" | "bucks" | "dolce" | "dolcow" => "USD",
        "€" | "eur" | "euro" | "euros" | "eurasow" | "eurasy" => "EUR",
        "£" | "gbp" | "funt" | "funty" | "funtow" | "funta" | "pound" | "pounds" | "quid" => "GBP",
        "chf" | "frank" | "franki" | "frankow" | "franka" | "francs" | "franc" => "CHF",
        "jpy" | "yen" | "jenow" | "jeny" => "JPY",
        "czk" | "sek" | "nok" | "dkk" | "huf" | "uah" => return Currency::from_str(fold).ok(),
        _ => return None,
    };
    Currency::from_str(code).ok()
}

fn multiplier(fold: &str, no_gap: bool) -> Option<Decimal> {
    match fold {
        "k" if no_gap => Some(Decimal::from(1000)),
        "tys" | "tysiac" | "tysiace" | "tysiecy" | "tysiaka" | "tysiaki" | "thousand" | "grand"
        | "kola" | "patyk" | "patyki" | "patykow" => Some(Decimal::from(1000)),
        "mln" | "milion" | "miliony" | "milionow" | "million" | "millions" => {
            Some(Decimal::from(1_000_000))
        }
        _ => None,
    }
}

/// Slang words that are amounts on their own ("stówa" = 100 zł).
fn slang_amount(fold: &str) -> Option<(Decimal, Currency)> {
    match fold {
        "stowa" | "stowe" | "stowka" | "stowke" | "stowy" | "stowki" => {
            Some((Decimal::from(100), Currency::PLN))
        }
        "dycha" | "dyche" | "dyszka" | "dyszke" => Some((Decimal::from(10), Currency::PLN)),
        "pol" | "polowe" => None,
        _ => None,
    }
}

/// Parses a number as written in chat ("120,50", "1.234,56", "1,234.56", "1 200" after merging).
/// A lone separator followed by exactly three digits is a thousands separator, except a Polish
/// comma, which is always decimal ("1,500" in Polish is one and a half).
pub fn parse_number(raw: &str, lang: Lang) -> Option<Decimal> {
    if raw.is_empty()
        || raw.len() > 24
        || !raw
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
    {
        return None;
    }
    if !raw.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let dots = raw.matches('.').count();
    let commas = raw.matches(',').count();
    let normal: String = if dots > 0 && commas > 0 {
        // The later separator is the decimal one.
        let last_dot = raw.rfind('.').unwrap_or(0);
        let last_comma = raw.rfind(',').unwrap_or(0);
        let (dec, thou) = if last_dot > last_comma {
            ('.', ',')
        } else {
            (',', '.')
        };
        if raw.matches(dec).count() > 1 {
            return None;
        }
        raw.replace(thou, "").replace(dec, ".")
    } else if dots + commas == 0 {
        raw.to_owned()
    } else {
        let sep = if dots > 0 { '.' } else { ',' };
        let groups: Vec<&str> = raw.split(sep).collect();
        let thousands_shape =
            groups[0].len() <= 3 && groups[0] != "0" && groups[1..].iter().all(|g| g.len() == 3);
        if groups.len() > 2 {
            if !thousands_shape {
                return None;
            }
            raw.replace(sep, "")
        } else if thousands_shape && !(sep == ',' && lang == Lang::Pl) {
            raw.replace(sep, "")
        } else {
            raw.replace(sep, ".")
        }
    };
    let d = Decimal::from_str(&normal).ok()?;
    (d <= Decimal::from(MAX_AMOUNT)).then_some(d)
}

fn is_currency_at(tokens: &[Token], i: usize) -> Option<Currency> {
    let t = tokens.get(i)?;
    match t.kind {
        Kind::Word | Kind::Symbol => currency_word(&t.fold),
        _ => None,
    }
}

/// A number token that could be an amount (not a date, not a range of days with slashes).
fn amount_number(t: &Token, lang: Lang) -> Option<(Decimal, Option<Decimal>)> {
    if t.kind != Kind::Number || t.raw.contains('/') {
        return None;
    }
    if let Some((a, b)) = t.raw.split_once('-') {
        let a = parse_number(a, lang)?;
        let b = parse_number(b, lang)?;
        return (a < b).then_some((a, Some(b)));
    }
    parse_number(&t.raw, lang).map(|d| (d, None))
}

/// Words after which a bare number is an account or phone number, not money.
fn not_money_context(fold: &str) -> bool {
    matches!(
        fold,
        "konto"
            | "konta"
            | "numer"
            | "nr"
            | "telefon"
            | "tel"
            | "account"
            | "number"
            | "phone"
            | "iban"
            | "kod"
            | "code"
            | "pin"
            | "karta"
            | "karty"
            | "card"
            | "ostatnie"
            | "ostatnich"
            | "last"
            | "top"
            | "dni"
            | "days"
    )
}

fn scan(tokens: &[Token], used: &[bool], lang: Lang) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if used[i] {
            i += 1;
            continue;
        }
        let t = &tokens[i];
        // Slang amount word.
        if t.kind == Kind::Word
            && let Some((v, c)) = slang_amount(&t.fold)
        {
            out.push(Candidate {
                start: i,
                end: i,
                value: v,
                range_to: None,
                currency: Some(c),
                bare: false,
            });
            i += 1;
            continue;
        }
        // A multiplier word alone before a currency: "a thousand pounds", "tysiąc złotych".
        if t.kind == Kind::Word
            && t.fold != "k"
            && let Some(m) = multiplier(&t.fold, false)
            && let Some(c) = is_currency_at(tokens, i + 1)
            && !used.get(i + 1).copied().unwrap_or(true)
        {
            out.push(Candidate {
                start: i,
                end: i + 1,
                value: m,
                range_to: None,
                currency: Some(c),
                bare: false,
            });
            i += 2;
            continue;
        }
        // Currency before the number: "$20", "PLN 50".
        if let Some(cur) = is_currency_at(tokens, i)
            && let Some(n) = tokens.get(i + 1)
            && !used.get(i + 1).copied().unwrap_or(true)
            && let Some((v, r)) = amount_number(n, lang)
        {
            let mut end = i + 1;
            let mut value = v;
            if let Some(m) = tokens
                .get(end + 1)
                .and_then(|m| multiplier(&m.fold, !m.gap_before))
            {
                value = (value * m).normalize();
                end += 1;
            }
            out.push(Candidate {
                start: i,
                end,
                value,
                range_to: r,
                currency: Some(cur),
                bare: false,
            });
            i = end + 1;
            continue;
        }
        if let Some((first, range_to)) = amount_number(t, lang) {
            // Merge "1 200 000" when a currency follows the groups.
            let mut end = i;
            let mut raw = t.raw.clone();
            if range_to.is_none() && t.is_plain_int() && t.raw.len() <= 3 {
                let mut j = i + 1;
                let mut merged = raw.clone();
                while let Some(g) = tokens.get(j) {
                    if g.is_plain_int() && g.raw.len() == 3 && g.gap_before && !used[j] {
                        merged.push_str(&g.raw);
                        j += 1;
                    } else {
                        break;
                    }
                }
                if j > i + 1 && is_currency_at(tokens, j).is_some() {
                    raw = merged;
                    end = j - 1;
                }
            }
            let mut value = if end == i {
                first
            } else {
                parse_number(&raw, lang).unwrap_or(first)
            };
            let mut range_to = range_to;
            let mut bare = true;
            if let Some(m) = tokens
                .get(end + 1)
                .and_then(|m| multiplier(&m.fold, !m.gap_before))
            {
                value = (value * m).normalize();
                range_to = range_to.map(|r| (r * m).normalize());
                end += 1;
                bare = false;
            }
            let mut currency = None;
            if let Some(c) = is_currency_at(tokens, end + 1) {
                currency = Some(c);
                end += 1;
                bare = false;
            }
            if bare && t.raw.contains(['.', ',']) && t.raw.split(['.', ',']).count() > 2 {
                // "01.03.2025"-like leftovers are not amounts.
                i = end + 1;
                continue;
            }
            out.push(Candidate {
                start: i,
                end,
                value,
                range_to,
                currency,
                bare,
            });
            i = end + 1;
            continue;
        }
        i += 1;
    }
    out
}

fn folds_before(tokens: &[Token], start: usize, n: usize) -> Vec<&str> {
    let from = start.saturating_sub(n);
    tokens[from..start]
        .iter()
        .map(|t| t.fold.as_str())
        .collect()
}

/// The comparator written right before an amount, if any.
fn comparator(tokens: &[Token], start: usize) -> Option<Bound> {
    let w = folds_before(tokens, start, 3);
    let last = |k: usize| -> &str { if w.len() >= k { w[w.len() - k] } else { "" } };
    let (a, b, c) = (last(3), last(2), last(1));
    let than = matches!(c, "niz" | "od" | "than");
    let negated = |x: &str| matches!(x, "nie" | "no" | "not");
    if than {
        let more = matches!(
            b,
            "wiecej"
                | "wieksze"
                | "wiekszych"
                | "wieksza"
                | "wiekszy"
                | "drozsze"
                | "drozszych"
                | "drozszy"
                | "wyzsze"
                | "wyzszych"
                | "more"
                | "greater"
                | "bigger"
                | "larger"
                | "higher"
        );
        let less = matches!(
            b,
            "mniej"
                | "mniejsze"
                | "mniejszych"
                | "mniejsza"
                | "mniejszy"
                | "tansze"
                | "tanszych"
                | "tanszy"
                | "nizsze"
                | "nizszych"
                | "less"
                | "smaller"
                | "cheaper"
                | "lower"
                | "fewer"
        );
        if more {
            return Some(if negated(a) { Bound::Max } else { Bound::Min });
        }
        if less {
            return Some(if negated(a) { Bound::Min } else { Bound::Max });
        }
    }
    match (b, c) {
        ("co", "najmniej") | ("at", "least") | ("nie", "mniej") => return Some(Bound::Min),
        ("at", "most") | ("up", "to") | ("nie", "wiecej") => return Some(Bound::Max),
        _ => {}
    }
    match c {
        "powyzej" | "ponad" | "conajmniej" | "minimum" | "min" | "przynajmniej" | "od"
        | "przekraczajace" | "przekraczajacych" | "przekracza" | "over" | "above" | "exceeding"
        | "exceeds" | "exceed" | ">" => Some(Bound::Min),
        "ponizej" | "do" | "maksymalnie" | "max" | "maks" | "najwyzej" | "under" | "below"
        | "<" => Some(Bound::Max),
        _ => None,
    }
}

/// Two amounts joined as a range: "od 50 do 100", "między 50 a 100", "between 50 and 100",
/// "50 - 100", "from 50 to 100".
fn joined_as_range(tokens: &[Token], a: &Candidate, b: &Candidate) -> bool {
    if b.start != a.end + 2 {
        return false;
    }
    let mid = tokens[a.end + 1].fold.as_str();
    let before = if a.start > 0 {
        tokens[a.start - 1].fold.as_str()
    } else {
        ""
    };
    match mid {
        "-" => true,
        "do" => before == "od",
        "to" => {
            matches!(before, "from" | "between") || a.currency.is_some() || b.currency.is_some()
        }
        "a" | "i" => matches!(before, "miedzy" | "pomiedzy"),
        "and" => before == "between",
        _ => false,
    }
}

/// Reads the amounts in `tokens`, skipping tokens already `used` (dates), and marks what it takes.
pub fn extract(tokens: &[Token], used: &mut [bool], lang: Lang, mode: Mode) -> Amounts {
    let cands = scan(tokens, used, lang);
    let mut out = Amounts::default();
    let mut k = 0;
    while k < cands.len() {
        let c = &cands[k];
        let next = cands.get(k + 1);
        // Ranges.
        let range = if let Some(to) = c.range_to {
            Some((c.value, to, c.currency, c.end))
        } else if let Some(n) = next.filter(|n| joined_as_range(tokens, c, n)) {
            let currency = c.currency.or(n.currency);
            let (lo, hi) = if c.value <= n.value {
                (c.value, n.value)
            } else {
                (n.value, c.value)
            };
            Some((lo, hi, currency, n.end))
        } else {
            None
        };
        if let Some((lo, hi, cur, end)) = range {
            let skip_pair = c.range_to.is_none();
            for u in used.iter_mut().take(end + 1).skip(c.start) {
                *u = true;
            }
            if mode == Mode::Transfer {
                out.amount.get_or_insert(lo);
            } else {
                out.amount_min.get_or_insert(lo);
                out.amount_max.get_or_insert(hi);
            }
            if out.currency.is_none() {
                out.currency = cur;
            }
            k += if skip_pair { 2 } else { 1 };
            continue;
        }
        let bound = comparator(tokens, c.start);
        let prev_fold = if c.start > 0 {
            tokens[c.start - 1].fold.as_str()
        } else {
            ""
        };
        let digits = c.value.trunc().to_string().len();
        let bare_ok = match mode {
            Mode::Filter => bound.is_some(),
            Mode::Alert | Mode::Transfer => bound.is_some() || !not_money_context(prev_fold),
        } && digits <= 7;
        if c.bare && !bare_ok {
            k += 1;
            continue;
        }
        for u in used.iter_mut().take(c.end + 1).skip(c.start) {
            *u = true;
        }
        match (mode, bound) {
            (Mode::Transfer, _) | (_, None) => {
                out.amount.get_or_insert(c.value);
            }
            (_, Some(Bound::Min)) => {
                out.amount_min.get_or_insert(c.value);
            }
            (_, Some(Bound::Max)) => {
                out.amount_max.get_or_insert(c.value);
            }
        }
        if out.currency.is_none() {
            out.currency = c.currency;
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn run(text: &str, mode: Mode) -> Amounts {
        let tokens = tokenize(text);
        let mut used = vec![false; tokens.len()];
        extract(&tokens, &mut used, Lang::Pl, mode)
    }

    fn s(d: Option<Decimal>) -> Option<String> {
        d.map(|d| d.to_string())
    }

    #[test]
    fn numbers() {
        assert_eq!(
            parse_number("120,50", Lang::Pl).map(|d| d.to_string()),
            Some("120.50".into())
        );
        assert_eq!(
            parse_number("120.50", Lang::En).map(|d| d.to_string()),
            Some("120.50".into())
        );
        assert_eq!(
            parse_number("1.234,56", Lang::Pl).map(|d| d.to_string()),
            Some("1234.56".into())
        );
        assert_eq!(
            parse_number("1,234.56", Lang::En).map(|d| d.to_string()),
            Some("1234.56".into())
        );
        assert_eq!(
            parse_number("1,500", Lang::En).map(|d| d.to_string()),
            Some("1500".into())
        );
        assert_eq!(
            parse_number("1,500", Lang::Pl).map(|d| d.to_string()),
            Some("1.500".into())
        );
        assert_eq!(
            parse_number("1.500", Lang::Pl).map(|d| d.to_string()),
            Some("1500".into())
        );
        assert_eq!(
            parse_number("50", Lang::Pl).map(|d| d.to_string()),
            Some("50".into())
        );
        assert_eq!(parse_number("1.2.3", Lang::Pl), None);
        assert_eq!(parse_number("99999999999999999999", Lang::Pl), None);
    }

    #[test]
    fn plain_amounts_with_currency() {
        for (text, amount, cur) in [
            ("50 zł", "50", "PLN"),
            ("50zl", "50", "PLN"),
            ("120,50 PLN", "120.50", "PLN"),
            ("1 200 zł", "1200", "PLN"),
            ("$20", "20", "USD"),
            ("20 dollars", "20", "USD"),
            ("30 euro", "30", "EUR"),
            ("€30", "30", "EUR"),
            ("100 USD", "100", "USD"),
            ("2k zł", "2000", "PLN"),
            ("2,5 tys. zł", "2500", "PLN"),
            ("PLN 75", "75", "PLN"),
            ("stówę", "100", "PLN"),
        ] {
            let a = run(text, Mode::Filter);
            assert_eq!(s(a.amount).as_deref(), Some(amount), "{text}");
            assert_eq!(
                a.currency.map(|c| c.code().to_owned()).as_deref(),
                Some(cur),
                "{text}"
            );
        }
    }

    #[test]
    fn bounds() {
        for (text, min, max) in [
            ("powyżej 200 zł", Some("200"), None),
            ("ponad 200 zl", Some("200"), None),
            ("więcej niż 200 zł", Some("200"), None),
            ("over $100", Some("100"), None),
            ("above 100 USD", Some("100"), None),
            ("more than $100", Some("100"), None),
            ("at least 40 euro", Some("40"), None),
            ("poniżej 50 zł", None, Some("50")),
            ("mniej niż 50 zł", None, Some("50")),
            ("do 50 zł", None, Some("50")),
            ("nie więcej niż 50 zł", None, Some("50")),
            ("under $30", None, Some("30")),
            ("below 30 dollars", None, Some("30")),
            ("less than 30 euro", None, Some("30")),
            ("up to $30", None, Some("30")),
            ("od 50 do 100 zł", Some("50"), Some("100")),
            ("między 50 a 100 zł", Some("50"), Some("100")),
            ("between $50 and $100", Some("50"), Some("100")),
            ("50-100 zł", Some("50"), Some("100")),
            ("50 - 100 zł", Some("50"), Some("100")),
            ("powyżej 200", Some("200"), None),
        ] {
            let a = run(text, Mode::Filter);
            assert_eq!(s(a.amount_min).as_deref(), min, "{text}");
            assert_eq!(s(a.amount_max).as_deref(), max, "{text}");
            assert_eq!(a.amount, None, "{text}");
        }
    }

    #[test]
    fn bare_numbers_depend_on_mode() {
        assert_eq!(
            run("ostatnie 5 transakcji", Mode::Filter),
            Amounts::default()
        );
        assert_eq!(
            s(run("przelej Annie 50", Mode::Transfer).amount).as_deref(),
            Some("50")
        );
        assert_eq!(run("przelej na konto 12345", Mode::Transfer).amount, None);
        let a = run("przelej do Tomka 50 zł", Mode::Transfer);
        assert_eq!(s(a.amount).as_deref(), Some("50"));
        assert_eq!(a.amount_max, None);
    }
}
