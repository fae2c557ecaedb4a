#!/usr/bin/env bash
# franz-go's own integration suite (pkg/kgo) against Chronik.
#
#   scripts/kgo.sh                          # builds bin/chronik, runs the suite
#   KGO_RUN='^TestGroupETL$' scripts/kgo.sh  # a chosen -run regexp instead
#   KGO_WITH_UNIT=1 scripts/kgo.sh          # also the package's unit tests
#   KGO_RUN_ALL=1 scripts/kgo.sh            # also the "[not run]" expected failures
#   CHRONIK_BIN=/path/to/chronik scripts/kgo.sh   # use that binary, no build
#
# Copies the franz-go module at the version go.mod requires from the Go module
# cache (go mod download) into a writable dir (~/.cache/chronik/kgo/, made
# once per version so the test binary's build is cached), starts bin/chronik on a
# free loopback port with a fresh data dir, and runs the package's
# integration tests -- the Test functions that reach a helper dialing
# KGO_SEEDS (tests/kgo/kgotool list finds them) -- with KGO_SEEDS pointing at
# Chronik, KGO_TEST_RF=1 and KGO_TEST_RECORDS (default 10000; the suite's own
# default, 500000, is for a cluster, not a 2-core CI box). Each test is
# reported PASS/FAIL/XFAIL/SKIP against tests/kgo/expected-failures.txt; a test
# listed there that passes is reported "now passing" without failing the run.
# Entries whose reason says "[not run]" hang (rather than fail) against
# Chronik and are left out of the run (KGO_RUN_ALL=1 runs them).
# Ends with "kgo: N passed, M failed, K expected-failures" and "N passed,
# N failed"; exits non-zero only on unexpected failures.
# Env: KGO_TIMEOUT (go test -timeout, 10m), KEEP_KGO_DIR=1 keeps the work dir.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
START_TIME=$SECONDS

fail() {
  echo "kgo: $*"
  echo "0 passed, 1 failed"
  exit 1
}

# --- franz-go sources ------------------------------------------------------------------
VERSION="$(go list -m -f '{{.Version}}' github.com/twmb/franz-go)" || fail "go list -m github.com/twmb/franz-go failed"
SRC="$(go mod download -json "github.com/twmb/franz-go@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -n "$SRC" ] && [ -d "$SRC/pkg/kgo" ] || fail "go mod download github.com/twmb/franz-go@$VERSION gave no source dir"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/chronik-kgo.XXXXXX")"
BPID=""
cleanup() {
  if [ -n "$BPID" ]; then
    kill -TERM "$BPID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$BPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$BPID" 2>/dev/null
    wait "$BPID" 2>/dev/null
  fi
  if [ -n "${KEEP_KGO_DIR:-}" ]; then
    echo "kgo: kept $WORK"
  else
    chmod -R u+w "$WORK" 2>/dev/null
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A writable copy at a stable path (so Go's build cache is reused across
# runs), made once per version.
CACHE_ROOT="${CHRONIK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chronik}"
FRANZ="$CACHE_ROOT/kgo/franz-go@$VERSION"
if [ ! -f "$FRANZ/.chronik-complete" ]; then
  rm -rf "$FRANZ"
  mkdir -p "$(dirname "$FRANZ")"
  cp -R "$SRC" "$FRANZ" && chmod -R u+w "$FRANZ" || fail "copying $SRC failed"
  touch "$FRANZ/.chronik-complete"
fi

# --- which tests -----------------------------------------------------------------------
if [ -n "${KGO_RUN:-}" ]; then
  RUN="$KGO_RUN"
else
  TESTS="$(go run ./tests/kgo/kgotool list "$FRANZ/pkg/kgo")" || fail "listing the integration tests failed"
  [ -n "$TESTS" ] || fail "found no integration tests in franz-go $VERSION pkg/kgo"
  RUN="^($(echo "$TESTS" | paste -sd'|'))\$"
  if [ -n "${KGO_WITH_UNIT:-}" ]; then
    RUN="."
  fi
  echo "kgo: franz-go $VERSION: $(echo "$TESTS" | wc -l) integration tests"
fi
# Expected failures marked "[not run]" hang rather than fail: skip them.
SKIP_ARGS=()
NOT_RUN="$(grep -v '^[[:space:]]*#' "$ROOT/tests/kgo/expected-failures.txt" | grep '\[not run\]' | awk '{print $1}' | paste -sd'|')"
if [ -n "$NOT_RUN" ] && [ -z "${KGO_RUN_ALL:-}" ]; then
  SKIP_ARGS=(-skip "^($NOT_RUN)\$")
  echo "kgo: not run (tests/kgo/expected-failures.txt): ${NOT_RUN//|/ }"
fi

# Compile first (not timed against the broker; the first run downloads the
# suite's own module requirements through the Go module proxy).
(cd "$FRANZ" && GOWORK=off go test -count=1 -run '^$' ./pkg/kgo/ >"$WORK/compile.out" 2>&1) || {
  tail -n 40 "$WORK/compile.out"
  fail "compiling franz-go's pkg/kgo tests failed"
}

# --- broker ----------------------------------------------------------------------------
if [ -n "${CHRONIK_BIN:-}" ]; then
  BIN="$CHRONIK_BIN"
else
  BIN="$ROOT/bin/chronik"
  go build -o "$BIN" ./cmd/chronik || fail "build failed"
fi
[ -x "$BIN" ] || fail "$BIN is not executable"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$BIN" start --kafka-port "$PORT" --metrics-port 0 --data-dir "$WORK/data" \
  --bind-addr 127.0.0.1 --log-level warn >"$WORK/broker.log" 2>&1 &
BPID=$!
for _ in $(seq 1 300); do
  kill -0 "$BPID" 2>/dev/null || { tail -n 40 "$WORK/broker.log"; BPID=""; fail "broker exited during start-up"; }
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
echo "kgo: chronik on 127.0.0.1:$PORT (pid $BPID)"

# --- run -------------------------------------------------------------------------------
t0=$SECONDS
(cd "$FRANZ" && GOWORK=off KGO_SEEDS="127.0.0.1:$PORT" KGO_TEST_RF=1 \
  KGO_TEST_RECORDS="${KGO_TEST_RECORDS:-10000}" \
  go test ./pkg/kgo/ -run "$RUN" "${SKIP_ARGS[@]}" -count=1 -timeout "${KGO_TIMEOUT:-10m}" -json >"$WORK/test.json" 2>"$WORK/test.stderr")
echo "kgo: go test ran $((SECONDS - t0)) s"

broker_ok=1
if ! kill -0 "$BPID" 2>/dev/null; then
  broker_ok=0
  BPID=""
fi

go run ./tests/kgo/kgotool report -expected "$ROOT/tests/kgo/expected-failures.txt" -json "$WORK/test.json" >"$WORK/report.txt"
rc=$?
if [ $broker_ok -eq 0 ]; then
  echo "FAIL  broker: chronik exited during the suite; last lines of its log:"
  tail -n 40 "$WORK/broker.log"
  rc=1
fi
if [ $rc -ne 0 ] && [ -s "$WORK/test.stderr" ]; then
  echo "--- go test stderr (last 20 lines)"
  tail -n 20 "$WORK/test.stderr"
fi
if [ $rc -ne 0 ]; then
  echo "--- chronik log (warnings and errors, last 30 lines)"
  tail -n 30 "$WORK/broker.log"
fi
# The report, with the two summary lines last.
grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/report.txt"
echo "kgo: $((SECONDS - START_TIME)) s in all"
if [ $broker_ok -eq 0 ]; then
  sed -n -E 's/^([0-9]+) passed, ([0-9]+) failed$/\1 passed, \2 failed/p' "$WORK/report.txt" |
    awk '{print $1, "passed,", $3 + 1, "failed"}'
else
  grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/report.txt"
fi
exit $rc
