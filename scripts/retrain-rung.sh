#!/usr/bin/env bash
# Programs retrained at one rung of a study's ladder over several training seeds: candidates
# by ID (`evolve export ID --rung R`: the rung's genes and budget, the study's recipe) and
# program files (given the rung's genes, as the study's seed has them there). The first is the
# reference each gap is measured against.
#   scripts/retrain-rung.sh DB RUNG --data DIR [--seeds "1 2 3"] [--precision P] [--log FILE] ID|PROGRAM...
# One line per run goes to the log (default results/retrain-rung-R.log); a run already there is
# not trained again, so a cut-off retraining resumes. Prints each program's mean ± sd and its
# mean gap to the first at the same seeds (< 0: lower loss).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 DB RUNG --data DIR [--seeds \"1 2 3\"] [--precision P] [--log FILE] ID|PROGRAM..." >&2; exit 2; }
db=$1 rung=$2; shift 2
seeds="1 2 3" data=() precision=() log="results/retrain-rung-$rung.log" subjects=()
while [ $# -gt 0 ]; do
    case $1 in
        --data) data=(--data "$2"); shift 2 ;;
        --seeds) seeds=$2; shift 2 ;;
        --precision) precision=(--precision "$2"); shift 2 ;;
        --log) log=$2; shift 2 ;;
        *) subjects+=("$1"); shift ;;
    esac
done
[ ${#subjects[@]} -gt 0 ] || { echo "$0: name at least one candidate ID or program file" >&2; exit 2; }
evolve=${EVOLVE:-.build/release/evolve}
[ -n "${EVOLVE:-}" ] || swift build -c release --product evolve >/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The seed's config at the rung gives the genes a program file trains with there.
$evolve export 1 --rung "$rung" --db "$db" --output "$dir/seed.yaml" >/dev/null
gene() { sed -n "s/^    $1: \([0-9]*\)$/\1/p" "$dir/seed.yaml" | head -1; }
genes="genes layers=$(gene layers) d_model=$(gene d_model) heads=$(gene heads) context=$(gene context)"
names=() runs=()
for s in "${subjects[@]}"; do
    if [[ $s =~ ^[0-9]+$ ]]; then
        name="#$s"
        $evolve export "$s" --rung "$rung" --db "$db" --output "$dir/$s.yaml" >/dev/null
        runs+=("$dir/$s.yaml")
    else
        [ -f "$s" ] || { echo "$0: $s: no such program file" >&2; exit 2; }
        name=$(basename "$s" .program)
        sed "s/^genes .*/$genes/" "$s" >"$dir/$name.program"
        runs+=("$dir/$name.program --config $dir/seed.yaml")
    fi
    names+=("$name")
done
# Seed by seed, every program in turn: a retraining cut off halfway has a result for each.
for seed in $seeds; do
    for i in "${!names[@]}"; do
        name=${names[$i]}
        grep -q "^$name seed=$seed " "$log" 2>/dev/null && continue
        line=$($evolve train ${runs[$i]} --seed "$seed" "${data[@]}" "${precision[@]}" 2>/dev/null | tail -1)
        [[ $line == *val_loss=* ]] || { echo "$0: $name seed $seed: training failed: $line" >&2; exit 1; }
        echo "$name seed=$seed $line" | tee -a "$log"
    done
done
echo "rung $rung of $db, seeds $seeds (log: $log)"
for name in "${names[@]}"; do
    awk -v n="$name" -v ref="${names[0]}" -v seeds="$seeds" '
        BEGIN { split(seeds, list, " "); for (i in list) want[list[i]] = 1 }
        { split($2, kv, "="); s = kv[2]; if (!(s in want)) next
          for (i = 3; i <= NF; i++) if ($i ~ /^val_loss=/) { v = substr($i, 10) } }
        $1 == n   { x[s] = v }
        $1 == ref { r[s] = v }
        END { k = 0; for (s in x) { m += x[s]; q += x[s] * x[s]; if (s in r) { g += x[s] - r[s]; k++ }; c++ }
              m /= c; sd = c > 1 && q > c * m * m ? sqrt((q - c * m * m) / (c - 1)) : 0
              printf "%-24s val_loss %.4f ± %.4f over %d seeds, gap to %s %+.4f\n", n, m, sd, c, ref, k ? g / k : 0 }' "$log"
done
