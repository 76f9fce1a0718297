"""Helpers for Vessel's system tests: locate the build, run daemons and CLIs,
talk JSON-RPC, and create throw-away network namespaces.

Everything here starts real processes; nothing is mocked. Daemons run in a
private run directory (VESSEL_RUNDIR) so tests never touch /run/vessel.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("VESSEL_BUILD", os.path.join(REPO, "build")))
BIN = os.path.join(BUILD, "bin")
SANITIZED = os.environ.get("VESSEL_SANITIZED") == "1"

# Markers a sanitizer leaves in a daemon's log.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def is_root():
    return os.geteuid() == 0


def binary(name):
    return os.path.join(BIN, name)


def short_tmpdir(prefix="vessel-"):
    """A short temporary directory: unix socket paths must stay under 108 bytes."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RpcClient:
    """A minimal JSON-RPC 2.0 client written independently of the C one."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_message(self):
        """Reads one response: the daemon ends every response with a newline."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by daemon")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def call(self, method, params=None):
        req = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        self.next_id += 1
        if params is not None:
            req["params"] = params
        self.send_raw(json.dumps(req).encode() + b"\n")
        resp = self.recv_message()
        assert resp.get("jsonrpc") == "2.0", resp
        assert resp.get("id") == req["id"], resp
        if "error" in resp:
            raise RpcError(resp["error"]["code"], resp["error"]["message"])
        return resp["result"]


class Daemon:
    """A vswitchd or blockd started in its own run directory."""

    def __init__(self, name, rundir, args=(), extra=(), env=None):
        self.name = name
        self.rundir = rundir
        self.sock = os.path.join(rundir, f"{name}.sock")
        self.pidfile = os.path.join(rundir, f"{name}.pid")
        self.log = os.path.join(rundir, f"{name}.log")
        self.args = list(args)
        self.extra = list(extra)
        self.env = dict(os.environ, VESSEL_RUNDIR=rundir, **(env or {}))
        self.proc = None

    def cmdline(self):
        cmd = [binary(self.name), "--log-file", self.log] + self.args
        if self.extra:
            cmd += ["--"] + self.extra
        return cmd

    def start(self, timeout=30.0, expect_fail=False):
        self.logf = open(self.log + ".stderr", "ab")
        self.proc = subprocess.Popen(self.cmdline(), env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        if expect_fail:
            return self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                                   + self.output())
            try:
                with RpcClient(self.sock, timeout=2) as c:
                    c.call("version")
                return self
            except (OSError, ConnectionError, RpcError):
                time.sleep(0.05)
        self.kill()
        raise TimeoutError(f"{self.name} did not answer within {timeout}s:\n" + self.output())

    def output(self):
        text = ""
        for path in (self.log, self.log + ".stderr"):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    text += f.read()
        return text

    def rpc(self, method, params=None, timeout=10.0):
        with RpcClient(self.sock, timeout=timeout) as c:
            return c.call(method, params)

    def client(self, timeout=10.0):
        return RpcClient(self.sock, timeout=timeout)

    def ctl(self, *args, check=False, timeout=30):
        prog = {"vswitchd": "vswitchctl", "blockd": "blockctl"}[self.name]
        return run([binary(prog), "-s", self.sock] + list(args), check=check, timeout=timeout,
                   env=self.env)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0):
        """SIGTERM, then wait; returns the exit status. Fails on sanitizer reports."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"{self.name} ignored SIGTERM for {timeout}s")
        self.logf.close()
        self.check_sanitizer()
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def check_sanitizer(self):
        out = self.output()
        for marker in SANITIZER_MARKERS:
            assert marker not in out, f"{self.name}: sanitizer report:\n{out[-6000:]}"


def run(cmd, check=False, timeout=60, env=None, input=None):
    """Runs a command, capturing text output."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check,
                          env=env, input=input)


class Netns:
    """A network namespace that is always removed (with its veths)."""

    def __init__(self, tag="t"):
        self.name = f"vsl-{tag}-{uuid.uuid4().hex[:6]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.exec("ip", "link", "set", "lo", "up")

    def exec(self, *cmd, check=True, timeout=30):
        return subprocess.run(["ip", "netns", "exec", self.name] + list(cmd), check=check,
                              capture_output=True, text=True, timeout=timeout)

    def delete(self):
        subprocess.run(["ip", "netns", "delete", self.name], check=False,
                       capture_output=True)


def veth_pair(a, b, ns_b=None):
    """Creates veth a<->b (b moved into namespace ns_b when given)."""
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    if ns_b is not None:
        subprocess.run(["ip", "link", "set", b, "netns", ns_b.name], check=True)
    subprocess.run(["ip", "link", "set", a, "up"], check=True)


def link_delete(name):
    subprocess.run(["ip", "link", "delete", name], check=False, capture_output=True)


def have(tool):
    return shutil.which(tool) is not None
