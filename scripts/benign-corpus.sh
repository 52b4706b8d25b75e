#!/bin/sh
# Render a benign corpus for `filterctl rules import --benign` from Debian
# packages: the Chinese man pages of manpages-zh (zh_CN, as plain UTF-8
# text, one paragraph per blank-line-separated block, each paragraph on one
# line so that no rendering line break splits a word) and the Chinese
# fortunes of fortunes-zh (used in place: `%` lines separate fortunes).
#
#   scripts/benign-corpus.sh DEST [half]
#
# DEST/man/manN/PAGE.txt is written for every page; with `half`, the pages
# are split by their sorted order into DEST/a (odd) and DEST/b (even), for
# measuring the gate on text it did not see (bench/README.md). Prints the
# --benign arguments to use. Needs manpages-zh, fortunes-zh and groff-base.
set -eu
dest=${1:?usage: scripts/benign-corpus.sh DEST [half]}
half=${2:-}
src=/usr/share/man/zh_CN
[ -d "$src" ] || { echo "benign-corpus: $src missing: apt-get install manpages-zh" >&2; exit 1; }
command -v groff >/dev/null || { echo "benign-corpus: groff missing" >&2; exit 1; }
n=0
for f in $(find "$src" -name '*.gz' | LC_ALL=C sort); do
    n=$((n + 1))
    sub=man
    if [ "$half" = half ]; then
        sub=a
        [ $((n % 2)) -eq 0 ] && sub=b
    fi
    sec=$(basename "$(dirname "$f")")
    mkdir -p "$dest/$sub/$sec"
    # A line length far beyond any paragraph: one paragraph, one line; then
    # runs of spaces (centred headers, indentation) as one.
    zcat "$f" | groff -mandoc -Tutf8 -P-cbou -K utf8 -rLL=32000n 2>/dev/null |
        sed -e 's/  */ /g' -e 's/ *$//' >"$dest/$sub/$sec/$(basename "$f" .gz).txt" || true
done
F=/usr/share/games/fortunes
part=man
[ "$half" = half ] && part=a
echo "--benign $F/chinese --benign $F/song100 --benign $F/tang300 --benign $dest/$part"
