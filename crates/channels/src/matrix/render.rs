//! Replies as Matrix messages: `m.notice` events with a plain-text body and an HTML
//! `formatted_body` (links, cards as lists, transaction tables as `<table>`), and charts as
//! images. Matrix has no quick-reply buttons, so they become numbered lines the customer can
//! answer with the number.
//!
//! Pure and deterministic: the same reply always gives the same messages.

use okienko_dialog::{QuickReply, Reply, TransactionsTable};

use crate::adapter::{
    self, Body, ButtonAction, Capabilities, Proactive, Readability, TableSupport,
};

/// What a Matrix room can show. End-to-end encrypted: the homeserver sees only ciphertext (and
/// metadata: who, when, how big).
pub const MATRIX: Capabilities = Capabilities {
    name: "matrix",
    readability: Readability::EndToEndEncrypted,
    text_max: 8000,
    // Rendered here as numbered lines; the number answers.
    quick_replies_max: 13,
    quick_reply_title_max: 60,
    payload_max: 1000,
    buttons_max: 4,
    button_title_max: 80,
    button_text_max: 8000,
    cards_max: 20,
    card_title_max: 200,
    tables: TableSupport::Native,
    images: true,
    proactive: Proactive::Free,
};

/// One Matrix event to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatrixMessage {
    /// An `m.notice` with a plain body and, when it has formatting, an HTML body.
    Notice { plain: String, html: Option<String> },
    /// An image (a chart): uploaded (encrypted in an encrypted room) and sent as `m.image`.
    Image {
        alt: String,
        mime: String,
        data_base64: String,
    },
}

/// A rendered reply: the messages, and the payloads its numbered choices stand for (the
/// customer answers "2" for the second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub messages: Vec<MatrixMessage>,
    pub choices: Vec<String>,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn text_html(s: &str) -> String {
    escape(s).replace('\n', "<br>")
}

fn table_html(t: &TransactionsTable) -> String {
    let mut h = String::from("<table>");
    h.push_str(&format!("<caption>{}</caption>", escape(&t.title)));
    if !t.columns.is_empty() {
        h.push_str("<thead><tr>");
        for c in &t.columns {
            h.push_str(&format!("<th>{}</th>", escape(c)));
        }
        h.push_str("</tr></thead>");
    }
    h.push_str("<tbody>");
    for r in &t.rows {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.date),
            escape(&r.description),
            escape(&r.amount)
        ));
    }
    h.push_str("</tbody></table>");
    for total in &t.totals {
        h.push_str(&format!("<p>Σ {}</p>", escape(total)));
    }
    h
}

/// Numbered choice lines, numbered after `offset` earlier choices.
fn choices_lines(qr: &[QuickReply], offset: usize) -> (String, String) {
    let plain: Vec<String> = qr
        .iter()
        .enumerate()
        .map(|(i, q)| format!("{}. {}", offset + i + 1, q.label))
        .collect();
    let items: String = qr
        .iter()
        .map(|q| format!("<li>{}</li>", escape(&q.label)))
        .collect();
    let ol = if offset == 0 {
        "<ol>".to_owned()
    } else {
        format!("<ol start=\"{}\">", offset + 1)
    };
    (plain.join("\n"), format!("{ol}{items}</ol>"))
}

/// Renders a reply for a Matrix room.
pub fn render(reply: &Reply) -> Rendered {
    let out = adapter::render(reply, &MATRIX);
    let mut messages = Vec::with_capacity(out.len());
    let mut choices = Vec::new();
    for m in out {
        let (plain, html) = match m.body {
            Body::Text(t) => (t, None),
            Body::Preformatted(t) => {
                let html = format!("<pre>{}</pre>", escape(&t));
                (t, Some(html))
            }
            Body::Buttons { text, buttons } => {
                let mut plain = vec![text.clone()];
                let mut html = vec![text_html(&text)];
                for b in &buttons {
                    match &b.action {
                        ButtonAction::Url(url) => {
                            plain.push(format!("{}: {url}", b.title));
                            html.push(format!(
                                "<a href=\"{}\">{}</a>",
                                escape(url),
                                escape(&b.title)
                            ));
                        }
                        ButtonAction::Postback(p) => {
                            // No buttons in Matrix: a postback becomes a numbered choice.
                            choices.push(p.clone());
                            plain.push(format!("{}. {}", choices.len(), b.title));
                            html.push(format!("{}. {}", choices.len(), escape(&b.title)));
                        }
                    }
                }
                (plain.join("\n"), Some(html.join("<br>")))
            }
            Body::Cards(cards) => {
                let plain: Vec<String> = cards
                    .iter()
                    .map(|c| match &c.subtitle {
                        Some(s) => format!("• {}: {s}", c.title),
                        None => format!("• {}", c.title),
                    })
                    .collect();
                let html: Vec<String> = cards
                    .iter()
                    .map(|c| match &c.subtitle {
                        Some(s) => format!("<li><b>{}</b>: {}</li>", escape(&c.title), escape(s)),
                        None => format!("<li><b>{}</b></li>", escape(&c.title)),
                    })
                    .collect();
                (
                    plain.join("\n"),
                    Some(format!("<ul>{}</ul>", html.concat())),
                )
            }
            Body::Table(t) => (adapter::table_lines(&t).join("\n"), Some(table_html(&t))),
            Body::Image {
                alt,
                mime,
                data_base64,
            } => {
                messages.push(MatrixMessage::Image {
                    alt,
                    mime,
                    data_base64,
                });
                if m.quick_replies.is_empty() {
                    continue;
                }
                (String::new(), None)
            }
        };
        let (mut plain, mut html) = (plain, html);
        if !m.quick_replies.is_empty() {
            let (p, h) = choices_lines(&m.quick_replies, choices.len());
            choices.extend(m.quick_replies.iter().map(|q| q.payload.clone()));
            let html_base = html.unwrap_or_else(|| text_html(&plain));
            plain = if plain.is_empty() {
                p
            } else {
                format!("{plain}\n\n{p}")
            };
            html = Some(format!("{html_base}{h}"));
        }
        messages.push(MatrixMessage::Notice { plain, html });
    }
    Rendered { messages, choices }
}

/// The payload a customer's answer picks: "2", "2." or " 2 " picks the second choice.
pub fn pick(choices: &[String], text: &str) -> Option<String> {
    let t = text.trim().trim_end_matches('.').trim();
    let n: usize = t.parse().ok()?;
    choices.get(n.checked_sub(1)?).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_dialog::{ReplyPart, Sensitivity, TxRow};

    #[test]
    fn a_link_becomes_an_anchor_and_a_plain_line() {
        let reply = Reply {
            parts: vec![
                ReplyPart::Text {
                    text: "Połącz bank <teraz>.".into(),
                },
                ReplyPart::Link {
                    label: "Otwórz stronę banku".into(),
                    url: "http://127.0.0.1:1/consent?a=1&b=2".into(),
                },
            ],
            quick_replies: Vec::new(),
            sensitivity: Sensitivity::Public,
        };
        let r = render(&reply);
        assert_eq!(
            r.messages,
            vec![MatrixMessage::Notice {
                plain: "Połącz bank <teraz>.\nOtwórz stronę banku: http://127.0.0.1:1/consent?a=1&b=2"
                    .into(),
                html: Some(
                    "Połącz bank &lt;teraz&gt;.<br><a href=\"http://127.0.0.1:1/consent?a=1&amp;b=2\">Otwórz stronę banku</a>"
                        .into()
                ),
            }]
        );
        assert!(r.choices.is_empty());
    }

    #[test]
    fn quick_replies_become_numbered_choices_the_number_answers() {
        let reply = Reply::text("Co dalej?").with_quick_replies(vec![
            QuickReply::new("Saldo", "intent:balance"),
            QuickReply::new("Transakcje", "intent:transactions"),
        ]);
        let r = render(&reply);
        let MatrixMessage::Notice { plain, html } = &r.messages[0] else {
            panic!("{r:?}")
        };
        assert_eq!(plain, "Co dalej?\n\n1. Saldo\n2. Transakcje");
        assert_eq!(
            html.as_deref(),
            Some("Co dalej?<ol><li>Saldo</li><li>Transakcje</li></ol>")
        );
        assert_eq!(r.choices, vec!["intent:balance", "intent:transactions"]);
        assert_eq!(pick(&r.choices, " 2. "), Some("intent:transactions".into()));
        assert_eq!(pick(&r.choices, "1"), Some("intent:balance".into()));
        assert_eq!(pick(&r.choices, "3"), None);
        assert_eq!(pick(&r.choices, "0"), None);
        assert_eq!(pick(&r.choices, "saldo"), None);
    }

    #[test]
    fn a_table_is_an_html_table_with_aligned_plain_lines() {
        let t = TransactionsTable {
            title: "Transakcje".into(),
            columns: vec!["Data".into(), "Opis".into(), "Kwota".into()],
            rows: vec![TxRow {
                date: "01.11.2026".into(),
                description: "Sklep & <Spółka>".into(),
                amount: "-49,99 zł".into(),
                raw_amount: "-49.99".into(),
                currency: "PLN".into(),
                status: "booked".into(),
            }],
            page: 0,
            page_size: 10,
            total: 1,
            next_page: None,
            totals: Vec::new(),
        };
        let reply = Reply {
            parts: vec![ReplyPart::TransactionsTable(t)],
            quick_replies: Vec::new(),
            sensitivity: Sensitivity::Financial,
        };
        let r = render(&reply);
        let MatrixMessage::Notice { plain, html } = &r.messages[0] else {
            panic!("{r:?}")
        };
        assert!(
            plain.contains("01.11.2026  Sklep & <Spółka>  -49,99 zł"),
            "{plain}"
        );
        let html = html.as_deref().unwrap_or_default();
        assert!(
            html.starts_with("<table><caption>Transakcje</caption>"),
            "{html}"
        );
        assert!(
            html.contains("<td>Sklep &amp; &lt;Spółka&gt;</td><td>-49,99 zł</td>"),
            "{html}"
        );
        assert_eq!(render(&reply), render(&reply));
    }

    #[test]
    fn a_chart_is_an_image() {
        let reply = Reply {
            parts: vec![ReplyPart::Image {
                alt: "Wydatki: jedzenie 40%".into(),
                mime: "image/png".into(),
                data_base64: "iVBORw0KGgo=".into(),
                width: 10,
                height: 10,
            }],
            quick_replies: Vec::new(),
            sensitivity: Sensitivity::Financial,
        };
        let r = render(&reply);
        assert_eq!(
            r.messages,
            vec![MatrixMessage::Image {
                alt: "Wydatki: jedzenie 40%".into(),
                mime: "image/png".into(),
                data_base64: "iVBORw0KGgo=".into(),
            }]
        );
    }
}
