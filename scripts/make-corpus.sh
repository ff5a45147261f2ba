#!/usr/bin/env bash
# A corpus of real size for token-level runs, made the same on every machine:
#   scripts/make-corpus.sh OUT.txt
# It downloads two pinned source releases from PyPI, each checked against its sha256 (pip's
# --require-hashes): Django 5.1.3 (its documentation, ~6 MB of English prose in
# reStructuredText, and its code) and SymPy 1.13.3 (code with long docstrings). Every .py,
# .txt and .rst member that is UTF-8, in sorted order of its path within each archive, is
# written to OUT.txt, each preceded by a line naming it; the result (~52 MB) is checked
# against its own pinned sha256, so two machines that made it hold the same bytes.
# Make a data folder from it with: evolve data prepare OUT.txt --tokenizer bpe --vocab 8192 --output DIR
set -euo pipefail
out=${1:?usage: scripts/make-corpus.sh OUT.txt}
python=${EVOLVE_PYTHON:-python3}
expected=${EVOLVE_CORPUS_SHA256:-1280fded7b52da7a73fe112db7d5258f85db6e1a40cf70ef1c0465f26189ffc7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/requirements.txt" <<'REQ'
Django==5.1.3 --hash=sha256:c0fa0e619c39325a169208caef234f90baa925227032ad3f44842ba14d75234a
sympy==1.13.3 --hash=sha256:b27fd2c6530e0ab39e275fc9b683895367e51d5da91baa8d3d64db2565fec4d9
REQ
echo "downloading Django 5.1.3 and SymPy 1.13.3 (source releases, sha256-checked) …" >&2
"$python" -m pip download --quiet --no-deps --no-binary :all: --require-hashes -r "$tmp/requirements.txt" -d "$tmp" >&2
"$python" - "$tmp" "$out.partial" <<'PY'
import sys, tarfile
folder, out = sys.argv[1], sys.argv[2]
archives = [f"{folder}/Django-5.1.3.tar.gz", f"{folder}/sympy-1.13.3.tar.gz"]
files = written = 0
with open(out, "wb") as o:
    for path in archives:
        with tarfile.open(path) as t:
            for m in sorted((m for m in t.getmembers() if m.isfile() and m.name.endswith((".py", ".txt", ".rst"))), key=lambda m: m.name):
                data = t.extractfile(m).read()
                try: data.decode("utf-8")
                except UnicodeDecodeError: continue
                o.write(f"\n# file: {m.name}\n".encode() + data)
                files += 1; written += len(data)
print(f"{files} files, {written / 1e6:.1f} MB", file=sys.stderr)
PY
digest=$(sha256sum "$out.partial" | cut -d' ' -f1)
if [ "$expected" != "$digest" ]; then
    echo "make-corpus: the corpus made has sha256 $digest, expected $expected (a changed script or Python tarfile?)" >&2; rm -f "$out.partial"
    exit 1
fi
mv "$out.partial" "$out"
echo "corpus=$out bytes=$(stat -c %s "$out") sha256=$digest"
