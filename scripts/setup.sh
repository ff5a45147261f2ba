#!/usr/bin/env bash
# Installs what evolve needs on a Debian machine that has Swift, as root or through sudo;
# what is installed already is skipped, so it is cheap to run again.
#   scripts/setup.sh           what a search needs: OpenBLAS and SQLite's headers
#   scripts/setup.sh --tests   also what the tests use: Chromium (the report's and the
#                              dashboard's browser tests), PostgreSQL (the store on both
#                              engines), iproute2 (the multi-host test's network namespaces),
#                              and a Python venv under ~/.cache/evolve-venv with torch, numpy,
#                              safetensors, tokenizers, pyflakes and selenium (the export, parity,
#                              runtime and dashboard browser tests)
set -euo pipefail
packages=(libopenblas-dev libsqlite3-dev)
[ "${1:-}" = --tests ] && packages+=(chromium chromium-driver postgresql iproute2 python3-venv)
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else echo "$0: installing ${missing[*]} needs root or sudo" >&2; exit 1
    fi
}
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "${1:-}" = --tests ]; then
    venv="$HOME/.cache/evolve-venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -c "import torch, numpy, safetensors, tokenizers, pyflakes, selenium" 2>/dev/null \
        || "$venv/bin/pip" install -q torch numpy safetensors tokenizers pyflakes selenium
fi
