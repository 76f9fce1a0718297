#!/usr/bin/python3
"""vsw_flows.py — install and delete flows in vswitchd fast, and time it.

    vsw_flows.py SOCK add FILE [--batch N] [--pid PID]
    vsw_flows.py SOCK churn [--count N] [--batch N] [--table T] [--pid PID]

`add` sends the flows of FILE (one per line) as add-flows calls of N flows
(one commit each: a JSON-RPC request is at most 1 MiB, so ~5,000 flows).
`churn` installs COUNT flows that no benchmark or test traffic matches
(UDP from 10.99.0.0/16, priority 200) in batches of N, then deletes them with
one non-strict del-flows; that is the "rules change under load" of issue 3.
Each prints one JSON line: flows, seconds, flows per second (install and
delete), commits, and with --pid (vswitchd's) the CPU time its control
thread spent and the installs per CPU-second, which a loaded machine changes
less than the wall-clock rate. Talks JSON-RPC 2.0 on the unix socket directly (the same
wire as vswitchctl), so the client is not what is measured.
"""
import argparse
import json
import socket
import sys
import time


class Rpc:
    def __init__(self, path, timeout=300.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.id = 0

    def encode(self, method, params=None):
        self.id += 1
        req = {"jsonrpc": "2.0", "id": self.id, "method": method}
        if params is not None:
            req["params"] = params
        return json.dumps(req).encode() + b"\n"

    def call(self, method, params=None):
        return self.send_wait(self.encode(method, params), method)

    def send_wait(self, req, method):
        self.sock.sendall(req)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("vswitchd closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        resp = json.loads(line)
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']['message']}")
        return resp["result"]


def churn_flows(count, table):
    """COUNT distinct exact UDP flows from 10.99.0.0/16 (no traffic matches)."""
    for i in range(count):
        yield (f"table={table},priority=200,udp,nw_src=10.99.{i >> 8 & 255}.{i & 255},"
               f"nw_dst=10.98.{i >> 16 & 255}.1,tp_src={1024 + i % 60000},tp_dst=7,actions=drop")


def cpu_ns(pid):
    """CPU time of vswitchd's control thread (its main thread), from schedstat."""
    if not pid:
        return 0
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def install(rpc, flows, batch):
    # The requests are encoded before the clock starts: a controller does
    # that on its own host, and on this 2-CPU machine the client's json.dumps
    # would otherwise take CPU time from the switch's control thread.
    reqs = [rpc.encode("add-flows", {"flows": flows[i:i + batch]})
            for i in range(0, len(flows), batch)]
    t0 = time.monotonic()
    for r in reqs:
        rpc.send_wait(r, "add-flows")
    return time.monotonic() - t0, len(reqs)


def rates(n, secs, cpu):
    """Wall-clock rate, and per CPU-second of the control thread (what a loaded
    machine changes least)."""
    r = {"installs_per_s": round(n / secs) if secs else 0}
    if cpu:
        r["control_cpu_s"] = round(cpu / 1e9, 3)
        r["installs_per_cpu_s"] = round(n / (cpu / 1e9))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sock")
    ap.add_argument("cmd", choices=["add", "churn"])
    ap.add_argument("file", nargs="?")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--table", type=int, default=0)
    ap.add_argument("--pid", type=int, default=0, help="vswitchd's pid: report its CPU time")
    a = ap.parse_args()
    rpc = Rpc(a.sock)
    if a.cmd == "add":
        with open(a.file) as f:
            flows = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
        c0 = cpu_ns(a.pid)
        secs, commits = install(rpc, flows, a.batch)
        print(json.dumps({"flows": len(flows), "seconds": round(secs, 3), "commits": commits,
                          **rates(len(flows), secs, cpu_ns(a.pid) - c0)}))
        return 0
    flows = list(churn_flows(a.count, a.table))
    c0 = cpu_ns(a.pid)
    secs, commits = install(rpc, flows, a.batch)
    cpu = cpu_ns(a.pid) - c0
    t0 = time.monotonic()
    deleted = rpc.call("del-flows", {"match": f"table={a.table},udp,nw_src=10.99.0.0/16"})
    dsecs = time.monotonic() - t0
    n = deleted["flows"]
    print(json.dumps({"flows": len(flows), "seconds": round(secs, 3), "commits": commits,
                      **rates(len(flows), secs, cpu), "deleted": n,
                      "delete_seconds": round(dsecs, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
