//! The Send API: wire shapes of `POST {graph}/me/messages` and a client with a timeout and
//! retries on 5xx and 429 only (a timeout or a 4xx is not retried: the message may have gone
//! out, or will never go). Errors carry statuses and Meta's error codes, never the message.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::adapter::{Body, Button, ButtonAction, OutMessage};

/// Why Meta lets us write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessagingType {
    /// An answer to something the person just did (inside the 24-hour window).
    Response,
    /// A message we start, inside the 24-hour window.
    Update,
    /// Outside the window, with a permitted tag.
    MessageTag,
}

/// Message tags okienko uses. Only `ACCOUNT_UPDATE`: changes to the customer's account or
/// settings and alerts about them; never promotions, never balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageTag {
    AccountUpdate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendRequest {
    pub recipient: Recipient,
    pub messaging_type: MessagingType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<MessageTag>,
    pub message: WireMessage,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recipient {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<WireQuickReply>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireQuickReply {
    pub content_type: &'static str,
    pub title: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub payload: TemplatePayload,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "template_type", rename_all = "snake_case")]
pub enum TemplatePayload {
    Button {
        text: String,
        buttons: Vec<WireButton>,
    },
    Generic {
        elements: Vec<Element>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Element {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WireButton {
    WebUrl {
        url: String,
        title: String,
    },
    Postback {
        title: String,
        payload: String,
    },
    /// Meta's account-linking button (a "Log In" button without a title of ours).
    AccountLink {
        url: String,
    },
}

/// A button template with Meta's `account_link` button opening `url`.
pub fn account_link_message(text: &str, url: &str) -> WireMessage {
    WireMessage {
        text: None,
        attachment: Some(Attachment {
            kind: "template",
            payload: TemplatePayload::Button {
                text: crate::adapter::truncate(text, 640),
                buttons: vec![WireButton::AccountLink {
                    url: url.to_owned(),
                }],
            },
        }),
        quick_replies: Vec::new(),
    }
}

impl From<&Button> for WireButton {
    fn from(b: &Button) -> Self {
        match &b.action {
            ButtonAction::Url(url) => WireButton::WebUrl {
                url: url.clone(),
                title: b.title.clone(),
            },
            ButtonAction::Postback(payload) => WireButton::Postback {
                title: b.title.clone(),
                payload: payload.clone(),
            },
        }
    }
}

/// The Send API body of one rendered message (rendered for [`crate::Capabilities::MESSENGER`],
/// so the limits already hold).
pub fn wire_message(m: &OutMessage) -> WireMessage {
    let quick_replies = m
        .quick_replies
        .iter()
        .map(|q| WireQuickReply {
            content_type: "text",
            title: q.label.clone(),
            payload: q.payload.clone(),
        })
        .collect();
    let (text, attachment) = match &m.body {
        Body::Text(t) | Body::Preformatted(t) => (Some(t.clone()), None),
        // Not produced for Messenger (no inline images); the words stand in.
        Body::Image { alt, .. } => (Some(alt.clone()), None),
        // Messenger has no tables: the renderer never gives one for Messenger's capabilities;
        // should one come, it goes as aligned lines.
        Body::Table(t) => (Some(crate::adapter::table_lines(t).join("\n")), None),
        Body::Buttons { text, buttons } => (
            None,
            Some(Attachment {
                kind: "template",
                payload: TemplatePayload::Button {
                    text: text.clone(),
                    buttons: buttons.iter().map(WireButton::from).collect(),
                },
            }),
        ),
        Body::Cards(cards) => (
            None,
            Some(Attachment {
                kind: "template",
                payload: TemplatePayload::Generic {
                    elements: cards
                        .iter()
                        .map(|c| Element {
                            title: c.title.clone(),
                            subtitle: c.subtitle.clone(),
                        })
                        .collect(),
                },
            }),
        ),
    };
    WireMessage {
        text,
        attachment,
        quick_replies,
    }
}

/// What the Send API answered.
#[derive(Debug, Clone, Deserialize)]
pub struct SendResponse {
    pub recipient_id: Option<String>,
    pub message_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

#[derive(Debug, Deserialize)]
struct GraphError {
    code: Option<i64>,
    error_subcode: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Meta refused the message (4xx): window closed, blocked, not the thread owner
    /// (code 10, subcode 2018300)… Retrying will not help.
    #[error("the Send API refused the message (HTTP {status}, code {code:?}, subcode {subcode:?})")]
    Rejected {
        status: u16,
        code: Option<i64>,
        subcode: Option<i64>,
    },
    /// 5xx or 429 after every retry.
    #[error("the Send API kept failing (HTTP {status})")]
    Unavailable { status: u16 },
    /// No answer in time, or no connection.
    #[error("the Send API could not be reached ({0})")]
    Transport(&'static str),
    /// Outside the 24-hour window, for a message no tag permits.
    #[error("outside the messaging window and no tag applies")]
    WindowClosed,
}

impl SendError {
    /// Another app owns the thread (handover): the bot must stay quiet.
    pub fn not_thread_owner(&self) -> bool {
        matches!(
            self,
            SendError::Rejected {
                code: Some(10),
                subcode: Some(2018300),
                ..
            }
        )
    }
}

/// A Send API client. Cheap to clone.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    messages_url: String,
    token: SecretString,
    retries: u32,
    backoff: Duration,
}

impl GraphClient {
    /// `base` is the Graph API root with its version ("https://graph.facebook.com/v25.0").
    pub fn new(base: &str, token: SecretString, timeout: Duration) -> Result<Self, SendError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| SendError::Transport("client"))?;
        Ok(GraphClient {
            http,
            messages_url: format!("{}/me/messages", base.trim_end_matches('/')),
            token,
            retries: 3,
            backoff: Duration::from_millis(200),
        })
    }

    /// Sends one message, retrying 5xx and 429 with exponential backoff (200 ms, 400 ms, 800 ms;
    /// a `Retry-After` of up to 5 s is honoured).
    pub async fn send(&self, req: &SendRequest) -> Result<SendResponse, SendError> {
        let mut attempt = 0u32;
        loop {
            let resp = self
                .http
                .post(&self.messages_url)
                // In a header, not `?access_token=`: URLs end up in logs.
                .bearer_auth(self.token.expose_secret())
                .json(req)
                .send()
                .await
                .map_err(|e| {
                    SendError::Transport(if e.is_timeout() { "timeout" } else { "connect" })
                })?;
            let status = resp.status();
            if status.is_success() {
                return resp
                    .json::<SendResponse>()
                    .await
                    .map_err(|_| SendError::Transport("response body"));
            }
            let retryable = status.is_server_error() || status.as_u16() == 429;
            if !retryable {
                let body = resp.json::<GraphErrorBody>().await.ok();
                return Err(SendError::Rejected {
                    status: status.as_u16(),
                    code: body.as_ref().and_then(|b| b.error.code),
                    subcode: body.as_ref().and_then(|b| b.error.error_subcode),
                });
            }
            if attempt >= self.retries {
                return Err(SendError::Unavailable {
                    status: status.as_u16(),
                });
            }
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(5)));
            let wait = retry_after.unwrap_or(self.backoff * 2u32.pow(attempt));
            tracing::debug!(status = status.as_u16(), attempt, "Send API retry");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{Card, OutMessage};
    use okienko_dialog::QuickReply;
    use serde_json::json;

    #[test]
    fn shapes_match_the_send_api() {
        let req = SendRequest {
            recipient: Recipient { id: "PSID".into() },
            messaging_type: MessagingType::Response,
            tag: None,
            message: wire_message(&OutMessage {
                body: Body::Text("Cześć".into()),
                quick_replies: vec![QuickReply::new("Saldo", "intent:balance")],
            }),
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"recipient":{"id":"PSID"},"messaging_type":"RESPONSE",
                   "message":{"text":"Cześć","quick_replies":[
                       {"content_type":"text","title":"Saldo","payload":"intent:balance"}]}})
        );
        let tagged = SendRequest {
            recipient: Recipient { id: "PSID".into() },
            messaging_type: MessagingType::MessageTag,
            tag: Some(MessageTag::AccountUpdate),
            message: wire_message(&OutMessage {
                body: Body::Buttons {
                    text: "Otwórz".into(),
                    buttons: vec![Button {
                        title: "Bank".into(),
                        action: ButtonAction::Url("https://b.example/".into()),
                    }],
                },
                quick_replies: vec![],
            }),
        };
        assert_eq!(
            serde_json::to_value(&tagged).unwrap(),
            json!({"recipient":{"id":"PSID"},"messaging_type":"MESSAGE_TAG","tag":"ACCOUNT_UPDATE",
                   "message":{"attachment":{"type":"template","payload":{
                       "template_type":"button","text":"Otwórz",
                       "buttons":[{"type":"web_url","url":"https://b.example/","title":"Bank"}]}}}})
        );
        let generic = wire_message(&OutMessage {
            body: Body::Cards(vec![Card {
                title: "Konto".into(),
                subtitle: None,
            }]),
            quick_replies: vec![],
        });
        assert_eq!(
            serde_json::to_value(&generic).unwrap(),
            json!({"attachment":{"type":"template","payload":{
                "template_type":"generic","elements":[{"title":"Konto"}]}}})
        );
    }
}
