#!/usr/bin/env bash
# Benchmark: Chronik against a peer broker on the same machine, same load.
#
#   scripts/bench.sh                               # 20 s runs, 3 repeats
#   BENCH_DURATION=10 BENCH_REPEAT=1 scripts/bench.sh
#   BENCH_BROKERS=chronik scripts/bench.sh         # Chronik only
#
# The peer is franz-go's kfake (tests/peers/kfake) as one broker with a data
# directory and an fsync per batch, like Chronik's default --fsync always.
# For each repeat and each broker: start it fresh (new data directory,
# loopback port), then run with bin/chronik bench:
#   produce 1 KiB records, 6 partitions, acks=all, idempotent, BENCH_DURATION
#   produce 100 B records, same settings
#   a latency run: 1 KiB records at BENCH_LATENCY_RATE records/s, linger 0
#   consume the 1 KiB topic and the 100 B topic from the start
# then, on another fresh broker, produce the same number of 1 KiB records
# (BENCH_VOLUME_RECORDS) to every broker: CPU per MiB at equal volume. On a
# VM the cost of a MiB written rises once the page cache outgrows the memory
# the host still backs (docs/benchmarks.md, "Produce CPU per MiB over a
# run"), so a broker that writes more in the timed run pays more per MiB.
# and measure the broker's CPU time (utime+stime from /proc/PID/stat around
# each run) and peak RSS (VmHWM from /proc/PID/status, at the end). Prints
# the medians over the repeats and the Chronik/peer ratio of each row.
#
# Settings (environment):
#   BENCH_DURATION          seconds (or a Go duration) per throughput run (20)
#   BENCH_REPEAT            repeats (3)
#   BENCH_LATENCY_RATE      records/s of the latency run (1000)
#   BENCH_LATENCY_DURATION  seconds of the latency run (10)
#   BENCH_PARTITIONS        partitions of each topic (6)
#   BENCH_VOLUME_RECORDS    1 KiB records of the equal-volume run (3000000, 2.9 GiB; 0: no such run)
#   BENCH_BROKERS           which brokers, in order ("chronik kfake"); also chronik-drop (--page-cache-tail 32 MiB)
#                           and chronik-copy (--fetch-copy: no sendfile)
#   BENCH_DIR               work directory (default: a new one under $TMPDIR)
#   BENCH_KEEP=1            keep the work directory (logs, JSON results, results.tsv)
#   BENCH_KEEP_DATA=1       keep each broker's data directory too (GiBs; it also
#                           keeps the data in the page cache, which changes
#                           what later runs measure)
# Needs: go, jq, awk, and Linux /proc.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

secs() { case "$1" in *[a-z]*) echo "$1" ;; *) echo "${1}s" ;; esac; }
DURATION="$(secs "${BENCH_DURATION:-20}")"
REPEAT="${BENCH_REPEAT:-3}"
LAT_RATE="${BENCH_LATENCY_RATE:-1000}"
LAT_DURATION="$(secs "${BENCH_LATENCY_DURATION:-10}")"
PARTITIONS="${BENCH_PARTITIONS:-6}"
VOLUME="${BENCH_VOLUME_RECORDS:-3000000}"
BROKERS="${BENCH_BROKERS:-chronik kfake}"
WORK="${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/chronik-bench.XXXXXX")}"
mkdir -p "$WORK"
RESULTS="$WORK/results.tsv" # broker repeat metric value
: >"$RESULTS"
CLK_TCK="$(getconf CLK_TCK)"

for tool in go jq awk; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

echo "bench: building bin/chronik and bin/kfake-peer" >&2
go build -o bin/chronik ./cmd/chronik
(cd tests/peers/kfake && go build -o "$ROOT/bin/kfake-peer" .)
CHRONIK="$ROOT/bin/chronik"

BPID=""
cleanup() {
  if [ -n "$BPID" ] && kill -0 "$BPID" 2>/dev/null; then
    kill "$BPID" 2>/dev/null || true
    wait "$BPID" 2>/dev/null || true
  fi
  if [ "${BENCH_KEEP:-}" = 1 ]; then
    echo "bench: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# cpu_seconds PID: user+system CPU time of the process so far. Fields 14
# and 15 of /proc/PID/stat, counted after the ")" that ends the name.
cpu_seconds() {
  sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$CLK_TCK" '{ printf "%.3f\n", ($12 + $13) / hz }'
}

peak_rss_mib() { awk '/^VmHWM:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"; }

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

# start_broker NAME DATA PORT: starts it in the background, sets BPID, and
# waits until it accepts connections.
start_broker() {
  local name=$1 data=$2 port=$3 log="$WORK/$1.log"
  echo "--- $name on 127.0.0.1:$port, data $data" >>"$log"
  case "$name" in
    chronik)
      "$CHRONIK" start --bind-addr 127.0.0.1 --kafka-port "$port" --metrics-port 0 \
        --data-dir "$data" --log-level warn >>"$log" 2>&1 &
      ;;
    chronik-drop) # Chronik dropping synced data but the last 32 MiB a partition from the page cache
      "$CHRONIK" start --bind-addr 127.0.0.1 --kafka-port "$port" --metrics-port 0 \
        --data-dir "$data" --log-level warn --page-cache-tail 33554432 >>"$log" 2>&1 &
      ;;
    chronik-copy) # Chronik copying fetched records through the broker (no sendfile)
      "$CHRONIK" start --bind-addr 127.0.0.1 --kafka-port "$port" --metrics-port 0 \
        --data-dir "$data" --log-level warn --fetch-copy >>"$log" 2>&1 &
      ;;
    kfake)
      "$ROOT/bin/kfake-peer" -port "$port" -data-dir "$data" >>"$log" 2>&1 &
      ;;
    *) echo "bench: unknown broker $name" >&2; exit 1 ;;
  esac
  BPID=$!
  local i
  for i in $(seq 1 300); do
    kill -0 "$BPID" 2>/dev/null || { echo "bench: $name exited during start-up; see $log" >&2; BPID=""; exit 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: $name did not listen on $port within 30 s" >&2
  exit 1
}

stop_broker() {
  kill "$BPID" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    kill -0 "$BPID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$BPID" 2>/dev/null || true
  wait "$BPID" 2>/dev/null || true
  BPID=""
}

# measure NAME REP RUN ARGS...: runs `chronik bench ARGS --json` against the
# broker and records its JSON report and the broker's CPU seconds.
measure() {
  local name=$1 rep=$2 run=$3
  shift 3
  local out="$WORK/$name-$rep-$run.json" before after rc=0
  before="$(cpu_seconds "$BPID")"
  "$CHRONIK" bench "$@" --bootstrap "127.0.0.1:$PORT" --json --quiet >"$out" 2>"$WORK/$name-$rep-$run.err" || rc=$?
  if [ "$rc" != 0 ]; then
    echo "bench: $name $run: exit $rc: $(tail -n 3 "$WORK/$name-$rep-$run.err")" >&2
  fi
  after="$(cpu_seconds "$BPID")"
  record "$name" "$rep" "$run.cpu_s" "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f", a - b }')"
  if [ -s "$out" ]; then
    jq -r --arg p "$run" 'to_entries[] | select(.value | type == "number") | "\($p).\(.key)\t\(.value)"' "$out" |
      while IFS=$'\t' read -r k v; do record "$name" "$rep" "$k" "$v"; done
    jq -r --arg p "$run" '.latency_ms // {} | to_entries[] | "\($p).lat_\(.key)\t\(.value)"' "$out" |
      while IFS=$'\t' read -r k v; do record "$name" "$rep" "$k" "$v"; done
  fi
}

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: $REPEAT repeats of: produce 1 KiB and 100 B for $DURATION, $LAT_RATE records/s for $LAT_DURATION, consume both; brokers: $BROKERS" >&2
for rep in $(seq 1 "$REPEAT"); do
  for name in $BROKERS; do
    PORT="$(free_port)"
    DATA="$WORK/data-$name-$rep"
    start_broker "$name" "$DATA" "$PORT"
    echo "bench: repeat $rep/$REPEAT: $name (pid $BPID)" >&2
    common=(--partitions "$PARTITIONS" --acks all --idempotent)
    measure "$name" "$rep" p1k produce --topic bench-1k --record-size 1024 --duration "$DURATION" "${common[@]}"
    measure "$name" "$rep" p100 produce --topic bench-100b --record-size 100 --duration "$DURATION" "${common[@]}"
    measure "$name" "$rep" lat produce --topic bench-lat --record-size 1024 --rate "$LAT_RATE" --duration "$LAT_DURATION" --linger 0 "${common[@]}"
    measure "$name" "$rep" c1k consume --topic bench-1k
    measure "$name" "$rep" c100 consume --topic bench-100b
    record "$name" "$rep" rss_mib "$(peak_rss_mib "$BPID")"
    stop_broker
    [ "${BENCH_KEEP_DATA:-}" = 1 ] || rm -rf "$DATA"
    if [ "$VOLUME" -gt 0 ]; then
      PORT="$(free_port)"
      DATA="$WORK/data-$name-$rep-volume"
      start_broker "$name" "$DATA" "$PORT"
      measure "$name" "$rep" v1k produce --topic bench-volume --record-size 1024 --records "$VOLUME" "${common[@]}"
      stop_broker
      [ "${BENCH_KEEP_DATA:-}" = 1 ] || rm -rf "$DATA"
    fi
  done
done

# ---- report ---------------------------------------------------------------
# Medians over repeats, derived rows (CPU seconds per MiB), and the ratio.
report() {
  awk -F'\t' -v brokers="$BROKERS" '
    { v[$1, $3] = v[$1, $3] " " $4; seen[$1] = 1 }
    function median(s,    a, n, i, j, t) {
      n = split(s, a, " ")
      if (n == 0) return ""
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function m(b, k) { return median(v[b, k]) }
    END {
      nb = split(brokers, B, " ")
      rows = 0
      # name|key|format|better
      R[++rows] = "produce 1 KiB: records/s|p1k.records_per_sec|%.0f|higher"
      R[++rows] = "produce 1 KiB: MiB/s|p1k.mib_per_sec|%.1f|higher"
      R[++rows] = "produce 1 KiB: p99 latency ms (saturated)|p1k.lat_p99|%.1f|lower"
      R[++rows] = "produce 100 B: records/s|p100.records_per_sec|%.0f|higher"
      R[++rows] = "produce 100 B: MiB/s|p100.mib_per_sec|%.2f|higher"
      R[++rows] = "latency @" ENVIRON["LAT_RATE"] "/s: p50 ms|lat.lat_p50|%.2f|lower"
      R[++rows] = "latency @" ENVIRON["LAT_RATE"] "/s: p99 ms|lat.lat_p99|%.2f|lower"
      R[++rows] = "latency @" ENVIRON["LAT_RATE"] "/s: p99.9 ms|lat.lat_p999|%.2f|lower"
      R[++rows] = "consume 1 KiB: records/s|c1k.records_per_sec|%.0f|higher"
      R[++rows] = "consume 1 KiB: MiB/s|c1k.mib_per_sec|%.1f|higher"
      R[++rows] = "consume 100 B: records/s|c100.records_per_sec|%.0f|higher"
      R[++rows] = "broker CPU s per MiB, produce 1 KiB|p1k.cpu_per_mib|%.4f|lower"
      R[++rows] = "broker CPU s per MiB, produce 100 B|p100.cpu_per_mib|%.4f|lower"
      R[++rows] = "produce 1 KiB, equal volume: records/s|v1k.records_per_sec|%.0f|higher"
      R[++rows] = "broker CPU s per MiB, 1 KiB equal volume|v1k.cpu_per_mib|%.4f|lower"
      R[++rows] = "broker CPU s per MiB, consume 1 KiB|c1k.cpu_per_mib|%.4f|lower"
      R[++rows] = "broker peak RSS MiB|rss_mib|%.0f|lower"
      printf "%-42s", "metric (median)"
      for (i = 1; i <= nb; i++) printf " %14s", B[i]
      if (nb >= 2) printf " %14s", B[1] "/" B[2]
      printf "  %s\n", "better"
      for (r = 1; r <= rows; r++) {
        split(R[r], f, "|")
        printf "%-42s", f[1]
        for (i = 1; i <= nb; i++) {
          x[i] = m(B[i], f[2])
          if (x[i] == "") printf " %14s", "n/a"; else printf " %14s", sprintf(f[3], x[i])
        }
        if (nb >= 2) {
          if (x[1] == "" || x[2] == "" || x[2] + 0 == 0) printf " %14s", "n/a"
          else printf " %14s", sprintf("%.2f", x[1] / x[2])
        }
        printf "  %s\n", f[4]
      }
    }' "$RESULTS"
}

# CPU seconds per MiB, per repeat: from the run's CPU seconds and its bytes.
awk -F'\t' '
  { k = $1 SUBSEP $2; v[k, $3] = $4; keys[k] = 1 }
  END {
    for (k in keys) {
      split(k, kb, SUBSEP)
      n = split("p1k:bytes_acked p100:bytes_acked c1k:bytes v1k:bytes_acked", runs, " ")
      for (i = 1; i <= n; i++) {
        split(runs[i], rf, ":")
        b = v[k, rf[1] "." rf[2]]; c = v[k, rf[1] ".cpu_s"]
        if (b + 0 > 0) printf "%s\t%s\t%s.cpu_per_mib\t%.6f\n", kb[1], kb[2], rf[1], c / (b / 1048576)
      }
    }
  }' "$RESULTS" >>"$RESULTS"

echo
echo "Chronik benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -r), $(go env GOVERSION)"
echo "load generator and broker share the machine; $PARTITIONS partitions, acks=all, idempotent; $REPEAT repeats, $DURATION per throughput run; equal volume: $VOLUME records of 1 KiB on a fresh broker"
echo "load average (1/5/15 min) at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg) (the bench itself adds about 2; more means other work competed for the cores)"
echo
export LAT_RATE
report
