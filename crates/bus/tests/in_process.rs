//! The conformance suite on the in-process bus.

mod conformance;

mod harness {
    use std::sync::Arc;

    use futures::FutureExt;
    use okienko_bus::{BusOptions, EventBus, InProcessBus};

    use crate::conformance::Harness;

    pub async fn open(opts: BusOptions) -> Harness {
        let bus = InProcessBus::new(opts);
        let again = bus.clone();
        Harness {
            bus: Arc::new(bus),
            reconnect: Box::new(move || {
                let b: Arc<dyn EventBus> = Arc::new(again.clone());
                futures::future::ready(b).boxed()
            }),
            cleanup: Box::new(|| futures::future::ready(()).boxed()),
        }
    }
}

bus_conformance!(crate::harness);

/// A listener that falls behind by more than its buffer is told so (and how much it missed),
/// then carries on with the newest events.
#[tokio::test]
async fn a_lagging_listener_gets_an_error_item_not_silence() {
    use okienko_bus::{BusError, BusOptions, Event, EventBus, InProcessBus, Topic};
    use okienko_core::CustomerId;

    let bus = InProcessBus::new(BusOptions {
        listen_buffer: 4,
        ..BusOptions::default()
    });
    let mut slow = bus.listen(Topic::ConsentChanged).await.unwrap();
    let customers: Vec<CustomerId> = (0..10).map(|_| CustomerId::new()).collect();
    for (i, c) in customers.iter().enumerate() {
        bus.publish(&format!("c{i}"), &Event::ConsentChanged { customer: *c })
            .await
            .unwrap();
    }
    match slow.next().await {
        Some(Err(BusError::Lagged(n))) => assert_eq!(n, 6),
        other => panic!("expected a lag report, got {other:?}"),
    }
    for c in &customers[6..] {
        assert_eq!(
            slow.next().await.unwrap().unwrap(),
            Event::ConsentChanged { customer: *c }
        );
    }
}
