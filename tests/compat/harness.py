"""Minimal case runner shared by the Python compat tests.

Each case prints exactly one line:
    PASS name
    FAIL name: reason
    XFAIL name: reason          (expected failure, not counted as a failure)
    XPASS name: reason          (an expected failure passed: drop the xfail mark)
The process exits 1 if any case FAILed.
"""
import argparse
import os
import signal
import sys
import time
import traceback

CASE_TIMEOUT = int(os.environ.get("COMPAT_CASE_TIMEOUT", "90"))


class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout(f"case timed out after {CASE_TIMEOUT}s")


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--bootstrap", default="127.0.0.1:9092",
                    help="broker address HOST:PORT")
    ap.add_argument("-k", dest="only", default="",
                    help="run only the cases whose name contains this")
    return ap.parse_args()


def unique(name):
    """A topic name unique to this run, so reruns don't collide."""
    return f"{name}-{int(time.time() * 1000) % 10**9}-{os.getpid()}"


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def check_eq(got, want, what):
    if got != want:
        g, w = repr(got), repr(want)
        raise AssertionError(f"{what}: got {g[:300]}, want {w[:300]}")


class Runner:
    def __init__(self, only=""):
        self.only = only
        self.failed = 0
        self.passed = 0
        self.xfailed = 0
        signal.signal(signal.SIGALRM, _alarm)

    def run(self, name, fn, xfail=None):
        """Runs fn(); xfail is the reason the case is expected to fail."""
        # COMPAT_CASE_PREFIX (e.g. "pypi ") tells apart runs of one file with
        # different client builds.
        name = os.environ.get("COMPAT_CASE_PREFIX", "") + name
        if self.only and self.only not in name:
            return
        signal.alarm(CASE_TIMEOUT)
        err = None
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - report everything
            if isinstance(e, KeyboardInterrupt):
                raise
            err = e
            if os.environ.get("COMPAT_VERBOSE"):
                traceback.print_exc(file=sys.stderr)
        finally:
            signal.alarm(0)
        if err is None:
            if xfail:
                print(f"XPASS {name}: passed although expected to fail ({xfail})", flush=True)
            else:
                self.passed += 1
                print(f"PASS {name}", flush=True)
            return
        reason = f"{type(err).__name__}: {err}".replace("\n", " ")[:600]
        if xfail:
            self.xfailed += 1
            print(f"XFAIL {name}: {xfail} [{reason}]", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {reason}", flush=True)

    def exit(self):
        sys.stdout.flush()
        # os._exit: client libraries may leave non-daemon threads behind.
        os._exit(1 if self.failed else 0)


# Kafka API keys the cases check for.
PRODUCE, FETCH, OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR = 0, 1, 8, 9, 10
JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP = 11, 12, 13, 14
GROUP_APIS = (OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR, JOIN_GROUP, HEARTBEAT,
              LEAVE_GROUP, SYNC_GROUP)


def api_versions(bootstrap, timeout=10):
    """The broker's ApiVersions (v0) answer: {api_key: (min, max)}.

    Cases for features a broker may not have yet are expected failures
    (XFAIL) while it doesn't advertise them, and ordinary cases once it does.
    """
    import socket
    import struct

    host, port = bootstrap.rsplit(":", 1)
    client_id = b"chronik-compat"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(body)) + body)

        def read(n):
            buf = b""
            while len(buf) < n:
                chunk = s.recv(n - len(buf))
                if not chunk:
                    raise ConnectionError("broker closed the connection")
                buf += chunk
            return buf

        size = struct.unpack(">i", read(4))[0]
        resp = read(size)
    _corr, err, n = struct.unpack(">ihi", resp[:10])
    if err != 0:
        raise RuntimeError(f"ApiVersions error {err}")
    out = {}
    for i in range(n):
        key, lo, hi = struct.unpack(">hhh", resp[10 + 6 * i:16 + 6 * i])
        out[key] = (lo, hi)
    return out


def supports(apis, key, version=None):
    """Whether the broker advertises key (at version, if given)."""
    if key not in apis:
        return False
    lo, hi = apis[key]
    return version is None or lo <= version <= hi
