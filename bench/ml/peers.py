#!/usr/bin/python3
"""scikit-learn and XGBoost on heir's folds (the Python side of compare.sh).

Reads the CICIoMT2024 CSV with the same column rules as heir's dataset spec
(label attack_type, IAT dropped, empty cell = 0, "inf" = +inf replaced by
1e30: scikit-learn refuses infinities, and any value above every finite
Rate keeps the order trees see) and the fold file written by
`heirml folds` (row, fold, class, category, binary), so both sides train
and test on the very same rows. Prints one JSON line per model and
granularity, like heirml cv.
"""
import argparse
import csv
import gzip
import json
import os
import sys
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score
import xgboost as xgb


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    keep = [i for i, h in enumerate(header) if h not in ("attack_type", "IAT")]
    X = np.empty((len(rows), len(keep)), dtype=np.float32)
    for n, row in enumerate(rows):
        for j, i in enumerate(keep):
            v = row[i].strip()
            X[n, j] = 0.0 if v == "" else float(v)
    X[np.isposinf(X)] = 1e30
    X[np.isneginf(X)] = -1e30
    return X


# The heir model spec each peer model is compared with (table.py pairs them).
SPECS = {
    "sklearn-rf": "forest",
    "xgboost": "gbdt",
    "xgboost-300": "gbdt:rounds=300:lr=0.1",
    "xgboost-300-d8": "gbdt:rounds=300:lr=0.1:depth=8",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--folds", required=True)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--models", default="sklearn-rf,xgboost,xgboost-300")
    ap.add_argument("--granularities", default="class,category,binary")
    a = ap.parse_args()

    X = load(a.data)
    with open(a.folds, newline="") as f:
        r = csv.DictReader(f)
        lab = list(r)
    if len(lab) != len(X):
        sys.exit(f"fold file has {len(lab)} rows, data {len(X)}")
    folds = np.array([int(x["fold"]) for x in lab])
    for g in a.granularities.split(","):
        names = [x[g] for x in lab]
        classes = sorted(set(names))
        y = np.array([classes.index(n) for n in names])
        for model in a.models.split(","):
            scores, train_s, train_cpu, pred_n, pred_s, pred_cpu = [], [], [], 0, 0.0, 0.0
            per_true, per_pred = [], []
            for k in sorted(set(folds)):
                tr, te = folds != k, folds == k
                if model == "sklearn-rf":
                    m = RandomForestClassifier(n_estimators=a.trees, n_jobs=a.threads, random_state=a.seed)
                elif model == "xgboost":
                    # XGBoost's defaults (100 rounds, depth 6, eta 0.3, hist).
                    m = xgb.XGBClassifier(tree_method="hist", n_jobs=a.threads, random_state=a.seed)
                elif model == "xgboost-300":
                    # The same budget as heir's gbdt η0.1: 300 rounds at eta 0.1.
                    m = xgb.XGBClassifier(tree_method="hist", n_estimators=300, learning_rate=0.1,
                                          n_jobs=a.threads, random_state=a.seed)
                elif model == "xgboost-300-d8":
                    # The same budget as heir's gbdt:rounds=300:lr=0.1:depth=8.
                    m = xgb.XGBClassifier(tree_method="hist", n_estimators=300, learning_rate=0.1, max_depth=8,
                                          n_jobs=a.threads, random_state=a.seed)
                else:
                    sys.exit(f"unknown model {model}")
                Xtr, ytr, Xte = X[tr], y[tr], X[te]
                t0, c0 = time.perf_counter(), time.process_time()
                m.fit(Xtr, ytr)
                train_s.append(time.perf_counter() - t0)
                train_cpu.append(time.process_time() - c0)
                t0, c0 = time.perf_counter(), time.process_time()
                p = m.predict(Xte)
                pred_s += time.perf_counter() - t0
                pred_cpu += time.process_time() - c0
                pred_n += int(te.sum())
                scores.append(f1_score(y[te], p, average="macro"))
                per_true.extend(y[te].tolist())
                per_pred.extend(np.asarray(p).tolist())
            per = f1_score(per_true, per_pred, average=None, labels=list(range(len(classes))))
            print(json.dumps({
                "library": "scikit-learn" if model == "sklearn-rf" else "xgboost",
                "model": SPECS[model],
                "config": {"trees": a.trees} if model == "sklearn-rf" else ({"rounds": 100} if model == "xgboost" else {"rounds": 300}),
                "granularity": g, "classes": len(classes),
                "macro_f1": float(np.mean(scores)), "macro_f1_std": float(np.std(scores)),
                "fold_macro_f1": [float(s) for s in scores],
                "train_s": float(np.mean(train_s)), "predict_rows_per_s": pred_n / pred_s,
                "train_cpu_s": float(np.mean(train_cpu)), "predict_rows_per_cpu_s": pred_n / max(pred_cpu, 1e-9),
                "threads": a.threads, "per_class_f1": {c: float(v) for c, v in zip(classes, per)},
            }), flush=True)


if __name__ == "__main__":
    main()
