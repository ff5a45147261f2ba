#!/usr/bin/env bash
# The whole test suite, nothing skipped: installs what the tests use (scripts/setup.sh
# --tests), starts a throwaway PostgreSQL server, builds, runs `swift test`, stops the server.
# The end-to-end tests train on $EVOLVE_CORPUS, else ../shared/data/tinyshakespeare.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
pg=$(mktemp -d /tmp/evolve-test-pg.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
EVOLVE_TEST_POSTGRES=$(scripts/postgres-cluster.sh start "$pg" "$port")
export EVOLVE_TEST_POSTGRES
# Every temporary file of the run (databases, data folders, checkpoints) goes under one
# folder, removed at the end: TMPDIR is where the tests' temporaryDirectory points.
scratch=$(mktemp -d /tmp/evolve-tests.XXXXXX)
chmod 755 "$scratch"   # the tests' own PostgreSQL servers run as the postgres user inside it
trap 'scripts/postgres-cluster.sh stop "$pg" || true; rm -rf "$pg" "$scratch"' EXIT
export EVOLVE_PYTHON="$HOME/.cache/evolve-venv/bin/python"
export EVOLVE_CORPUS="${EVOLVE_CORPUS:-$(cd .. && pwd)/shared/data/tinyshakespeare.txt}"
# Built first with the caller's TMPDIR: the build's commands name it, so building under the
# scratch folder would rebuild everything on every run.
swift build -c release -Xswiftc -enable-testing --build-tests
TMPDIR="$scratch" swift test -c release -Xswiftc -enable-testing --skip-build "$@"
