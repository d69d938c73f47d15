//! The product's intent set and the weighted rule table over folded tokens.
//!
//! Owns the [`Intent`] enum (the contract's names) and the rules (Polish and English cue words
//! and short phrases, typo-tolerant via [`crate::fuzzy`]). The rules no longer decide alone:
//! their scores and the slot [`Hints`] are strong features of the trained model
//! ([`crate::product`]), which learns from the data how far to trust each one.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::fuzzy;
use crate::text::Token;

/// The product's intents (the `okienko nlu parse` contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Greeting,
    Thanks,
    Help,
    LinkBank,
    Balance,
    Transactions,
    SpendingSummary,
    CardBlock,
    CardUnblock,
    Transfer,
    Agent,
    ReportFraud,
    ScamCheck,
    AlertSettings,
    RevokeConsent,
    AccessLog,
    OutOfScope,
}

impl Intent {
    pub const ALL: [Intent; 17] = [
        Intent::Greeting,
        Intent::Thanks,
        Intent::Help,
        Intent::LinkBank,
        Intent::Balance,
        Intent::Transactions,
        Intent::SpendingSummary,
        Intent::CardBlock,
        Intent::CardUnblock,
        Intent::Transfer,
        Intent::Agent,
        Intent::ReportFraud,
        Intent::ScamCheck,
        Intent::AlertSettings,
        Intent::RevokeConsent,
        Intent::AccessLog,
        Intent::OutOfScope,
    ];

    /// The contract's snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Intent::Greeting => "greeting",
            Intent::Thanks => "thanks",
            Intent::Help => "help",
            Intent::LinkBank => "link_bank",
            Intent::Balance => "balance",
            Intent::Transactions => "transactions",
            Intent::SpendingSummary => "spending_summary",
            Intent::CardBlock => "card_block",
            Intent::CardUnblock => "card_unblock",
            Intent::Transfer => "transfer",
            Intent::Agent => "agent",
            Intent::ReportFraud => "report_fraud",
            Intent::ScamCheck => "scam_check",
            Intent::AlertSettings => "alert_settings",
            Intent::RevokeConsent => "revoke_consent",
            Intent::AccessLog => "access_log",
            Intent::OutOfScope => "out_of_scope",
        }
    }

    pub fn parse(s: &str) -> Option<Intent> {
        Intent::ALL.into_iter().find(|i| i.as_str() == s)
    }

    fn index(self) -> usize {
        Intent::ALL.iter().position(|i| *i == self).unwrap_or(16)
    }
}

use Intent::*;

/// (intent, weight, pattern). A pattern is a sequence of elements that must occur in order,
/// each at most two tokens after the previous; an element is `a|b|c`, where `x*` is a prefix.
/// Tokens are folded (no diacritics), so patterns are written without them.
const RULES: &[(Intent, f32, &str)] = &[
    // greeting
    (
        Greeting,
        1.2,
        "czesc|hej|hejka|hejo|heja|siema|siemka|siemano|elo|witam|witaj|witajcie|serwus|hello|hi|hey|hiya|yo|howdy|greetings|halo|helo|hallo|czolem",
    ),
    (Greeting, 1.2, "dzien|dobry dobry|wieczor"),
    (Greeting, 1.2, "good morning|afternoon|evening|day"),
    (Greeting, 1.2, "emoji_wave"),
    // thanks
    (
        Thanks,
        1.6,
        "dzieki|dziekuje|dziekujemy|dziekuj*|dzieks|dzienki|podziekowani*|thx|thanks|thank|thnx|tnx|ty|cheers|appreciate*|dzk|merci|dzieku",
    ),
    (Thanks, 1.4, "emoji_thanks"),
    (
        Thanks,
        0.6,
        "super|swietnie|great|awesome|perfect|git|spoko|ok|okej|okay|emoji_ok",
    ),
    // help
    (
        Help,
        1.6,
        "pomoc|pomocy|pomoz|pomozesz|pomozcie|help|helpie|support|wsparcie",
    ),
    (Help, 2.2, "co umiesz|potrafisz|mozesz|robisz"),
    (Help, 2.2, "what can|do you do|help"),
    (Help, 2.0, "jak to|ty dziala|dzialasz"),
    (Help, 2.0, "how does this|it|you work"),
    (
        Help,
        1.8,
        "menu|opcje|options|commands|komendy|instrukcj*|funkcje|features|capabilities|mozliwosci",
    ),
    (Help, 1.5, "emoji_help"),
    (Help, 1.6, "jak korzystac|uzywac"),
    (Help, 1.6, "how to use"),
    (Help, 1.2, "kim|czym jestes"),
    (Help, 1.2, "who|what are you"),
    (Help, 1.0, "nie wiem jak|co"),
    // link_bank
    (
        LinkBank,
        3.0,
        "polacz*|podlacz*|podepn*|dodaj|dodac|zintegruj*|zepnij|spiac|connect*|link|linking|add|hook|sync*|synchronizuj* bank*|konto|konta|account*|rachun*|mbank|pko|ing|santander|revolut",
    ),
    (LinkBank, 2.0, "open banking"),
    (LinkBank, 2.0, "openbanking"),
    (
        LinkBank,
        2.0,
        "nowy|new|another|inny|drugi bank|konto|account",
    ),
    (
        LinkBank,
        2.0,
        "zaloguj*|login|log|sign do|to|in banku|bank*",
    ),
    (LinkBank, 1.0, "emoji_link"),
    // balance
    (Balance, 3.0, "saldo|salda|saldem|saldzie"),
    (Balance, 3.0, "stan konta|rachunku|srodkow|kasy|konto"),
    (Balance, 2.2, "ile mam|mamy|zostalo"),
    (Balance, 1.2, "na koncie|rachunku"),
    (
        Balance,
        2.5,
        "ile kasy|pieniedzy|hajsu|forsy|kasiory|siana|szmalu|srodkow",
    ),
    (
        Balance,
        1.8,
        "kasa|kasy|kase|hajs|forsa|szmal|kasiora|siano",
    ),
    (Balance, 2.0, "srodki|srodkow|dostepne|dostepnych"),
    (Balance, 3.0, "balance|bal|balans|balanse"),
    (Balance, 2.5, "how much money|cash|funds"),
    (Balance, 2.0, "how much have|left|got"),
    (Balance, 2.0, "funds|money in|on my account|acct|card"),
    (Balance, 1.5, "emoji_money"),
    (
        Balance,
        2.0,
        "czy mam|starczy|wystarczy kase|kasy|pieniadze|pieniedzy|srodki|na",
    ),
    (Balance, 2.0, "can i afford"),
    (Balance, 2.0, "have enough"),
    (Balance, 1.5, "splukany|broke|goly"),
    // transactions
    (
        Transactions,
        2.5,
        "transakcj*|transaction*|transakcyj*|tranzakcj*",
    ),
    (
        Transactions,
        2.0,
        "historia|historie|historii|history|wyciag|wyciagu|statement*|zestawienie",
    ),
    (
        Transactions,
        1.6,
        "platnosc*|platnosci|payments|wydatki|wydatkow|operacj*|zakupy|zakupow|purchases|charges|przelewy|przelewow|transfers|wplyw*|przychod*|deposits|incoming|wyplat*|withdrawals|spendings|rachunki",
    ),
    (
        Transactions,
        1.2,
        "pokaz|pokazac|show|list|wyswietl|zobacz|zobaczyc|see|sprawdz|check|lista|display|view|pull",
    ),
    (
        Transactions,
        2.5,
        "what|where did i pay|buy|bought|purchase|shop",
    ),
    (Transactions, 2.2, "co kupil*|zaplacil*|placil*|kupowal*"),
    (Transactions, 2.2, "gdzie placil*|zaplacil*|kupowal*|kupil*"),
    (Transactions, 2.2, "za co placil*|zaplacil*"),
    (Transactions, 1.0, "ostatnie|ostatnich|recent|latest|last"),
    (Transactions, 1.5, "emoji_receipt"),
    (Transactions, 1.5, "ile razy"),
    (Transactions, 1.5, "how many times"),
    (Transactions, 1.8, "did i pay|spend|buy at|in|w|u"),
    // spending_summary
    (
        SpendingSummary,
        3.5,
        "ile wyda*|wydal*|wydaje*|wydalismy|przepuscil*|poszlo|idzie|zaplacil*|placimy|kosztowal*|przewalil*|przejadl*|przelalem",
    ),
    (
        SpendingSummary,
        3.5,
        "how much spen*|spent|spending|pay|paid|blow|blew",
    ),
    (
        SpendingSummary,
        3.0,
        "podsumowan*|podsumuj|summary|summarize|summarise|zsumuj|overview|recap",
    ),
    (
        SpendingSummary,
        1.5,
        "suma|sume|sumie|sum|total|lacznie|razem|totals",
    ),
    (SpendingSummary, 3.0, "na co wyda*|poszl*|ida|idzie"),
    (
        SpendingSummary,
        2.5,
        "statystyk*|stats|breakdown|analiz*|budzet*|budget*|rozklad|struktura|structure|trend*",
    ),
    (
        SpendingSummary,
        2.0,
        "spending|spendings|expenses|wydatki|wydatkow|koszty|kosztow",
    ),
    (
        SpendingSummary,
        2.5,
        "gdzie|where ucieka*|uciekaj*|ida|idzie|goes|go|does pieniadze|kasa|money|hajs",
    ),
    (SpendingSummary, 2.0, "emoji_chart"),
    (SpendingSummary, 1.5, "kategori*|categor*"),
    (SpendingSummary, 2.0, "najwiecej|most|biggest|najwieksze"),
    // card_block
    (
        CardBlock,
        3.0,
        "zablok*|zastrzez*|zastrzec|zastrzeg*|zamroz*|blokad*|blokuj|wstrzymaj",
    ),
    (
        CardBlock,
        2.6,
        "block*|freeze|froze|lock|cancel|deactivate|disable|suspend|stop",
    ),
    (
        CardBlock,
        3.0,
        "zgubil*|zgubion*|zgubie|zgubienie|lost|lose|losing|stracil*|misplaced|zginela|zapodzial*",
    ),
    (CardBlock, 2.5, "nie moge znalezc kart*|portfel*"),
    (CardBlock, 2.5, "can't|cant|cannot find card|wallet"),
    (
        CardBlock,
        0.8,
        "kart*|karcie|card|cards|debetow*|kredytow*|visa|mastercard",
    ),
    (CardBlock, 2.0, "emoji_lock"),
    // card_unblock
    (
        CardUnblock,
        3.8,
        "odblok*|odmroz*|unblock*|unfreez*|unlock*|reactivat*|reaktywuj*|odwies*",
    ),
    (
        CardUnblock,
        3.0,
        "znalazl*|odnalazl*|found kart*|card|portfel|wallet",
    ),
    (
        CardUnblock,
        2.5,
        "wlacz|wlaczyc|aktywuj|aktywowac|przywroc|przywrocic|enable|activate|restore|turn kart*|card|ja|ponownie|znowu|again|back",
    ),
    (CardUnblock, 1.0, "ponownie|znowu|again"),
    (CardUnblock, 2.5, "back on"),
    (
        CardUnblock,
        2.5,
        "nie dziala|dzialaj*|przechodzi|odrzuca|odrzucil* kart*|karta|platnosc",
    ),
    (
        CardUnblock,
        2.5,
        "kart*|karta|card nie|doesn't|doesnt|isn't|not|declined dziala|przechodzi|work*|declined|zablokowan*|blocked",
    ),
    (CardUnblock, 2.0, "emoji_unlock"),
    (CardUnblock, 0.8, "kart*|karcie|card|cards"),
    // transfer
    (
        Transfer,
        3.2,
        "przelej|przelac|przelew|przelewik|przelewem|przelejesz|przelejcie|przelewu",
    ),
    (
        Transfer,
        3.0,
        "wyslij|wyslac|wysle|wyslesz|przekaz|przekazac|zaplac|zaplacic|oddaj|oddac|zwroc|zwrocic|przeslij|podeslij|zrzuc|zrzucic",
    ),
    (Transfer, 2.8, "send|transfer|wire|venmo|zelle|remit|pay"),
    (
        Transfer,
        2.6,
        "przenies*|przerzuc*|move|moving kase|pieniadze|money|funds|oszczednos*|savings|konto",
    ),
    (Transfer, 2.5, "blik na telefon|numer"),
    (Transfer, 2.0, "emoji_send"),
    (
        Transfer,
        1.5,
        "chce|chcialbym|chcialabym|want|need|musze|trzeba oddac|zaplacic|send|pay|przelac|wyslac",
    ),
    // agent
    (
        Agent,
        3.2,
        "konsultant*|doradc*|czlowiek*|ludzi|pracownik*|operator*|human|humans|agent|representative|rep",
    ),
    (
        Agent,
        3.0,
        "prawdziw*|zyw*|real|actual|live osob*|person|human|czlowiek*|someone|agent",
    ),
    (
        Agent,
        1.2,
        "rozmaw*|porozmaw*|pogadac|pogadam|talk|speak|chat|polacz|connect|transfer mnie|me|z|with|to",
    ),
    (
        Agent,
        2.2,
        "infolinia|infolinii|hotline|callcenter|zadzwon*|oddzwon*|callback",
    ),
    (Agent, 2.2, "call center|me"),
    (Agent, 2.2, "phone call"),
    (Agent, 2.0, "nie rozumiesz"),
    (
        Agent,
        1.5,
        "useless|bezuzyteczn*|beznadziej*|glupi|stupid|bot|robot",
    ),
    (Agent, 2.2, "reklamacj*|skarg*|complaint|complain|zazalen*"),
    (Agent, 1.5, "emoji_person"),
    (Agent, 2.0, "ktos z banku|obslugi"),
    (Agent, 2.0, "someone from bank|support"),
    // report_fraud
    (
        ReportFraud,
        3.6,
        "nie rozpozn*|rozpoznaje|poznaje|znam|kojarze|robilem|robilam|zlecal*|autoryz*|wykonywal*|zamawial*|kupowal*|placilem|placilam",
    ),
    (
        ReportFraud,
        3.4,
        "don't|dont|didn't|didnt|never|not recogni*|make|made|authori*|buy|bought|order*",
    ),
    (ReportFraud, 3.4, "do|did not recogni*|make|authori*"),
    (
        ReportFraud,
        3.0,
        "nieautoryz*|unauthori*|nieznan*|obca|obcy|fraudulent",
    ),
    (
        ReportFraud,
        3.6,
        "ukradl*|ukradzion*|ukradli|kradziez*|stole|stolen|theft|steal|okradl*|okradzion*|okradziono|skradzion*|robbed",
    ),
    (
        ReportFraud,
        3.0,
        "hacked|hack|zhakowan*|wlam*|przejal|przejeto|compromised|breach",
    ),
    (
        ReportFraud,
        3.0,
        "ktos|someone|somebody uzyl|uzywa|uzywal|korzysta|used|using|took|wyplacil|zabral|ukradl|placi|charged|zrobil",
    ),
    (ReportFraud, 2.5, "nie ja|moja|moje"),
    (ReportFraud, 2.0, "nie|ja zrobil*|robil*|zlecal*|wykonal*"),
    (ReportFraud, 2.5, "not|wasn't|wasnt me"),
    (
        ReportFraud,
        2.8,
        "podejrzan*|dziwn*|strange|weird|suspicious|odd transakcj*|platnos*|obciaz*|transaction*|charge*|payment*|przelew*|wyplat*",
    ),
    (
        ReportFraud,
        2.5,
        "oszust*|fraud|oszukan*|oszukal*|naciagn*|wyludzil*|ofiar*|victim|scammed",
    ),
    (ReportFraud, 2.0, "zglos*|zglaszam|report|reporting"),
    (ReportFraud, 2.5, "charged twice"),
    (ReportFraud, 2.5, "double charged|charge"),
    (ReportFraud, 2.5, "podwojn*|twice|chargeback"),
    (ReportFraud, 1.5, "dwa razy"),
    (
        ReportFraud,
        2.5,
        "znikn*|zniknel*|disappear*|missing|brakuje pieniadze|pieniedzy|kasa|kasy|money|srodki|srodkow|funds|zl|mi",
    ),
    (ReportFraud, 1.5, "emoji_alarm"),
    // scam_check
    (
        ScamCheck,
        2.0,
        "link|linku|linka|linki|strona|strony|stronie|strone|sms|smsa|smsy|esemes|mail|maila|email|wiadomosc|wiadomosci|message|text|website|site|url|adres|qr",
    ),
    (
        ScamCheck,
        2.0,
        "bezpieczn*|legit|legitny|legitne|safe|prawdziw*|real|genuine|oryginaln*|zaufan*|trustworthy|wiarygodn*",
    ),
    (
        ScamCheck,
        3.5,
        "czy|is to|this|ten|ta|it oszust*|scam|przekret|phishing|wyludzenie|fake|falszyw*|naciag*",
    ),
    (
        ScamCheck,
        3.5,
        "phishing|fishing|wyludz*|podszyw*|impersonat*|spoof*|smishing|vishing",
    ),
    (
        ScamCheck,
        3.5,
        "kod|kodu|code|kody blik|pin|sms|autoryzac*|haslo|hasla|password|weryfikac*",
    ),
    (ScamCheck, 3.2, "blik kod|kodu|code"),
    (
        ScamCheck,
        2.8,
        "prosi|prosil*|prosza|kaze|kazal*|kazali|asked|asking|asks|wants|told|chcial*|zada|wymaga o|mnie|me|for|my|podanie|podac|kod|code|pieniadze|money|przelew|haslo|password|pin|dane|login|zainstal*|install|blik|pozyczk*",
    ),
    (
        ScamCheck,
        3.8,
        "bezpieczne|safe|secure|bezpiecznego|bezpieczny|techniczne konto|account|rachunek|konta",
    ),
    (
        ScamCheck,
        3.0,
        "zainstal*|install|anydesk|teamviewer|quicksupport|zdalny|remote",
    ),
    (
        ScamCheck,
        2.5,
        "dzwonil*|dzwoni|zadzwonil*|called|calling konsultant*|pracownik*|ktos|pani|pan|policj*|bank*|someone|from",
    ),
    (
        ScamCheck,
        2.5,
        "bank*|banku|policj*|pani|pan|ktos|someone dzwonil*|dzwoni|zadzwonil*|called|calling",
    ),
    (
        ScamCheck,
        2.5,
        "inwestycj*|inwestuj*|krypto|crypto|bitcoin|forex|zarob*|earn|gielda|zysk*|profit",
    ),
    (
        ScamCheck,
        2.5,
        "wygral*|wygrana|won|prize|nagrod*|loteri*|lottery|doplat*|paczk*|inpost|dpd|kurier*|olx|vinted|faktur*",
    ),
    (
        ScamCheck,
        2.0,
        "czy moge|mam|powinienem|powinnam kliknac|klikac|otworzyc|wejsc|ufac|zaufac|podac|odpisac",
    ),
    (ScamCheck, 2.0, "should|can i click|open|trust|give|reply"),
    (
        ScamCheck,
        1.5,
        "podejrzan*|suspicious|dziwn*|weird|strange link*|sms*|mail*|wiadomo*|strona|stron*|message|text|call|telefon*|numer",
    ),
    (
        ScamCheck,
        2.5,
        "sprawdz|check|zweryfikuj|verify|zobacz link|strone|sms|numer|wiadomosc|message|number|url|site|mail|email|adres",
    ),
    // alert_settings
    (
        AlertSettings,
        3.2,
        "powiadomien*|powiadom*|alert*|notyfikacj*|notification*|notify|powiadamiaj|powiadamianie|przypomnien*",
    ),
    (AlertSettings, 2.6, "daj|dawaj znac"),
    (
        AlertSettings,
        2.4,
        "informuj|poinformuj|ostrzegaj|ostrzez|przypomnij|powiadamiaj mnie|mi|o|gdy|kiedy",
    ),
    (
        AlertSettings,
        2.4,
        "let|tell|warn|remind|ping|notify me know|when|if|whenever|about",
    ),
    (
        AlertSettings,
        1.5,
        "ustaw|ustawienia|settings|skonfiguruj|configure|wlacz|wylacz|enable|disable|mute|wycisz|push",
    ),
    (AlertSettings, 2.5, "emoji_bell|emoji_bell_off"),
    (
        AlertSettings,
        1.5,
        "gdy|kiedy|jesli|jezeli|when|whenever|if saldo|balance|wydam|spend|przyjdzie|wplynie|wplyw|arrives|drops|spadnie|przekroczy|goes|falls",
    ),
    (AlertSettings, 1.0, "limit"),
    // Quiet hours: the times that come with them ("od 13:01 do 14:03") look like amounts and
    // dates to the model, so the phrase itself must carry the intent.
    (AlertSettings, 4.0, "cisza|ciszy|cisze nocna|nocnej"),
    (AlertSettings, 4.0, "quiet hours|time|mode"),
    (AlertSettings, 3.2, "nie przeszkadzac|przeszkadzaj"),
    (AlertSettings, 3.2, "disturb"),
    (AlertSettings, 3.2, "tryb|night nocny|mode"),
    (AlertSettings, 1.5, "o kazdej|kazdym|kazdy"),
    // revoke_consent
    (
        RevokeConsent,
        3.8,
        "odlacz*|odepnij|odpiac|rozlacz*|disconnect*|unlink*|odlaczyc",
    ),
    (RevokeConsent, 2.0, "wyloguj* bank*|konto|account"),
    (
        RevokeConsent,
        3.8,
        "wycofaj|wycofac|wycofuje|cofnij|cofnac|cofam|odwolaj|odwolac|odwoluje|revoke|withdraw|rescind|cancel|anuluj* zgod*|consent*|dostep*|access|uprawnien*|permission*|autoryzac*|pozwolen*",
    ),
    (
        RevokeConsent,
        3.6,
        "usun|usunac|usuncie|skasuj|skasowac|wykasuj|wymaz|wyczysc|delete|erase|remove|wipe|purge|clear dane|danych|data|informacje|info|historie|wszystko|konto|account|me|mnie|profil|profile|everything|bank|banku",
    ),
    (RevokeConsent, 3.0, "zapomnij|forget mnie|me|everything|o"),
    (RevokeConsent, 2.5, "rodo|gdpr"),
    (RevokeConsent, 2.5, "right to be forgotten"),
    (RevokeConsent, 2.5, "prawo do bycia zapomnianym"),
    (
        RevokeConsent,
        2.5,
        "zrezygnuj*|rezygnuj*|rezygnacj*|unsubscribe",
    ),
    (RevokeConsent, 2.5, "opt out"),
    (RevokeConsent, 1.5, "nie chce juz|dluzej|wiecej"),
    (RevokeConsent, 1.5, "anymore|longer"),
    (
        RevokeConsent,
        3.0,
        "stop accessing|sharing|korzystania|dostepu|using",
    ),
    // access_log
    (
        AccessLog,
        3.8,
        "kto|who|ktorzy widzial*|ogladal*|przegladal*|sprawdzal*|czytal*|odczytal*|pobieral*|dostep*|mial|miala|seen|saw|viewed|view|accessed|access|looked|read|checked|touched|opened",
    ),
    (
        AccessLog,
        3.8,
        "historia|historie|historii|history|log|logi|logs|rejestr|dziennik|lista|list dostep*|dostepow|odczytow|access|accesses|views|audit*",
    ),
    (AccessLog, 3.5, "access log|logs|history"),
    (AccessLog, 3.0, "audyt*|audit*"),
    (
        AccessLog,
        2.8,
        "komu|whom|who udostepn*|przekaz*|share*|sell|sold|sprzedaj*|widzi",
    ),
    (
        AccessLog,
        2.2,
        "dane|danych|data udostepn*|shared|sharing|sold|sprzedaj*|przekazuj*|przekazywane|trafiaja|go",
    ),
    (AccessLog, 2.8, "co robicie|robisz dane|danymi|danych"),
    (AccessLog, 2.8, "what do|happens with|to my data|info"),
    (AccessLog, 2.8, "how do|you use my data"),
    (
        AccessLog,
        2.8,
        "jak uzywacie|wykorzystuj*|przetwarzacie danych|dane|moich",
    ),
    (
        AccessLog,
        2.5,
        "kiedy|when ostatnio|last sprawdzano|pobierano|odczytano|accessed|checked|read|synced",
    ),
    (AccessLog, 1.5, "prywatnos*|privacy|dane|danych|data"),
    // out_of_scope cues
    (
        OutOfScope,
        2.5,
        "pogod*|weather|prognoz*|forecast|deszcz|rain|temperatur*|slonce|snieg",
    ),
    (
        OutOfScope,
        2.5,
        "zart*|dowcip*|kawal|joke*|funny|smieszn*|zabawn*",
    ),
    (
        OutOfScope,
        2.5,
        "przepis*|recipe*|ugotowac|gotowac|cook|pizza|pizze|obiad|kolacje",
    ),
    (
        OutOfScope,
        2.5,
        "film*|movie*|serial*|mecz*|football|soccer|pilka|pilke|sport*|score|game|gra|gry|gre|muzyk*|music|song|piosenk*|wiersz|poem|poezj*",
    ),
    (
        OutOfScope,
        2.5,
        "polityk*|politic*|wybory|election*|prezydent*|president|premier|stolica|stolicy|capital|horoskop*|horoscope|zodiak*",
    ),
    (OutOfScope, 2.5, "ktora godzina"),
    (OutOfScope, 2.5, "what time|day"),
    (OutOfScope, 2.5, "jaki dzien"),
    (
        OutOfScope,
        2.5,
        "translate|przetlumacz|opowiedz|bajk*|historyjk*|story",
    ),
    (
        OutOfScope,
        2.0,
        "pociag|pociagu|train|flight|lotu|hotel|hotelu|rozklad",
    ),
    (OutOfScope, 1.5, "polec*|recommend|doradz*"),
    (OutOfScope, 2.5, "kochasz|randk*|marry|lubisz"),
    (OutOfScope, 2.5, "love you"),
    (OutOfScope, 2.5, "ile masz lat"),
    (OutOfScope, 2.5, "how old"),
    (OutOfScope, 2.5, "gdzie mieszkasz"),
    (OutOfScope, 2.5, "where do you live"),
    (OutOfScope, 2.5, "do you like"),
];

/// One alternative of a rule element: a word (typos allowed by its length) or a prefix (`word*`),
/// with what the typo rule allows it worked out once.
#[derive(Debug)]
enum Alt {
    Word {
        text: String,
        max_edits: usize,
        /// [`fuzzy::letter_set`] of `text`.
        letters: u64,
    },
    Prefix {
        text: String,
        fuzzy: bool,
        /// [`fuzzy::letter_set`] of `text`.
        letters: u64,
    },
}

impl Alt {
    fn new(folded: String) -> Alt {
        match folded.strip_suffix('*') {
            Some(p) => Alt::Prefix {
                // Only prefixes of six letters or more may carry a slip (`fuzzy::prefix_matches`).
                fuzzy: p.chars().count() >= 6 && !p.contains('_'),
                letters: fuzzy::letter_set(p),
                text: p.to_owned(),
            },
            None => Alt::Word {
                // Pseudo-words ("emoji_lock") are exact only (`fuzzy::word_matches`).
                max_edits: if folded.contains('_') {
                    0
                } else {
                    fuzzy::allowed_edits(folded.chars().count())
                },
                letters: fuzzy::letter_set(&folded),
                text: folded,
            },
        }
    }

    fn text(&self) -> &str {
        match self {
            Alt::Word { text, .. } | Alt::Prefix { text, .. } => text,
        }
    }

    /// The same answer as `fuzzy::word_matches` / `fuzzy::prefix_matches`, with the cases they
    /// would reject after some work rejected first.
    /// `tok_letters` is [`fuzzy::letter_set`] of `tok`.
    fn matches(&self, tok: &str, tok_letters: u64) -> bool {
        match self {
            Alt::Word {
                text,
                max_edits,
                letters,
            } => {
                if text == tok {
                    return true;
                }
                if *max_edits == 0
                    || (text.is_ascii()
                        && tok.is_ascii()
                        && text.len().abs_diff(tok.len()) > *max_edits)
                    || !fuzzy::may_be_within(*letters, tok_letters, *max_edits)
                {
                    return false;
                }
                fuzzy::word_matches(text, tok)
            }
            Alt::Prefix {
                text,
                fuzzy,
                letters,
            } => {
                // One slip drops at most one of the prefix's letters from the token's start, so
                // at most one may be missing from the whole token.
                tok.starts_with(text.as_str())
                    || (*fuzzy
                        && (letters & !tok_letters).count_ones() <= 1
                        && fuzzy::prefix_matches(text, tok))
            }
        }
    }
}

struct Rule {
    intent: Intent,
    weight: f32,
    /// Per element, the ids of its alternatives in [`Table::alts`].
    elems: Vec<Vec<usize>>,
}

/// The rules with every distinct alternative stored once. A token can only match an alternative
/// that starts with the same byte (exactly, by prefix or within a typo: `fuzzy` never lets the
/// first letter slip), so each token is compared with the few alternatives under its first byte,
/// once, instead of with every rule's.
struct Table {
    alts: Vec<Alt>,
    /// Alternative ids by first byte; `by_first[256]` holds those that are empty (match anything).
    by_first: Vec<Vec<usize>>,
    rules: Vec<Rule>,
}

static COMPILED: LazyLock<Table> = LazyLock::new(|| {
    let mut alts: Vec<Alt> = Vec::new();
    let mut ids: std::collections::HashMap<String, usize> = Default::default();
    let rules = RULES
        .iter()
        .map(|(intent, weight, pat)| Rule {
            intent: *intent,
            weight: *weight,
            elems: pat
                .split_whitespace()
                .map(|e| {
                    e.split('|')
                        .filter(|a| !a.is_empty())
                        .map(|a| {
                            let folded = crate::text::fold(a);
                            *ids.entry(folded.clone()).or_insert_with(|| {
                                alts.push(Alt::new(folded));
                                alts.len() - 1
                            })
                        })
                        .collect()
                })
                .collect(),
        })
        .collect();
    let mut by_first = vec![Vec::new(); 257];
    for (id, alt) in alts.iter().enumerate() {
        let slot = alt
            .text()
            .as_bytes()
            .first()
            .map_or(256, |b| usize::from(*b));
        by_first[slot].push(id);
    }
    Table {
        alts,
        by_first,
        rules,
    }
});

/// Which alternatives each token matches: one bit per alternative, `width` words per token.
struct Matches {
    width: usize,
    bits: Vec<u64>,
}

impl Matches {
    fn of(table: &Table, words: &[&str]) -> Matches {
        let width = table.alts.len().div_ceil(64);
        let mut bits = vec![0u64; width * words.len()];
        for (t, word) in words.iter().enumerate() {
            let first = word.as_bytes().first().map_or(256, |b| usize::from(*b));
            let letters = fuzzy::letter_set(word);
            let candidates = table.by_first[first].iter().chain(&table.by_first[256]);
            for &id in candidates {
                if table.alts[id].matches(word, letters) {
                    bits[t * width + id / 64] |= 1 << (id % 64);
                }
            }
        }
        Matches { width, bits }
    }

    fn has(&self, token: usize, alt: usize) -> bool {
        self.bits[token * self.width + alt / 64] & (1 << (alt % 64)) != 0
    }

    /// The alternatives matched by any token (one bit each).
    fn anywhere(&self) -> Vec<u64> {
        let mut any = vec![0u64; self.width];
        for row in self.bits.chunks_exact(self.width.max(1)) {
            any.iter_mut().zip(row).for_each(|(a, b)| *a |= b);
        }
        any
    }
}

/// Max tokens allowed between two consecutive pattern elements.
const MAX_GAP: usize = 2;

/// Whether the rule's elements occur in order with bounded gaps.
fn rule_matches(
    rule: &Rule,
    n: usize,
    matches: &Matches,
    reach: &mut Vec<bool>,
    next: &mut Vec<bool>,
) -> bool {
    for (e, alts) in rule.elems.iter().enumerate() {
        next.clear();
        next.resize(n, false);
        let mut any = false;
        for t in 0..n {
            if e > 0 {
                let lo = t.saturating_sub(MAX_GAP + 1);
                if !reach[lo..t].iter().any(|r| *r) {
                    continue;
                }
            }
            if alts.iter().any(|a| matches.has(t, *a)) {
                next[t] = true;
                any = true;
            }
        }
        if !any {
            return false;
        }
        std::mem::swap(reach, next);
    }
    true
}

/// Raw scores per intent from the rule table.
pub fn rule_scores(tokens: &[Token]) -> [f32; 17] {
    let words: Vec<&str> = tokens
        .iter()
        .filter(|t| !matches!(t.kind, crate::text::Kind::Url | crate::text::Kind::Number))
        .map(|t| t.fold.as_str())
        .collect();
    let mut scores = [0f32; 17];
    if words.is_empty() {
        return scores;
    }
    let table = &*COMPILED;
    let matches = Matches::of(table, &words);
    // Scratch rows for the matcher, shared by every rule.
    let anywhere = matches.anywhere();
    let somewhere = |alt: &usize| anywhere[alt / 64] & (1 << (alt % 64)) != 0;
    let (mut reach, mut next) = (Vec::new(), Vec::new());
    for rule in &table.rules {
        // Most rules have an element no token matches: no need to walk the tokens for them.
        if !rule.elems.iter().all(|alts| alts.iter().any(somewhere)) {
            continue;
        }
        if rule_matches(rule, words.len(), &matches, &mut reach, &mut next) {
            scores[rule.intent.index()] += rule.weight;
        }
    }
    scores
}

/// What slots were found, as hints for the intent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    pub url: bool,
    pub amount: bool,
    pub recipient: bool,
    pub merchant: bool,
    pub date: bool,
    pub category: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    #[test]
    fn every_rule_compiles_to_something() {
        for r in &COMPILED.rules {
            assert!(!r.elems.is_empty());
            assert!(r.elems.iter().all(|e| !e.is_empty()));
        }
    }

    #[test]
    fn typos_still_score() {
        let s = rule_scores(&tokenize("ile mam na kocie"));
        assert!(s[Balance.index()] >= 3.0);
        let s = rule_scores(&tokenize("saldo konat"));
        assert!(s[Balance.index()] >= 3.0);
    }

    #[test]
    fn names_round_trip() {
        for i in Intent::ALL {
            assert_eq!(Intent::parse(i.as_str()), Some(i));
            assert_eq!(
                serde_json::to_string(&i).unwrap(),
                format!("\"{}\"", i.as_str())
            );
        }
    }
}
