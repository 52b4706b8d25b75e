#!/bin/sh
# Install the Debian packages filterd needs to build, test and run.
# Idempotent and quick when everything is already present: apt is only
# called when a package is missing. Needs root (or sudo) on Debian 12.
set -eu

# zlib1g-dev: filterctl reads .gz audit files. libxml2-utils (xmllint) and
# chromium (headless screenshot) + fonts-wqy-microhei (CJK glyphs): the
# audit report's tests; chromium is large (~100 MB installed), accepted so
# CI proves the report renders in a real browser.

PKGS="build-essential cmake pkg-config git
libvectorscan-dev libpcre2-dev libuv1-dev libcjson-dev libcriterion-dev
libutf8proc-dev libssl-dev unicode-data bzip2
fortunes fortunes-zh
clang libclang-rt-14-dev llvm clang-format
zlib1g-dev libxml2-utils chromium fonts-wqy-microhei"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
