//! Alert settings in the chat: "powiadamiaj mnie o płatnościach powyżej 500 zł", "send me a
//! warning when my balance drops below 100", "cisza nocna od 22 do 7", "powiadomienia tylko na
//! Messengerze", "powiadamiaj mnie na Matrixie", "wyłącz wszystkie powiadomienia", "jakie mam
//! alerty?". A channel the gateway does not run (Matrix off, say) is kept as chosen, and notices
//! then go to every open chat until it runs.
//!
//! [`interpret`] turns a message (its NLU parse: amounts come from the NLU's slots) into a
//! [`Change`]; [`apply`] applies it to the customer's [`AlertSettings`]; [`describe`] shows the
//! settings back in the customer's language. The engine stores them through the privacy crate's
//! `AlertBook` (sealed, erased with the customer's data). Nothing here logs a threshold.

use chrono::NaiveTime;
use okienko_core::transaction::fold;
use okienko_core::{CustomerId, Lang, Money};
use okienko_nlu::Parse;
use okienko_privacy::{AlertSettings, NoticeKind, Quiet, Threshold};
use rust_decimal::Decimal;

use crate::engine::Engine;
use crate::texts::T;
use crate::{QuickReply, Reply};

/// What one message asks to change. Several at once are fine ("salary and duplicates").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Change {
    /// Only "show me my alerts".
    pub show: bool,
    /// `Some(true)`: everything off (fraud warnings stay); `Some(false)`: back on.
    pub all_off: Option<bool>,
    /// Turn every digest notice on ("włącz wszystkie powiadomienia").
    pub all_on: bool,
    pub low_balance: Option<Option<Threshold>>,
    pub large_payment: Option<Option<Threshold>>,
    pub salary: Option<bool>,
    pub recurring_up: Option<bool>,
    pub duplicate: Option<bool>,
    pub subscription: Option<bool>,
    pub quiet: Option<Option<Quiet>>,
    pub channel: Option<Option<String>>,
    /// A threshold was asked for without a usable amount.
    pub missing_amount: Option<NoticeKind>,
}

impl Change {
    fn changes_something(&self) -> bool {
        self.all_off.is_some()
            || self.all_on
            || self.low_balance.is_some()
            || self.large_payment.is_some()
            || self.salary.is_some()
            || self.recurring_up.is_some()
            || self.duplicate.is_some()
            || self.subscription.is_some()
            || self.quiet.is_some()
            || self.channel.is_some()
    }
}

fn has(words: &[&str], stems: &[&str]) -> bool {
    words.iter().any(|w| stems.iter().any(|s| w.starts_with(s)))
}

fn has_phrase(text: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| text.contains(p))
}

/// Hours named in "od 22 do 7", "22-7", "22:00-07:00", "from 10pm to 7am", "between 23 and 6".
fn quiet_hours(text: &str) -> Option<Quiet> {
    let mut hours: Vec<NaiveTime> = Vec::new();
    let cleaned: String = text
        .chars()
        .map(|c| if c == '-' || c == '–' { ' ' } else { c })
        .collect();
    for w in cleaned.split_whitespace() {
        let w = w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != ':' && c != '.');
        let (num, pm, am) = if let Some(n) = w.strip_suffix("pm") {
            (n, true, false)
        } else if let Some(n) = w.strip_suffix("am") {
            (n, false, true)
        } else {
            (w, false, false)
        };
        let (h, m) = match num.split_once([':', '.']) {
            Some((h, m)) => (h, m),
            None => (num, "0"),
        };
        let (Ok(mut h), Ok(m)) = (h.parse::<u32>(), m.parse::<u32>()) else {
            continue;
        };
        if h > 24 || m > 59 || (pm || am) && !(1..=12).contains(&h) {
            continue;
        }
        if pm && h != 12 {
            h += 12;
        }
        if am && h == 12 {
            h = 0;
        }
        if let Some(t) = NaiveTime::from_hms_opt(h % 24, m, 0) {
            hours.push(t);
        }
    }
    match hours.as_slice() {
        [a, b, ..] if a != b => Some(Quiet { start: *a, end: *b }),
        _ => None,
    }
}

fn threshold(amount: Option<Decimal>, parse: &Parse) -> Option<Threshold> {
    Threshold::new(amount?, parse.slots.currency).ok()
}

/// Reads what the customer asked for.
pub fn interpret(parse: &Parse) -> Change {
    let text = fold(&parse.text);
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect();
    let mut c = Change::default();
    let off = has(
        &words,
        &[
            "wylacz", "wyłącz", "disable", "mute", "wycisz", "przestan", "stop",
        ],
    ) || has_phrase(
        &text,
        &[
            "turn off",
            "switch off",
            "nie powiadamiaj",
            "nie informuj",
            "nie wysylaj",
            "don't",
            "dont",
            "do not",
            "no more",
            "bez powiadomien",
            "nie chce",
        ],
    );
    let on = has(&words, &["wlacz", "enable", "aktywuj", "activate"])
        || has_phrase(&text, &["turn on", "switch on", "turn back on"]);
    let all = has(&words, &["wszystk", "all", "every", "kazd"]);
    let alert_word = has(
        &words,
        &[
            "powiadom",
            "alert",
            "notyfikac",
            "notification",
            "notice",
            "ostrzez",
            "warning",
            "warn",
        ],
    );

    let quiet_words = has_phrase(
        &text,
        &[
            "cisza nocna",
            "cisze nocna",
            "ciszy nocnej",
            "quiet hours",
            "quiet time",
            "nie przeszkadzac",
            "do not disturb",
            "night mode",
            "tryb nocny",
        ],
    );
    if quiet_words {
        if off && quiet_hours(&text).is_none() {
            c.quiet = Some(None);
        } else if let Some(q) = quiet_hours(&text) {
            c.quiet = Some(Some(q));
        } else {
            c.missing_amount = None;
            c.show = true;
        }
        return c;
    }

    // "Tylko na Messengerze" / "na Matrixie" / "only in the web chat" / "na wszystkich czatach".
    let channel = if has(&words, &["messenger"]) {
        Some(Some("messenger".to_owned()))
    } else if has(&words, &["matrix", "matriks"]) {
        Some(Some("matrix".to_owned()))
    } else if has_phrase(
        &text,
        &[
            "web chat",
            "webchat",
            "czacie",
            "czat na stronie",
            "this chat",
            "tym czacie",
            "here only",
            "only here",
        ],
    ) {
        Some(Some("web_chat".to_owned()))
    } else if has(&words, &["kanal", "kanał", "channel"]) && all {
        Some(None)
    } else {
        None
    };
    if channel.is_some()
        && (has(
            &words,
            &[
                "tylko", "only", "kanal", "channel", "wysylaj", "send", "przez", "via", "na", "on",
                "in", "powiadam", "notify",
            ],
        ))
    {
        c.channel = channel;
    }

    let amount_low = parse
        .slots
        .amount_max
        .or(parse.slots.amount)
        .or(parse.slots.amount_min);
    let amount_high = parse
        .slots
        .amount_min
        .or(parse.slots.amount)
        .or(parse.slots.amount_max);
    let balance = has(&words, &["saldo", "salda", "balance", "stan"])
        || has_phrase(
            &text,
            &[
                "na koncie",
                "on my account",
                "in my account",
                "srodk",
                "funds",
            ],
        );
    let payment = has(
        &words,
        &[
            "platnos",
            "płatnoś",
            "wydatk",
            "transakcj",
            "zakup",
            "obciazen",
            "payment",
            "spend",
            "purchase",
            "transaction",
            "charge",
            "wyda",
            "przelew",
        ],
    );
    let salary = has(
        &words,
        &[
            "wyplat",
            "wyplac",
            "pensj",
            "wynagrodzen",
            "salary",
            "paycheck",
            "payday",
            "wages",
        ],
    );
    let duplicate = has(
        &words,
        &["duplikat", "podwojn", "duplicate", "double", "twice"],
    ) || has_phrase(&text, &["dwa razy", "dwukrotn"]);
    let went_up = has(
        &words,
        &[
            "podwyz", "zdrozal", "wzrosl", "drozej", "increase", "hike", "raised", "rise",
        ],
    ) || has_phrase(
        &text,
        &[
            "went up",
            "goes up",
            "go up",
            "more expensive",
            "price rise",
            "poszla w gore",
            "poszly w gore",
        ],
    );
    let subscription = has(
        &words,
        &[
            "subskrypc",
            "abonament",
            "odnowien",
            "odnawia",
            "subscription",
            "renew",
        ],
    );
    let recurring = has(
        &words,
        &["cykliczn", "stal", "recurring", "regular", "regularn"],
    );

    let turn = !off;
    let recurring_rise = went_up && recurring;
    if balance && !payment {
        if off && amount_low.is_none() {
            c.low_balance = Some(None);
        } else {
            match threshold(amount_low, parse) {
                Some(t) => c.low_balance = Some(Some(t)),
                None => c.missing_amount = Some(NoticeKind::LowBalance),
            }
        }
    } else if payment && !salary && !duplicate && !recurring_rise {
        if off && amount_high.is_none() {
            c.large_payment = Some(None);
        } else {
            match threshold(amount_high, parse) {
                Some(t) => c.large_payment = Some(Some(t)),
                None => c.missing_amount = Some(NoticeKind::LargePayment),
            }
        }
    }
    if salary {
        c.salary = Some(turn);
    }
    if duplicate {
        c.duplicate = Some(turn);
    }
    if went_up && (recurring || subscription || !payment) {
        c.recurring_up = Some(turn);
    } else if subscription {
        c.subscription = Some(turn);
    }

    let specific = c.changes_something() || c.missing_amount.is_some();
    if !specific && all && off {
        c.all_off = Some(true);
    } else if !specific && all && on {
        c.all_off = Some(false);
        c.all_on = true;
    } else if !specific && off && alert_word {
        c.all_off = Some(true);
    } else if !specific && on && alert_word {
        c.all_off = Some(false);
    }
    if !c.changes_something() && c.missing_amount.is_none() {
        c.show = true;
    }
    c
}

/// Applies a change. Turning one notice on also ends "all off" (the customer wants it now).
pub fn apply(s: &mut AlertSettings, c: &Change) {
    if let Some(v) = c.all_off {
        s.all_off = v;
    }
    if c.all_on {
        s.salary = true;
        s.recurring_up = true;
        s.duplicate = true;
        s.subscription = true;
    }
    let mut turned_on = false;
    if let Some(v) = c.low_balance {
        turned_on |= v.is_some();
        s.low_balance = v;
    }
    if let Some(v) = c.large_payment {
        turned_on |= v.is_some();
        s.large_payment = v;
    }
    for (field, v) in [
        (&mut s.salary, c.salary),
        (&mut s.recurring_up, c.recurring_up),
        (&mut s.duplicate, c.duplicate),
        (&mut s.subscription, c.subscription),
    ] {
        if let Some(v) = v {
            turned_on |= v;
            *field = v;
        }
    }
    if turned_on && c.all_off.is_none() {
        s.all_off = false;
    }
    if let Some(q) = c.quiet {
        s.quiet = q;
    }
    if let Some(ch) = &c.channel {
        s.channel = ch.clone();
    }
}

const TITLE: T = T("Twoje powiadomienia:", "Your alerts:");
const SAVED: T = T("Zapisane.", "Saved.");
const ON: T = T("włączone", "on");
const OFF: T = T("wyłączone", "off");
const ALL_OFF: T = T(
    "Wszystkie powiadomienia są wyłączone (ostrzeżenia o oszustwach nadal dostaniesz). Napisz „włącz powiadomienia”, żeby je przywrócić.",
    "All alerts are off (you will still get fraud warnings). Say \"turn alerts back on\" to restore them.",
);
const LOW: T = T("saldo poniżej {amount}", "balance below {amount}");
const LOW_OFF: T = T("niskie saldo", "low balance");
const LARGE: T = T("płatności powyżej {amount}", "payments over {amount}");
const LARGE_OFF: T = T("duże płatności", "large payments");
const SALARY: T = T("wpływ pensji", "salary arrived");
const RECURRING: T = T("podwyżka stałej opłaty", "a recurring charge went up");
const DUPLICATE: T = T("możliwe podwójne obciążenie", "a possible duplicate charge");
const SUBSCRIPTION: T = T("odnowienie subskrypcji", "a subscription renewed");
const QUIET: T = T("cisza nocna: {from}–{to}", "quiet hours: {from}–{to}");
const NO_QUIET: T = T("cisza nocna: brak", "quiet hours: none");
const CHANNEL_ALL: T = T("kanał: wszystkie Twoje czaty", "channel: all your chats");
const CHANNEL_ONE: T = T("kanał: {channel}", "channel: {channel}");
const DIGEST_NOTE: T = T(
    "Pilne (saldo, duże płatności) wysyłam od razu, poza ciszą nocną; pozostałe raz dziennie w podsumowaniu.",
    "Urgent ones (balance, large payments) come at once, outside quiet hours; the rest once a day in a digest.",
);
const NEED_AMOUNT: T = T(
    "Podaj kwotę, np. „powiadamiaj mnie o płatnościach powyżej 500 zł” albo „gdy saldo spadnie poniżej 100 zł”.",
    "Tell me the amount, e.g. \"notify me of payments over 500\" or \"when my balance drops below 100\".",
);
const EXAMPLES: T = T(
    "Możesz napisać np. „powiadamiaj mnie o płatnościach powyżej 500 zł”, „gdy saldo spadnie poniżej 100 zł”, „powiadom mnie o wypłacie”, „cisza nocna od 22 do 7” albo „wyłącz wszystkie powiadomienia”.",
    "You can say e.g. \"notify me of payments over 500\", \"warn me when my balance drops below 100\", \"tell me when my salary arrives\", \"quiet hours from 10pm to 7am\" or \"turn off all alerts\".",
);
const NONE_ON: T = T(
    "Nie masz włączonych powiadomień.",
    "You have no alerts turned on.",
);

fn amount_text(t: &Threshold, lang: Lang) -> String {
    match t.currency.and_then(|c| Money::new(t.amount, c).ok()) {
        Some(m) => okienko_core::format::money(&m, lang),
        None => {
            let s = t.amount.normalize().to_string();
            match lang {
                Lang::Pl => s.replace('.', ","),
                Lang::En => s,
            }
        }
    }
}

fn channel_name(c: &str, lang: Lang) -> String {
    match (c, lang) {
        ("web_chat", Lang::Pl) => "czat na stronie banku".into(),
        ("web_chat", Lang::En) => "the bank's web chat".into(),
        ("messenger", _) => "Messenger".into(),
        ("matrix", _) => "Matrix".into(),
        (other, _) => other.to_owned(),
    }
}

/// The settings, shown back.
pub fn describe(s: &AlertSettings, lang: Lang) -> String {
    let mut out = String::new();
    out.push_str(TITLE.pick(lang));
    if s.all_off {
        out.push('\n');
        out.push_str(ALL_OFF.pick(lang));
        return out;
    }
    let state = |on: bool| if on { ON.pick(lang) } else { OFF.pick(lang) };
    let mut line = |label: String, on: bool| {
        out.push_str(&format!("\n• {label}: {}", state(on)));
    };
    match &s.large_payment {
        Some(t) => line(
            LARGE.pick(lang).replace("{amount}", &amount_text(t, lang)),
            true,
        ),
        None => line(LARGE_OFF.pick(lang).to_owned(), false),
    }
    match &s.low_balance {
        Some(t) => line(
            LOW.pick(lang).replace("{amount}", &amount_text(t, lang)),
            true,
        ),
        None => line(LOW_OFF.pick(lang).to_owned(), false),
    }
    line(SALARY.pick(lang).to_owned(), s.salary);
    line(RECURRING.pick(lang).to_owned(), s.recurring_up);
    line(DUPLICATE.pick(lang).to_owned(), s.duplicate);
    line(SUBSCRIPTION.pick(lang).to_owned(), s.subscription);
    out.push_str("\n• ");
    match &s.quiet {
        Some(q) => out.push_str(
            &QUIET
                .pick(lang)
                .replace("{from}", &q.start.format("%H:%M").to_string())
                .replace("{to}", &q.end.format("%H:%M").to_string()),
        ),
        None => out.push_str(NO_QUIET.pick(lang)),
    }
    out.push_str("\n• ");
    match &s.channel {
        Some(c) => out.push_str(
            &CHANNEL_ONE
                .pick(lang)
                .replace("{channel}", &channel_name(c, lang)),
        ),
        None => out.push_str(CHANNEL_ALL.pick(lang)),
    }
    out.push('\n');
    out.push_str(DIGEST_NOTE.pick(lang));
    out
}

impl Engine {
    /// Handles an `alert_settings` message: changes and shows the customer's settings.
    pub(crate) async fn alert_settings(
        &self,
        customer: CustomerId,
        lang: Lang,
        parse: &Parse,
    ) -> Vec<Reply> {
        let book = self.gate.alert_book();
        let mut settings = match book.get(customer).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%customer, error = %e, "reading alert settings failed");
                return vec![Reply::text(crate::texts::INTERNAL_ERROR.pick(lang))];
            }
        };
        let change = interpret(parse);
        if change.missing_amount.is_some() && !change.changes_something() {
            return vec![Reply::text(NEED_AMOUNT.pick(lang))];
        }
        if change.show || !change.changes_something() {
            let mut text = describe(&settings, lang);
            if !settings.any_on() && !settings.all_off {
                text = format!("{}\n{}", NONE_ON.pick(lang), EXAMPLES.pick(lang));
            }
            return vec![Reply::text(text).with_quick_replies(quick(lang))];
        }
        apply(&mut settings, &change);
        if let Err(e) = book.put(customer, &settings, self.clock.now()).await {
            tracing::error!(%customer, error = %e, "saving alert settings failed");
            return vec![Reply::text(crate::texts::INTERNAL_ERROR.pick(lang))];
        }
        let mut text = format!("{} {}", SAVED.pick(lang), describe(&settings, lang));
        if change.missing_amount.is_some() {
            text.push('\n');
            text.push_str(NEED_AMOUNT.pick(lang));
        }
        vec![Reply::text(text).with_quick_replies(quick(lang))]
    }
}

fn quick(lang: Lang) -> Vec<QuickReply> {
    vec![QuickReply::new(
        T("Jakie mam alerty?", "Show my alerts").pick(lang),
        "intent:alert_settings",
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_core::Currency;
    use okienko_nlu::Nlu;

    static NLU: std::sync::LazyLock<Nlu> = std::sync::LazyLock::new(Nlu::new);

    fn parse(s: &str) -> Parse {
        NLU.parse(
            s,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            &[],
        )
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn thresholds_come_from_the_nlu_amounts() {
        let c = interpret(&parse("powiadamiaj mnie o płatnościach powyżej 500 zł"));
        let t = c.large_payment.unwrap().unwrap();
        assert_eq!(t.amount, dec("500"));
        assert_eq!(t.currency, Some(Currency::PLN));
        let c = interpret(&parse("send me a warning when my balance drops below 100"));
        let t = c.low_balance.unwrap().unwrap();
        assert_eq!(t.amount, dec("100"));
        assert_eq!(c.large_payment, None);
        let c = interpret(&parse("powiadom mnie gdy saldo spadnie ponizej 250,50 zl"));
        assert_eq!(c.low_balance.unwrap().unwrap().amount, dec("250.50"));
        let c = interpret(&parse("alert me about payments over $1,000"));
        let t = c.large_payment.unwrap().unwrap();
        assert_eq!((t.amount, t.currency), (dec("1000"), Some(Currency::USD)));
    }

    #[test]
    fn quiet_hours_channel_all_off_and_show() {
        let c = interpret(&parse("cisza nocna od 22 do 7"));
        let q = c.quiet.unwrap().unwrap();
        assert_eq!(q.start, NaiveTime::from_hms_opt(22, 0, 0).unwrap());
        assert_eq!(q.end, NaiveTime::from_hms_opt(7, 0, 0).unwrap());
        let c = interpret(&parse("quiet hours from 10pm to 6:30am"));
        let q = c.quiet.unwrap().unwrap();
        assert_eq!(q.start, NaiveTime::from_hms_opt(22, 0, 0).unwrap());
        assert_eq!(q.end, NaiveTime::from_hms_opt(6, 30, 0).unwrap());
        assert_eq!(interpret(&parse("wyłącz ciszę nocną")).quiet, Some(None));
        assert_eq!(
            interpret(&parse("wysyłaj powiadomienia tylko na Messengerze")).channel,
            Some(Some("messenger".into()))
        );
        assert_eq!(
            interpret(&parse("wyłącz wszystkie powiadomienia")).all_off,
            Some(true)
        );
        assert_eq!(interpret(&parse("turn off all alerts")).all_off, Some(true));
        let back = interpret(&parse("włącz powiadomienia"));
        assert_eq!(back.all_off, Some(false));
        assert!(interpret(&parse("jakie mam alerty?")).show);
        assert!(interpret(&parse("show my alerts")).show);
        let c = interpret(&parse(
            "powiadom mnie o wypłacie i o podwójnych obciążeniach",
        ));
        assert_eq!((c.salary, c.duplicate), (Some(true), Some(true)));
        assert_eq!(
            interpret(&parse("nie powiadamiaj mnie o dużych płatnościach")).large_payment,
            Some(None)
        );
        assert_eq!(
            interpret(&parse("tell me when a subscription renews")).subscription,
            Some(true)
        );
        assert_eq!(
            interpret(&parse("let me know if a recurring charge goes up")).recurring_up,
            Some(true)
        );
        assert_eq!(
            interpret(&parse("powiadamiaj mnie o płatnościach")).missing_amount,
            Some(NoticeKind::LargePayment)
        );
    }

    #[test]
    fn matrix_is_a_channel_choice_stored_and_shown_back() {
        for text in [
            "powiadamiaj mnie na Matrixie",
            "powiadomienia tylko na matrixie",
            "wysyłaj alerty przez Matrix",
            "notify me on Matrix",
            "send my alerts only via matrix",
        ] {
            assert_eq!(
                interpret(&parse(text)).channel,
                Some(Some("matrix".into())),
                "{text}"
            );
        }
        let mut s = AlertSettings::default();
        apply(&mut s, &interpret(&parse("powiadamiaj mnie na Matrixie")));
        assert_eq!(s.channel.as_deref(), Some("matrix"));
        assert!(!s.all_off);
        let pl = describe(&s, Lang::Pl);
        assert!(pl.contains("kanał: Matrix"), "{pl}");
        let en = describe(&s, Lang::En);
        assert!(en.contains("channel: Matrix"), "{en}");
        // Another choice replaces it; "all channels" clears it.
        apply(
            &mut s,
            &interpret(&parse("wysyłaj powiadomienia tylko na Messengerze")),
        );
        assert_eq!(s.channel.as_deref(), Some("messenger"));
        apply(&mut s, &interpret(&parse("notify me on Matrix")));
        assert_eq!(s.channel.as_deref(), Some("matrix"));
        apply(
            &mut s,
            &interpret(&parse("powiadomienia na wszystkich kanałach")),
        );
        assert_eq!(s.channel, None);
        assert!(describe(&s, Lang::Pl).contains("kanał: wszystkie Twoje czaty"));
    }

    #[test]
    fn apply_and_describe_in_both_languages() {
        let mut s = AlertSettings::default();
        apply(
            &mut s,
            &interpret(&parse("powiadamiaj mnie o płatnościach powyżej 500 zł")),
        );
        apply(&mut s, &interpret(&parse("cisza nocna od 22 do 7")));
        let pl = describe(&s, Lang::Pl);
        assert!(pl.contains("płatności powyżej 500,00 zł: włączone"), "{pl}");
        assert!(pl.contains("cisza nocna: 22:00–07:00"), "{pl}");
        let en = describe(&s, Lang::En);
        assert!(en.contains("payments over"), "{en}");
        apply(&mut s, &interpret(&parse("wyłącz wszystkie powiadomienia")));
        assert!(s.all_off && s.large_payment.is_some());
        assert!(describe(&s, Lang::Pl).contains("wyłączone"));
        // Turning one on again ends "all off".
        apply(
            &mut s,
            &interpret(&parse("notify me when my salary arrives")),
        );
        assert!(!s.all_off && s.salary);
    }
}
