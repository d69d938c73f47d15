//! Every sentence the bot says, in Polish and in English, in one place.

use okienko_core::Lang;

/// A message in both languages; `pick` chooses.
pub struct T(pub &'static str, pub &'static str);

impl T {
    pub fn pick(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Pl => self.0,
            Lang::En => self.1,
        }
    }
}

pub const GREETING: T = T(
    "Cześć! Tu Okienko, czat Twojego banku. Mogę pokazać saldo i transakcje albo połączyć Twoje konto.",
    "Hi! This is Okienko, your bank's chat. I can show your balance and transactions, or connect your account.",
);
pub const THANKS: T = T("Proszę bardzo!", "You're welcome!");
pub const HELP: T = T(
    "Potrafię:\n• połączyć Twój bank („połącz bank”),\n• pokazać saldo („ile mam na koncie?”),\n• pokazać transakcje z filtrami („płatności w Biedronce w październiku powyżej 50 zł”),\n• powiedzieć, kto widział Twoje dane („kto widział moje dane?”),\n• odłączyć bank i usunąć dane („odłącz bank”).",
    "I can:\n• connect your bank (\"connect my bank\"),\n• show your balance (\"what's my balance?\"),\n• show transactions with filters (\"show my transactions over $100 this month\"),\n• tell you who has seen your data (\"who has seen my data?\"),\n• disconnect your bank and delete your data (\"disconnect my bank\").",
);
pub const LINK_INTRO: T = T(
    "Otwórz stronę banku, zaloguj się i zatwierdź dostęp. Zobaczysz tam dokładnie, co udostępniasz i do kiedy. Potem wróć tutaj.",
    "Open your bank's page, sign in and approve access. It shows exactly what you share and until when. Then come back here.",
);
pub const LINK_LABEL: T = T("Połącz z bankiem", "Connect to your bank");
pub const ALREADY_LINKED: T = T(
    "Twój bank jest już połączony.",
    "Your bank is already connected.",
);
pub const LINK_PENDING: T = T(
    "Czekam na potwierdzenie w banku. Jeśli zamknąłeś stronę banku, oto nowy link:",
    "I'm waiting for your bank's confirmation. If you closed the bank's page, here is a new link:",
);
pub const LINKED: T = T(
    "Gotowe, bank połączony. Twoje konta:",
    "Done, your bank is connected. Your accounts:",
);
pub const LINK_REJECTED: T = T(
    "Nie udzieliłeś dostępu w banku, więc niczego nie pobrałem. Możesz spróbować ponownie, kiedy zechcesz.",
    "You didn't grant access at the bank, so I fetched nothing. You can try again whenever you like.",
);
pub const NOT_LINKED: T = T(
    "Nie masz jeszcze połączonego banku. Połączę go, jeśli chcesz.",
    "You haven't connected a bank yet. I can connect it if you like.",
);
pub const CONSENT_EXPIRED: T = T(
    "Twoja zgoda na dostęp do konta wygasła. Połącz bank ponownie, żebym mógł pokazać aktualne dane.",
    "Your consent to access the account has expired. Please connect your bank again so I can show current data.",
);
pub const BANK_DOWN: T = T(
    "Bank chwilowo nie odpowiada. Spróbuję ponownie za chwilę i dam znać.",
    "The bank isn't responding right now. I'll try again shortly and let you know.",
);
pub const BANK_DOWN_STALE: T = T(
    "Bank chwilowo nie odpowiada, pokazuję dane z ostatniej synchronizacji. Spróbuję ponownie za chwilę.",
    "The bank isn't responding right now, so this is from the last sync. I'll try again shortly.",
);
pub const BANK_BACK: T = T(
    "Bank znowu odpowiada, dane są aktualne. Zapytaj ponownie, jeśli chcesz.",
    "The bank is back and your data is up to date. Ask again whenever you like.",
);
pub const BAD_BANK_DATA: T = T(
    "Przepraszam, bank przysłał odpowiedź, której nie rozumiem. Zgłosiłem problem; spróbuj za chwilę.",
    "Sorry, the bank sent a reply I couldn't read. I've reported it; please try again in a moment.",
);
pub const ACCESS_EXCEEDED: T = T(
    "Bank ogranicza liczbę odświeżeń na dziś, pokazuję dane z ostatniej synchronizacji.",
    "The bank limits how often I may refresh today, so this is from the last sync.",
);
pub const INTERNAL_ERROR: T = T(
    "Przepraszam, coś poszło nie tak po mojej stronie. Spróbuj ponownie za chwilę.",
    "Sorry, something went wrong on my side. Please try again in a moment.",
);
pub const BALANCE_TITLE: T = T("Saldo", "Balance");
pub const AS_OF: T = T("stan na", "as of");
pub const NO_ACCOUNTS: T = T(
    "Bank nie udostępnił żadnego konta.",
    "The bank didn't share any account.",
);
pub const TX_TITLE: T = T("Transakcje", "Transactions");
pub const TX_NONE: T = T(
    "Nie znalazłem transakcji pasujących do pytania.",
    "I found no transactions matching that.",
);
pub const TX_COLUMNS: [T; 3] = [
    T("Data", "Date"),
    T("Opis", "Description"),
    T("Kwota", "Amount"),
];
pub const MORE: T = T("Więcej", "More");
pub const REVOKED: T = T(
    "Odłączyłem bank: zgoda została wycofana w banku, a wszystkie Twoje dane finansowe (konta, salda, transakcje) usunąłem z Okienka.",
    "I've disconnected your bank: the consent was withdrawn at the bank, and all your financial data (accounts, balances, transactions) is deleted from Okienko.",
);
pub const NOTHING_TO_REVOKE: T = T(
    "Nie masz połączonego banku, więc nie ma czego odłączać. Nie przechowuję żadnych Twoich danych finansowych.",
    "You have no connected bank, so there is nothing to disconnect. I keep none of your financial data.",
);
pub const ACCESS_LOG_TITLE: T = T(
    "Kto ostatnio korzystał z Twoich danych:",
    "Who recently accessed your data:",
);
pub const ACCESS_LOG_EMPTY: T = T(
    "Nikt jeszcze nie korzystał z Twoich danych.",
    "Nobody has accessed your data yet.",
);
pub const NOT_YET: T = T(
    "Tego jeszcze nie potrafię w tym czacie. Mogę pokazać saldo i transakcje albo połączyć bank.",
    "I can't do that in this chat yet. I can show your balance and transactions, or connect your bank.",
);
pub const OUT_OF_SCOPE: T = T(
    "Nie jestem pewien, o co chodzi. Mogę pomóc z saldem, transakcjami albo połączeniem banku.",
    "I'm not sure what you mean. I can help with your balance, transactions or connecting your bank.",
);
pub const QR_BALANCE: T = T("Saldo", "Balance");
pub const QR_TRANSACTIONS: T = T("Transakcje", "Transactions");
pub const QR_LINK: T = T("Połącz bank", "Connect bank");
pub const QR_HELP: T = T("Pomoc", "Help");
pub const QR_ACCESS_LOG: T = T("Kto widział dane?", "Who saw my data");
pub const QR_RETRY_LINK: T = T("Połącz ponownie", "Reconnect");
pub const EXPIRES_SOON: T = T(
    "Twoja zgoda na dostęp do konta wygasa {date}. Połącz bank ponownie, żebym dalej mógł pokazywać saldo i transakcje.",
    "Your consent to access the account ends on {date}. Connect your bank again so I can keep showing your balance and transactions.",
);
pub const REVOKED_AT_BANK: T = T(
    "Wycofałeś zgodę w swoim banku, więc usunąłem z Okienka wszystkie Twoje dane finansowe. Możesz połączyć bank ponownie, kiedy zechcesz.",
    "You withdrew the consent at your bank, so I deleted all your financial data from Okienko. You can connect your bank again whenever you like.",
);
pub const DID_YOU_MEAN: T = T(
    "Nie jestem pewien, o co chodzi. Czy chodzi o jedno z tych?",
    "I'm not sure what you mean. Is it one of these?",
);
pub const PASTE_TO_CHECK: T = T(
    "Wklej link albo treść wiadomości, a sprawdzę, czy to nie oszustwo. Nie zapisuję tego, co wkleisz.",
    "Paste the link or the message and I'll check whether it's a scam. I don't keep what you paste.",
);
pub const NO_ADS: T = T(
    "Nie. Twoich danych używamy wyłącznie do tego, o co prosisz w tym czacie (saldo, transakcje, ostrzeżenia o oszustwach). Reklama, marketing, profilowanie, sprzedaż danych i trenowanie modeli dla innych są zablokowane regułą, której nie da się obejść, a każdy dostęp do Twoich danych jest zapisywany. Zapytaj „kto widział moje dane?”, żeby zobaczyć listę.",
    "No. Your data is used only for what you ask for in this chat (balance, transactions, fraud warnings). Advertising, marketing, profiling, selling data and training models for others are blocked by a rule that cannot be bypassed, and every access to your data is recorded. Ask \"who has seen my data?\" to see the list.",
);

// Forms (crates/dialog/src/forms.rs): a transfer's questions, read-back and confirmation.
pub const FORM_ASK_AMOUNT: T = T("Ile mam przelać?", "How much should I send?");
pub const FORM_ASK_RECIPIENT: T = T("Komu mam przelać pieniądze?", "Who should I send it to?");
pub const FORM_READ_BACK: T = T(
    "Sprawdź: przelew {amount} do: {recipient}. Wysłać?",
    "Please check: a transfer of {amount} to {recipient}. Send it?",
);
pub const FORM_CONFIRM: T = T("Tak, wyślij", "Yes, send it");
pub const FORM_CANCEL: T = T("Anuluj", "Cancel");
pub const FORM_RESUME: T = T("Wróć do przelewu", "Back to the transfer");
pub const FORM_REMINDER: T = T(
    "Twój przelew czeka. Wróćmy do niego, gdy zechcesz.",
    "Your transfer is still waiting. We can go back to it whenever you like.",
);
pub const FORM_CANCELLED: T = T(
    "Anulowane. Nic nie zostało wysłane.",
    "Cancelled. Nothing was sent.",
);
pub const FORM_STALE: T = T(
    "Ten przelew został już obsłużony albo anulowany; nie wyślę go drugi raz.",
    "That transfer was already handled or cancelled; I won't send it twice.",
);
pub const FORM_NOT_UNDERSTOOD: T = T(
    "Nie zrozumiałem. Odpowiedz „tak”, żeby wysłać, albo „anuluj”.",
    "I didn't get that. Answer \"yes\" to send it, or \"cancel\".",
);
pub const FORM_TRANSFERS_OFF: T = T(
    "Ten bank nie włączył jeszcze przelewów z czatu, więc nic nie zostało wysłane. Przelew zrobisz w aplikacji banku.",
    "This bank hasn't turned on transfers from the chat yet, so nothing was sent. You can make the transfer in your bank's app.",
);

// --- Fraud warnings and bank warnings (crate::fraud) ---
pub const FRAUD_WARNING: T = T(
    "Czy to Ty? {amount} w {merchant}, {date}. Ta płatność wygląda nietypowo dla Twojego konta.",
    "Was this you? {amount} at {merchant}, {date}. This payment looks unusual for your account.",
);
pub const FRAUD_YES: T = T("Tak, to ja", "Yes, it was me");
pub const FRAUD_NO: T = T("Nie, zablokuj kartę", "No, block my card");
pub const FRAUD_THANKS: T = T(
    "Dziękuję, zapisałem, że to Ty. Nie będę pytać ponownie o te płatności.",
    "Thanks, noted that it was you. I won't ask about these payments again.",
);
pub const FRAUD_BLOCKED: T = T(
    "Zablokowałem Twoją kartę w banku, więc nikt już nią nie zapłaci. Otworzyłem zgłoszenie oszustwa nr {case}; pracownik banku skontaktuje się z Tobą w sprawie zwrotu pieniędzy i nowej karty.",
    "I've blocked your card at the bank, so nobody can pay with it any more. I've opened fraud case {case}; bank staff will contact you about getting the money back and a new card.",
);
pub const FRAUD_NO_CARD: T = T(
    "Nie znalazłem aktywnej karty do zablokowania. Otworzyłem zgłoszenie oszustwa nr {case}; pracownik banku skontaktuje się z Tobą.",
    "I found no active card to block. I've opened fraud case {case}; bank staff will contact you.",
);
pub const FRAUD_BLOCK_FAILED: T = T(
    "Nie udało mi się teraz zablokować karty w banku. Zadzwoń pilnie na infolinię banku, aby ją zastrzec. Otworzyłem zgłoszenie oszustwa nr {case}.",
    "I couldn't block your card at the bank just now. Please call the bank's hotline right away to block it. I've opened fraud case {case}.",
);
pub const FRAUD_ALREADY: T = T(
    "Ta sprawa jest już załatwiona.",
    "This has already been taken care of.",
);
pub const FRAUD_UNKNOWN: T = T(
    "Nie mam teraz żadnego ostrzeżenia, na które można odpowiedzieć.",
    "There is no warning to answer right now.",
);
pub const BANK_NOTICE: T = T("Ostrzeżenie od Twojego banku:", "A warning from your bank:");

// Spending summaries (crates/dialog/src/insights.rs).
pub const SUMMARY_TITLE: T = T("Wydatki {period}: {total}.", "Spending {period}: {total}.");
pub const SUMMARY_USUAL: T = T(
    "Zwykle w takim okresie wydajesz {usual}.",
    "In a period like this you usually spend {usual}.",
);
pub const SUMMARY_USUALLY: T = T(" (zwykle {usual})", " (usually {usual})");
pub const SUMMARY_MERCHANTS: T = T("Najwięcej u:", "Most at:");
pub const SUMMARY_MORE: T = T(
    "Największa zmiana: {category}, o {delta} więcej niż zwykle.",
    "Biggest change: {category}, {delta} more than usual.",
);
pub const SUMMARY_LESS: T = T(
    "Największa zmiana: {category}, o {delta} mniej niż zwykle.",
    "Biggest change: {category}, {delta} less than usual.",
);
pub const SUMMARY_NONE: T = T(
    "W tym okresie nie widzę żadnych wydatków.",
    "I see no spending in that period.",
);
