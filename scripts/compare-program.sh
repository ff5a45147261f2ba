#!/usr/bin/env bash
# Training throughput of a compiled program against the hand-built baseline, alternating
# in one run:  scripts/compare-program.sh PROGRAM_FILE [ROUNDS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
program=$1; rounds=${2:-3}; steps=${3:-100}
swift build -c release --product evolve >/dev/null
ours=(); base=()
for r in $(seq "$rounds"); do
    p=$(.build/release/evolve bench --program "$program" --steps "$steps" | tail -1)
    b=$(.build/release/evolve bench --steps "$steps" | tail -1)
    echo "round $r program: $p"
    echo "round $r baseline: $b"
    ours+=("$(tokens_per_s "$p")")
    base+=("$(tokens_per_s "$b")")
done
m_p=$(median "${ours[@]}"); m_b=$(median "${base[@]}")
echo "rounds=$rounds program_tokens_per_s=$m_p baseline_tokens_per_s=$m_b ratio=$(ratio "$m_p" "$m_b" 3)"
