//! The Messenger webhook's wire format, parsed with serde into typed events.
//!
//! Only the fields okienko acts on are read; anything else Meta adds is ignored. Echoes of our own
//! messages, read and delivery receipts are dropped here. The wire types stay in this module: the
//! rest of the channel sees [`Inbound`] with a [`ChannelEvent`].

use secrecy::SecretString;
use serde::Deserialize;

use crate::adapter::{AccountLinkResult, ChannelEvent, HandoverEvent};

/// Longest text or payload accepted from a webhook (Meta's own limits are lower).
const MAX_FIELD: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not a Messenger webhook JSON object")]
    Json,
    #[error("the webhook is not for a page (object != \"page\")")]
    NotPage,
}

/// One event from a delivery, with who sent it and where it stands in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The page-scoped id of the person.
    pub psid: String,
    pub page_id: String,
    /// Milliseconds since the epoch, as Meta stamped the event.
    pub timestamp_ms: i64,
    /// What identifies the event for replay protection: the message id where there is one.
    pub key: String,
    /// Delivered on `standby[]`: another app owns the thread, we may only watch.
    pub standby: bool,
    pub event: ChannelEvent,
}

#[derive(Deserialize)]
struct Envelope {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    id: Option<Id>,
    #[serde(default)]
    messaging: Vec<Messaging>,
    #[serde(default)]
    standby: Vec<Messaging>,
}

/// Ids arrive as strings, app ids sometimes as numbers.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Id {
    S(String),
    N(u64),
}

impl Id {
    fn into_string(self) -> String {
        match self {
            Id::S(s) => s,
            Id::N(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct Party {
    id: Id,
}

#[derive(Deserialize)]
struct Messaging {
    sender: Option<Party>,
    recipient: Option<Party>,
    #[serde(default)]
    timestamp: i64,
    message: Option<Message>,
    postback: Option<Postback>,
    account_linking: Option<AccountLinking>,
    pass_thread_control: Option<ThreadControl>,
    take_thread_control: Option<ThreadControl>,
    request_thread_control: Option<ThreadControl>,
    app_roles: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Message {
    mid: Option<String>,
    text: Option<String>,
    quick_reply: Option<QuickReplyPayload>,
    #[serde(default)]
    is_echo: bool,
}

#[derive(Deserialize)]
struct QuickReplyPayload {
    payload: Option<String>,
}

#[derive(Deserialize)]
struct Postback {
    mid: Option<String>,
    payload: Option<String>,
}

#[derive(Deserialize)]
struct AccountLinking {
    status: String,
    authorization_code: Option<String>,
}

#[derive(Deserialize)]
struct ThreadControl {
    new_owner_app_id: Option<Id>,
    previous_owner_app_id: Option<Id>,
    requested_owner_app_id: Option<Id>,
}

/// Parses a delivery (already signature-checked) into events, in the order Meta sent them.
pub fn parse(body: &[u8]) -> Result<Vec<Inbound>, ParseError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|_| ParseError::Json)?;
    if env.object != "page" {
        return Err(ParseError::NotPage);
    }
    let mut out = Vec::new();
    for entry in env.entry {
        let page = entry.id.map(Id::into_string);
        let items = entry
            .messaging
            .into_iter()
            .map(|m| (m, false))
            .chain(entry.standby.into_iter().map(|m| (m, true)));
        for (m, standby) in items {
            if let Some(ev) = event(m, page.as_deref(), standby) {
                out.push(ev);
            }
        }
    }
    Ok(out)
}

fn bounded(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty() && s.len() <= MAX_FIELD)
}

fn event(m: Messaging, page: Option<&str>, standby: bool) -> Option<Inbound> {
    let psid = m.sender?.id.into_string();
    if psid.is_empty() || psid.len() > 128 {
        return None;
    }
    let page_id = m
        .recipient
        .map(|r| r.id.into_string())
        .or_else(|| page.map(str::to_owned))
        .unwrap_or_default();
    let ts = m.timestamp;
    let fallback_key = |kind: &str| format!("{kind}:{psid}:{ts}");
    let (key, event) = if let Some(msg) = m.message {
        if msg.is_echo {
            return None;
        }
        let key = msg.mid.clone().unwrap_or_else(|| fallback_key("message"));
        let payload = bounded(msg.quick_reply.and_then(|q| q.payload));
        match (payload, bounded(msg.text)) {
            (Some(payload), _) => (key, ChannelEvent::Button { payload }),
            (None, Some(text)) => (key, ChannelEvent::Message { text }),
            // Attachments, stickers: nothing the conversation reads yet.
            (None, None) => return None,
        }
    } else if let Some(pb) = m.postback {
        // Postbacks seen on standby carry no payload.
        let payload = bounded(pb.payload)?;
        let key = pb.mid.unwrap_or_else(|| fallback_key("postback"));
        (key, ChannelEvent::Button { payload })
    } else if let Some(al) = m.account_linking {
        let result = match al.status.as_str() {
            "linked" => AccountLinkResult::Linked {
                authorization_code: SecretString::from(
                    bounded(al.authorization_code).unwrap_or_default(),
                ),
            },
            "unlinked" => AccountLinkResult::Unlinked,
            _ => return None,
        };
        (
            fallback_key("account_linking"),
            ChannelEvent::AccountLink(result),
        )
    } else if let Some(tc) = m.pass_thread_control {
        (
            fallback_key("pass_thread_control"),
            ChannelEvent::Handover(HandoverEvent::PassedToUs {
                previous_owner: tc.previous_owner_app_id.map(Id::into_string),
            }),
        )
    } else if let Some(tc) = m.take_thread_control {
        (
            fallback_key("take_thread_control"),
            ChannelEvent::Handover(HandoverEvent::TakenFromUs {
                new_owner: tc.new_owner_app_id.map(Id::into_string),
            }),
        )
    } else if let Some(tc) = m.request_thread_control {
        (
            fallback_key("request_thread_control"),
            ChannelEvent::Handover(HandoverEvent::Requested {
                by: tc.requested_owner_app_id.map(Id::into_string),
            }),
        )
    } else if m.app_roles.is_some() {
        (
            fallback_key("app_roles"),
            ChannelEvent::Handover(HandoverEvent::RolesChanged),
        )
    } else {
        // read, delivery, referral, optin: nothing to do.
        return None;
    };
    Some(Inbound {
        psid,
        page_id,
        timestamp_ms: ts,
        key,
        standby,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_documented_shapes_parse_into_typed_events() {
        let body = br#"{"object":"page","entry":[
          {"id":"PAGE","time":1458692752478,"messaging":[
            {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE"},"timestamp":1458692752478,
             "message":{"mid":"m_1","text":"ile mam na koncie?"}},
            {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE"},"timestamp":1458692752479,
             "message":{"mid":"m_2","text":"Saldo","quick_reply":{"payload":"intent:balance"}}},
            {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE"},"timestamp":1458692752480,
             "postback":{"mid":"m_3","title":"Start","payload":"GET_STARTED"}},
            {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE"},"timestamp":1458692752481,
             "account_linking":{"status":"linked","authorization_code":"nonce-1"}},
            {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE"},"timestamp":1458692752482,
             "pass_thread_control":{"new_owner_app_id":"123","previous_owner_app_id":null,"metadata":"x"}},
            {"sender":{"id":"PAGE"},"recipient":{"id":"PSID1"},"timestamp":1458692752483,
             "message":{"mid":"m_4","text":"echo","is_echo":true,"app_id":1}},
            {"sender":{"id":"PSID1"},"recipient":{"id":"PAGE"},"timestamp":1458692752484,
             "read":{"watermark":1458668856253}}
          ],"standby":[
            {"sender":{"id":"PSID2"},"recipient":{"id":"PAGE"},"timestamp":1458692752485,
             "message":{"mid":"m_5","text":"hello"}}
          ]}]}"#;
        let evs = parse(body).unwrap();
        let kinds: Vec<_> = evs.iter().map(|e| (e.key.as_str(), e.standby)).collect();
        assert_eq!(
            kinds,
            vec![
                ("m_1", false),
                ("m_2", false),
                ("m_3", false),
                ("account_linking:PSID1:1458692752481", false),
                ("pass_thread_control:PSID1:1458692752482", false),
                ("m_5", true),
            ]
        );
        assert_eq!(
            evs[0].event,
            ChannelEvent::Message {
                text: "ile mam na koncie?".into()
            }
        );
        assert_eq!(
            evs[1].event,
            ChannelEvent::Button {
                payload: "intent:balance".into()
            }
        );
        assert_eq!(
            evs[3].event,
            ChannelEvent::AccountLink(AccountLinkResult::Linked {
                authorization_code: SecretString::from("nonce-1")
            })
        );
        assert_eq!(
            evs[4].event,
            ChannelEvent::Handover(HandoverEvent::PassedToUs {
                previous_owner: None
            })
        );
        assert_eq!(evs[0].psid, "PSID1");
        assert_eq!(evs[0].page_id, "PAGE");
    }

    #[test]
    fn hostile_bodies_are_errors_or_nothing_never_panics() {
        for body in [
            &b""[..],
            b"null",
            b"[]",
            b"{\"object\":\"page\"",
            b"\xff\xfe",
            b"{\"object\":1}",
        ] {
            assert_eq!(parse(body), Err(ParseError::Json), "{body:?}");
        }
        assert_eq!(
            parse(br#"{"object":"instagram","entry":[]}"#),
            Err(ParseError::NotPage)
        );
        assert_eq!(parse(br#"{"object":"page"}"#), Ok(vec![]));
        assert_eq!(
            parse(br#"{"object":"page","entry":[{"messaging":[{"message":{"text":"x"}}]}]}"#),
            Ok(vec![])
        );
        let huge = format!(
            r#"{{"object":"page","entry":[{{"messaging":[{{"sender":{{"id":"P"}},"timestamp":1,"message":{{"mid":"m","text":"{}"}}}}]}}]}}"#,
            "a".repeat(5000)
        );
        assert_eq!(parse(huge.as_bytes()), Ok(vec![]));
    }
}
