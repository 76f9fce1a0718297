#!/usr/bin/python3
"""Flow-mod throughput end to end: N OFPT_FLOW_MOD ADDs (distinct exact UDP
matches: udp,nw_dst=10.x.y.z,tp_dst=P -> output:1) then one BARRIER, over one
TCP connection to an OpenFlow 1.3 switch; flows/s = N / (time from the first
byte sent to the BARRIER_REPLY). Messages are encoded before the clock starts,
so the client costs one sendall. Errors (OFPT_ERROR) are counted and reported.

    flowmod_bench.py HOST:PORT N [--label NAME] [--load LOADAVG]

Prints one JSON line.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time


def flow_mod(xid, i):
    oxm = (struct.pack("!IH", 0x80000a02, 0x0800) +              # eth_type
           struct.pack("!IB", 0x80001401, 17) +                  # ip_proto
           struct.pack("!II", 0x80001804, 0x0a000000 | (i >> 16) << 16 | (i & 0xffff)) +  # ipv4_dst
           struct.pack("!IH", 0x80002002, 1 + i % 60000))        # udp_dst
    mlen = 4 + len(oxm)
    match = struct.pack("!HH", 1, mlen) + oxm + b"\0" * ((8 - mlen % 8) % 8)
    act = struct.pack("!HHIH6x", 0, 16, 1, 0xffe5)
    inst = struct.pack("!HH4x", 4, 8 + len(act)) + act
    body = struct.pack("!QQBBHHHIIIH2x", i, 0, 0, 0, 0, 0, 100, 0xffffffff, 0xffffffff,
                       0xffffffff, 0) + match + inst
    return struct.pack("!BBHI", 4, 14, 8 + len(body), xid) + body


def main():
    hostport, n = sys.argv[1], int(sys.argv[2])
    label = sys.argv[sys.argv.index("--label") + 1] if "--label" in sys.argv else "vswitchd"
    host, port = hostport.rsplit(":", 1)
    msgs = b"".join(flow_mod(i + 2, i) for i in range(n)) + struct.pack("!BBHI", 4, 20, 8, 1)
    s = socket.create_connection((host, int(port)), timeout=300)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(struct.pack("!BBHI", 4, 0, 16, 1) + struct.pack("!HHI", 1, 8, 1 << 4))
    res = {"errors": 0, "done": None}

    def reader():
        buf = b""
        while True:
            d = s.recv(1 << 20)
            if not d:
                return
            buf += d
            off = 0
            while len(buf) - off >= 8:
                ln = struct.unpack_from("!H", buf, off + 2)[0]
                if len(buf) - off < ln:
                    break
                t, xid = buf[off + 1], struct.unpack_from("!I", buf, off + 4)[0]
                off += ln
                if t == 1:
                    res["errors"] += 1
                elif t == 21 and xid == 1:
                    res["done"] = time.monotonic()
                    return
                elif t == 2:   # echo request
                    s.sendall(struct.pack("!BBHI", 4, 3, 8, xid))
            buf = buf[off:]

    time.sleep(0.2)  # HELLO exchange
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    t0 = time.monotonic()
    s.sendall(msgs)
    th.join(timeout=300)
    s.close()
    if res["done"] is None:
        print(json.dumps({"bench": "sdn_flowmod", "switch": label, "n": n, "error": "no barrier reply"}))
        return 1
    dt = res["done"] - t0
    commit = os.environ.get("VESSEL_COMMIT") or subprocess.run(
        ["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True).stdout.strip()
    load = sys.argv[sys.argv.index("--load") + 1] if "--load" in sys.argv else \
        open("/proc/loadavg").read().split()[0]
    print(json.dumps({"bench": "sdn_flowmod", "switch": label, "n": n,
                      "seconds": round(dt, 4), "flows_per_s": round(n / dt),
                      "errors": res["errors"], "host": socket.gethostname(),
                      "loadavg": float(load), "cpus": os.cpu_count(),
                      "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "commit": commit}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
