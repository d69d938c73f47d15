//! One conformance suite for every bus. `bus_conformance!(harness)` instantiates it for a harness
//! module that provides `async fn open(opts: BusOptions) -> Harness`. Each test gets its own bus
//! (on NATS: its own stream), so tests never see each other's events.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use okienko_bus::{BusOptions, Delivery, Event, EventBus, Listener, Subscription};
use okienko_core::{ConsentId, CustomerId, TransactionId};

pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// A bus under test: `bus` is the first client; `reconnect` opens another client on the same
/// bus (the in-process bus has no client, so it hands back the same bus).
pub struct Harness {
    pub bus: Arc<dyn EventBus>,
    pub reconnect: Box<dyn Fn() -> futures::future::BoxFuture<'static, Arc<dyn EventBus>> + Send>,
    pub cleanup: Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send>,
}

/// A stream name no other test (or earlier run) uses.
pub fn unique_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "t{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

/// Short ack wait so redelivery tests finish quickly.
pub fn quick() -> BusOptions {
    BusOptions {
        ack_wait: Duration::from_secs(1),
        max_deliver: 5,
        timeout: Duration::from_secs(5),
        ..BusOptions::default()
    }
}

pub fn payment(customer: CustomerId, n: u32) -> Event {
    Event::PaymentStatus {
        customer,
        payment: format!("pay-{n}"),
        state: "executed".into(),
    }
}

pub fn new_tx(customer: CustomerId) -> Event {
    Event::NewTransactions {
        customer,
        consent: ConsentId::new(),
        added: vec![TransactionId::new(), TransactionId::new()],
        booked: vec![],
        first_sync: false,
    }
}

/// The next delivery, within 10 s.
pub async fn next(sub: &mut Subscription) -> Delivery {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Some(Ok(d))) => return d,
            // A transient pull error (e.g. while a server restarts): keep waiting.
            Ok(Some(Err(_))) => continue,
            Ok(None) => panic!("subscription ended"),
            Err(_) => panic!("no delivery within 10 s"),
        }
    }
}

/// Asserts that nothing is delivered for `wait`.
pub async fn nothing(sub: &mut Subscription, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Some(Ok(d))) => panic!("unexpected delivery {d:?}"),
            Ok(Some(Err(_))) => continue,
            Ok(None) => panic!("subscription ended"),
            Err(_) => return,
        }
    }
}

/// The next event a listener hears, within 10 s (error items are returned too).
pub async fn heard(l: &mut Listener) -> Result<Event, okienko_bus::BusError> {
    match tokio::time::timeout(Duration::from_secs(10), l.next()).await {
        Ok(Some(r)) => r,
        Ok(None) => panic!("listener ended"),
        Err(_) => panic!("nothing heard within 10 s"),
    }
}

/// Asserts that a listener hears nothing for `wait`.
pub async fn silent(l: &mut Listener, wait: Duration) {
    if let Ok(r) = tokio::time::timeout(wait, l.next()).await {
        panic!("unexpected {r:?}");
    }
}

#[macro_export]
macro_rules! bus_conformance {
    ($harness:path) => {
        use std::time::Duration;

        use okienko_bus::{BusError, Event, Topic};
        use okienko_core::CustomerId;
        use $crate::conformance::{heard, new_tx, next, nothing, payment, quick, silent};
        use $harness as bus_harness;

        #[tokio::test]
        async fn publishes_and_consumes_in_order_with_topic_filters() {
            let h = bus_harness::open(quick()).await;
            let c = CustomerId::new();
            let events = [payment(c, 1), new_tx(c), payment(c, 2)];
            for (i, e) in events.iter().enumerate() {
                let p = h.bus.publish(&format!("ev-{i}"), e).await.unwrap();
                assert!(!p.duplicate);
            }
            let mut all = h.bus.subscribe("all", None).await.unwrap();
            for (i, e) in events.iter().enumerate() {
                let d = next(&mut all).await;
                assert_eq!(d.id, format!("ev-{i}"));
                assert_eq!(&d.event, e);
                assert_eq!(d.attempt, 1);
                d.ack().await.unwrap();
            }
            let mut pays = h
                .bus
                .subscribe("pays", Some(Topic::PaymentStatus))
                .await
                .unwrap();
            for id in ["ev-0", "ev-2"] {
                let d = next(&mut pays).await;
                assert_eq!(d.id, id);
                assert!(matches!(d.event, Event::PaymentStatus { .. }));
                d.ack().await.unwrap();
            }
            nothing(&mut pays, Duration::from_millis(1500)).await;
            // Published after the subscription started: delivered live.
            h.bus.publish("ev-3", &payment(c, 3)).await.unwrap();
            assert_eq!(next(&mut pays).await.id, "ev-3");
            (h.cleanup)().await;
        }

        #[tokio::test]
        async fn an_acknowledged_event_is_not_delivered_again() {
            let h = bus_harness::open(quick()).await;
            h.bus
                .publish("once", &payment(CustomerId::new(), 1))
                .await
                .unwrap();
            let mut sub = h.bus.subscribe("acker", None).await.unwrap();
            next(&mut sub).await.ack().await.unwrap();
            // Well past the 1 s ack wait.
            nothing(&mut sub, Duration::from_secs(3)).await;
            (h.cleanup)().await;
        }

        #[tokio::test]
        async fn an_unacknowledged_event_is_redelivered_after_the_ack_wait() {
            let h = bus_harness::open(quick()).await;
            let e = payment(CustomerId::new(), 7);
            h.bus.publish("late", &e).await.unwrap();
            let mut sub = h.bus.subscribe("forgetful", None).await.unwrap();
            let first = next(&mut sub).await;
            assert_eq!(first.attempt, 1);
            let at = tokio::time::Instant::now();
            drop(first);
            let again = next(&mut sub).await;
            assert!(
                at.elapsed() >= Duration::from_millis(700),
                "redelivered before the ack wait"
            );
            assert_eq!(again.id, "late");
            assert_eq!(again.event, e);
            // JetStream counts a delivery lost in flight (e.g. at a pull's expiry) as an attempt.
            assert!(again.attempt >= 2, "attempt {}", again.attempt);
            again.ack().await.unwrap();
            nothing(&mut sub, Duration::from_secs(3)).await;
            (h.cleanup)().await;
        }

        #[tokio::test]
        async fn a_nak_redelivers_and_max_deliver_gives_up() {
            let mut opts = quick();
            opts.max_deliver = 2;
            let h = bus_harness::open(opts).await;
            h.bus
                .publish("hot", &payment(CustomerId::new(), 1))
                .await
                .unwrap();
            let mut sub = h.bus.subscribe("naker", None).await.unwrap();
            let d = next(&mut sub).await;
            d.nak().await.unwrap();
            let d = next(&mut sub).await;
            assert_eq!((d.id.as_str(), d.attempt), ("hot", 2));
            drop(d);
            // Two deliveries were the most allowed.
            nothing(&mut sub, Duration::from_secs(3)).await;
            (h.cleanup)().await;
        }

        #[tokio::test]
        async fn a_durable_consumer_resumes_after_reconnect() {
            let h = bus_harness::open(quick()).await;
            let c = CustomerId::new();
            h.bus.publish("a", &payment(c, 1)).await.unwrap();
            h.bus.publish("b", &payment(c, 2)).await.unwrap();
            {
                let mut sub = h.bus.subscribe("durable", None).await.unwrap();
                next(&mut sub).await.ack().await.unwrap();
                // "b" is delivered and never acknowledged: the client goes away first.
                assert_eq!(next(&mut sub).await.id, "b");
            }
            let other = (h.reconnect)().await;
            other.publish("c", &payment(c, 3)).await.unwrap();
            let mut sub = other.subscribe("durable", None).await.unwrap();
            let mut got = Vec::new();
            for _ in 0..2 {
                let d = next(&mut sub).await;
                got.push(d.id.clone());
                d.ack().await.unwrap();
            }
            got.sort();
            assert_eq!(got, ["b", "c"], "acknowledged 'a' must not come back");
            nothing(&mut sub, Duration::from_secs(2)).await;
            (h.cleanup)().await;
        }

        #[tokio::test]
        async fn a_duplicate_publish_is_delivered_once() {
            let h = bus_harness::open(quick()).await;
            let e = payment(CustomerId::new(), 1);
            let first = h.bus.publish("same-id", &e).await.unwrap();
            let second = h.bus.publish("same-id", &e).await.unwrap();
            assert!(!first.duplicate);
            assert!(second.duplicate);
            assert_eq!(first.sequence, second.sequence);
            let other = (h.reconnect)().await;
            assert!(other.publish("same-id", &e).await.unwrap().duplicate);
            let mut sub = h.bus.subscribe("dedupe", None).await.unwrap();
            next(&mut sub).await.ack().await.unwrap();
            nothing(&mut sub, Duration::from_millis(1500)).await;
            (h.cleanup)().await;
        }

        #[tokio::test]
        async fn subscriptions_under_one_name_share_the_work() {
            let h = bus_harness::open(quick()).await;
            let c = CustomerId::new();
            let mut one = h.bus.subscribe("shared", None).await.unwrap();
            let mut two = (h.reconnect)()
                .await
                .subscribe("shared", None)
                .await
                .unwrap();
            for i in 0..6 {
                h.bus
                    .publish(&format!("w{i}"), &payment(c, i))
                    .await
                    .unwrap();
            }
            let mut seen = std::collections::BTreeSet::new();
            while seen.len() < 6 {
                let d = tokio::select! {
                    d = next(&mut one) => d,
                    d = next(&mut two) => d,
                };
                assert!(seen.insert(d.id.clone()), "{} delivered twice", d.id);
                d.ack().await.unwrap();
            }
            nothing(&mut one, Duration::from_millis(1200)).await;
            nothing(&mut two, Duration::from_millis(200)).await;
            (h.cleanup)().await;
        }

        #[tokio::test]
        async fn bad_ids_and_names_are_refused() {
            let h = bus_harness::open(quick()).await;
            let e = payment(CustomerId::new(), 1);
            assert!(matches!(
                h.bus.publish("", &e).await,
                Err(BusError::Invalid(_))
            ));
            assert!(matches!(
                h.bus.publish("a b", &e).await,
                Err(BusError::Invalid(_))
            ));
            assert!(matches!(
                h.bus.subscribe("a.b", None).await,
                Err(BusError::Invalid(_))
            ));
            // Nothing was published.
            let mut sub = h.bus.subscribe("after", None).await.unwrap();
            nothing(&mut sub, Duration::from_millis(1200)).await;
            (h.cleanup)().await;
        }

        #[tokio::test]
        async fn every_listener_on_every_client_hears_new_events_of_its_topic() {
            let h = bus_harness::open(quick()).await;
            let c = CustomerId::new();
            // Published before anyone listens: nobody hears it.
            h.bus.publish("old", &payment(c, 0)).await.unwrap();
            let other = (h.reconnect)().await;
            let mut here = h.bus.listen(Topic::PaymentStatus).await.unwrap();
            let mut there = other.listen(Topic::PaymentStatus).await.unwrap();
            let mut consents = other.listen(Topic::ConsentChanged).await.unwrap();
            // A durable consumer of the same topic does not take events from listeners.
            let mut worker = h
                .bus
                .subscribe("worker", Some(Topic::PaymentStatus))
                .await
                .unwrap();
            next(&mut worker).await.ack().await.unwrap();
            h.bus.publish("p1", &new_tx(c)).await.unwrap();
            other.publish("p2", &payment(c, 2)).await.unwrap();
            h.bus.publish("p3", &payment(c, 3)).await.unwrap();
            // A duplicate is stored once and heard once.
            h.bus.publish("p3", &payment(c, 3)).await.unwrap();
            let changed = Event::ConsentChanged { customer: c };
            h.bus.publish("c1", &changed).await.unwrap();
            for l in [&mut here, &mut there] {
                assert_eq!(heard(l).await.unwrap(), payment(c, 2));
                assert_eq!(heard(l).await.unwrap(), payment(c, 3));
            }
            assert_eq!(heard(&mut consents).await.unwrap(), changed);
            assert_eq!(next(&mut worker).await.id, "p2");
            silent(&mut here, Duration::from_millis(1200)).await;
            silent(&mut there, Duration::from_millis(200)).await;
            silent(&mut consents, Duration::from_millis(200)).await;
            // A dropped listener does not hold anything up.
            drop(here);
            other.publish("p4", &payment(c, 4)).await.unwrap();
            assert_eq!(heard(&mut there).await.unwrap(), payment(c, 4));
            (h.cleanup)().await;
        }
    };
}
