#!/bin/sh
# Start filterd the way deploy/filterd.service does — every property of its
# [Service] section, through `systemd-run` — and check what the unit does
# to the daemon's view of its clients: a check from another user must be
# recorded with that user's real uid in the audit record's `peer`, and
# that user must get `forbidden` for reload while root may reload. (With
# PrivateUsers=yes every client showed up as uid 65534.)
#
# Needs a running systemd (PID 1) and root. Skips (exit 77) elsewhere —
# e.g. in containers without systemd, where this cannot be tested; then
# only `systemd-analyze verify` (verify-unit.sh) runs.
#
# usage: run-unit.sh SOURCE_DIR FILTERD FILTERCTL
set -eu
src=${1:?usage: run-unit.sh SOURCE_DIR FILTERD FILTERCTL}
daemon=${2:?}
ctl=${3:?}
skip() { echo "skipped: $*"; exit 77; }
[ -d /run/systemd/system ] || skip "systemd is not running here (no /run/systemd/system)"
[ "$(id -u)" -eq 0 ] || skip "needs root (systemd-run on the system manager)"
command -v systemd-run >/dev/null 2>&1 || skip "systemd-run not installed"
command -v setpriv >/dev/null 2>&1 || skip "setpriv not installed"
client_uid=65533 # any uid other than root, the daemon's and 65534

unit=filterd-unit-test-$$
base=/run/$unit
dir=$(mktemp -d /run/filterd-unit-test.XXXXXX)
cleanup() {
    systemctl stop "$unit" >/dev/null 2>&1 || true
    systemctl reset-failed "$unit" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
# The daemon and the rules where the unit's sandbox can read them
# (ProtectHome= hides /home and /root, PrivateTmp= hides /tmp).
cp "$daemon" "$dir/filterd"
cp -r "$src/rules" "$dir/rules"
chmod -R go-w "$dir"
chmod 0755 "$dir"

# Every [Service] property of the unit, except what names installed paths
# or the service user (replaced below) and what only makes sense installed.
sed -n '/^\[Service\]/,/^\[/p' "$src/deploy/filterd.service" |
    grep -E '^[A-Za-z]+=' |
    grep -vE '^(ExecStart|ExecReload|User|Group|Restart|RestartSec|Type|NotifyAccess)=' \
        >"$dir/props"
set --
while IFS= read -r p; do set -- "$@" -p "$p"; done <"$dir/props"
systemd-run --unit "$unit" --service-type=notify -p NotifyAccess=main \
    -p User=nobody -p Group=nogroup -p RuntimeDirectory="$(basename "$base")" \
    -p ReadOnlyPaths="$dir" "$@" \
    "$dir/filterd" --rules "$dir/rules" --socket "$base/filterd.sock" --socket-mode 0666 \
    --audit "$base/audit.log" --audit-level all --threads 1 ||
    { journalctl -u "$unit" --no-pager | tail -20; exit 1; }

sock=$base/filterd.sock
out=$(setpriv --reuid=$client_uid --regid=$client_uid --clear-groups \
    "$ctl" --socket "$sock" check "how to make a bomb" || true)
echo "$out" | grep -q block || { echo "check failed: $out"; exit 1; }
grep -q "\"uid\":$client_uid," "$base/audit.log" ||
    { echo "audit peer is not the client's uid:"; cat "$base/audit.log"; exit 1; }
if grep -q '"uid":65534,' "$base/audit.log"; then
    echo "a client was recorded as uid 65534 (PrivateUsers?)"; exit 1
fi
r=$(setpriv --reuid=$client_uid --regid=$client_uid --clear-groups \
    "$ctl" --socket "$sock" reload 2>&1 || true)
echo "$r" | grep -q forbidden || { echo "reload by uid $client_uid not forbidden: $r"; exit 1; }
"$ctl" --socket "$sock" reload >/dev/null || { echo "reload by root refused"; exit 1; }
echo "filterd.service under systemd-run: peer credentials intact, reload policy holds"
