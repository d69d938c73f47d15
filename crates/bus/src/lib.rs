//! okienko's event bus: typed events between the parts of one gateway, or between several gateway
//! instances, behind one trait ([`EventBus`]) with two implementations: [`InProcessBus`] (the
//! default, one process) and [`JetStreamBus`] (NATS JetStream, when scaled out).
//!
//! Semantics, identical in both (the conformance suite in `tests/` proves it):
//! - `publish` takes an idempotency id; a second publish with the same id within the duplicate
//!   window is accepted but stored once (JetStream's `Nats-Msg-Id`).
//! - `subscribe` names a durable consumer. A new consumer starts at the oldest event the bus still
//!   retains; an existing one resumes where it left off, across reconnects. Several subscriptions
//!   under one name share the work (each event goes to one of them).
//! - Every delivery carries an ack handle. A delivery not acknowledged within the ack wait is
//!   delivered again, up to `max_deliver` times in all. Consumers must therefore be idempotent.
//!   On JetStream a server crash (SIGKILL) may also forget the last acknowledgements before it
//!   (the server persists consumer state lazily): those events come again. A publish the server
//!   acknowledged is never lost (tests/nats_restart.rs).
//! - `listen` is a fan-out subscription: every event on the topic published after `listen`
//!   returns reaches every listener, on every instance. Not durable, no acks: a listener that
//!   falls behind (or loses the server for a while) gets an error item — [`BusError::Lagged`] or
//!   a transient error — and should then resync from the store; it never silently misses events
//!   without such an item. Use it for "something changed, reload it" signals (cache
//!   invalidation, relays to live connections), and `subscribe` for work that must be done once.
//!
//! **Privacy:** the bus sits outside the privacy gate (on NATS it crosses the network and is
//! stored on the NATS server's disk), so events carry ids and states only, never amounts,
//! balances, IBANs, names or message texts. Whoever needs the content reads it through the gate
//! by id. Keep it that way when adding events: [`Event`] has no free-text field on purpose.

mod jetstream;
mod memory;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use okienko_core::{ConsentId, CustomerId, TransactionId};
use serde::{Deserialize, Serialize};

pub use jetstream::JetStreamBus;
pub use memory::InProcessBus;

/// What flows on the bus. Ids and closed states only (see the crate docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A sync stored new transactions or booked pending ones.
    NewTransactions {
        customer: CustomerId,
        consent: ConsentId,
        added: Vec<TransactionId>,
        booked: Vec<TransactionId>,
        first_sync: bool,
    },
    /// A fraud or bank warning is due for a customer; the warning's content is in the store.
    Warning {
        customer: CustomerId,
        /// The fraud case or warning record id.
        warning: String,
    },
    /// A message in a support conversation (customer ↔ agent); the text is in the store.
    AgentMessage {
        conversation: String,
        message: String,
    },
    /// A payment changed state (`executed`, `rejected`, ...: the payments crate's state names).
    PaymentStatus {
        customer: CustomerId,
        payment: String,
        state: String,
    },
    /// A reply was handed to a channel for a customer (the channel's name and its message id).
    ChannelDelivery {
        customer: CustomerId,
        channel: String,
        message: String,
    },
    /// A customer's consents changed (granted, revoked, expired, refreshed): every instance drops
    /// what it caches about them and reads the store again.
    ConsentChanged { customer: CustomerId },
}

/// The kinds of [`Event`], one subject each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    NewTransactions,
    Warning,
    AgentMessage,
    PaymentStatus,
    ChannelDelivery,
    ConsentChanged,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::NewTransactions,
        Topic::Warning,
        Topic::AgentMessage,
        Topic::PaymentStatus,
        Topic::ChannelDelivery,
        Topic::ConsentChanged,
    ];

    /// The subject under the deployment prefix (`<prefix>.<subject>`).
    pub fn subject(self) -> &'static str {
        match self {
            Topic::NewTransactions => "tx.new",
            Topic::Warning => "warning",
            Topic::AgentMessage => "agent.message",
            Topic::PaymentStatus => "payment.status",
            Topic::ChannelDelivery => "channel.delivery",
            Topic::ConsentChanged => "consent.changed",
        }
    }
}

impl Event {
    pub fn topic(&self) -> Topic {
        match self {
            Event::NewTransactions { .. } => Topic::NewTransactions,
            Event::Warning { .. } => Topic::Warning,
            Event::AgentMessage { .. } => Topic::AgentMessage,
            Event::PaymentStatus { .. } => Topic::PaymentStatus,
            Event::ChannelDelivery { .. } => Topic::ChannelDelivery,
            Event::ConsentChanged { .. } => Topic::ConsentChanged,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The caller passed something the bus refuses; names the field.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The bus could not be reached (connect, or the server is down).
    #[error("cannot reach the event bus: {0}")]
    Unavailable(String),
    /// A call did not finish in time; names the operation.
    #[error("event bus {0} timed out")]
    Timeout(&'static str),
    /// The server refused or failed an operation; names the operation and the error kind.
    #[error("event bus {op} failed: {kind}")]
    Failed { op: &'static str, kind: String },
    /// A stored event cannot be decoded (written by a newer or foreign producer).
    #[error("undecodable event on the bus")]
    Decode,
    /// The bus was shut down.
    #[error("event bus closed")]
    Closed,
    /// A listener fell behind and this many events (0: an unknown number) passed it by; the
    /// caller should resync from the store.
    #[error("event bus listener missed {0} events")]
    Lagged(u64),
}

/// What `publish` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The event's position on the bus (the stream sequence on JetStream).
    pub sequence: u64,
    /// True when an event with the same id was already on the bus; nothing new was stored.
    pub duplicate: bool,
}

/// Settles one delivery. Implemented by each bus.
pub trait AckHandle: Send {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>>;
    /// Asks for redelivery now instead of after the ack wait.
    fn nak(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>>;
}

/// One delivery of one event to one consumer.
pub struct Delivery {
    /// The publisher's idempotency id.
    pub id: String,
    pub event: Event,
    /// 1 for the first delivery, 2 for the first redelivery, ...
    pub attempt: u64,
    acker: Box<dyn AckHandle>,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("id", &self.id)
            .field("topic", &self.event.topic())
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    pub(crate) fn new(id: String, event: Event, attempt: u64, acker: Box<dyn AckHandle>) -> Self {
        Delivery {
            id,
            event,
            attempt,
            acker,
        }
    }

    /// Acknowledges: the event is done for this consumer and is never delivered to it again.
    pub async fn ack(self) -> Result<(), BusError> {
        self.acker.ack().await
    }

    /// Gives the event back for redelivery right away.
    pub async fn nak(self) -> Result<(), BusError> {
        self.acker.nak().await
    }
}

/// A live subscription of one durable consumer. Dropping it stops receiving; unacknowledged
/// deliveries are then redelivered (to this consumer's next subscription) after the ack wait.
pub struct Subscription {
    rx: tokio::sync::mpsc::Receiver<Result<Delivery, BusError>>,
    _task: AbortOnDrop,
}

impl Subscription {
    pub(crate) fn new(
        rx: tokio::sync::mpsc::Receiver<Result<Delivery, BusError>>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Subscription {
            rx,
            _task: AbortOnDrop(task),
        }
    }

    /// The next delivery; `None` when the bus has shut down. Errors are transient (the
    /// subscription keeps trying) unless the bus is closed.
    pub async fn next(&mut self) -> Option<Result<Delivery, BusError>> {
        self.rx.recv().await
    }
}

/// A live fan-out subscription to one topic (see [`EventBus::listen`]). Dropping it stops it.
pub struct Listener {
    inner: futures::stream::BoxStream<'static, Result<Event, BusError>>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    pub(crate) fn new(inner: futures::stream::BoxStream<'static, Result<Event, BusError>>) -> Self {
        Listener { inner }
    }

    /// The next event; `None` when the bus has shut down. An error item says events may have
    /// been missed ([`BusError::Lagged`], or the server was unreachable for a while): resync from
    /// the store, then keep calling `next` (the listener carries on).
    pub async fn next(&mut self) -> Option<Result<Event, BusError>> {
        futures::StreamExt::next(&mut self.inner).await
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The bus. Object safe: the gateway holds an `Arc<dyn EventBus>`.
pub trait EventBus: Send + Sync {
    /// Publishes `event` under the idempotency id `id` (1–128 printable ASCII characters, no
    /// spaces). Returns once the bus has stored it (on JetStream: the server's publish ack).
    fn publish<'a>(
        &'a self,
        id: &'a str,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<Published, BusError>>;

    /// Subscribes as the durable consumer `consumer` (1–64 of `[A-Za-z0-9_-]`) to `topic`, or to
    /// every topic with `None`. A consumer keeps the filter it was created with.
    fn subscribe<'a>(
        &'a self,
        consumer: &'a str,
        topic: Option<Topic>,
    ) -> BoxFuture<'a, Result<Subscription, BusError>>;

    /// Listens to `topic` on every instance: each event published after the returned future
    /// resolves reaches this listener (and every other one). Not durable, no acks; a listener
    /// that falls behind gets an error item instead of silently missing events.
    fn listen<'a>(&'a self, topic: Topic) -> BoxFuture<'a, Result<Listener, BusError>>;
}

/// Tuning shared by both buses.
#[derive(Debug, Clone)]
pub struct BusOptions {
    /// How long a delivery may stay unacknowledged before it is delivered again.
    pub ack_wait: Duration,
    /// Deliveries of one event to one consumer, in all.
    pub max_deliver: u32,
    /// How long an idempotency id is remembered.
    pub duplicate_window: Duration,
    /// How long events are kept (JetStream `max_age`; the in-process bus also caps the count).
    pub max_age: Duration,
    /// Events kept at most.
    pub max_events: u64,
    /// The limit on every network call (JetStream).
    pub timeout: Duration,
    /// Events a listener may fall behind by before it gets [`BusError::Lagged`] (in-process).
    pub listen_buffer: usize,
}

impl Default for BusOptions {
    fn default() -> Self {
        BusOptions {
            ack_wait: Duration::from_secs(30),
            max_deliver: 10,
            duplicate_window: Duration::from_secs(120),
            max_age: Duration::from_secs(24 * 3600),
            max_events: 1_000_000,
            timeout: Duration::from_secs(5),
            listen_buffer: 4096,
        }
    }
}

/// `[bus]` in the gateway's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusSettings {
    /// "in-process" (default) or "nats".
    pub kind: String,
    /// The NATS server, for `kind = "nats"`.
    pub url: String,
    /// The deployment prefix: the JetStream stream's name and its subjects' first token.
    pub stream: String,
    pub ack_wait_secs: u64,
    pub max_deliver: u32,
    pub timeout_secs: u64,
}

impl Default for BusSettings {
    fn default() -> Self {
        BusSettings {
            kind: "in-process".into(),
            url: "nats://127.0.0.1:4222".into(),
            stream: "okienko".into(),
            ack_wait_secs: 30,
            max_deliver: 10,
            timeout_secs: 5,
        }
    }
}

impl BusSettings {
    pub fn validate(&self) -> Result<(), BusError> {
        if !matches!(self.kind.as_str(), "in-process" | "nats") {
            return Err(BusError::Invalid("bus.kind (\"in-process\" or \"nats\")"));
        }
        if !valid_name(&self.stream, 32) {
            return Err(BusError::Invalid("bus.stream (1-32 of A-Z a-z 0-9 _ -)"));
        }
        if !(1..=3600).contains(&self.ack_wait_secs) {
            return Err(BusError::Invalid("bus.ack_wait_secs (1-3600)"));
        }
        if !(1..=1000).contains(&self.max_deliver) {
            return Err(BusError::Invalid("bus.max_deliver (1-1000)"));
        }
        if !(1..=120).contains(&self.timeout_secs) {
            return Err(BusError::Invalid("bus.timeout_secs (1-120)"));
        }
        Ok(())
    }

    pub fn options(&self) -> BusOptions {
        BusOptions {
            ack_wait: Duration::from_secs(self.ack_wait_secs),
            max_deliver: self.max_deliver,
            timeout: Duration::from_secs(self.timeout_secs),
            ..BusOptions::default()
        }
    }

    /// The configured bus.
    pub async fn connect(&self) -> Result<Arc<dyn EventBus>, BusError> {
        self.validate()?;
        Ok(match self.kind.as_str() {
            "nats" => {
                Arc::new(JetStreamBus::connect(&self.url, &self.stream, self.options()).await?)
            }
            _ => Arc::new(InProcessBus::new(self.options())),
        })
    }
}

/// Stream and consumer names: NATS refuses `.`, `*`, `>` and whitespace; we keep to a plain set.
pub(crate) fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(crate) fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert!(BusSettings::default().validate().is_ok());
        let bad = BusSettings {
            kind: "kafka".into(),
            ..BusSettings::default()
        };
        assert!(matches!(bad.validate(), Err(BusError::Invalid(_))));
        let bad = BusSettings {
            stream: "a.b".into(),
            ..BusSettings::default()
        };
        assert!(matches!(bad.validate(), Err(BusError::Invalid(_))));
    }

    #[test]
    fn events_round_trip_as_tagged_json() {
        let e = Event::PaymentStatus {
            customer: CustomerId::new(),
            payment: "p-1".into(),
            state: "executed".into(),
        };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains("\"type\":\"payment_status\""));
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e);
        assert!(!valid_id("has space"));
        assert!(valid_id("pay-1:executed"));
    }
}
