#!/usr/bin/python3
"""vhost-user-blk benchmark: blockd vs qemu-storage-daemon, with fio's local
io_uring on the same file as the ceiling.

    /usr/bin/python3 bench/blockdev/bench_vhost_blk.py [--build build] [--size 1G]
        [--runtime 10] [--reactors 1] [--jobs randread,randwrite,write] [--repeat N]

A VM cannot measure a vhost-user-blk back end (under TCG the guest costs far
more than the back end), so the front end is build/bench/vub_bench
(bench/blockdev/vub_bench.c): shared memfd memory, split virtqueues, the
vhost-user protocol spoken directly, completions polled. Jobs: 4K random read
QD32, 4K random write QD32, 128K sequential write QD8, on a raw file filled
with random data first (O_DIRECT reads of holes would be fake-fast), exported
by blockd (file bdev, O_DIRECT) and by qemu-storage-daemon
(cache.direct=on, aio=io_uring). One JSON line per job and target with IOPS,
bandwidth, p50/p99 latency and the server's CPU time per I/O (utime+stime
from /proc/PID/stat). With --repeat N each job runs N times against blockd
and qemu-storage-daemon alternately, and a summary line per job gives the
medians and the median of the per-pair CPU ratios: on a shared machine one
pair can be off by a third, the median of several much less. Not part of
`make test`.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_nbd import (PIN, REPO, commit, fio, placement, prefill, summarize,  # noqa: E402
                       wait_socket)

SHAPES = {"randread": (4096, 32), "randwrite": (4096, 32), "write": (131072, 8),
          "read": (131072, 8)}


def vub(binary, sock, rw, runtime, pid, label):
    bs, qd = SHAPES[rw]
    r = subprocess.run(PIN["client"] + [binary, "--socket", sock, "--rw", rw, "--bs", str(bs), "--qd", str(qd),
                        "--runtime", str(runtime), "--pid", str(pid), "--label", label],
                       capture_output=True, text=True, timeout=runtime + 60)
    if r.returncode:
        raise RuntimeError(f"vub_bench against {label}: {r.stderr or r.stdout}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--size", default="1G")
    ap.add_argument("--runtime", type=int, default=10)
    ap.add_argument("--reactors", type=int, default=1)
    ap.add_argument("--jobs", default="randread,randwrite,write")
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--no-local", action="store_true", help="skip fio's local io_uring runs")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each job N times per target, alternating, plus a median summary")
    ap.add_argument("--server-cpus", help="CPUs of both servers (default: the last; none)")
    ap.add_argument("--client-cpus", help="CPUs of vub_bench and fio (default: the others; none)")
    a = ap.parse_args()
    for tool in ("fio", "qemu-storage-daemon"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed")
    binary = os.path.join(a.build, "bench", "vub_bench")
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} is missing: make bench-bins")
    jobs = a.jobs.split(",")
    for rw in jobs:
        if rw not in SHAPES:
            sys.exit(f"unknown job {rw} ({', '.join(SHAPES)})")

    load = os.getloadavg()
    base = {"machine": platform.node(), "cpus": os.cpu_count(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": commit(), "size": a.size, "loadavg_1m": round(load[0], 2),
            **placement(a.server_cpus, a.client_cpus)}
    work = tempfile.mkdtemp(prefix="vsl-bench-", dir="/tmp")
    img = os.path.join(a.dir, f"vessel-bench-vub-{os.getpid()}.raw")
    procs = []

    def emit(target, rw, res):
        bs, qd = SHAPES[rw]
        line = dict(base, benchmark=f"vhost-user-blk-{rw}-{bs // 1024}k-qd{qd}", target=target,
                    bs=bs, iodepth=qd, **res)
        print(json.dumps(line), flush=True)

    try:
        with open(img, "wb") as f:
            f.truncate(1)
        prefill(img, a.size)

        def local(rw):
            bs, qd = SHAPES[rw]
            job = fio(["--ioengine=io_uring", "--direct=1", f"--filename={img}",
                       f"--rw={rw}", f"--bs={bs}", f"--iodepth={qd}", f"--size={a.size}",
                       "--randrepeat=0"], a.runtime)
            res = dict(summarize(job, rw), loadavg_1m=round(os.getloadavg()[0], 2))
            emit("local-io_uring", rw, res)
            return res

        env = dict(os.environ, VESSEL_RUNDIR=work)
        bd = subprocess.Popen(PIN["server"] + [os.path.join(a.build, "bin", "blockd"), "--no-pidfile",
                               "--log-file", os.path.join(work, "blockd.log"),
                               "--reactors", str(a.reactors)], env=env)
        procs.append(bd)
        wait_socket(os.path.join(work, "blockd.sock"), bd)
        ctl = [os.path.join(a.build, "bin", "blockctl"), "-s", os.path.join(work, "blockd.sock")]
        subprocess.run(ctl + ["bdev-create", "file", "disk", f"path={img}", "direct=true"],
                       check=True, capture_output=True)
        vsock = os.path.join(work, "vessel.vhost")
        subprocess.run(ctl + ["export-add", "disk", "vhost-user-blk", f"socket={vsock}"],
                       check=True, capture_output=True)

        qsock = os.path.join(work, "qsd.vhost")
        qsd = subprocess.Popen(PIN["server"] + ["qemu-storage-daemon",
                                "--blockdev", f"driver=file,node-name=f,filename={img},"
                                              "cache.direct=on,aio=io_uring",
                                "--export", "type=vhost-user-blk,id=e,node-name=f,"
                                            f"addr.type=unix,addr.path={qsock},writable=on"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(qsd)
        wait_socket(qsock, qsd)

        for rw in jobs:
            runs = {"blockd": [], "qemu-storage-daemon": []}
            locs = []
            for _ in range(max(a.repeat, 1)):
                # Interleaved: the local ceiling is measured in every round.
                if not a.no_local:
                    locs.append(local(rw))
                for target, proc, sock in (("blockd", bd, vsock),
                                           ("qemu-storage-daemon", qsd, qsock)):
                    res = vub(binary, sock, rw, a.runtime, proc.pid, target)
                    keep = ("iops", "bw_mib_s", "p50_us", "p99_us", "ios", "errors",
                            "server_cpu_us_per_io")
                    runs[target].append(res)
                    emit(target, rw, dict({k: res[k] for k in keep},
                                          loadavg_1m=round(os.getloadavg()[0], 2)))
            if a.repeat > 1:
                b, q = runs["blockd"], runs["qemu-storage-daemon"]
                ratios = [x["server_cpu_us_per_io"] / y["server_cpu_us_per_io"]
                          for x, y in zip(b, q) if y["server_cpu_us_per_io"] > 0]
                emit("summary", rw, {
                    "runs": len(b),
                    "blockd_iops_median": statistics.median(x["iops"] for x in b),
                    "qsd_iops_median": statistics.median(x["iops"] for x in q),
                    "blockd_cpu_us_median": statistics.median(x["server_cpu_us_per_io"] for x in b),
                    "qsd_cpu_us_median": statistics.median(x["server_cpu_us_per_io"] for x in q),
                    "cpu_ratio_median": round(statistics.median(ratios), 3) if ratios else None,
                    "cpu_ratios": [round(r, 2) for r in ratios],
                    "local_iops_median": statistics.median(x["iops"] for x in locs) if locs
                    else None,
                    "local_cpu_us_median": statistics.median(x["client_cpu_us_per_io"]
                                                             for x in locs) if locs else None,
                    "blockd_vs_local_iops": [round(x["iops"] / y["iops"], 2)
                                             for x, y in zip(b, locs) if y["iops"]],
                    "loadavg_1m": round(os.getloadavg()[0], 2)})
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)
        if os.path.exists(img):
            os.unlink(img)


if __name__ == "__main__":
    main()
