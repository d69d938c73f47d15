//! The bank-owned page behind a masked reply's single-use link: `/view/{token}`.
//!
//! `GET` only shows a button and reads nothing, so link previews (Messenger and other platforms
//! fetch every URL they see) cannot use the link up; `POST` (the button) opens it once through
//! the engine, which asks the privacy gate (decided and audited). A used, expired or unknown link
//! gets a plain page that shows nothing. Pages are never cached, framed, indexed or sent on as a
//! referrer, and nothing about the token or the content is logged.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use okienko_core::Lang;
use okienko_dialog::masking::page_texts;
use okienko_dialog::{Reply, ReplyPart, ViewPage};

use crate::AppState;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;\
padding:0 1rem;color:#1c2733}table{border-collapse:collapse;width:100%;margin:.5rem 0}\
td,th{padding:.3rem .5rem;border-bottom:1px solid #dde3ea;text-align:left}\
td.amount,th.amount{text-align:right;white-space:nowrap}\
button{padding:.6rem 1rem;background:#0b5cad;color:#fff;border:0;border-radius:.5rem;font-size:1rem}\
.note{color:#5b6b7b;font-size:.9rem}";

/// The path as logs show it: a view link's token is a secret, so it never reaches a log line.
pub(crate) fn log_path(path: &str) -> &str {
    if path.starts_with("/view/") {
        "/view/{token}"
    } else {
        path
    }
}

/// `GET /view/{token}`: asks before showing; touches nothing.
pub async fn confirm() -> Response {
    let lang = Lang::Pl;
    let body = format!(
        "<h1>{title}</h1><p>{intro}</p><p lang=\"en\">{intro_en}</p>\
<form method=\"post\"><button id=\"view-show\" type=\"submit\">{show} / {show_en}</button></form>",
        title = esc(page_texts::TITLE.pick(lang)),
        intro = esc(page_texts::INTRO.pick(Lang::Pl)),
        intro_en = esc(page_texts::INTRO.pick(Lang::En)),
        show = esc(page_texts::SHOW.pick(Lang::Pl)),
        show_en = esc(page_texts::SHOW.pick(Lang::En)),
    );
    page(StatusCode::OK, lang, page_texts::TITLE.pick(lang), &body)
}

/// `POST /view/{token}`: opens the link once.
pub async fn open(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    match app.engine.open_view(&token).await {
        ViewPage::Shown { lang, reply } => {
            let body = format!(
                "<h1>{title}</h1><div id=\"view-content\">{content}</div><p class=\"note\">{once}</p>",
                title = esc(page_texts::TITLE.pick(lang)),
                content = render(&reply),
                once = esc(page_texts::SHOWN_ONCE.pick(lang)),
            );
            page(StatusCode::OK, lang, page_texts::TITLE.pick(lang), &body)
        }
        ViewPage::Gone { lang, reason } => {
            let text = match lang {
                Some(l) => esc(reason.explain(l)),
                None => format!(
                    "{} <span lang=\"en\">{}</span>",
                    esc(reason.explain(Lang::Pl)),
                    esc(reason.explain(Lang::En))
                ),
            };
            let lang = lang.unwrap_or(Lang::Pl);
            let body = format!(
                "<h1>{title}</h1><p id=\"view-gone\">{text}</p>",
                title = esc(page_texts::TITLE.pick(lang)),
            );
            page(StatusCode::GONE, lang, page_texts::TITLE.pick(lang), &body)
        }
        ViewPage::Unavailable => {
            let body = format!(
                "<p id=\"view-unavailable\">{} <span lang=\"en\">{}</span></p>",
                esc(page_texts::UNAVAILABLE.pick(Lang::Pl)),
                esc(page_texts::UNAVAILABLE.pick(Lang::En)),
            );
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                Lang::Pl,
                page_texts::TITLE.pick(Lang::Pl),
                &body,
            )
        }
    }
}

fn page(status: StatusCode, lang: Lang, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"robots\" content=\"noindex, nofollow\"><title>{title}</title>\
<style>{STYLE}</style></head><body>{body}</body></html>",
        lang = lang.code(),
        title = esc(title),
    );
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    res
}

/// The reply as HTML; every text is escaped.
fn render(reply: &Reply) -> String {
    let mut out = String::new();
    for part in &reply.parts {
        match part {
            ReplyPart::Text { text } => {
                out.push_str(&format!("<p>{}</p>", esc(text).replace('\n', "<br>")));
            }
            ReplyPart::Link { label, .. } => {
                // Links belong to the chat (e.g. the consent page); the view page shows data only.
                out.push_str(&format!("<p>{}</p>", esc(label)));
            }
            ReplyPart::BalanceCard { title, accounts } => {
                out.push_str(&format!("<h2>{}</h2><table>", esc(title)));
                for a in accounts {
                    out.push_str(&format!(
                        "<tr><td>{}<br><span class=\"note\">{}</span></td>\
<td class=\"amount\">{}</td><td class=\"note\">{}</td></tr>",
                        esc(&a.name),
                        esc(&a.iban_masked),
                        esc(&a.available),
                        esc(&a.as_of),
                    ));
                }
                out.push_str("</table>");
            }
            ReplyPart::AccountList { title, accounts } => {
                out.push_str(&format!("<h2>{}</h2><table>", esc(title)));
                for a in accounts {
                    out.push_str(&format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&a.name),
                        esc(&a.iban_masked),
                        esc(&a.currency),
                    ));
                }
                out.push_str("</table>");
            }
            ReplyPart::TransactionsTable(t) => {
                out.push_str(&format!("<h2>{}</h2><table><tr>", esc(&t.title)));
                for (i, c) in t.columns.iter().enumerate() {
                    let class = if i + 1 == t.columns.len() {
                        " class=\"amount\""
                    } else {
                        ""
                    };
                    out.push_str(&format!("<th{class}>{}</th>", esc(c)));
                }
                out.push_str("</tr>");
                for r in &t.rows {
                    out.push_str(&format!(
                        "<tr><td>{}</td><td>{}</td><td class=\"amount\">{}</td></tr>",
                        esc(&r.date),
                        esc(&r.description),
                        esc(&r.amount),
                    ));
                }
                out.push_str("</table>");
                for total in &t.totals {
                    out.push_str(&format!("<p class=\"note\">{}</p>", esc(total)));
                }
            }
            // Only PNG charts the gateway drew; anything else is shown as its text.
            ReplyPart::Image {
                alt,
                mime,
                data_base64,
                width,
                height,
            } if mime == "image/png"
                && data_base64
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) =>
            {
                out.push_str(&format!(
                    "<img src=\"data:image/png;base64,{data_base64}\" width=\"{width}\" height=\"{height}\" alt=\"{}\" style=\"max-width:100%;height:auto\">",
                    esc(alt)
                ));
            }
            ReplyPart::Image { alt, .. } => {
                out.push_str(&format!("<p>{}</p>", esc(alt).replace('\n', "<br>")));
            }
        }
    }
    out
}

/// HTML-escapes text for element content and quoted attributes.
fn esc(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_shown_is_escaped() {
        let reply = Reply {
            parts: vec![ReplyPart::Text {
                text: "<script>alert('x')</script> & \"q\"".into(),
            }],
            quick_replies: Vec::new(),
            sensitivity: okienko_dialog::Sensitivity::Financial,
        };
        let html = render(&reply);
        assert!(!html.contains("<script>"));
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")
        );
    }
}
