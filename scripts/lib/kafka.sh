# Shared by scripts/diff.sh and scripts/diff-acl.sh (sourced, not run):
# Apache Kafka's jars from Maven Central, the Chronik binary, ports and
# processes. The caller sets ROOT, KAFKA_VERSION, KAFKA_LIBS, M2_REPO and
# LOG_TAG ("diff", "diff-acl") and defines fail MESSAGE (prints and exits).

# fetch_kafka_jars: org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its
# runtime dependencies into $KAFKA_LIBS (tests/diff/kafka-pom.xml), once.
fetch_kafka_jars() {
  [ -f "$KAFKA_LIBS/.complete" ] && return 0
  command -v mvn >/dev/null 2>&1 || fail "maven is needed to fetch Kafka $KAFKA_VERSION"
  echo "$LOG_TAG: fetching Apache Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS.tmp"
  mkdir -p "$KAFKA_LIBS.tmp"
  local t0=$SECONDS
  if ! mvn -q -B -f "$ROOT/tests/diff/kafka-pom.xml" -Dmaven.repo.local="$M2_REPO" \
    -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.tmp" >"$KAFKA_LIBS.tmp.log" 2>&1; then
    tail -n 30 "$KAFKA_LIBS.tmp.log"
    fail "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  fi
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  rm -f "$KAFKA_LIBS.tmp.log"
  touch "$KAFKA_LIBS/.complete"
  echo "$LOG_TAG: fetched $(ls "$KAFKA_LIBS" | wc -l) jars in $((SECONDS - t0)) s"
}

# chronik_binary: sets BIN to $CHRONIK_BIN, or builds bin/chronik.
chronik_binary() {
  if [ -n "${CHRONIK_BIN:-}" ]; then
    BIN="$CHRONIK_BIN"
  else
    BIN="$ROOT/bin/chronik"
    echo "$LOG_TAG: go build -o bin/chronik ./cmd/chronik"
    go build -o "$BIN" ./cmd/chronik || fail "build failed"
  fi
  [ -x "$BIN" ] || fail "$BIN is not executable"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_pid() { # stop_pid PID: SIGTERM, wait up to 20 s, then SIGKILL
  local pid="$1" i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

wait_port() { # wait_port NAME PID PORT SECONDS LOG
  local i
  for i in $(seq 1 $(($4 * 10))); do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "$LOG_TAG: $1 exited during start-up; last lines of its log:"
      tail -n 40 "$5"
      return 1
    fi
    port_open "$3" && return 0
    sleep 0.1
  done
  echo "$LOG_TAG: $1 did not listen on 127.0.0.1:$3 within $4 s; last lines of its log:"
  tail -n 40 "$5"
  return 1
}

# write_log4j FILE: Kafka's log4j2 configuration (warnings, plus the line
# saying the server started).
write_log4j() {
  cat >"$1" <<'LOG4J'
status = error
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = INFO
LOG4J
}

# kafka_single_node_props LOGDIR: the server.properties lines every test
# Kafka here shares: one KRaft node, its log directory, single-partition
# unreplicated internal topics, no rebalance delay.
kafka_single_node_props() {
  cat <<PROPS
log.dirs=$1
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
}

# start_kafka PROPS PREFIX: formats the storage of the Kafka configured by
# PROPS (with Kafka's default features, transaction.version 2 among them)
# and starts it, logging to $WORK/PREFIXformat.log and $WORK/PREFIXkafka.log;
# sets KAFKA_PID. Needs JAVA_OPTS, CP and CLUSTER_ID (kafka_java_setup) and
# the caller's fail.
start_kafka() {
  if ! java "${JAVA_OPTS[@]}" -cp "$CP" kafka.tools.StorageTool format -t "$CLUSTER_ID" \
    -c "$1" >"$WORK/${2}format.log" 2>&1; then
    tail -n 30 "$WORK/${2}format.log"
    fail "kafka storage format (${2:-main}) failed"
  fi
  java "${JAVA_OPTS[@]}" -cp "$CP" kafka.Kafka "$1" >"$WORK/${2}kafka.log" 2>&1 &
  KAFKA_PID=$!
}

# kafka_java_setup: the log4j configuration, JVM options, class path and
# cluster id of the test Kafkas.
kafka_java_setup() {
  write_log4j "$WORK/log4j2.properties"
  JAVA_OPTS=(-Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$WORK/log4j2.properties")
  CP="$KAFKA_LIBS/*"
  CLUSTER_ID="$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))')"
}
