#!/usr/bin/env bash
# BANKING77 with the three classifiers side by side, in one run, on one core:
# n-grams alone, n-grams + the distilled static MiniLM table, n-grams + full all-MiniLM-L6-v2.
# Each runs in its own process so `peak_rss_mb` is that model's own peak. Official test split;
# settings were chosen on validation (every 5th train row), never on test.csv.
#
# Usage: scripts/b77-encoders.sh [DATA_DIR] [MODEL_DIR] [SHOTS (0 = full data)]
# Needs the encoder (scripts/fetch-encoder.sh); the static table is distilled into MODEL_DIR on
# first use (about a minute, reported as distill_seconds). Prints one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data/banking77}"
MODEL="${2:-$HOME/.cache/okienko/models/all-minilm-l6-v2}"
SHOTS="${3:-0}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okienko/target}"
cargo build --quiet --release -p okienko-nlu --features encoder --example b77_bench
BIN="$CARGO_TARGET_DIR/release/examples/b77_bench"
# One core: candle's matrix kernels and everything else on a single thread.
export RAYON_NUM_THREADS=1
ngram="$(taskset -c 0 "$BIN" "$DATA" "$SHOTS")"
static="$(taskset -c 0 "$BIN" "$DATA" "$SHOTS" "$MODEL" static)"
full="$(taskset -c 0 "$BIN" "$DATA" "$SHOTS" "$MODEL" full)"
jq -n --argjson ngram "$ngram" --argjson static "$static" --argjson full "$full" \
    --arg shots "$SHOTS" \
    '{shots: ($shots | tonumber), ngram: $ngram, static_minilm: $static, full_minilm: $full}'
