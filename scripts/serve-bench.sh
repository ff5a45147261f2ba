#!/usr/bin/env bash
# evolve serve's speed on a study of N candidates (default 10,000, made by `evolve store-bench`:
# the store's calls without training), and the 4-hour study (results/studies/primer.db, served
# read-only) for pages with real programs and lineages. Prints, for each page, the server's time to
# first byte and whole response (curl, 10 rounds, each drawn afresh: a query the cache has not
# seen), the study page fully drawn in headless Chromium (scripts/serve_bench.py), and the
# store's polls for 20 open live pages over 30 s (/api/feed).
#   scripts/serve-bench.sh [N]     (after a release build; needs curl, chromium, chromium-driver, selenium)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
n=${1:-10000}
evolve=.build/release/evolve
python=${EVOLVE_PYTHON:-$HOME/.cache/evolve-venv/bin/python}
tmp=$(mktemp -d /tmp/evolve-serve-bench.XXXXXX)
servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
"$evolve" store-bench --db "$tmp/bench.db" --workers 1 --candidates "$n" | tail -1
serve() {   # database: serves it, its base URL in $url once it answers
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$evolve" serve --db "$1" --port "$port" >>"$tmp/serve.log" 2>&1 & servers+=($!)
    url="http://127.0.0.1:$port"
    for _ in $(seq 100); do curl -sf "$url/api/changes" >/dev/null && break; sleep 0.1; done
}
serve "$tmp/bench.db"; base=$url
serve results/studies/primer.db; shipped=$url     # read-only, as serve always is
best=$(curl -sf "$shipped/api/studies/primer" | python3 -c 'import json, sys; print(json.load(sys.stdin)["summary"]["bestId"])')

time_page() {   # URL: medians of 10 fresh draws
    local first=() total=() size=0
    for i in $(seq 10); do
        read -r f t size < <(curl -sf -o /dev/null -w '%{time_starttransfer} %{time_total} %{size_download}\n' "$1?round=$i")
        first+=("$(awk -v x="$f" 'BEGIN {printf "%.1f", x * 1000}')"); total+=("$(awk -v x="$t" 'BEGIN {printf "%.1f", x * 1000}')")
    done
    echo "${1#http://127.0.0.1:*/}: first byte $(median "${first[@]}") ms, whole $(median "${total[@]}") ms (medians of 10), $size bytes"
}
time_page "$base/study/store-bench"
time_page "$base/api/studies/store-bench/candidates"
time_page "$shipped/study/primer"
time_page "$shipped/study/primer/candidate/$best"
echo "in Chromium, /study/store-bench:"
"$python" scripts/serve_bench.py "$base/study/store-bench" 5 | tail -1

before=$(curl -sf "$base/api/feed")
pids=()
for _ in $(seq 20); do curl -sN --max-time 30 "$base/events" >/dev/null & pids+=($!); done
sleep 2; during=$(curl -sf "$base/api/feed")
wait "${pids[@]}" || true
after=$(curl -sf "$base/api/feed")
echo "20 live pages for 30 s: feed before $before, while open $during, after $after"
