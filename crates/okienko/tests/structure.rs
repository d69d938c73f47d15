//! The crate graph keeps the direction docs/ARCHITECTURE.md promises: conversation, channel and
//! HTTP code cannot reach the financial tables except through the privacy gate.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn workspace_deps() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo metadata failed");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut deps = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().to_owned();
        let set = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            // Only normal dependencies: tests may start a sandbox bank or open a store.
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .filter(|n| n.starts_with("okienko-"))
            .collect();
        deps.insert(name, set);
    }
    deps
}

#[test]
fn only_bank_and_privacy_reach_the_store() {
    let deps = workspace_deps();
    assert!(
        deps.len() >= 10,
        "expected the whole workspace, got {deps:?}"
    );
    for (krate, d) in &deps {
        if d.contains("okienko-store") {
            assert!(
                [
                    "okienko-bank",
                    "okienko-privacy",
                    "okienko-payments",
                    "okienko"
                ]
                .contains(&krate.as_str()),
                "{krate} depends on okienko-store directly"
            );
        }
    }
    for krate in [
        "okienko-dialog",
        "okienko-channels",
        "okienko-server",
        "okienko-agents",
    ] {
        assert!(
            !deps[krate].contains("okienko-store"),
            "{krate} must not depend on the store"
        );
    }
}

#[test]
fn dependencies_run_one_way() {
    let deps = workspace_deps();
    let only = |krate: &str, allowed: &[&str]| {
        for d in &deps[krate] {
            assert!(
                allowed.contains(&d.as_str()),
                "{krate} must not depend on {d}"
            );
        }
    };
    only("okienko-core", &[]);
    only("okienko-nlu", &["okienko-core"]);
    only("okienko-risk", &["okienko-core"]);
    only("okienko-guard", &["okienko-core"]);
    only("okienko-store", &["okienko-core"]);
    only("okienko-sandbox-bank", &["okienko-core"]);
    // The card vault is its own system: it shares core's types and nothing else.
    only("okienko-vault", &["okienko-core"]);
    // The bus carries ids and states only (never amounts or texts), so anything may announce on it.
    only("okienko-bus", &["okienko-core"]);
    only("okienko-privacy", &["okienko-core", "okienko-store"]);
    only(
        "okienko-bank",
        &["okienko-core", "okienko-store", "okienko-bus"],
    );
    only(
        "okienko-payments",
        &["okienko-core", "okienko-store", "okienko-bank"],
    );
    only("okienko-channels", &["okienko-core", "okienko-dialog"]);
    // Agents reach customers' data only through the privacy gate (support cases); the console
    // page is served by the channels' embedded-page code.
    only(
        "okienko-agents",
        &[
            "okienko-core",
            "okienko-dialog",
            "okienko-privacy",
            "okienko-channels",
            "okienko-bus",
        ],
    );
    only(
        "okienko-server",
        &[
            "okienko-core",
            "okienko-dialog",
            "okienko-channels",
            "okienko-agents",
        ],
    );
}
