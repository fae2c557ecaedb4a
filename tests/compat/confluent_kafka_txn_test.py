#!/usr/bin/env python3
"""Transaction cases for confluent-kafka-python (librdkafka) against a running
broker: committed transactions visible to read_committed, aborted ones never,
read_uncommitted sees both; send_offsets_to_transaction; fencing of an older
producer with the same transactional.id.

    python3 tests/compat/confluent_kafka_txn_test.py --bootstrap 127.0.0.1:9092

Run by scripts/compat.sh (suites confluent-kafka-txn, confluent-kafka-pypi-txn).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Runner, check, check_eq, parse_args, unique  # noqa: E402

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError,  # noqa: E402
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

args = parse_args(__doc__)
BOOT = args.bootstrap


def create_topic(topic, partitions=1):
    admin = AdminClient({"bootstrap.servers": BOOT})  # must outlive the futures
    fs = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1)], operation_timeout=15)
    for f in fs.values():
        f.result(timeout=30)


def txn_producer(txn_id, **conf):
    cfg = {"bootstrap.servers": BOOT, "transactional.id": txn_id, "linger.ms": 5,
           "transaction.timeout.ms": 60000, "message.timeout.ms": 30000}
    cfg.update(conf)
    p = Producer(cfg)
    p.init_transactions(30)
    return p


def read_all(topic, isolation, partitions=1, idle=2.0, deadline=30.0, group=None):
    """Every record of topic, read from the beginning until nothing new arrives
    for idle seconds after reaching the end offsets: [(partition, value)]."""
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group or unique("txn-read"),
                  "enable.auto.commit": False, "isolation.level": isolation,
                  "enable.partition.eof": True})
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        out, eof = [], set()
        end = time.time() + deadline
        last = time.time()
        while time.time() < end:
            m = c.poll(0.2)
            if m is None:
                if len(eof) == partitions and time.time() - last > idle:
                    break
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                raise KafkaException(m.error())
            eof.discard(m.partition())
            last = time.time()
            out.append((m.partition(), m.value().decode()))
        return out
    finally:
        c.close()


def produce_txn(p, topic, values, commit):
    p.begin_transaction()
    for v in values:
        p.produce(topic, value=v.encode(), partition=0)
    p.flush(30)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)


def case_commit_abort_visibility():
    topic = unique("ck-txn-vis")
    create_topic(topic)
    p = txn_producer(unique("ck-txn-vis-id"))
    produce_txn(p, topic, ["c1-0", "c1-1", "c1-2"], True)
    produce_txn(p, topic, ["a1-0", "a1-1"], False)
    produce_txn(p, topic, ["c2-0", "c2-1"], True)
    produce_txn(p, topic, ["a2-0"], False)
    p.flush(10)
    committed = ["c1-0", "c1-1", "c1-2", "c2-0", "c2-1"]
    rc = [v for _, v in read_all(topic, "read_committed")]
    check_eq(rc, committed, "read_committed values")
    ru = [v for _, v in read_all(topic, "read_uncommitted")]
    check_eq(ru, ["c1-0", "c1-1", "c1-2", "a1-0", "a1-1", "c2-0", "c2-1", "a2-0"],
             "read_uncommitted values")


def case_open_txn_invisible():
    """Records of a transaction still open are invisible to read_committed and
    visible to read_uncommitted; after commit read_committed sees them."""
    topic = unique("ck-txn-open")
    create_topic(topic)
    p = txn_producer(unique("ck-txn-open-id"))
    p.begin_transaction()
    for i in range(3):
        p.produce(topic, value=f"o{i}".encode(), partition=0)
    p.flush(30)
    check_eq(read_all(topic, "read_committed", idle=1.0), [], "read_committed while open")
    check_eq([v for _, v in read_all(topic, "read_uncommitted", idle=1.0)], ["o0", "o1", "o2"],
             "read_uncommitted while open")
    c = Consumer({"bootstrap.servers": BOOT, "group.id": unique("txn-wm"),
                  "isolation.level": "read_committed"})
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
        # read_committed high watermark is the LSO: the open transaction's first offset.
        check_eq(hi, 0, "read_committed high watermark (LSO) while open")
    finally:
        c.close()
    p.commit_transaction(30)
    check_eq([v for _, v in read_all(topic, "read_committed")], ["o0", "o1", "o2"],
             "read_committed after commit")


def case_send_offsets_to_transaction():
    """Consume-transform-produce: input offsets committed with the output
    transaction; an aborted round leaves neither output nor offsets."""
    src, dst = unique("ck-txn-src"), unique("ck-txn-dst")
    create_topic(src)
    create_topic(dst)
    pp = Producer({"bootstrap.servers": BOOT})
    for i in range(6):
        pp.produce(src, value=f"in{i}".encode(), partition=0)
    pp.flush(30)
    group = unique("ck-txn-group")
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    p = txn_producer(unique("ck-txn-ctp-id"))
    try:
        c.assign([TopicPartition(src, 0, OFFSET_BEGINNING)])

        def take(n):
            got, end = [], time.time() + 30
            while len(got) < n and time.time() < end:
                m = c.poll(0.5)
                if m is None or m.error():
                    continue
                got.append(m)
            check_eq(len(got), n, "records consumed")
            return got

        def round_(msgs, commit):
            p.begin_transaction()
            for m in msgs:
                p.produce(dst, value=m.value().upper(), partition=0)
            # Flushed so the aborted round's records reach the log
            # (abort_transaction purges unsent messages).
            p.flush(30)
            p.send_offsets_to_transaction(
                [TopicPartition(src, 0, msgs[-1].offset() + 1)], c.consumer_group_metadata(), 30)
            if commit:
                p.commit_transaction(30)
            else:
                p.abort_transaction(30)

        def committed_offset(want):
            # The offsets become visible with the commit markers, which may trail EndTxn.
            end = time.time() + 10
            while True:
                got = c.committed([TopicPartition(src, 0)], timeout=10)[0].offset
                if got == want or time.time() > end:
                    return got
                time.sleep(0.1)

        round_(take(3), True)  # in0..in2 -> committed, offset 3
        check_eq(committed_offset(3), 3, "group offset after the first commit")
        second = take(3)
        round_(second, False)  # in3..in5 aborted: offset stays 3
        check_eq(committed_offset(3), 3, "group offset after commit + abort")
        # Redo the aborted round, as a restarted consumer would.
        round_(second, True)
        check_eq(committed_offset(6), 6, "group offset after the second commit")
    finally:
        c.close()
    check_eq([v for _, v in read_all(dst, "read_committed")],
             ["IN0", "IN1", "IN2", "IN3", "IN4", "IN5"], "read_committed output")
    check_eq(len(read_all(dst, "read_uncommitted")), 9, "read_uncommitted output count")


def case_fencing():
    """A second producer with the same transactional.id fences the first: the
    first's open transaction is aborted, its later writes fail with a fatal
    (fenced) error, and nothing it wrote becomes visible to read_committed."""
    topic = unique("ck-txn-fence")
    create_topic(topic)
    tid = unique("ck-txn-fence-id")
    a = txn_producer(tid)
    produce_txn(a, topic, ["a-committed"], True)
    a.begin_transaction()
    a.produce(topic, value=b"a-open", partition=0)
    a.flush(30)
    b = txn_producer(tid)  # InitProducerId: aborts a's open transaction, bumps the epoch
    err = None
    try:
        a.produce(topic, value=b"a-after-fence", partition=0)
        a.flush(30)
        a.commit_transaction(30)
    except KafkaException as e:
        err = e.args[0]
    check(err is not None, "older producer committed after being fenced")
    check(err.fatal() or err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                        KafkaError.INVALID_PRODUCER_EPOCH),
          f"older producer: want a fatal/fenced error, got {err}")
    produce_txn(b, topic, ["b-committed"], True)
    check_eq([v for _, v in read_all(topic, "read_committed")], ["a-committed", "b-committed"],
             "read_committed after fencing")
    # a cannot start anything new either.
    try:
        a.begin_transaction()
        a.produce(topic, value=b"a-zombie", partition=0)
        a.commit_transaction(10)
        zombie_ok = True
    except KafkaException:
        zombie_ok = False
    check(not zombie_ok, "fenced producer committed a new transaction")
    check_eq([v for _, v in read_all(topic, "read_committed", idle=1.0)],
             ["a-committed", "b-committed"], "read_committed at the end")


def main():
    r = Runner(args.only)
    r.run("confluent-kafka txn: commit/abort visibility (read_committed, read_uncommitted)",
          case_commit_abort_visibility)
    r.run("confluent-kafka txn: open transaction invisible, LSO", case_open_txn_invisible)
    r.run("confluent-kafka txn: send_offsets_to_transaction", case_send_offsets_to_transaction)
    r.run("confluent-kafka txn: fencing by a second producer", case_fencing)
    print(f"{r.passed} passed, {r.failed} failed", flush=True)
    r.exit()


if __name__ == "__main__":
    main()
