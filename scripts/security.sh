#!/usr/bin/env bash
# Security acceptance against the real binary: TLS, mutual TLS and SCRAM.
#
#   scripts/security.sh                         # builds bin/chronik if missing
#   CHRONIK_BIN=/path/to/chronik scripts/security.sh
#
# Makes a CA, a server certificate (SAN 127.0.0.1, localhost) and a client
# certificate (CN=alice) with openssl in a temp dir and starts two brokers on
# free loopback ports:
#   A: PLAINTEXT + SASL_SSL + SASL_PLAINTEXT (--tls-cert/--tls-key, no client CA)
#   B: PLAINTEXT + SSL with --tls-client-ca (ssl.client.auth=required)
# Two processes because ssl.client.auth is broker-wide on the command line
# (broker.Listener.TLS overrides it per listener in the library only), and a
# SASL_SSL listener is tested without client certificates.
# Creates SCRAM users with `chronik user add` over A's PLAINTEXT listener, then:
#   (a) kcat produce + consume over SASL_SSL, SCRAM-SHA-512 and SCRAM-SHA-256
#   (b) kcat with a wrong password / an unknown user is refused, and A logs it
#   (c) kcat over B's SSL listener with a client cert works, without is refused
#   (d) the Java client (tests/java, io.chronik.compat.SaslCompat) over SASL_SSL
#       with SCRAM-SHA-512 (skipped with SKIP_JAVA=1)
#   (e) franz-go's own SCRAM tests (TestSCRAMAuth, TestSCRAMAuthBadCredentials)
#       against A's SASL_PLAINTEXT listener (the suite's SCRAM client does not
#       dial TLS), and some of its integration tests with KGO_TEST_TLS (client
#       certificate) against B's SSL listener (skipped with SKIP_KGO=1)
# Prints PASS/FAIL per case and ends with "N passed, N failed"; exits non-zero
# on any failure. KEEP_SECURITY_DIR=1 keeps the work dir.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
START_TIME=$SECONDS
CACHE_ROOT="${CHRONIK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chronik}"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
failc() { failed=$((failed + 1)); echo "FAIL $*"; }
fatal() {
  echo "security: $*"
  echo "$passed passed, $((failed + 1)) failed"
  exit 1
}

# --- tools -----------------------------------------------------------------------------
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
if [ "${#need[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "security: installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
      fatal "installing ${need[*]} failed"
  else
    fatal "missing ${need[*]}"
  fi
fi

if [ -n "${CHRONIK_BIN:-}" ]; then
  BIN="$CHRONIK_BIN"
else
  BIN="$ROOT/bin/chronik"
  if [ ! -x "$BIN" ]; then
    go build -o "$BIN" ./cmd/chronik || fatal "build failed"
  fi
fi
[ -x "$BIN" ] || fatal "$BIN is not executable"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/chronik-security.XXXXXX")"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  if [ -n "${KEEP_SECURITY_DIR:-}" ]; then
    echo "security: kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- certificates ----------------------------------------------------------------------
C="$WORK/certs"
mkdir -p "$C"
{
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=chronik-test-ca" \
    -keyout "$C/ca-key.pem" -out "$C/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout "$C/server-key.pem" -out "$C/server.csr" &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$C/server.ext" &&
    openssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca-key.pem" -CAcreateserial \
      -days 2 -extfile "$C/server.ext" -out "$C/server.pem" &&
    openssl req -newkey rsa:2048 -nodes -subj "/CN=alice/O=Chronik Test" \
      -keyout "$C/client-key.pem" -out "$C/client.csr" &&
    printf 'extendedKeyUsage=clientAuth\n' >"$C/client.ext" &&
    openssl x509 -req -in "$C/client.csr" -CA "$C/ca.pem" -CAkey "$C/ca-key.pem" -CAcreateserial \
      -days 2 -extfile "$C/client.ext" -out "$C/client.pem"
} >"$WORK/openssl.log" 2>&1 || { cat "$WORK/openssl.log"; fatal "openssl failed"; }

# --- brokers ---------------------------------------------------------------------------
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { # PID PORT LOG
  for _ in $(seq 1 300); do
    kill -0 "$1" 2>/dev/null || { tail -n 40 "$3"; fatal "broker exited during start-up"; }
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  fatal "broker did not listen on $2"
}
A_PLAIN=$(freeport)
A_SASL_SSL=$(freeport)
A_SASL_PLAIN=$(freeport)
B_PLAIN=$(freeport)
B_SSL=$(freeport)

# Info level: failed authentications are logged at Info.
"$BIN" start --metrics-port 0 --data-dir "$WORK/data-a" --log-level info \
  --listener "PLAINTEXT://127.0.0.1:$A_PLAIN" \
  --listener "SASL_SSL://127.0.0.1:$A_SASL_SSL" \
  --listener "SASL_PLAINTEXT://127.0.0.1:$A_SASL_PLAIN" \
  --tls-cert "$C/server.pem" --tls-key "$C/server-key.pem" \
  --sasl-mechanisms SCRAM-SHA-256,SCRAM-SHA-512 >"$WORK/broker-a.log" 2>&1 &
APID=$!
PIDS+=("$APID")
"$BIN" start --metrics-port 0 --data-dir "$WORK/data-b" --log-level info \
  --listener "PLAINTEXT://127.0.0.1:$B_PLAIN" \
  --listener "SSL://127.0.0.1:$B_SSL" \
  --tls-cert "$C/server.pem" --tls-key "$C/server-key.pem" \
  --tls-client-ca "$C/ca.pem" --tls-client-auth required >"$WORK/broker-b.log" 2>&1 &
BPID=$!
PIDS+=("$BPID")
wait_port "$APID" "$A_PLAIN" "$WORK/broker-a.log"
wait_port "$APID" "$A_SASL_SSL" "$WORK/broker-a.log"
wait_port "$BPID" "$B_SSL" "$WORK/broker-b.log"
echo "security: A (pid $APID) PLAINTEXT :$A_PLAIN SASL_SSL :$A_SASL_SSL SASL_PLAINTEXT :$A_SASL_PLAIN; B (pid $BPID) SSL+mTLS :$B_SSL"

# --- users -----------------------------------------------------------------------------
U512=scram512 P512="pw-512-$RANDOM$RANDOM"
U256=scram256 P256="pw-256-$RANDOM$RANDOM"
if printf '%s\n' "$P512" | "$BIN" user add "$U512" --password-stdin --mechanism SCRAM-SHA-512 \
  --bootstrap "127.0.0.1:$A_PLAIN" >"$WORK/user.log" 2>&1 &&
  printf '%s\n' "$P256" | "$BIN" user add "$U256" --password-stdin --mechanism SCRAM-SHA-256 \
    --bootstrap "127.0.0.1:$A_PLAIN" >>"$WORK/user.log" 2>&1 &&
  "$BIN" user list --bootstrap "127.0.0.1:$A_PLAIN" >"$WORK/users.txt" 2>>"$WORK/user.log" &&
  grep -q "$U512" "$WORK/users.txt" && grep -q "$U256" "$WORK/users.txt"; then
  pass "chronik user add/list over PLAINTEXT ($U512: SCRAM-SHA-512, $U256: SCRAM-SHA-256)"
else
  cat "$WORK/user.log" "$WORK/users.txt" 2>/dev/null
  failc "chronik user add/list over PLAINTEXT"
fi

# --- (a) kcat over SASL_SSL ------------------------------------------------------------
kc_sasl() { # MECH USER PASS ARGS...
  local mech="$1" user="$2" pw="$3"
  shift 3
  timeout 30 kcat -b "127.0.0.1:$A_SASL_SSL" -X security.protocol=SASL_SSL \
    -X "sasl.mechanisms=$mech" -X "sasl.username=$user" -X "sasl.password=$pw" \
    -X "ssl.ca.location=$C/ca.pem" "$@"
}
roundtrip_sasl() { # MECH USER PASS
  local mech="$1" user="$2" pw="$3" topic="sec-${1,,}-$RANDOM"
  seq 1 100 | sed 's/^/rec-/' >"$WORK/in.txt"
  if ! kc_sasl "$mech" "$user" "$pw" -P -t "$topic" -p 0 -X acks=all -l "$WORK/in.txt" >"$WORK/kcat.out" 2>&1; then
    tail -n 5 "$WORK/kcat.out"
    failc "(a) kcat SASL_SSL $mech produce"
    return
  fi
  kc_sasl "$mech" "$user" "$pw" -C -t "$topic" -p 0 -o beginning -c 100 -e -q >"$WORK/got.txt" 2>"$WORK/kcat.err"
  if cmp -s "$WORK/in.txt" "$WORK/got.txt"; then
    pass "(a) kcat SASL_SSL $mech: produced and consumed 100 records"
  else
    tail -n 5 "$WORK/kcat.err"
    failc "(a) kcat SASL_SSL $mech consume: read $(wc -l <"$WORK/got.txt") of 100 records"
  fi
}
roundtrip_sasl SCRAM-SHA-512 "$U512" "$P512"
roundtrip_sasl SCRAM-SHA-256 "$U256" "$P256"

# --- (b) refused credentials -----------------------------------------------------------
refused_sasl() { # LABEL MECH USER PASS
  local label="$1" before after
  before="$(grep -c 'SASL authentication failed' "$WORK/broker-a.log")"
  kc_sasl "$2" "$3" "$4" -L -m 5 >"$WORK/bad.out" 2>&1
  local rc=$?
  sleep 0.3
  after="$(grep -c 'SASL authentication failed' "$WORK/broker-a.log")"
  if [ $rc -ne 0 ] && grep -qi 'authentication' "$WORK/bad.out" && [ "$after" -gt "$before" ]; then
    pass "(b) kcat $label refused (exit $rc: $(grep -i -m1 -o 'SASL authentication error[^(]*' "$WORK/bad.out" | head -c 150)); broker logged: $(grep 'SASL authentication failed' "$WORK/broker-a.log" | tail -n 1 | head -c 300)"
  else
    tail -n 5 "$WORK/bad.out"
    failc "(b) kcat $label: exit $rc, broker auth-failure log lines $before -> $after"
  fi
}
refused_sasl "SCRAM-SHA-512 wrong password" SCRAM-SHA-512 "$U512" "not-$P512"
refused_sasl "SCRAM-SHA-512 unknown user" SCRAM-SHA-512 "nobody-$RANDOM" "whatever"
refused_sasl "SCRAM-SHA-256 with a SCRAM-SHA-512-only user" SCRAM-SHA-256 "$U512" "$P512"

# --- (c) mutual TLS ----------------------------------------------------------------------
kc_ssl() {
  timeout 30 kcat -b "127.0.0.1:$B_SSL" -X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem" "$@"
}
CERT_ARGS=(-X "ssl.certificate.location=$C/client.pem" -X "ssl.key.location=$C/client-key.pem")
topic="sec-mtls-$RANDOM"
if kc_ssl "${CERT_ARGS[@]}" -P -t "$topic" -p 0 -X acks=all -l "$WORK/in.txt" >"$WORK/kcat.out" 2>&1 &&
  kc_ssl "${CERT_ARGS[@]}" -C -t "$topic" -p 0 -o beginning -c 100 -e -q >"$WORK/got.txt" 2>"$WORK/kcat.err" &&
  cmp -s "$WORK/in.txt" "$WORK/got.txt"; then
  pass "(c) kcat SSL with a client certificate: produced and consumed 100 records"
else
  tail -n 5 "$WORK/kcat.out" "$WORK/kcat.err"
  failc "(c) kcat SSL with a client certificate"
fi
before="$(grep -c "client didn't provide a certificate" "$WORK/broker-b.log")"
kc_ssl -L -m 5 >"$WORK/nocert.out" 2>&1
rc=$?
sleep 0.3
after="$(grep -c "client didn't provide a certificate" "$WORK/broker-b.log")"
if [ $rc -ne 0 ] && ! grep -q "topic \"$topic\"" "$WORK/nocert.out" && [ "$after" -gt "$before" ]; then
  pass "(c) kcat SSL without a client certificate refused (exit $rc); broker logged: $(grep "client didn't provide a certificate" "$WORK/broker-b.log" | tail -n 1 | head -c 200)"
else
  tail -n 5 "$WORK/nocert.out"
  failc "(c) kcat SSL without a client certificate was not refused (exit $rc)"
fi
# A certificate the CA did not sign is refused too.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mallory" \
  -keyout "$C/rogue-key.pem" -out "$C/rogue.pem" >/dev/null 2>&1
kc_ssl -X "ssl.certificate.location=$C/rogue.pem" -X "ssl.key.location=$C/rogue-key.pem" -L -m 5 >"$WORK/rogue.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && ! grep -q "topic \"$topic\"" "$WORK/rogue.out" &&
  grep -q 'certificate signed by unknown authority' "$WORK/broker-b.log"; then
  pass "(c) kcat SSL with a self-signed client certificate refused (exit $rc)"
else
  tail -n 5 "$WORK/rogue.out"
  failc "(c) kcat SSL with a self-signed client certificate was not refused (exit $rc)"
fi

# --- (d) Java client -------------------------------------------------------------------
if [ -z "${SKIP_JAVA:-}" ]; then
  M2_REPO="${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}"
  JBUILD="$CACHE_ROOT/java-compat"
  if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    failc "(d) java: mvn and a JDK are needed (scripts/java.sh installs them; SKIP_JAVA=1 skips)"
  else
    mkdir -p "$JBUILD"
    t0=$SECONDS
    # Offline first (the usual case: scripts/java.sh filled ~/.m2), online if that fails.
    if mvn -q -B -o -f "$ROOT/tests/java/pom.xml" -Dmaven.repo.local="$M2_REPO" \
      -Dcompat.build.dir="$JBUILD" package >"$WORK/mvn.log" 2>&1 ||
      mvn -q -B -f "$ROOT/tests/java/pom.xml" -Dmaven.repo.local="$M2_REPO" \
        -Dcompat.build.dir="$JBUILD" package >"$WORK/mvn.log" 2>&1; then
      echo "security: built tests/java in $((SECONDS - t0)) s"
      timeout 120 java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=error \
        -cp "$JBUILD/classes:$JBUILD/lib/*" io.chronik.compat.SaslCompat \
        "127.0.0.1:$A_SASL_SSL" SCRAM-SHA-512 "$U512" "$P512" "$C/ca.pem" >"$WORK/java.out" 2>"$WORK/java.err"
      rc=$?
      while read -r line; do
        case "$line" in
          "PASS "*) pass "(d) ${line#PASS }" ;;
          "FAIL "*) failc "(d) ${line#FAIL }" ;;
        esac
      done <"$WORK/java.out"
      if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$WORK/java.out"; then
        tail -n 20 "$WORK/java.err"
        failc "(d) java SaslCompat exited $rc without reporting a failing check"
      fi
    else
      tail -n 30 "$WORK/mvn.log"
      failc "(d) java: mvn package in tests/java failed"
    fi
  fi
fi

# --- (e) franz-go's own SCRAM and TLS tests ----------------------------------------------
kgo_run() { # LABEL RUN ENV...
  local label="$1" run="$2"
  shift 2
  (cd "$FRANZ" && env GOWORK=off KGO_TEST_RF=1 KGO_TEST_RECORDS=2000 "$@" \
    go test ./pkg/kgo/ -run "$run" -count=1 -v -timeout 120s >"$WORK/kgo-$label.out" 2>&1)
  local rc=$? n=0 name
  while read -r name; do
    n=$((n + 1))
    pass "(e) kgo $label: $name"
  done < <(sed -n -E 's/^--- PASS: ([^ ]+) .*/\1/p' "$WORK/kgo-$label.out")
  while read -r name; do
    n=$((n + 1))
    failc "(e) kgo $label: $name"
  done < <(sed -n -E 's/^--- (FAIL|SKIP): ([^ ]+) .*/\2 (\1)/p' "$WORK/kgo-$label.out")
  if [ $rc -ne 0 ] || [ $n -eq 0 ]; then
    tail -n 30 "$WORK/kgo-$label.out"
    [ $n -gt 0 ] && grep -q '^--- FAIL' "$WORK/kgo-$label.out" || failc "(e) kgo $label: go test exited $rc"
  fi
}
if [ -z "${SKIP_KGO:-}" ]; then
  VERSION="$(go list -m -f '{{.Version}}' github.com/twmb/franz-go)"
  FRANZ="$CACHE_ROOT/kgo/franz-go@$VERSION"
  if [ ! -f "$FRANZ/.chronik-complete" ]; then
    SRC="$(go mod download -json "github.com/twmb/franz-go@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    rm -rf "$FRANZ" && mkdir -p "$(dirname "$FRANZ")" &&
      cp -R "$SRC" "$FRANZ" && chmod -R u+w "$FRANZ" && touch "$FRANZ/.chronik-complete"
  fi
  if [ -f "$FRANZ/.chronik-complete" ]; then
    SCRAM_RUN='^(TestSCRAMAuth|TestSCRAMAuthBadCredentials)$'
    kgo_run scram512 "$SCRAM_RUN" KGO_SEEDS="127.0.0.1:$A_PLAIN" \
      KGO_TEST_SCRAM="$U512:$P512:512" KGO_TEST_SCRAM_SEEDS="127.0.0.1:$A_SASL_PLAIN"
    kgo_run scram256 '^TestSCRAMAuth$' KGO_SEEDS="127.0.0.1:$A_PLAIN" \
      KGO_TEST_SCRAM="$U256:$P256" KGO_TEST_SCRAM_SEEDS="127.0.0.1:$A_SASL_PLAIN"
    kgo_run mtls "${KGO_TLS_RUN:-^(TestPing|TestIssue1034|TestUnknownGroupOffsetFetchPinned)\$}" \
      KGO_SEEDS="127.0.0.1:$B_SSL" KGO_TEST_TLS="ca:$C/ca.pem,cert:$C/client.pem,key:$C/client-key.pem"
  else
    failc "(e) kgo: copying franz-go $VERSION from the module cache failed"
  fi
fi

# --- brokers still up ------------------------------------------------------------------
for p in "$APID" "$BPID"; do
  if ! kill -0 "$p" 2>/dev/null; then
    failc "broker pid $p exited during the run"
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "--- broker A log (last 20 lines)"
  tail -n 20 "$WORK/broker-a.log"
  echo "--- broker B log (last 20 lines)"
  tail -n 20 "$WORK/broker-b.log"
fi
echo "security: $((SECONDS - START_TIME)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
