//! Hostile input: never a panic, always a parse, in bounded time.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use okienko_nlu::{Intent, Nlu};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

/// xorshift64*: deterministic, so a failing case replays exactly.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn fuzz_random_bytes_never_panics() {
    let nlu = Nlu::new();
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    // Pieces that steer the generator into the parsers' interesting corners.
    let pieces: &[&str] = &[
        "przelej ",
        "zł",
        "$",
        "€",
        "1-15 ",
        "października",
        "01.03.2025",
        "2025-13-45",
        "od ",
        "do ",
        "powyżej ",
        "1 200 ",
        "Annie",
        "w Biedronce",
        "k",
        "tys",
        "ostatnie ",
        "99999999999999999999",
        " dni",
        "last ",
        "\u{202E}",
        "\0",
        "👋",
        "http://",
        ".",
        ",",
        "-",
        "29.02",
        "since ",
        "May ",
    ];
    for round in 0..1500 {
        let len = (g.next() % 80) as usize;
        let mut bytes = Vec::with_capacity(len * 4);
        for _ in 0..len {
            let r = g.next();
            if r.is_multiple_of(3) {
                bytes.extend_from_slice(pieces[(r >> 8) as usize % pieces.len()].as_bytes());
            } else {
                bytes.push((r >> 16) as u8);
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let day = today() + chrono::Duration::days((round % 800) as i64 - 400);
        let p = nlu.parse(
            &text,
            day,
            &["Biedronka".to_owned(), "".to_owned(), "Ż".to_owned()],
        );
        assert!((0.0..=1.0).contains(&p.confidence));
        if let (Some(a), Some(b)) = (p.slots.date_from, p.slots.date_to) {
            assert!(a <= b, "{text:?}");
        }
        let line = nlu.parse_json_line(&text, day);
        assert!(serde_json::from_str::<serde_json::Value>(&line).is_ok());
    }
}

#[test]
fn empty_huge_binary_and_rtl_input() {
    let nlu = Nlu::new();
    for text in ["", " ", "\0\0\0", "\u{202E}ajnabeid\u{202C}", "\u{FEFF}"] {
        assert_eq!(
            nlu.parse(text, today(), &[]).intent,
            Intent::OutOfScope,
            "{text:?}"
        );
    }
    let huge = "przelej 50 zł Annie ".repeat(5000); // 100 KB
    let binary: String = (0..100_000u32)
        .map(|i| char::from_u32(i % 0xD000).unwrap_or(' '))
        .collect();
    for text in [huge.as_str(), binary.as_str()] {
        let start = Instant::now();
        let p = nlu.parse(text, today(), &[]);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "took {:?}",
            start.elapsed()
        );
        assert!((0.0..=1.0).contains(&p.confidence));
    }
}
