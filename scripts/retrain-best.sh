#!/usr/bin/env bash
# The search's best program against its seed, retrained over several seeds at the study's
# own budget (each exported with the exact recipe it was measured with; only the seed changes),
# or with another config's recipe (--recipe configs/baseline.yaml: the 2000-step recipe):
#   scripts/retrain-best.sh DB [SEEDS...] [--corpus PATH] [--recipe CONFIG] [--best ID]   (default seeds: 1 2 3)
# Prints one line per run and a summary: mean ± std of val_loss for each, and the gap.
set -euo pipefail
cd "$(dirname "$0")/.."
db=$1; shift
seeds=(); corpus=(); recipe=(); best=()
while [ $# -gt 0 ]; do
    case $1 in
        --corpus) corpus=(--corpus "$2"); shift 2 ;;
        --recipe) recipe=(--config "$2"); shift 2 ;;
        --best) best=("$2"); shift 2 ;;
        *) seeds+=("$1"); shift ;;
    esac
done
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
# $EVOLVE: a built evolve to use as it is (else the release build, brought up to date).
evolve=${EVOLVE:-.build/release/evolve}
[ -n "${EVOLVE:-}" ] || swift build -c release --product evolve >/dev/null
out=$(mktemp -d)
best=$($evolve export "${best[@]}" --db "$db" --output "$out/best.yaml" | sed -n 's/.*id=\([0-9]*\).*/\1/p')
$evolve export 1 --db "$db" --output "$out/seed.yaml" >/dev/null
echo "best: #$best  (lineage: $(sed -n 's/^# Lineage: //p' "$out/best.yaml"))"
declare -A losses
for s in "${seeds[@]}"; do
    for which in seed best; do
        line=$($evolve train "$out/$which.yaml" --seed "$s" "${recipe[@]}" "${corpus[@]}" 2>/dev/null | tail -1)
        echo "$which seed=$s $line"
        losses[$which]+="$(sed -n 's/.*val_loss=\([0-9.]*\).*/\1/p' <<<"$line") "
    done
done
stats() { printf '%s\n' $1 | awk '{s+=$1; q+=$1*$1; n++} END {m=s/n; v=(n>1)?(q-n*m*m)/(n-1):0; if (v<0) v=0; printf "%.4f ± %.4f", m, sqrt(v)}'; }
echo "seed_program val_loss $(stats "${losses[seed]}")"
echo "best_program val_loss $(stats "${losses[best]}")"
paste <(printf '%s\n' ${losses[seed]}) <(printf '%s\n' ${losses[best]}) \
    | awk '{d=$2-$1; s+=d; n++} END {printf "mean_gap=%.4f (best − seed, same seeds)\n", s/n}'
