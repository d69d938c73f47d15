#!/usr/bin/env python3
"""scikit-learn baseline for BANKING77, on the same split and the same k-shot rows as
`okienko nlu bench --banking77 DIR [--shots N]`.

TF-IDF word 1-2-grams + char_wb 2-5-grams (sublinear tf), logistic regression (C=20, lbfgs).
Trains on DIR/train.csv (or N rows per intent, chosen exactly as the Rust bench does: a
SplitMix64 Fisher-Yates shuffle of each label's row indices, labels in sorted order, seed 77),
tests on DIR/test.csv. Prints {"accuracy", "macro_f1", "train_seconds", "model"} on stdout.
banking77_compare.sh runs it beside okienko's models (with and without the sentence encoder).

Usage: banking77_baseline.py DIR [--shots N]
"""
import argparse
import csv
import json
import os
import resource
import sys
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline, make_union

MASK = (1 << 64) - 1
SHOT_SEED = 77


class SplitMix:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def shuffle(self, v):
        for i in range(len(v) - 1, 0, -1):
            j = self.next() % (i + 1)
            v[i], v[j] = v[j], v[i]


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return [(r[0], r[1]) for r in rows[1:]]


def sample_shots(rows, shots):
    rng = SplitMix(SHOT_SEED)
    keep = []
    for label in sorted({r[1] for r in rows}, key=lambda s: s.encode("utf-8")):
        idx = [i for i, r in enumerate(rows) if r[1] == label]
        rng.shuffle(idx)
        keep.extend(idx[:shots])
    return [rows[i] for i in sorted(keep)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--shots", type=int)
    a = ap.parse_args()
    train = read(os.path.join(a.dir, "train.csv"))
    test = read(os.path.join(a.dir, "test.csv"))
    if a.shots:
        train = sample_shots(train, a.shots)
    print(f"baseline: {len(train)} train rows, {len(test)} test rows", file=sys.stderr)
    model = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        ),
        LogisticRegression(C=20, max_iter=3000),
    )
    t0 = time.perf_counter()
    model.fit([t for t, _ in train], [l for _, l in train])
    train_seconds = time.perf_counter() - t0
    pred = model.predict([t for t, _ in test])
    gold = [l for _, l in test]
    # Per-query latency, one text at a time as the Rust bench measures it (scikit-learn's
    # per-call overhead included: that is what serving one message costs with it).
    lat = []
    for t, _ in test:
        t1 = time.perf_counter()
        model.predict([t])
        lat.append((time.perf_counter() - t1) * 1e6)
    lat.sort()
    pct = lambda q: lat[round((len(lat) - 1) * q)]
    print(json.dumps({
        "accuracy": accuracy_score(gold, pred),
        "macro_f1": f1_score(gold, pred, average="macro"),
        "train_seconds": train_seconds,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "model": "sklearn tfidf+lr",
    }))


if __name__ == "__main__":
    main()
