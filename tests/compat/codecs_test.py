#!/usr/bin/env python3
"""Compression codecs and add-partitions, for kafka-python or confluent-kafka.

    python3 tests/compat/codecs_test.py --client kafka-python --bootstrap 127.0.0.1:9092
    python3 tests/compat/codecs_test.py --client confluent-kafka --bootstrap 127.0.0.1:9092

For each codec (gzip, snappy, lz4, zstd) on a 1- and a 3-partition topic:
produce keyed records with that compression and read every partition back in
order. Then create_partitions (1 -> 3) through the client's admin API and use
the new partition. kafka-python needs optional Python modules for snappy, lz4
and zstd; a codec whose module is missing is an expected failure (XFAIL).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# --client is ours; harness.parse_args knows only --bootstrap and -k.
CLIENT = "kafka-python"
if "--client" in sys.argv:
    i = sys.argv.index("--client")
    CLIENT = sys.argv[i + 1]
    del sys.argv[i:i + 2]

from harness import Runner, check, check_eq, parse_args, unique  # noqa: E402

args = parse_args(__doc__)
BOOT = args.bootstrap
CODECS = ("gzip", "snappy", "lz4", "zstd")
N = 60


def expected(partitions):
    """{partition: [(key, value), ...]} for records i -> partition i % partitions."""
    want = {p: [] for p in range(partitions)}
    for i in range(N):
        want[i % partitions].append((f"key-{i}".encode(), f"value-{i}-".encode() * 20))
    return want


if CLIENT == "kafka-python":
    import kafka
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewPartitions, NewTopic
    from kafka import codec as kcodec

    VERSION = f"kafka-python {kafka.__version__}"
    HAVE = {"gzip": lambda: True, "snappy": kcodec.has_snappy, "lz4": kcodec.has_lz4,
            "zstd": getattr(kcodec, "has_zstd", lambda: False)}
    MODULE = {"snappy": "python-snappy", "lz4": "lz4", "zstd": "zstandard"}

    def admin():
        return KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=15000)

    def create_topic(name, partitions):
        a = admin()
        try:
            a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                            timeout_ms=10000)
        finally:
            a.close()

    def add_partitions(name, total):
        a = admin()
        try:
            a.create_partitions({name: NewPartitions(total_count=total)}, timeout_ms=10000)
        finally:
            a.close()

    def produce(topic, partitions, codec):
        p = KafkaProducer(bootstrap_servers=BOOT, request_timeout_ms=15000, max_block_ms=20000,
                          linger_ms=20, acks="all",
                          compression_type=codec)
        try:
            futs = []
            for part, recs in expected(partitions).items():
                for k, v in recs:
                    futs.append(p.send(topic, key=k, value=v, partition=part))
            p.flush(timeout=20)
            for f in futs:
                f.get(timeout=20)
        finally:
            p.close(timeout=10)

    def consume(topic, partition, n, deadline_s=20):
        c = KafkaConsumer(bootstrap_servers=BOOT, group_id=None, enable_auto_commit=False,
                          auto_offset_reset="earliest", request_timeout_ms=15000)
        try:
            tp = TopicPartition(topic, partition)
            c.assign([tp])
            c.seek_to_beginning(tp)
            out = []
            deadline = time.time() + deadline_s
            while len(out) < n and time.time() < deadline:
                for recs in c.poll(timeout_ms=500).values():
                    out.extend(recs)
            return [(r.offset, r.key, r.value) for r in out]
        finally:
            c.close()

    def partition_count(topic):
        c = KafkaConsumer(bootstrap_servers=BOOT, group_id=None, request_timeout_ms=15000)
        try:
            deadline = time.time() + 10
            while True:
                ps = c.partitions_for_topic(topic) or set()
                if len(ps) > 1 or time.time() > deadline:
                    return len(ps)
                time.sleep(0.3)
        finally:
            c.close()

elif CLIENT == "confluent-kafka":
    import confluent_kafka
    from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, KafkaException,
                                 Producer, TopicPartition)
    from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

    VERSION = (f"confluent-kafka {getattr(confluent_kafka, '__version__', confluent_kafka.version()[0])}, "
               f"librdkafka {confluent_kafka.libversion()[0]}")
    HAVE = {c: (lambda: True) for c in CODECS}
    MODULE = {}

    def _wait(futs):
        for f in futs.values():
            f.result(timeout=20)

    def create_topic(name, partitions):
        a = AdminClient({"bootstrap.servers": BOOT})
        _wait(a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                              operation_timeout=10, request_timeout=15))

    def add_partitions(name, total):
        a = AdminClient({"bootstrap.servers": BOOT})
        _wait(a.create_partitions([NewPartitions(name, total)],
                                  operation_timeout=10, request_timeout=15))

    def produce(topic, partitions, codec):
        p = Producer({"bootstrap.servers": BOOT, "linger.ms": 20, "acks": "all",
                      "message.timeout.ms": 30000, "compression.type": codec})
        errs = []

        def done(err, msg):
            if err is not None:
                errs.append(err)
        for part, recs in expected(partitions).items():
            for k, v in recs:
                p.produce(topic, key=k, value=v, partition=part, on_delivery=done)
                p.poll(0)
        check_eq(p.flush(30), 0, "messages left after flush")
        check(not errs, f"delivery errors: {errs[:3]}")

    def consume(topic, partition, n, deadline_s=20):
        c = Consumer({"bootstrap.servers": BOOT, "group.id": unique("ck-codec"),
                      "enable.auto.commit": False, "enable.auto.offset.store": False,
                      "auto.offset.reset": "earliest"})
        try:
            c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
            out = []
            deadline = time.time() + deadline_s
            while len(out) < n and time.time() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(m.error())
                out.append((m.offset(), m.key(), m.value()))
            return out
        finally:
            c.close()

    def partition_count(topic):
        a = AdminClient({"bootstrap.servers": BOOT})
        deadline = time.time() + 10
        while True:
            md = a.list_topics(topic, timeout=10)
            t = md.topics.get(topic)
            n = len(t.partitions) if t is not None and t.error is None else 0
            if n > 1 or time.time() > deadline:
                return n
            time.sleep(0.3)

else:
    sys.exit(f"codecs_test: unknown --client {CLIENT!r}")

TAG = "kp" if CLIENT == "kafka-python" else "ck"


def case_codec(codec, partitions):
    topic = unique(f"{TAG}-codec-{codec}-{partitions}p")
    create_topic(topic, partitions)
    produce(topic, partitions, codec)
    for part, recs in expected(partitions).items():
        got = consume(topic, part, len(recs))
        check_eq(got, [(i, k, v) for i, (k, v) in enumerate(recs)],
                 f"partition {part} records")


def case_add_partitions():
    topic = unique(f"{TAG}-addparts")
    create_topic(topic, 1)
    add_partitions(topic, 3)
    check_eq(partition_count(topic), 3, "partition count after create_partitions")
    produce(topic, 3, "gzip")
    for part, recs in expected(3).items():
        got = consume(topic, part, len(recs))
        check_eq(got, [(i, k, v) for i, (k, v) in enumerate(recs)],
                 f"partition {part} records")


def main():
    r = Runner(args.only)
    print(f"# {VERSION}", flush=True)
    for codec in CODECS:
        missing = None if HAVE[codec]() else (
            f"{CLIENT} lacks the Python module for {codec} ({MODULE.get(codec, codec)})")
        for partitions in (1, 3):
            r.run(f"{CLIENT}: compression {codec}, {partitions} partition(s), read back in order",
                  lambda c=codec, p=partitions: case_codec(c, p), xfail=missing)
    r.run(f"{CLIENT}: admin create_partitions 1 -> 3, produce/read new partitions",
          case_add_partitions)
    r.exit()


if __name__ == "__main__":
    main()
