#!/bin/sh
# Check deploy/filterd.service with `systemd-analyze verify`, pointing
# ExecStart at the daemon just built (the installed path does not exist
# here). Skips (exit 77) where systemd-analyze is not installed.
set -eu
src=${1:?usage: verify-unit.sh SOURCE_DIR FILTERD}
daemon=${2:?usage: verify-unit.sh SOURCE_DIR FILTERD}
# A private user namespace hides every client's uid (SO_PEERCRED gives 65534):
# run-unit.sh shows it where systemd runs; this catches it everywhere.
if grep -qE '^PrivateUsers=(yes|true|on|1|self|identity|full)' "$src/deploy/filterd.service"; then
    echo "deploy/filterd.service sets PrivateUsers=: clients would all be uid 65534"; exit 1
fi
command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not installed: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/local/sbin/filterd|$daemon|" "$src/deploy/filterd.service" > "$dir/filterd.service"
out=$(systemd-analyze verify "$dir/filterd.service" 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on some warnings; any line about the unit is a finding.
if [ -n "$out" ]; then echo "$out"; exit 1; fi
echo "filterd.service: systemd-analyze verify OK"
