//! The in-process bus: one process, no network. It keeps the same promises as JetStream (a
//! retained log, durable consumers with cursors, redelivery after the ack wait, dedupe by
//! idempotency id) so code written against it behaves the same when the gateway scales out.
//! Nothing survives the process: on restart a consumer starts from an empty log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use crate::{
    AckHandle, BusError, BusOptions, Delivery, Event, EventBus, Listener, Published, Subscription,
    Topic, valid_id, valid_name,
};

/// The default bus. Cheap to clone; clones share the log and the consumers.
#[derive(Clone)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

struct Inner {
    opts: BusOptions,
    state: Mutex<State>,
    /// Woken on every publish and nak.
    changed: Notify,
    /// Every new event, for the listeners (fan-out; a slow listener sees `Lagged`).
    fanout: broadcast::Sender<Event>,
}

struct Stored {
    id: String,
    event: Event,
    at: Instant,
}

#[derive(Default)]
struct State {
    /// Retained events; `log[0]` has sequence `first_seq`.
    log: VecDeque<Stored>,
    first_seq: u64,
    /// Idempotency id → its sequence, for the duplicate window, with the expiry order.
    ids: HashMap<String, u64>,
    id_order: VecDeque<(Instant, String)>,
    consumers: HashMap<String, Consumer>,
}

struct Consumer {
    topic: Option<Topic>,
    /// The next sequence this consumer has not looked at.
    cursor: u64,
    /// Delivered, not yet acknowledged: sequence → (redelivery due, deliveries so far).
    pending: BTreeMap<u64, (Instant, u32)>,
}

impl State {
    fn next_seq(&self) -> u64 {
        self.first_seq + self.log.len() as u64
    }

    fn prune(&mut self, opts: &BusOptions, now: Instant) {
        while let Some(front) = self.log.front() {
            let too_many = self.log.len() as u64 > opts.max_events;
            let too_old = now.saturating_duration_since(front.at) > opts.max_age;
            if !(too_many || too_old) {
                break;
            }
            self.log.pop_front();
            self.first_seq += 1;
        }
        while let Some((at, _)) = self.id_order.front() {
            if now.saturating_duration_since(*at) <= opts.duplicate_window {
                break;
            }
            if let Some((_, id)) = self.id_order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }
}

/// What the subscription task should do next.
enum Next {
    Deliver(Delivery),
    /// Nothing now; wake at this instant (a redelivery falls due) or on a change.
    Wait(Option<Instant>),
}

impl InProcessBus {
    pub fn new(opts: BusOptions) -> Self {
        let opts_buffer = opts.listen_buffer.max(1);
        InProcessBus {
            inner: Arc::new(Inner {
                opts,
                state: Mutex::new(State {
                    first_seq: 1,
                    ..State::default()
                }),
                changed: Notify::new(),
                fanout: broadcast::channel(opts_buffer).0,
            }),
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn next_for(self: &Arc<Self>, name: &str) -> Next {
        let now = Instant::now();
        let mut st = self.lock();
        let first_seq = st.first_seq;
        let next_seq = st.next_seq();
        let State { log, consumers, .. } = &mut *st;
        let Some(c) = consumers.get_mut(name) else {
            return Next::Wait(None);
        };
        // Redeliveries first, oldest event first; events that aged out or ran out of attempts
        // are dropped.
        let due: Vec<u64> = c
            .pending
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(s, _)| *s)
            .collect();
        for seq in due {
            let Some((_, attempts)) = c.pending.get(&seq).copied() else {
                continue;
            };
            let stored = seq.checked_sub(first_seq).and_then(|i| log.get(i as usize));
            match stored {
                Some(s) if attempts < self.opts.max_deliver => {
                    c.pending
                        .insert(seq, (now + self.opts.ack_wait, attempts + 1));
                    return Next::Deliver(self.delivery(name, seq, s, attempts + 1));
                }
                Some(_) => {
                    tracing::warn!(consumer = name, seq, "event given up after max deliveries");
                    c.pending.remove(&seq);
                }
                None => {
                    c.pending.remove(&seq);
                }
            }
        }
        c.cursor = c.cursor.max(first_seq);
        while c.cursor < next_seq {
            let seq = c.cursor;
            c.cursor += 1;
            let Some(s) = seq.checked_sub(first_seq).and_then(|i| log.get(i as usize)) else {
                continue;
            };
            if c.topic.is_none_or(|t| t == s.event.topic()) {
                c.pending.insert(seq, (now + self.opts.ack_wait, 1));
                return Next::Deliver(self.delivery(name, seq, s, 1));
            }
        }
        Next::Wait(c.pending.values().map(|(at, _)| *at).min())
    }

    fn delivery(self: &Arc<Self>, name: &str, seq: u64, s: &Stored, attempt: u32) -> Delivery {
        Delivery::new(
            s.id.clone(),
            s.event.clone(),
            u64::from(attempt),
            Box::new(Acker {
                inner: self.clone(),
                consumer: name.to_owned(),
                seq,
            }),
        )
    }
}

struct Acker {
    inner: Arc<Inner>,
    consumer: String,
    seq: u64,
}

impl AckHandle for Acker {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        if let Some(c) = self.inner.lock().consumers.get_mut(&self.consumer) {
            c.pending.remove(&self.seq);
        }
        futures::future::ready(Ok(())).boxed()
    }

    fn nak(self: Box<Self>) -> BoxFuture<'static, Result<(), BusError>> {
        if let Some(c) = self.inner.lock().consumers.get_mut(&self.consumer)
            && let Some(p) = c.pending.get_mut(&self.seq)
        {
            p.0 = Instant::now();
        }
        self.inner.changed.notify_waiters();
        futures::future::ready(Ok(())).boxed()
    }
}

impl EventBus for InProcessBus {
    fn publish<'a>(
        &'a self,
        id: &'a str,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<Published, BusError>> {
        let result = (|| {
            if !valid_id(id) {
                return Err(BusError::Invalid("event id"));
            }
            let now = Instant::now();
            let mut st = self.inner.lock();
            st.prune(&self.inner.opts, now);
            if let Some(seq) = st.ids.get(id) {
                return Ok(Published {
                    sequence: *seq,
                    duplicate: true,
                });
            }
            let seq = st.next_seq();
            st.log.push_back(Stored {
                id: id.to_owned(),
                event: event.clone(),
                at: now,
            });
            st.ids.insert(id.to_owned(), seq);
            st.id_order.push_back((now, id.to_owned()));
            st.prune(&self.inner.opts, now);
            // Under the lock, so listeners see events in log order. No listener is fine.
            let _ = self.inner.fanout.send(event.clone());
            Ok(Published {
                sequence: seq,
                duplicate: false,
            })
        })();
        if result.is_ok() {
            self.inner.changed.notify_waiters();
        }
        futures::future::ready(result).boxed()
    }

    fn subscribe<'a>(
        &'a self,
        consumer: &'a str,
        topic: Option<Topic>,
    ) -> BoxFuture<'a, Result<Subscription, BusError>> {
        if !valid_name(consumer, 64) {
            return futures::future::ready(Err(BusError::Invalid("consumer name"))).boxed();
        }
        {
            let mut st = self.inner.lock();
            let first = st.first_seq;
            st.consumers
                .entry(consumer.to_owned())
                .or_insert_with(|| Consumer {
                    topic,
                    cursor: first,
                    pending: BTreeMap::new(),
                });
        }
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let inner = self.inner.clone();
        let name = consumer.to_owned();
        let task = tokio::spawn(async move {
            loop {
                // Take an event only when the subscriber has room for it, so its ack wait
                // starts when it is handed over, not while it waits in the channel.
                let Ok(permit) = tx.reserve().await else {
                    return;
                };
                loop {
                    let changed = inner.changed.notified();
                    tokio::pin!(changed);
                    changed.as_mut().enable();
                    let until = match inner.next_for(&name) {
                        Next::Deliver(d) => {
                            permit.send(Ok(d));
                            break;
                        }
                        Next::Wait(until) => until,
                    };
                    let due = async {
                        match until {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = changed => {}
                        _ = due => {}
                        _ = tx.closed() => return,
                    }
                }
            }
        });
        futures::future::ready(Ok(Subscription::new(rx, task))).boxed()
    }

    fn listen<'a>(&'a self, topic: Topic) -> BoxFuture<'a, Result<Listener, BusError>> {
        // Subscribed here, at the call, so nothing published after it is missed.
        let rx = self.inner.fanout.subscribe();
        let events = futures::stream::unfold(rx, move |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(e) if e.topic() == topic => return Some((Ok(e), rx)),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        return Some((Err(BusError::Lagged(n)), rx));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        futures::future::ready(Ok(Listener::new(Box::pin(events)))).boxed()
    }
}
