//! What every channel has in common: who can read it, what it can show, what customers can do in
//! it, and one deterministic renderer that degrades the conversation's rich replies to what a
//! channel can show.
//!
//! The conversation speaks [`okienko_dialog::Reply`]; a channel declares its [`Capabilities`] and
//! gets back [`OutMessage`]s it can put on its wire as they are. The renderer never widens what a
//! reply shows: sensitivity is decided before it (by the engine's masking, and by each adapter's
//! last-line check), and degradation only drops form (a table becomes aligned text lines, more
//! than 13 quick replies become 13, long titles are cut), never adds content.

use okienko_core::CustomerId;
use okienko_dialog::{
    ChannelContext, ChannelInfo, InboundEvent, Outbox, QuickReply, Reply, ReplyPart, Room,
    TransactionsTable,
};
use secrecy::SecretString;

/// Who besides the customer and the bank can read a channel's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readability {
    /// Served by the bank itself (the web chat): nobody else sees the content.
    BankOwned,
    /// End-to-end encrypted (Matrix with E2EE): the platform sees metadata only.
    EndToEndEncrypted,
    /// The platform decrypts and can read everything (Messenger, WhatsApp Cloud, Telegram).
    PlatformReadable,
}

impl Readability {
    /// The privacy gate's name for it.
    pub fn context(self) -> ChannelContext {
        match self {
            Readability::BankOwned => ChannelContext::WebChat,
            Readability::EndToEndEncrypted => ChannelContext::EndToEndEncrypted,
            Readability::PlatformReadable => ChannelContext::PlatformReadable,
        }
    }
}

/// How a channel can show a table of transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableSupport {
    /// A real table (web chat, Matrix HTML).
    Native,
    /// A monospace block (Telegram `<pre>`, WhatsApp ```).
    Monospace,
    /// Nothing: aligned text lines (Messenger).
    None,
}

/// When a channel lets the bank write first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proactive {
    /// Any time (web chat, Matrix, Telegram).
    Free,
    /// Only within `hours` of the customer's last action, or with a permitted tag (Messenger).
    Window { hours: u32 },
}

/// What a channel can show. Limits count characters (Unicode scalar values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// A short name ("web_chat", "messenger"): logs, tests and docs, never customers.
    pub name: &'static str,
    pub readability: Readability,
    /// Longest text of one message; longer text is split on line breaks.
    pub text_max: usize,
    /// Quick replies shown under one message (0: none; they become numbered lines).
    pub quick_replies_max: usize,
    pub quick_reply_title_max: usize,
    /// Longest payload a button or quick reply carries back; longer ones are dropped.
    pub payload_max: usize,
    /// Buttons under one message (0: links become text lines).
    pub buttons_max: usize,
    pub button_title_max: usize,
    /// Longest text above buttons.
    pub button_text_max: usize,
    /// Cards (title, subtitle) in one message; 0: no cards, they become text lines.
    pub cards_max: usize,
    pub card_title_max: usize,
    pub tables: TableSupport,
    /// Inline images (charts) sent as data; without, their `alt` text is sent.
    pub images: bool,
    pub proactive: Proactive,
}

impl Capabilities {
    /// The bank's own web chat: shows everything natively.
    pub const WEB_CHAT: Capabilities = Capabilities {
        name: "web_chat",
        readability: Readability::BankOwned,
        text_max: 4000,
        quick_replies_max: 8,
        quick_reply_title_max: 40,
        payload_max: 1000,
        buttons_max: 4,
        button_title_max: 60,
        button_text_max: 4000,
        cards_max: 20,
        card_title_max: 200,
        tables: TableSupport::Native,
        images: true,
        proactive: Proactive::Free,
    };

    /// Facebook Messenger's Send API limits (quick replies ≤ 13 with titles ≤ 20, button
    /// template text ≤ 640 with 1–3 buttons, generic template ≤ 10 elements with 80-character
    /// titles). No tables.
    pub const MESSENGER: Capabilities = Capabilities {
        name: "messenger",
        readability: Readability::PlatformReadable,
        text_max: 2000,
        quick_replies_max: 13,
        quick_reply_title_max: 20,
        payload_max: 1000,
        buttons_max: 3,
        button_title_max: 20,
        button_text_max: 640,
        cards_max: 10,
        card_title_max: 80,
        tables: TableSupport::None,
        // Images need an upload or a public URL; the chart's words go instead.
        images: false,
        proactive: Proactive::Window { hours: 24 },
    };

    /// The conversation context a one-to-one chat on this channel has.
    pub fn info(&self) -> ChannelInfo {
        ChannelInfo::new(self.name, self.readability.context(), Room::HolderAlone)
    }
}

/// A channel of the gateway: how it is read, what it can show, and whether it can reach a
/// customer with a pushed reply. Every adapter is also an [`Outbox`].
pub trait ChannelAdapter: Outbox {
    fn capabilities(&self) -> &'static Capabilities;
    /// Whether a pushed reply for `customer` can be delivered here now (or kept for them).
    fn reaches(&self, customer: CustomerId) -> bool;
}

/// Pushes go to every channel that reaches the customer; the engine keeps one [`Outbox`].
pub struct Outboxes {
    channels: Vec<std::sync::Arc<dyn ChannelAdapter>>,
}

impl Outboxes {
    pub fn new(channels: Vec<std::sync::Arc<dyn ChannelAdapter>>) -> Self {
        Outboxes { channels }
    }
}

impl Outbox for Outboxes {
    fn push(&self, customer: CustomerId, reply: Reply) {
        let reaching: Vec<_> = self
            .channels
            .iter()
            .filter(|c| c.reaches(customer))
            .collect();
        match reaching.split_last() {
            Some((last, rest)) => {
                for c in rest {
                    c.push(customer, reply.clone());
                }
                last.push(customer, reply);
            }
            None => tracing::debug!(%customer, "push for a customer no channel reaches dropped"),
        }
    }

    fn typing(&self, customer: CustomerId) {
        for c in self.channels.iter().filter(|c| c.reaches(customer)) {
            c.typing(customer);
        }
    }
}

/// Something a customer (or the platform on their behalf) did, whatever the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// Typed text.
    Message { text: String },
    /// A quick reply or a postback button pressed: its payload.
    Button { payload: String },
    /// The platform's own account-linking flow finished (Messenger's `account_linking`).
    AccountLink(AccountLinkResult),
    /// Thread ownership moved between apps (Messenger's handover protocol).
    Handover(HandoverEvent),
}

impl ChannelEvent {
    /// The event the conversation understands, if it is one for the conversation.
    pub fn into_dialog(self) -> Option<InboundEvent> {
        match self {
            ChannelEvent::Message { text } => Some(InboundEvent::Text(text)),
            ChannelEvent::Button { payload } => Some(InboundEvent::QuickReply(payload)),
            ChannelEvent::AccountLink(_) | ChannelEvent::Handover(_) => None,
        }
    }
}

/// The outcome of a platform's account-linking flow.
#[derive(Debug, Clone)]
pub enum AccountLinkResult {
    /// Linked; the code the bank's page handed back through the platform (a one-time nonce).
    Linked {
        authorization_code: SecretString,
    },
    Unlinked,
}

impl PartialEq for AccountLinkResult {
    fn eq(&self, other: &Self) -> bool {
        use secrecy::ExposeSecret as _;
        match (self, other) {
            (
                AccountLinkResult::Linked {
                    authorization_code: a,
                },
                AccountLinkResult::Linked {
                    authorization_code: b,
                },
            ) => a.expose_secret() == b.expose_secret(),
            (AccountLinkResult::Unlinked, AccountLinkResult::Unlinked) => true,
            _ => false,
        }
    }
}
impl Eq for AccountLinkResult {}

/// Who owns a conversation thread after a handover event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoverEvent {
    /// Another app passed the thread to us (`pass_thread_control`).
    PassedToUs { previous_owner: Option<String> },
    /// The primary app took the thread from us (`take_thread_control`).
    TakenFromUs { new_owner: Option<String> },
    /// A secondary app asks for the thread (`request_thread_control`).
    Requested { by: Option<String> },
    /// Our roles on the page changed (`app_roles`).
    RolesChanged,
}

/// Where handover events go: the agents crate plugs its `Handover` in here; without one, the
/// channel only logs them.
pub trait HandoverSink: Send + Sync + 'static {
    fn handover(&self, customer: CustomerId, channel: &'static str, event: HandoverEvent);
}

/// One message as a channel can show it, after degradation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    pub body: Body,
    /// Under this message (only the last message of a reply carries them).
    pub quick_replies: Vec<QuickReply>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Text(String),
    /// Text with buttons under it (Messenger's button template).
    Buttons {
        text: String,
        buttons: Vec<Button>,
    },
    /// Cards side by side (Messenger's generic template).
    Cards(Vec<Card>),
    /// A table the channel draws itself.
    Table(TransactionsTable),
    /// A monospace block.
    Preformatted(String),
    /// An image the channel shows inline.
    Image {
        alt: String,
        mime: String,
        data_base64: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub title: String,
    pub action: ButtonAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ButtonAction {
    /// Opens a page (the bank's consent page, the bank-owned view of a masked reply).
    Url(String),
    /// Sends the payload back as a button press.
    Postback(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub title: String,
    pub subtitle: Option<String>,
}

/// Cuts `s` to at most `max` characters, marking the cut with "…".
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Splits text into pieces of at most `max` characters, at line breaks where it can.
fn split_text(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0usize;
    for line in text.split('\n') {
        let len = line.chars().count();
        let extra = if cur.is_empty() { len } else { len + 1 };
        if cur_len + extra <= max {
            if !cur.is_empty() {
                cur.push('\n');
            }
            cur.push_str(line);
            cur_len += extra;
            continue;
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        // A single line longer than a message: hard cut on characters.
        let chars: Vec<char> = line.chars().collect();
        let mut chunks = chars.chunks(max).peekable();
        while let Some(chunk) = chunks.next() {
            let s: String = chunk.iter().collect();
            if chunks.peek().is_some() {
                out.push(s);
            } else {
                cur_len = chunk.len();
                cur = s;
            }
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// Renders a reply for a channel. Deterministic: the same reply and capabilities always give
/// the same messages.
pub fn render(reply: &Reply, caps: &Capabilities) -> Vec<OutMessage> {
    let mut bodies: Vec<Body> = Vec::new();
    let mut extra_qr: Vec<QuickReply> = Vec::new();
    for part in &reply.parts {
        match part {
            ReplyPart::Text { text } => {
                for piece in split_text(text, caps.text_max) {
                    bodies.push(Body::Text(piece));
                }
            }
            ReplyPart::Link { label, url } => render_link(&mut bodies, caps, label, url),
            ReplyPart::BalanceCard { title, accounts } => {
                let cards = accounts
                    .iter()
                    .map(|a| Card {
                        title: format!("{} {}", a.name, a.iban_masked),
                        subtitle: Some(format!("{} · {}", a.available, a.as_of)),
                    })
                    .collect();
                render_cards(&mut bodies, caps, title, cards);
            }
            ReplyPart::AccountList { title, accounts } => {
                let cards = accounts
                    .iter()
                    .map(|a| Card {
                        title: format!("{} {}", a.name, a.iban_masked),
                        subtitle: Some(a.currency.clone()),
                    })
                    .collect();
                render_cards(&mut bodies, caps, title, cards);
            }
            ReplyPart::Image {
                alt,
                mime,
                data_base64,
                ..
            } => {
                if caps.images {
                    bodies.push(Body::Image {
                        alt: alt.clone(),
                        mime: mime.clone(),
                        data_base64: data_base64.clone(),
                    });
                } else {
                    for piece in split_text(alt, caps.text_max) {
                        bodies.push(Body::Text(piece));
                    }
                }
            }
            ReplyPart::TransactionsTable(t) => {
                match caps.tables {
                    TableSupport::Native => bodies.push(Body::Table(t.clone())),
                    TableSupport::Monospace => {
                        bodies.push(Body::Preformatted(table_lines(t).join("\n")))
                    }
                    TableSupport::None => {
                        for piece in split_text(&table_lines(t).join("\n"), caps.text_max) {
                            bodies.push(Body::Text(piece));
                        }
                    }
                }
                // Where the channel draws no table, the next page becomes a quick reply.
                if caps.tables != TableSupport::Native
                    && let Some(next) = &t.next_page
                {
                    let from = (t.page + 1) * t.page_size + 1;
                    let to = u64::from((t.page + 2) * t.page_size).min(t.total);
                    extra_qr.push(QuickReply::new(format!("» {from}–{to}"), next.clone()));
                }
            }
        }
    }
    let mut qr: Vec<QuickReply> = reply
        .quick_replies
        .iter()
        .chain(extra_qr.iter())
        .filter(|q| q.payload.chars().count() <= caps.payload_max && !q.payload.is_empty())
        .map(|q| QuickReply::new(truncate(&q.label, caps.quick_reply_title_max), &q.payload))
        .collect();
    if caps.quick_replies_max == 0 {
        if !qr.is_empty() {
            let lines: Vec<String> = qr
                .iter()
                .enumerate()
                .map(|(i, q)| format!("{}. {}", i + 1, q.label))
                .collect();
            bodies.push(Body::Text(lines.join("\n")));
        }
        qr.clear();
    }
    qr.truncate(caps.quick_replies_max);
    if bodies.is_empty() {
        // A reply of quick replies alone still needs a message to hang them on.
        bodies.push(Body::Text("…".into()));
    }
    let n = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| OutMessage {
            body,
            quick_replies: if i + 1 == n { qr.clone() } else { Vec::new() },
        })
        .collect()
}

fn render_link(bodies: &mut Vec<Body>, caps: &Capabilities, label: &str, url: &str) {
    if caps.buttons_max == 0 {
        bodies.push(Body::Text(format!("{label}: {url}")));
        return;
    }
    let button = Button {
        title: truncate(label, caps.button_title_max),
        action: ButtonAction::Url(url.to_owned()),
    };
    // The text just before a link introduces it: they become one message with a button.
    match bodies.last_mut() {
        Some(Body::Text(t)) if t.chars().count() <= caps.button_text_max => {
            let text = std::mem::take(t);
            bodies.pop();
            bodies.push(Body::Buttons {
                text,
                buttons: vec![button],
            });
        }
        Some(Body::Buttons { buttons, .. }) if buttons.len() < caps.buttons_max => {
            buttons.push(button);
        }
        _ => bodies.push(Body::Buttons {
            text: truncate(label, caps.button_text_max),
            buttons: vec![button],
        }),
    }
}

fn render_cards(bodies: &mut Vec<Body>, caps: &Capabilities, title: &str, cards: Vec<Card>) {
    if caps.cards_max == 0 || cards.is_empty() {
        let mut lines = vec![title.to_owned()];
        for c in &cards {
            match &c.subtitle {
                Some(s) => lines.push(format!("{}: {s}", c.title)),
                None => lines.push(c.title.clone()),
            }
        }
        for piece in split_text(&lines.join("\n"), caps.text_max) {
            bodies.push(Body::Text(piece));
        }
        return;
    }
    bodies.push(Body::Text(truncate(title, caps.text_max)));
    let cards: Vec<Card> = cards
        .into_iter()
        .map(|c| Card {
            title: truncate(&c.title, caps.card_title_max),
            subtitle: c.subtitle.map(|s| truncate(&s, caps.card_title_max)),
        })
        .collect();
    for chunk in cards.chunks(caps.cards_max) {
        bodies.push(Body::Cards(chunk.to_vec()));
    }
}

/// Widest description column in text tables; longer descriptions are cut.
const DESCRIPTION_WIDTH: usize = 24;

/// A transactions table as aligned lines: date, description (cut), amount right-aligned.
pub fn table_lines(t: &TransactionsTable) -> Vec<String> {
    let date_w = t
        .rows
        .iter()
        .map(|r| r.date.chars().count())
        .chain(t.columns.first().map(|c| c.chars().count()))
        .max()
        .unwrap_or(0);
    let descs: Vec<String> = t
        .rows
        .iter()
        .map(|r| truncate(&r.description, DESCRIPTION_WIDTH))
        .collect();
    let desc_w = descs
        .iter()
        .map(|d| d.chars().count())
        .chain(
            t.columns
                .get(1)
                .map(|c| c.chars().count().min(DESCRIPTION_WIDTH)),
        )
        .max()
        .unwrap_or(0);
    let amount_w = t
        .rows
        .iter()
        .map(|r| r.amount.chars().count())
        .chain(t.columns.get(2).map(|c| c.chars().count()))
        .max()
        .unwrap_or(0);
    let line = |a: &str, b: &str, c: &str| {
        format!(
            "{}  {}  {}",
            pad_right(a, date_w),
            pad_right(b, desc_w),
            pad_left(c, amount_w)
        )
        .trim_end()
        .to_owned()
    };
    let mut out = vec![t.title.clone()];
    if t.columns.len() >= 3 {
        out.push(line(
            &t.columns[0],
            &truncate(&t.columns[1], DESCRIPTION_WIDTH),
            &t.columns[2],
        ));
    }
    for (r, d) in t.rows.iter().zip(&descs) {
        out.push(line(&r.date, d, &r.amount));
    }
    for total in &t.totals {
        out.push(format!("Σ {total}"));
    }
    out
}

fn pad_right(s: &str, w: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(w.saturating_sub(n)))
}

fn pad_left(s: &str, w: usize) -> String {
    let n = s.chars().count();
    format!("{}{s}", " ".repeat(w.saturating_sub(n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_dialog::{Sensitivity, TxRow};

    fn table(rows: usize) -> TransactionsTable {
        TransactionsTable {
            title: "Transakcje (3)".into(),
            columns: vec!["Data".into(), "Opis".into(), "Kwota".into()],
            rows: (0..rows)
                .map(|i| TxRow {
                    date: format!("0{}.11.2026", i + 1),
                    description: if i == 0 {
                        "Biedronka sklep nr 1234 Warszawa Mokotów".into()
                    } else {
                        "Orlen".into()
                    },
                    amount: if i == 0 {
                        "-49,99 zł".into()
                    } else {
                        "-1 250,00 zł".into()
                    },
                    raw_amount: "-49.99".into(),
                    currency: "PLN".into(),
                    status: "booked".into(),
                })
                .collect(),
            page: 0,
            page_size: 2,
            total: 3,
            next_page: Some("tx:page:2".into()),
            totals: vec!["-1 299,99 zł".into()],
        }
    }

    #[test]
    fn a_table_becomes_aligned_lines_where_there_are_no_tables() {
        let reply = Reply {
            parts: vec![ReplyPart::TransactionsTable(table(2))],
            quick_replies: Vec::new(),
            sensitivity: Sensitivity::Financial,
        };
        let out = render(&reply, &Capabilities::MESSENGER);
        assert_eq!(out.len(), 1);
        let Body::Text(text) = &out[0].body else {
            panic!("{out:?}")
        };
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "Transakcje (3)",
                "Data        Opis                             Kwota",
                "01.11.2026  Biedronka sklep nr 1234…     -49,99 zł",
                "02.11.2026  Orlen                     -1 250,00 zł",
                "Σ -1 299,99 zł",
            ]
        );
        // The amount column ends in the same place on every row.
        let ends: Vec<usize> = lines[1..4].iter().map(|l| l.chars().count()).collect();
        assert!(ends.iter().all(|e| *e == ends[0]), "{ends:?}");
        assert_eq!(
            out[0].quick_replies,
            vec![QuickReply::new("» 3–3", "tx:page:2")]
        );
        // The web chat keeps its native table.
        let web = render(&reply, &Capabilities::WEB_CHAT);
        assert!(matches!(web[0].body, Body::Table(_)));
    }

    #[test]
    fn quick_replies_are_trimmed_to_thirteen_with_short_titles() {
        let qr: Vec<QuickReply> = (0..20)
            .map(|i| QuickReply::new(format!("Odpowiedź numer {i} bardzo długa"), format!("p{i}")))
            .collect();
        let reply = Reply::text("Wybierz").with_quick_replies(qr);
        let out = render(&reply, &Capabilities::MESSENGER);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].quick_replies.len(), 13);
        assert!(
            out[0]
                .quick_replies
                .iter()
                .all(|q| q.label.chars().count() <= 20)
        );
        assert_eq!(out[0].quick_replies[0].label, "Odpowiedź numer 0 b…");
        assert_eq!(out[0].quick_replies[12].payload, "p12");
    }

    #[test]
    fn a_link_after_text_becomes_one_button_message() {
        let reply = Reply {
            parts: vec![
                ReplyPart::Text {
                    text: "Otwórz stronę banku.".into(),
                },
                ReplyPart::Link {
                    label: "Połącz z bankiem i zatwierdź".into(),
                    url: "https://bank.example/consent?x=1".into(),
                },
            ],
            quick_replies: Vec::new(),
            sensitivity: Sensitivity::Public,
        };
        let out = render(&reply, &Capabilities::MESSENGER);
        assert_eq!(
            out,
            vec![OutMessage {
                body: Body::Buttons {
                    text: "Otwórz stronę banku.".into(),
                    buttons: vec![Button {
                        title: "Połącz z bankiem i …".into(),
                        action: ButtonAction::Url("https://bank.example/consent?x=1".into()),
                    }],
                },
                quick_replies: Vec::new(),
            }]
        );
    }

    #[test]
    fn long_text_splits_on_lines_and_never_exceeds_the_limit() {
        let caps = Capabilities {
            text_max: 10,
            ..Capabilities::MESSENGER
        };
        let reply = Reply::text("abc\ndefgh\nijklmnopqrstuvwxyzż\nx");
        let out = render(&reply, &caps);
        let texts: Vec<String> = out
            .iter()
            .map(|m| match &m.body {
                Body::Text(t) => t.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts, vec!["abc\ndefgh", "ijklmnopqr", "stuvwxyzż", "x"]);
    }

    #[test]
    fn rendering_is_deterministic() {
        let reply = Reply {
            parts: vec![ReplyPart::TransactionsTable(table(2))],
            quick_replies: vec![QuickReply::new("Saldo", "intent:balance")],
            sensitivity: Sensitivity::Financial,
        };
        assert_eq!(
            render(&reply, &Capabilities::MESSENGER),
            render(&reply, &Capabilities::MESSENGER)
        );
    }
}
