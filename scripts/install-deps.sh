#!/bin/sh
# Install the Debian packages filterd needs to build, test and run, and the
# test-only npm packages of tests/clients (from its lock file, `npm ci`).
# Idempotent and quick when everything is already present: apt is only
# called when a package is missing, npm only when the lock file changed.
# Needs root (or sudo) on Debian 12.
set -eu
cd "$(dirname "$0")/.."

# zlib1g-dev: filterctl reads .gz audit files. libxml2-utils (xmllint) and
# chromium (headless screenshot) + fonts-wqy-microhei (CJK glyphs): the
# audit report's tests; chromium is large (~100 MB installed), accepted so
# CI proves the report renders in a real browser.

PKGS="build-essential cmake pkg-config git
libvectorscan-dev libpcre2-dev libuv1-dev libcjson-dev libcriterion-dev
libutf8proc-dev libssl-dev unicode-data bzip2 libicu-dev opencc
fortunes fortunes-zh manpages-zh groff-base
clang libclang-rt-14-dev llvm clang-format
node-llhttp curl prometheus python3
zlib1g-dev libxml2-utils chromium fonts-wqy-microhei"
# manpages-zh, groff-base: the benign corpus of rules import
# (scripts/benign-corpus.sh, bench/import.sh).
# node-llhttp: llhttp's C sources, compiled by filterd/doors/CMakeLists.txt.
# curl, python3, prometheus (promtool), node + npm: the real clients of the
# HTTP tests (tests/integration/test_http*.c, tests/clients).

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

# Node may come from elsewhere (NodeSource); only without one take Debian's.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"

if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    echo "install-deps: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $missing
fi

# Test-only npm packages (the official OpenAI SDK), exactly as locked.
lock=tests/clients/package-lock.json
stamp=tests/clients/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    echo "install-deps: npm ci in tests/clients" >&2
    npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error
fi
