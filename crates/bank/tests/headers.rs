//! What the connector puts on the wire, seen by a tiny fault-injecting HTTP server on a real
//! socket: the X-Request-ID is reused across retries (idempotency key) and fresh per logical call,
//! PSU-IP-Address appears only when the customer is present, Consent-ID and the bearer token ride
//! on AIS calls, and ACCESS_EXCEEDED is never retried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use okienko_bank::{
    AccessCtx, BankConnector, ConnectorError, NextGenPsd2Connector, Presence, RetryPolicy,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// Serves canned responses in order (the last one repeats), recording each request's headers.
async fn server(responses: Vec<(u16, &'static str)>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let rec = seen.clone();
    tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            let headers: HashMap<String, String> = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                .collect();
            rec.lock().unwrap().push(headers);
            let (status, body) = responses[n.min(responses.len() - 1)];
            n += 1;
            let resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (base, seen)
}

fn connector(base: &str) -> NextGenPsd2Connector {
    NextGenPsd2Connector::new(base, "test-client", Duration::from_secs(5))
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(100),
        })
}

fn ctx(presence: Presence) -> AccessCtx {
    AccessCtx {
        bank_consent_id: "c-1".into(),
        access_token: Some("tok-secret".into()),
        presence,
    }
}

const ACCOUNTS: &str = r#"{"accounts":[{"resourceId":"r1","currency":"PLN","name":"Konto"}]}"#;

#[tokio::test]
async fn retries_reuse_the_request_id_and_carry_ais_headers() {
    let (base, seen) = server(vec![(503, "{}"), (503, "{}"), (200, ACCOUNTS)]).await;
    let c = connector(&base);
    let accounts = c
        .accounts(&ctx(Presence::CustomerPresent {
            ip: "198.51.100.4".into(),
        }))
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "two retries");
    let id = &seen[0]["x-request-id"];
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert!(
        seen.iter().all(|h| &h["x-request-id"] == id),
        "same X-Request-ID on retries"
    );
    for h in &seen {
        assert_eq!(h["consent-id"], "c-1");
        assert_eq!(h["authorization"], "Bearer tok-secret");
        assert_eq!(h["psu-ip-address"], "198.51.100.4");
    }

    // A new logical call gets a new id; unattended calls carry no PSU-IP-Address.
    let (base, seen) = server(vec![(200, ACCOUNTS)]).await;
    let c2 = connector(&base);
    c2.accounts(&ctx(Presence::Unattended)).await.unwrap();
    c2.accounts(&ctx(Presence::Unattended)).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0]["x-request-id"], seen[1]["x-request-id"]);
    assert!(seen.iter().all(|h| !h.contains_key("psu-ip-address")));
}

#[tokio::test]
async fn access_exceeded_and_consent_errors_are_not_retried() {
    let exceeded = r#"{"tppMessages":[{"category":"ERROR","code":"ACCESS_EXCEEDED"}]}"#;
    let (base, seen) = server(vec![(429, exceeded)]).await;
    let e = connector(&base)
        .accounts(&ctx(Presence::Unattended))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::AccessExceeded));
    assert_eq!(seen.lock().unwrap().len(), 1);

    let expired = r#"{"tppMessages":[{"category":"ERROR","code":"CONSENT_EXPIRED"}]}"#;
    let (base, seen) = server(vec![(401, expired)]).await;
    let e = connector(&base)
        .accounts(&ctx(Presence::Unattended))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::ConsentExpired));
    assert!(e.needs_customer_action());
    assert_eq!(seen.lock().unwrap().len(), 1);

    // A 429 that is only a rate limit is retried.
    let (base, seen) = server(vec![(429, "{}"), (200, ACCOUNTS)]).await;
    connector(&base)
        .accounts(&ctx(Presence::Unattended))
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_and_hostile_bodies_are_typed_errors() {
    for body in [
        "{\"accounts\":[{\"resourceId\":\"r1\",",
        "<html>oops</html>",
        "{\"accounts\":[{\"resourceId\":\"r1\",\"currency\":\"QQQ\"}]}",
        "{\"accounts\":[{\"currency\":\"PLN\"}]}",
        "null",
    ] {
        let (base, _) = server(vec![(200, body)]).await;
        let e = connector(&base)
            .accounts(&ctx(Presence::Unattended))
            .await
            .unwrap_err();
        assert!(
            matches!(e, ConnectorError::Malformed { status: 200 }),
            "{body}: {e}"
        );
        assert!(!e.to_string().contains("r1"));
    }
}
