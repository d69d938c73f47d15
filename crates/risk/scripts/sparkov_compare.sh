#!/usr/bin/env bash
# The Sparkov fraud benchmark and its scikit-learn baseline in one run, on the same file and the
# same split (train before TEST_FROM, default 1 October; score the rest), printed side by side.
# okienko's figures come from the same library call as `okienko guard bench --transactions`
# (built here as the okienko-risk example, so the whole gateway need not be built); set
# OKIENKO_BIN to an okienko binary to run the CLI itself. The baseline is sparkov_baseline.py
# (HistGradientBoosting on the same per-customer features, computed with pandas).
#
# Usage: crates/risk/scripts/sparkov_compare.sh FILE.csv.gz [TEST_FROM]
# Needs: python3 (a venv with scikit-learn and pandas is made in $HOME/.cache/okienko/venv-bench
# when missing). One JSON object on stdout; progress on stderr. Takes minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
DATA="${1:?usage: sparkov_compare.sh FILE.csv.gz [TEST_FROM]}"
TEST_FROM="${2:-}"
VENV="${OKIENKO_BENCH_VENV:-$HOME/.cache/okienko/venv-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okienko/target}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import sklearn, pandas" 2>/dev/null; then
    echo "making $VENV with scikit-learn and pandas ..." >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet scikit-learn pandas
fi

from_arg=()
[[ -n "$TEST_FROM" ]] && from_arg=("$TEST_FROM")
if [[ -n "${OKIENKO_BIN:-}" ]]; then
    echo "okienko guard bench ($OKIENKO_BIN) ..." >&2
    cli_from=()
    [[ -n "$TEST_FROM" ]] && cli_from=(--test-from "$TEST_FROM")
    "$OKIENKO_BIN" guard bench --transactions "$DATA" "${cli_from[@]}" > "$OUT/okienko.json"
else
    echo "building the okienko-risk bench (release) ..." >&2
    cargo build --quiet --release -p okienko-risk --example bench_sparkov --manifest-path "$ROOT/Cargo.toml"
    echo "okienko bench ..." >&2
    "$CARGO_TARGET_DIR/release/examples/bench_sparkov" "$DATA" "${from_arg[@]}" > "$OUT/okienko.json"
fi
echo "scikit-learn baseline ..." >&2
"$VENV/bin/python" "$ROOT/crates/risk/scripts/sparkov_baseline.py" "$DATA" "${from_arg[@]}" > "$OUT/sklearn.json"

python3 - "$OUT/okienko.json" "$OUT/sklearn.json" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))
base = json.load(open(sys.argv[2]))
keys = [k for k in base if not k.startswith("_") and k in ours]
print(json.dumps({
    "side_by_side": {k: {"okienko": ours[k], "scikit_learn": base[k]} for k in keys},
    # Issue 5's targets for this benchmark.
    "targets": {"auprc": 0.93, "recall_at_01pct_fpr": 0.85, "episode_recall_at_01pct_fpr": 0.95,
                "false_alerts_per_customer_month_at_01pct_fpr_max": 0.1,
                "score_tx_per_second": 200000, "p99_us_max": 100},
    "okienko": ours,
    "scikit_learn": base,
}, indent=2))
PY
