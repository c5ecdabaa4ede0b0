#!/usr/bin/env bash
# Whole-program throughput: heir analyze against ndpiReader (nDPI, Debian's
# libndpi-bin) on one large capture, both pinned to the same single core, in
# the same run.
#
# The capture is built from the shared captures (Ethernet ones, as pcap):
# merged once, then copied ROUNDS times with tcprewrite --seed=N so that
# every copy has its own addresses (distinct flows, like a big network), and
# concatenated with mergecap.
#
# Usage: bench/ndpi.sh [ROUNDS]    (default 100 rounds ≈ 450 MB)
# Env:   HEIR_DATA (default ../shared/data), BENCH_DIR (default bench/out),
#        RUNS (timed runs per tool, default 3; the median is reported)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-100}"
RUNS="${RUNS:-3}"
DATA="${HEIR_DATA:-../shared/data}"
OUT="${BENCH_DIR:-bench/out}"
CORE="${CORE:-0}"
mkdir -p "$OUT"

for tool in ndpiReader tcprewrite mergecap editcap capinfos taskset; do
	command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install libndpi-bin tcpreplay wireshark-common util-linux" >&2; exit 2; }
done

big="$OUT/big-$ROUNDS.pcap"
if [ ! -s "$big" ]; then
	echo "building $big from $DATA/pcap ($ROUNDS rounds)…" >&2
	parts=()
	for f in "$DATA"/pcap/lab/*.pcap "$DATA"/pcap/ndpi/*.pcap "$DATA"/pcap/ndpi/*.pcapng; do
		[ -f "$f" ] || continue
		# The captures malformed on purpose stop tcprewrite; the robustness
		# tests cover them.
		case "$(basename "$f")" in *fuzz*|*bad*|*garbage*|*malformed*) continue ;; esac
		enc="$(capinfos -T -E "$f" 2>/dev/null | awk -F'\t' 'NR==2{print $2}')"
		[ "$enc" = "ether" ] || continue
		p="$OUT/part-$(basename "$f").pcap"
		editcap -F pcap "$f" "$p" 2>/dev/null || continue
		parts+=("$p")
	done
	mergecap -a -F pcap -w "$OUT/base.pcap" "${parts[@]}"
	rm -f "${parts[@]}"
	rounds=()
	for i in $(seq 1 "$ROUNDS"); do
		tcprewrite --seed="$i" --infile="$OUT/base.pcap" --outfile="$OUT/round-$i.pcap" 2>/dev/null
		rounds+=("$OUT/round-$i.pcap")
	done
	mergecap -a -F pcap -w "$big" "${rounds[@]}"
	rm -f "${rounds[@]}"
fi

go build -o "$OUT/heir" ./cmd/heir
bytes=$(stat -c %s "$big")
packets=$(capinfos -c -M "$big" | awk -F: '/Number of packets/{gsub(/ /,"",$2); print $2}')

# median of RUNS wall times (seconds) and the max RSS (KiB) of a command
measure() {
	local times=() rss=0
	cat "$big" > /dev/null # warm the page cache for both alike
	for _ in $(seq 1 "$RUNS"); do
		/usr/bin/time -f "%e %M" -o "$OUT/time.txt" taskset -c "$CORE" "$@" > /dev/null 2>"$OUT/stderr.txt" || { cat "$OUT/stderr.txt" >&2; exit 3; }
		read -r t m < "$OUT/time.txt"
		times+=("$t")
		[ "$m" -gt "$rss" ] && rss=$m
	done
	printf '%s\n' "${times[@]}" | sort -n | awk -v n="$RUNS" -v rss="$rss" '{a[NR]=$1} END{printf "%s %s\n", a[int((n+1)/2)], rss}'
}

heir_cmd=(env GOMAXPROCS=1 "$OUT/heir" analyze --json --progress never "$big")
ndpi_cmd=(ndpiReader -q -i "$big")
read -r heir_t heir_rss < <(measure "${heir_cmd[@]}")
read -r ndpi_t ndpi_rss < <(measure "${ndpi_cmd[@]}")

echo "machine:  $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(uname -r); pinned to core $CORE"
echo "capture:  $big, $((bytes/1000000)) MB, $packets packets ($ROUNDS rounds of the shared Ethernet captures)"
echo "heir:     ${heir_cmd[*]}"
echo "nDPI:     taskset -c $CORE ${ndpi_cmd[*]}   ($(ndpiReader -h 2>&1 | head -1 | sed 's/Welcome to //'))"
awk -v b="$bytes" -v p="$packets" -v ht="$heir_t" -v nt="$ndpi_t" -v hr="$heir_rss" -v nr="$ndpi_rss" 'BEGIN{
	printf "%-12s %10s %12s %14s %12s\n", "tool", "seconds", "MB/s", "packets/s", "peak RSS MB"
	printf "%-12s %10.2f %12.1f %14.0f %12.1f\n", "heir", ht, b/1e6/ht, p/ht, hr/1024
	printf "%-12s %10.2f %12.1f %14.0f %12.1f\n", "ndpiReader", nt, b/1e6/nt, p/nt, nr/1024
	printf "speed ratio heir/ndpiReader: %.2fx\n", nt/ht
}'
