//! Known-bad lists (CERT Polska format) reload when the file changes; hostile input gets a verdict, in
//! bounded time, never a panic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use okienko_guard::{Guard, GuardConfig, GuardError, ReasonCode, VerdictKind};

fn write(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).expect("write list");
}

#[test]
fn list_hit_is_scam_and_reload_picks_up_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = dir.path().join("domains.txt");
    write(&list, "# CERT Polska warning list\nold-scam-test.pl\n");
    let g = Guard::new(GuardConfig {
        known_bad_files: vec![list.clone()],
        refresh_every: Duration::ZERO,
        ..GuardConfig::default()
    })
    .expect("guard");
    assert_eq!(g.known_bad_len(), 1);

    let v = g.check("https://login.old-scam-test.pl/x");
    assert_eq!(v.verdict, VerdictKind::Scam);
    assert!(v.has(ReasonCode::KnownBadDomain));
    assert_eq!(v.score, 1.0);
    assert!(!g.check("new-scam-test.pl").has(ReasonCode::KnownBadDomain));

    // The feed adds a domain and removes one: the next check sees both changes.
    write(
        &list,
        "# CERT Polska warning list\nnew-scam-test.pl\nthird-one-test.pl\n",
    );
    let v = g.check("czy to bezpieczne? new-scam-test.pl");
    assert!(v.has(ReasonCode::KnownBadDomain), "{v:?}");
    assert_eq!(v.verdict, VerdictKind::Scam);
    assert!(!g.check("old-scam-test.pl").has(ReasonCode::KnownBadDomain));

    // A list that disappears keeps its last good contents.
    std::fs::remove_file(&list).expect("remove");
    assert!(g.check("new-scam-test.pl").has(ReasonCode::KnownBadDomain));
    assert_eq!(g.reload_lists().domains, 2);
}

#[test]
fn refresh_interval_is_respected_and_reload_now_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = dir.path().join("domains.txt");
    write(&list, "a-scam.example\n");
    let g = Guard::new(GuardConfig {
        known_bad_files: vec![list.clone()],
        refresh_every: Duration::from_secs(3600),
        ..GuardConfig::default()
    })
    .expect("guard");
    write(&list, "a-scam.example\nb-scam.example\n");
    // Not polled yet (interval not elapsed).
    assert!(!g.check("b-scam.example").has(ReasonCode::KnownBadDomain));
    let stats = g.reload_lists();
    assert_eq!(stats.files_reloaded, 1);
    assert!(g.check("b-scam.example").has(ReasonCode::KnownBadDomain));
}

#[test]
fn allow_list_wins_over_a_wrong_list_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = dir.path().join("domains.txt");
    write(&list, "mbank.pl\n");
    let g = Guard::new(GuardConfig {
        known_bad_files: vec![list],
        ..GuardConfig::default()
    })
    .expect("guard");
    assert_eq!(g.check("mbank.pl").verdict, VerdictKind::Safe);
}

#[test]
fn missing_list_at_start_is_a_clear_error() {
    let err = Guard::new(GuardConfig {
        known_bad_files: vec!["/nonexistent/okienko/list.txt".into()],
        ..GuardConfig::default()
    })
    .expect_err("must fail");
    assert!(matches!(err, GuardError::ListRead { .. }));
    assert!(err.to_string().contains("/nonexistent/okienko/list.txt"));
}

#[test]
fn the_real_cert_format_snapshot_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/phishing/KADomains_2021-07-16.txt");
    if !path.exists() {
        eprintln!("skipping: {} not present", path.display());
        return;
    }
    let g = Guard::new(GuardConfig {
        known_bad_files: vec![path],
        ..GuardConfig::default()
    })
    .expect("guard");
    assert!(g.known_bad_len() > 23_000);
    assert!(
        g.check("www.olx.pl-id111333.icu")
            .has(ReasonCode::KnownBadDomain)
    );
}

#[test]
fn hostile_input_gets_a_verdict_in_bounded_time() {
    let g = Guard::new(GuardConfig::default()).expect("guard");
    let one_mb_blik = "podaj kod blik ".repeat(70_000);
    let one_mb_domains = "mbank.pl-logowanie.site ".repeat(45_000);
    let one_mb_dots = ".".repeat(1 << 20);
    let one_mb_word = "a".repeat(1 << 20);
    let long_label = format!("{}.pl", "x".repeat(300));
    let many_labels = format!("{}pl", "a.".repeat(5000));
    let cases: Vec<String> = vec![
        one_mb_blik,
        one_mb_domains,
        one_mb_dots,
        one_mb_word,
        long_label,
        many_labels,
        "\u{202E}lp.knabm\u{202C} kod \u{200B}BLIK".into(),
        "\u{0000}\u{0007}\u{001B}[31m\u{007F}".into(),
        "xn--".into(),
        "xn--zz.pl".into(),
        "xn--a.pl".into(),
        "http://xn--.pl".into(),
        "https://xn--80ak6aa92e.com".into(),
        "http://[::1".into(),
        "http://".into(),
        "hxxp://".into(),
        "http://@/".into(),
        "https://a@b@c@d.example".into(),
        "http://999.999.999.999/".into(),
        "💩.la".into(),
        "ﬁ.pl".into(),
        "ß.pl xn--zca.pl".into(),
        "\u{FEFF}\u{FEFF}".into(),
        "\u{0301}\u{0301}\u{0301}".into(),
        "𝐦𝐛𝐚𝐧𝐤.pl".into(),
        "ｍｂａｎｋ．ｐｌ".into(),
        "a..b...c.pl".into(),
        "-mbank-.pl".into(),
        "mbank.pl\u{3002}evil.com".into(),
        "\u{0000}mbank\u{0000}.pl".into(),
        "%00.pl http://%zz/".into(),
        "\u{10FFFF}.pl".into(),
    ];
    for text in &cases {
        let start = Instant::now();
        let v = g.check(text);
        assert!((0.0..=1.0).contains(&v.score));
        let line = g.check_json_line(text);
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("valid JSON line");
        assert_eq!(parsed["text"].as_str(), Some(text.as_str()));
        assert!(!line.contains('\n'));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "slow on {:?}",
            &text[..text.len().min(40)]
        );
    }
    let v = g.check(&"podaj kod blik ".repeat(70_000));
    assert!(v.has(ReasonCode::InputTruncated) && v.has(ReasonCode::BlikCodeRequest));
    let v = g.check("\u{202E}lp.knabm\u{202C} kod \u{200B}BLIK");
    assert!(v.has(ReasonCode::HiddenCharacters));
    let v = g.check("xn--zz.pl");
    assert!(v.has(ReasonCode::InvalidDomain), "{v:?}");
    // Full-width and mathematical letters fold into the brand.
    // Full-width letters are the same host to a browser (IDNA maps them): the real mbank.pl.
    assert!(
        g.check("ｍｂａｎｋ．ｐｌ")
            .has(ReasonCode::AllowlistedDomain)
    );
    // An ideographic full stop is a dot to IDNA: this is a foreign domain wearing mbank.pl.
    assert_eq!(
        g.check("mbank.pl\u{3002}evil.com").verdict,
        VerdictKind::Scam
    );
}

#[test]
fn shared_across_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = dir.path().join("domains.txt");
    write(&list, "t-scam.example\n");
    let g = Arc::new(
        Guard::new(GuardConfig {
            known_bad_files: vec![list],
            refresh_every: Duration::ZERO,
            ..GuardConfig::default()
        })
        .expect("guard"),
    );
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let g = Arc::clone(&g);
            std::thread::spawn(move || {
                (0..200).all(|_| g.check("t-scam.example").has(ReasonCode::KnownBadDomain))
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().expect("thread"));
    }
}
