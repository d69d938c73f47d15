//! A NATS server restart loses nothing the server acknowledged on publish: our own nats-server
//! (`/usr/sbin/nats-server`, or `OKIENKO_NATS_SERVER`) on a free port with a store directory,
//! killed with SIGKILL mid-stream and restarted on the same directory.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use okienko_bus::{BusOptions, Event, EventBus, JetStreamBus};
use okienko_core::CustomerId;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn start_server(port: u16, dir: &std::path::Path) -> Child {
    let bin =
        std::env::var("OKIENKO_NATS_SERVER").unwrap_or_else(|_| "/usr/sbin/nats-server".into());
    Command::new(bin)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server is required for this test")
}

async fn wait_listening(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nats-server did not listen on {port}");
}

#[tokio::test]
async fn a_server_restart_loses_no_acknowledged_publish() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let mut server = start_server(port, dir.path());
    wait_listening(port).await;
    let opts = BusOptions {
        ack_wait: Duration::from_secs(2),
        ..BusOptions::default()
    };
    let bus = JetStreamBus::connect(&url, "restart", opts.clone())
        .await
        .expect("connect");
    let customer = CustomerId::new();
    let n = 200u32;
    for i in 0..n {
        let e = Event::PaymentStatus {
            customer,
            payment: format!("pay-{i}"),
            state: "executed".into(),
        };
        let p = bus.publish(&format!("ev-{i}"), &e).await.expect("publish");
        assert!(!p.duplicate);
    }
    // Consume and acknowledge a few before the crash: they must not come back.
    let mut sub = bus.subscribe("after-crash", None).await.expect("subscribe");
    for i in 0..5 {
        let d = next_ok(&mut sub).await;
        assert_eq!(d.id, format!("ev-{i}"));
        d.ack().await.expect("ack");
    }
    drop(sub);
    drop(bus);

    // SIGKILL: no shutdown, no flush.
    server.kill().expect("kill");
    server.wait().expect("reap");
    let mut server = start_server(port, dir.path());
    wait_listening(port).await;

    let bus = JetStreamBus::connect(&url, "restart", opts)
        .await
        .expect("reconnect");
    let mut sub = bus.subscribe("after-crash", None).await.expect("subscribe");
    // Every event not yet acknowledged arrives. Consumer acks are persisted lazily by the
    // server, so acks from just before a SIGKILL may be forgotten and those events come again
    // (at-least-once: consumers are idempotent); published events are never lost.
    let mut seen = std::collections::BTreeSet::new();
    let mut again = 0;
    while seen.len() < (n - 5) as usize {
        let d = next_ok(&mut sub).await;
        let i: u32 = d.id.trim_start_matches("ev-").parse().expect("id");
        assert!(i < n, "unknown event {}", d.id);
        if i < 5 {
            again += 1;
        } else {
            seen.insert(i);
        }
        d.ack().await.expect("ack");
    }
    assert_eq!(seen.len(), (n - 5) as usize);
    assert!(again <= 5);
    eprintln!("acknowledged events delivered again after the crash: {again}");
    // A publish retried after the restart is still recognised as a duplicate.
    let again = bus
        .publish(
            "ev-7",
            &Event::PaymentStatus {
                customer,
                payment: "pay-7".into(),
                state: "executed".into(),
            },
        )
        .await
        .expect("publish");
    assert!(again.duplicate, "dedupe survives the restart");
    server.kill().expect("kill");
    server.wait().expect("reap");
}

async fn next_ok(sub: &mut okienko_bus::Subscription) -> okienko_bus::Delivery {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Some(Ok(d))) => return d,
            Ok(Some(Err(_))) => continue,
            Ok(None) => panic!("subscription ended"),
            Err(_) => panic!("no delivery within 20 s"),
        }
    }
}
