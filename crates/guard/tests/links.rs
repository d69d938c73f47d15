//! Link checks: allow-listed domains are safe; homoglyphs, punycode, brand-in-subdomain and the `.pl-` hyphen
//! trick are caught; the JSON line follows the `okienko guard check` contract.

use okienko_guard::{Guard, GuardConfig, ReasonCode, VerdictKind};

fn guard() -> Guard {
    Guard::new(GuardConfig::default()).expect("guard")
}

#[test]
fn allowlisted_domains_are_safe() {
    let g = guard();
    for d in [
        "pkobp.pl",
        "ipko.pl",
        "mbank.pl",
        "santander.pl",
        "ing.pl",
        "pekao.com.pl",
        "bankmillennium.pl",
        "aliorbank.pl",
        "credit-agricole.pl",
        "bnpparibas.pl",
        "velobank.pl",
        "citibank.pl",
        "allegro.pl",
        "olx.pl",
        "inpost.pl",
        "poczta-polska.pl",
        "dpd.com.pl",
        "vinted.pl",
        "gov.pl",
        "podatki.gov.pl",
        "blik.com",
        "chase.com",
        "bankofamerica.com",
        "wellsfargo.com",
        "paypal.com",
        "amazon.com",
        "https://www.mbank.pl/logowanie",
        "https://login.ipko.pl/",
        "www.allegro.pl/oferta/123",
        "https://www.biznes.gov.pl/pl/portal/00123",
        "https://secure.chase.com/web/auth",
        "WWW.PKOBP.PL.",
        "https://mbank.pl/?x=1#frag",
    ] {
        let v = g.check(d);
        assert_eq!(v.verdict, VerdictKind::Safe, "{d} -> {v:?}");
        assert!(v.has(ReasonCode::AllowlistedDomain), "{d} -> {v:?}");
        assert!(
            g.is_allowlisted(
                d.trim_start_matches("https://")
                    .split('/')
                    .next()
                    .unwrap_or(d)
            ) || d.contains("://")
                || d.contains('/')
        );
    }
}

#[test]
fn hosting_subdomains_do_not_inherit_the_allow_list() {
    let g = guard();
    // s3.amazonaws.com is a public suffix (private section): the bucket is its own registrable domain.
    let v = g.check("https://mbank-logowanie.s3.amazonaws.com/index.html");
    assert!(v.is_flagged(), "{v:?}");
    assert!(!v.has(ReasonCode::AllowlistedDomain));
}

#[test]
fn homoglyph_pkobp_with_cyrillic_er() {
    let g = guard();
    // "рkobp.pl" with Cyrillic р (U+0440) in place of the Latin p.
    let v = g.check("\u{0440}kobp.pl");
    assert_eq!(v.verdict, VerdictKind::Scam, "{v:?}");
    assert!(v.has(ReasonCode::HomoglyphBrand));
    // The same in a sentence, as a full URL.
    let v = g.check("czy ten link jest bezpieczny? https://pko\u{0431}p.pl/logowanie");
    assert!(v.is_flagged(), "{v:?}");
}

#[test]
fn punycode_form_is_caught() {
    let g = guard();
    let puny = idna::domain_to_ascii("\u{0440}kobp.pl").expect("idna");
    assert!(puny.starts_with("xn--"));
    let v = g.check(&format!("https://{puny}/login"));
    assert_eq!(v.verdict, VerdictKind::Scam, "{v:?}");
    assert!(v.has(ReasonCode::HomoglyphBrand) && v.has(ReasonCode::Punycode));
}

#[test]
fn ascii_lookalikes() {
    let g = guard();
    let v = g.check("rnbank.pl");
    assert!(v.has(ReasonCode::HomoglyphBrand), "{v:?}");
    let v = g.check("a11egro.pl");
    assert!(v.has(ReasonCode::HomoglyphBrand), "{v:?}");
    let v = g.check("mbamk.pl");
    assert!(v.is_flagged() && v.has(ReasonCode::TypoBrand), "{v:?}");
    let v = g.check("m-bank.pl");
    assert!(v.is_flagged() && v.has(ReasonCode::TypoBrand), "{v:?}");
}

#[test]
fn hyphen_trick_and_brand_in_subdomain() {
    let g = guard();
    let v = g.check("mbank.pl-logowanie.site");
    assert_eq!(v.verdict, VerdictKind::Scam, "{v:?}");
    assert!(v.has(ReasonCode::BrandDomainEmbedded) && v.has(ReasonCode::PlHyphenTrick));
    let v = g.check("allegro-lokalnie.pl.xyz");
    assert_eq!(v.verdict, VerdictKind::Scam, "{v:?}");
    assert!(v.has(ReasonCode::BrandInSubdomain) && v.has(ReasonCode::FakeSuffix));
    let v = g.check("https://olx.pl-id111333.icu/pay");
    assert_eq!(v.verdict, VerdictKind::Scam, "{v:?}");
    let v = g.check("login.mbank.pl.weryfikacja.com.pl");
    assert_eq!(v.verdict, VerdictKind::Scam, "{v:?}");
    let v = g.check("inpost-paczka.com");
    assert!(v.is_flagged() && v.has(ReasonCode::BrandInDomain), "{v:?}");
}

#[test]
fn link_tricks() {
    let g = guard();
    let v = g.check("https://mbank.pl@evil.example.com/login");
    assert!(v.is_flagged() && v.has(ReasonCode::UserinfoTrick), "{v:?}");
    let v = g.check("http://185.12.1.2/mbank/logowanie");
    assert!(v.is_flagged() && v.has(ReasonCode::IpAddressLink), "{v:?}");
    let v = g.check("hxxps://inpost.pl-doplata.xyz");
    assert_eq!(v.verdict, VerdictKind::Scam, "{v:?}");
}

#[test]
fn unknown_plain_domains_are_safe_but_say_so() {
    let g = guard();
    for d in [
        "example.com",
        "https://www.rust-lang.org/learn",
        "kwiaciarnia-roza.pl",
        "mail.ru",
        "republika.pl",
    ] {
        let v = g.check(d);
        assert_eq!(v.verdict, VerdictKind::Safe, "{d} -> {v:?}");
    }
    assert!(g.check("example.com").has(ReasonCode::UnknownDomain));
}

#[test]
fn json_line_follows_the_contract() {
    let g = guard();
    let line = g.check_json_line("mbank.pl-logowanie.site");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    let obj = v.as_object().expect("object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["reasons", "score", "text", "verdict"]);
    assert_eq!(v["text"], "mbank.pl-logowanie.site");
    assert_eq!(v["verdict"], "scam");
    let score = v["score"].as_f64().expect("score");
    assert!((0.0..=1.0).contains(&score));
    let reasons = v["reasons"].as_array().expect("reasons");
    assert!(reasons.iter().all(|r| r.is_string()));
    assert!(reasons.iter().any(|r| {
        r.as_str()
            .is_some_and(|s| s.starts_with("brand_domain_embedded: "))
    }));
    let safe: serde_json::Value =
        serde_json::from_str(&g.check_json_line("Pokaż saldo")).expect("json");
    assert_eq!(safe["verdict"], "safe");
}
