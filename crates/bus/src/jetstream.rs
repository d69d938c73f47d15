//! The NATS JetStream bus: one stream per deployment prefix (`<prefix>` capturing
//! `<prefix>.>`, file storage), durable pull consumers with explicit acks, `ack_wait` and
//! `max_deliver`, and the idempotency id as `Nats-Msg-Id` (the stream's duplicate window drops a
//! second publish). Every call to the server is bounded by the configured timeout.
//!
//! `listen` is an ephemeral ordered push consumer starting after the stream's last event: the
//! client library recreates it from the last event seen when it detects a gap or a lost
//! server, so a listener misses nothing the stream still holds; its errors reach the caller as
//! error items (resync).
//!
//! Errors keep the NATS error kind only: a server's text can quote subjects.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, stream};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use crate::{
    AckHandle, BusError, BusOptions, Delivery, Event, EventBus, Listener, Published, Subscription,
    Topic, valid_id, valid_name,
};

/// How long the server may hold a pull open.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// Pause after a failed pull (server down, reconnecting) before the next one.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// The bus on NATS JetStream. Cheap to clone.
#[derive(Clone)]
pub struct JetStreamBus {
    js: jetstream::Context,
    stream: stream::Stream,
    prefix: String,
    opts: BusOptions,
}

fn failed<E: std::fmt::Debug>(op: &'static str, kind: E) -> BusError {
    BusError::Failed {
        op,
        kind: format!("{kind:?}"),
    }
}

async fn bounded<T>(
    limit: Duration,
    op: &'static str,
    f: impl Future<Output = T>,
) -> Result<T, BusError> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| BusError::Timeout(op))
}

impl JetStreamBus {
    /// Connects to `url` and creates the stream `prefix` (subjects `prefix.>`) if it is missing.
    pub async fn connect(url: &str, prefix: &str, opts: BusOptions) -> Result<Self, BusError> {
        if !valid_name(prefix, 32) {
            return Err(BusError::Invalid("stream prefix"));
        }
        let client = bounded(
            opts.timeout,
            "connect",
            async_nats::ConnectOptions::new()
                .connection_timeout(opts.timeout)
                .request_timeout(Some(opts.timeout))
                .connect(url),
        )
        .await?
        .map_err(|e| BusError::Unavailable(format!("{:?}", e.kind())))?;
        let mut js = jetstream::new(client);
        js.set_timeout(opts.timeout);
        let config = stream::Config {
            name: prefix.to_owned(),
            subjects: vec![format!("{prefix}.>")],
            storage: stream::StorageType::File,
            max_age: opts.max_age,
            max_messages: i64::try_from(opts.max_events).unwrap_or(i64::MAX),
            duplicate_window: opts.duplicate_window,
            ..Default::default()
        };
        let stream = bounded(
            opts.timeout,
            "stream setup",
            js.get_or_create_stream(config),
        )
        .await?
        .map_err(|e| failed("stream setup", e.kind()))?;
        Ok(JetStreamBus {
            js,
            stream,
            prefix: prefix.to_owned(),
            opts,
        })
    }

    fn subject(&self, topic: Topic) -> String {
        format!("{}.{}", self.prefix, topic.subject())
    }

    /// Removes the whole stream with everything on it (tests clean up their own streams).
    pub async fn delete_stream(&self) -> Result<(), BusError> {
        bounded(
            self.opts.timeout,
            "stream delete",
            self.js.delete_stream(&self.prefix),
        )
        .await?
        .map_err(|e| failed("stream delete", e.kind()))?;
        Ok(())
    }
}

impl EventBus for JetStreamBus {
    fn publish<'a>(
        &'a self,
        id: &'a str,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<Published, BusError>> {
        async move {
            if !valid_id(id) {
                return Err(BusError::Invalid("event id"));
            }
            let payload = serde_json::to_vec(event).map_err(|_| BusError::Invalid("event"))?;
            let message = jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .message_id(id);
            let ack = bounded(self.opts.timeout, "publish", async {
                let pending = self
                    .js
                    .send_publish(self.subject(event.topic()), message)
                    .await?;
                pending.await
            })
            .await?
            .map_err(|e| failed("publish", e.kind()))?;
            Ok(Published {
                sequence: ack.sequence,
                duplicate: ack.duplicate,
            })
        }
        .boxed()
    }

    fn subscribe<'a>(
        &'a self,
        name: &'a str,
        topic: Option<Topic>,
    ) -> BoxFuture<'a, Result<Subscription, BusError>> {
        async move {
            if !valid_name(name, 64) {
                return Err(BusError::Invalid("consumer name"));
            }
            let config = consumer::pull::Config {
                durable_name: Some(name.to_owned()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: self.opts.ack_wait,
                max_deliver: i64::from(self.opts.max_deliver),
                deliver_policy: consumer::DeliverPolicy::All,
                filter_subject: topic.map(|t| self.subject(t)).unwrap_or_default(),
                ..Default::default()
            };
            let consumer: consumer::PullConsumer = bounded(
                self.opts.timeout,
                "consumer setup",
                self.stream.get_or_create_consumer(name, config),
            )
            .await?
            .map_err(|e| failed("consumer setup", e.kind()))?;
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            let limit = self.opts.timeout + PULL_EXPIRES;
            let timeout = self.opts.timeout;
            let task = tokio::spawn(async move {
                loop {
                    // Pull only when the subscriber has taken the previous delivery, so an
                    // event's ack wait is not spent waiting in a buffer of ours.
                    let Ok(permit) = tx.reserve().await else {
                        return;
                    };
                    match pull_one(&consumer, limit, timeout).await {
                        Ok(Some(d)) => permit.send(d),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::debug!(error = %e, "event bus pull failed; retrying");
                            permit.send(Err(e));
                            tokio::time::sleep(RETRY_PAUSE).await;
                        }
                    }
                }
            });
            Ok(Subscription::new(rx, task))
        }
        .boxed()
    }

    fn listen<'a>(&'a self, topic: Topic) -> BoxFuture<'a, Result<Listener, BusError>> {
        async move {
            let limit = self.opts.timeout;
            let info = bounded(limit, "listen", self.stream.get_info())
                .await?
                .map_err(|e| failed("listen", e.kind()))?;
            // Events from here on. On a recreate before its first event the library starts
            // again from the stream's beginning; `start` filters those old events out.
            let start = info.state.last_sequence.saturating_add(1);
            let config = consumer::push::OrderedConfig {
                deliver_subject: self.js.client().new_inbox(),
                filter_subject: self.subject(topic),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ..Default::default()
            };
            let consumer = bounded(limit, "listen", self.stream.create_consumer(config))
                .await?
                .map_err(|e| failed("listen", e.kind()))?;
            let messages = bounded(limit, "listen", consumer.messages())
                .await?
                .map_err(|e| failed("listen", e.kind()))?;
            let events = messages.filter_map(move |m| {
                futures::future::ready(match m {
                    Ok(m) => {
                        let seq = m.info().map(|i| i.stream_sequence).unwrap_or(u64::MAX);
                        if seq < start {
                            None
                        } else {
                            match serde_json::from_slice::<Event>(&m.payload) {
                                Ok(e) => Some(Ok(e)),
                                Err(_) => {
                                    tracing::warn!("undecodable event on the bus; skipped");
                                    None
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(kind = %e.kind(), "event bus listener interrupted");
                        Some(Err(failed("listen", e.kind())))
                    }
                })
            });
            Ok(Listener::new(Box::pin(events)))
        }
        .boxed()
    }
}

/// One pull of one event, waiting at most [`PULL_EXPIRES`] for it.
async fn pull_one(
    consumer: &consumer::PullConsumer,
    limit: Duration,
    timeout: Duration,
) -> Result<Option<Result<Delivery, BusError>>, BusError> {
    bounded(limit, "pull", async {
        let mut batch = consumer
            .batch()
            .max_messages(1)
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .map_err(|e| failed("pull", e.kind()))?;
        match batch.next().await {
            None => Ok(None),
            // The item error is boxed and may quote subjects: keep only that it failed.
            Some(Err(_)) => Err(failed("pull", "message error")),
            Some(Ok(m)) => Ok(Some(delivery(m, timeout).await)),
        }
    })
    .await?
}

async fn delivery(m: jetstream::Message, limit: Duration) -> Result<Delivery, BusError> {
    let attempt = m
        .info()
        .map(|i| u64::try_from(i.delivered).unwrap_or(1))
        .unwrap_or(1);
    let id = m
        .headers
        .as_ref()
        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default();
    match serde_json::from_slice::<Event>(&m.payload) {
        Ok(event) => Ok(Delivery::new(id, event, attempt, Box::new(Acker(m, limit)))),
        Err(_) => {
            // Never redelivered: no version of this consumer will read it better next time.
            tracing::warn!("undecodable event on the bus; terminated");
            let _ = m.ack_with(AckKind::Term).await;
            Err(BusError::Decode)
        }
    }
}

struct Acker(jetstream::Message, Duration);

/// Acks wait for the server's confirmation (a double ack), within the bus's timeout.
impl AckHandle for Acker {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        async move {
            bounded(self.1, "ack", self.0.double_ack())
                .await?
                .map_err(|_| BusError::Failed {
                    op: "ack",
                    kind: "not confirmed".into(),
                })
        }
        .boxed()
    }

    fn nak(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        async move {
            bounded(self.1, "nak", self.0.ack_with(AckKind::Nak(None)))
                .await?
                .map_err(|_| BusError::Failed {
                    op: "nak",
                    kind: "not sent".into(),
                })
        }
        .boxed()
    }
}
