//! The per-session conversation worker: takes a session's events one at a time, in the order
//! they arrived from any of its tabs, and turns the conversation's answers into kept replies.
//!
//! It holds the session weakly so that a forgotten session ends its worker (the queue's sender
//! lives in the session). A panicking conversation costs that one event, not the session.
//!
//! The typing indicator goes out only when an answer takes longer than [`TYPING_AFTER`]: most
//! answers come sooner, and an indicator shown and hidden at once only flickers (and costs a
//! frame per message on every open tab).

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::FutureExt as _;
use okienko_dialog::{ChannelInfo, Conversation};
use tokio::sync::mpsc;

use super::protocol::{ErrorCode, error_frame, typing_frame};
use super::session::{Job, Session};

/// How long an answer may take before the open tabs show that one is being written.
pub(crate) const TYPING_AFTER: Duration = Duration::from_millis(150);

pub(crate) async fn run(
    session: Weak<Session>,
    mut jobs: mpsc::Receiver<Job>,
    conversation: Arc<dyn Conversation>,
) {
    let typing = typing_frame();
    while let Some(job) = jobs.recv().await {
        let Some(s) = session.upgrade() else {
            break;
        };
        let customer = s.customer();
        let handling = AssertUnwindSafe(conversation.handle(
            customer,
            ChannelInfo::WEB_CHAT,
            Some(job.lang),
            job.event,
        ))
        .catch_unwind();
        tokio::pin!(handling);
        let handled = tokio::select! {
            biased;
            out = &mut handling => out,
            () = tokio::time::sleep(TYPING_AFTER) => {
                s.broadcast(&typing);
                handling.await
            }
        };
        match handled {
            Ok(replies) => {
                for reply in &replies {
                    s.deliver_reply(reply).await;
                }
            }
            Err(_) => {
                tracing::error!(%customer, "conversation panicked while handling a web chat event");
                s.broadcast(&error_frame(ErrorCode::Internal, s.lang()));
            }
        }
    }
}
