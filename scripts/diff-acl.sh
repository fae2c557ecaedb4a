#!/usr/bin/env bash
# ACL differential matrix: Apache Kafka (StandardAuthorizer) and Chronik, both
# with a SASL_PLAINTEXT/PLAIN listener (users admin, alice, bob),
# super.users=User:admin and allow.everyone.if.no.acl.found=false. As admin
# the test creates topics and gives alice a set of ACLs (bob gets none), then
# sends every API as alice and as bob against allowed and disallowed
# resources to both brokers and compares error codes and what is visible
# (tests/diff/acl_principals_test.go, TestACLPrincipals).
#
#   scripts/diff-acl.sh
#   CHRONIK_BIN=/path/to/chronik scripts/diff-acl.sh   # no build
#   KEEP_DIFF_DIR=1 scripts/diff-acl.sh                 # keep logs and data
#
# Kafka jars come from ~/.cache/chronik/kafka-VERSION (fetched with
# tests/diff/kafka-pom.xml as scripts/diff.sh does). Ends with
# "N passed, N failed" (matrix rows) and exits non-zero on a difference not
# accepted in the test file.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
CACHE_ROOT="${CHRONIK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chronik}"
KAFKA_LIBS="$CACHE_ROOT/kafka-$KAFKA_VERSION"
M2_REPO="${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}"
START_TIME=$SECONDS
LOG_TAG=diff-acl
# shellcheck source=lib/kafka.sh
. "$ROOT/scripts/lib/kafka.sh"

fail() {
  echo "diff-acl: $*"
  echo "0 passed, 1 failed"
  exit 1
}

command -v java >/dev/null 2>&1 || fail "java 17+ is needed (scripts/diff.sh installs it)"
fetch_kafka_jars

chronik_binary

WORK="$(mktemp -d "${TMPDIR:-/tmp}/chronik-diff-acl.XXXXXX")"
KPID=""
CPID=""
cleanup() {
  stop_pid "$CPID"
  stop_pid "$KPID"
  if [ -n "${KEEP_DIFF_DIR:-}" ]; then echo "diff-acl: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ports=()
while [ "${#ports[@]}" -lt 4 ]; do
  p="$(free_port)"
  case " ${ports[*]:-} " in *" $p "*) ;; *) ports+=("$p") ;; esac
done
KPORT="${ports[0]}" KINT="${ports[1]}" KCTRL="${ports[2]}" CPORT="${ports[3]}"

# Kafka: KRaft single node. Clients use the SASL_PLAINTEXT listener CLIENT;
# broker-to-controller and inter-broker traffic use PLAINTEXT listeners whose
# principal (User:ANONYMOUS) is a super user so the node can manage itself.
mkdir -p "$WORK/kafka-logs"
cat >"$WORK/server.properties" <<EOF
process.roles=broker,controller
node.id=1
listeners=CLIENT://127.0.0.1:$KPORT,INTERNAL://127.0.0.1:$KINT,CONTROLLER://127.0.0.1:$KCTRL
advertised.listeners=CLIENT://127.0.0.1:$KPORT,INTERNAL://127.0.0.1:$KINT
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.voters=1@127.0.0.1:$KCTRL
sasl.enabled.mechanisms=PLAIN
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
EOF
kafka_single_node_props "$WORK/kafka-logs" >>"$WORK/server.properties"
kafka_java_setup
start_kafka "$WORK/server.properties" ""
KPID=$KAFKA_PID

# Chronik: the same users over SASL_PLAINTEXT/PLAIN, ACLs on, super user
# admin, allow.everyone.if.no.acl.found false (the default).
printf 'admin:admin-secret\nalice:alice-secret\nbob:bob-secret\n' >"$WORK/users.txt"
"$BIN" start --listener "SASL_PLAINTEXT://127.0.0.1:$CPORT" --metrics-port 0 \
  --data-dir "$WORK/chronik-data" --log-level warn --sasl-mechanisms PLAIN \
  --sasl-plain-users "$WORK/users.txt" --authorizer --super-users 'User:admin' \
  --allow-everyone-if-no-acl-found=false >"$WORK/chronik.log" 2>&1 &
CPID=$!

wait_port chronik "$CPID" "$CPORT" 30 "$WORK/chronik.log" || fail "chronik did not start"
wait_port kafka "$KPID" "$KPORT" 120 "$WORK/kafka.log" || fail "kafka did not start"
echo "diff-acl: Kafka $KAFKA_VERSION SASL_PLAINTEXT 127.0.0.1:$KPORT (pid $KPID), Chronik SASL_PLAINTEXT 127.0.0.1:$CPORT (pid $CPID)"

CHRONIK_DIFF_ACL=1 CHRONIK_DIFF_ACL_KAFKA="127.0.0.1:$KPORT" CHRONIK_DIFF_ACL_CHRONIK="127.0.0.1:$CPORT" \
  go test ./tests/diff/ -run '^TestACLPrincipals$' -count=1 -v -timeout 5m >"$WORK/go-test.out" 2>&1
rc=$?
grep -v -E '^(=== RUN|=== PAUSE|=== CONT|--- PASS|PASS$|ok  )' "$WORK/go-test.out" | grep -v -E '^\s*$'
if ! kill -0 "$CPID" 2>/dev/null; then
  echo "diff-acl: chronik exited during the run:"
  tail -n 40 "$WORK/chronik.log"
  rc=1
fi
echo "diff-acl: $((SECONDS - START_TIME)) s (Kafka $KAFKA_VERSION)"
if ! grep -q -E '^acl-principals: [0-9]+ passed, [0-9]+ failed' "$WORK/go-test.out"; then
  echo "0 passed, 1 failed"
  exit 1
fi
grep -E '^acl-principals: [0-9]+ passed, [0-9]+ failed' "$WORK/go-test.out" | tail -n 1 | sed 's/^acl-principals: //'
exit $rc
