#!/usr/bin/env python3
"""Transactions with real clients across a broker kill -9, and fencing
(issue #5): confluent-kafka (librdkafka) and the Java client (tests/java
TxnClients, driven from here).

For each client:
  (a) N transactions over a 3-partition topic, transaction i writing
      "t<i>-p<P>" to every partition P and being aborted when i % 3 == 2,
      committed otherwise; the broker is SIGKILLed and restarted (same port,
      same data dir) in the middle of the run. Transactions whose
      commit/abort did not return success are "unknown". Then a
      read_committed consumer must see every record of every acknowledged-
      committed transaction exactly once, nothing of an aborted one, and
      unknown ones all-or-nothing; a read_uncommitted consumer also sees the
      aborted ones.
  (b) fencing: producer A (transactional.id X) begins a transaction and
      writes; producer B with id X initializes; A's next produce/commit
      fails as fenced; nothing A wrote is visible to read_committed, B's
      committed transaction is.

    python3 tests/compat/txn_clients_test.py --bin bin/chronik --clients confluent-kafka
    python3 tests/compat/txn_clients_test.py --bin bin/chronik --clients java --java-cp 'classes:lib/*'

The suite runs its own broker (tests/compat/chronik_proc.py), since it kills
it; --bootstrap is accepted and ignored.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chronik_proc import ChronikProcess  # noqa: E402
from harness import Runner, check, check_eq, unique  # noqa: E402

PARTITIONS = 3
N_TXNS = int(os.environ.get("TXN_CLIENTS_N", "24"))
KILL_AFTER = N_TXNS // 2  # kill -9 once this many transactions have finished
SLEEP_MS = 20  # inside each transaction, so the kill lands mid-transaction

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--bootstrap", default="", help="ignored: the suite runs its own broker")
ap.add_argument("--bin", default=os.environ.get("CHRONIK_BIN", "bin/chronik"))
ap.add_argument("--clients", default="confluent-kafka")
ap.add_argument("--java-cp", default=os.environ.get("JAVA_COMPAT_CP", ""))
ap.add_argument("-k", dest="only", default="")
args = ap.parse_args()

COMMITTED_ISOLATION = "read_committed"


def values_of(i):
    return [f"t{i}-p{p}" for p in range(PARTITIONS)]


def intended(i):
    return "aborted" if i % 3 == 2 else "committed"


# --- confluent-kafka -------------------------------------------------------------------

def ck_producer(boot, txn_id):
    from confluent_kafka import Producer, libversion
    conf = {"bootstrap.servers": boot, "transactional.id": txn_id, "acks": "all",
            "transaction.timeout.ms": 60000, "message.timeout.ms": 30000,
            "socket.timeout.ms": 5000, "reconnect.backoff.max.ms": 500}
    if libversion()[1] >= 0x02030000:  # added in librdkafka 2.3 (Debian has 2.0)
        conf["retry.backoff.max.ms"] = 500
    return Producer(conf)


def ck_init(boot, txn_id, attempts=5):
    last = None
    for _ in range(attempts):
        pr = ck_producer(boot, txn_id)
        try:
            pr.init_transactions(30)
            return pr
        except Exception as e:  # noqa: BLE001
            last = e
            time.sleep(0.5)
    raise AssertionError(f"init_transactions failed {attempts} times: {last}")


def ck_run(boot, topic, txn_id, n, on_result):
    """Runs n transactions; calls on_result(i, "committed"|"aborted"|"unknown")."""
    from confluent_kafka import KafkaException
    pr = ck_init(boot, txn_id)
    for i in range(n):
        try:
            pr.begin_transaction()
            for p, v in enumerate(values_of(i)):
                pr.produce(topic, value=v.encode(), partition=p)
            time.sleep(SLEEP_MS / 1000)
            # Delivered before the abort, so read_uncommitted must see them
            # (abort_transaction purges messages still queued).
            check(pr.flush(30) == 0, f"txn {i}: records not delivered")
            if intended(i) == "aborted":
                pr.abort_transaction(30)
            else:
                pr.commit_transaction(30)
            on_result(i, intended(i))
        except (KafkaException, AssertionError) as e:
            err = e.args[0]
            print(f"txn {i}: {err}", file=sys.stderr)
            recreate = isinstance(e, KafkaException) and err.fatal()
            if not recreate:
                try:
                    pr.abort_transaction(30)
                except KafkaException as e2:
                    print(f"txn {i} abort: {e2}", file=sys.stderr)
                    recreate = True
            if recreate:
                pr = ck_init(boot, txn_id)
            on_result(i, "unknown")
    pr.flush(5)


def ck_consume(boot, topic, isolation):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": boot, "group.id": unique("txn-clients-reader"),
                  "isolation.level": isolation, "enable.auto.commit": False,
                  "enable.partition.eof": True})
    try:
        tps = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)]
        c.assign(tps)
        out, eof = [], set()
        deadline = time.time() + 30
        while len(eof) < PARTITIONS and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    eof.add(m.partition())
                    continue
                raise AssertionError(f"consume: {m.error()}")
            out.append((m.partition(), m.offset(), m.value().decode()))
        check(len(eof) == PARTITIONS, f"consume: reached the end of {sorted(eof)} only")
        return out
    finally:
        c.close()


def ck_fence(boot, topic, txn_id):
    """Returns (fence outcome description, fenced?)."""
    from confluent_kafka import KafkaException
    a = ck_init(boot, txn_id)
    a.begin_transaction()
    a.produce(topic, value=b"A-1", partition=0)
    check(a.flush(10) == 0, "A's first record not delivered")
    b = ck_init(boot, txn_id)
    outcome, fenced = "NOTFENCED commit succeeded", False
    try:
        a.produce(topic, value=b"A-2", partition=1)
        a.flush(10)
        a.commit_transaction(15)
    except KafkaException as e:
        err = e.args[0]
        fenced = err.fatal() or err.name() in ("_FENCED", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH")
        outcome = f"{'FENCED' if fenced else 'NOTFENCED'} {err.name()} fatal={err.fatal()}: {err.str()}"
        try:
            a.begin_transaction()
            a.produce(topic, value=b"A-3", partition=2)
            a.commit_transaction(5)
            outcome += " (but a later commit succeeded)"
            fenced = False
        except KafkaException:
            pass
    b.begin_transaction()
    b.produce(topic, value=b"B-1", partition=0)
    b.commit_transaction(30)
    b.flush(5)
    return outcome, fenced


# --- Java (tests/java TxnClients) -----------------------------------------------------

def java_cmd(*a):
    check(args.java_cp, "no --java-cp (the tests/java build's classpath)")
    return ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=error", "-cp", args.java_cp,
            "io.chronik.compat.TxnClients", *a]


def java_out(*a, timeout=90):
    r = subprocess.run(java_cmd(*a), capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"TxnClients {a[0]} exited {r.returncode}: {r.stderr[-600:]}")
    return r.stdout


def java_run(boot, topic, txn_id, n, on_result):
    p = subprocess.Popen(java_cmd("run", boot, topic, txn_id, str(n), str(SLEEP_MS)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines = []
    t = threading.Thread(target=lambda: err_lines.extend(p.stderr), daemon=True)
    t.start()
    done = False
    for line in p.stdout:
        f = line.split()
        if f[:1] == ["RESULT"]:
            on_result(int(f[1]), f[2])
        elif f[:1] == ["DONE"]:
            done = True
    rc = p.wait(120)
    t.join(5)
    sys.stderr.write("".join(err_lines[-30:]))
    check(rc == 0 and done, f"TxnClients run exited {rc}: {''.join(err_lines)[-600:]}")


def java_consume(boot, topic, isolation):
    out = []
    for line in java_out("consume", boot, topic, isolation, str(PARTITIONS)).splitlines():
        if line.strip():
            p, o, v = line.split(" ", 2)
            out.append((int(p), int(o), v))
    return out


def java_fence(boot, topic, txn_id):
    lines = java_out("fence", boot, topic, txn_id).splitlines()
    check("B committed" in lines, f"B did not commit: {lines}")
    outcome = lines[0] if lines else "no output"
    return outcome, outcome.startswith("FENCED") and "later commit succeeded" not in outcome


CLIENTS = {
    "confluent-kafka": ("confluent-kafka", ck_run, ck_consume, ck_fence),
    "java": ("java", java_run, java_consume, java_fence),
}


# --- cases -------------------------------------------------------------------------------

def check_visibility(name, results, committed, uncommitted):
    """results: {i: outcome}; committed/uncommitted: [(p, o, v)] from each isolation."""
    check_eq(sorted(results), list(range(N_TXNS)), "transactions reported by the producer")
    for what, recs in (("read_committed", committed), ("read_uncommitted", uncommitted)):
        seen = {}
        for p, _o, v in recs:
            check(v.startswith("t") and v.endswith(f"-p{p}"), f"{what}: {v!r} in partition {p}")
            seen[v] = seen.get(v, 0) + 1
        dups = {v: k for v, k in seen.items() if k > 1}
        check(not dups, f"{what}: records seen more than once: {sorted(dups)[:10]}")
        for i, res in sorted(results.items()):
            got = [v for v in values_of(i) if v in seen]
            if res == "committed":
                check_eq(got, values_of(i), f"{what}: committed transaction {i}")
            elif res == "aborted":
                if what == "read_committed":
                    check_eq(got, [], f"{what}: aborted transaction {i}")
                else:
                    check_eq(got, values_of(i), f"{what}: aborted transaction {i}")
            elif what == "read_committed":
                check(got in ([], values_of(i)), f"{what}: unknown transaction {i} partly visible: {got}")
    n_c = sum(1 for r in results.values() if r == "committed")
    n_a = sum(1 for r in results.values() if r == "aborted")
    n_u = sum(1 for r in results.values() if r == "unknown")
    check(n_c >= N_TXNS // 3, f"only {n_c} transactions committed ({results})")
    check(n_a >= 1, f"no transaction acknowledged as aborted ({results})")
    print(f"# {name}: {n_c} committed, {n_a} aborted, {n_u} unknown; "
          f"read_committed {len(committed)} records, read_uncommitted {len(uncommitted)}",
          file=sys.stderr)


def case_kill(broker, client):
    name, run, consume, _fence = CLIENTS[client]
    topic = unique(f"txn-kill-{client}")
    txn_id = unique(f"txn-kill-{client}")
    results = {}
    lock = threading.Lock()
    killed = threading.Event()
    kill_err = []

    def on_result(i, res):
        with lock:
            results[i] = res
            if len(results) == KILL_AFTER and not killed.is_set():
                killed.set()

                def do_kill():
                    try:
                        print(f"# {client}: kill -9 after {KILL_AFTER} transactions", file=sys.stderr)
                        broker.restart("KILL")
                    except Exception as e:  # noqa: BLE001
                        kill_err.append(e)
                # Restart from another thread, so the producer keeps going meanwhile.
                threading.Thread(target=do_kill, daemon=True).start()

    # Pre-create the topic with 3 partitions (broker --num-partitions 3 auto-creates).
    run(broker.bootstrap, topic, txn_id, N_TXNS, on_result)
    deadline = time.time() + 30
    while killed.is_set() and not broker.running() and time.time() < deadline:
        time.sleep(0.1)
    check(killed.is_set(), "the broker was never killed")
    check(not kill_err, f"broker restart failed: {kill_err}")
    committed = consume(broker.bootstrap, topic, COMMITTED_ISOLATION)
    uncommitted = consume(broker.bootstrap, topic, "read_uncommitted")
    check_visibility(name, dict(results), committed, uncommitted)


def case_fence(broker, client):
    _name, _run, consume, fence = CLIENTS[client]
    topic = unique(f"txn-fence-{client}")
    txn_id = unique(f"txn-fence-{client}")
    outcome, fenced = fence(broker.bootstrap, topic, txn_id)
    print(f"# {client} fencing: {outcome}", file=sys.stderr)
    check(fenced, f"producer A not fenced: {outcome}")
    vals = [v for _p, _o, v in consume(broker.bootstrap, topic, COMMITTED_ISOLATION)]
    check_eq(vals, ["B-1"], "read_committed after fencing")


def main():
    r = Runner(args.only)
    names = [c for c in args.clients.split(",") if c]
    for c in names:
        if c not in CLIENTS:
            r.run(f"txn clients: unknown client {c}", lambda: check(False, "unknown client"))
    names = [c for c in names if c in CLIENTS]
    work = tempfile.mkdtemp(prefix="chronik-txn-clients-")
    broker = ChronikProcess(args.bin, work, args=["--num-partitions", str(PARTITIONS)])
    try:
        broker.start()
        for c in names:
            label = CLIENTS[c][0]
            r.run(f"{label} txn: {N_TXNS} transactions (commit/abort) across a broker kill -9: "
                  "read_committed sees committed exactly once, aborted never, unknown all-or-nothing; "
                  "read_uncommitted sees aborted",
                  lambda c=c: case_kill(broker, c))
            if not broker.running():
                broker.start()
            r.run(f"{label} txn: a second producer with the same transactional.id fences the first; "
                  "only the new producer's commit is visible",
                  lambda c=c: case_fence(broker, c))
    except Exception as e:  # noqa: BLE001
        r.run("txn clients: broker", lambda: (_ for _ in ()).throw(e))
    finally:
        try:
            broker.stop("TERM")
        except Exception as e:  # noqa: BLE001
            print(f"# broker stop: {e}", file=sys.stderr)
        if r.failed:
            print(f"# broker log tail ({broker.log_path}):\n{broker.log_tail(3000)}", file=sys.stderr)
        elif not os.environ.get("KEEP_COMPAT_DIR"):
            shutil.rmtree(work, ignore_errors=True)
    print(f"{r.passed} passed, {r.failed} failed", flush=True)
    r.exit()


if __name__ == "__main__":
    main()
