//! The bank's HTML: a plain page shell, escaping, and the consent summary shown on both the
//! OAuth page and in the bank app, in Polish or English. Everything user-supplied is escaped.

use okienko_core::{Lang, format};

use crate::consent::{Access, Consent, Grant};

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

pub fn page(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}\
.err{{color:#b00020}}.box{{border:1px solid #ccc;border-radius:8px;padding:1rem;margin:1rem 0}}\
label{{display:block;margin:.5rem 0}}button{{margin-right:.5rem;padding:.5rem 1rem}}</style>\
</head><body><h1>Okienko Bank</h1>{}</body></html>",
        lang.code(),
        esc(title),
        body
    )
}

pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(name),
        esc(value)
    )
}

/// Short texts used on the pages.
pub fn t(lang: Lang, key: &str) -> &'static str {
    let pl = lang == Lang::Pl;
    match key {
        "login" => {
            if pl {
                "Logowanie do banku"
            } else {
                "Log in to your bank"
            }
        }
        "psu_id" => {
            if pl {
                "Identyfikator klienta"
            } else {
                "Customer ID"
            }
        }
        "password" => {
            if pl {
                "Hasło"
            } else {
                "Password"
            }
        }
        "approve" => {
            if pl {
                "Zgadzam się"
            } else {
                "Approve"
            }
        }
        "reject" => {
            if pl {
                "Odrzuć"
            } else {
                "Reject"
            }
        }
        "revoke" => {
            if pl {
                "Odwołaj zgodę"
            } else {
                "Revoke consent"
            }
        }
        "bad_login" => {
            if pl {
                "Nieprawidłowy identyfikator lub hasło."
            } else {
                "Wrong customer ID or password."
            }
        }
        "not_yours" => {
            if pl {
                "Wskazane rachunki nie należą do tego klienta."
            } else {
                "The requested accounts do not belong to this customer."
            }
        }
        "no_accounts" => {
            if pl {
                "Brak rachunków do udostępnienia."
            } else {
                "There are no accounts to share."
            }
        }
        "consent_title" => {
            if pl {
                "Zgoda na dostęp do informacji o rachunku"
            } else {
                "Consent to access account information"
            }
        }
        "pending_title" => {
            if pl {
                "Prośby o dostęp czekające na potwierdzenie"
            } else {
                "Access requests awaiting your approval"
            }
        }
        "active_title" => {
            if pl {
                "Aktywne zgody"
            } else {
                "Active consents"
            }
        }
        "none" => {
            if pl {
                "Brak."
            } else {
                "None."
            }
        }
        "app_title" => {
            if pl {
                "Aplikacja Okienko Bank"
            } else {
                "Okienko Bank app"
            }
        }
        "done" => {
            if pl {
                "Zapisano."
            } else {
                "Saved."
            }
        }
        "login_btn" => {
            if pl {
                "Zaloguj"
            } else {
                "Log in"
            }
        }
        _ => "",
    }
}

/// What the consent shares, for whom, until when and how often, as an HTML fragment.
pub fn consent_summary(lang: Lang, c: &Consent, grants: Option<&[Grant]>) -> String {
    let pl = lang == Lang::Pl;
    let (bal, tx) = c.wants();
    let mut what = vec![if pl {
        "lista rachunków"
    } else {
        "list of accounts"
    }];
    if bal {
        what.push(if pl { "salda" } else { "balances" });
    }
    if tx {
        what.push(if pl {
            "historia transakcji"
        } else {
            "transaction history"
        });
    }
    let accounts = match grants {
        Some(gs) => gs
            .iter()
            .map(|g| {
                let mut parts = Vec::new();
                if g.balances {
                    parts.push(if pl { "saldo" } else { "balance" });
                }
                if g.transactions {
                    parts.push(if pl { "transakcje" } else { "transactions" });
                }
                format!(
                    "<li>{} — {} ({}){}</li>",
                    esc(&g.name),
                    esc(g.iban.expose()),
                    esc(&g.currency),
                    if parts.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", parts.join(", "))
                    }
                )
            })
            .collect::<String>(),
        None => match &c.access {
            Access::Explicit { .. } => c
                .named_ibans()
                .iter()
                .map(|i| format!("<li>{}</li>", esc(i.expose())))
                .collect(),
            _ => format!(
                "<li>{}</li>",
                if pl {
                    "wszystkie Twoje rachunki płatnicze"
                } else {
                    "all your payment accounts"
                }
            ),
        },
    };
    let until = format::date(c.valid_until, lang);
    let freq = c.frequency;
    let (l_what, l_acc, l_until, l_freq, freq_txt) = if pl {
        (
            "Udostępniane dane",
            "Rachunki",
            "Ważna do",
            "Odświeżanie bez Twojego udziału",
            format!("do {freq} razy dziennie"),
        )
    } else {
        (
            "Data shared",
            "Accounts",
            "Valid until",
            "Refreshes without you present",
            format!("up to {freq} times a day"),
        )
    };
    format!(
        "<div class=\"box\"><p><b>{l_what}:</b> {}</p><p><b>{l_acc}:</b></p><ul>{accounts}</ul>\
<p><b>{l_until}:</b> {until}</p><p><b>{l_freq}:</b> {freq_txt}</p></div>",
        what.join(", ")
    )
}
