#!/usr/bin/python3
"""RAID benchmark: RAID0 and RAID1 in blockd against one member alone, and
rebuild throughput against the member's own sequential write rate.

    /usr/bin/python3 bench/raid/bench_raid.py [--build build] [--size 256M] [--runtime 5]

Members are files opened with O_DIRECT (filled with random data first, so reads
are real). Every figure is measured in the same run through NBD with fio's nbd
engine and printed as one JSON line (machine, date, commit):
  - member:   one member exported alone (4K random read QD32, 128K sequential read QD8)
  - raid0:    two members striped (same jobs)
  - raid1:    two-way mirror, 4K random read QD32 (read scaling)
  - member_write / rebuild: 1M sequential write QD8 on one member, then a RAID1
    rebuild onto a fresh member with no foreground I/O; ratio = rebuild / write.
Not part of `make test`.
"""
import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MB = 1 << 20


def commit():
    if os.environ.get("VESSEL_COMMIT"):
        return os.environ["VESSEL_COMMIT"]
    r = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                       text=True)
    return r.stdout.strip() or "unknown"


class Rpc:
    def __init__(self, path):
        self.path = path
        self.n = 0

    def __call__(self, method, params=None):
        self.n += 1
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)
        req = {"jsonrpc": "2.0", "id": self.n, "method": method}
        if params is not None:
            req["params"] = params
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        resp = json.loads(buf)
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']['message']}")
        return resp["result"]


def fio(uri, args, runtime):
    cmd = ["fio", "--name=bench", "--ioengine=nbd", f"--uri={uri}", "--output-format=json",
           "--time_based", f"--runtime={runtime}", "--ramp_time=1"] + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    if r.returncode:
        raise RuntimeError(r.stderr or r.stdout)
    return json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--size", default="256M")
    ap.add_argument("--runtime", type=int, default=5)
    a = ap.parse_args()
    size = int(a.size[:-1]) * MB if a.size[-1] in "Mm" else int(a.size)
    base = {"bench": "raid", "host": platform.node(), "commit": commit(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}

    def emit(**kw):
        print(json.dumps(dict(base, **kw)), flush=True)

    rundir = tempfile.mkdtemp(prefix="vessel-braid-", dir="/tmp")
    sock = os.path.join(rundir, "blockd.sock")
    d = subprocess.Popen([os.path.join(a.build, "bin", "blockd"), "--log-file",
                          os.path.join(rundir, "blockd.log"), "-s", sock],
                         env=dict(os.environ, VESSEL_RUNDIR=rundir))
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        rpc = Rpc(sock)
        paths = []
        for i in range(4):
            p = os.path.join(rundir, f"m{i}.img")
            with open(p, "wb") as f:
                for _ in range(size // (16 * MB)):
                    f.write(os.urandom(16 * MB))
            paths.append(p)

        def bdev(i):
            rpc("bdev-create", {"type": "file", "name": f"m{i}", "path": paths[i],
                                "direct": True})

        def export(name):
            s = os.path.join(rundir, name + ".nbd")
            rpc("export-add", {"bdev": name, "type": "nbd", "socket": s})
            return f"nbd+unix:///{name}?socket={s}"

        def unexport(name):
            rpc("export-remove", {"name": name})

        def reads(case, uri):
            j = fio(uri, ["--rw=randread", "--bs=4k", "--iodepth=32"], a.runtime)
            emit(case=case, job="randread-4k-qd32", iops=round(j["read"]["iops"]),
                 mb_s=round(j["read"]["bw_bytes"] / MB, 1))
            j = fio(uri, ["--rw=read", "--bs=128k", "--iodepth=8"], a.runtime)
            emit(case=case, job="seqread-128k-qd8", iops=round(j["read"]["iops"]),
                 mb_s=round(j["read"]["bw_bytes"] / MB, 1))
            return j

        for i in range(4):
            bdev(i)
        uri = export("m0")
        reads("member", uri)
        j = fio(uri, ["--rw=write", "--bs=1M", "--iodepth=8"], a.runtime)
        write_rate = j["write"]["bw_bytes"]
        emit(case="member_write", job="seqwrite-1m-qd8", mb_s=round(write_rate / MB, 1))
        unexport("m0")

        rpc("raid-create", {"name": "r0", "level": 0, "members": ["m1", "m2"]})
        reads("raid0", export("r0"))
        unexport("r0")
        rpc("raid-stop", {"name": "r0"})
        for i in (1, 2):     # forget the RAID0 superblocks
            rpc("bdev-delete", {"name": f"m{i}"})
            with open(paths[i], "r+b") as f:
                f.write(b"\0" * 8192)
            bdev(i)

        rpc("raid-create", {"name": "r1", "level": 1, "members": ["m1", "m2"],
                            "assume_clean": True})
        uri = export("r1")
        j = fio(uri, ["--rw=randread", "--bs=4k", "--iodepth=32"], a.runtime)
        emit(case="raid1", job="randread-4k-qd32", iops=round(j["read"]["iops"]),
             mb_s=round(j["read"]["bw_bytes"] / MB, 1))
        unexport("r1")
        rpc("raid-fail", {"name": "r1", "member": "m2"})
        rpc("raid-remove", {"name": "r1", "member": "m2"})
        t0 = time.monotonic()
        rpc("raid-add", {"name": "r1", "member": "m3"})
        while rpc("raid-status", {"name": "r1"})[0]["rebuild"]["running"]:
            time.sleep(0.02)
        secs = time.monotonic() - t0
        st = rpc("raid-status", {"name": "r1"})[0]
        rate = st["rebuild"]["rebuilt_bytes"] / secs
        emit(case="rebuild", bytes=st["rebuild"]["rebuilt_bytes"], seconds=round(secs, 2),
             mb_s=round(rate / MB, 1), member_write_mb_s=round(write_rate / MB, 1),
             ratio=round(rate / write_rate, 2))
    finally:
        d.terminate()
        d.wait(20)
        subprocess.run(["rm", "-rf", rundir])
    return 0


if __name__ == "__main__":
    sys.exit(main())
