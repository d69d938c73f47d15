//! The JSON frames spoken over `/ws`, and the checks every client frame passes before anything
//! else sees it.
//!
//! This module owns the wire format only: it turns raw text into a [`ClientFrame`] or an
//! [`ErrorCode`], and server events into JSON text. It must never echo a client's text back in an
//! error (the text may be an account number or a password typed in the wrong box).

use std::sync::Arc;

use okienko_core::{CustomerId, Lang};
use okienko_dialog::Reply;
use serde::{Deserialize, Serialize};

/// A frame from the browser, after parsing and cleaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientFrame {
    Hello {
        session: Option<String>,
        lang: Option<Lang>,
        last_seen: Option<u64>,
    },
    /// Typed text, cleaned of control characters and trimmed; never empty.
    Message(String),
    /// A quick-reply payload, cleaned the same way; never empty.
    QuickReply(String),
    /// The customer is typing (a bank agent holding the conversation sees it).
    Typing,
}

/// The wire shape, before cleaning.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireFrame {
    Hello {
        #[serde(default)]
        session: Option<String>,
        #[serde(default)]
        lang: Option<String>,
        #[serde(default)]
        last_seen: Option<u64>,
    },
    Message {
        text: String,
    },
    QuickReply {
        payload: String,
    },
    Typing,
}

/// Why a client frame was refused. The code is the stable public part; the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorCode {
    /// A frame other than `hello` came first.
    HelloRequired,
    /// A second `hello` on the same connection.
    DuplicateHello,
    /// Not JSON at all.
    InvalidJson,
    /// JSON, but not one of the frames we know (unknown `type`, missing or mistyped fields).
    BadFrame,
    /// A binary frame; the protocol is JSON text.
    BinaryNotSupported,
    /// The frame is larger than `max_message_bytes`.
    TooLarge,
    /// The text (or payload) is empty once control characters and spaces are removed.
    EmptyMessage,
    /// `lang` is neither `pl` nor `en`.
    BadLang,
    /// Too many frames too fast.
    RateLimited,
    /// Too many events are already waiting for the conversation.
    Busy,
    /// The chat cannot take sessions or events right now (not started, or full).
    Unavailable,
    /// Handling the event failed inside the gateway.
    Internal,
}

impl ErrorCode {
    pub(crate) fn message(self, lang: Lang) -> &'static str {
        use ErrorCode::*;
        match (self, lang) {
            (HelloRequired, Lang::Pl) => "Najpierw wyślij ramkę hello.",
            (HelloRequired, Lang::En) => "Send a hello frame first.",
            (DuplicateHello, Lang::Pl) => "Sesja na tym połączeniu już się rozpoczęła.",
            (DuplicateHello, Lang::En) => "This connection already has a session.",
            (InvalidJson, Lang::Pl) => "Ramka nie jest poprawnym JSON-em.",
            (InvalidJson, Lang::En) => "The frame is not valid JSON.",
            (BadFrame, Lang::Pl) => "Nieznany rodzaj ramki lub brakujące pola.",
            (BadFrame, Lang::En) => "Unknown frame type or missing fields.",
            (BinaryNotSupported, Lang::Pl) => "Obsługiwane są tylko ramki tekstowe JSON.",
            (BinaryNotSupported, Lang::En) => "Only JSON text frames are supported.",
            (TooLarge, Lang::Pl) => "Wiadomość jest za długa.",
            (TooLarge, Lang::En) => "The message is too long.",
            (EmptyMessage, Lang::Pl) => "Wiadomość jest pusta.",
            (EmptyMessage, Lang::En) => "The message is empty.",
            (BadLang, Lang::Pl) => "Obsługiwane języki to pl i en.",
            (BadLang, Lang::En) => "Supported languages are pl and en.",
            (RateLimited, Lang::Pl) => "Za dużo wiadomości naraz. Zwolnij trochę.",
            (RateLimited, Lang::En) => "Too many messages at once. Please slow down.",
            (Busy, Lang::Pl) => "Jeszcze odpowiadam na poprzednie wiadomości.",
            (Busy, Lang::En) => "Still answering your earlier messages.",
            (Unavailable, Lang::Pl) => "Czat jest chwilowo niedostępny. Spróbuj za chwilę.",
            (Unavailable, Lang::En) => "The chat is unavailable right now. Try again shortly.",
            (Internal, Lang::Pl) => "Coś poszło nie tak. Spróbuj ponownie.",
            (Internal, Lang::En) => "Something went wrong. Please try again.",
        }
    }
}

/// Parses and cleans one text frame. `max_bytes` is checked before any parsing.
pub(crate) fn parse_client_frame(raw: &str, max_bytes: usize) -> Result<ClientFrame, ErrorCode> {
    if raw.len() > max_bytes {
        return Err(ErrorCode::TooLarge);
    }
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|_| ErrorCode::InvalidJson)?;
    let wire: WireFrame = serde_json::from_value(value).map_err(|_| ErrorCode::BadFrame)?;
    match wire {
        WireFrame::Hello {
            session,
            lang,
            last_seen,
        } => {
            let lang = match lang {
                None => None,
                Some(l) => Some(l.parse::<Lang>().map_err(|_| ErrorCode::BadLang)?),
            };
            Ok(ClientFrame::Hello {
                session,
                lang,
                last_seen,
            })
        }
        WireFrame::Message { text } => clean_text(&text)
            .map(ClientFrame::Message)
            .ok_or(ErrorCode::EmptyMessage),
        WireFrame::QuickReply { payload } => clean_text(&payload)
            .map(ClientFrame::QuickReply)
            .ok_or(ErrorCode::EmptyMessage),
        WireFrame::Typing => Ok(ClientFrame::Typing),
    }
}

fn is_unwanted(c: char) -> bool {
    let control = c.is_control() && c != '\n' && c != '\t';
    let bidi_override = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    control || bidi_override
}

/// Removes control characters (keeping newlines and tabs) and the bidirectional overrides that
/// can make text look like something else, then trims. `None` when nothing is left.
pub(crate) fn clean_text(s: &str) -> Option<String> {
    let cleaned: String = s.chars().filter(|&c| !is_unwanted(c)).collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.to_owned())
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame<'a> {
    Welcome {
        session: &'a str,
        customer: CustomerId,
        lang: Lang,
        resumed: bool,
    },
    Reply {
        seq: u64,
        reply: &'a Reply,
    },
    Typing,
    Error {
        code: ErrorCode,
        message: &'static str,
    },
}

fn to_frame(f: &ServerFrame<'_>) -> Arc<str> {
    // These types serialize infallibly (strings, numbers, enums); an error here would be a bug
    // in serde_json, and a dropped frame is better than a panic.
    match serde_json::to_string(f) {
        Ok(s) => Arc::from(s),
        Err(e) => {
            tracing::error!(error = %e, "could not serialize a server frame");
            Arc::from(r#"{"type":"error","code":"internal","message":"internal error"}"#)
        }
    }
}

pub(crate) fn welcome_frame(
    session: &str,
    customer: CustomerId,
    lang: Lang,
    resumed: bool,
) -> Arc<str> {
    to_frame(&ServerFrame::Welcome {
        session,
        customer,
        lang,
        resumed,
    })
}

pub(crate) fn reply_frame(seq: u64, reply: &Reply) -> Arc<str> {
    to_frame(&ServerFrame::Reply { seq, reply })
}

/// A reply frame around a reply already serialized (a shared session's stored reply): the same
/// text [`reply_frame`] makes from the `Reply`.
pub(crate) fn reply_frame_raw(seq: u64, reply_json: &str) -> Arc<str> {
    Arc::from(format!(
        r#"{{"type":"reply","seq":{seq},"reply":{reply_json}}}"#
    ))
}

pub(crate) fn typing_frame() -> Arc<str> {
    to_frame(&ServerFrame::Typing)
}

pub(crate) fn error_frame(code: ErrorCode, lang: Lang) -> Arc<str> {
    to_frame(&ServerFrame::Error {
        code,
        message: code.message(lang),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_client_frames() {
        assert_eq!(
            parse_client_frame(r#"{"type":"hello","session":null,"lang":"en"}"#, 4096),
            Ok(ClientFrame::Hello {
                session: None,
                lang: Some(Lang::En),
                last_seen: None
            })
        );
        assert_eq!(
            parse_client_frame(
                r#"{"type":"hello","session":"abc","lang":"pl","last_seen":7}"#,
                4096
            ),
            Ok(ClientFrame::Hello {
                session: Some("abc".into()),
                lang: Some(Lang::Pl),
                last_seen: Some(7)
            })
        );
        assert_eq!(
            parse_client_frame(
                r#"{"type":"message","text":"  ile mam na koncie \u0007"}"#,
                4096
            ),
            Ok(ClientFrame::Message("ile mam na koncie".into()))
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"quick_reply","payload":"tx:page:2"}"#, 4096),
            Ok(ClientFrame::QuickReply("tx:page:2".into()))
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"typing"}"#, 4096),
            Ok(ClientFrame::Typing)
        );
    }

    #[test]
    fn refuses_bad_frames_with_codes() {
        let p = |s: &str| parse_client_frame(s, 64);
        assert_eq!(p("hello"), Err(ErrorCode::InvalidJson));
        assert_eq!(p(r#"{"type":"shout"}"#), Err(ErrorCode::BadFrame));
        assert_eq!(p(r#"{"type":"message"}"#), Err(ErrorCode::BadFrame));
        assert_eq!(
            p(r#"{"type":"message","text":5}"#),
            Err(ErrorCode::BadFrame)
        );
        assert_eq!(p(r#"[1,2]"#), Err(ErrorCode::BadFrame));
        assert_eq!(
            p(r#"{"type":"message","text":""}"#),
            Err(ErrorCode::EmptyMessage)
        );
        assert_eq!(
            p(r#"{"type":"message","text":"\u0001\u0002 \n"}"#),
            Err(ErrorCode::EmptyMessage)
        );
        assert_eq!(
            p(r#"{"type":"hello","lang":"de"}"#),
            Err(ErrorCode::BadLang)
        );
        let long = format!(r#"{{"type":"message","text":"{}"}}"#, "a".repeat(100));
        assert_eq!(p(&long), Err(ErrorCode::TooLarge));
    }

    #[test]
    fn cleaning_keeps_newlines_and_drops_bidi_overrides() {
        assert_eq!(clean_text("a\u{202E}b\nc\u{0000}"), Some("ab\nc".into()));
        assert_eq!(clean_text("\u{2066}\u{2069}"), None);
    }

    #[test]
    fn a_stored_reply_makes_the_same_frame() {
        let reply = Reply::text("Saldo: 1 234,56 zł \"x\"");
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(reply_frame_raw(7, &json), reply_frame(7, &reply));
    }

    #[test]
    fn error_frames_never_carry_client_text() {
        let f = error_frame(ErrorCode::TooLarge, Lang::En);
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["code"], "too_large");
        assert_eq!(v["message"], "The message is too long.");
    }
}
