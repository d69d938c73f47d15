//! Dates and periods in chat text, resolved against "today" to an inclusive range of days.
//!
//! Owns the Polish and English date grammar: relative days ("wczoraj", "yesterday"), calendar
//! periods ("w zeszłym tygodniu" = Monday..Sunday of the previous ISO week, "w tym miesiącu" =
//! the 1st..today), month names in every Polish case and without diacritics (the most recent
//! such month not after today), days ("1 listopada", "November 1st", "01.03.2025",
//! "2025-03-01"), day ranges ("1-15 października"), rolling windows ("ostatnie 30 dni"), years,
//! weekdays, and "od/since X" (X..today). Numeric dates are day-first (Polish habit); slashes
//! are month-first in English only. It never reads amounts.

use chrono::{Datelike, Duration, Months, NaiveDate, Weekday};
use okienko_core::Lang;

use crate::fuzzy;
use crate::text::{Kind, Token};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateSpan {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExprKind {
    /// Already a from..to range ("1-15 października"): a leading "od" does not extend it.
    Range,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Expr {
    start: usize,
    end: usize,
    from: NaiveDate,
    to: NaiveDate,
    kind: ExprKind,
}

/// (folded form, month). Polish: every case in use; English: full names.
const MONTHS: &[(&str, u32)] = &[
    ("styczen", 1),
    ("stycznia", 1),
    ("styczniu", 1),
    ("styczniem", 1),
    ("luty", 2),
    ("lutego", 2),
    ("lutym", 2),
    ("lutemu", 2),
    ("marzec", 3),
    ("marca", 3),
    ("marcu", 3),
    ("marcem", 3),
    ("kwiecien", 4),
    ("kwietnia", 4),
    ("kwietniu", 4),
    ("kwietniem", 4),
    ("maj", 5),
    ("maja", 5),
    ("maju", 5),
    ("majem", 5),
    ("czerwiec", 6),
    ("czerwca", 6),
    ("czerwcu", 6),
    ("czerwcem", 6),
    ("lipiec", 7),
    ("lipca", 7),
    ("lipcu", 7),
    ("lipcem", 7),
    ("sierpien", 8),
    ("sierpnia", 8),
    ("sierpniu", 8),
    ("sierpniem", 8),
    ("wrzesien", 9),
    ("wrzesnia", 9),
    ("wrzesniu", 9),
    ("wrzesniem", 9),
    ("pazdziernik", 10),
    ("pazdziernika", 10),
    ("pazdzierniku", 10),
    ("pazdziernikiem", 10),
    ("listopad", 11),
    ("listopada", 11),
    ("listopadzie", 11),
    ("listopadem", 11),
    ("grudzien", 12),
    ("grudnia", 12),
    ("grudniu", 12),
    ("grudniem", 12),
    ("january", 1),
    ("february", 2),
    ("april", 4),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
];

/// English month words that are also ordinary words or names ("may", "march", "jan"): months
/// only next to a day number, a year, or after a date preposition.
const WEAK_MONTHS: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("march", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];

const WEEKDAYS: &[(&str, Weekday)] = &[
    ("poniedzialek", Weekday::Mon),
    ("poniedzialku", Weekday::Mon),
    ("monday", Weekday::Mon),
    ("wtorek", Weekday::Tue),
    ("wtorku", Weekday::Tue),
    ("tuesday", Weekday::Tue),
    ("sroda", Weekday::Wed),
    ("srode", Weekday::Wed),
    ("srody", Weekday::Wed),
    ("srodzie", Weekday::Wed),
    ("wednesday", Weekday::Wed),
    ("czwartek", Weekday::Thu),
    ("czwartku", Weekday::Thu),
    ("thursday", Weekday::Thu),
    ("piatek", Weekday::Fri),
    ("piatku", Weekday::Fri),
    ("friday", Weekday::Fri),
    ("sobota", Weekday::Sat),
    ("sobote", Weekday::Sat),
    ("soboty", Weekday::Sat),
    ("sobocie", Weekday::Sat),
    ("saturday", Weekday::Sat),
    ("niedziela", Weekday::Sun),
    ("niedziele", Weekday::Sun),
    ("niedzieli", Weekday::Sun),
    ("sunday", Weekday::Sun),
];

fn strong_month(fold: &str) -> Option<u32> {
    if let Some((_, m)) = MONTHS.iter().find(|(w, _)| *w == fold) {
        return Some(*m);
    }
    // Typos in the long Polish names ("pazdzernika"), never in short words.
    if fold.chars().count() >= 7 {
        return MONTHS
            .iter()
            .find(|(w, _)| w.len() >= 7 && fuzzy::word_matches(w, fold))
            .map(|(_, m)| *m);
    }
    None
}

fn weak_month(fold: &str) -> Option<u32> {
    WEAK_MONTHS
        .iter()
        .find(|(w, _)| *w == fold)
        .map(|(_, m)| *m)
}

fn weekday(fold: &str) -> Option<Weekday> {
    WEEKDAYS.iter().find(|(w, _)| *w == fold).map(|(_, d)| *d)
}

/// A word that names a date or period (month, weekday, unit, relative day): never a name.
pub fn is_calendar_word(fold: &str) -> bool {
    strong_month(fold).is_some()
        || weak_month(fold).is_some()
        || weekday(fold).is_some()
        || unit(fold).is_some()
        || matches!(
            fold,
            "dzisiaj" | "dzis" | "today" | "wczoraj" | "yesterday" | "przedwczoraj" | "weekend"
        )
}

fn number_word(fold: &str) -> Option<u32> {
    Some(match fold {
        "jeden" | "jedna" | "jednego" | "one" | "a" => 1,
        "dwa" | "dwie" | "dwoch" | "dwu" | "two" => 2,
        "trzy" | "trzech" | "three" => 3,
        "cztery" | "czterech" | "four" => 4,
        "piec" | "pieciu" | "five" => 5,
        "szesc" | "szesciu" | "six" => 6,
        "siedem" | "siedmiu" | "seven" => 7,
        "osiem" | "osmiu" | "eight" => 8,
        "dziewiec" | "dziewieciu" | "nine" => 9,
        "dziesiec" | "dziesieciu" | "ten" => 10,
        "czternascie" | "czternastu" | "fourteen" => 14,
        "trzydziesci" | "trzydziestu" | "thirty" => 30,
        "szescdziesiat" | "szescdziesieciu" | "sixty" => 60,
        "dziewiecdziesiat" | "dziewiecdziesieciu" | "ninety" => 90,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Day,
    Week,
    Month,
    Year,
}

fn unit(fold: &str) -> Option<Unit> {
    Some(match fold {
        "dzien" | "dni" | "dnia" | "dniach" | "day" | "days" => Unit::Day,
        "tydzien" | "tygodnie" | "tygodni" | "tygodniu" | "tygodnia" | "tygodniach" | "week"
        | "weeks" => Unit::Week,
        "miesiac" | "miesiace" | "miesiecy" | "miesiacu" | "miesiaca" | "miesiacach" | "month"
        | "months" => Unit::Month,
        "rok" | "roku" | "lata" | "lat" | "latach" | "year" | "years" => Unit::Year,
        _ => return None,
    })
}

fn is_this(fold: &str) -> bool {
    matches!(
        fold,
        "tym"
            | "ten"
            | "tego"
            | "biezacym"
            | "biezacy"
            | "biezacego"
            | "obecnym"
            | "obecny"
            | "obecnego"
            | "this"
            | "current"
    )
}

fn is_last(fold: &str) -> bool {
    matches!(
        fold,
        "zeszlym"
            | "zeszly"
            | "zeszlego"
            | "ostatnim"
            | "ostatni"
            | "ostatniego"
            | "ubieglym"
            | "ubiegly"
            | "ubieglego"
            | "poprzednim"
            | "poprzedni"
            | "poprzedniego"
            | "last"
            | "previous"
            | "prior"
    )
}

fn is_recent(fold: &str) -> bool {
    matches!(
        fold,
        "ostatnie" | "ostatnich" | "ostatni" | "last" | "past" | "previous"
    )
}

fn is_since(fold: &str) -> bool {
    matches!(fold, "od" | "since" | "from" | "starting")
}

fn is_until(fold: &str) -> bool {
    matches!(fold, "do" | "until" | "till" | "to" | "through")
}

fn is_date_prep(fold: &str) -> bool {
    is_since(fold) || is_until(fold) || matches!(fold, "z" | "dnia" | "on" | "w" | "dzien" | "of")
}

fn last_of_month(y: i32, m: u32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(y, m, 1)?;
    first.checked_add_months(Months::new(1))?.pred_opt()
}

fn month_span(y: i32, m: u32, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let from = NaiveDate::from_ymd_opt(y, m, 1)?;
    let to = if y == today.year() && m == today.month() {
        today
    } else {
        last_of_month(y, m)?
    };
    Some((from, to))
}

/// The year in which (month, day) was most recently reached, not after today.
fn recent_year(m: u32, d: u32, today: NaiveDate) -> i32 {
    if (m, d) > (today.month(), today.day()) {
        today.year() - 1
    } else {
        today.year()
    }
}

fn recent_day(m: u32, d: u32, today: NaiveDate) -> Option<NaiveDate> {
    let y = recent_year(m, d, today);
    NaiveDate::from_ymd_opt(y, m, d).or_else(|| NaiveDate::from_ymd_opt(y - 1, m, d))
}

fn year_value(t: &Token) -> Option<i32> {
    if !t.is_plain_int() || t.raw.len() != 4 {
        return None;
    }
    let y: i32 = t.raw.parse().ok()?;
    (1900..=2100).contains(&y).then_some(y)
}

fn day_value(t: &Token) -> Option<u32> {
    if !t.is_plain_int() || t.raw.len() > 2 {
        return None;
    }
    let d: u32 = t.raw.parse().ok()?;
    (1..=31).contains(&d).then_some(d)
}

fn day_range_value(t: &Token) -> Option<(u32, u32)> {
    if t.kind != Kind::Number {
        return None;
    }
    let (a, b) = t.raw.split_once('-')?;
    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
    (a.to_string().len() <= 2 && (1..=31).contains(&a) && (1..=31).contains(&b) && a < b)
        .then_some((a, b))
}

fn expand_year(y: &str) -> Option<i32> {
    let v: i32 = y.parse().ok()?;
    match y.len() {
        4 => Some(v),
        2 => Some(2000 + v),
        _ => None,
    }
}

/// "01.03.2025", "1.3.25", "2025-03-01", "01/03/2025" (month-first in English), "01.03" (only
/// where `context` says a date is meant).
fn numeric_date(raw: &str, today: NaiveDate, lang: Lang, context: bool) -> Option<NaiveDate> {
    let parts: Vec<&str> = raw.split(['.', '-', '/']).collect();
    if parts.iter().any(|p| p.is_empty() || p.len() > 4) {
        return None;
    }
    let sep = raw.chars().find(|c| matches!(c, '.' | '-' | '/'))?;
    if raw
        .chars()
        .filter(|c| matches!(c, '.' | '-' | '/'))
        .any(|c| c != sep)
    {
        return None;
    }
    let n = |s: &str| s.parse::<u32>().ok();
    match (parts.as_slice(), sep) {
        ([y, m, d], '-') if y.len() == 4 => NaiveDate::from_ymd_opt(expand_year(y)?, n(m)?, n(d)?),
        ([d, m, y], '.') if d.len() <= 2 && m.len() <= 2 => {
            NaiveDate::from_ymd_opt(expand_year(y)?, n(m)?, n(d)?)
        }
        ([a, b, y], '/') if a.len() <= 2 && b.len() <= 2 => {
            let (m, d) = if lang == Lang::En { (a, b) } else { (b, a) };
            NaiveDate::from_ymd_opt(expand_year(y)?, n(m)?, n(d)?)
        }
        ([d, m], '.') if context && d.len() <= 2 && m.len() == 2 => {
            let (m, d) = (n(m)?, n(d)?);
            NaiveDate::from_ymd_opt(today.year(), m, d)?;
            recent_day(m, d, today)
        }
        _ => None,
    }
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

fn period(u: Unit, this: bool, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    match (u, this) {
        (Unit::Day, true) => Some((today, today)),
        (Unit::Day, false) => today.pred_opt().map(|d| (d, d)),
        (Unit::Week, true) => Some((monday_of(today), today)),
        (Unit::Week, false) => {
            let mon = monday_of(today) - Duration::days(7);
            Some((mon, mon + Duration::days(6)))
        }
        (Unit::Month, true) => month_span(today.year(), today.month(), today),
        (Unit::Month, false) => {
            let prev = today.with_day(1)?.pred_opt()?;
            month_span(prev.year(), prev.month(), today)
        }
        (Unit::Year, true) => Some((NaiveDate::from_ymd_opt(today.year(), 1, 1)?, today)),
        (Unit::Year, false) => Some((
            NaiveDate::from_ymd_opt(today.year() - 1, 1, 1)?,
            NaiveDate::from_ymd_opt(today.year() - 1, 12, 31)?,
        )),
    }
}

/// The last `n` units up to and including today ("ostatnie 30 dni" = today-29..today).
fn rolling(u: Unit, n: u32, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    if n == 0 || n > 3660 {
        return None;
    }
    let from = match u {
        Unit::Day => today.checked_sub_signed(Duration::days(i64::from(n) - 1))?,
        Unit::Week => today.checked_sub_signed(Duration::days(i64::from(n) * 7 - 1))?,
        Unit::Month => today.checked_sub_months(Months::new(n))?.succ_opt()?,
        Unit::Year => today
            .checked_sub_months(Months::new(n.checked_mul(12)?))?
            .succ_opt()?,
    };
    Some((from, today))
}

fn ago(u: Unit, n: u32, today: NaiveDate) -> Option<NaiveDate> {
    if n > 3660 {
        return None;
    }
    match u {
        Unit::Day => today.checked_sub_signed(Duration::days(i64::from(n))),
        Unit::Week => today.checked_sub_signed(Duration::days(i64::from(n) * 7)),
        Unit::Month => today.checked_sub_months(Months::new(n)),
        Unit::Year => today.checked_sub_months(Months::new(n.checked_mul(12)?)),
    }
}

/// `n` units after today (a single day): "in 3 days", "za tydzień", "two weeks from now".
fn ahead(u: Unit, n: u32, today: NaiveDate) -> Option<NaiveDate> {
    if n > 3660 {
        return None;
    }
    match u {
        Unit::Day => today.checked_add_signed(Duration::days(i64::from(n))),
        Unit::Week => today.checked_add_signed(Duration::days(i64::from(n) * 7)),
        Unit::Month => today.checked_add_months(Months::new(n)),
        Unit::Year => today.checked_add_months(Months::new(n.checked_mul(12)?)),
    }
}

/// The calendar period after the current one ("next week" = Monday..Sunday of the next ISO week).
fn next_period(u: Unit, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    match u {
        Unit::Day => today.succ_opt().map(|d| (d, d)),
        Unit::Week => {
            let mon = monday_of(today) + Duration::days(7);
            Some((mon, mon + Duration::days(6)))
        }
        Unit::Month => {
            let first = today.with_day(1)?.checked_add_months(Months::new(1))?;
            Some((first, last_of_month(first.year(), first.month())?))
        }
        Unit::Year => Some((
            NaiveDate::from_ymd_opt(today.year() + 1, 1, 1)?,
            NaiveDate::from_ymd_opt(today.year() + 1, 12, 31)?,
        )),
    }
}

/// "next" in English and Polish ("w przyszłym tygodniu", "w następnym miesiącu").
fn is_next(fold: &str) -> bool {
    matches!(
        fold,
        "next"
            | "przyszlym"
            | "przyszly"
            | "przyszlego"
            | "przyszla"
            | "przyszle"
            | "nastepnym"
            | "nastepny"
            | "nastepnego"
            | "kolejnym"
            | "kolejny"
    )
}

struct Reader<'a> {
    t: &'a [Token],
    today: NaiveDate,
    lang: Lang,
}

impl Reader<'_> {
    fn fold(&self, i: usize) -> &str {
        self.t.get(i).map(|t| t.fold.as_str()).unwrap_or("")
    }

    /// Skips an ordinal suffix glued to a number ("1st") and returns the next index.
    fn after_ordinal(&self, i: usize) -> usize {
        match self.t.get(i) {
            Some(t) if !t.gap_before && matches!(t.fold.as_str(), "st" | "nd" | "rd" | "th") => {
                i + 1
            }
            _ => i,
        }
    }

    fn month_at(&self, i: usize, context: bool) -> Option<u32> {
        let f = self.fold(i);
        strong_month(f).or_else(|| if context { weak_month(f) } else { None })
    }

    fn count_at(&self, i: usize) -> Option<u32> {
        let t = self.t.get(i)?;
        if t.is_plain_int() && t.raw.len() <= 4 {
            return t.raw.parse().ok();
        }
        number_word(&t.fold).filter(|_| t.kind == Kind::Word)
    }

    fn expr(&self, i: usize, from: NaiveDate, to: NaiveDate, end: usize, kind: ExprKind) -> Expr {
        Expr {
            start: i,
            end,
            from,
            to,
            kind,
        }
    }

    /// The date expression starting at token `i`, if any.
    fn at(&self, i: usize) -> Option<Expr> {
        let today = self.today;
        let t = self.t.get(i)?;
        let f = t.fold.as_str();
        let prev = if i > 0 { self.fold(i - 1) } else { "" };

        if t.kind == Kind::Number {
            // Numeric dates and ranges of them.
            let next_is_currency = self
                .t
                .get(i + 1)
                .is_some_and(|n| crate::amount::currency_word(&n.fold).is_some());
            let context = is_date_prep(prev) && !next_is_currency;
            if let Some(d) = numeric_date(&t.raw, today, self.lang, context) {
                return Some(self.expr(i, d, d, i, ExprKind::Other));
            }
            if let Some((a, b)) = t.raw.split_once('-')
                && let (Some(a), Some(b)) = (
                    numeric_date(a, today, self.lang, true),
                    numeric_date(b, today, self.lang, true),
                )
                && a <= b
                && (t.raw.matches('.').count() >= 2 || t.raw.contains('/'))
            {
                return Some(self.expr(i, a, b, i, ExprKind::Range));
            }
            // "1-15 października [2025]"
            if let Some((a, b)) = day_range_value(t) {
                let j = self.after_ordinal(i + 1);
                let j = if self.fold(j) == "of" { j + 1 } else { j };
                if let Some(m) = self.month_at(j, true) {
                    return self.day_month_range(i, a, b, m, j);
                }
            }
            if let Some(d) = day_value(t) {
                let j = self.after_ordinal(i + 1);
                // "1 do 15 października", "1 to 15 October"
                if matches!(self.fold(j), "do" | "to" | "-" | "until" | "till")
                    && let Some(b) = self.t.get(j + 1).and_then(day_value)
                {
                    let k = self.after_ordinal(j + 2);
                    let k = if self.fold(k) == "of" { k + 1 } else { k };
                    if let Some(m) = self.month_at(k, true)
                        && d < b
                    {
                        return self.day_month_range(i, d, b, m, k);
                    }
                }
                // "1 listopada [2025]", "1st of November"
                let j = if self.fold(j) == "of" { j + 1 } else { j };
                if let Some(m) = self.month_at(j, true) {
                    let (date, end) = self.with_year(m, d, j)?;
                    return Some(self.expr(i, date, date, end, ExprKind::Other));
                }
            }
            // Years: "w 2025", "in 2025", "2025 roku".
            if let Some(y) = year_value(t) {
                let after = self.fold(i + 1);
                let before_ok = matches!(
                    prev,
                    "w" | "in"
                        | "za"
                        | "z"
                        | "during"
                        | "for"
                        | "od"
                        | "since"
                        | "roku"
                        | "year"
                        | "rok"
                        | "of"
                );
                let after_ok = matches!(after, "r" | "rok" | "roku" | "year");
                if (before_ok || after_ok) && !next_is_currency {
                    let from = NaiveDate::from_ymd_opt(y, 1, 1)?;
                    let to = if y == today.year() {
                        today
                    } else {
                        NaiveDate::from_ymd_opt(y, 12, 31)?
                    };
                    let end = if after_ok { i + 1 } else { i };
                    return Some(self.expr(i, from, to, end, ExprKind::Other));
                }
            }
            // "30 dni temu", "3 days ago"
            if let Some(n) = self.count_at(i)
                && let Some(u) = unit(self.fold(i + 1))
                && matches!(self.fold(i + 2), "temu" | "ago")
            {
                let d = ago(u, n, today)?;
                return Some(self.expr(i, d, d, i + 2, ExprKind::Other));
            }
            // "2 days from now"
            if let Some(n) = self.count_at(i)
                && let Some(u) = unit(self.fold(i + 1))
                && self.fold(i + 2) == "from"
                && self.fold(i + 3) == "now"
            {
                let d = ahead(u, n, today)?;
                return Some(self.expr(i, d, d, i + 3, ExprKind::Other));
            }
            // A bare ordinal day, "the 16th": that day of this month if reached, else of the
            // previous month (dates are read as the past unless the words say otherwise).
            if let Some(d) = day_value(t)
                && self.after_ordinal(i + 1) == i + 2
            {
                let this = NaiveDate::from_ymd_opt(today.year(), today.month(), d);
                let date = match this {
                    Some(x) if x <= today => x,
                    _ => {
                        let prev = today.with_day(1)?.pred_opt()?;
                        NaiveDate::from_ymd_opt(prev.year(), prev.month(), d)?
                    }
                };
                return Some(self.expr(i, date, date, i + 1, ExprKind::Other));
            }
            return None;
        }
        if t.kind != Kind::Word {
            return None;
        }
        match f {
            "dzisiaj" | "dzis" | "today" | "dzisiejsze" | "dzisiejszych" | "tonight" => {
                return Some(self.expr(i, today, today, i, ExprKind::Other));
            }
            "wczoraj" | "yesterday" | "wczorajsze" | "wczorajszych" => {
                let d = today.pred_opt()?;
                return Some(self.expr(i, d, d, i, ExprKind::Other));
            }
            "przedwczoraj" => {
                let d = today.checked_sub_signed(Duration::days(2))?;
                return Some(self.expr(i, d, d, i, ExprKind::Other));
            }
            "jutro" | "tomorrow" | "jutrzejsze" => {
                let d = today.succ_opt()?;
                return Some(self.expr(i, d, d, i, ExprKind::Other));
            }
            "pojutrze" => {
                let d = today.checked_add_signed(Duration::days(2))?;
                return Some(self.expr(i, d, d, i, ExprKind::Other));
            }
            "ytd" => {
                return period(Unit::Year, true, today)
                    .map(|(a, b)| self.expr(i, a, b, i, ExprKind::Other));
            }
            "mtd" => {
                return period(Unit::Month, true, today)
                    .map(|(a, b)| self.expr(i, a, b, i, ExprKind::Other));
            }
            _ => {}
        }
        // "day before yesterday", "day after tomorrow"
        if f == "day" && self.fold(i + 1) == "before" && self.fold(i + 2) == "yesterday" {
            let d = today.checked_sub_signed(Duration::days(2))?;
            return Some(self.expr(i, d, d, i + 2, ExprKind::Other));
        }
        if f == "day" && self.fold(i + 1) == "after" && self.fold(i + 2) == "tomorrow" {
            let d = today.checked_add_signed(Duration::days(2))?;
            return Some(self.expr(i, d, d, i + 2, ExprKind::Other));
        }
        // "two days ago", "three weeks ago", "two days from now"
        if let Some(n) = self.count_at(i)
            && let Some(u) = unit(self.fold(i + 1))
        {
            if matches!(self.fold(i + 2), "temu" | "ago") {
                let d = ago(u, n, today)?;
                return Some(self.expr(i, d, d, i + 2, ExprKind::Other));
            }
            if self.fold(i + 2) == "from" && self.fold(i + 3) == "now" {
                let d = ahead(u, n, today)?;
                return Some(self.expr(i, d, d, i + 3, ExprKind::Other));
            }
        }
        // "last week Monday": that weekday of the previous ISO week.
        if is_last(f)
            && unit(self.fold(i + 1)) == Some(Unit::Week)
            && let Some(w) = weekday(self.fold(i + 2))
        {
            let d = monday_of(today) - Duration::days(7 - i64::from(w.num_days_from_monday()));
            return Some(self.expr(i, d, d, i + 2, ExprKind::Other));
        }
        // "this morning", "this evening": today; "last night": yesterday.
        if (f == "this" || f == "last")
            && matches!(
                self.fold(i + 1),
                "morning" | "afternoon" | "evening" | "night"
            )
        {
            let d = if f == "this" {
                today
            } else {
                today.pred_opt()?
            };
            return Some(self.expr(i, d, d, i + 1, ExprKind::Other));
        }
        // "in 3 days", "in a week", "za 2 tygodnie": that one day ahead.
        if matches!(f, "in" | "za")
            && let Some(n) = self.count_at(i + 1)
            && let Some(u) = unit(self.fold(i + 2))
        {
            let d = ahead(u, n, today)?;
            return Some(self.expr(i, d, d, i + 2, ExprKind::Other));
        }
        // "next week", "w przyszłym miesiącu": the next calendar period.
        if is_next(f)
            && let Some(u) = unit(self.fold(i + 1))
        {
            let (a, b) = next_period(u, today)?;
            return Some(self.expr(i, a, b, i + 1, ExprKind::Other));
        }
        // "this Thursday" = Thursday of this ISO week; "next Sunday" = Sunday of the next one.
        if (is_this(f) || is_next(f))
            && let Some(w) = weekday(self.fold(i + 1))
        {
            let week = if is_next(f) { 7 } else { 0 };
            let d = monday_of(today) + Duration::days(week + i64::from(w.num_days_from_monday()));
            return Some(self.expr(i, d, d, i + 1, ExprKind::Other));
        }
        // "ostatnie 30 dni", "last 3 months", "the past two weeks", "30 ostatnich dni"
        if is_recent(f)
            && let Some(n) = self.count_at(i + 1)
            && let Some(u) = unit(self.fold(i + 2))
        {
            let (a, b) = rolling(u, n, today)?;
            return Some(self.expr(i, a, b, i + 2, ExprKind::Range));
        }
        // "past week" is rolling: the last 7 days.
        if f == "past"
            && let Some(u) = unit(self.fold(i + 1))
        {
            let (a, b) = rolling(u, 1, today)?;
            return Some(self.expr(i, a, b, i + 1, ExprKind::Range));
        }
        // "w tym miesiącu", "last week", "zeszły rok"
        if (is_this(f) || is_last(f))
            && let Some(u) = unit(self.fold(i + 1))
            && u != Unit::Day
        {
            let (a, b) = period(u, is_this(f), today)?;
            return Some(self.expr(i, a, b, i + 1, ExprKind::Other));
        }
        // "od początku miesiąca", "since the start of the year"
        if matches!(f, "poczatku" | "poczatek" | "start" | "beginning") {
            let j = if self.fold(i + 1) == "of" {
                i + 2
            } else {
                i + 1
            };
            let j = if matches!(self.fold(j), "the" | "this") {
                j + 1
            } else {
                j
            };
            if let Some(u) = unit(self.fold(j))
                && u != Unit::Day
            {
                let (a, b) = period(u, true, today)?;
                return Some(self.expr(i, a, b, j, ExprKind::Other));
            }
        }
        if matches!(f, "month" | "year") && self.fold(i + 1) == "to" && self.fold(i + 2) == "date" {
            let u = if f == "month" {
                Unit::Month
            } else {
                Unit::Year
            };
            let (a, b) = period(u, true, today)?;
            return Some(self.expr(i, a, b, i + 2, ExprKind::Other));
        }
        // "tydzień temu", "a month ago"
        if let Some(u) = unit(f)
            && matches!(self.fold(i + 1), "temu" | "ago")
        {
            let d = ago(u, 1, today)?;
            return Some(self.expr(i, d, d, i + 1, ExprKind::Other));
        }
        // Weekend: the most recent Saturday..Sunday not after today.
        if matches!(f, "weekend" | "weekendzie" | "weekendu") {
            let back = match today.weekday() {
                Weekday::Sat => 0,
                Weekday::Sun => 1,
                w => i64::from(w.num_days_from_monday()) + 2,
            };
            let sat = today - Duration::days(back);
            let sun = (sat + Duration::days(1)).min(today);
            return Some(self.expr(i, sat, sun, i, ExprKind::Other));
        }
        if let Some(w) = weekday(f) {
            // "Friday 7 January 2016", "saturday, 28 Feb 2015": the written date decides.
            let j = if self.fold(i + 1) == "," {
                i + 2
            } else {
                i + 1
            };
            if let Some(e) = self
                .at(j)
                .filter(|e| e.from == e.to && e.kind == ExprKind::Other)
            {
                return Some(self.expr(i, e.from, e.to, e.end, ExprKind::Other));
            }
            // "Monday last week"
            if is_last(self.fold(i + 1)) && unit(self.fold(i + 2)) == Some(Unit::Week) {
                let d = monday_of(today) - Duration::days(7 - i64::from(w.num_days_from_monday()));
                return Some(self.expr(i, d, d, i + 2, ExprKind::Other));
            }
        }
        // Weekdays: the most recent such day, today included ("last Tuesday" on a Tuesday: the
        // one before).
        if let Some(w) = weekday(f) {
            let mut back =
                (7 + today.weekday().num_days_from_monday() - w.num_days_from_monday()) % 7;
            if back == 0 && is_last(prev) {
                back = 7;
            }
            let d = today - Duration::days(i64::from(back));
            return Some(self.expr(i, d, d, i, ExprKind::Other));
        }
        // Month names: "w październiku", "pazdziernik", "in October", "October 1st", "Nov 1-15".
        let month_context = matches!(
            prev,
            "in" | "since"
                | "from"
                | "during"
                | "for"
                | "of"
                | "last"
                | "until"
                | "till"
                | "od"
                | "do"
                | "w"
                | "za"
                | "z"
        );
        // "July the 20th": read the day after "the".
        let the = usize::from(
            self.fold(i + 1) == "the" && self.t.get(i + 2).and_then(day_value).is_some(),
        );
        let next = self.t.get(i + 1 + the);
        let next_is_day =
            next.is_some_and(|n| day_value(n).is_some() || day_range_value(n).is_some());
        let next_is_year = next.and_then(year_value).is_some();
        if let Some(m) = self.month_at(i, month_context || next_is_day || next_is_year) {
            if let Some(n) = next {
                if let Some((a, b)) = day_range_value(n) {
                    let end = self.after_ordinal(i + 2).saturating_sub(1);
                    return self.day_month_range(i, a, b, m, end).map(|mut e| {
                        e.start = i;
                        e
                    });
                }
                if let Some(d) = day_value(n) {
                    let j = self.after_ordinal(i + 2 + the);
                    let j = if self.fold(j) == "," { j + 1 } else { j };
                    let (date, end) = match self.t.get(j).and_then(year_value) {
                        Some(y) => (NaiveDate::from_ymd_opt(y, m, d)?, j),
                        None => (recent_day(m, d, today)?, j - 1),
                    };
                    return Some(self.expr(i, date, date, end, ExprKind::Other));
                }
                if let Some(y) = year_value(n) {
                    let from = NaiveDate::from_ymd_opt(y, m, 1)?;
                    let to = if (y, m) == (today.year(), today.month()) {
                        today
                    } else {
                        last_of_month(y, m)?
                    };
                    let end = if matches!(self.fold(i + 2), "r" | "roku") {
                        i + 2
                    } else {
                        i + 1
                    };
                    return Some(self.expr(i, from, to, end, ExprKind::Other));
                }
            }
            let y = if m > today.month() {
                today.year() - 1
            } else {
                today.year()
            };
            let (a, b) = month_span(y, m, today)?;
            return Some(self.expr(i, a, b, i, ExprKind::Other));
        }
        None
    }

    /// The date (month, day), with a year right after the month if written, else the most recent.
    fn with_year(&self, m: u32, d: u32, month_idx: usize) -> Option<(NaiveDate, usize)> {
        if let Some(y) = self.t.get(month_idx + 1).and_then(year_value) {
            return Some((NaiveDate::from_ymd_opt(y, m, d)?, month_idx + 1));
        }
        Some((recent_day(m, d, self.today)?, month_idx))
    }

    fn day_month_range(&self, i: usize, a: u32, b: u32, m: u32, month_idx: usize) -> Option<Expr> {
        let (from, end) = self.with_year(m, a, month_idx)?;
        let to =
            NaiveDate::from_ymd_opt(from.year(), m, b).or_else(|| last_of_month(from.year(), m))?;
        Some(self.expr(i, from, to, end, ExprKind::Range))
    }
}

/// Finds the date range the message talks about and marks the tokens it used.
pub fn extract(tokens: &[Token], used: &mut [bool], today: NaiveDate, lang: Lang) -> DateSpan {
    let r = Reader {
        t: tokens,
        today,
        lang,
    };
    let mut exprs = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if let Some(e) = r.at(i) {
            i = e.end + 1;
            exprs.push(e);
        } else {
            i += 1;
        }
    }
    let Some(first) = exprs.first().copied() else {
        return DateSpan::default();
    };
    let prep = |e: &Expr| {
        if e.start > 0 {
            tokens[e.start - 1].fold.as_str()
        } else {
            ""
        }
    };
    let mark = |used: &mut [bool], e: &Expr| {
        for u in used.iter_mut().take(e.end + 1).skip(e.start) {
            *u = true;
        }
    };
    mark(used, &first);
    let since = is_since(prep(&first)) && first.kind == ExprKind::Other;
    if let Some(second) = exprs.get(1).copied()
        && is_since(prep(&first))
        && is_until(prep(&second))
        && first.from <= second.to
    {
        mark(used, &second);
        return DateSpan {
            from: Some(first.from),
            to: Some(second.to),
        };
    }
    if since {
        return DateSpan {
            from: Some(first.from),
            to: Some(today.max(first.to)),
        };
    }
    if matches!(prep(&first), "until" | "till" | "before" | "przed") {
        let to = if prep(&first) == "before" || prep(&first) == "przed" {
            first.from.pred_opt()
        } else {
            Some(first.to)
        };
        return DateSpan { from: None, to };
    }
    DateSpan {
        from: Some(first.from),
        to: Some(first.to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn span(text: &str, today: &str, lang: Lang) -> (Option<String>, Option<String>) {
        let tokens = tokenize(text);
        let mut used = vec![false; tokens.len()];
        let s = extract(&tokens, &mut used, d(today), lang);
        (s.from.map(|d| d.to_string()), s.to.map(|d| d.to_string()))
    }

    fn check(cases: &[(&str, &str, &str)], today: &str) {
        for (text, from, to) in cases {
            let lang = if text.is_ascii() && !text.contains(" w ") {
                Lang::En
            } else {
                Lang::Pl
            };
            let got = span(text, today, lang);
            assert_eq!(
                got,
                (Some((*from).to_owned()), Some((*to).to_owned())),
                "{text} (today {today})"
            );
        }
    }

    #[test]
    fn relative_and_calendar_periods() {
        // 2026-11-30 is a Monday.
        check(
            &[
                ("dzisiaj", "2026-11-30", "2026-11-30"),
                ("dziś", "2026-11-30", "2026-11-30"),
                ("today", "2026-11-30", "2026-11-30"),
                ("wczoraj", "2026-11-29", "2026-11-29"),
                ("yesterday", "2026-11-29", "2026-11-29"),
                ("przedwczoraj", "2026-11-28", "2026-11-28"),
                ("w zeszłym tygodniu", "2026-11-23", "2026-11-29"),
                ("w zeszlym tygodniu", "2026-11-23", "2026-11-29"),
                ("w ostatnim tygodniu", "2026-11-23", "2026-11-29"),
                ("last week", "2026-11-23", "2026-11-29"),
                ("w tym tygodniu", "2026-11-30", "2026-11-30"),
                ("this week", "2026-11-30", "2026-11-30"),
                ("w tym miesiącu", "2026-11-01", "2026-11-30"),
                ("this month", "2026-11-01", "2026-11-30"),
                ("w zeszłym miesiącu", "2026-10-01", "2026-10-31"),
                ("w poprzednim miesiacu", "2026-10-01", "2026-10-31"),
                ("last month", "2026-10-01", "2026-10-31"),
                ("ostatnie 30 dni", "2026-11-01", "2026-11-30"),
                ("last 30 days", "2026-11-01", "2026-11-30"),
                ("z ostatnich 7 dni", "2026-11-24", "2026-11-30"),
                ("ostatnie dwa tygodnie", "2026-11-17", "2026-11-30"),
                ("past week", "2026-11-24", "2026-11-30"),
                ("w 2025", "2025-01-01", "2025-12-31"),
                ("in 2025", "2025-01-01", "2025-12-31"),
                ("w 2026 roku", "2026-01-01", "2026-11-30"),
                ("this year", "2026-01-01", "2026-11-30"),
                ("w tym roku", "2026-01-01", "2026-11-30"),
                ("last year", "2025-01-01", "2025-12-31"),
                ("w zeszłym roku", "2025-01-01", "2025-12-31"),
                ("od początku miesiąca", "2026-11-01", "2026-11-30"),
                ("3 dni temu", "2026-11-27", "2026-11-27"),
                ("w piątek", "2026-11-27", "2026-11-27"),
                ("w weekend", "2026-11-28", "2026-11-29"),
            ],
            "2026-11-30",
        );
        // Mid-week: this week is Monday..today.
        assert_eq!(
            span("w tym tygodniu", "2026-11-26", Lang::Pl),
            (Some("2026-11-23".into()), Some("2026-11-26".into()))
        );
    }

    #[test]
    fn future_and_weekday_forms() {
        // 2022-03-15 is a Tuesday (NLU++'s reference date).
        check(
            &[
                ("tomorrow", "2022-03-16", "2022-03-16"),
                ("jutro", "2022-03-16", "2022-03-16"),
                ("pojutrze", "2022-03-17", "2022-03-17"),
                ("day after tomorrow", "2022-03-17", "2022-03-17"),
                ("in 7 days", "2022-03-22", "2022-03-22"),
                ("za 2 tygodnie", "2022-03-29", "2022-03-29"),
                ("two days from now", "2022-03-17", "2022-03-17"),
                ("next week", "2022-03-21", "2022-03-27"),
                ("w przyszłym miesiącu", "2022-04-01", "2022-04-30"),
                ("next Sunday", "2022-03-27", "2022-03-27"),
                ("this Thursday", "2022-03-17", "2022-03-17"),
                ("last Tuesday", "2022-03-08", "2022-03-08"),
                ("last week Monday", "2022-03-07", "2022-03-07"),
                ("Monday last week", "2022-03-07", "2022-03-07"),
                ("two days ago", "2022-03-13", "2022-03-13"),
                ("last night", "2022-03-14", "2022-03-14"),
                ("this morning", "2022-03-15", "2022-03-15"),
                ("the 10th", "2022-03-10", "2022-03-10"),
                ("the 16th", "2022-02-16", "2022-02-16"),
                ("July the 20th 1992", "1992-07-20", "1992-07-20"),
                ("saturday, 28 Feb 2015", "2015-02-28", "2015-02-28"),
            ],
            "2022-03-15",
        );
    }

    #[test]
    fn months_and_days() {
        check(
            &[
                ("w październiku", "2026-10-01", "2026-10-31"),
                ("październik", "2026-10-01", "2026-10-31"),
                ("za październik", "2026-10-01", "2026-10-31"),
                ("pazdziernik", "2026-10-01", "2026-10-31"),
                ("z października", "2026-10-01", "2026-10-31"),
                ("w pazdzierniku", "2026-10-01", "2026-10-31"),
                ("in October", "2026-10-01", "2026-10-31"),
                ("w listopadzie", "2026-11-01", "2026-11-30"),
                ("w grudniu", "2025-12-01", "2025-12-31"),
                ("in May", "2026-05-01", "2026-05-31"),
                ("w lutym", "2026-02-01", "2026-02-28"),
                ("w marcu 2025", "2025-03-01", "2025-03-31"),
                ("October 2025", "2025-10-01", "2025-10-31"),
                ("od 1 listopada", "2026-11-01", "2026-11-30"),
                ("since November 1", "2026-11-01", "2026-11-30"),
                ("since 1st November", "2026-11-01", "2026-11-30"),
                ("od października", "2026-10-01", "2026-11-30"),
                ("1-15 października", "2026-10-01", "2026-10-15"),
                ("od 1 do 15 października", "2026-10-01", "2026-10-15"),
                ("October 1-15", "2026-10-01", "2026-10-15"),
                ("1 października", "2026-10-01", "2026-10-01"),
                ("15 grudnia", "2025-12-15", "2025-12-15"),
                ("01.03.2025", "2025-03-01", "2025-03-01"),
                ("2025-03-01", "2025-03-01", "2025-03-01"),
                ("od 01.03.2025 do 15.03.2025", "2025-03-01", "2025-03-15"),
                ("od 1 listopada do 15 listopada", "2026-11-01", "2026-11-15"),
                ("from October 3 to October 9", "2026-10-03", "2026-10-09"),
                ("01.03.2025-15.03.2025", "2025-03-01", "2025-03-15"),
                ("od 10.11", "2026-11-10", "2026-11-30"),
            ],
            "2026-11-30",
        );
    }

    #[test]
    fn across_a_year_boundary() {
        check(
            &[
                ("w grudniu", "2025-12-01", "2025-12-31"),
                ("w zeszłym miesiącu", "2025-12-01", "2025-12-31"),
                ("last week", "2025-12-29", "2026-01-04"),
                ("w tym tygodniu", "2026-01-05", "2026-01-10"),
                ("w styczniu", "2026-01-01", "2026-01-10"),
                ("ostatnie 30 dni", "2025-12-12", "2026-01-10"),
                ("od 20 grudnia", "2025-12-20", "2026-01-10"),
                ("last year", "2025-01-01", "2025-12-31"),
                ("w listopadzie", "2025-11-01", "2025-11-30"),
                ("1-15 grudnia", "2025-12-01", "2025-12-15"),
            ],
            "2026-01-10",
        );
    }

    #[test]
    fn not_dates() {
        for text in [
            "przelej 50 zł",
            "may I see my balance",
            "ile mam",
            "120.50 zł",
            "Jan Kowalski",
            "march on",
        ] {
            assert_eq!(span(text, "2026-11-30", Lang::En), (None, None), "{text}");
        }
    }
}
