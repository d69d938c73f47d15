//! Scam-message rules for Polish and English: the BLIK code request from a "friend", "hi mum, new number",
//! fake parcel surcharges, fake bank staff (remote-access apps, reading back codes, the "safe account"),
//! investment lures, card and credential requests, and urgency + payment combinations.
//!
//! Owns the rule table. Each rule is a set of regular expressions over the ASCII-folded lower-case text
//! (see `text::fold`, so `dopłata` is matched as `doplata`); it fires when every group matches somewhere.
//! Each firing rule yields one reason with a fixed weight; `Verdict::from_reasons` combines them. The regexes
//! run with Unicode off over ASCII text: linear time, small automata.

use regex::bytes::Regex;

use crate::GuardError;
use crate::verdict::{Reason, ReasonCode};

struct Rule {
    code: ReasonCode,
    weight: f32,
    groups: Vec<Regex>,
}

/// Reason codes of rules that describe a lure (a link next to one is worse).
pub const LURE_CODES: &[ReasonCode] = &[
    ReasonCode::ParcelSurcharge,
    ReasonCode::MarketplaceLure,
    ReasonCode::CredentialsRequest,
    ReasonCode::AccountThreat,
    ReasonCode::PrizeLure,
    ReasonCode::BankStaffImpersonation,
    ReasonCode::InvestmentScam,
    ReasonCode::CardDataRequest,
    ReasonCode::BlikCodeRequest,
    ReasonCode::PaymentRequest,
];

/// The compiled rule table.
pub struct MessageRules {
    rules: Vec<Rule>,
    small_fee: Regex,
}

impl std::fmt::Debug for MessageRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageRules")
            .field("rules", &self.rules.len())
            .finish()
    }
}

const REQUEST_VERBS: &str = r"\b(podeslij|podeslesz|wyslij|wyslesz|przeslij|przeslesz|odeslij|daj|dasz|podaj|podasz|podac|wygeneruj|prosi\w*|prosze|potrzebuj\w*|mozesz|moglbys|moglabys|pomoz\w*|popros\w*|przepisz|przeczytaj|podyktuj|powiedz|send|give|share|text me|need|generate|ask\w*|could you|can you|help me|read|tell)\b";

const RULES: &[(ReasonCode, f32, &[&str])] = &[
    (
        ReasonCode::BlikCodeRequest,
        0.75,
        &[
            r"\bblik\w*\b.{0,40}\b(kod\w*|code)\b|\b(kod\w*|code)\b.{0,25}\bblik|\bblik\w*\b.{0,40}\b\d{2,5} ?(zl|pln)\b|\b\d{2,5} ?(zl|pln)\b.{0,40}\bblik|\b(na|przez) blik(a|iem)?\b|\bblik(iem)? za (mnie|mi)\b",
            REQUEST_VERBS,
        ],
    ),
    (
        ReasonCode::CodeReadback,
        0.6,
        &[
            r"\bkod\w* (sms|z sms\w*|autoryzac\w*|weryfikac\w*|jednorazow\w*|potwierdz\w*|z wiadomosci|ktory (dostal\w*|przyszedl|otrzymal\w*))|\b(sms|text|verification|one-time|one time|security|authori[sz]ation|confirmation) (code|passcode|pin)\b|\botp\b|\bcode (we|i) (just )?(sent|texted)\b|\bpin\b",
            REQUEST_VERBS,
        ],
    ),
    (
        ReasonCode::RemoteAccessApp,
        0.65,
        &[
            r"\b(anydesk|any desk|teamviewer|team viewer|quicksupport|quick support|rustdesk|ammyy|supremo|ultraviewer|airdroid|splashtop|screen ?connect|udostepni\w* (ekran\w*|pulpit\w*)|zdaln\w* (pulpit\w*|dostep\w*|pomoc\w*)|remote (access|desktop|control|support app)|screen ?shar\w*|share your screen)\b",
        ],
    ),
    (
        ReasonCode::BankStaffImpersonation,
        0.4,
        &[
            r"\b(pracownik\w*|konsultant\w*|dzial\w*|departament\w*|doradc\w*|specjalist\w*|opiekun\w*) (ds\.? )?(bezpieczenstw\w* |obslugi |klienta )?(twojego |pana |pani |naszego )?banku\b|\bdzial\w* bezpieczenstw\w*|\b(security|fraud|anti-fraud) (team|department|dept|unit|officer|specialist)\b|\b(calling|call|this is|i'?m|we are) .{0,20}from (your|the) bank\b|\b(your|the) bank'?s (security|fraud)\b|\bz (twojego |pana |pani )?banku\b",
        ],
    ),
    (
        ReasonCode::AuthorityImpersonation,
        0.45,
        &[
            r"\b(policj\w*|policjant\w*|cbzc|cbsp|prokurat\w*|funkcjonariusz\w*|abw|knf|police|officer|fbi|irs agent|federal agent)\b",
            r"\b(przelew\w*|przelac|przelej|wplac\w*|wyplac\w*|blik\w*|pieniadz\w*|oszczednosc\w*|konto|kont[ao]|transfer|wire|money|savings|account|gift cards?|bitcoin)\b",
        ],
    ),
    (
        ReasonCode::SafeAccount,
        0.75,
        &[
            r"\b(bezpieczn\w*|techniczn\w*|tymczasow\w*|chronion\w*|zabezpieczon\w*|nowe|specjaln\w*) (konto|rachun\w*|subkonto)\b|\bkont[ao]? (bezpieczn\w*|techniczn\w*|tymczasow\w*|zabezpieczon\w*)\b|\b(safe|secure|protected|holding|safety|temporary) account\b",
            r"\b(przel\w*|przenie\w*|przesun\w*|wplac\w*|wyplac\w*|transfer\w*|move|wire|send|deposit|withdraw|pieniadz\w*|srodk\w*|oszczednosc\w*|money|funds|savings)\b",
        ],
    ),
    (
        ReasonCode::NewNumberFamily,
        0.6,
        &[
            r"\b(mamo|mama|mamus\w*|mamuska|tato|tata|tatus\w*|babciu|dziadku|ciociu|mum|mom|mommy|mummy|mam|dad|daddy|grandma|granny|grandpa)\b",
            r"\b(now\w* numer\w*|nowego numeru|zmienil\w* numer|zmiana numeru|zgubil\w* (telefon|komork\w*)|zepsul\w* (mi )?(sie )?(telefon|komork\w*)|rozbil\w* (telefon|ekran)|telefon (mi )?(sie )?(zepsul|rozbil|wpadl)\w*|stary (telefon|numer)|new (number|phone)|lost my phone|broke my phone|(phone|screen) (is )?(broken|smashed|cracked)|changed my number|my old (phone|number)|temporary (number|phone))\b",
        ],
    ),
    (
        ReasonCode::ParcelSurcharge,
        0.6,
        &[
            r"\b(inpost\w*|dpd|dhl|ups|fedex|gls|poczt\w*|paczk\w*|paczuszk\w*|przesylk\w*|kurier\w*|paczkomat\w*|parcel\w*|package\w*|shipment\w*|delivery|deliveries|usps|royal mail|evri|hermes)\b",
            r"\b(doplat\w*|oplat\w*|oplac\w*|uiszcz\w*|zaplac\w*|nieoplacon\w*|cl[oau]\b|clo celne|brak (oplaty|znaczka)|niedoplat\w*|surcharge\w*|fee|fees|customs|duty|pay|payment|unpaid|outstanding|shipping cost|redelivery)\b",
        ],
    ),
    (
        ReasonCode::MarketplaceLure,
        0.55,
        &[
            r"\b(olx|vinted|allegro|allegro lokalnie|marketplace|ebay|sprzedajacy|kupujacy|buyer|seller)\b",
            r"\b(odbierz|odbior\w*|otrzymaj\w*|otrzymasz|wyplat\w*|oplacil\w*|zaplacil\w*|platnosc\w* (zostala|czeka|oczekuje)|zweryfikuj\w*|weryfikacj\w*|dane karty|formularz|receive (the |your )?(money|payment|funds)|(buyer|customer) (has )?paid|payment (is )?(pending|waiting|received|on hold)|verify|confirm (the |your )?(sale|payment|card))\b",
        ],
    ),
    (
        ReasonCode::InvestmentScam,
        0.65,
        &[
            r"\b(gwarantowan\w* (zysk\w*|zwrot\w*|dochod\w*|zarob\w*)|pewn\w* zysk\w*|bez ryzyka|zarob\w* (nawet |do |od )?\d|zarabiaj\w*|pasywn\w* dochod\w*|baltic pipe|inwest\w*.{0,60}(kryptowalut\w*|bitcoin\w*|orlen|pgnig|lotos|pkn|akcj\w*|gield\w*|sztuczn\w* inteligencj\w*)|(kryptowalut\w*|bitcoin\w*).{0,60}(zysk\w*|inwest\w*|zarob\w*)|(guaranteed|risk-free|risk free|fixed|daily) (return|profit|income|yield|earnings)s?|double your (money|bitcoin|crypto|investment)|passive income|earn \$?\d[\d,]*.{0,20}(per|a|every) (day|week)|invest\w*.{0,60}(crypto\w*|bitcoin|forex|trading platform|ai trading|trading bot))",
        ],
    ),
    (
        ReasonCode::CardDataRequest,
        0.55,
        &[
            r"\b(numer\w* (twojej |swojej )?karty|dane (twojej |swojej )?karty|danych karty|kod\w* cvv|cvv2?|cvc2?|data waznosci|card (number|details|data)|expiry date|expiration date|security code on (the )?back)\b",
        ],
    ),
    (
        ReasonCode::CredentialsRequest,
        0.5,
        &[
            r"\b(login\w* i hasl\w*|hasl\w* do (banku|konta|bankowosci|aplikacji)|dane (do )?logowania|zaloguj sie.{0,40}(link\w*|ponizej|tutaj|tu |na stron\w*)|(username|user id|login) and password|(verify|confirm|update|validate) your (account|identity|details|information|login|credentials)|log ?in (here|below|via|using|through)|click (here|the link|below|on the link) to (verify|confirm|log|sign|unlock|restore|reactivate))",
        ],
    ),
    (
        ReasonCode::AccountThreat,
        0.35,
        &[
            r"\b(kont\w* (zostanie|zostalo|bedzie|jest) (zablokowan\w*|zawieszon\w*|zamknie\w*|zamknięte|ograniczon\w*)|(zablokuj\w*|zablokowal\w*|zawiesi\w*) (twoje|pana|pani) (konto|karte)|(account|card) (has been|will be|is|was) (suspended|locked|blocked|limited|closed|deactivated|restricted)|unusual (activity|sign-in|login)|suspicious (activity|transaction|login)|nietypow\w* (aktywnosc\w*|logowan\w*|transakcj\w*)|podejrzan\w* (transakcj\w*|logowan\w*|aktywnosc\w*|przelew\w*))",
        ],
    ),
    (
        ReasonCode::PrizeLure,
        0.4,
        &[
            r"\b(wygral\w*|wygrana|zostal\w* (zwyciezc\w*|wylosowan\w*)|odbierz (nagrod\w*|prezent\w*|bon\w*)|darmow\w* (iphone|nagrod\w*|bon\w*)|you (have |'ve )?won|you are (the|a) winner|claim your (prize|reward|gift)|free (gift|iphone|prize)|congratulations.{0,40}(won|selected|winner))",
        ],
    ),
    (
        ReasonCode::Urgency,
        0.15,
        &[
            r"\b(pilne|pilnie|pilna|szybko|natychmiast\w*|na juz|od razu|w ciagu (\d+ )?(godzin\w*|minut\w*|24 ?h|dni)|ostatni\w* (szans\w*|dzien|termin|wezwan\w*)|ostateczn\w* (wezwan\w*|termin)|do (konca dnia|dzisiaj|jutra)|urgent\w*|asap|immediately|right now|right away|within (\d+ )?(hours?|minutes?|24 ?h)|last chance|today only|final (notice|warning)|as soon as possible)\b",
        ],
    ),
    (
        ReasonCode::PaymentRequest,
        0.2,
        &[
            r"\b(przelej\w*|przelac|przelew\w*|wyslij (mi )?(pieniadze|kase|kasy|\d)|wplac\w*|zaplac\w*|oplac\w*|pozycz\w*|pozyczk\w*|potrzebuj\w* (pieniedzy|kasy|\d)|wesprzyj|transfer|wire|send (me )?(money|\$?\d|the money|cash|funds)|pay|lend|borrow|gift cards?|karty podarunkow\w*|kod\w* (paysafecard|podarunkow\w*))\b",
        ],
    ),
    (
        ReasonCode::Excuse,
        0.15,
        &[
            r"(nie dziala mi|nie moge sie zalogowac|zapomnial\w* (portfela|karty|telefonu)|nie mam (portfela|karty|przy sobie)|stoj\w* (przy|w) kasie|zablokowal\w* mi (sie )?(konto|karte|aplikacj\w*)|przekroczyl\w* limit|my (app|card|bank|banking app) (is(n'?t| not) working|doesn'?t work|is blocked|got blocked)|forgot my (wallet|card)|i'?m at the (checkout|till|register)|i can'?t (log ?in|access my bank))",
        ],
    ),
    (
        ReasonCode::RepaymentPromise,
        0.15,
        &[
            r"\b(oddam|odde|zwroce|odesle|oddaje|odeslę|zwrocimy|pay (you )?back|paying (you )?back|will return (it|the money)|i'?ll return)\b",
        ],
    ),
    (
        ReasonCode::FriendOpener,
        0.1,
        &[
            r"\b(masz (chwil\w*|moment\w*|sekund\w*)|jestes (tam|teraz)\?|do you have a (minute|moment|sec(ond)?)|are you (there|free|busy))",
        ],
    ),
];

impl MessageRules {
    /// Compiles the rule table.
    pub fn new() -> Result<Self, GuardError> {
        let mut rules = Vec::with_capacity(RULES.len());
        for (code, weight, groups) in RULES {
            let mut compiled = Vec::with_capacity(groups.len());
            for g in *groups {
                let re = regex::bytes::RegexBuilder::new(g)
                    .unicode(false)
                    .size_limit(8 << 20)
                    .build()
                    .map_err(|e| GuardError::Rules(format!("{}: {e}", code.as_str())))?;
                compiled.push(re);
            }
            rules.push(Rule {
                code: *code,
                weight: *weight,
                groups: compiled,
            });
        }
        let small_fee = regex::bytes::RegexBuilder::new(SMALL_FEE)
            .unicode(false)
            .build()
            .map_err(|e| GuardError::Rules(format!("small_fee: {e}")))?;
        Ok(Self { rules, small_fee })
    }

    /// Runs the rules over folded text; returns one reason per firing rule (plus the urgency+payment combo).
    pub fn check(&self, folded: &str) -> Vec<Reason> {
        let bytes = folded.as_bytes();
        let mut out = Vec::new();
        for r in &self.rules {
            if r.groups.iter().all(|g| g.is_match(bytes)) {
                out.push(message_reason(r.code, r.weight));
            }
        }
        let has = |out: &[Reason], c: ReasonCode| out.iter().any(|r| r.code == c);
        if has(&out, ReasonCode::Urgency) && has(&out, ReasonCode::PaymentRequest) {
            out.push(message_reason(ReasonCode::UrgencyPaymentCombo, 0.35));
        }
        if has(&out, ReasonCode::ParcelSurcharge) && self.small_fee.is_match(bytes) {
            out.push(message_reason(ReasonCode::SmallFeeAmount, 0.3));
        }
        out
    }
}

/// A small amount (under 10 units with a fraction, like "1,99 zł" or "$1.50") typical of parcel-fee lures.
const SMALL_FEE: &str = r"\b\d[.,]\d{2} ?(zl|pln|usd|eur|gbp)\b|\$\d[.,]\d{2}\b";

/// The fixed Polish and English explanation of a message rule.
pub fn message_reason(code: ReasonCode, weight: f32) -> Reason {
    use ReasonCode::*;
    let (pl, en): (&str, &str) = match code {
        BlikCodeRequest => (
            "Ktoś prosi o kod BLIK. Nigdy nie podawaj kodu BLIK przez komunikator: najpierw zadzwoń do tej osoby.",
            "Someone asks for a BLIK code. Never share a BLIK code over a messenger: call the person first.",
        ),
        CodeReadback => (
            "Ktoś prosi o przepisanie kodu z SMS-a lub PIN-u. Bank nigdy o to nie prosi.",
            "Someone asks you to read back a code from a text message or a PIN. Banks never ask for that.",
        ),
        RemoteAccessApp => (
            "Prośba o instalację programu do zdalnego dostępu (AnyDesk, TeamViewer, QuickSupport). Bank nigdy tego nie robi.",
            "A request to install a remote-access app (AnyDesk, TeamViewer, QuickSupport). Banks never do this.",
        ),
        BankStaffImpersonation => (
            "Ktoś podaje się za pracownika banku lub działu bezpieczeństwa. Rozłącz się i zadzwoń na numer z karty.",
            "Someone claims to be bank or security staff. Hang up and call the number on your card.",
        ),
        AuthorityImpersonation => (
            "Ktoś podaje się za policję lub urząd i mówi o pieniądzach. Policja nie prosi o przelewy ani kody BLIK.",
            "Someone claims to be police or an authority and talks about money. Police never ask for transfers or codes.",
        ),
        SafeAccount => (
            "Namowa do przelania pieniędzy na „bezpieczne konto”. Takie konto nie istnieje: to oszustwo.",
            "Pressure to move money to a \"safe account\". No such account exists: it is a scam.",
        ),
        NewNumberFamily => (
            "Wiadomość „mamo/tato, to mój nowy numer”. Zadzwoń na stary numer dziecka, zanim cokolwiek zapłacisz.",
            "A \"mum/dad, this is my new number\" message. Call your child's old number before paying anything.",
        ),
        ParcelSurcharge => (
            "Żądanie dopłaty do przesyłki. Firmy kurierskie nie proszą o dopłaty przez link w SMS-ie.",
            "A demand for a parcel surcharge. Couriers don't ask for extra fees through a link in a text.",
        ),
        SmallFeeAmount => (
            "Drobna kwota (np. 1,99 zł) to typowa przynęta, by wyłudzić dane karty.",
            "A tiny amount (e.g. 1.99) is a typical bait to steal card details.",
        ),
        MarketplaceLure => (
            "Wiadomość o „odbiorze płatności” z OLX, Vinted lub Allegro. Sprzedając nie podajesz danych karty przez link.",
            "A \"receive your payment\" message about OLX, Vinted or Allegro. Sellers never enter card details via a link.",
        ),
        InvestmentScam => (
            "Obietnica pewnego zysku lub inwestycji w kryptowaluty czy akcje znanych spółek. To typowe oszustwo inwestycyjne.",
            "A promise of guaranteed profit or of crypto or big-company investments. This is a typical investment scam.",
        ),
        CardDataRequest => (
            "Prośba o numer karty, datę ważności lub kod CVV.",
            "A request for a card number, expiry date or CVV code.",
        ),
        CredentialsRequest => (
            "Prośba o login, hasło lub „weryfikację konta” przez link.",
            "A request for a login, password or \"account verification\" via a link.",
        ),
        AccountThreat => (
            "Straszenie blokadą konta lub podejrzaną transakcją, by skłonić do pośpiechu.",
            "A threat of a blocked account or a suspicious transaction, to rush you.",
        ),
        PrizeLure => (
            "Informacja o wygranej lub nagrodzie, której trzeba „odebrać”.",
            "A claim that you won a prize you must \"claim\".",
        ),
        Urgency => (
            "Wiadomość wywiera presję czasu.",
            "The message pressures you to hurry.",
        ),
        PaymentRequest => (
            "Wiadomość prosi o pieniądze lub płatność.",
            "The message asks for money or a payment.",
        ),
        UrgencyPaymentCombo => (
            "Pośpiech połączony z prośbą o pieniądze to typowy znak oszustwa.",
            "Urgency combined with a request for money is a typical sign of a scam.",
        ),
        Excuse => (
            "Wymówka typu „nie działa mi aplikacja” lub „stoję przy kasie”.",
            "An excuse such as \"my app isn't working\" or \"I'm at the checkout\".",
        ),
        RepaymentPromise => (
            "Obietnica szybkiego zwrotu pieniędzy.",
            "A promise to pay the money back soon.",
        ),
        FriendOpener => (
            "Początek typowy dla przejętych kont: „masz chwilę?”.",
            "An opener typical of hijacked accounts: \"do you have a minute?\".",
        ),
        LinkWithLure => (
            "Wiadomość z przynętą zawiera link do nieznanej strony: nie klikaj go.",
            "A lure message contains a link to an unknown site: don't click it.",
        ),
        HiddenCharacters => (
            "Tekst zawiera niewidoczne znaki sterujące (np. odwracające kierunek tekstu), które mogą ukrywać treść.",
            "The text contains invisible control characters (e.g. direction overrides) that can hide content.",
        ),
        InputTruncated => (
            "Wiadomość była bardzo długa; sprawdziłem tylko jej początek.",
            "The message was very long; only its beginning was checked.",
        ),
        _ => (
            "Podejrzany element wiadomości.",
            "A suspicious element in the message.",
        ),
    };
    Reason::new(code, weight, pl.to_string(), en.to_string())
}
