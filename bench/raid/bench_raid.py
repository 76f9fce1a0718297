#!/usr/bin/python3
"""RAID benchmark: RAID0 and RAID1 in blockd against one member alone, and
rebuild throughput against the member's own sequential write rate.

    /usr/bin/python3 bench/raid/bench_raid.py [--build build] [--size 1G] [--runtime 5]
                                              [--repeat 3] [--reactors 2] [--cases ...]

Members are files opened with O_DIRECT, filled with random data first (so reads
are real) and written back before anything is measured (fsync, and the page
cache dropped for them), so no measurement competes with writeback. Every
figure is measured in the same run and printed as one JSON line (machine, load,
date, commit). Runs that are compared alternate --repeat times and the medians
are reported, so a burst of load from elsewhere hits both sides alike.
  - ceiling:  fio straight on the files (io_uring, O_DIRECT, 4K random read):
    file A with one job at QD32; A with two jobs at QD16 each; A and B at QD16
    each (the same total depth and threads as a mirror of A and B); A and B at
    QD32 each (twice the depth) — what the device gives a second file, a
    second thread and a deeper queue;
  - member:   one member exported alone through NBD (4K random read QD32, 128K
    sequential read QD8)
  - raid0:    two members striped (same jobs)
  - raid1:    two-way mirror against its member alone, 4K random read at a total
    QD32 over one NBD connection and over two (QD16 each, one per reactor),
    with the CPU time and run-queue wait (from schedstat, in cores: seconds
    per second) of blockd's reactors and of fio, and each member's own read
    count;
  - rebuild:  per repetition, the rebuild target's own 1M sequential write rate
    (QD8) through the same NBD export path, fio's sequential read of the source
    and write of the target straight on the files (2M, QD4: the rebuild's I/O)
    alone and at once (copy_ceiling), then a RAID1 rebuild onto the target
    with no foreground I/O (its time from blockd's log: the pass from its
    first chunk to its last, without the raid-add call and superblock update).
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


def fio_watched(uri, args, runtime):
    """fio() with its jobs as threads (--thread), sampling their schedstat
    while it runs:
    returns (job, fio on-CPU s, fio run-queue wait s, seconds sampled)."""
    cmd = ["fio", "--name=bench", "--ioengine=nbd", f"--uri={uri}", "--output-format=json",
           "--thread", "--time_based", f"--runtime={runtime}", "--ramp_time=1"] + args
    t0, threads, secs = time.monotonic(), {}, 0.0
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while p.poll() is None:
        try:
            threads.update(schedstat_threads(p.pid, ""))   # an exited job keeps its last
            secs = time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.1)
    out, err = p.communicate()
    if p.returncode:
        raise RuntimeError(err or out)
    run = sum(x[0] for x in threads.values())
    wait = sum(x[1] for x in threads.values())
    return (json.loads(out[out.index("{"):])["jobs"][0], run / 1e9, wait / 1e9, secs)


def fio_direct(jobs, runtime):
    """4K random reads straight on the files (io_uring, O_DIRECT), all jobs at
    once; jobs: [(path, iodepth)]. Returns the total IOPS."""
    cmd = ["fio", "--output-format=json"]
    for i, (p, qd) in enumerate(jobs):
        cmd += [f"--name=f{i}", f"--filename={p}", "--direct=1", "--ioengine=io_uring",
                "--rw=randread", "--bs=4k", f"--iodepth={qd}", "--time_based",
                f"--runtime={runtime}", "--ramp_time=1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    if r.returncode:
        raise RuntimeError(r.stderr or r.stdout)
    return sum(j["read"]["iops"] for j in json.loads(r.stdout[r.stdout.index("{"):])["jobs"])


def fio_seq(jobs, runtime):
    """Sequential 2M QD4 O_DIRECT jobs straight on the files, all at once, as
    a rebuild does its I/O; jobs: [(path, "read"|"write")]. Returns each job's
    bytes/s."""
    cmd = ["fio", "--output-format=json"]
    for i, (path, rw) in enumerate(jobs):
        cmd += [f"--name=j{i}", f"--filename={path}", "--direct=1", "--ioengine=io_uring",
                f"--rw={rw}", "--bs=2M", "--iodepth=4", "--time_based",
                f"--runtime={runtime}", "--ramp_time=1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    if r.returncode:
        raise RuntimeError(r.stderr or r.stdout)
    out = json.loads(r.stdout[r.stdout.index("{"):])["jobs"]
    return [j["read"]["bw_bytes"] + j["write"]["bw_bytes"] for j in out]


def schedstat_threads(pid, prefix):
    """{tid: (on-CPU ns, run-queue wait ns)} of the process's threads whose
    name starts with prefix (blockd's reactors: "reactor")."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if not f.read().startswith(prefix):
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                a, b = f.read().split()[:2]
        except OSError:
            continue
        out[tid] = (int(a), int(b))
    return out


def schedstat(pid, prefix):
    """(on-CPU ns, run-queue wait ns) summed over those threads."""
    t = schedstat_threads(pid, prefix).values()
    return sum(x[0] for x in t), sum(x[1] for x in t)


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
    ap.add_argument("--reactors", type=int, default=2,
                    help="blockd reactors (two NBD connections land on two)")
    ap.add_argument("--cases", default="ceiling,member,raid0,raid1,rebuild",
                    help="comma-separated subset to run")
    a = ap.parse_args()
    mult = {"m": MB, "g": 1024 * MB}.get(a.size[-1].lower())
    size = int(a.size[:-1]) * mult if mult else int(a.size)
    cases = set(a.cases.split(","))
    base = {"bench": "raid", "host": platform.node(), "commit": commit(),
            "cpus": os.cpu_count(), "reactors": a.reactors,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    med = statistics.median

    def emit(**kw):
        print(json.dumps(dict(base, load1=round(os.getloadavg()[0], 2), **kw)), flush=True)

    rundir = tempfile.mkdtemp(prefix="vessel-braid-", dir="/tmp")
    sock = os.path.join(rundir, "blockd.sock")
    d = subprocess.Popen([os.path.join(a.build, "bin", "blockd"), "--log-file",
                          os.path.join(rundir, "blockd.log"), "-s", sock,
                          "--reactors", str(a.reactors)],
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
            A, B = paths[0], paths[1]
            shapes = {"a_1x32": [(A, 32)], "a_2x16": [(A, 16), (A, 16)],
                      "ab_16+16": [(A, 16), (B, 16)], "ab_32+32": [(A, 32), (B, 32)]}
            runs = {k: [] for k in shapes}
            for _ in range(a.repeat):
                for k, jobs in shapes.items():
                    runs[k].append(fio_direct(jobs, a.runtime))
            m = {k: med(v) for k, v in runs.items()}
            emit(case="ceiling", job="randread-4k-direct",
                 iops={k: round(v) for k, v in m.items()},
                 runs={k: [round(x) for x in v] for k, v in runs.items()},
                 # A mirror's fair ceiling: same total depth (32) over A and B.
                 scaling_equal_qd=round(m["ab_16+16"] / m["a_1x32"], 2),
                 scaling_same_threads=round(m["ab_16+16"] / m["a_2x16"], 2),
                 scaling_double_qd=round(m["ab_32+32"] / m["a_1x32"], 2))

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

        def stop(name):
            for _ in range(100):     # EBUSY while its superblocks are written
                try:
                    return rpc("raid-stop", {"name": name})
                except RuntimeError as e:
                    if "in use" not in str(e):
                        raise
                    time.sleep(0.05)
            raise RuntimeError(f"raid-stop {name}: still busy")

        def randread(name, conns):
            """Total QD32 over `conns` NBD connections (fio jobs); returns
            IOPS, the reactors' CPU and run-queue wait (cores), fio's CPU."""
            uri = export(name)
            c0, t0 = schedstat(d.pid, "reactor"), time.monotonic()
            j, frun, fwait, fsecs = fio_watched(
                uri, ["--rw=randread", "--bs=4k", f"--iodepth={32 // conns}",
                      f"--numjobs={conns}", "--group_reporting"], a.runtime)
            c1, t1 = schedstat(d.pid, "reactor"), time.monotonic()
            unexport(name)
            wall = (t1 - t0) * 1e9
            return (j["read"]["iops"], (c1[0] - c0[0]) / wall, (c1[1] - c0[1]) / wall,
                    frun / fsecs, fwait / fsecs)

        if "raid1" in cases:
            # Member m1 alone and the mirror of m1 and m2 alternate, through
            # the same export path; medians are reported.
            def counts():
                return [rpc("bdev-stats", {"name": m})[0]["counters"]["read"]
                        for m in ("m1", "m2")]

            for conns in (1, 2):
                mem, r1, mr = [], [], [0, 0]
                for _ in range(a.repeat):
                    stop("r1")
                    mem.append(randread("m1", conns))
                    rpc("raid-create", {"name": "r1", "level": 1, "members": ["m1", "m2"]})
                    before = counts()
                    r1.append(randread("r1", conns))
                    # Both members really serve the mirror's reads: their own counters.
                    mr = [x + y - b for x, y, b in zip(mr, counts(), before)]

                def col(runs, k):
                    return med(x[k] for x in runs)
                emit(case="raid1", job=f"randread-4k-qd32-{conns}conn",
                     iops=round(col(r1, 0)), member_iops=round(col(mem, 0)),
                     scaling=round(col(r1, 0) / col(mem, 0), 2),
                     runs_raid1=[round(x[0]) for x in r1], runs_member=[round(x[0]) for x in mem],
                     member_reads_m1_m2=mr,
                     reactor_cpu={"member": round(col(mem, 1), 2), "raid1": round(col(r1, 1), 2)},
                     reactor_runq_wait={"member": round(col(mem, 2), 2),
                                        "raid1": round(col(r1, 2), 2)},
                     fio_cpu={"member": round(col(mem, 3), 2), "raid1": round(col(r1, 3), 2)},
                     fio_runq_wait={"member": round(col(mem, 4), 2),
                                    "raid1": round(col(r1, 4), 2)})
        if "rebuild" not in cases:
            return 0
        # Per repetition: the target's own write rate through NBD, fio's read
        # of the source and write of the target (alone and at once), and the
        # rebuild onto that target; medians are reported.
        writes, reads_src, writes_dst, copies, rebuilds, walls = [], [], [], [], [], []
        yields = []
        rpc("raid-fail", {"name": "r1", "member": "m2"})
        rpc("raid-remove", {"name": "r1", "member": "m2"})
        for k in range(a.repeat):
            uri = export("m3")
            j = fio(uri, ["--rw=write", "--bs=1M", "--iodepth=8"], a.runtime)
            writes.append(j["write"]["bw_bytes"])
            unexport("m3")
            reads_src.append(fio_seq([(paths[1], "read")], a.runtime)[0])
            writes_dst.append(fio_seq([(paths[3], "write")], a.runtime)[0])
            copies.append(min(fio_seq([(paths[1], "read"), (paths[3], "write")], a.runtime)))
            t0 = time.monotonic()
            rpc("raid-add", {"name": "r1", "member": "m3"})
            while rpc("raid-status", {"name": "r1"})[0]["rebuild"]["running"]:
                time.sleep(0.02)
            secs = time.monotonic() - t0
            st = rpc("raid-status", {"name": "r1"})[0]["rebuild"]
            yields.append(st["foreground_yields"] - sum(yields))
            with open(os.path.join(rundir, "blockd.log")) as f:
                m = re.findall(r"rebuild done: (\d+) bytes in (\d+) ms", f.read())
            own = int(m[-1][1]) / 1000 if m and int(m[-1][1]) else secs
            done = int(m[-1][0]) if m else size - MB
            rebuilds.append(done / own)
            walls.append(done / secs)
            rpc("raid-fail", {"name": "r1", "member": "m3"})
            rpc("raid-remove", {"name": "r1", "member": "m3"})
        write_rate, rate = med(writes), med(rebuilds)
        rd, wr, copy = med(reads_src), med(writes_dst), med(copies)
        emit(case="member_write", job="seqwrite-1m-qd8-nbd", member="m3 (rebuild target)",
             mb_s=round(write_rate / MB, 1), runs_mb_s=[round(x / MB) for x in writes])
        emit(case="copy_ceiling", job="seq-2m-qd4-direct",
             source_read_mb_s=round(rd / MB, 1), target_write_mb_s=round(wr / MB, 1),
             # One stream reading while the other writes: the lesser of the two.
             concurrent_copy_mb_s=round(copy / MB, 1),
             # A copy whose reads and writes cannot overlap on the device.
             serial_copy_mb_s=round(rd * wr / (rd + wr) / MB, 1),
             runs_read_mb_s=[round(x / MB) for x in reads_src],
             runs_write_mb_s=[round(x / MB) for x in writes_dst],
             runs_concurrent_mb_s=[round(x / MB) for x in copies])
        emit(case="rebuild", bytes=done, mb_s=round(rate / MB, 1),
             wall_mb_s=round(med(walls) / MB, 1), runs_mb_s=[round(x / MB) for x in rebuilds],
             member_write_mb_s=round(write_rate / MB, 1), ratio=round(rate / write_rate, 2),
             runs_ratio=[round(x / y, 2) for x, y in zip(rebuilds, writes)],
             wall_ratio=round(med(walls) / write_rate, 2), runs_foreground_yields=yields,
             ratio_to_source_read=round(rate / rd, 2),
             ratio_to_serial_copy=round(rate / (rd * wr / (rd + wr)), 2),
             ratio_to_concurrent_copy=round(rate / copy, 2))
    finally:
        d.terminate()
        d.wait(20)
        if os.environ.get("BENCH_RAID_KEEP"):
            print(f"kept {rundir}", file=sys.stderr)
        else:
            subprocess.run(["rm", "-rf", rundir])
    return 0


if __name__ == "__main__":
    sys.exit(main())
