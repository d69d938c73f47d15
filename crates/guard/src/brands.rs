//! The protected brands (banks, shops, carriers, platforms and public services customers use) and the
//! allow-list of official domains that are never flagged.
//!
//! Owns brand data only. Each brand has tokens that impersonators put into host names and its official
//! domains. Tokens shorter than 5 characters (`olx`, `ing`, `pko`, `dpd`, `blik`) match only as a whole
//! hyphen- or dot-separated segment, or glued to a geo/lure word (`olxpolska`), because as plain substrings
//! they occur in countless innocent names (`republika` contains `blik`).

/// One protected brand.
#[derive(Debug, Clone, Copy)]
pub struct Brand {
    /// Display name used in messages.
    pub name: &'static str,
    /// Lower-case ASCII tokens impersonators use.
    pub tokens: &'static [&'static str],
    /// Official registrable domains (also allow-listed).
    pub official: &'static [&'static str],
}

macro_rules! brand {
    ($name:expr, [$($t:expr),*], [$($d:expr),*]) => {
        Brand { name: $name, tokens: &[$($t),*], official: &[$($d),*] }
    };
}

/// The protected brands.
pub static BRANDS: &[Brand] = &[
    brand!(
        "PKO Bank Polski",
        ["pkobp", "ipko", "pko", "pkobank"],
        ["pkobp.pl", "ipko.pl", "pko.pl"]
    ),
    brand!("mBank", ["mbank"], ["mbank.pl", "mbank.cz", "mbank.sk"]),
    brand!(
        "Santander",
        ["santander"],
        [
            "santander.pl",
            "santander.com",
            "santander.co.uk",
            "santanderconsumer.pl"
        ]
    ),
    brand!(
        "ING",
        ["ing", "ingbank", "ingbankslaski"],
        ["ing.pl", "ing.com", "ing.nl", "ing.de"]
    ),
    brand!(
        "Bank Pekao",
        ["pekao", "bankpekao", "peopay"],
        ["pekao.com.pl", "pekaotfi.pl", "pekaobh.pl"]
    ),
    brand!(
        "Bank Millennium",
        ["bankmillennium", "millenet", "millennium"],
        ["bankmillennium.pl"]
    ),
    brand!("Alior Bank", ["aliorbank", "alior"], ["aliorbank.pl"]),
    brand!(
        "Credit Agricole",
        ["credit-agricole", "creditagricole", "agricole"],
        [
            "credit-agricole.pl",
            "credit-agricole.com",
            "credit-agricole.fr"
        ]
    ),
    brand!(
        "BNP Paribas",
        ["bnpparibas", "bnp-paribas", "bnp"],
        ["bnpparibas.pl", "bnpparibas.com"]
    ),
    brand!("VeloBank", ["velobank"], ["velobank.pl"]),
    brand!(
        "Citi Handlowy",
        ["citibank", "citihandlowy"],
        ["citibank.pl", "citihandlowy.pl", "citibank.com", "citi.com"]
    ),
    brand!("Getin", ["getin", "getinbank", "gettin"], ["getinbank.pl"]),
    brand!("Nest Bank", ["nestbank"], ["nestbank.pl"]),
    brand!("BLIK", ["blik"], ["blik.com"]),
    brand!("Revolut", ["revolut"], ["revolut.com"]),
    brand!("PayU", ["payu"], ["payu.pl", "payu.com"]),
    brand!("Przelewy24", ["przelewy24"], ["przelewy24.pl"]),
    brand!(
        "Allegro",
        ["allegro", "allegrolokalnie"],
        [
            "allegro.pl",
            "allegrolokalnie.pl",
            "allegro.cz",
            "allegro.tech"
        ]
    ),
    brand!(
        "OLX",
        ["olx"],
        [
            "olx.pl",
            "olx.ua",
            "olx.ro",
            "olx.pt",
            "olx.bg",
            "olx.kz",
            "olx.uz",
            "olxgroup.com"
        ]
    ),
    brand!(
        "InPost",
        ["inpost", "paczkomat"],
        ["inpost.pl", "inpost.eu", "inpost.co.uk", "paczkomaty.pl"]
    ),
    brand!(
        "Poczta Polska",
        ["pocztapolska", "poczta-polska", "envelo"],
        ["poczta-polska.pl", "pocztapolska.pl", "envelo.pl"]
    ),
    brand!("DPD", ["dpd"], ["dpd.com.pl", "dpd.com", "dpdgroup.com"]),
    brand!(
        "DHL",
        ["dhl"],
        ["dhl.com", "dhl.pl", "dhl.de", "dhlparcel.pl"]
    ),
    brand!(
        "Vinted",
        ["vinted"],
        [
            "vinted.pl",
            "vinted.com",
            "vinted.fr",
            "vinted.de",
            "vinted.co.uk",
            "vinted.lt"
        ]
    ),
    brand!(
        "Facebook",
        ["facebook", "messenger"],
        [
            "facebook.com",
            "fb.com",
            "facebook.net",
            "fbcdn.net",
            "messenger.com"
        ]
    ),
    brand!("Instagram", ["instagram"], ["instagram.com"]),
    brand!("WhatsApp", ["whatsapp"], ["whatsapp.com", "whatsapp.net"]),
    brand!(
        "PayPal",
        ["paypal"],
        ["paypal.com", "paypal.me", "paypalobjects.com"]
    ),
    brand!(
        "Amazon",
        ["amazon"],
        [
            "amazon.com",
            "amazon.pl",
            "amazon.de",
            "amazon.co.uk",
            "amazon.fr",
            "amazon.it",
            "amazon.es",
            "amazonaws.com"
        ]
    ),
    brand!("Chase", ["chase"], ["chase.com", "jpmorganchase.com"]),
    brand!(
        "Bank of America",
        ["bankofamerica", "bofa"],
        ["bankofamerica.com"]
    ),
    brand!("Wells Fargo", ["wellsfargo"], ["wellsfargo.com"]),
    brand!("Apple", ["apple", "icloud"], ["apple.com", "icloud.com"]),
    brand!(
        "Microsoft",
        ["microsoft", "office365"],
        [
            "microsoft.com",
            "live.com",
            "outlook.com",
            "office.com",
            "microsoftonline.com"
        ]
    ),
    brand!(
        "Google",
        ["google", "gmail"],
        ["google.com", "google.pl", "gmail.com", "youtube.com"]
    ),
    brand!("Netflix", ["netflix"], ["netflix.com"]),
    brand!(
        "Steam",
        ["steamcommunity", "steampowered", "steam"],
        ["steamcommunity.com", "steampowered.com"]
    ),
    brand!("ZUS", ["zus"], ["zus.pl"]),
    brand!(
        "gov.pl",
        ["epuap", "mobywatel", "profil-zaufany", "profilzaufany"],
        ["gov.pl", "profil-zaufany.pl"]
    ),
    brand!("Orlen", ["orlen"], ["orlen.pl"]),
    brand!("PGE", ["pge"], ["gkpge.pl", "pge.pl"]),
    brand!("Tauron", ["tauron"], ["tauron.pl"]),
    brand!("USPS", ["usps"], ["usps.com"]),
    brand!("IRS", ["irs"], ["irs.gov"]),
    brand!("FedEx", ["fedex"], ["fedex.com"]),
];

/// Extra official domains allowed besides the brands' own: public services and large platforms that customers
/// meet in bank and shop messages. Suffix entries that are themselves public suffixes (`gov.pl`) allow every
/// registrable domain under them.
pub const ALLOWED_EXTRA: &str = include_str!("../data/allowed_domains.txt");

/// Words glued to a short token that still make it an impersonation (`olxpolska`, `dpdpaczka`, `blikpay`).
pub static GLUE_WORDS: &[&str] = &[
    "pl",
    "polska",
    "poland",
    "pay",
    "payment",
    "platnosc",
    "platnosci",
    "dostawa",
    "paczka",
    "paczki",
    "login",
    "logowanie",
    "online",
    "secure",
    "bank",
    "konto",
    "app",
    "id",
    "24",
    "net",
    "kurier",
    "delivery",
    "express",
    "zwrot",
    "odbior",
    "wyplata",
    "safe",
    "verify",
    "pomoc",
    "help",
    "service",
    "support",
    "oferta",
];

/// Lure words that, inside a host name or path of a non-official domain, point at phishing.
pub static LURE_WORDS: &[&str] = &[
    "doplat",
    "oplat",
    "platnos",
    "zaplac",
    "zaplat",
    "przelew",
    "paczk",
    "przesylk",
    "wysylk",
    "dostaw",
    "odbior",
    "weryfik",
    "potwierdz",
    "logowan",
    "zaloguj",
    "bezpieczn",
    "zwrot",
    "wyplat",
    "autoryzac",
    "odblokuj",
    "verify",
    "verification",
    "login",
    "signin",
    "sign-in",
    "secure",
    "account",
    "wallet",
    "refund",
    "payment",
    "parcel",
    "tracking",
    "delivery",
    "unlock",
    "update",
    "bonus",
    "nagrod",
    "wygran",
    "inwest",
    "zarob",
    "krypto",
    "crypto",
    "bitcoin",
    "trading",
    "forex",
    "dopłat",
];

/// Top-level domains over-represented in Polish scam lists and cheap to register.
pub static RISKY_TLDS: &[&str] = &[
    "xyz",
    "live",
    "site",
    "cyou",
    "icu",
    "online",
    "work",
    "club",
    "shop",
    "space",
    "website",
    "pw",
    "top",
    "casa",
    "buzz",
    "rest",
    "monster",
    "sbs",
    "cfd",
    "click",
    "link",
    "fun",
    "store",
    "tk",
    "ml",
    "ga",
    "cf",
    "gq",
    "ink",
    "host",
    "bar",
    "uno",
    "best",
    "quest",
    "lol",
    "cam",
    "beauty",
    "hair",
    "skin",
    "makeup",
    "autos",
    "boats",
    "homes",
    "yachts",
    "motorcycles",
    "mom",
    "bond",
    "digital",
    "support",
    "services",
    "info",
    "life",
];

/// URL shorteners: they hide the destination.
pub static SHORTENERS: &[&str] = &[
    "bit.ly",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "cutt.ly",
    "rebrand.ly",
    "shorturl.at",
    "t.ly",
    "tiny.cc",
    "rb.gy",
    "s.id",
    "v.gd",
    "qrco.de",
    "lnk.bio",
    "linktr.ee",
];
