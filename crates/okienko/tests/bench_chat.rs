//! `okienko bench chat` as a real process: a sandbox bank, a gateway and the echo server as its
//! children, real WebSocket sessions that link banks through the consent page and ask balance and
//! transactions questions. Checks the JSON's shape and that both runs answered without errors;
//! never how fast (that is what the benchmark prints, not what a test asserts).

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_okienko");

fn assert_figures(v: &Value, what: &str) {
    for key in [
        "messages_per_second",
        "p50_ms",
        "p99_ms",
        "peak_rss_mb",
        "errors",
        "messages",
    ] {
        assert!(v.get(key).is_some(), "{what} has no {key}: {v}");
    }
    assert_eq!(v["errors"], 0, "{what} had errors: {v}");
    assert!(
        v["messages"].as_u64().unwrap() > 0,
        "{what} sent nothing: {v}"
    );
    assert!(
        v["messages_per_second"].as_f64().unwrap() > 0.0,
        "{what}: {v}"
    );
    assert!(v["peak_rss_mb"].as_f64().unwrap() > 0.0, "{what}: {v}");
    // Every latency is a real measurement: p99 at least p50, both positive.
    let (p50, p99) = (v["p50_ms"].as_f64().unwrap(), v["p99_ms"].as_f64().unwrap());
    assert!(p50 > 0.0 && p99 >= p50, "{what}: {v}");
}

#[test]
fn bench_chat_prints_figures_for_the_gateway_and_the_echo_baseline() {
    let out = Command::new(BIN)
        .args([
            "bench",
            "chat",
            "--sessions",
            "5",
            "--seconds",
            "2",
            "--transactions-every",
            "3",
        ])
        .env("OKIENKO_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench chat failed:\n{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    // One JSON object on stdout, progress on stderr.
    assert_eq!(stdout.trim().lines().count(), 1, "stdout: {stdout}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_figures(&v, "gateway");
    assert_figures(&v["baseline"], "baseline");
    assert_eq!(v["sessions"], 5);
    assert_eq!(v["instances"], 1);
    assert!(v["ratio_to_baseline"].as_f64().unwrap() > 0.0, "{v}");
    // Both kinds of question were asked and answered.
    assert!(v["balance_p50_ms"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["transactions_p50_ms"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["bank_peak_rss_mb"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn bench_chat_refuses_bad_options_before_starting_anything() {
    for args in [
        ["--sessions", "0"],
        ["--instances", "2"],
        ["--seconds", "0"],
    ] {
        let out = Command::new(BIN)
            .args(["bench", "chat"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(out.stdout.is_empty(), "{args:?} printed figures");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&args[0][2..]), "{args:?}: {stderr}");
    }
}
