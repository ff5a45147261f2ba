#!/usr/bin/env bash
# Training throughput of a compiled program against the hand-built baseline, alternating
# in one run:  scripts/compare-program.sh PROGRAM_FILE [ROUNDS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
program=$1; rounds=${2:-3}; steps=${3:-100}
swift build -c release --product evolve >/dev/null
ours=(); base=()
for r in $(seq "$rounds"); do
    p=$(.build/release/evolve bench --program "$program" --steps "$steps" | tail -1)
    b=$(.build/release/evolve bench --steps "$steps" | tail -1)
    echo "round $r program: $p"
    echo "round $r baseline: $b"
    ours+=("$(sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p' <<<"$p")")
    base+=("$(sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p' <<<"$b")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_p=$(median "${ours[@]}"); m_b=$(median "${base[@]}")
echo "rounds=$rounds program_tokens_per_s=$m_p baseline_tokens_per_s=$m_b ratio=$(awk -v a="$m_p" -v b="$m_b" 'BEGIN {printf "%.3f", a/b}')"
