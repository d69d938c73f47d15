//! Every quick reply label the dialog makes fits Messenger's 20 characters (`MAX_LABEL_CHARS`),
//! in Polish and in English, counted in characters, not bytes.
//!
//! The labels are found in the crate's own source, so a new button cannot slip past: each
//! `QuickReply::new(…)` and `qr(…)` call's label argument is resolved to the `T("pl", "en")`
//! constants it names, the literals it holds, or the `T` literals of the function it calls
//! (`intent_label`); every `QR_*` constant counts too. A label made of data must pass through
//! `short_label` (or `payee_label`, which is tested here); anything else unresolved fails the test.

use std::collections::BTreeMap;
use std::path::Path;

use okienko_core::Lang;
use okienko_insights::Category;

use crate::reply::{MAX_LABEL_CHARS, short_label};

fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("quick_labels.rs") {
                out.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out.sort();
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The string literal starting at byte `i` (a `"`): its value and the byte after it.
fn literal(s: &str, i: usize) -> (String, usize) {
    let mut out = String::new();
    let mut chars = s[i + 1..].char_indices().peekable();
    while let Some((k, c)) = chars.next() {
        match c {
            '"' => return (out, i + 1 + k + 1),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                // A line continuation: the next line's indentation is not part of the text.
                Some((_, '\n')) => {
                    while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                        chars.next();
                    }
                }
                Some((_, e)) => out.push(e),
                None => break,
            },
            c => out.push(c),
        }
    }
    (out, s.len())
}

/// Every string literal in `s`.
fn literals(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = s[i..].find('"') {
        let (v, next) = literal(s, i + k);
        out.push(v);
        i = next;
    }
    out
}

/// The text from byte `i` to the end of the current argument (a top-level `,` or the closing
/// bracket), skipping string literals.
fn argument(s: &str, i: usize) -> &str {
    let mut depth = 0i32;
    let mut j = i;
    while j < s.len() {
        let c = s[j..].chars().next().unwrap_or(' ');
        match c {
            '"' => {
                j = literal(s, j).1;
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return &s[i..j],
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => return &s[i..j],
            _ => {}
        }
        j += c.len_utf8();
    }
    &s[i..]
}

/// `T("pl", "en")` pairs written in `s`.
fn t_pairs(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = s[i..].find("T(") {
        let at = i + k;
        i = at + 2;
        if s[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let inside = argument(s, at + 2);
        let rest = &s[at + 2 + inside.len()..];
        let second = rest.strip_prefix(',').map(|r| argument(r, 0));
        if let (Some(pl), Some(en)) = (
            literals(inside).into_iter().next(),
            second.and_then(|a| literals(a).into_iter().next()),
        ) {
            out.push((pl, en));
        }
    }
    out
}

/// `const NAME: T = T("pl", "en")` in every file.
fn constants(files: &[(String, String)]) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for (_, s) in files {
        let mut i = 0;
        while let Some(k) = s[i..].find("const ") {
            let at = i + k + "const ".len();
            i = at;
            let name: String = s[at..].chars().take_while(|c| is_ident(*c)).collect();
            let rest = s[at + name.len()..].trim_start();
            if let Some(def) = rest.strip_prefix(": T =")
                && def.trim_start().starts_with("T(")
                && let Some(pair) = t_pairs(def).into_iter().next()
            {
                out.insert(name, pair);
            }
        }
    }
    out
}

/// The body of `fn name(` anywhere in the crate.
fn fn_body<'a>(files: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let needle = format!("fn {name}(");
    files.iter().find_map(|(_, s)| {
        let at = s.find(&needle)?;
        let open = at + s[at..].find('{')?;
        let body = argument(s, open + 1);
        Some(body)
    })
}

fn idents(s: &str) -> Vec<&str> {
    s.split(|c: char| !is_ident(c))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Every fixed label: (where, text).
fn fixed_labels(files: &[(String, String)]) -> (Vec<(String, String)>, Vec<String>) {
    let consts = constants(files);
    let mut labels = Vec::new();
    let mut unresolved = Vec::new();
    fn add(labels: &mut Vec<(String, String)>, at: &str, (pl, en): &(String, String)) {
        labels.push((at.to_owned(), pl.clone()));
        labels.push((at.to_owned(), en.clone()));
    }
    for (name, pair) in &consts {
        if name.starts_with("QR_") {
            add(&mut labels, name, pair);
        }
    }
    for (file, s) in files {
        for needle in ["QuickReply::new(", "qr("] {
            let mut i = 0;
            while let Some(k) = s[i..].find(needle) {
                let at = i + k;
                i = at + needle.len();
                let before = &s[..at];
                if before.chars().next_back().is_some_and(is_ident) || before.ends_with("fn ") {
                    continue;
                }
                let arg = argument(s, i).trim();
                let line = s[..at].lines().count();
                let place = format!("{file}:{line}");
                // Made to fit by construction (and tested below).
                let fitted = arg.contains("short_label(") || arg.contains("payee_label(");
                let mut resolved = fitted;
                for w in idents(arg).into_iter().filter(|_| !fitted) {
                    if let Some(pair) = consts.get(w) {
                        add(&mut labels, &place, pair);
                        resolved = true;
                    }
                }
                for pair in t_pairs(arg).into_iter().filter(|_| !fitted) {
                    add(&mut labels, &place, &pair);
                    resolved = true;
                }
                if !resolved && !arg.contains("format!") && arg.contains('"') {
                    for l in literals(arg) {
                        labels.push((place.clone(), l));
                    }
                    resolved = true;
                }
                if let Some(f) = arg.strip_suffix(')').and_then(|a| a.split('(').next())
                    && !resolved
                    && let Some(body) = fn_body(files, f.trim())
                {
                    for pair in t_pairs(body) {
                        add(&mut labels, &place, &pair);
                        resolved = true;
                    }
                }
                // Checked elsewhere: the helpers' own parameter, the card label (tests in
                // cards.rs), a `QR_*` constant picked by a match, category names (below).
                let known = matches!(
                    arg,
                    "label.pick(lang)" | "c.label.clone()" | "yes" | "c.label(lang)"
                );
                if !resolved && !known {
                    unresolved.push(format!("{place}: {arg}"));
                }
            }
        }
    }
    for c in Category::ALL {
        for lang in [Lang::Pl, Lang::En] {
            labels.push((format!("category {}", c.as_str()), c.label(lang).to_owned()));
        }
    }
    (labels, unresolved)
}

#[test]
fn every_quick_reply_label_fits_messenger_in_both_languages() {
    let files = sources();
    let (labels, unresolved) = fixed_labels(&files);
    assert!(
        unresolved.is_empty(),
        "quick reply labels the test cannot check (use a T constant or short_label):\n{}",
        unresolved.join("\n")
    );
    // The scan finds the buttons it should: the menu, cards, alerts, transfers, intents.
    let texts: Vec<&str> = labels.iter().map(|(_, t)| t.as_str()).collect();
    for expected in [
        "Saldo",
        "Show my alerts",
        "Zgubiona/skradziona",
        "Tak, na pewno",
        "Sprawdź link",
        "Tak, zapłać",
    ] {
        assert!(texts.contains(&expected), "{expected} not found: {texts:?}");
    }
    assert!(labels.len() > 60, "{}", labels.len());
    let long: Vec<String> = labels
        .iter()
        .filter(|(_, t)| t.chars().count() > MAX_LABEL_CHARS || t.trim().is_empty())
        .map(|(at, t)| format!("{at}: {t:?} ({} chars)", t.chars().count()))
        .collect();
    assert!(
        long.is_empty(),
        "quick replies over {MAX_LABEL_CHARS} characters:\n{}",
        long.join("\n")
    );
}

#[test]
fn data_labels_are_cut_to_fit() {
    assert_eq!(short_label("Biedronka"), "Biedronka");
    let cut = short_label("Przedsiębiorstwo Handlowo-Usługowe Żółć");
    assert_eq!(cut.chars().count(), MAX_LABEL_CHARS);
    assert!(cut.ends_with('…') && cut.starts_with("Przedsiębiorstwo"));
    // Exactly 20 (with multi-byte letters) is kept whole.
    let twenty = "Zażółć gęślą jaźń ab";
    assert_eq!(twenty.chars().count(), 20);
    assert_eq!(short_label(twenty), twenty);
    let iban: okienko_core::Iban = "PL61109010140000071219812874".parse().unwrap();
    for name in [
        "Tomasz",
        "Tomasz Nowak",
        "Małgorzata Brzęczyszczykiewicz",
        "",
    ] {
        let l = crate::transfer::payee_label(name, &iban);
        assert!(l.chars().count() <= MAX_LABEL_CHARS, "{l}");
        assert!(l.ends_with("••2874"), "{l}");
    }
    assert_eq!(
        crate::transfer::payee_label("Tomasz Nowak", &iban),
        "Tomasz Nowak ••2874"
    );
}
