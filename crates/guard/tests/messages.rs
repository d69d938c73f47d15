//! Scam-message rules in Polish and English: each scam type gets `scam` or `suspicious` with the right reason,
//! and ordinary banking chat stays `safe`.

use okienko_guard::{Guard, GuardConfig, ReasonCode, Verdict, VerdictKind};

fn guard() -> Guard {
    Guard::new(GuardConfig::default()).expect("guard")
}

fn flagged_with(g: &Guard, text: &str, code: ReasonCode) -> Verdict {
    let v = g.check(text);
    assert!(v.is_flagged(), "not flagged: {text:?} -> {v:?}");
    assert!(v.has(code), "missing {code}: {text:?} -> {v:?}");
    v
}

#[test]
fn blik_code_request_pl_and_en() {
    let g = guard();
    let v = flagged_with(&g, "kolega prosi o kod BLIK", ReasonCode::BlikCodeRequest);
    assert_eq!(v.verdict, VerdictKind::Scam);
    flagged_with(&g, "podaj kod blik", ReasonCode::BlikCodeRequest);
    let v = flagged_with(
        &g,
        "Hej, masz chwilę? Nie działa mi aplikacja, podeślij mi kod BLIK na 500 zł, oddam wieczorem",
        ReasonCode::BlikCodeRequest,
    );
    assert_eq!(v.verdict, VerdictKind::Scam);
    assert!(v.has(ReasonCode::Excuse) && v.has(ReasonCode::RepaymentPromise));
    flagged_with(
        &g,
        "Hey, can you send me a BLIK code for 300 zł? My bank app isn't working, I'll pay you back tonight",
        ReasonCode::BlikCodeRequest,
    );
    // Diacritics, capitals and Cyrillic look-alikes don't hide it.
    flagged_with(&g, "PODEŚLIJ KOD BL\u{0406}K", ReasonCode::BlikCodeRequest);
}

#[test]
fn new_number_family_pl_and_en() {
    let g = guard();
    let v = flagged_with(
        &g,
        "Cześć mamo, to mój nowy numer. Możesz mi pilnie przelać 800 zł?",
        ReasonCode::NewNumberFamily,
    );
    assert_eq!(v.verdict, VerdictKind::Scam);
    flagged_with(
        &g,
        "Hi mum, this is my new number, my phone broke. Can you send me money urgently?",
        ReasonCode::NewNumberFamily,
    );
}

#[test]
fn parcel_surcharge_pl_and_en() {
    let g = guard();
    let v = flagged_with(
        &g,
        "InPost: Twoja paczka czeka na dopłatę 1,99 zł. Opłać: https://inpost.pl-doplata.xyz/abc",
        ReasonCode::ParcelSurcharge,
    );
    assert_eq!(v.verdict, VerdictKind::Scam);
    assert!(v.has(ReasonCode::SmallFeeAmount));
    assert!(v.has(ReasonCode::LinkWithLure));
    flagged_with(
        &g,
        "DPD: your parcel is on hold. Pay the 1.99 GBP redelivery fee today",
        ReasonCode::ParcelSurcharge,
    );
}

#[test]
fn fake_bank_staff_pl_and_en() {
    let g = guard();
    let v = flagged_with(
        &g,
        "Dzień dobry, tu dział bezpieczeństwa Pana banku. Proszę zainstalować AnyDesk i podać kod z SMS-a. \
         Przelejemy środki na bezpieczne konto.",
        ReasonCode::RemoteAccessApp,
    );
    assert_eq!(v.verdict, VerdictKind::Scam);
    assert!(v.has(ReasonCode::SafeAccount));
    assert!(v.has(ReasonCode::CodeReadback));
    assert!(v.has(ReasonCode::BankStaffImpersonation));
    let v = flagged_with(
        &g,
        "This is the fraud department of your bank. Please install TeamViewer QuickSupport and read me the \
         SMS code, then move your savings to a safe account.",
        ReasonCode::SafeAccount,
    );
    assert_eq!(v.verdict, VerdictKind::Scam);
    assert!(v.has(ReasonCode::RemoteAccessApp) && v.has(ReasonCode::CodeReadback));
}

#[test]
fn investment_scams_pl_and_en() {
    let g = guard();
    flagged_with(
        &g,
        "Inwestycja w Baltic Pipe! Gwarantowany zysk 5000 zł miesięcznie",
        ReasonCode::InvestmentScam,
    );
    flagged_with(
        &g,
        "Guaranteed returns of 30% a month! Invest in crypto with our AI trading bot",
        ReasonCode::InvestmentScam,
    );
}

#[test]
fn urgency_and_payment_combos() {
    let g = guard();
    flagged_with(
        &g,
        "Pilne! Zapłać dziś zaległą fakturę, inaczej odłączymy prąd",
        ReasonCode::UrgencyPaymentCombo,
    );
    flagged_with(
        &g,
        "URGENT: pay the outstanding invoice immediately",
        ReasonCode::UrgencyPaymentCombo,
    );
}

#[test]
fn marketplace_and_credentials() {
    let g = guard();
    flagged_with(
        &g,
        "OLX: kupujący opłacił Twój przedmiot. Odbierz środki: olx.pl-odbior24.online",
        ReasonCode::MarketplaceLure,
    );
    flagged_with(
        &g,
        "Your account has been suspended. Click here to verify your account: secure-login-paypal.top",
        ReasonCode::CredentialsRequest,
    );
}

#[test]
fn ordinary_chat_is_safe() {
    let g = guard();
    for text in [
        "Ile wydałem w Biedronce w marcu?",
        "Pokaż saldo",
        "Przelew do Anny 50 zł na czynsz",
        "Thanks, see you tomorrow",
        "What did I spend on groceries last week?",
        "Zablokuj kartę, zgubiłem portfel",
        "Spotkajmy się o godz.12 np. w kawiarni, wersja 1.2.3.4",
        "",
    ] {
        let v = g.check(text);
        assert_eq!(v.verdict, VerdictKind::Safe, "{text:?} -> {v:?}");
    }
}

#[test]
fn reasons_have_both_languages() {
    let g = guard();
    let v = g.check("podaj kod blik");
    for r in &v.reasons {
        assert!(!r.message_pl.is_empty() && !r.message_en.is_empty());
        assert_ne!(r.message_pl, r.message_en);
    }
    assert!(
        v.explain(okienko_core::Lang::Pl)
            .starts_with("To wygląda na oszustwo.")
    );
    assert!(v.explain(okienko_core::Lang::En).contains("BLIK"));
}
