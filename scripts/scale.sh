#!/usr/bin/env bash
# Scale limits of one Chronik broker, measured with the real binary.
#
#   scripts/scale.sh                    # all three parts
#   SCALE_PARTS="partitions conns" scripts/scale.sh
#
# Parts (SCALE_PARTS, default "partitions conns recovery"):
#   partitions  SCALE_TOPICS x SCALE_PARTITIONS partitions (100 x 100):
#               time to create them, to produce one record to every
#               partition, to fetch all of them back; restart after SIGTERM
#               and after kill -9 (time from start until Metadata answers);
#               broker RSS and open file descriptors after each step.
#   conns       SCALE_CONNS idle connections (5000), each after one
#               ApiVersions: broker RSS and fds with them open, and whether
#               a new client still gets Metadata and a produce through.
#   recovery    kill -9 then time-to-ready of a small data directory
#               (SCALE_SMALL_MB, 100) and of a large one (SCALE_LARGE_GB, 6),
#               both written by `chronik bench produce` with
#               segment.bytes=SCALE_SEGMENT_BYTES (16 MiB) so the large one
#               has hundreds of closed segments.
# Chronik keeps one file descriptor open per active segment (.log) and
# three per closed one (.log, .index, .timeindex), so SCALE_TOPICS x
# SCALE_PARTITIONS must stay under `ulimit -n` less the connections; a step
# that fails is reported and the part goes on.
# Other settings: SCALE_DIR (work directory, default under $TMPDIR, removed
# at the end unless SCALE_KEEP=1). Needs go, awk and Linux /proc. Raises
# `ulimit -n` to the hard limit (needs 2 x SCALE_CONNS + slack).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

PARTS="${SCALE_PARTS:-partitions conns recovery}"
TOPICS="${SCALE_TOPICS:-100}"
PPT="${SCALE_PARTITIONS:-100}"
CONNS="${SCALE_CONNS:-5000}"
SMALL_MB="${SCALE_SMALL_MB:-100}"
LARGE_GB="${SCALE_LARGE_GB:-6}"
SEGMENT_BYTES="${SCALE_SEGMENT_BYTES:-16777216}"
WORK="${SCALE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/chronik-scale.XXXXXX")}"
mkdir -p "$WORK"

ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "scale: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ulimit -n $(ulimit -n)" >&2

if [ $((TOPICS * PPT + 1000)) -gt "$(ulimit -n)" ]; then
  echo "scale: warning: $((TOPICS * PPT)) partitions need about $((TOPICS * PPT + 1000)) fds, ulimit -n is $(ulimit -n); creation will fail part way" >&2
fi
echo "scale: building bin/chronik and the client helper" >&2
go build -o bin/chronik ./cmd/chronik
CHRONIK="$ROOT/bin/chronik"

# The client helper: a small franz-go program, built from this module (its
# dependencies) in a temporary directory that `go ./...` ignores.
HDIR="$(mktemp -d "$ROOT/_scalehelper.XXXXXX")"
cat >"$HDIR/main.go" <<'GO'
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func die(err error) { fmt.Fprintln(os.Stderr, "scalehelper:", err); os.Exit(1) }

func main() {
	addr, mode := os.Args[1], os.Args[2]
	ctx := context.Background()
	switch mode {
	case "ready": // poll Metadata until it answers; print seconds waited
		t0 := time.Now()
		deadline := t0.Add(10 * time.Minute)
		for time.Now().Before(deadline) {
			if metadataOnce(addr) == nil {
				fmt.Printf("%.3f\n", time.Since(t0).Seconds())
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		die(fmt.Errorf("not ready after 10m"))
	case "create": // create TOPICS x PARTS: topics scale-0..N-1
		nt, _ := strconv.Atoi(os.Args[3])
		np, _ := strconv.Atoi(os.Args[4])
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			die(err)
		}
		adm := kadm.NewClient(cl)
		for i := 0; i < nt; i += 10 {
			var names []string
			for j := i; j < i+10 && j < nt; j++ {
				names = append(names, fmt.Sprintf("scale-%d", j))
			}
			rs, err := adm.CreateTopics(ctx, int32(np), 1, nil, names...)
			if err != nil {
				die(err)
			}
			if err := rs.Error(); err != nil {
				die(err)
			}
		}
	case "produce": // one record to every partition of every scale- topic
		nt, _ := strconv.Atoi(os.Args[3])
		np, _ := strconv.Atoi(os.Args[4])
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
		if err != nil {
			die(err)
		}
		recs := make([]*kgo.Record, 0, nt*np)
		for t := 0; t < nt; t++ {
			for p := 0; p < np; p++ {
				recs = append(recs, &kgo.Record{Topic: fmt.Sprintf("scale-%d", t), Partition: int32(p), Value: []byte("hello")})
			}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			die(err)
		}
		cl.Close()
	case "fetch": // read every partition from the start until one record each
		nt, _ := strconv.Atoi(os.Args[3])
		np, _ := strconv.Atoi(os.Args[4])
		parts := map[string]map[int32]kgo.Offset{}
		for t := 0; t < nt; t++ {
			m := map[int32]kgo.Offset{}
			for p := 0; p < np; p++ {
				m[int32(p)] = kgo.NewOffset().AtStart()
			}
			parts[fmt.Sprintf("scale-%d", t)] = m
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(parts))
		if err != nil {
			die(err)
		}
		want, got := nt*np, 0
		cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		for got < want {
			fs := cl.PollFetches(cctx)
			if cctx.Err() != nil {
				die(fmt.Errorf("fetched %d of %d records", got, want))
			}
			got += fs.NumRecords()
		}
		cl.Close()
	case "idle": // open N connections, one ApiVersions each, hold them until SIGTERM
		n, _ := strconv.Atoi(os.Args[3])
		conns := make([]net.Conn, 0, n)
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 0
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				die(fmt.Errorf("connection %d: %w", i, err))
			}
			if err := apiVersions(c, req, int32(i)); err != nil {
				die(fmt.Errorf("connection %d: %w", i, err))
			}
			conns = append(conns, c)
		}
		fmt.Println("open", len(conns))
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		// check they are still open: one more ApiVersions on each
		alive := 0
		for i, c := range conns {
			if apiVersions(c, req, int32(i)) == nil {
				alive++
			}
		}
		fmt.Println("alive", alive)
	default:
		die(fmt.Errorf("unknown mode %s", mode))
	}
}

func metadataOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1
	return roundTrip(c, req, 1)
}

func apiVersions(c net.Conn, req *kmsg.ApiVersionsRequest, id int32) error {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	return roundTrip(c, req, id)
}

func roundTrip(c net.Conn, req kmsg.Request, id int32) error {
	body := req.AppendTo(nil)
	hdr := make([]byte, 0, 32)
	hdr = appendI16(hdr, req.Key())
	hdr = appendI16(hdr, req.GetVersion())
	hdr = appendI32(hdr, id)
	hdr = appendI16(hdr, 5)
	hdr = append(hdr, "scale"...)
	msg := appendI32(nil, int32(len(hdr)+len(body)))
	msg = append(append(msg, hdr...), body...)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	var sz [4]byte
	if _, err := readFull(c, sz[:]); err != nil {
		return err
	}
	n := int(uint32(sz[0])<<24 | uint32(sz[1])<<16 | uint32(sz[2])<<8 | uint32(sz[3]))
	buf := make([]byte, n)
	_, err := readFull(c, buf)
	return err
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func appendI16(b []byte, v int16) []byte { return append(b, byte(v>>8), byte(v)) }
func appendI32(b []byte, v int32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
GO
go build -o "$WORK/scalehelper" "./$(basename "$HDIR")" || { rm -rf "$HDIR"; exit 1; }
rm -rf "$HDIR"
H="$WORK/scalehelper"

BPID=""; HPID=""
cleanup() {
  [ -n "$HPID" ] && kill "$HPID" 2>/dev/null || true
  if [ -n "$BPID" ] && kill -0 "$BPID" 2>/dev/null; then kill -9 "$BPID" 2>/dev/null || true; fi
  if [ "${SCALE_KEEP:-}" = 1 ]; then echo "scale: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
rss_mib() { awk '/^VmRSS/{printf "%.0f", $2/1024}' "/proc/$BPID/status"; }
hwm_mib() { awk '/^VmHWM/{printf "%.0f", $2/1024}' "/proc/$BPID/status"; }
fds() { ls "/proc/$BPID/fd" | wc -l; }
report() { printf '%-44s %10s   rss %5s MiB  fds %6s\n' "$1" "$2" "$(rss_mib)" "$(fds)"; }

# start_broker DIR: start chronik on a new port, wait for Metadata; sets
# BPID, PORT, READY (seconds from exec until Metadata answered).
start_broker() {
  PORT="$(free_port)"
  "$CHRONIK" start --bind-addr 127.0.0.1 --kafka-port "$PORT" --metrics-port 0 \
    --log-level warn --data-dir "$1" ${SCALE_BROKER_ARGS:-} >>"$WORK/broker.log" 2>&1 &
  BPID=$!
  READY="$("$H" "127.0.0.1:$PORT" ready)"
}
stop_broker() { # stop_broker TERM|KILL
  kill "-$1" "$BPID"; wait "$BPID" 2>/dev/null || true; BPID=""
}
# step LABEL CMD...: run CMD, report its time, or FAILED and the broker log's tail.
step() {
  local label="$1" t0; shift; t0="$(now)"
  if "$@"; then report "$label: s" "$(elapsed "$t0")"
  else report "$label: FAILED after s" "$(elapsed "$t0")"; tail -3 "$WORK/broker.log" | cut -c1-300; fi
}
restart_with() { # restart_with TERM|KILL DIR
  local t0; t0="$(now)"
  stop_broker "$1"
  local stopped; stopped="$(elapsed "$t0")"
  start_broker "$2"
  report "restart after SIG$1: stop s / ready s" "$stopped / $READY"
}

if [[ " $PARTS " == *" partitions "* ]]; then
  N=$((TOPICS * PPT))
  echo "== $N partitions ($TOPICS topics x $PPT partitions)"
  D="$WORK/parts"
  start_broker "$D"; A="127.0.0.1:$PORT"
  report "empty broker: ready s" "$READY"
  step "create $N partitions" "$H" "$A" create "$TOPICS" "$PPT"
  step "produce 1 record to each" "$H" "$A" produce "$TOPICS" "$PPT"
  step "fetch all from the start" "$H" "$A" fetch "$TOPICS" "$PPT"
  restart_with TERM "$D"
  step "fetch all after restart" "$H" "127.0.0.1:$PORT" fetch "$TOPICS" "$PPT"
  restart_with KILL "$D"
  step "fetch all after kill -9" "$H" "127.0.0.1:$PORT" fetch "$TOPICS" "$PPT"
  report "peak RSS (VmHWM) MiB" "$(hwm_mib)"
  echo "data directory: $(du -sh "$D" | cut -f1), $(find "$D" -type f | wc -l) files"
  stop_broker TERM; rm -rf "$D"
fi

if [[ " $PARTS " == *" conns "* ]]; then
  echo "== $CONNS idle connections"
  D="$WORK/conns"
  start_broker "$D"; A="127.0.0.1:$PORT"
  "$CHRONIK" topic create -b "$A" conns-check --partitions 1 >/dev/null
  report "before" "-"
  t0="$(now)"
  "$H" "$A" idle "$CONNS" >"$WORK/idle.out" 2>&1 & HPID=$!
  while ! grep -q . "$WORK/idle.out" 2>/dev/null; do
    kill -0 "$HPID" 2>/dev/null || { cat "$WORK/idle.out"; break; }
    sleep 0.2
  done
  report "$(head -1 "$WORK/idle.out") connections after s" "$(elapsed "$t0")"
  sleep 5
  report "5 s later, idle" "-"
  t0="$(now)"
  if echo hello | "$CHRONIK" produce -b "$A" conns-check --timeout 10s 2>/dev/null &&
     "$CHRONIK" consume -b "$A" conns-check -e --timeout 10s | grep -q hello; then
    report "new client produce+consume: ok in s" "$(elapsed "$t0")"
  else
    report "new client produce+consume: FAILED after s" "$(elapsed "$t0")"
  fi
  kill -TERM "$HPID"; wait "$HPID" 2>/dev/null || true; HPID=""
  echo "idle client: $(tail -1 "$WORK/idle.out") of $CONNS still answering"
  sleep 2
  report "after closing them" "-"
  report "peak RSS (VmHWM) MiB" "$(hwm_mib)"
  stop_broker TERM; rm -rf "$D"
fi

# fill DIR MIB: produce about MIB MiB of 1 KiB records to one topic of 6
# partitions with small segments.
fill() {
  "$CHRONIK" topic create -b "127.0.0.1:$PORT" fill --partitions 6 --config "segment.bytes=$SEGMENT_BYTES" >/dev/null
  "$CHRONIK" bench produce -b "127.0.0.1:$PORT" --topic fill --record-size 1024 --records $(($2 * 1024)) \
    --acks all --quiet >/dev/null
}
if [[ " $PARTS " == *" recovery "* ]]; then
  echo "== recovery after kill -9 (segment.bytes=$SEGMENT_BYTES)"
  for size in "$SMALL_MB" $((LARGE_GB * 1024)); do
    D="$WORK/rec-$size"
    start_broker "$D"
    step "write $size MiB" fill "$D" "$size"
    segs="$(find "$D" -name '*.log' | wc -l)"
    echo "data directory: $(du -sh "$D" | cut -f1), $segs .log segment files"
    for i in 1 2 3; do restart_with KILL "$D"; done
    step "read the last record of each partition" sh -c "'$CHRONIK' consume -b 127.0.0.1:$PORT fill -o -1 -e --timeout 30s >/dev/null"
    stop_broker TERM; rm -rf "$D"
  done
fi
