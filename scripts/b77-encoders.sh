#!/usr/bin/env bash
# BANKING77 with the three classifiers side by side, in one run, on one core — n-grams alone,
# n-grams + the static MiniLM table (contextual on the training sentences, then least-squares
# fitted so their static embeddings point where MiniLM's do), n-grams + full
# all-MiniLM-L6-v2 — and the scikit-learn baseline (crates/nlu/scripts/banking77_baseline.py:
# TF-IDF word 1-2 + char_wb 2-5 grams, logistic regression) on the same split and the same
# k-shot rows. Each runs in its own process so `peak_rss_mb` is that model's own peak.
# Official test split; settings were chosen on validation (every 5th train row), never on
# test.csv.
#
# Usage: scripts/b77-encoders.sh [DATA_DIR] [MODEL_DIR] [SHOTS (0 = full data)]
# Needs the encoder (scripts/fetch-encoder.sh); the single-token table is distilled into
# MODEL_DIR on first use (reported as distill_seconds, not training). The baseline needs a venv
# with scikit-learn from PyPI ($OKIENKO_BENCH_VENV, default $HOME/.cache/okienko/venv-bench;
# made when missing). Prints one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data/banking77}"
MODEL="${2:-$HOME/.cache/okienko/models/all-minilm-l6-v2}"
SHOTS="${3:-0}"
VENV="${OKIENKO_BENCH_VENV:-$HOME/.cache/okienko/venv-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okienko/target}"
cargo build --quiet --release -p okienko-nlu --features encoder --example b77_bench
BIN="$CARGO_TARGET_DIR/release/examples/b77_bench"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import sklearn" 2>/dev/null; then
    echo "making $VENV with scikit-learn ..." >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet scikit-learn
fi
# One core: candle's matrix kernels, numpy's BLAS and everything else on a single thread.
export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# The core to pin to (OKIENKO_BENCH_CPU, default 0), so two runs can go side by side.
CPU="${OKIENKO_BENCH_CPU:-0}"
ngram="$(taskset -c "$CPU" "$BIN" "$DATA" "$SHOTS")"
static="$(taskset -c "$CPU" "$BIN" "$DATA" "$SHOTS" "$MODEL" static)"
full="$(taskset -c "$CPU" "$BIN" "$DATA" "$SHOTS" "$MODEL" full)"
shots_arg=()
[[ "$SHOTS" != 0 ]] && shots_arg=(--shots "$SHOTS")
sklearn="$(taskset -c "$CPU" "$VENV/bin/python" crates/nlu/scripts/banking77_baseline.py "$DATA" "${shots_arg[@]}")"
jq -n --argjson ngram "$ngram" --argjson static "$static" --argjson full "$full" \
    --argjson sklearn "$sklearn" --arg shots "$SHOTS" \
    '{shots: ($shots | tonumber), ngram: $ngram, static_minilm: $static, full_minilm: $full,
      sklearn_baseline: $sklearn}'
