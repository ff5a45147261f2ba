#!/usr/bin/env bash
# Candidates per hour of this build against another evolve binary, alternating them (and
# which goes first in a pair) so that both see the same machine load; pause other work on
# the machine for the run:
#   scripts/compare-search.sh OTHER_EVOLVE [CANDIDATES] [PAIRS] [SPACE]
# This build runs `evolve bench --search SPACE --candidates N`; the other runs
# `evolve search SPACE --candidates N` into a fresh database (binaries older than
# `bench --search` have none), both timed from outside, process start included. Prints each
# pair's seconds and ratio, then the median ratio as key=value pairs. Each runs its own
# default precision (bfloat16 on AMX or, since 2026-12-07, AVX512-BF16 CPUs for builds that have it): name `precision:` in
# the space to compare equal arithmetic.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
other=${1:?usage: scripts/compare-search.sh OTHER_EVOLVE [CANDIDATES] [PAIRS] [SPACE]}
n=${2:-20}; pairs=${3:-2}; space=${4:-search-spaces/primer.yaml}
[ -x "$other" ] || { echo "compare-search: $other is not an executable evolve binary" >&2; exit 64; }
# $EVOLVE: an evolve binary to use as this build (default: build this checkout's).
if [ -z "${EVOLVE:-}" ]; then swift build -c release --product evolve >/dev/null; EVOLVE=.build/release/evolve; fi
scratch=$(mktemp -d /tmp/evolve-compare-search.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
now() { date +%s.%N; }
ratios=()
for p in $(seq "$pairs"); do
    this_run() { s=$(now); "$EVOLVE" bench --search "$space" --candidates "$n" 2>/dev/null | tail -1; ours=$(echo "$(now) - $s" | bc); }
    other_run() {
        rm -f "$scratch"/other.db*
        s=$(now); "$other" search "$space" --db "$scratch/other.db" --candidates "$n" 2>/dev/null | tail -1; theirs=$(echo "$(now) - $s" | bc)
    }
    if [ $((p % 2)) -eq 1 ]; then this_run; other_run; else other_run; this_run; fi
    r=$(ratio "$theirs" "$ours")
    echo "pair $p this_seconds=$ours other_seconds=$theirs speedup=$r"
    ratios+=("$r")
done
echo "candidates=$n pairs=$pairs median_speedup=$(median "${ratios[@]}")"
