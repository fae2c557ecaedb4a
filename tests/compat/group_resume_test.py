#!/usr/bin/env python3
"""Consumer groups resume from their committed offsets: kcat -G (librdkafka's
balanced consumer), confluent-kafka, kafka-python and the Java client
(tests/java GroupResume) each consume as a group member over a 3-partition
topic, commit and close; then, after (a) a restart of the consumer, (b) a
restart of the broker (SIGTERM) and (c) a kill -9 of the broker, each reads
exactly the records produced since, from every partition.

    python3 tests/compat/group_resume_test.py --bin bin/chronik --clients kcat,confluent-kafka,kafka-python
    python3 tests/compat/group_resume_test.py --bin bin/chronik --clients java --java-cp 'classes:lib/*'

The suite runs its own broker (tests/compat/chronik_proc.py: a free port, a
fresh data dir, num.partitions 3, group.initial.rebalance.delay.ms 0),
since it restarts it; --bootstrap is accepted and ignored.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chronik_proc import ChronikProcess  # noqa: E402
from harness import Runner, check, check_eq, unique  # noqa: E402

PARTITIONS = 3
PER_PARTITION = 3  # records per partition per phase

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--bootstrap", default="", help="ignored: the suite runs its own broker")
ap.add_argument("--bin", default=os.environ.get("CHRONIK_BIN", "bin/chronik"))
ap.add_argument("--clients", default="kcat,confluent-kafka,kafka-python")
ap.add_argument("--java-cp", default=os.environ.get("JAVA_COMPAT_CP", ""))
ap.add_argument("-k", dest="only", default="")
args = ap.parse_args()


def batch(phase):
    """The values produced in a phase: "p<P>-b<phase>-<i>" to partition P."""
    return [f"p{p}-b{phase}-{i}" for p in range(PARTITIONS) for i in range(PER_PARTITION)]


def run(cmd, timeout=90, stdin=None):
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{cmd[0]} exited {r.returncode}: {r.stderr[-600:]}")
    return r.stdout


# --- clients: produce(boot, topic, values) and consume(boot, topic, group, n) -> [(p, o, v)]

def kcat_produce(boot, topic, values):
    for p in range(PARTITIONS):
        lines = "".join(v + "\n" for v in values if v.startswith(f"p{p}-"))
        run(["kcat", "-b", boot, "-P", "-t", topic, "-p", str(p), "-X", "acks=all"], stdin=lines)


def kcat_consume(boot, topic, group, n):
    # Balanced consumer; offsets of what it printed are auto-committed, and
    # committed once more when it closes (after -c n records).
    out = run(["kcat", "-b", boot, "-G", group, "-X", "auto.offset.reset=earliest",
               "-c", str(n), "-q", "-f", "%p %o %s\n", topic])
    return parse_lines(out)


def parse_lines(out):
    recs = []
    for line in out.splitlines():
        if line.strip():
            p, o, v = line.split(" ", 2)
            recs.append((int(p), int(o), v))
    return recs


def ck_produce(boot, topic, values):
    from confluent_kafka import Producer
    pr = Producer({"bootstrap.servers": boot, "acks": "all"})
    errs = []
    for v in values:
        pr.produce(topic, v.encode(), partition=int(v[1:v.index("-")]),
                   on_delivery=lambda err, msg: err and errs.append(err))
    check_eq(pr.flush(30), 0, "records not delivered")
    check(not errs, f"delivery errors: {errs}")


def ck_consume(boot, topic, group, n):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": boot, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    recs = []
    try:
        c.subscribe([topic])
        deadline = time.time() + 60
        while len(recs) < n and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            recs.append((m.partition(), m.offset(), m.value().decode()))
        if recs:
            c.commit(asynchronous=False)
    finally:
        c.close()
    return recs


def kp_produce(boot, topic, values):
    from kafka import KafkaProducer
    pr = KafkaProducer(bootstrap_servers=boot, acks="all")
    try:
        for v in values:
            pr.send(topic, v.encode(), partition=int(v[1:v.index("-")])).get(30)
    finally:
        pr.close()


def kp_consume(boot, topic, group, n):
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, bootstrap_servers=boot, group_id=group, enable_auto_commit=False,
                      auto_offset_reset="earliest")
    recs = []
    try:
        deadline = time.time() + 60
        while len(recs) < n and time.time() < deadline:
            for _tp, ms in c.poll(timeout_ms=500).items():
                recs.extend((m.partition, m.offset, m.value.decode()) for m in ms)
        if recs:
            c.commit()
    finally:
        c.close()
    return recs


def java(*a):
    check(args.java_cp, "no --java-cp (the tests/java build's classpath)")
    return run(["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=error", "-cp", args.java_cp,
                "io.chronik.compat.GroupResume", *a])


def java_produce(boot, topic, values):
    java("produce", boot, topic, *values)


def java_consume(boot, topic, group, n):
    return parse_lines(java("consume", boot, topic, group, str(n)))


CLIENTS = {
    "kcat": ("kcat -G", kcat_produce, kcat_consume),
    "confluent-kafka": ("confluent-kafka", ck_produce, ck_consume),
    "kafka-python": ("kafka-python", kp_produce, kp_consume),
    "java": ("java", java_produce, java_consume),
}

PHASES = [
    # (name, what happens before it)
    ("group consumes a 3-partition topic and commits", None),
    ("resumes from committed offsets after a consumer restart", None),
    ("resumes from committed offsets after a broker restart (SIGTERM)", "TERM"),
    ("resumes from committed offsets after a broker kill -9", "KILL"),
]


def main():
    r = Runner(args.only)
    names = [c for c in args.clients.split(",") if c]
    for c in names:
        if c not in CLIENTS:
            r.run(f"group resume: unknown client {c}", lambda: check(False, "unknown client"))
    names = [c for c in names if c in CLIENTS]
    work = tempfile.mkdtemp(prefix="chronik-group-resume-")
    broker = ChronikProcess(args.bin, work, configs={"group.initial.rebalance.delay.ms": "0"},
                            args=["--num-partitions", str(PARTITIONS)])
    try:
        broker.start()
        state = {c: (unique(f"resume-{c}"), unique(f"resume-{c}")) for c in names}
        for phase, (what, restart) in enumerate(PHASES):
            if restart:
                try:
                    broker.restart(restart)
                except Exception as e:  # noqa: BLE001
                    r.run(f"group resume: broker restart ({restart})", lambda e=e: (_ for _ in ()).throw(e))
                    break
            for c in names:
                label, produce, consume = CLIENTS[c]
                topic, group = state[c]

                def case(produce=produce, consume=consume, topic=topic, group=group):
                    want = batch(phase)
                    produce(broker.bootstrap, topic, want)
                    recs = consume(broker.bootstrap, topic, group, len(want))
                    got = sorted(v for _p, _o, v in recs)
                    check_eq(got, sorted(want), "records read (exactly those produced since the last commit)")
                    for p, o, v in recs:
                        i = int(v.rsplit("-", 1)[1])
                        check_eq((p, o), (int(v[1:v.index("-")]), phase * PER_PARTITION + i), f"partition and offset of {v}")
                r.run(f"{label}: {what}", case)
        if not broker.running():
            r.run("group resume: broker still running", lambda: check(False, broker.log_tail()))
    finally:
        try:
            broker.stop("TERM")
        except Exception as e:  # noqa: BLE001
            print(f"FAIL group resume: final SIGTERM: {e}", flush=True)
            r.failed += 1
        if r.failed:
            sys.stderr.write(f"broker log ({broker.log_path}):\n{broker.log_tail(4000)}\n")
        else:
            subprocess.run(["rm", "-rf", work])
    r.exit()


main()
