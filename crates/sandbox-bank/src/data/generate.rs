//! The generator itself: profiles from `(seed, i)`, one day of transactions from `(seed, i, day)`.
//! Everything random is drawn from ChaCha8 streams in a fixed order, so output is reproducible.

use chrono::{Datelike, NaiveDate};
use okienko_core::{Currency, Iban};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::merchants::{self, Channel, Merchant};
use super::{AccountKind, AccountProfile, GenTx};

/// A customer's standing facts: who they are and their monthly rhythm.
#[derive(Debug, Clone)]
pub struct Profile {
    pub index: usize,
    pub psu_id: String,
    pub name: String,
    pub currency: Currency,
    pub accounts: Vec<AccountProfile>,
    employer: String,
    salary_minor: i64,
    salary_day: u32,
    landlord: String,
    landlord_iban: String,
    rent_minor: i64,
    savings_minor: i64,
    netflix_day: u32,
    spotify_day: u32,
    friends: Vec<(String, String)>,
    /// Average purchases a day, in tenths.
    activity_tenths: u32,
}

fn rng(seed: u64, index: usize, day: i64, tag: u64) -> ChaCha8Rng {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    s[16..24].copy_from_slice(&day.to_le_bytes());
    s[24..].copy_from_slice(&tag.to_le_bytes());
    ChaCha8Rng::from_seed(s)
}

pub fn psu_id(index: usize) -> String {
    match index {
        1 => "anna".to_owned(),
        2 => "john".to_owned(),
        i => format!("cust{i:05}"),
    }
}

fn mask(seed: u64) -> (u32, u8) {
    let mut r = rng(seed, 0, 0, 0x6d61736b);
    (r.random::<u32>(), r.random::<u8>())
}

/// Decodes a `resourceId` back to (customer index, account index). The id is a UUID whose first
/// five bytes carry both, masked by a seed-derived key, so lookups need no global index.
pub fn account_locator(seed: u64, resource_id: &str) -> Option<(usize, usize)> {
    let u = uuid::Uuid::parse_str(resource_id).ok()?;
    let b = u.as_bytes();
    let (m32, m8) = mask(seed);
    let i = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) ^ m32;
    let a = b[4] ^ m8;
    Some((i as usize, a as usize))
}

fn resource_id(seed: u64, index: usize, account: usize, r: &mut ChaCha8Rng) -> String {
    let (m32, m8) = mask(seed);
    let mut bytes: [u8; 16] = r.random();
    bytes[..4].copy_from_slice(&((index as u32) ^ m32).to_be_bytes());
    bytes[4] = (account as u8) ^ m8;
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Computes ISO 13616 check digits for `country` + `bban` and validates through core's `Iban`.
pub fn make_iban(country: &str, bban: &str) -> Option<Iban> {
    let mut rem: u32 = 0;
    for c in bban.chars().chain(country.chars()).chain("00".chars()) {
        let v = c.to_digit(36)?;
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    format!("{country}{:02}{bban}", 98 - rem).parse().ok()
}

fn digits(r: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + r.random_range(0..10u8)))
        .collect()
}

/// PL IBANs use the fictitious sort code 19200011; USD accounts get synthetic GB IBANs with bank
/// code OKIE (valid mod-97, clearly not a real bank).
fn account_iban(currency: Currency, r: &mut ChaCha8Rng) -> Iban {
    loop {
        let candidate = if currency == Currency::PLN {
            make_iban("PL", &format!("19200011{}", digits(r, 16)))
        } else {
            make_iban("GB", &format!("OKIE{}{}", digits(r, 6), digits(r, 8)))
        };
        if let Some(i) = candidate {
            return i;
        }
    }
}

fn pick<'a>(r: &mut ChaCha8Rng, xs: &'a [&'a str]) -> &'a str {
    xs[r.random_range(0..xs.len())]
}

/// Upper-case ASCII as bank descriptions print names ("ŻABKA" → "ZABKA").
pub fn ascii_upper(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ą' | 'Ą' => 'A',
            'ć' | 'Ć' => 'C',
            'ę' | 'Ę' => 'E',
            'ł' | 'Ł' => 'L',
            'ń' | 'Ń' => 'N',
            'ó' | 'Ó' => 'O',
            'ś' | 'Ś' => 'S',
            'ź' | 'Ź' | 'ż' | 'Ż' => 'Z',
            other => other.to_ascii_uppercase(),
        })
        .collect()
}

fn person_name(r: &mut ChaCha8Rng, currency: Currency) -> String {
    if currency == Currency::PLN {
        let first = pick(r, merchants::PL_FIRST);
        let last = pick(r, merchants::PL_LAST);
        // Feminine forms of -ski names for women (names ending in 'a').
        if first.ends_with('a')
            && let Some(stem) = last.strip_suffix("ski")
        {
            return format!("{first} {stem}ska");
        }
        format!("{first} {last}")
    } else {
        format!(
            "{} {}",
            pick(r, merchants::US_FIRST),
            pick(r, merchants::US_LAST)
        )
    }
}

pub fn profile(seed: u64, index: usize, _start: NaiveDate) -> Profile {
    let mut r = rng(seed, index, 0, 1);
    let currency = match index {
        1 => Currency::PLN,
        2 => Currency::USD,
        _ if r.random_bool(0.2) => Currency::USD,
        _ => Currency::PLN,
    };
    let mut name = person_name(&mut r, currency);
    let with_savings = index == 1 || (index > 2 && currency == Currency::PLN && r.random_bool(0.5));
    let pl = currency == Currency::PLN;
    let mut accounts = Vec::new();
    let (main_name, main_product, main_kind) = if pl {
        (
            "Konto osobiste",
            "Konto Osobiste Okienko",
            AccountKind::Personal,
        )
    } else {
        ("Checking", "Everyday Checking", AccountKind::Checking)
    };
    let opening_main = Decimal::new(r.random_range(300_000..1_500_000i64), 2);
    accounts.push(AccountProfile {
        resource_id: resource_id(seed, index, 0, &mut r),
        iban: account_iban(currency, &mut r),
        currency,
        name: main_name.to_owned(),
        product: main_product.to_owned(),
        kind: main_kind,
        opening: opening_main,
    });
    let opening_savings = Decimal::new(r.random_range(500_000..4_000_000i64), 2);
    if with_savings {
        accounts.push(AccountProfile {
            resource_id: resource_id(seed, index, 1, &mut r),
            iban: account_iban(currency, &mut r),
            currency,
            name: "Konto oszczędnościowe".to_owned(),
            product: "Konto Oszczędnościowe Plus".to_owned(),
            kind: AccountKind::Savings,
            opening: opening_savings,
        });
    }
    let employers = if pl {
        merchants::PL_EMPLOYERS
    } else {
        merchants::US_EMPLOYERS
    };
    let employer = pick(&mut r, employers).to_owned();
    let salary_minor = if pl {
        r.random_range(650_000..1_400_000i64)
    } else {
        r.random_range(420_000..900_000i64)
    };
    let salary_day = *[1u32, 10, 15, 25, 28]
        .get(r.random_range(0..5usize))
        .unwrap_or(&10);
    let landlord = person_name(&mut r, currency);
    let landlord_iban = account_iban(currency, &mut r).expose().to_owned();
    let rent_minor = salary_minor * r.random_range(22..32i64) / 100;
    let savings_minor = if with_savings {
        salary_minor * r.random_range(5..15i64) / 100
    } else {
        0
    };
    let netflix_day = r.random_range(1..29u32);
    let spotify_day = r.random_range(1..29u32);
    let friends = (0..4)
        .map(|_| {
            let n = person_name(&mut r, currency);
            (n, account_iban(currency, &mut r).expose().to_owned())
        })
        .collect();
    let activity_tenths = r.random_range(15..32u32);
    let mut p = Profile {
        index,
        psu_id: psu_id(index),
        name: String::new(),
        currency,
        accounts,
        employer,
        salary_minor,
        salary_day,
        landlord,
        landlord_iban,
        rent_minor,
        savings_minor,
        netflix_day,
        spotify_day,
        friends,
        activity_tenths,
    };
    match index {
        1 => {
            name = "Anna Kowalska".to_owned();
            p.employer = "ACME Polska Sp. z o.o.".to_owned();
            p.salary_minor = 980_000;
            p.salary_day = 10;
            p.rent_minor = 260_000;
            p.savings_minor = 100_000;
        }
        2 => {
            name = "John Smith".to_owned();
            p.employer = "ACME CORP".to_owned();
            p.salary_minor = 620_000;
            p.salary_day = 15;
            p.rent_minor = 185_000;
        }
        _ => {}
    }
    p.name = name;
    p.activity_tenths = affordable_activity(&p, p.activity_tenths);
    p
}

/// Average card purchase of a merchant list, in minor units (weights as in `pick_merchant`).
fn mean_purchase_minor(list: &[Merchant]) -> i64 {
    let total: i64 = list.iter().map(|m| i64::from(m.weight)).sum();
    let sum: i64 = list
        .iter()
        .map(|m| i64::from(m.weight) * (m.min_minor + m.max_minor) / 2)
        .sum();
    sum / total.max(1)
}

/// Everyday purchases a month sized to what is left of the salary after rent, savings and bills,
/// so balances stay realistic over two years instead of drifting far below zero. The drawn
/// `activity` only varies habits within that budget (70–95 % of what is left is spent).
fn affordable_activity(p: &Profile, drawn_tenths: u32) -> u32 {
    let pl = p.currency == Currency::PLN;
    let list = if pl {
        merchants::PL_MERCHANTS
    } else {
        merchants::US_MERCHANTS
    };
    let bills = if pl { 40_000 } else { 30_000 };
    let left = (p.salary_minor - p.rent_minor - p.savings_minor - bills).max(0);
    // drawn_tenths is 15..32: map it to a share of 70..95 % of what is left.
    let share = 70 + (i64::from(drawn_tenths).clamp(15, 32) - 15) * 25 / 17;
    let per_day = left * share / 100 / 30;
    let tenths = per_day * 10 / mean_purchase_minor(list).max(1);
    u32::try_from(tenths.clamp(3, 40)).unwrap_or(15)
}

struct DayBuilder<'a> {
    p: &'a Profile,
    r: ChaCha8Rng,
    day: NaiveDate,
    out: Vec<GenTx>,
}

impl DayBuilder<'_> {
    fn id(&mut self) -> String {
        format!("{:016x}", self.r.random::<u64>())
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        account: usize,
        minor: i64,
        counterparty: &str,
        counterparty_iban: Option<String>,
        template: String,
        code: &'static str,
        delay: std::ops::RangeInclusive<u64>,
        change: Option<(i64, i64)>,
    ) {
        if account >= self.p.accounts.len() || minor == 0 {
            return;
        }
        let pending_id = self.id();
        let booked_id = if self.r.random_bool(0.5) {
            self.id()
        } else {
            pending_id.clone()
        };
        let delay = self.r.random_range(delay);
        let mut booked_minor = minor;
        if let Some((lo, hi)) = change
            && self.r.random_bool(0.2)
        {
            let pct = self.r.random_range(lo..=hi);
            let delta = minor * pct / 100;
            booked_minor = minor + if delta == 0 { -1 } else { delta };
        }
        self.out.push(GenTx {
            account,
            entry_date: self.day,
            book_date: self.day + chrono::Days::new(delay),
            pending_id,
            booked_id,
            pending_amount: Decimal::new(minor, 2),
            booked_amount: Decimal::new(booked_minor, 2),
            counterparty: counterparty.to_owned(),
            counterparty_iban,
            raw_template: template,
            code,
        });
    }

    fn purchase(&mut self, m: &Merchant) {
        let pl = self.p.currency == Currency::PLN;
        let minor = self.r.random_range(m.min_minor..=m.max_minor);
        let store = self.r.random_range(1000..9999u32);
        let city = if pl {
            pick(&mut self.r, merchants::PL_CITIES)
        } else {
            pick(&mut self.r, merchants::US_CITIES)
        };
        let cur = self.p.currency.code();
        let (template, code, delay) = match (pl, m.channel) {
            (true, Channel::Blik) => (
                format!("PLATNOSC BLIK {{AMT}} {cur} {}", m.descriptor),
                "BLIK",
                1..=1,
            ),
            (true, _) => (
                format!(
                    "PLATNOSC KARTA {{AMT}} {cur} {} {store} {city}",
                    m.descriptor
                ),
                "CARD",
                1..=3,
            ),
            (false, Channel::Online) => (
                format!("DEBIT CARD PURCHASE {} {{AMT}} {cur}", m.descriptor),
                "CARD",
                1..=3,
            ),
            (false, _) => (
                format!(
                    "POS PURCHASE {} #{store} {city} {{AMT}} {cur}",
                    m.descriptor
                ),
                "CARD",
                1..=3,
            ),
        };
        // Tips and fuel pre-authorisations move up; otherwise small FX/rounding corrections.
        let change = if m.may_change { (5, 15) } else { (-3, 3) };
        self.push(0, -minor, m.name, None, template, code, delay, Some(change));
    }
}

fn pick_merchant<'a>(r: &mut ChaCha8Rng, list: &'a [Merchant]) -> &'a Merchant {
    let total: u32 = list.iter().map(|m| m.weight).sum();
    let mut x = r.random_range(0..total.max(1));
    for m in list {
        if x < m.weight {
            return m;
        }
        x -= m.weight;
    }
    &list[0]
}

/// One day of a customer's transactions.
pub fn day(seed: u64, p: &Profile, day: NaiveDate) -> Vec<GenTx> {
    let mut b = DayBuilder {
        p,
        r: rng(seed, p.index, i64::from(day.num_days_from_ce()), 2),
        day,
        out: Vec::new(),
    };
    let pl = p.currency == Currency::PLN;
    let cur = p.currency.code();
    let dom = day.day();
    let month = day.format("%m/%Y").to_string();
    if dom == p.salary_day {
        let t = if pl {
            format!(
                "PRZELEW PRZYCHODZACY WYNAGRODZENIE {month} OD {}",
                ascii_upper(&p.employer)
            )
        } else {
            format!("PAYROLL DIRECT DEP {} {{AMT}} {cur}", p.employer)
        };
        let emp = p.employer.clone();
        b.push(0, p.salary_minor, &emp, None, t, "TRANSFER", 1..=1, None);
    }
    if dom == 1 {
        let t = if pl {
            format!(
                "PRZELEW WYCHODZACY CZYNSZ {month} DO {}",
                ascii_upper(&p.landlord)
            )
        } else {
            format!(
                "ACH DEBIT RENT PAYMENT {} {{AMT}} {cur}",
                ascii_upper(&p.landlord)
            )
        };
        let (l, li) = (p.landlord.clone(), p.landlord_iban.clone());
        b.push(0, -p.rent_minor, &l, Some(li), t, "TRANSFER", 1..=1, None);
    }
    if dom == 12 {
        let minor = if pl {
            b.r.random_range(9_000..26_000i64)
        } else {
            b.r.random_range(6_000..18_000i64)
        };
        let (name, t) = if pl {
            (
                "PGE Obrót",
                format!("PLATNOSC BLIK {{AMT}} {cur} PGE OBROT SA"),
            )
        } else {
            ("Con Edison", format!("ACH DEBIT CONED {{AMT}} {cur}"))
        };
        b.push(0, -minor, name, None, t, "BILL", 1..=1, None);
    }
    if dom == 18 {
        let (name, minor, t) = if pl {
            (
                "Orange Polska",
                5_999,
                "POLECENIE ZAPLATY ORANGE POLSKA {AMT} PLN".to_owned(),
            )
        } else {
            (
                "Verizon",
                7_500,
                "ACH DEBIT VERIZON WIRELESS {AMT} USD".to_owned(),
            )
        };
        b.push(0, -minor, name, None, t, "BILL", 1..=1, None);
    }
    if dom == p.netflix_day {
        let minor = if pl { 4_300 } else { 1_549 };
        let t = if pl {
            "PLATNOSC KARTA {AMT} PLN NETFLIX.COM AMSTERDAM".to_owned()
        } else {
            "DEBIT CARD PURCHASE NETFLIX.COM {AMT} USD".to_owned()
        };
        b.push(0, -minor, "Netflix", None, t, "CARD", 1..=2, None);
    }
    if dom == p.spotify_day {
        let minor = if pl { 2_399 } else { 1_199 };
        let t = if pl {
            "PLATNOSC KARTA {AMT} PLN SPOTIFY STOCKHOLM".to_owned()
        } else {
            "DEBIT CARD PURCHASE SPOTIFY USA {AMT} USD".to_owned()
        };
        b.push(0, -minor, "Spotify", None, t, "CARD", 1..=2, None);
    }
    if p.accounts.len() > 1 && p.savings_minor > 0 {
        if dom == (p.salary_day + 1).min(28) {
            let own1 = p.accounts[1].iban.expose().to_owned();
            let own0 = p.accounts[0].iban.expose().to_owned();
            let name = p.name.clone();
            b.push(
                0,
                -p.savings_minor,
                &name,
                Some(own1),
                "PRZELEW WLASNY NA RACHUNEK OSZCZEDNOSCIOWY".to_owned(),
                "TRANSFER",
                1..=1,
                None,
            );
            b.push(
                1,
                p.savings_minor,
                &name,
                Some(own0),
                "PRZELEW WLASNY Z RACHUNKU OSOBISTEGO".to_owned(),
                "TRANSFER",
                1..=1,
                None,
            );
        }
        if day.succ_opt().is_some_and(|d| d.day() == 1) {
            let minor = b.r.random_range(500..4_000i64);
            b.push(
                1,
                minor,
                "Okienko Bank",
                None,
                "KAPITALIZACJA ODSETEK".to_owned(),
                "INTEREST",
                1..=1,
                None,
            );
        }
    }
    // Everyday purchases: 0..=2×activity per day, averaging `activity_tenths / 10`.
    let max = (p.activity_tenths * 2).div_ceil(10);
    let n = (0..max)
        .filter(|_| b.r.random_range(0..(max * 10)) < p.activity_tenths)
        .count();
    let list = if pl {
        merchants::PL_MERCHANTS
    } else {
        merchants::US_MERCHANTS
    };
    for _ in 0..n {
        let m = pick_merchant(&mut b.r, list);
        b.purchase(m);
    }
    // Money between people.
    if b.r.random_bool(0.04) {
        let (friend, iban) = p.friends[b.r.random_range(0..p.friends.len())].clone();
        let minor = b.r.random_range(2_000..50_000i64);
        let t = if pl {
            format!(
                "PRZELEW PRZYCHODZACY OD {} ZWROT ZA ZAKUPY",
                ascii_upper(&friend)
            )
        } else {
            format!("ZELLE FROM {} {{AMT}} USD", ascii_upper(&friend))
        };
        b.push(0, minor, &friend, Some(iban), t, "TRANSFER", 1..=1, None);
    }
    if b.r.random_bool(0.04) {
        let (friend, iban) = p.friends[b.r.random_range(0..p.friends.len())].clone();
        let minor = b.r.random_range(2_000..30_000i64);
        let t = if pl {
            format!(
                "PRZELEW BLIK NA TELEFON DO {} {{AMT}} PLN",
                ascii_upper(&friend)
            )
        } else {
            format!("ZELLE TO {} {{AMT}} USD", ascii_upper(&friend))
        };
        b.push(0, -minor, &friend, Some(iban), t, "BLIK", 1..=1, None);
    }
    b.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_are_valid_and_locators_round_trip() {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        for i in 1..50 {
            let p = profile(7, i, start);
            for (a, acc) in p.accounts.iter().enumerate() {
                assert!(acc.iban.expose().parse::<Iban>().is_ok());
                assert_eq!(account_locator(7, &acc.resource_id), Some((i, a)));
            }
        }
        assert_eq!(profile(7, 1, start).name, "Anna Kowalska");
        assert_eq!(profile(7, 2, start).currency, Currency::USD);
    }
}
