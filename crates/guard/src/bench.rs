//! The link-check benchmark: share of a scam-domain list flagged (with the list loaded, and — the honest
//! number — without it, i.e. lookalike heuristics alone), share of a legitimate-domain list wrongly flagged,
//! and checks per second. Prints progress to stderr only; returns the JSON for the caller to print.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::guard::{Guard, GuardConfig};
use crate::known_bad::read_list;
use crate::verdict::{ReasonCode, VerdictKind};

#[derive(Default)]
struct Tally {
    n: usize,
    scam: usize,
    suspicious: usize,
    elapsed: Duration,
    by_reason: BTreeMap<&'static str, usize>,
    flagged_examples: Vec<String>,
}

impl Tally {
    fn flagged(&self) -> usize {
        self.scam + self.suspicious
    }
    fn share(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            round4(self.flagged() as f64 / self.n as f64)
        }
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn run(guard: &Guard, domains: &[String], keep_examples: usize) -> Tally {
    let mut t = Tally::default();
    let start = Instant::now();
    for d in domains {
        let v = guard.check(d);
        t.n += 1;
        match v.verdict {
            VerdictKind::Scam => t.scam += 1,
            VerdictKind::Suspicious => t.suspicious += 1,
            VerdictKind::Safe => continue,
        }
        if t.flagged_examples.len() < keep_examples {
            t.flagged_examples.push(d.clone());
        }
        for r in v.reasons.iter().filter(|r| r.weight > 0.0) {
            *t.by_reason.entry(r.code.as_str()).or_default() += 1;
        }
    }
    t.elapsed = start.elapsed();
    t
}

fn sorted(set: std::collections::HashSet<String>) -> Vec<String> {
    let mut v: Vec<String> = set.into_iter().collect();
    v.sort();
    v
}

/// Runs the link-check benchmark. `bad_list` is a CERT-format scam list, `legit_list` a list of legitimate
/// domains in the same format. Errors come back as `{"error": "..."}`.
pub fn bench_links(bad_list: &Path, legit_list: &Path) -> Value {
    match bench_inner(bad_list, legit_list) {
        Ok(v) => v,
        Err(e) => json!({ "error": e }),
    }
}

fn bench_inner(bad_list: &Path, legit_list: &Path) -> Result<Value, String> {
    let bad = sorted(
        read_list(bad_list).map_err(|e| format!("cannot read {}: {e}", bad_list.display()))?,
    );
    let legit = sorted(
        read_list(legit_list).map_err(|e| format!("cannot read {}: {e}", legit_list.display()))?,
    );
    eprintln!(
        "guard bench: {} scam domains, {} legitimate domains",
        bad.len(),
        legit.len()
    );

    let heuristic = Guard::new(GuardConfig::default()).map_err(|e| e.to_string())?;
    let listed = Guard::new(GuardConfig {
        known_bad_files: vec![bad_list.to_path_buf()],
        refresh_every: Duration::MAX,
        ..GuardConfig::default()
    })
    .map_err(|e| e.to_string())?;

    eprintln!("guard bench: scam list, heuristics only (list not loaded)");
    let scam_heur = run(&heuristic, &bad, 0);
    eprintln!("guard bench: scam list, list loaded");
    let scam_listed = run(&listed, &bad, 0);
    eprintln!("guard bench: legitimate list");
    let legit_listed = run(&listed, &legit, 50);
    let legit_heur = run(&heuristic, &legit, 50);

    let not_allowed: Vec<String> = legit
        .iter()
        .filter(|d| !heuristic.is_allowlisted(d))
        .cloned()
        .collect();
    let legit_na = run(&heuristic, &not_allowed, 50);
    let legit_on_bad_list = legit
        .iter()
        .filter(|d| bad.binary_search(d).is_ok())
        .count();

    let checks = scam_heur.n + legit_heur.n;
    let secs = (scam_heur.elapsed + legit_heur.elapsed)
        .as_secs_f64()
        .max(1e-9);
    let cps = (checks as f64 / secs).round();

    Ok(json!({
        "scam_flagged_share": scam_listed.share(),
        "scam_flagged_share_without_list": scam_heur.share(),
        "legit_flagged_share": legit_listed.share(),
        "n_scam": bad.len(),
        "n_legit": legit.len(),
        "checks_per_second": cps,
        "scam_without_list": {
            "scam": scam_heur.scam,
            "suspicious": scam_heur.suspicious,
            "by_reason": scam_heur.by_reason,
        },
        "legit_without_list_flagged_share": legit_heur.share(),
        "legit_not_allowlisted": {
            "n": legit_na.n,
            "flagged_share": legit_na.share(),
            "flagged": legit_na.flagged_examples,
        },
        "legit_flagged": legit_listed.flagged_examples,
        "legit_on_bad_list": legit_on_bad_list,
        "verdict_flagged_means": "scam or suspicious",
        "code_of_list_hit": ReasonCode::KnownBadDomain.as_str(),
    }))
}
