#!/usr/bin/env bash
# The token-level baseline in evolve and in the PyTorch reference, seed for seed, on one data
# folder:  scripts/token-baseline.sh DATA_DIR [SEEDS] [STEPS]
# evolve trains configs/bpe-baseline.yaml; PyTorch trains the same program exported as a
# module (scripts/pytorch_check.py train, the same recipe) on the same token files. Prints a
# line per run and the mean ± sd of each engine's val_loss and val_bpb.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?a data folder (evolve data prepare)}; seeds=${2:-1,2,3}; steps=${3:-2000}
python=${EVOLVE_PYTHON:-$HOME/.cache/evolve-venv/bin/python}
evolve=${EVOLVE:-.build/release/evolve}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# evolve scores the whole validation split, as PyTorch does (not its default fixed sample of
# a large split's windows): the two engines' losses are then over the same text.
val_tokens=$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]+'/meta.json'))['val']['tokens'])" "$data")
sed "s/^training:$/training:\n  validation_tokens: $val_tokens/" configs/bpe-baseline.yaml > "$tmp/baseline.yaml"
# The module once, from a one-step checkpoint (its vocabulary and context are the folder's and the config's).
"$evolve" train "$tmp/baseline.yaml" --data "$data" --steps 1 --save "$tmp/ckpt" >/dev/null 2>&1
"$evolve" export "$tmp/ckpt" --format pytorch --output "$tmp/model.py" >/dev/null
bytes_per_token=$("$python" -c "import json,sys; m=json.load(open(sys.argv[1]+'/meta.json')); print(m['val']['bytes']/m['val']['tokens'])" "$data")
for seed in ${seeds//,/ }; do
    e=$("$evolve" train "$tmp/baseline.yaml" --data "$data" --seed "$seed" --steps "$steps" 2>/dev/null | tail -1)
    echo "evolve seed=$seed $e"
    p=$("$python" scripts/pytorch_check.py train "$tmp/model.py" --data "$data" --steps "$steps" --seed "$seed" | tail -1)
    bpb=$(awk -v l="$(sed -n 's/.*val_loss=\([0-9.]*\).*/\1/p' <<<"$p")" -v r="$bytes_per_token" 'BEGIN {printf "%.6f", l / log(2) / r}')
    echo "pytorch seed=$seed $p val_bpb=$bpb"
done
