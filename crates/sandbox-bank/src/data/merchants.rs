//! Merchant and counterparty tables the generator draws from: who a customer pays, how much a
//! typical purchase there costs, and how the bank's raw description looks. Pure data, no logic.

/// How the payment reached the bank; decides the raw description and the booking delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Card,
    Blik,
    Online,
}

/// One merchant: display name (`creditorName`), the upper-case descriptor banks print, typical
/// amount range in minor units, relative weight, and whether tips/FX may change the booked amount.
#[derive(Debug, Clone, Copy)]
pub struct Merchant {
    pub name: &'static str,
    pub descriptor: &'static str,
    pub min_minor: i64,
    pub max_minor: i64,
    pub weight: u32,
    pub channel: Channel,
    pub may_change: bool,
}

const fn m(
    name: &'static str,
    descriptor: &'static str,
    min_minor: i64,
    max_minor: i64,
    weight: u32,
    channel: Channel,
    may_change: bool,
) -> Merchant {
    Merchant {
        name,
        descriptor,
        min_minor,
        max_minor,
        weight,
        channel,
        may_change,
    }
}

pub const PL_MERCHANTS: &[Merchant] = &[
    m(
        "Biedronka",
        "BIEDRONKA",
        800,
        18_000,
        20,
        Channel::Card,
        false,
    ),
    m("Żabka", "ZABKA", 500, 4_500, 16, Channel::Card, false),
    m("Lidl", "LIDL", 1_500, 25_000, 12, Channel::Card, false),
    m(
        "Orlen",
        "ORLEN STACJA",
        8_000,
        35_000,
        5,
        Channel::Card,
        true,
    ),
    m(
        "Lotos",
        "LOTOS STACJA",
        8_000,
        32_000,
        2,
        Channel::Card,
        true,
    ),
    m(
        "Allegro",
        "ALLEGRO.PL",
        2_000,
        40_000,
        6,
        Channel::Blik,
        false,
    ),
    m(
        "Rossmann",
        "ROSSMANN",
        1_000,
        15_000,
        6,
        Channel::Card,
        false,
    ),
    m(
        "PKP Intercity",
        "PKP INTERCITY",
        3_000,
        22_000,
        2,
        Channel::Online,
        false,
    ),
    m("Uber", "UBER *TRIP", 1_200, 6_000, 5, Channel::Online, true),
    m(
        "Media Expert",
        "MEDIA EXPERT",
        5_000,
        150_000,
        1,
        Channel::Card,
        false,
    ),
    m("Empik", "EMPIK", 2_000, 15_000, 3, Channel::Card, false),
    m(
        "Jakdojade",
        "JAKDOJADE",
        440,
        12_000,
        4,
        Channel::Blik,
        false,
    ),
    m("Pepco", "PEPCO", 1_000, 12_000, 4, Channel::Card, false),
    m(
        "Kaufland",
        "KAUFLAND",
        2_000,
        30_000,
        6,
        Channel::Card,
        false,
    ),
    m(
        "Pyszne.pl",
        "PYSZNE.PL",
        3_500,
        12_000,
        4,
        Channel::Blik,
        true,
    ),
    m(
        "McDonald's",
        "MCDONALDS",
        1_800,
        7_000,
        4,
        Channel::Card,
        false,
    ),
    m(
        "Apteka Gemini",
        "APTEKA GEMINI",
        1_000,
        9_000,
        3,
        Channel::Card,
        false,
    ),
];

pub const US_MERCHANTS: &[Merchant] = &[
    m("Walmart", "WALMART", 800, 18_000, 16, Channel::Card, false),
    m(
        "Starbucks",
        "STARBUCKS STORE",
        400,
        1_800,
        14,
        Channel::Card,
        true,
    ),
    m("Target", "TARGET", 1_000, 15_000, 10, Channel::Card, false),
    m(
        "Amazon",
        "AMAZON.COM*MKTP",
        1_000,
        20_000,
        10,
        Channel::Online,
        false,
    ),
    m("Shell", "SHELL OIL", 2_500, 8_000, 6, Channel::Card, true),
    m("Uber", "UBER *TRIP", 1_200, 6_000, 5, Channel::Online, true),
    m(
        "Costco",
        "COSTCO WHSE",
        5_000,
        40_000,
        4,
        Channel::Card,
        false,
    ),
    m(
        "Whole Foods",
        "WHOLEFDS",
        2_000,
        16_000,
        6,
        Channel::Card,
        false,
    ),
    m("CVS", "CVS/PHARMACY", 500, 6_000, 5, Channel::Card, false),
    m("Chipotle", "CHIPOTLE", 1_100, 3_500, 5, Channel::Card, true),
    m(
        "Trader Joe's",
        "TRADER JOE S",
        1_500,
        12_000,
        6,
        Channel::Card,
        false,
    ),
];

pub const PL_CITIES: &[&str] = &[
    "WARSZAWA", "KRAKOW", "GDANSK", "WROCLAW", "POZNAN", "LODZ", "LUBLIN", "KATOWICE",
];
pub const US_CITIES: &[&str] = &[
    "AUSTIN TX",
    "SEATTLE WA",
    "NEW YORK NY",
    "CHICAGO IL",
    "DENVER CO",
    "BOSTON MA",
];

pub const PL_FIRST: &[&str] = &[
    "Jan",
    "Piotr",
    "Krzysztof",
    "Tomasz",
    "Paweł",
    "Michał",
    "Marek",
    "Agnieszka",
    "Katarzyna",
    "Małgorzata",
    "Ewa",
    "Magdalena",
    "Joanna",
    "Zofia",
    "Łukasz",
    "Aleksandra",
];
pub const PL_LAST: &[&str] = &[
    "Nowak",
    "Wiśniewski",
    "Wójcik",
    "Kowalczyk",
    "Kamiński",
    "Lewandowski",
    "Zieliński",
    "Szymański",
    "Woźniak",
    "Dąbrowski",
    "Kozłowski",
    "Mazur",
    "Krawczyk",
    "Piotrowski",
];
pub const US_FIRST: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Emily",
    "Daniel", "Sarah", "Chris",
];
pub const US_LAST: &[&str] = &[
    "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia", "Wilson", "Taylor",
    "Moore", "Clark", "Lewis",
];
pub const PL_EMPLOYERS: &[&str] = &[
    "ACME Polska Sp. z o.o.",
    "Wisła Software S.A.",
    "Szpital Miejski w Łodzi",
    "Urząd Miasta Krakowa",
    "Bałtyk Logistics Sp. z o.o.",
];
pub const US_EMPLOYERS: &[&str] = &[
    "ACME CORP",
    "BLUE RIVER LLC",
    "CITY OF AUSTIN",
    "NORTHWIND INC",
];
