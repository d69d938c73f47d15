#!/usr/bin/env bash
# BANKING77 side by side on the same split and the same k-shot rows: okienko's n-gram model,
# okienko's n-gram + sentence-encoder model, and the scikit-learn baseline
# (banking77_baseline.py: TF-IDF word 1-2 + char_wb 2-5 grams, logistic regression C=20).
#
# Usage: crates/nlu/scripts/banking77_compare.sh DATA_DIR [SHOTS]
# Needs: python3 (a venv with scikit-learn is made in $HOME/.cache/okienko/venv-bench when
# missing) and, for the encoder row, scripts/fetch-encoder.sh's model directory
# (ENCODER_DIR, default $HOME/.cache/okienko/models/all-minilm-l6-v2). Builds the okienko binary
# in release with `--features encoder`. JSON lines on stdout, one per model; progress on stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
DATA="${1:?usage: banking77_compare.sh DATA_DIR [SHOTS]}"
SHOTS="${2:-}"
ENCODER_DIR="${ENCODER_DIR:-$HOME/.cache/okienko/models/all-minilm-l6-v2}"
VENV="${OKIENKO_BENCH_VENV:-$HOME/.cache/okienko/venv-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okienko/target}"

shots_arg=()
[[ -n "$SHOTS" ]] && shots_arg=(--shots "$SHOTS")

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import sklearn" 2>/dev/null; then
    echo "making $VENV with scikit-learn ..." >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet scikit-learn
fi
[[ -f "$ENCODER_DIR/model.safetensors" ]] || "$ROOT/scripts/fetch-encoder.sh" "$ENCODER_DIR"

echo "building okienko (release, --features encoder) ..." >&2
cargo build --quiet --release -p okienko --features encoder --manifest-path "$ROOT/Cargo.toml"
BIN="$CARGO_TARGET_DIR/release/okienko"

label() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["run"]=sys.argv[1]; print(json.dumps(d))' "$1"; }

echo "okienko n-gram model ..." >&2
"$BIN" nlu bench --banking77 "$DATA" "${shots_arg[@]}" | label "okienko ngram"
echo "okienko n-gram + encoder ..." >&2
"$BIN" nlu bench --banking77 "$DATA" "${shots_arg[@]}" --encoder "$ENCODER_DIR" | label "okienko ngram+minilm"
echo "scikit-learn baseline ..." >&2
"$VENV/bin/python" "$ROOT/crates/nlu/scripts/banking77_baseline.py" "$DATA" "${shots_arg[@]}" | label "scikit-learn tfidf+lr"
