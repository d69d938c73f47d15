//! Real-time events for the console: every change to a conversation is published here and each
//! open console socket receives what concerns its bank and its person. Scaled out, every event
//! published here is also relayed to the other gateway instances through the event bus
//! (`crate::relay`), which deliver it to their own consoles.
//!
//! Each console has its own subscription, filtered when the event is published: a conversation's
//! lines, typing and ending go only to the consoles of the person who holds it, and "the queue
//! changed" is one coalesced flag per console (a console that falls behind refreshes once, not once
//! per change). A relayed line is never dropped silently: if a console's buffer fills up (its
//! socket stalled), that console is told it lost events ([`Received::Lost`]) so it can reload what
//! it shows, and [`Hub::overflows`] counts it. (A single broadcast channel shared by every console
//! made a slow console skip everyone's lines once 1024 events were in flight.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use okienko_privacy::support::TranscriptLine;
use serde::Serialize;
use tokio::sync::{Notify, mpsc};

/// Events buffered per console before it counts as fallen behind.
const BUFFER: usize = 1024;

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
    /// A new transcript line written on another gateway instance: only its number travels
    /// between instances, so the console reads the line itself (through the gate, as the agent).
    RemoteLine {
        bank: String,
        conversation: String,
        owner: Option<String>,
        seq: i64,
    },
}

impl HubEvent {
    pub fn bank(&self) -> &str {
        match self {
            HubEvent::Changed { bank }
            | HubEvent::Line { bank, .. }
            | HubEvent::CustomerTyping { bank, .. }
            | HubEvent::Ended { bank, .. }
            | HubEvent::RemoteLine { bank, .. } => bank,
        }
    }

    /// Who holds the conversation the event is about; `None` for queue changes and for
    /// conversations nobody holds.
    fn owner(&self) -> Option<&str> {
        match self {
            HubEvent::Changed { .. } => None,
            HubEvent::Line { owner, .. }
            | HubEvent::CustomerTyping { owner, .. }
            | HubEvent::Ended { owner, .. }
            | HubEvent::RemoteLine { owner, .. } => owner.as_deref(),
        }
    }
}

/// One console's interest: its bank, and (for a person) whose conversations.
struct Slot {
    id: u64,
    bank: String,
    /// `None`: every conversation of the bank.
    staff: Option<String>,
    tx: mpsc::Sender<HubEvent>,
    changed: Arc<Notify>,
}

impl Slot {
    fn wants(&self, e: &HubEvent) -> bool {
        e.bank() == self.bank
            && match &self.staff {
                None => true,
                Some(me) => e.owner() == Some(me.as_str()),
            }
    }
}

#[derive(Default)]
struct Shared {
    slots: Mutex<Vec<Slot>>,
    next_id: AtomicU64,
    overflows: AtomicU64,
    typing_dropped: AtomicU64,
    /// Where events published here also go (the relay to other instances), once set.
    outgoing: OnceLock<mpsc::UnboundedSender<HubEvent>>,
}

/// Cheap to clone; clones share the subscribers.
#[derive(Clone, Default)]
pub struct Hub {
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    /// Publishes an event of this instance: to its consoles, and to the relay when one is set.
    pub fn publish(&self, e: HubEvent) {
        if let Some(out) = self.shared.outgoing.get() {
            // The relay went away (shutdown): local consoles still get the event.
            let _ = out.send(e.clone());
        }
        self.deliver(e);
    }

    /// Everything published here from now on also comes out of the returned receiver (for the
    /// relay to other instances); `None` if a relay was already taken.
    pub fn relay_out(&self) -> Option<mpsc::UnboundedReceiver<HubEvent>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared.outgoing.set(tx).ok()?;
        Some(rx)
    }

    /// Delivers an event to this instance's consoles only (events relayed from elsewhere).
    pub fn deliver(&self, e: HubEvent) {
        let mut slots = lock(&self.shared.slots);
        if let HubEvent::Changed { bank } = &e {
            for s in slots.iter().filter(|s| &s.bank == bank) {
                // A stored permit: many changes before the console looks are one refresh.
                s.changed.notify_one();
            }
            return;
        }
        slots.retain(|s| {
            if !s.wants(&e) {
                return true;
            }
            match s.tx.try_send(e.clone()) {
                Ok(()) => true,
                // A typing notice is stale a second later: not worth a reload.
                Err(mpsc::error::TrySendError::Full(HubEvent::CustomerTyping { .. })) => {
                    self.shared.typing_dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // Dropping the sender ends the subscription after what it already holds:
                    // the console learns it lost events and reloads.
                    self.shared.overflows.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        subscriber = s.id,
                        "a console fell behind its event buffer; it will reload"
                    );
                    false
                }
                // The console went away.
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Events for a console of `bank`: those about `staff`'s conversations (every conversation
    /// of the bank when `None`), and queue changes.
    pub fn subscribe(&self, bank: &str, staff: Option<&str>) -> Subscription {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(BUFFER);
        let changed = Arc::new(Notify::new());
        lock(&self.shared.slots).push(Slot {
            id,
            bank: bank.to_owned(),
            staff: staff.map(str::to_owned),
            tx,
            changed: changed.clone(),
        });
        Subscription {
            hub: self.clone(),
            id,
            bank: bank.to_owned(),
            staff: staff.map(str::to_owned),
            rx,
            changed,
        }
    }

    /// How many times a console fell behind and had to reload (since start).
    pub fn overflows(&self) -> u64 {
        self.shared.overflows.load(Ordering::Relaxed)
    }

    /// Typing notices not delivered because a console's buffer was full (since start).
    pub fn typing_dropped(&self) -> u64 {
        self.shared.typing_dropped.load(Ordering::Relaxed)
    }

    /// Open subscriptions (consoles).
    pub fn subscribers(&self) -> usize {
        lock(&self.shared.slots).len()
    }

    fn unsubscribe(&self, id: u64) {
        lock(&self.shared.slots).retain(|s| s.id != id);
    }
}

/// What a subscription yields.
#[derive(Debug)]
pub enum Received {
    /// An event about one of this console's conversations.
    Event(HubEvent),
    /// The bank's queue or conversations changed (one notice for any number of changes).
    Changed,
    /// This console fell behind and events were lost; it is subscribed again from now on and
    /// must reload what it shows.
    Lost,
}

/// One console's events; unsubscribes when dropped.
pub struct Subscription {
    hub: Hub,
    id: u64,
    bank: String,
    staff: Option<String>,
    rx: mpsc::Receiver<HubEvent>,
    changed: Arc<Notify>,
}

impl Subscription {
    /// The next event. Lines come before a pending queue refresh.
    pub async fn recv(&mut self) -> Received {
        tokio::select! {
            biased;
            e = self.rx.recv() => match e {
                Some(e) => Received::Event(e),
                None => {
                    let fresh = self.hub.subscribe(&self.bank, self.staff.as_deref());
                    // Replacing `self` drops the old subscription (already removed by the hub).
                    *self = fresh;
                    Received::Lost
                }
            },
            _ = self.changed.notified() => Received::Changed,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_privacy::support::Sender;

    fn line(bank: &str, owner: Option<&str>, seq: i64) -> HubEvent {
        HubEvent::Line {
            bank: bank.into(),
            conversation: "c1".into(),
            owner: owner.map(str::to_owned),
            line: TranscriptLine {
                seq,
                sender: Sender::Customer,
                text: format!("line {seq}"),
                note: false,
                at: chrono::Utc::now(),
            },
        }
    }

    fn seq(r: Received) -> i64 {
        match r {
            Received::Event(HubEvent::Line { line, .. }) => line.seq,
            other => panic!("expected a line, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn lines_go_only_to_the_holder_of_the_bank() {
        let hub = Hub::default();
        let mut ola = hub.subscribe("b1", Some("ola"));
        let mut jan = hub.subscribe("b1", Some("jan"));
        let mut other_bank = hub.subscribe("b2", Some("ola"));
        let mut all = hub.subscribe("b1", None);
        hub.publish(line("b1", Some("ola"), 1));
        assert_eq!(seq(ola.recv().await), 1);
        assert_eq!(seq(all.recv().await), 1);
        assert!(quiet(&mut jan).await);
        assert!(quiet(&mut other_bank).await);
    }

    async fn quiet(s: &mut Subscription) -> bool {
        tokio::time::timeout(std::time::Duration::from_millis(50), s.recv())
            .await
            .is_err()
    }

    #[tokio::test]
    async fn queue_changes_coalesce_into_one_refresh() {
        let hub = Hub::default();
        let mut s = hub.subscribe("b1", Some("ola"));
        for _ in 0..5000 {
            hub.publish(HubEvent::Changed { bank: "b1".into() });
        }
        hub.publish(line("b1", Some("ola"), 7));
        // The line first, then one refresh for all 5000 changes, then nothing.
        assert_eq!(seq(s.recv().await), 7);
        assert!(matches!(s.recv().await, Received::Changed));
        assert!(quiet(&mut s).await);
        assert_eq!(hub.overflows(), 0);
    }

    #[tokio::test]
    async fn a_console_that_falls_behind_is_told_and_keeps_every_line_it_had() {
        let hub = Hub::default();
        let mut slow = hub.subscribe("b1", Some("ola"));
        let total = BUFFER as i64 + 10;
        for n in 1..=total {
            hub.publish(line("b1", Some("ola"), n));
        }
        assert_eq!(hub.overflows(), 1);
        for n in 1..=BUFFER as i64 {
            assert_eq!(seq(slow.recv().await), n);
        }
        assert!(matches!(slow.recv().await, Received::Lost));
        // Subscribed again: new lines arrive.
        hub.publish(line("b1", Some("ola"), total + 1));
        assert_eq!(seq(slow.recv().await), total + 1);
        assert_eq!(hub.subscribers(), 1);
        drop(slow);
        assert_eq!(hub.subscribers(), 0);
    }

    #[tokio::test]
    async fn typing_to_a_full_buffer_is_counted_not_a_reload() {
        let hub = Hub::default();
        let mut s = hub.subscribe("b1", Some("ola"));
        for n in 1..=BUFFER as i64 {
            hub.publish(line("b1", Some("ola"), n));
        }
        hub.publish(HubEvent::CustomerTyping {
            bank: "b1".into(),
            conversation: "c1".into(),
            owner: Some("ola".into()),
        });
        assert_eq!(hub.typing_dropped(), 1);
        assert_eq!(hub.overflows(), 0);
        assert_eq!(seq(s.recv().await), 1);
    }
}
