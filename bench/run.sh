#!/bin/sh
# bench/run.sh — end-to-end benchmark: starts the daemon of BUILD_DIR on a
# temporary socket, drives it with fd_loadgen over the socket, stops it with
# SIGTERM, prints one table and writes bench/results/e2e.json (quick mode:
# e2e-quick.json). Method and latest results: bench/README.md.
#
# usage: bench/run.sh [--quick] [BUILD_DIR]     (default build-bench)
#
# Runs, each with the audit log off and with --audit FILE --audit-level all:
#   - pipelined (closed loop): 4 connections x depth 64, as fast as it goes
#   - unpipelined (open loop): fixed rates of 1k/5k/10k checks/s over 8
#     connections, one request outstanding per connection
# on the bundled rules, and on a synthetic rule set of 10k keywords + 200
# regexes (fd_bench's 10k set; pipelined only, audit off only when quick).
# The full run adds closed-loop variants (4 x 16, 8 x 1) and a --threads 1
# daemon. Quick mode: shorter windows and fewer rows (about a minute).
set -eu

QUICK=0
if [ "${1:-}" = "--quick" ]; then
    QUICK=1
    shift
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$ROOT/build-bench}" && pwd)
RULES="$ROOT/rules"
RESULTS="$ROOT/bench/results"
LG="$B/fd_loadgen"
for f in "$B/filterd" "$LG"; do
    [ -x "$f" ] || { echo "run.sh: $f missing: build first (make bench-build)" >&2; exit 1; }
done
mkdir -p "$RESULTS"

if [ $QUICK = 1 ]; then
    PIPE_S=2 RATE_S=1.5 WARM=0.3 BASE=0.2
    OUT="$RESULTS/e2e-quick.json"
else
    PIPE_S=10 RATE_S=5 WARM=1 BASE=0.5
    OUT="$RESULTS/e2e.json"
fi

TMP=$(mktemp -d /tmp/fd-e2e-XXXXXX)
DPID=""
SYN=""
cleanup() {
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        kill -TERM "$DPID" 2>/dev/null || true
        wait "$DPID" 2>/dev/null || true
    fi
    if [ -n "$SYN" ]; then rm -rf "$SYN"; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$TMP/rows"
SOCK="$TMP/fd.sock"

# start_daemon RULEDIR AUDIT(off|all) [extra filterd flags]: start filterd
# in the background and return once it has logged its ready line (polled
# every 50 ms; gives up after 120 s or as soon as the daemon exits).
start_daemon() {
    rd=$1 audit=$2
    shift 2
    AUDITLOG="$TMP/audit.log"
    rm -f "$AUDITLOG"
    set -- --rules "$rd" --socket "$SOCK" "$@"
    if [ "$audit" = all ]; then
        set -- "$@" --audit "$AUDITLOG" --audit-level all
    fi
    : > "$TMP/daemon.log"
    "$B/filterd" "$@" 2>>"$TMP/daemon.log" &
    DPID=$!
    n=0
    until grep -q 'ready: listening on' "$TMP/daemon.log"; do
        if ! kill -0 "$DPID" 2>/dev/null; then
            echo "run.sh: filterd exited before it was ready:" >&2
            cat "$TMP/daemon.log" >&2
            DPID=""
            exit 1
        fi
        n=$((n + 1))
        if [ $n -gt 2400 ]; then
            echo "run.sh: filterd not ready after 120 s" >&2
            exit 1
        fi
        sleep 0.05
    done
    DRULES=$rd
    DESC="$(sed -n 's/.*ready: listening on [^ ]* (\([0-9]* threads\), \([0-9]* rules\).*/\1, \2/p' "$TMP/daemon.log")"
    echo "-- filterd pid $DPID: rules $(basename "$rd"), $DESC, audit $audit"
}

# stop_daemon: SIGTERM, wait for the exit, report what the audit log got.
stop_daemon() {
    kill -TERM "$DPID"
    rc=0
    wait "$DPID" || rc=$?
    DPID=""
    [ $rc -eq 0 ] || echo "   (filterd exited with status $rc)"
    if [ -e "$AUDITLOG" ]; then
        echo "   audit log: $(wc -c < "$AUDITLOG") bytes, $(wc -l < "$AUDITLOG") records"
    elif [ "$AUDIT" = all ]; then
        echo "   audit log: not written (--audit is still a no-op in this daemon)"
    fi
}

ROW=0
# row LABEL [fd_loadgen flags]: one fd_loadgen run against the daemon.
row() {
    label=$1
    shift
    ROW=$((ROW + 1))
    "$LG" --socket "$SOCK" --pid "$DPID" --rules "$DRULES" --cache-dir "$TMP/lgcache" \
        --warmup "$WARM" --baseline "$BASE" --label "$label" --json "$TMP/rows/$(printf %03d $ROW).json" "$@" ||
        echo "   (fd_loadgen: errors in $label, see its JSON)"
}

# One daemon configuration: pipelined, then the fixed rates.
config() {
    name=$1 rd=$2 AUDIT=$3
    shift 3
    start_daemon "$rd" "$AUDIT" "$@"
    row "$name audit=$AUDIT pipelined" --connections 4 --depth 64 --duration "$PIPE_S"
    if [ "$name" = bundled ]; then
        # HTTP/1.1 on the same socket, same messages, same daemon run:
        # keep-alive, pipelined and unpipelined, each next to its NDJSON twin.
        row "$name audit=$AUDIT http pipelined" --http --connections 4 --depth 64 --duration "$PIPE_S"
        row "$name audit=$AUDIT ndjson unpipelined" --connections 8 --depth 1 --duration "$RATE_S"
        row "$name audit=$AUDIT http unpipelined" --http --connections 8 --depth 1 --duration "$RATE_S"
    fi
    if [ $QUICK = 0 ] && [ "$name" = bundled ]; then
        row "$name audit=$AUDIT pipelined" --connections 4 --depth 16 --duration "$RATE_S"
        row "$name audit=$AUDIT unpipelined" --connections 8 --depth 1 --duration "$RATE_S"
    fi
    if [ "$name" = bundled ] || [ $QUICK = 0 ]; then
        for rate in 1000 5000 10000; do
            row "$name audit=$AUDIT fixed-rate" --connections 8 --rate $rate --duration "$RATE_S"
        done
    fi
    stop_daemon
}

CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MEM=$(free -h | awk '/^Mem:/ {print $2}')
echo "== end to end over the socket ($( [ $QUICK = 1 ] && echo quick || echo full )): $(nproc) CPUs ($CPU), $MEM RAM; daemon and loadgen share them"
echo "   messages ~1 KiB (fortunes); latency: µs from the scheduled send to the response (open loop:"
echo "   coordinated omission corrected); p99 snd: p99 from the actual send (without our own timer lag);"
echo "   idle-est = $(nproc) cores / (daemon + loadgen CPU per check): checks/s with nobody else on the machine;"
echo "   us/chk = daemon CPU per check (/proc/PID/task/*/schedstat; /proc/PID/stat in the JSON);"
echo "   /raw, /full = us/chk over in-process raw hs_scan / fd_scan CPU per message, same fd_loadgen run;"
echo "   dmn, lgen, other, all = CPU cores busy in the window: daemon, loadgen, everyone else, total"
"$LG" --table-header

config bundled "$RULES" off
config bundled "$RULES" all
if [ $QUICK = 0 ]; then
    config bundled-1thread "$RULES" off --threads 1
fi
SYN=$("$LG" --make-ruledir 10000)
config synthetic-10k "$SYN" off
if [ $QUICK = 0 ]; then
    config synthetic-10k "$SYN" all
fi

# HTTP vs NDJSON: daemon CPU per check, rows of the same daemon run.
echo "== daemon CPU per check, HTTP / NDJSON (same daemon, same messages):"
for f in "$TMP"/rows/*.json; do
    sed -n 's/.*"label": "\([^"]*\)".*"us_per_check_stat": [0-9.]*, "us_per_check": \([0-9.]*\).*/\1|\2/p' "$f"
done | awk -F'|' '
    { us[$1] = $2 }
    END {
        for (k in us) {
            if (k !~ / http /) continue
            n = k; sub(/ http /, " ", n)
            if (!(n in us)) { n = k; sub(/ http /, " ndjson ", n) }
            if ((n in us) && us[n] > 0)
                printf "   %-44s %7.2f us / %7.2f us = %.2fx\n", k, us[k], us[n], us[k] / us[n]
        }
    }'

# Assemble the JSON: the machine, then every row.
{
    printf '{"quick": %s, "date": "%s",\n' "$( [ $QUICK = 1 ] && echo true || echo false)" \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf ' "machine": {"nproc": %s, "cpu": "%s", "mem": "%s"},\n' "$(nproc)" "$CPU" "$MEM"
    printf ' "rows": [\n'
    sep=""
    for f in "$TMP"/rows/*.json; do
        printf '%s' "$sep"
        cat "$f"
        sep=","
    done
    printf ']}\n'
} > "$OUT"
echo "-> $OUT"
