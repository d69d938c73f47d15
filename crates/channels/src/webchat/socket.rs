//! One browser connection on `/ws`: reads client frames, checks them, runs `hello`, queues
//! events for the session's worker, and writes whatever the session has for this socket.
//!
//! Bad input is answered with an error frame on this socket only, and the connection stays
//! open; nothing unchecked ever reaches the conversation. Frame contents are never logged.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use okienko_core::Lang;
use okienko_dialog::InboundEvent;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::Inner;
use super::protocol::{ClientFrame, ErrorCode, error_frame, parse_client_frame};
use super::rate::TokenBucket;
use super::session::{EnqueueError, Job, Session};

/// Keeps idle connections alive through proxies.
const PING_EVERY: Duration = Duration::from_secs(30);

struct Connection {
    chat: Arc<Inner>,
    id: u64,
    /// Limits frames before `hello`; after it, the session's own bucket counts.
    pre_hello: TokenBucket,
    session: Option<Arc<Session>>,
}

pub(crate) async fn serve(mut socket: WebSocket, chat: Arc<Inner>) {
    let now = Instant::now();
    let mut conn = Connection {
        id: chat.next_conn_id(),
        pre_hello: TokenBucket::new(chat.config.rate_burst, chat.config.rate_per_second, now),
        chat,
        session: None,
    };
    let mut outbound: Option<mpsc::Receiver<Arc<str>>> = None;
    let mut ping = tokio::time::interval_at(now + PING_EVERY, PING_EVERY);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tracing::debug!(conn = conn.id, "web chat socket opened");

    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let msg = match incoming {
                    Some(Ok(m)) => m,
                    // Includes frames above the hard size limit: the socket layer gives up on them.
                    Some(Err(_)) | None => break,
                };
                let reply = match msg {
                    Message::Text(text) => conn.on_text(text.as_str(), &mut outbound).await,
                    Message::Binary(_) => conn.rate_checked(ErrorCode::BinaryNotSupported),
                    Message::Ping(_) | Message::Pong(_) => None,
                    Message::Close(_) => break,
                };
                if let Some(frame) = reply
                    && socket.send(Message::Text(frame.as_ref().into())).await.is_err()
                {
                    break;
                }
            }
            frame = next_outbound(&mut outbound) => {
                match frame {
                    Some(f) => {
                        if socket.send(Message::Text(f.as_ref().into())).await.is_err() {
                            break;
                        }
                    }
                    // The session dropped this socket (it fell behind): close, let it resume.
                    None => {
                        let _ = socket.send(Message::Close(None)).await;
                        break;
                    }
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }

    if let Some(s) = &conn.session {
        s.close_socket(conn.id, Instant::now());
        s.touch_shared();
    }
    tracing::debug!(conn = conn.id, "web chat socket closed");
}

/// The next frame for this socket, or `None` once the session let go of it; never resolves
/// before `hello` (there is nothing to send yet).
async fn next_outbound(rx: &mut Option<mpsc::Receiver<Arc<str>>>) -> Option<Arc<str>> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Connection {
    fn lang(&self) -> Lang {
        self.session
            .as_ref()
            .map_or(self.chat.config.default_lang, |s| s.lang())
    }

    fn error(&self, code: ErrorCode) -> Option<Arc<str>> {
        Some(error_frame(code, self.lang()))
    }

    fn allow(&mut self, now: Instant) -> bool {
        match &self.session {
            Some(s) => s.allow_frame(now),
            None => self.pre_hello.try_take(now),
        }
    }

    /// Answers a frame that is refused anyway, unless the sender is over its rate limit.
    fn rate_checked(&mut self, code: ErrorCode) -> Option<Arc<str>> {
        if self.allow(Instant::now()) {
            self.error(code)
        } else {
            self.error(ErrorCode::RateLimited)
        }
    }

    /// Handles one text frame; returns the frame to send back on this socket, if any.
    async fn on_text(
        &mut self,
        raw: &str,
        outbound: &mut Option<mpsc::Receiver<Arc<str>>>,
    ) -> Option<Arc<str>> {
        let now = Instant::now();
        if !self.allow(now) {
            return self.error(ErrorCode::RateLimited);
        }
        let frame = match parse_client_frame(raw, self.chat.config.max_message_bytes) {
            Ok(f) => f,
            Err(code) => return self.error(code),
        };
        let event = match frame {
            ClientFrame::Hello {
                session,
                lang,
                last_seen,
            } => return self.on_hello(session, lang, last_seen, outbound, now).await,
            ClientFrame::Message(text) => InboundEvent::Text(text),
            ClientFrame::QuickReply(payload) => InboundEvent::QuickReply(payload),
            ClientFrame::Typing => return self.on_typing(),
        };
        let Some(session) = &self.session else {
            return self.error(ErrorCode::HelloRequired);
        };
        let job = Job {
            event,
            lang: session.lang(),
        };
        match session.enqueue(job) {
            Ok(()) => None,
            Err(EnqueueError::Full) => self.error(ErrorCode::Busy),
            Err(EnqueueError::Closed) => self.error(ErrorCode::Internal),
        }
    }

    /// The customer is typing: tell the conversation (a bank agent may be holding it) without
    /// waiting for it, and outside the session's event queue, which keeps order for messages.
    fn on_typing(&self) -> Option<Arc<str>> {
        let Some(session) = &self.session else {
            return self.error(ErrorCode::HelloRequired);
        };
        if let Some(conversation) = self.chat.conversation.get().cloned() {
            let customer = session.customer();
            tokio::spawn(async move { conversation.customer_typing(customer).await });
        }
        None
    }

    async fn on_hello(
        &mut self,
        token: Option<String>,
        lang: Option<Lang>,
        last_seen: Option<u64>,
        outbound: &mut Option<mpsc::Receiver<Arc<str>>>,
        now: Instant,
    ) -> Option<Arc<str>> {
        if self.session.is_some() {
            return self.error(ErrorCode::DuplicateHello);
        }
        let chat = self.chat.clone();
        let config = &chat.config;
        // Refusals answer in the language the browser just asked for.
        let refusal_lang = lang.unwrap_or(config.default_lang);
        let conversation = chat.conversation.get().cloned();
        let resumed = match (&chat.shared, token.as_deref()) {
            (Some(store), Some(t)) => {
                match chat
                    .registry
                    .resume_shared(store, t, lang, config, conversation.clone(), now)
                    .await
                {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "web chat could not resume a shared session");
                        return Some(error_frame(ErrorCode::Unavailable, refusal_lang));
                    }
                }
            }
            (None, Some(t)) => chat.registry.resume(t, config.session_ttl, now),
            (_, None) => None,
        };
        let (session, is_resume) = match resumed {
            Some(s) => {
                if let Some(l) = lang {
                    s.set_lang(l);
                }
                (s, true)
            }
            None => {
                let Some(conversation) = conversation else {
                    tracing::error!("web chat got a hello before a conversation was attached");
                    return Some(error_frame(ErrorCode::Unavailable, refusal_lang));
                };
                let created = match &chat.shared {
                    Some(store) => {
                        chat.registry
                            .create_shared(store, config, refusal_lang, conversation, now)
                            .await
                    }
                    None => chat
                        .registry
                        .create(config, refusal_lang, conversation, now),
                };
                match created {
                    Ok(s) => (s, false),
                    Err(e) => {
                        tracing::warn!(error = %e, "web chat refused a new session");
                        return Some(error_frame(ErrorCode::Unavailable, refusal_lang));
                    }
                }
            }
        };
        // A new session starts at seq 1, whatever the browser remembers from an old one.
        let last_seen = if is_resume { last_seen } else { None };
        *outbound = Some(if session.is_shared() {
            session
                .open_socket_shared(self.id, last_seen, is_resume, now)
                .await
        } else {
            session.open_socket(self.id, last_seen, is_resume, now)
        });
        tracing::debug!(
            conn = self.id,
            customer = %session.customer(),
            resumed = is_resume,
            "web chat session attached"
        );
        self.session = Some(session);
        None
    }
}
