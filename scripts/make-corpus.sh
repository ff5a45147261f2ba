#!/usr/bin/env bash
# A corpus of real size for token-level runs: ~58 MB of English prose, made the same on
# every Debian bookworm machine, offline from the Debian archive:
#   scripts/make-corpus.sh OUT.txt
# It downloads six documentation packages at pinned versions (`apt-get download`, each .deb
# checked against its sha256) and writes their text to OUT.txt, each document preceded by a
# line naming it, in the order of their names' sha256 (the sources interleaved):
#   linux-doc-6.1       the kernel's documentation, reStructuredText (html/_sources, without
#                       translations/), ~21 MB                                    GPL-2
#   python3.11-doc      Python's documentation, reStructuredText, ~11 MB          PSF-2
#   perl-doc            Perl's manual, POD, ~9 MB                                 GPL-1+ or Artistic
#   postgresql-doc-15   PostgreSQL's manual, HTML reduced to its text, ~7 MB     PostgreSQL
#   python-django-doc   Django 3.2's documentation, HTML reduced to text, ~7 MB  BSD-3-Clause
#   git-doc             Git's manual, AsciiDoc, ~3 MB                             GPL-2
# The result is checked against its own pinned sha256, so two machines that made it hold
# the same bytes. A pinned version leaves the archive at a Debian point release; the script
# then stops naming the package, and EVOLVE_CORPUS_SHA256 / the pins below are what to change.
# Make a data folder from it with: evolve data prepare OUT.txt --tokenizer bpe --vocab 8192 --output DIR
set -euo pipefail
out=${1:?usage: scripts/make-corpus.sh OUT.txt}
python=${EVOLVE_PYTHON:-python3}
expected=${EVOLVE_CORPUS_SHA256:-a0c8bbe0f199bd80428d77f324b5b4e3bd7bc7a20d233611a74dd4675c9dafd0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# package=version sha256-of-the-.deb
pins="linux-doc-6.1=6.1.176-1 0d843674607703b9ef8c1db5e715c38ed52ff23574feabfe0d961d552126859f
python3.11-doc=3.11.2-6+deb12u9 5b3594189d6ef9a6963ce0347fd307a1cc67620ad697e144db366070e2e146be
perl-doc=5.36.0-7+deb12u4 f4269cff4576d6f02a6756df842988e58451c7e945b08517dd235531b24e48f8
postgresql-doc-15=15.20-0+deb12u1 4c44bf2c599f208b3f46454a6cf7a72e25ec46ff74d37b59dd31ad76b00eebb7
python-django-doc=3:3.2.25-0+deb12u7 87307f067916df72e17180d35b7cde5c7ea6080336cda518efd7f6e66988a7ca
git-doc=1:2.39.5-0+deb12u3 3c89668a11053a6bafade3de1f611f4613db31e082af63f43d8c5b69ad8795ec"
while read -r pin digest; do
    name=${pin%%=*}
    echo "downloading $pin …" >&2
    mkdir -p "$tmp/deb/$name"
    if ! (cd "$tmp/deb/$name" && apt-get download -q "$pin" >/dev/null 2>"$tmp/apt.log"); then
        echo "make-corpus: apt-get download $pin failed (run apt-get update; a pinned version leaves the archive at a point release): $(grep -m1 '^E:' "$tmp/apt.log" || tail -1 "$tmp/apt.log")" >&2
        exit 1
    fi
    got=$(sha256sum "$tmp/deb/$name"/*.deb | cut -d' ' -f1)
    if [ "$got" != "$digest" ]; then
        echo "make-corpus: $pin has sha256 $got, expected $digest" >&2; exit 1
    fi
    dpkg-deb -x "$tmp/deb/$name"/*.deb "$tmp/root"
done <<< "$pins"
"$python" - "$tmp/root/usr/share/doc" "$out.partial" <<'PY'
import hashlib, html.parser, os, re, sys
doc, out = sys.argv[1], sys.argv[2]

class Text(html.parser.HTMLParser):
    """An HTML page's text: blocks on their own lines; scripts, styles and the navigation
    that every page repeats left out (it would weigh as much as a book of boilerplate)."""
    skipTags = {"script", "style", "head"}
    skipClasses = {"navheader", "navfooter", "sphinxsidebar", "related", "footer", "navigation", "toc", "headerlink"}
    skipIds = {"hd", "ft", "global-nav"}
    void = {"br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "track", "wbr"}
    block = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "tr", "dt", "dd", "table", "blockquote", "section"}
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.open, self.skipping = [], [], 0
    def handle_starttag(self, tag, attrs):
        if tag in self.void:
            if tag == "br" and not self.skipping: self.out.append("\n")
            return
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        skip = self.skipping > 0 or tag in self.skipTags or bool(classes & self.skipClasses) or attrs.get("id") in self.skipIds
        self.open.append((tag, skip))
        if skip: self.skipping += 1
        elif tag in self.block: self.out.append("\n")
    def handle_endtag(self, tag):
        if tag in self.void: return
        for i in range(len(self.open) - 1, -1, -1):  # close up to the matching tag: pages are not always well nested
            if self.open[i][0] == tag:
                self.skipping -= sum(1 for _, s in self.open[i:] if s)
                del self.open[i:]
                break
        if not self.skipping and tag in self.block: self.out.append("\n")
    def handle_data(self, data):
        if not self.skipping: self.out.append(data)

def text_of_html(page):
    parser = Text(); parser.feed(page); parser.close()
    lines = "\n".join(line.rstrip() for line in "".join(parser.out).splitlines())
    return re.sub(r"\n{3,}", "\n\n", lines).strip() + "\n"

# (folder under /usr/share/doc, which files, how to read one)
sources = [
    ("linux-doc-6.1/html/_sources", lambda p: p.endswith(".rst.txt") and not p.startswith("translations/"), None),
    ("python3.11/html/_sources", lambda p: p.endswith(".rst.txt"), None),
    ("perl-doc", lambda p: p.endswith(".pod"), None),
    ("postgresql-doc-15/html", lambda p: p.endswith(".html"), text_of_html),
    ("python-django-doc/html", lambda p: p.endswith(".html") and not p.startswith(("_modules/", "genindex", "py-modindex", "search")), text_of_html),
    ("git-doc", lambda p: p.endswith(".txt"), None),
]
# perl-doc's pods live under /usr/share/perl; follow the package's own layout
perl = os.path.join(doc, "..", "perl")
documents = []
for folder, wanted, convert in sources:
    root = perl if folder == "perl-doc" else os.path.join(doc, folder)
    paths = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
    for path in (p for p in paths if wanted(p)):
        name = "perl/" + path if folder == "perl-doc" else folder.split("/")[0] + "/" + path
        documents.append((name, os.path.join(root, path), convert))
# Documents in the order of their names' sha256: the six sources interleaved, so the last
# tenth of the text that `evolve data prepare` holds out for validation is a sample of all.
documents.sort(key=lambda d: hashlib.sha256(d[0].encode()).hexdigest())
files = written = 0
with open(out, "w", encoding="utf-8", newline="\n") as o:
    for name, path, convert in documents:
        with open(path, "rb") as f: data = f.read()
        try: page = data.decode("utf-8")
        except UnicodeDecodeError: continue
        page = page.replace("\r\n", "\n")
        if convert: page = convert(page)
        o.write(f"\n# file: {name}\n{page}")
        files += 1; written += len(page.encode())
print(f"{files} documents, {written / 1e6:.1f} MB", file=sys.stderr)
PY
digest=$(sha256sum "$out.partial" | cut -d' ' -f1)
if [ "$expected" != "$digest" ]; then
    echo "make-corpus: the corpus made has sha256 $digest, expected $expected (a changed script or Python html.parser?)" >&2; rm -f "$out.partial"
    exit 1
fi
mv "$out.partial" "$out"
echo "corpus=$out bytes=$(stat -c %s "$out") sha256=$digest"
