#!/usr/bin/env bash
# Training throughput of evolve against the PyTorch reference, measured alternately in one
# run so that both see the same machine load. Needs `pip install torch numpy`.
#   scripts/compare-torch.sh [ROUNDS] [STEPS]
# Prints every measurement, then the medians and their ratio as key=value pairs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
rounds=${1:-5}; steps=${2:-100}
corpus=${EVOLVE_CORPUS:-../shared/data/tinyshakespeare.txt}
reference=${TORCH_REFERENCE:-../shared/tools/torch_reference.py}
# $EVOLVE: an evolve binary to use as it is (default: build this checkout's).
if [ -z "${EVOLVE:-}" ]; then swift build -c release --product evolve >/dev/null; EVOLVE=.build/release/evolve; fi
ours=(); theirs=()
for r in $(seq "$rounds"); do
    t=$(python3 "$reference" --corpus "$corpus" bench --steps "$steps" | tail -1)
    e=$("$EVOLVE" bench --steps "$steps" | tail -1)
    echo "round $r torch: $t"
    echo "round $r evolve: $e"
    theirs+=("$(tokens_per_s "$t")")
    ours+=("$(tokens_per_s "$e")")
done
m_ours=$(median "${ours[@]}"); m_theirs=$(median "${theirs[@]}")
echo "rounds=$rounds evolve_tokens_per_s=$m_ours torch_tokens_per_s=$m_theirs ratio=$(ratio "$m_ours" "$m_theirs")"
