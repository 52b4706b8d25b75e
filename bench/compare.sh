#!/bin/sh
# bench/compare.sh — daemon CPU per check of two daemons in the same run:
# BEFORE and AFTER build directories (each with a filterd; fd_loadgen from
# AFTER), on the bundled rules, audit log off and --audit-level all,
# pipelined (4 connections x depth 64) and at a fixed rate (5000 checks/s
# over 8 connections). The daemons take turns, ROUNDS times, so that load
# from elsewhere on the machine hits both alike; prints fd_loadgen's table
# (us/chk = daemon CPU per check) and a summary of the medians.
#
# usage: bench/compare.sh BEFORE_BUILD AFTER_BUILD [ROUNDS] [SECONDS]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=$(cd "${1:?usage: compare.sh BEFORE_BUILD AFTER_BUILD [ROUNDS] [SECONDS]}" && pwd)
AFTER=$(cd "${2:?}" && pwd)
ROUNDS=${3:-3}
SECS=${4:-2}
LG="$AFTER/fd_loadgen"
RULES="$ROOT/rules"
for f in "$BEFORE/filterd" "$AFTER/filterd" "$LG"; do
    [ -x "$f" ] || { echo "compare.sh: $f missing" >&2; exit 1; }
done
TMP=$(mktemp -d /tmp/fd-cmp-XXXXXX)
DPID=""
cleanup() {
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        kill -TERM "$DPID" 2>/dev/null || true
        wait "$DPID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
SOCK="$TMP/fd.sock"

start() { # BUILD AUDIT
    rm -f "$TMP/audit.log"
    set -- "$1/filterd" --rules "$RULES" --socket "$SOCK" --threads 2 \
        $( [ "$2" = all ] && echo "--audit $TMP/audit.log --audit-level all" )
    : > "$TMP/daemon.log"
    "$@" 2>>"$TMP/daemon.log" &
    DPID=$!
    n=0
    until grep -q 'ready: listening on' "$TMP/daemon.log"; do
        kill -0 "$DPID" 2>/dev/null || { cat "$TMP/daemon.log" >&2; exit 1; }
        n=$((n + 1)); [ $n -lt 2400 ] || { echo "not ready" >&2; exit 1; }
        sleep 0.05
    done
}
stop() {
    kill -TERM "$DPID"; wait "$DPID" || true; DPID=""
}
row() { # LABEL FLAGS...
    label=$1; shift
    "$LG" --socket "$SOCK" --pid "$DPID" --warmup 0.3 --duration "$SECS" --label "$label" \
        --json "$TMP/row.json" "$@" >"$TMP/row.txt" 2>&1 || true
    cat "$TMP/row.txt"
    us=$(sed -n 's/.*"daemon_cpu": {[^}]*"us_per_check": \([0-9.]*\).*/\1/p' "$TMP/row.json")
    echo "$label $us" >> "$TMP/summary"
}
"$LG" --table-header
r=1
while [ $r -le "$ROUNDS" ]; do
    for audit in off all; do
        for which in before after; do
            b=$BEFORE; [ $which = after ] && b=$AFTER
            start "$b" $audit
            row "$which audit=$audit pipelined" --connections 4 --depth 64
            row "$which audit=$audit rate5k" --connections 8 --rate 5000
            stop
        done
    done
    r=$((r + 1))
done
echo "== daemon CPU per check (µs), median of $ROUNDS rounds"
sort "$TMP/summary" | awk '
    { key = $1 " " $2 " " $3; v[key] = v[key] " " $4 }
    END { for (k in v) { n = split(v[k], a, " "); 
          for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
          printf "%-28s %s   (%s)\n", k, a[int((n + 1) / 2)], v[k] } }' | sort
