#!/usr/bin/env bash
# The fuzzer over evolve's inputs (program text and YAML, search spaces, configs, data folders'
# and checkpoints' files, safetensors headers) and the compiler, at a chosen size and seed:
# `scripts/fuzz.sh 100000 [SEED]`; two seeds in parallel halve the wall time
# (`scripts/fuzz.sh 50000 11 & scripts/fuzz.sh 50000 12`, each with its own EVOLVE_FUZZ_OUT).
# It prints one line with its figures: inputs, crashes and hangs, refusals, valid programs,
# programs compiled and run, the slowest input. An input has EVOLVE_FUZZ_LIMIT seconds (2): one
# that runs longer is a hang. A crash or a hang ends the run, and the input is kept in
# EVOLVE_FUZZ_OUT (.build/fuzz): crash-….txt or hang-input-N.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export EVOLVE_FUZZ_INPUTS="${1:-100000}" EVOLVE_FUZZ_SEED="${2:-2026}"
export EVOLVE_FUZZ_LIMIT="${EVOLVE_FUZZ_LIMIT:-2}" EVOLVE_FUZZ_OUT="${EVOLVE_FUZZ_OUT:-$PWD/.build/fuzz}"
mkdir -p "$EVOLVE_FUZZ_OUT"
rm -f "$EVOLVE_FUZZ_OUT"/in-progress.*
swift build -c release -Xswiftc -enable-testing --build-tests >/dev/null
status=0
swift test -c release -Xswiftc -enable-testing --skip-build --filter FuzzTests 2>&1 | grep -E "^fuzz:|✔|✘|↳" || status=$?
# A crash leaves the input it was on behind (a hang moved it already).
if [ -f "$EVOLVE_FUZZ_OUT/in-progress.txt" ]; then
    saved="$EVOLVE_FUZZ_OUT/crash-seed$EVOLVE_FUZZ_SEED-$(date +%s).txt"
    mv "$EVOLVE_FUZZ_OUT/in-progress.txt" "$saved"
    echo "fuzz: crash: $(cat "$EVOLVE_FUZZ_OUT/in-progress.kind") ended the run; the input is saved in $saved"
    rm -f "$EVOLVE_FUZZ_OUT/in-progress.kind"
    exit 1
fi
exit "$status"
