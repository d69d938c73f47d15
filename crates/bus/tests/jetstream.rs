//! The conformance suite on NATS JetStream (`OKIENKO_TEST_NATS_URL`, default
//! nats://127.0.0.1:4222), one fresh stream per test, deleted at its end. An unreachable server
//! FAILS the tests: there is no silent skip.

mod conformance;

mod harness {
    use std::sync::Arc;

    use futures::FutureExt;
    use okienko_bus::{BusOptions, EventBus, JetStreamBus};

    use crate::conformance::{DEFAULT_NATS_URL, Harness, unique_name};

    pub fn url() -> String {
        std::env::var("OKIENKO_TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_NATS_URL.to_owned())
    }

    pub async fn open(opts: BusOptions) -> Harness {
        let stream = unique_name();
        let bus = JetStreamBus::connect(&url(), &stream, opts.clone())
            .await
            .unwrap_or_else(|e| panic!("NATS JetStream at {} is required: {e}", url()));
        let keep = bus.clone();
        Harness {
            bus: Arc::new(bus),
            reconnect: Box::new(move || {
                let (stream, opts) = (stream.clone(), opts.clone());
                async move {
                    let b: Arc<dyn EventBus> = Arc::new(
                        JetStreamBus::connect(&url(), &stream, opts)
                            .await
                            .expect("reconnect"),
                    );
                    b
                }
                .boxed()
            }),
            cleanup: Box::new(move || {
                async move {
                    keep.delete_stream()
                        .await
                        .expect("deleting the test stream");
                }
                .boxed()
            }),
        }
    }
}

bus_conformance!(crate::harness);
