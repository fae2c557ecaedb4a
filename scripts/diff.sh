#!/usr/bin/env bash
# Differential tests: the same scripted requests against Apache Kafka and
# against Chronik, responses compared field by field (tests/diff).
#
#   scripts/diff.sh                       # builds bin/chronik, runs every case
#   KAFKA_VERSION=4.4.0 scripts/diff.sh   # compare with another Kafka release
#   CHRONIK_DIFF_CASES='^fetch-' scripts/diff.sh   # only matching cases
#   CHRONIK_DIFF_VERBOSE=1 scripts/diff.sh         # print every response
#   CHRONIK_BIN=/path/to/chronik scripts/diff.sh   # use that binary, no build
#
# Fetches the Kafka broker (org.apache.kafka:kafka_2.13 and its runtime
# dependencies) from Maven Central with tests/diff/kafka-pom.xml into
# ~/.cache/chronik/kafka-VERSION (reused when present), formats a KRaft
# single-node combined broker+controller, starts it and bin/chronik on free
# loopback ports, runs `go test ./tests/diff/` against both and stops both.
# Ends with "N passed, N failed" (cases) and exits non-zero if a case has a
# difference not listed in tests/diff/accepted_test.go.
# Also starts a second Kafka and Chronik pair with SASL/PLAIN and ACLs
# (StandardAuthorizer, super user admin) for the ACL matrix
# (tests/diff/acl_test.go, prints "acl: N matched, N accepted, N failed");
# CHRONIK_DIFF_ACL=0 skips it. CHRONIK_DIFF_CASES='^acl-' runs only it.
# KEEP_DIFF_DIR=1 keeps the work dir (logs, data dirs).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
CACHE_ROOT="${CHRONIK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chronik}"
KAFKA_LIBS="$CACHE_ROOT/kafka-$KAFKA_VERSION"
M2_REPO="${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}"
START_TIME=$SECONDS
LOG_TAG=diff
# shellcheck source=lib/kafka.sh
. "$ROOT/scripts/lib/kafka.sh"

fail() {
  echo "diff: $*"
  echo "0 passed, 1 failed"
  exit 1
}

# --- prerequisites ---------------------------------------------------------------
need_pkgs=()
command -v java >/dev/null 2>&1 || need_pkgs+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || [ -f "$KAFKA_LIBS/.complete" ] || need_pkgs+=(maven)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "diff: installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null ||
      fail "installing ${need_pkgs[*]} failed"
  else
    fail "missing ${need_pkgs[*]} (java 17+ and maven are needed)"
  fi
fi

# --- Kafka jars (cached) ------------------------------------------------------------
fetch_kafka_jars

# --- Chronik binary ---------------------------------------------------------------
chronik_binary

# --- work dir, ports ---------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/chronik-diff.XXXXXX")"
KPID=""
CPID=""
AKPID=""
ACPID=""



cleanup() {
  stop_pid "$CPID"
  stop_pid "$KPID"
  stop_pid "$ACPID"
  stop_pid "$AKPID"
  if [ -n "${KEEP_DIFF_DIR:-}" ]; then
    echo "diff: kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

KPORT="$(free_port)"
CTRLPORT="$(free_port)"
CPORT="$(free_port)"
while [ "$CTRLPORT" = "$KPORT" ]; do CTRLPORT="$(free_port)"; done
while [ "$CPORT" = "$KPORT" ] || [ "$CPORT" = "$CTRLPORT" ]; do CPORT="$(free_port)"; done

# --- Kafka: KRaft single node, broker + controller ------------------------------------
mkdir -p "$WORK/kafka-logs"
cat >"$WORK/server.properties" <<EOF
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$KPORT,CONTROLLER://127.0.0.1:$CTRLPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KPORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.voters=1@127.0.0.1:$CTRLPORT
EOF
kafka_single_node_props "$WORK/kafka-logs" >>"$WORK/server.properties"
kafka_java_setup

# Formatted with Kafka's default features, transaction.version 2 among
# them (KIP-890 part 2), which Chronik finalizes too.
t0=$SECONDS
start_kafka "$WORK/server.properties" ""
KPID=$KAFKA_PID

# --- ACL matrix brokers: SASL/PLAIN, StandardAuthorizer, super user admin -------------
# A second Kafka and a second Chronik configured alike, for TestACLMatrix
# (tests/diff/acl_test.go): users admin and alice over SASL/PLAIN, super.users
# User:admin, allow.everyone.if.no.acl.found=false. CHRONIK_DIFF_ACL=0 skips them.
if [ "${CHRONIK_DIFF_ACL:-1}" != 0 ]; then
  AKPORT="$(free_port)"
  AKINT="$(free_port)"
  AKCTRL="$(free_port)"
  ACPORT="$(free_port)"
  mkdir -p "$WORK/acl-kafka-logs"
  cat >"$WORK/acl-server.properties" <<EOF
process.roles=broker,controller
node.id=1
listeners=CLIENT://127.0.0.1:$AKPORT,INTERNAL://127.0.0.1:$AKINT,CONTROLLER://127.0.0.1:$AKCTRL
advertised.listeners=CLIENT://127.0.0.1:$AKPORT,INTERNAL://127.0.0.1:$AKINT
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.voters=1@127.0.0.1:$AKCTRL
sasl.enabled.mechanisms=PLAIN
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
EOF
  kafka_single_node_props "$WORK/acl-kafka-logs" >>"$WORK/acl-server.properties"
  start_kafka "$WORK/acl-server.properties" acl-
  AKPID=$KAFKA_PID
  printf 'admin:admin-secret\nalice:alice-secret\n' >"$WORK/acl-users.txt"
  "$BIN" start --listener "SASL_PLAINTEXT://127.0.0.1:$ACPORT" --metrics-port 0 \
    --data-dir "$WORK/acl-chronik-data" --log-level warn --sasl-mechanisms PLAIN \
    --sasl-plain-users "$WORK/acl-users.txt" --authorizer --super-users 'User:admin' \
    >"$WORK/acl-chronik.log" 2>&1 &
  ACPID=$!
fi

# --- Chronik --------------------------------------------------------------------------
"$BIN" start --kafka-port "$CPORT" --metrics-port 0 --data-dir "$WORK/chronik-data" \
  --bind-addr 127.0.0.1 --log-level warn >"$WORK/chronik.log" 2>&1 &
CPID=$!

wait_port chronik "$CPID" "$CPORT" 30 "$WORK/chronik.log" || fail "chronik did not start"
wait_port kafka "$KPID" "$KPORT" 120 "$WORK/kafka.log" || fail "kafka did not start"
echo "diff: Kafka $KAFKA_VERSION on 127.0.0.1:$KPORT (pid $KPID, up in $((SECONDS - t0)) s), Chronik on 127.0.0.1:$CPORT (pid $CPID)"

if [ -n "$AKPID" ]; then
  wait_port acl-chronik "$ACPID" "$ACPORT" 30 "$WORK/acl-chronik.log" || fail "chronik (ACL) did not start"
  wait_port acl-kafka "$AKPID" "$AKPORT" 120 "$WORK/acl-kafka.log" || fail "kafka (ACL) did not start"
  echo "diff: ACL matrix: Kafka (SASL/PLAIN, StandardAuthorizer) on 127.0.0.1:$AKPORT (pid $AKPID), Chronik on 127.0.0.1:$ACPORT (pid $ACPID)"
  export CHRONIK_ACL_KAFKA="127.0.0.1:$AKPORT" CHRONIK_ACL_CHRONIK="127.0.0.1:$ACPORT"
fi

# --- the comparison --------------------------------------------------------------------
# The test waits for both brokers to answer (Kafka registers its broker a
# moment after it listens). -v so MATCH/DIFF lines are printed on success too.
CHRONIK_DIFF_KAFKA="127.0.0.1:$KPORT" CHRONIK_DIFF_CHRONIK="127.0.0.1:$CPORT" \
  CHRONIK_DIFF_KAFKA_VERSION="$KAFKA_VERSION" go test ./tests/diff/ -run '^(TestDiff|TestACLMatrix)$' -count=1 -v -timeout 5m >"$WORK/go-test.out" 2>&1
rc=$?
grep -v -E '^(=== RUN|=== PAUSE|=== CONT|    --- PASS|--- PASS|PASS$|ok  )' "$WORK/go-test.out" | grep -v -E '^\s*$'

if ! kill -0 "$CPID" 2>/dev/null; then
  echo "diff: chronik exited during the run; last lines of its log:"
  tail -n 40 "$WORK/chronik.log"
  rc=1
fi
if [ $rc -ne 0 ] && [ -s "$WORK/chronik.log" ]; then
  echo "--- chronik log (warnings and errors, last 40 lines)"
  tail -n 40 "$WORK/chronik.log"
fi
echo "diff: $((SECONDS - START_TIME)) s (Kafka $KAFKA_VERSION)"
if ! grep -q -E '^diff: [0-9]+ passed, [0-9]+ failed' "$WORK/go-test.out"; then
  echo "0 passed, 1 failed"
  exit 1
fi
# The plain closing line, for CI: cases passed/failed.
grep -E '^diff: [0-9]+ passed, [0-9]+ failed' "$WORK/go-test.out" | tail -n 1 | sed 's/^diff: //'
exit $rc
