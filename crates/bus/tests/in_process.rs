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
