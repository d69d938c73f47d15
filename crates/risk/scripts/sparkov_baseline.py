#!/usr/bin/env python3
"""Baseline for `okienko guard bench`: scikit-learn HistGradientBoosting on the same per-customer
causal features as okienko-risk (computed in batch with pandas), same split (train before the
test date, default 1 October of the data's year; test after), same metric definitions.
Prints one JSON object with the keys of the CLI contract on stdout; progress on stderr.

Usage: sparkov_baseline.py FILE.csv.gz [YYYY-MM-DD]
Needs: pandas, numpy, scikit-learn.
"""
import json
import os
import sys
import time

# One core, as the Rust bench; OpenMP thread pools on a busy machine wreck single-row latency.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

WINDOWS = {"10m": 600, "1h": 3600, "24h": 86400, "7d": 604800}
NIGHT = [22, 23, 0, 1, 2, 3]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def features(df):
    df = df.sort_values(["unix_time", "tx_id"], kind="stable").reset_index(drop=True)
    g = df.groupby("customer_id", sort=False)
    t = pd.to_datetime(df["unix_time"], unit="s")
    out = pd.DataFrame(index=df.index)
    amt = df["amt"].astype(float)
    la = np.log1p(amt)
    out["log_amount"] = la
    out["hour_of_day"] = t.dt.hour + t.dt.minute / 60.0
    out["day_of_week"] = t.dt.day_of_week
    out["category_code"] = df["category"].astype("category").cat.codes
    out["card_not_present"] = df["category"].str.endswith("_net").astype(int)
    n = g.cumcount()
    out["n_prior"] = n
    prev_t = g["unix_time"].shift()
    out["log_secs_since_last"] = np.where(n > 0, np.log1p(df["unix_time"] - prev_t), -1)

    def prior_stats(keys, x):
        gg = x.groupby(keys, sort=False)
        cnt = gg.cumcount()
        s = gg.cumsum() - x
        s2 = (x * x).groupby(keys, sort=False).cumsum() - x * x
        mean = s / cnt.replace(0, np.nan)
        var = (s2 - cnt * mean * mean) / (cnt - 1).replace(0, np.nan)
        return cnt, mean, np.sqrt(var.clip(lower=0))

    keys = [df["customer_id"]]
    cnt, mean, sd = prior_stats(keys, la)
    out["amount_z"] = np.where(cnt >= 2, (la - mean) / np.maximum(sd, 0.05), 0)
    raw_sum = g["amt"].cumsum() - amt
    out["amount_ratio"] = np.where(n > 0, amt / np.maximum(raw_sum / n.replace(0, 1), 0.01), -1)
    ckeys = [df["customer_id"], df["category"]]
    ccnt, cmean, csd = prior_stats(ckeys, la)
    out["category_n_prior"] = ccnt
    out["category_share"] = np.where(n > 0, ccnt / n.replace(0, 1), -1)
    out["category_amount_z"] = np.where(ccnt >= 2, (la - cmean) / np.maximum(csd, 0.05), 0)
    craw = amt.groupby(ckeys, sort=False).cumsum() - amt
    out["category_amount_ratio"] = np.where(ccnt > 0, amt / np.maximum(craw / ccnt.replace(0, 1), 0.01), -1)
    out["merchant_n_prior"] = df.groupby(["customer_id", "merchant"], sort=False).cumcount()

    hour = t.dt.hour.to_numpy()
    onehot = pd.DataFrame(np.eye(24, dtype=np.int32)[hour], index=df.index)
    prior_hours = onehot.groupby(df["customer_id"], sort=False).cumsum().to_numpy() - onehot.to_numpy()
    rows = np.arange(len(df))
    near = prior_hours[rows, (hour + 23) % 24] + prior_hours[rows, hour] + prior_hours[rows, (hour + 1) % 24]
    nn = n.to_numpy()
    out["hour_habit"] = np.where(nn > 0, near / np.maximum(nn, 1), -1)
    out["night_share"] = np.where(nn > 0, prior_hours[:, NIGHT].sum(axis=1) / np.maximum(nn, 1), -1)

    # Windowed counts and sums per customer: events with t_now - t < W, the current one included.
    ut = df["unix_time"].to_numpy()
    vals = {
        "amt": amt.to_numpy(),
        "z": (np.clip(out["amount_z"].to_numpy(), 0, 10) * 1000).round() / 1000,
        "new_m": (out["merchant_n_prior"].to_numpy() == 0).astype(float),
        "new_c": (out["category_n_prior"].to_numpy() == 0).astype(float),
    }
    res = {k: np.zeros(len(df)) for k in
           [f"count_{w}" for w in WINDOWS] + [f"sum_{w}" for w in WINDOWS] + ["z24", "m24", "c24"]}
    for idx in g.indices.values():
        idx = np.sort(idx)
        tt = ut[idx]
        pos = np.arange(len(idx))
        cs = {k: np.concatenate([[0.0], np.cumsum(v[idx])]) for k, v in vals.items()}
        for name, secs in WINDOWS.items():
            lo = np.searchsorted(tt, tt - secs, side="right")
            res[f"count_{name}"][idx] = pos + 1 - lo
            res[f"sum_{name}"][idx] = cs["amt"][pos + 1] - cs["amt"][lo]
            if name == "24h":
                for k, key in [("z", "z24"), ("new_m", "m24"), ("new_c", "c24")]:
                    res[key][idx] = cs[k][pos + 1] - cs[k][lo]
    for name in WINDOWS:
        out[f"count_{name}"] = res[f"count_{name}"]
        out[f"log_sum_{name}"] = np.log1p(res[f"sum_{name}"])
    c24, s24 = res["count_24h"], res["sum_24h"]
    first_t = g["unix_time"].transform("first")
    days = np.maximum((df["unix_time"] - first_t) / 86400.0, 1.0)
    out["count_24h_vs_rate"] = np.where(nn > 0, c24 / (np.maximum(nn, 1) / days), -1)
    out["sum_24h_vs_daily_spend"] = np.where(nn > 0, s24 / np.maximum(raw_sum / days, 0.01), -1)
    lat_m = (g["merch_lat"].cumsum() - df["merch_lat"]) / n.replace(0, np.nan)
    lon_m = (g["merch_long"].cumsum() - df["merch_long"]) / n.replace(0, np.nan)
    la1, la2 = np.radians(df["merch_lat"]), np.radians(lat_m)
    a = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin(np.radians(lon_m - df["merch_long"]) / 2) ** 2
    out["distance_km"] = np.where(nn > 0, 2 * 6371 * np.arcsin(np.sqrt(np.clip(a, 0, 1))), -1)
    cnp = out["card_not_present"]
    out["cnp_share"] = np.where(nn > 0, (cnp.groupby(df["customer_id"], sort=False).cumsum() - cnp) / np.maximum(nn, 1), -1)
    out["z_burst_24h"] = res["z24"]
    out["new_merchants_24h"] = res["m24"]
    out["new_categories_24h"] = res["c24"]
    return df, out.fillna(-1)


def main():
    path = sys.argv[1]
    df = pd.read_csv(path)
    df, X = features(df)
    y = df["is_fraud"].to_numpy().astype(bool)
    year = pd.to_datetime(df["unix_time"].iloc[0], unit="s").year
    test_from = pd.Timestamp(sys.argv[2]) if len(sys.argv) > 2 else pd.Timestamp(year=year, month=10, day=1)
    cut = int(test_from.timestamp())
    tr = df["unix_time"].to_numpy() < cut
    te = ~tr
    log(f"baseline: {tr.sum()} train rows, {te.sum()} test rows, {X.shape[1]} features")
    cat_idx = [X.columns.get_loc("category_code")]
    clf = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
        l2_regularization=1.0, early_stopping=False, categorical_features=cat_idx, random_state=42)
    t0 = time.time()
    clf.fit(X[tr], y[tr])
    fit_s = time.time() - t0
    Xte = X[te]
    t0 = time.time()
    s = clf.predict_proba(Xte)[:, 1]
    batch_tps = len(Xte) / (time.time() - t0)
    lat = []
    for i in range(0, min(len(Xte), 2000)):
        t1 = time.perf_counter()
        clf.predict_proba(Xte.iloc[i:i + 1])
        lat.append((time.perf_counter() - t1) * 1e6)
    yt = y[te]
    neg = (~yt).sum()

    def at_fpr(fpr):
        budget = int(np.floor(fpr * neg))
        order = np.argsort(-s, kind="stable")
        ss, ll = s[order], yt[order]
        fp, thr, i = 0, np.inf, 0
        while i < len(ss):
            j = i
            gfp = 0
            while j < len(ss) and ss[j] == ss[i]:
                gfp += not ll[j]
                j += 1
            if fp + gfp > budget:
                break
            fp += gfp
            thr = ss[i]
            i = j
        alert = s >= thr
        recall = (alert & yt).sum() / yt.sum()
        cust = df["customer_id"].to_numpy()[te]
        ep = pd.DataFrame({"c": cust[yt], "a": alert[yt]}).groupby("c")["a"].any()
        return recall, ep.mean(), (alert & ~yt).sum()

    r1, e1, f1 = at_fpr(0.01)
    r01, e01, f01 = at_fpr(0.001)
    ut = df["unix_time"].to_numpy()[te]
    months = (ut.max() - cut) / 86400 / 30.4375
    cm = df["customer_id"][te].nunique() * months
    rd = lambda v: round(float(v), 4)
    print(json.dumps({
        "auprc": rd(average_precision_score(yt, s)),
        "roc_auc": rd(roc_auc_score(yt, s)),
        "recall_at_1pct_fpr": rd(r1),
        "recall_at_01pct_fpr": rd(r01),
        "episode_recall_at_1pct_fpr": rd(e1),
        "episode_recall_at_01pct_fpr": rd(e01),
        "false_alerts_per_customer_month_at_1pct_fpr": rd(f1 / cm),
        "false_alerts_per_customer_month_at_01pct_fpr": rd(f01 / cm),
        "score_tx_per_second": round(batch_tps),
        "p99_us": rd(np.percentile(lat, 99)),
        "_meta": {"model": "scikit-learn HistGradientBoostingClassifier, same features (pandas batch)",
                  "score_tx_per_second_is": "batch predict_proba over the test set (features precomputed)",
                  "p99_us_is": "single-row predict_proba, first 2000 test rows",
                  "train_rows": int(tr.sum()), "test_rows": int(te.sum()), "fit_seconds": rd(fit_s)},
    }, indent=2))


if __name__ == "__main__":
    main()
