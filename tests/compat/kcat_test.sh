#!/usr/bin/env bash
# Compat cases for kcat (librdkafka) against a running broker.
#
#   tests/compat/kcat_test.sh --bootstrap 127.0.0.1:9092
#
# Prints one line per case: "PASS name", "FAIL name: reason" or
# "XFAIL name: reason"; exits 1 if any case failed.
# Topics are created with tests/compat/admin.py (confluent-kafka AdminClient)
# where kcat can't: $PYTHON must import confluent_kafka.
set -uo pipefail

BOOT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bootstrap) BOOT="$2"; shift 2 ;;
    --bootstrap=*) BOOT="${1#*=}"; shift ;;
    *) echo "usage: $0 --bootstrap HOST:PORT" >&2; exit 2 ;;
  esac
done
[ -n "$BOOT" ] || { echo "usage: $0 --bootstrap HOST:PORT" >&2; exit 2; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${PYTHON:-}" ]; then
  # Debian's python3-confluent-kafka is in /usr/bin/python3's dist-packages.
  PYTHON=python3
  /usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null && PYTHON=/usr/bin/python3
fi
PREFIX="kcat-$(date +%s)-$$"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
FAILED=0

# k ARGS...: kcat against the broker, bounded in time.
k() { timeout 60 kcat -b "$BOOT" "$@"; }
# kc ARGS...: a kcat consumer; every read here takes well under a second.
kc() { timeout "${KCAT_CONSUME_TIMEOUT:-10}" kcat -b "$BOOT" -C "$@"; }

admin() { timeout 60 "$PYTHON" "$HERE/admin.py" --bootstrap "$BOOT" "$@"; }

# consume TOPIC PARTITION FORMAT COUNT [kcat args]: reads the partition from
# the beginning to stdout; stops at the end of the partition (-e) or after
# COUNT records (-c, unless COUNT is 0), whichever comes first.
consume() {
  local t="$1" p="$2" f="$3" n="$4"; shift 4
  local cnt=()
  [ "$n" -gt 0 ] && cnt=(-c "$n")
  kc -t "$t" -p "$p" -o beginning -e "${cnt[@]}" -f "$f" "$@" 2>"$TMP/consume.err"
  local rc=$?
  if [ $rc -ne 0 ]; then
    # The reason for the failure: kcat's errors (deduplicated).
    grep -v 'Reached end of topic' "$TMP/consume.err" | sed -E 's/^%[0-9]\|[0-9.]+\|//' | sort | uniq -c | head -5 >&2
    [ $rc -eq 124 ] && echo "kcat consumer timed out" >&2
  fi
  return $rc
}

# expect_eq WHAT EXPECTED_FILE ACTUAL_FILE
expect_eq() {
  if ! cmp -s "$2" "$3"; then
    echo "$1 differs: $(diff "$2" "$3" | head -c 400)"
    return 1
  fi
}

# run NAME FUNC: runs FUNC, whose output (on failure) becomes the reason.
run() {
  local name="$1" fn="$2" out rc
  local t0=$SECONDS
  out="$("$fn" 2>&1)"
  rc=$?
  [ -n "${COMPAT_TIMING:-}" ] && echo "# $name: $((SECONDS - t0)) s"
  if [ $rc -eq 0 ]; then
    echo "PASS $name"
  else
    FAILED=1
    echo "FAIL $name: $(printf '%s' "$out" | tr '\n' ' ' | tail -c 600) (rc=$rc)"
  fi
}

# --- cases -----------------------------------------------------------------

# produce_keyed TOPIC N [kcat args]: N "key-i:value-i" lines, -K:.
produce_keyed() {
  local t="$1" n="$2"; shift 2
  for i in $(seq 0 $((n - 1))); do echo "key-$i:value-$i"; done >"$TMP/in-$t"
  k -P -t "$t" -K: "$@" <"$TMP/in-$t"
}

# roundtrip_check TOPIC N: consumes TOPIC partition 0, compares with the input.
roundtrip_check() {
  local t="$1" n="$2"
  consume "$t" 0 '%k:%s\n' "$n" >"$TMP/out-$t" || { echo "consume failed"; return 1; }
  expect_eq "consumed records" "$TMP/in-$t" "$TMP/out-$t"
}

case_keyed_roundtrip() {
  local t="$PREFIX-keyed"
  produce_keyed "$t" 50 -X acks=all || { echo "produce failed"; return 1; }
  roundtrip_check "$t" 50
}

case_offsets() {
  local t="$PREFIX-offsets"
  seq 0 29 | sed 's/^/msg-/' | k -P -t "$t" -p 0 -X acks=all || { echo "produce failed"; return 1; }
  seq 0 29 >"$TMP/want-off"
  consume "$t" 0 '%o\n' 30 >"$TMP/got-off" || { echo "consume failed"; return 1; }
  expect_eq "offsets" "$TMP/want-off" "$TMP/got-off" || return 1
  # Partition column and a read from the middle (-o 10 -c 5).
  consume "$t" 0 '%p\n' 30 | sort -u >"$TMP/got-part"
  echo 0 >"$TMP/want-part"
  expect_eq "partitions" "$TMP/want-part" "$TMP/got-part" || return 1
  kc -q -t "$t" -p 0 -o 10 -c 5 -e -f '%o:%s\n' >"$TMP/got-mid" || { echo "consume -o 10 failed"; return 1; }
  printf '10:msg-10\n11:msg-11\n12:msg-12\n13:msg-13\n14:msg-14\n' >"$TMP/want-mid"
  expect_eq "read from offset 10" "$TMP/want-mid" "$TMP/got-mid" || return 1
  # ListOffsets: latest (-1) and earliest (-2).
  local q
  q="$(k -Q -t "$t:0:-1" 2>&1)"
  echo "$q" | grep -q "^$t \[0\] offset 30\$" || { echo "kcat -Q latest: $q"; return 1; }
  q="$(k -Q -t "$t:0:-2" 2>&1)"
  echo "$q" | grep -q "^$t \[0\] offset 0\$" || { echo "kcat -Q earliest: $q"; return 1; }
}

case_three_partitions() {
  local t="$PREFIX-three"
  admin create "$t" --partitions 3 || { echo "create topic failed"; return 1; }
  local p i
  for p in 0 1 2; do
    for i in 0 1 2 3 4; do echo "p$p-m$i"; done >"$TMP/in-3-$p"
    k -P -t "$t" -p "$p" -X acks=all <"$TMP/in-3-$p" || { echo "produce to partition $p failed"; return 1; }
  done
  for p in 0 1 2; do
    consume "$t" "$p" '%s\n' 5 >"$TMP/out-3-$p" || { echo "consume partition $p failed"; return 1; }
    expect_eq "partition $p" "$TMP/in-3-$p" "$TMP/out-3-$p" || return 1
    consume "$t" "$p" '%o\n' 5 >"$TMP/off-3-$p"
    seq 0 4 >"$TMP/want-3"
    expect_eq "partition $p offsets" "$TMP/want-3" "$TMP/off-3-$p" || return 1
  done
  k -L -t "$t" | grep -q "topic \"$t\" with 3 partitions" || { echo "kcat -L does not show 3 partitions: $(k -L -t "$t")"; return 1; }
}

# kcat -e exits once it has read up to the high watermark: needs fetches at the
# end of the log (no records) to be answered with an empty record set.
case_end_of_partition() {
  local t="$PREFIX-eof"
  printf 'a\nb\nc\n' | k -P -t "$t" -p 0 -X acks=all || { echo "produce failed"; return 1; }
  consume "$t" 0 '%o\n' 0 >"$TMP/got-eof" || return 1
  seq 0 2 >"$TMP/want-eof"
  expect_eq "offsets" "$TMP/want-eof" "$TMP/got-eof" || return 1
  # An empty partition: end of partition at offset 0.
  admin create "$PREFIX-empty" || { echo "create topic failed"; return 1; }
  consume "$PREFIX-empty" 0 '%o\n' 0 >"$TMP/got-empty" || return 1
  [ ! -s "$TMP/got-empty" ] || { echo "empty topic returned records"; return 1; }
}

case_headers() {
  local t="$PREFIX-headers"
  echo "with-headers" | k -P -t "$t" -X acks=all -H app=chronik -H trace=abc123 || { echo "produce failed"; return 1; }
  echo "no-headers" | k -P -t "$t" -X acks=all || { echo "produce failed"; return 1; }
  consume "$t" 0 '%h|%s\n' 2 >"$TMP/got-h" || { echo "consume failed"; return 1; }
  printf 'app=chronik,trace=abc123|with-headers\n|no-headers\n' >"$TMP/want-h"
  expect_eq "headers" "$TMP/want-h" "$TMP/got-h"
}

case_null_key_value() {
  local t="$PREFIX-nulls"
  # -Z: empty key/value are sent as NULL.
  printf 'k1:\n:v2\n:\nk4:v4\n' | k -P -t "$t" -K: -Z -X acks=all || { echo "produce failed"; return 1; }
  # %K / %S print the key / value length, -1 for NULL.
  consume "$t" 0 '%K|%S|%k|%s\n' 4 >"$TMP/got-n" || { echo "consume failed"; return 1; }
  printf '2|-1|k1|\n-1|2||v2\n-1|-1||\n2|2|k4|v4\n' >"$TMP/want-n"
  expect_eq "null key/value" "$TMP/want-n" "$TMP/got-n"
}

case_large_message() {
  local t="$PREFIX-large"
  admin create "$t" --partitions 1 --config max.message.bytes=2097152 || { echo "create topic failed"; return 1; }
  # 786432 random bytes -> exactly 1 MiB of base64 (no newline).
  head -c 786432 /dev/urandom | base64 -w0 >"$TMP/big"
  # A file argument is sent as one message.
  k -P -t "$t" -p 0 -X acks=all -X message.max.bytes=3000000 "$TMP/big" || { echo "produce failed"; return 1; }
  consume "$t" 0 '%s' 1 -X fetch.message.max.bytes=3000000 >"$TMP/big-out" || { echo "consume failed"; return 1; }
  if ! cmp -s "$TMP/big" "$TMP/big-out"; then
    echo "1 MiB message differs: sent $(wc -c <"$TMP/big") bytes, got $(wc -c <"$TMP/big-out")"
    return 1
  fi
}

case_oversized_rejected() {
  local t="$PREFIX-large2"
  admin create "$t" --partitions 1 --config max.message.bytes=1048576 || { echo "create topic failed"; return 1; }
  head -c 1572864 /dev/urandom | base64 -w0 >"$TMP/huge" # 2 MiB > 1 MiB limit
  if k -P -t "$t" -p 0 -X acks=all -X message.max.bytes=3000000 "$TMP/huge" >"$TMP/huge-log" 2>&1; then
    echo "2 MiB message accepted by a topic with max.message.bytes=1048576"
    return 1
  fi
  grep -qiE 'too large|MSG_SIZE_TOO_LARGE|MESSAGE_TOO_LARGE' "$TMP/huge-log" || { echo "unexpected error: $(head -c 300 "$TMP/huge-log")"; return 1; }
  # Nothing was appended.
  local q
  q="$(k -Q -t "$t:0:-1" 2>&1)"
  echo "$q" | grep -q "offset 0\$" || { echo "end offset after a rejected produce: $q"; return 1; }
}

case_metadata_list() {
  k -L >"$TMP/meta" || { echo "kcat -L failed"; return 1; }
  grep -q " 1 brokers:" "$TMP/meta" || { echo "no '1 brokers:' in: $(head -c 300 "$TMP/meta")"; return 1; }
  grep -q "broker [0-9-]* at $BOOT" "$TMP/meta" || { echo "broker $BOOT not listed: $(head -c 300 "$TMP/meta")"; return 1; }
  grep -q "topic \"$PREFIX-keyed\" with 1 partitions" "$TMP/meta" || { echo "topic $PREFIX-keyed not listed"; return 1; }
  k -L -t "$PREFIX-keyed" | grep -q "partition 0, leader [0-9]" || { echo "partition 0 leader not listed"; return 1; }
}

# acks_case MODE: produce 50 keyed messages with -X MODE, read them back.
acks_case() {
  local mode="$1" t
  t="$PREFIX-$(echo "$1" | tr '.=' '--')"
  produce_keyed "$t" 50 -X "$mode" || { echo "produce with $mode failed"; return 1; }
  if [ "$mode" = "acks=0" ]; then
    # Fire-and-forget: the broker may still be syncing; poll the end offset
    # (ListOffsets, timestamp -1 = latest) for up to 10 s.
    local i
    for i in $(seq 1 20); do
      k -Q -t "$t:0:-1" 2>/dev/null | grep -q "offset 50\$" && break
      sleep 0.5
    done
  fi
  roundtrip_check "$t" 50
}
case_acks_all() { acks_case acks=all; }
case_acks_1() { acks_case acks=1; }
case_acks_0() { acks_case acks=0; }
case_idempotence() { acks_case enable.idempotence=true; }

case_compression() {
  local c t
  for c in gzip snappy lz4 zstd; do
    t="$PREFIX-z-$c"
    produce_keyed "$t" 20 -X acks=all -z "$c" || { echo "produce with $c failed"; return 1; }
    roundtrip_check "$t" 20 || { echo "($c)"; return 1; }
  done
}

run "kcat: 50 keyed messages round trip in order (acks=all)" case_keyed_roundtrip
run "kcat: 30 messages to partition 0 get offsets 0..29" case_offsets
run "kcat: 15 messages over 3 partitions read back in order" case_three_partitions
run "kcat: consumer -e stops at the end of the partition" case_end_of_partition
run "kcat: headers" case_headers
run "kcat: null key / null value" case_null_key_value
run "kcat: 1 MiB message (max.message.bytes=2097152)" case_large_message
run "kcat: message over max.message.bytes is rejected" case_oversized_rejected
run "kcat: metadata listing (-L)" case_metadata_list
run "kcat: produce acks=all" case_acks_all
run "kcat: produce enable.idempotence=true" case_idempotence
run "kcat: produce acks=1" case_acks_1
run "kcat: produce acks=0" case_acks_0
run "kcat: compressed batches (gzip, snappy, lz4, zstd)" case_compression

exit $FAILED
