#!/usr/bin/env bash
# Every seed program through evolve and PyTorch on the same weights:
#   scripts/pytorch-roundtrip.sh [STEPS] [--corpus PATH] [PROGRAM...]
# trains each program STEPS steps (default 200) with `evolve train --save`, exports it with
# `evolve export --format pytorch`, computes the validation loss of the saved weights in
# PyTorch (scripts/pytorch_check.py) and prints a markdown table of both and their difference.
# Python: $EVOLVE_PYTHON, else ~/.cache/evolve-venv/bin/python (torch, numpy, safetensors).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=200; corpus=(); programs=()
while [ $# -gt 0 ]; do
    case $1 in --corpus) corpus=(--corpus "$2"); shift 2 ;; [0-9]*) steps=$1; shift ;; *) programs+=("$1"); shift ;; esac
done
[ ${#programs[@]} -gt 0 ] || programs=(search-spaces/seeds/*.program)
python=${EVOLVE_PYTHON:-$HOME/.cache/evolve-venv/bin/python}
# $EVOLVE: a built evolve to use as it is (else the release build, brought up to date).
evolve=${EVOLVE:-.build/release/evolve}
[ -n "${EVOLVE:-}" ] || swift build -c release --product evolve >/dev/null
out=$(mktemp -d)
echo "| program | evolve val_loss | PyTorch val_loss (same weights) | difference |"
echo "|---|---|---|---|"
for p in "${programs[@]}"; do
    name=$(basename "${p%.*}")
    line=$($evolve train "$p" --steps "$steps" --save "$out/$name" "${corpus[@]}" 2>/dev/null | tail -1)
    ours=$(sed -n 's/.*val_loss=\([0-9.]*\).*/\1/p' <<<"$line")
    $evolve export "$out/$name" --format pytorch --output "$out/$name.py" >/dev/null
    theirs=$("$python" scripts/pytorch_check.py val "$out/$name.py" "$out/$name" "${corpus[@]}" | sed -n 's/.*val_loss=\([0-9.]*\).*/\1/p')
    printf '| %s | %s | %s | %s |\n' "$name" "$ours" "$theirs" "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { d = b - a; printf "%+.6f", d }')"
done
