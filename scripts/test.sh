#!/usr/bin/env bash
# The one command that runs every test:
#
#   ./scripts/test.sh
#
# Sections, in order, stopping at the first that fails:
#   dependencies (kcat, python3-kafka, python3-confluent-kafka, kafkajs),
#   go vet, gofmt, go test -race, build bin/chronik, compat suite
#   (scripts/compat.sh), differential tests (scripts/diff.sh), the ACL
#   matrix per principal (scripts/diff-acl.sh), franz-go's kgo
#   suite (scripts/kgo.sh), Java client (scripts/java.sh), SASL/TLS
#   (scripts/security.sh), then every fuzz target for FUZZTIME (default 10s).
# Ends with "N passed, N failed" counting sections.
#
# Env: FUZZTIME (10s), GO_TEST_TIMEOUT (20m), SKIP_COMPAT=1, SKIP_DIFF=1, SKIP_DIFF_ACL=1,
# SKIP_KGO=1, SKIP_JAVA=1, SKIP_SECURITY=1, SKIP_FUZZ=1, KEEP_GOING=1 (run
# every section even after a failure).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
export GOFLAGS=-buildvcs=false
FUZZTIME="${FUZZTIME:-10s}"
GO_TEST_TIMEOUT="${GO_TEST_TIMEOUT:-20m}"

passed=0
failed=0
START=$SECONDS

summary() {
  echo
  echo "=== summary: $passed sections passed, $failed failed, $((SECONDS - START)) s ==="
  echo "$passed passed, $failed failed"
}

# section NAME CMD...: runs CMD under a header; stops everything on failure.
section() {
  local name="$1"; shift
  local t0=$SECONDS rc
  echo
  echo "================ $name ================"
  "$@"
  rc=$?
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    echo "---- ok: $name ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    echo "---- FAILED: $name (exit $rc, $((SECONDS - t0)) s)"
    if [ -z "${KEEP_GOING:-}" ]; then
      summary
      exit 1
    fi
  fi
}

gofmt_check() {
  local files out
  # Tracked and untracked-but-not-ignored Go files, testdata excluded.
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files="$(git ls-files -co --exclude-standard -- '*.go' | grep -v '/testdata/' || true)"
  else
    files="$(find . -name '*.go' -not -path '*/.*' -not -path '*/node_modules/*' -not -path '*/testdata/*')"
  fi
  [ -n "$files" ] || return 0
  # shellcheck disable=SC2086
  out="$(gofmt -l $files)"
  if [ -n "$out" ]; then
    echo "gofmt: these files need formatting (run gofmt -w):"
    echo "$out"
    return 1
  fi
}

# fuzz_one DIR NAME: runs one fuzz target for FUZZTIME. A real finding makes
# go test write the failing input under testdata/fuzz and fail. Go's fuzzing
# engine also fails, without a finding, with "context deadline exceeded" when
# the time runs out while a worker is still busy with an input (seen on a
# loaded 2-core machine): that run is repeated once, and only a finding or a
# second such failure counts.
fuzz_one() {
  local dir="$1" name="$2" out rc try
  for try in 1 2; do
    out="$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$dir" 2>&1)"
    rc=$?
    echo "$out" | tail -n 15
    [ $rc -eq 0 ] && return 0
    if echo "$out" | grep -q 'Failing input written to' || ! echo "$out" | grep -q 'context deadline exceeded'; then
      return $rc
    fi
    echo "(fuzz engine timed out without a finding; running $name again)"
  done
  return $rc
}

build() {
  go build -o bin/chronik ./cmd/chronik && ls -l bin/chronik
}

compat() {
  CHRONIK_BIN="$ROOT/bin/chronik" "$ROOT/scripts/compat.sh"
}

# Everything runs inside main, which bash reads whole before running it: an
# edit of this file during a run does not affect that run.
main() {
  section "dependencies" "$ROOT/scripts/install-deps.sh"
  section "go vet ./..." go vet ./...
  section "gofmt -l" gofmt_check
  section "go test -race ./..." go test -race -count=1 -timeout "$GO_TEST_TIMEOUT" ./...
  built=$failed
  section "build bin/chronik" build
  if [ "$failed" -gt "$built" ]; then
    echo "(no bin/chronik: skipping the suites that need it)"
  else
    if [ -z "${SKIP_COMPAT:-}" ]; then
      section "compat suite (scripts/compat.sh)" compat
    fi
    if [ -z "${SKIP_DIFF:-}" ]; then
      section "differential tests vs Apache Kafka (scripts/diff.sh)" env CHRONIK_BIN="$ROOT/bin/chronik" "$ROOT/scripts/diff.sh"
    fi
    if [ -z "${SKIP_DIFF_ACL:-}" ]; then
      section "ACL matrix vs Kafka's StandardAuthorizer, alice/bob (scripts/diff-acl.sh)" env CHRONIK_BIN="$ROOT/bin/chronik" "$ROOT/scripts/diff-acl.sh"
    fi
    if [ -z "${SKIP_KGO:-}" ]; then
      section "franz-go kgo integration suite (scripts/kgo.sh)" env CHRONIK_BIN="$ROOT/bin/chronik" "$ROOT/scripts/kgo.sh"
    fi
    if [ -z "${SKIP_JAVA:-}" ]; then
      section "Java client compat (scripts/java.sh)" env CHRONIK_BIN="$ROOT/bin/chronik" "$ROOT/scripts/java.sh"
    fi
    if [ -z "${SKIP_SECURITY:-}" ]; then
      section "SASL/TLS with kcat, Java and franz-go (scripts/security.sh)" env CHRONIK_BIN="$ROOT/bin/chronik" "$ROOT/scripts/security.sh"
    fi
  fi

  if [ -z "${SKIP_FUZZ:-}" ]; then
    # Every "func FuzzX(" in a _test.go file: run it alone for FUZZTIME.
    targets="$(grep -r --include='*_test.go' -e '^func Fuzz' . 2>/dev/null |
      grep -v -e '/node_modules/' -e '/\.' |
      sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*).*#\1 \2#' | sort -u)"
    if [ -z "$targets" ]; then
      echo
      echo "(no fuzz targets found)"
    fi
    while read -r dir name; do
      [ -n "$name" ] || continue
      section "fuzz $name ($dir, $FUZZTIME)" fuzz_one "$dir" "$name"
    done <<<"$targets"
  fi

  summary
  [ "$failed" -eq 0 ]
}

main "$@"
exit $?
