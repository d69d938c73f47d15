//! The per-session conversation worker: takes a session's events one at a time, in the order
//! they arrived from any of its tabs, and turns the conversation's answers into kept replies.
//!
//! It holds the session weakly so that a forgotten session ends its worker (the queue's sender
//! lives in the session). A panicking conversation costs that one event, not the session.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};

use futures::FutureExt as _;
use okienko_dialog::{ChannelInfo, Conversation};
use tokio::sync::mpsc;

use super::protocol::{ErrorCode, error_frame, typing_frame};
use super::session::{Job, Session};

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
        s.broadcast(&typing);
        let customer = s.customer();
        let handled = AssertUnwindSafe(conversation.handle(
            customer,
            ChannelInfo::WEB_CHAT,
            Some(job.lang),
            job.event,
        ))
        .catch_unwind()
        .await;
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
