//! `okienko bench agents` runs end to end with tiny numbers (3 conversations, 5 messages each
//! way, 2 agents) and prints its JSON figures beside the bot-only baseline. This checks that the
//! benchmark works and counts what it relayed; it does not judge the speed.

mod support;

use std::process::Command;

use serde_json::Value;
use support::BIN;

#[test]
fn bench_agents_prints_relay_and_baseline_figures() {
    let out = Command::new(BIN)
        .args([
            "bench",
            "agents",
            "--conversations",
            "3",
            "--messages",
            "5",
            "--agents",
            "2",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["conversations"], 3);
    assert_eq!(v["messages_per_conversation"], 5);
    assert_eq!(v["agents"], 2);
    // 3 conversations × 5 messages × both ways, every one of them seen at the other end.
    assert_eq!(v["relayed_messages"], 30, "{v}");
    assert!(v["relayed_per_second"].as_f64().unwrap() > 0.0, "{v}");
    // Loss is counted, and there is none.
    for k in [
        "lost_customer_to_agent",
        "lost_agent_to_customer",
        "unanswered_messages",
        "console_resyncs",
        "hub_overflows",
    ] {
        assert_eq!(v[k], 0, "{k}: {v}");
    }
    for k in ["customer_to_agent", "agent_to_customer", "round_trip"] {
        let p50 = v[format!("{k}_p50_ms")].as_f64().unwrap();
        let p99 = v[format!("{k}_p99_ms")].as_f64().unwrap();
        assert!(p50 > 0.0 && p99 >= p50, "{k}: {v}");
    }
    let base = &v["baseline_bot_only"];
    assert_eq!(base["messages"], 30, "{v}");
    assert!(base["messages_per_second"].as_f64().unwrap() > 0.0, "{v}");
    assert!(
        base["round_trip_p99_ms"].as_f64().unwrap() >= base["round_trip_p50_ms"].as_f64().unwrap()
    );

    // Bad numbers get a clear error and no figures.
    let bad = Command::new(BIN)
        .args(["bench", "agents", "--conversations", "2", "--agents", "3"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(bad.stdout.is_empty());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--agents"));
}
