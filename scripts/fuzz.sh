#!/usr/bin/env bash
# The fuzzer over evolve's inputs (program text and YAML, search spaces, configs) and the
# compiler, at a chosen size and seed: `scripts/fuzz.sh 100000 [SEED]`; two seeds in parallel
# halve the wall time (`scripts/fuzz.sh 50000 11 & scripts/fuzz.sh 50000 12`). It prints one line with its figure:
# inputs, crashes (a crash ends the run), refusals, valid programs, programs compiled and run.
set -euo pipefail
cd "$(dirname "$0")/.."
export EVOLVE_FUZZ_INPUTS="${1:-100000}" EVOLVE_FUZZ_SEED="${2:-2026}"
swift build -c release -Xswiftc -enable-testing --build-tests >/dev/null
swift test -c release -Xswiftc -enable-testing --skip-build --filter FuzzTests 2>&1 | grep -E "^fuzz:|✔|✘"
