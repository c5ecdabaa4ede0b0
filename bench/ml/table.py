#!/usr/bin/python3
"""Prints compare.sh's one table from the JSON lines of heirml cv and peers.py."""
import json
import sys

rows = [json.loads(l) for f in sys.argv[1:] for l in open(f) if l.strip()]
grans = ["class", "category", "binary"]
label = {("heir", "forest"): "heir forest", ("heir", "gbdt"): "heir gbdt", ("heir", "tree"): "heir tree",
         ("heir", "gbdt:rounds=300:lr=0.1"): "heir gbdt η0.1",
         ("scikit-learn", "forest"): "scikit-learn RandomForest", ("xgboost", "gbdt"): "XGBoost (hist)",
         ("xgboost", "gbdt:rounds=300:lr=0.1"): "XGBoost η0.1",
         ("heir", "gbdt:rounds=300:lr=0.1:depth=8"): "heir gbdt η0.1 d8",
         ("xgboost", "gbdt:rounds=300:lr=0.1:depth=8"): "XGBoost η0.1 d8"}
models = []
for r in rows:
    k = (r["library"], r["model"])
    if k not in models:
        models.append(k)
by = {((r["library"], r["model"]), r["granularity"]): r for r in rows}
threads = sorted({r["threads"] for r in rows})


def size(k):
    r = by.get((k, "class"))
    if not r:
        return "-"
    c = r.get("config") or {}
    if k[1] == "forest":
        return str(c.get("trees", 100))
    if k[1].startswith("gbdt"):
        return f'{c.get("rounds", 100)} rounds'
    return "1"


hdr = ["model", "trees", "macro-F1 19", "macro-F1 6", "macro-F1 2", "train s 19/6/2", "train CPU s 19",
       "predict rows/s 19", "rows/CPU-s 19"]
out = [hdr]
for k in models:
    line = [label.get(k, "/".join(k)), size(k)]
    for g in grans:
        r = by.get((k, g))
        line.append(f'{r["macro_f1"]:.4f}±{r["macro_f1_std"]:.4f}' if r else "-")
    line.append("/".join(f'{by[(k, g)]["train_s"]:.2f}' if (k, g) in by else "-" for g in grans))
    r = by.get((k, "class"))
    line.append(f'{r["train_cpu_s"]:.2f}' if r else "-")
    line.append(f'{r["predict_rows_per_s"]:,.0f}' if r else "-")
    line.append(f'{r["predict_rows_per_cpu_s"]:,.0f}' if r else "-")
    out.append(line)
w = [max(len(r[i]) for r in out) for i in range(len(hdr))]
for r in out:
    print("  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(r)).rstrip())
print(f"threads: {', '.join(map(str, threads))} (GOMAXPROCS = n_jobs = OMP threads); macro-F1: mean ± std over the 5 folds")


def get(lib, model, g, f):
    r = by.get(((lib, model), g))
    return r[f] if r else None


print()
for g, n in zip(grans, ["19 classes", "6 categories", "binary"]):
    heirs = [(by[(k, g)]["macro_f1"], k[1]) for k in models if k[0] == "heir" and (k, g) in by]
    peers = [(by[(k, g)]["macro_f1"], label.get(k, "/".join(k))) for k in models if k[0] != "heir" and (k, g) in by]
    if heirs and peers:
        heir = max(heirs)
        best = max(peers)
        print(f"{n:13s} heir best ({heir[1]}) {heir[0]:.4f} vs best peer ({best[1]}) {best[0]:.4f}: {heir[0] - best[0]:+.4f}")
for g in grans:
    hf, sf = get("heir", "forest", g, "train_cpu_s"), get("scikit-learn", "forest", g, "train_cpu_s")
    hw, sw = get("heir", "forest", g, "train_s"), get("scikit-learn", "forest", g, "train_s")
    if hf and sf:
        print(f"forest training, {g:8s}: heir/scikit-learn CPU time {hf / sf:.2f}x, wall time {hw / sw:.2f}x")

# Per-class F1 (pooled over the folds' test rows) at each granularity.
for g, n in zip(grans, ["19 classes", "6 categories", "binary"]):
    ks = [k for k in models if (k, g) in by]
    if not ks:
        continue
    classes = sorted(by[(ks[0], g)]["per_class_f1"])
    print()
    head = [f"F1, {n}"] + [label.get(k, "/".join(k)).replace("scikit-learn RandomForest", "sklearn RF") for k in ks]
    lines = [head] + [[c] + [f'{by[(k, g)]["per_class_f1"].get(c, float("nan")):.3f}' for k in ks] for c in classes]
    w = [max(len(l[i]) for l in lines) for i in range(len(head))]
    for l in lines:
        print("  ".join(x.ljust(w[i]) if i == 0 else x.rjust(w[i]) for i, x in enumerate(l)))
