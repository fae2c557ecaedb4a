"""A chronik broker process a compat suite owns: started on a free loopback
port with a fresh data dir, and restartable on the same port and data dir
(SIGTERM or SIGKILL), so suites can check what survives a broker restart.

    b = ChronikProcess(bin_path, work_dir, configs={"group.initial.rebalance.delay.ms": "0"})
    b.start(); b.bootstrap  # "127.0.0.1:PORT"
    b.restart("KILL")       # kill -9, start again on the same data dir and port
    b.stop()

The binary comes from --bin or CHRONIK_BIN (scripts/compat.sh sets it).
"""
import os
import signal
import socket
import subprocess
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ChronikProcess:
    def __init__(self, bin_path, work_dir, configs=None, args=()):
        self.bin = bin_path
        self.args = list(args)
        self.work = work_dir
        self.data = os.path.join(work_dir, "data")
        self.log_path = os.path.join(work_dir, "broker.log")
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.proc = None
        self.config_path = None
        if configs:
            self.config_path = os.path.join(work_dir, "chronik.conf")
            with open(self.config_path, "w") as f:
                for k, v in configs.items():
                    f.write(f"{k} = {v}\n")

    def _port_open(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def start(self, timeout=30):
        cmd = [self.bin, "start", "--kafka-port", str(self.port), "--metrics-port", "0",
               "--data-dir", self.data, "--bind-addr", "127.0.0.1", "--log-level", "info"]
        if self.config_path:
            cmd += ["--config", self.config_path]
        cmd += self.args
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONIK_")}
        with open(self.log_path, "a") as log:
            log.write(f"--- starting {' '.join(cmd)}\n")
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chronik exited during start-up (rc={self.proc.returncode}); "
                                   f"log tail: {self.log_tail()}")
            if self._port_open():
                return
            time.sleep(0.05)
        raise RuntimeError(f"chronik not listening on {self.bootstrap} after {timeout}s")

    def stop(self, sig="TERM", timeout=15):
        """Signals the broker and waits for it; returns its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(getattr(signal, "SIG" + sig))
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"chronik did not exit within {timeout}s of SIG{sig}")

    def restart(self, sig="TERM"):
        rc = self.stop(sig)
        if sig == "TERM" and rc != 0:
            raise RuntimeError(f"chronik exited {rc} on SIGTERM, want 0")
        self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError as e:
            return f"(no log: {e})"
