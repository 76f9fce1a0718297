#!/usr/bin/python3
"""RAID benchmark: RAID0 and RAID1 in blockd against one member alone, and
rebuild throughput against the member's own sequential write rate.

    /usr/bin/python3 bench/raid/bench_raid.py [--build build] [--size 1G] [--runtime 5]
                                              [--repeat 3]

Members are files opened with O_DIRECT, filled with random data first (so reads
are real) and written back before anything is measured (fsync, and the page
cache dropped for them), so no measurement competes with writeback. Every
figure is measured in the same run and printed as one JSON line (machine, load,
date, commit):
  - ceiling:  fio straight on the files (io_uring, O_DIRECT, 4K random read
    QD32): one file alone, then two files at once — what the device gives a
    second stream, the upper bound of any RAID1 read scaling here;
  - member:   one member exported alone through NBD (4K random read QD32, 128K
    sequential read QD8)
  - raid0:    two members striped (same jobs)
  - raid1:    two-way mirror, 4K random read QD32 (read scaling). The member
    and RAID1 random-read runs alternate --repeat times and the median of each
    is reported, so a burst of load from elsewhere hits both alike;
  - member_write / rebuild: 1M sequential write QD8 on one member, then a RAID1
    rebuild onto a fresh member with no foreground I/O; ratio = rebuild / write
    (the rebuild's own time, from blockd's log, and the wall time of raid-add
    until raid-status says it is over);
  - copy_ceiling: fio reading one file and writing another at once (2M, QD4,
    O_DIRECT): what the device gives a copy when source and target share it,
    as every member file does here; ratio_to_copy_ceiling compares with it.
Not part of `make test`.
"""
import argparse
import datetime
import re
import statistics
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


def fio_files(paths, runtime):
    """4K random reads QD32 straight on the files, one job per file at once."""
    cmd = ["fio", "--output-format=json"]
    for i, p in enumerate(paths):
        cmd += [f"--name=f{i}", f"--filename={p}", "--direct=1", "--ioengine=io_uring",
                "--rw=randread", "--bs=4k", "--iodepth=32", "--time_based",
                f"--runtime={runtime}", "--ramp_time=1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    if r.returncode:
        raise RuntimeError(r.stderr or r.stdout)
    return [j["read"]["iops"] for j in json.loads(r.stdout[r.stdout.index("{"):])["jobs"]]


def fio_copy(src, dst, runtime):
    """The device's copy ceiling: sequential 2M reads (QD4) of src and writes
    (QD4) to dst at the same time, O_DIRECT, as a rebuild does them.
    Returns (read, write) bytes/s."""
    cmd = ["fio", "--output-format=json"]
    for name, path, rw in (("r", src, "read"), ("w", dst, "write")):
        cmd += [f"--name={name}", f"--filename={path}", "--direct=1", "--ioengine=io_uring",
                f"--rw={rw}", "--bs=2M", "--iodepth=4", "--time_based",
                f"--runtime={runtime}", "--ramp_time=1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    if r.returncode:
        raise RuntimeError(r.stderr or r.stdout)
    jobs = json.loads(r.stdout[r.stdout.index("{"):])["jobs"]
    return jobs[0]["read"]["bw_bytes"], jobs[1]["write"]["bw_bytes"]


def settle(path):
    """Written back and out of the page cache: O_DIRECT reads then hit the
    device, and no writeback runs under a measurement."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--size", default="1G")
    ap.add_argument("--runtime", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cases", default="ceiling,member,raid0,raid1,rebuild",
                    help="comma-separated subset to run")
    a = ap.parse_args()
    mult = {"m": MB, "g": 1024 * MB}.get(a.size[-1].lower())
    size = int(a.size[:-1]) * mult if mult else int(a.size)
    cases = set(a.cases.split(","))
    base = {"bench": "raid", "host": platform.node(), "commit": commit(),
            "cpus": os.cpu_count(), "load1": round(os.getloadavg()[0], 2),
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
            settle(p)
            paths.append(p)

        if "ceiling" in cases:
            one = fio_files(paths[:1], a.runtime)
            two = fio_files(paths[:2], a.runtime)
            emit(case="ceiling", job="randread-4k-qd32-direct", one_file_iops=round(one[0]),
                 two_files_iops=round(sum(two)), scaling=round(sum(two) / one[0], 2))

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
        if "member" in cases:
            uri = export("m0")
            reads("member", uri)
            unexport("m0")

        if "raid0" in cases:
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
        # Member alone and RAID1 alternate; the median of each is reported.
        mem, r1 = [], []
        rand = ["--rw=randread", "--bs=4k", "--iodepth=32"]
        for _ in range(a.repeat if "raid1" in cases else 0):
            uri = export("m0")
            mem.append(fio(uri, rand, a.runtime)["read"]["iops"])
            unexport("m0")
            uri = export("r1")
            r1.append(fio(uri, rand, a.runtime)["read"]["iops"])
            unexport("r1")
        if r1:
            # Both members really serve reads: their own read counters.
            reads_per = [rpc("bdev-stats", {"name": m})[0]["counters"]["read"] for m in ("m1", "m2")]
            emit(case="raid1", job="randread-4k-qd32", iops=round(statistics.median(r1)),
                 member_reads=reads_per,
                 member_iops=round(statistics.median(mem)),
                 scaling=round(statistics.median(r1) / statistics.median(mem), 2),
                 runs_raid1=[round(x) for x in r1], runs_member=[round(x) for x in mem])
        if "rebuild" not in cases:
            return 0
        # Member write rate, copy ceiling and rebuild alternate --repeat times
        # (the rebuilt member is failed, removed and added again each time);
        # medians are reported.
        writes, copies, rebuilds, walls = [], [], [], []
        rpc("raid-fail", {"name": "r1", "member": "m2"})
        rpc("raid-remove", {"name": "r1", "member": "m2"})
        for k in range(a.repeat):
            uri = export("m0")
            j = fio(uri, ["--rw=write", "--bs=1M", "--iodepth=8"], a.runtime)
            writes.append(j["write"]["bw_bytes"])
            unexport("m0")
            copies.append(min(fio_copy(paths[1], paths[0], a.runtime)))
            if k:
                rpc("raid-fail", {"name": "r1", "member": "m3"})
                rpc("raid-remove", {"name": "r1", "member": "m3"})
            t0 = time.monotonic()
            rpc("raid-add", {"name": "r1", "member": "m3"})
            while rpc("raid-status", {"name": "r1"})[0]["rebuild"]["running"]:
                time.sleep(0.02)
            secs = time.monotonic() - t0
            st = rpc("raid-status", {"name": "r1"})[0]
            with open(os.path.join(rundir, "blockd.log")) as f:
                m = re.findall(r"rebuild done: (\d+) bytes in (\d+) ms", f.read())
            own = int(m[-1][1]) / 1000 if m and int(m[-1][1]) else secs
            done = int(m[-1][0]) if m else size - MB
            rebuilds.append(done / own)
            walls.append(done / secs)
        med = statistics.median
        write_rate, copy, rate = med(writes), med(copies), med(rebuilds)
        emit(case="member_write", job="seqwrite-1m-qd8", mb_s=round(write_rate / MB, 1),
             runs_mb_s=[round(x / MB) for x in writes])
        emit(case="copy_ceiling", job="seqread-2m-qd4+seqwrite-2m-qd4-direct",
             copy_mb_s=round(copy / MB, 1), runs_mb_s=[round(x / MB) for x in copies])
        emit(case="rebuild", bytes=done, mb_s=round(rate / MB, 1),
             wall_mb_s=round(med(walls) / MB, 1), runs_mb_s=[round(x / MB) for x in rebuilds],
             member_write_mb_s=round(write_rate / MB, 1), ratio=round(rate / write_rate, 2),
             wall_ratio=round(med(walls) / write_rate, 2), copy_ceiling_mb_s=round(copy / MB, 1),
             ratio_to_copy_ceiling=round(rate / copy, 2))
    finally:
        d.terminate()
        d.wait(20)
        subprocess.run(["rm", "-rf", rundir])
    return 0


if __name__ == "__main__":
    sys.exit(main())
