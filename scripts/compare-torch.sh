#!/usr/bin/env bash
# Training throughput of evolve against the PyTorch reference, measured alternately in one
# run so that both see the same machine load. Needs `pip install torch numpy`.
#   scripts/compare-torch.sh [ROUNDS] [STEPS]
# Prints every measurement, then the medians and their ratio as key=value pairs.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}; steps=${2:-100}
corpus=${EVOLVE_CORPUS:-../shared/data/tinyshakespeare.txt}
reference=${TORCH_REFERENCE:-../shared/tools/torch_reference.py}
swift build -c release --product evolve >/dev/null
ours=(); theirs=()
for r in $(seq "$rounds"); do
    t=$(python3 "$reference" --corpus "$corpus" bench --steps "$steps" | tail -1)
    e=$(.build/release/evolve bench --steps "$steps" | tail -1)
    echo "round $r torch: $t"
    echo "round $r evolve: $e"
    theirs+=("$(sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p' <<<"$t")")
    ours+=("$(sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p' <<<"$e")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_ours=$(median "${ours[@]}"); m_theirs=$(median "${theirs[@]}")
echo "rounds=$rounds evolve_tokens_per_s=$m_ours torch_tokens_per_s=$m_theirs ratio=$(awk -v a="$m_ours" -v b="$m_theirs" 'BEGIN {printf "%.2f", a/b}')"
