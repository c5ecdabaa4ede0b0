#!/usr/bin/env bash
# heir's tree learners against scikit-learn's RandomForestClassifier and
# XGBoost on the CICIoMT2024 sample, on the very same stratified folds, in
# one run: macro-F1 at 19 classes, 6 categories and binary, training time
# and single-core prediction rate of each, as ONE table (bench/ml/table.py).
#
# The folds and labels come from Go (heirml folds writes row,fold,class,
# category,binary); the Python side (peers.py) reads that file, so both
# train and test on the same rows. Both sides get the same number of
# threads (GOMAXPROCS = n_jobs = OMP_NUM_THREADS = THREADS) and are pinned
# to the same cores with taskset. Times are wall and CPU time (the machine
# may be shared: CPU time is what other programs do not inflate).
#
# Needs Debian's python3-sklearn and python3-xgboost; the script installs
# them with apt-get when they are missing (as root), or says so and stops.
#
# Usage: bench/ml/compare.sh
# Env:   HEIR_DATA (default ../shared/data), BENCH_DIR (default bench/out/ml),
#        THREADS (default 1), CORES (taskset list, default 0; empty: no pinning),
#        TREES (forest size for both, default 100), SEED (default 1),
#        HEIR_MODELS (heir models, default forest,gbdt,gbdt:rounds=300:lr=0.1)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${HEIR_DATA:-../shared/data}/flows/ciciomt2024/merged_sample.csv.gz"
OUT="${BENCH_DIR:-bench/out/ml}"
THREADS="${THREADS:-1}"
CORES="${CORES-0}"
TREES="${TREES:-100}"
SEED="${SEED:-1}"
PY=/usr/bin/python3 # Debian's, where python3-sklearn installs
mkdir -p "$OUT"
[ -f "$DATA" ] || { echo "missing $DATA (set HEIR_DATA)" >&2; exit 2; }

if ! "$PY" -c 'import sklearn, xgboost' 2>/dev/null; then
	echo "python3-sklearn and python3-xgboost are missing: installing them with apt-get" >&2
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-sklearn python3-xgboost >&2
	else
		echo "run as root, or: sudo apt-get install python3-sklearn python3-xgboost" >&2
		exit 2
	fi
fi
pin=()
[ -n "$CORES" ] && command -v taskset >/dev/null && pin=(taskset -c "$CORES")

go build -o "$OUT/heirml" ./bench/ml/heirml
"$OUT/heirml" folds -data "$DATA" -out "$OUT/folds.csv" -k 5 -seed "$SEED"
echo "heir…" >&2
GOMAXPROCS="$THREADS" "${pin[@]}" "$OUT/heirml" cv -data "$DATA" -folds "$OUT/folds.csv" \
	-models "${HEIR_MODELS:-forest,gbdt,gbdt:rounds=300:lr=0.1}" -trees "$TREES" -seed "$SEED" >"$OUT/heir.jsonl"
echo "scikit-learn and XGBoost…" >&2
OMP_NUM_THREADS="$THREADS" "${pin[@]}" "$PY" bench/ml/peers.py --data "$DATA" --folds "$OUT/folds.csv" \
	--trees "$TREES" --threads "$THREADS" --seed "$SEED" >"$OUT/peers.jsonl"

echo "# $(date -u +%Y-%m-%dT%H:%MZ) bench/ml/compare.sh (THREADS=$THREADS TREES=$TREES SEED=$SEED)"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; go $(go env GOVERSION | sed 's/^go//'); scikit-learn $("$PY" -c 'import sklearn; print(sklearn.__version__)'); xgboost $("$PY" -c 'import xgboost; print(xgboost.__version__)')"
"$PY" bench/ml/table.py "$OUT/heir.jsonl" "$OUT/peers.jsonl"
