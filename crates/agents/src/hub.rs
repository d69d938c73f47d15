//! Real-time events for the console: every change to a conversation is published here and each
//! open console socket picks what concerns its bank and its person. In one process a broadcast
//! channel is enough; scaled out, this is what would move to the event bus.

use okienko_privacy::support::TranscriptLine;
use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubEvent {
    /// The bank's queue or someone's conversations changed: consoles refresh their lists.
    Changed { bank: String },
    /// A new transcript line in a conversation.
    Line {
        bank: String,
        conversation: String,
        owner: Option<String>,
        line: TranscriptLine,
    },
    /// The customer is typing.
    CustomerTyping {
        bank: String,
        conversation: String,
        owner: Option<String>,
    },
    /// The conversation ended (closed by the agent, or the customer went back to the bot).
    Ended {
        bank: String,
        conversation: String,
        owner: Option<String>,
        by_customer: bool,
    },
}

impl HubEvent {
    pub fn bank(&self) -> &str {
        match self {
            HubEvent::Changed { bank }
            | HubEvent::Line { bank, .. }
            | HubEvent::CustomerTyping { bank, .. }
            | HubEvent::Ended { bank, .. } => bank,
        }
    }
}

/// Cheap to clone; clones share the channel.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<HubEvent>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Hub {
    pub fn publish(&self, e: HubEvent) {
        // No console open: nobody to tell.
        let _ = self.tx.send(e);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<HubEvent> {
        self.tx.subscribe()
    }
}
