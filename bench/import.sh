#!/bin/sh
# Vendor keyword lists at scale (bench/README.md, "Vendor lists"); not part of make test.
#
#   bench/import.sh [BUILD_DIR] [LIST...]
#
# 1. A benign corpus from Debian (scripts/benign-corpus.sh): the Chinese man pages of
#    manpages-zh split in two halves, a and b, and the Chinese fortunes of fortunes-zh.
# 2. A synthetic 65,536-keyword list shaped like the public vendor lists
#    (fd_importbench list), its everyday words cut from all of that text.
# 3. For it and for every LIST given (a real vendor list; never commit one): the block
#    rate on the paragraphs of half b (fd_importbench rate) of three rule files: "plain",
#    every line a normalized literal (what the import did before SPEC 3.5: only C0
#    controls dropped), "nogate", rules import without a corpus, and "gate", rules
#    import with --benign fortunes-zh + half a; and the import counts.
# 4. For the synthetic list: compile time, peak and steady RSS, 20 reloads
#    (fd_importbench memory).
# BENCH_CORPUS=DIR reuses a corpus rendered before (about 3 minutes to render).
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
ctl=$build/filterctl
ib=$build/fd_importbench
[ -x "$ctl" ] && [ -x "$ib" ] || { echo "import.sh: build $build first (filterctl, fd_importbench)" >&2; exit 1; }
work=$(mktemp -d /tmp/fd-import-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
corpus=${BENCH_CORPUS:-$work/corpus}
if [ ! -d "$corpus/a" ]; then
    echo "rendering manpages-zh into $corpus ..."
    scripts/benign-corpus.sh "$corpus" half >/dev/null
fi
F=/usr/share/games/fortunes
gate="--benign $F/chinese --benign $F/song100 --benign $F/tang300 --benign $corpus/a"
"$ib" list 65536 20261206 $F/chinese $F/song100 $F/tang300 "$corpus/a" "$corpus/b" >"$work/synthetic.txt"

one() { # NAME LIST
    name=$1
    list=$2
    for mode in plain nogate gate; do
        d=$work/$name-$mode
        mkdir -p "$d"
        cp rules/categories.tsv "$d/"
        if [ $mode = plain ]; then
            "$ib" plain "$list" >"$d/vendor.rules"
            echo "plain: every line a normalized literal" >"$d/report"
        elif [ $mode = gate ]; then
            # shellcheck disable=SC2086
            "$ctl" rules import --category A1.8 $gate "$list" >"$d/vendor.rules" 2>"$d/report"
        else
            "$ctl" rules import --category A1.8 "$list" >"$d/vendor.rules" 2>"$d/report"
        fi
        printf '%-10s %-7s %s\n' "$name" "$mode" "$(tail -1 "$d/report")"
        printf '%-10s %-7s half b: %s\n' "$name" "$mode" "$("$ib" rate "$d" "$corpus/b" | head -1)"
    done
    "$ib" rate "$work/$name-gate" "$corpus/b" | tail -1 | sed "s/^/$name    gate    half b: /"
}

one synthetic "$work/synthetic.txt"
for l in "$@"; do
    one "$(basename "$l" .txt)" "$l"
done
echo "synthetic, gated, compile memory:"
"$ib" memory "$work/synthetic-gate" 20
