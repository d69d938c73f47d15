//! The benchmark entry point runs on a throwaway store and reports every figure it promises.

#[tokio::test]
async fn bench_gate_reports_gate_direct_and_decision_figures() {
    let n: usize = std::env::var("OKIENKO_GATE_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let v = okienko_privacy::bench::bench_gate(n).await;
    eprintln!("{}", serde_json::to_string_pretty(&v).unwrap());
    assert!(v.get("error").is_none(), "{v}");
    let sqlite = &v["sqlite"];
    for read in ["balances", "transactions"] {
        for side in ["direct_us", "gate_us", "added_us"] {
            for q in ["p50", "p99"] {
                assert!(sqlite[read][side][q].is_number(), "{read}.{side}.{q}: {v}");
            }
        }
        assert!(sqlite[read]["direct_us"]["p50"].as_f64().unwrap() > 0.0);
    }
    for part in [
        "gate_overhead_us",
        "reply_with_audit_barrier_us",
        "gated_waiting_for_own_row_us",
    ] {
        assert!(sqlite[part]["p99"].as_f64().unwrap() > 0.0, "{part}: {v}");
    }
    for part in [
        "consent_lookup_cached",
        "consent_lookup_query",
        "consent_lookup_before_cache",
        "audit_one_row_own_transaction",
        "audit_row_queued",
    ] {
        assert!(
            sqlite["breakdown_us"][part]["p50"].is_number(),
            "{part}: {v}"
        );
    }
    assert!(
        sqlite["concurrent"]["gated"]["reads_per_second"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    for q in ["p50", "p99"] {
        assert!(v["decision_only_us"]["allow"][q].as_f64().unwrap() > 0.0);
    }
    assert!(v["sqlite_meets_target"].is_boolean());
    // Every gate read in the run (warm-up included) left one audit row, in one intact chain.
    assert!(sqlite["audit_rows_written"].as_u64().unwrap() >= 2 * n as u64);
    assert_eq!(sqlite["audit_chain_intact"], true, "{v}");
}
