#!/usr/bin/python3
"""NBD block benchmark: blockd vs qemu-storage-daemon vs local io_uring.

    /usr/bin/python3 bench/blockdev/bench_nbd.py [--build build] [--size 1G]
        [--runtime 10] [--reactors 1] [--jobs randread,randwrite] [--qcow2]

For each job (4K random read QD32, 4K random write QD32, 128K sequential write QD8)
prints one JSON line per
target: fio's io_uring engine on the raw file (the local ceiling), fio's nbd engine
against blockd exporting the same file (file bdev, O_DIRECT), and against
qemu-storage-daemon exporting it (cache.direct=on, aio=io_uring). Each line has
IOPS, bandwidth, p99 latency and, for the servers, the server's CPU time per I/O
(utime+stime from /proc/PID/stat over the run), which stays meaningful on a shared
machine. The file is filled with random data first: O_DIRECT reads of holes would
be fake-fast. Not part of `make test`.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 (1-based); after the ")" split,
    # field 3 (state) is index 0.
    return (int(fields[11]) + int(fields[12])) / TICK


def commit():
    if os.environ.get("VESSEL_COMMIT"):
        return os.environ["VESSEL_COMMIT"]
    r = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                       text=True)
    return r.stdout.strip() or "unknown"


def wait_socket(path, proc, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if os.path.exists(path):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                s.close()
                return
            except OSError:
                pass
        time.sleep(0.05)
    raise TimeoutError(path)


# CPU placement (see placement()): taskset prefixes for the servers and for the
# clients (fio, vub_bench). Empty: not pinned.
PIN = {"server": [], "client": []}


def placement(server_cpus, client_cpus):
    """Pins every server (blockd and qemu-storage-daemon alike) to server_cpus
    and every client (fio, also fio's local io_uring runs, vub_bench) to
    client_cpus. Defaults: the servers get the last CPU this process may use
    (where blockd puts its reactor anyway), the clients the others, so a
    server and its client never compete for one CPU and both servers meet the
    same CPU (and the same device interrupts). "none" leaves that side
    unpinned. Returns a description for the JSON lines."""
    cpus = sorted(os.sched_getaffinity(0))
    if server_cpus is None:
        server_cpus = str(cpus[-1]) if len(cpus) > 1 else "none"
    if client_cpus is None:
        rest = [c for c in cpus if str(c) not in server_cpus.split(",")]
        client_cpus = ",".join(map(str, rest)) if rest and server_cpus != "none" else "none"
    for side, spec in (("server", server_cpus), ("client", client_cpus)):
        PIN[side] = [] if spec == "none" else ["taskset", "-c", spec]
    return {"server_cpus": server_cpus, "client_cpus": client_cpus}


def fio(args, runtime):
    cmd = PIN["client"] + ["fio", "--name=bench", "--output-format=json", "--time_based",
                           f"--runtime={runtime}", "--ramp_time=1", "--group_reporting"] + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    if r.returncode:
        raise RuntimeError(r.stderr or r.stdout)
    job = json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]
    return job


def summarize(job, rw):
    side = job["read" if "read" in rw else "write"]
    ios = side["total_ios"]
    p99 = side.get("clat_ns", {}).get("percentile", {}).get("99.000000", 0) / 1000
    out = {"iops": round(side["iops"]), "bw_mib_s": round(side["bw_bytes"] / 2**20, 1),
           "p99_us": round(p99, 1), "ios": ios}
    if ios and "usr_cpu" in job:
        # fio's own CPU per I/O (usr_cpu and sys_cpu are % of one CPU over the
        # measured runtime): for the local io_uring run, what the kernel's
        # storage path costs with the least possible user space around it.
        out["client_cpu_us_per_io"] = round((job["usr_cpu"] + job["sys_cpu"]) / 100
                                            * job["job_runtime"] / 1000 / ios * 1e6, 2)
    return out


def prefill(path, size):
    subprocess.run(["fio", "--name=fill", "--ioengine=io_uring", "--direct=1", f"--filename={path}",
                    f"--size={size}", "--rw=write", "--bs=1M", "--iodepth=8",
                    "--refill_buffers", "--output=/dev/null"], check=True, timeout=600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--size", default="1G")
    ap.add_argument("--runtime", type=int, default=10)
    ap.add_argument("--reactors", type=int, default=1)
    ap.add_argument("--jobs", default="randread,randwrite,write")
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--qcow2", action="store_true", help="add the qcow2 jobs")
    ap.add_argument("--qcow2-only", action="store_true", help="only the qcow2 jobs")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each job N times (local, blockd, qsd in turn) plus a median summary")
    ap.add_argument("--server-cpus", help="CPUs of both servers (default: the last; none)")
    ap.add_argument("--client-cpus", help="CPUs of fio (default: the others; none)")
    a = ap.parse_args()
    for tool in ("fio", "qemu-storage-daemon"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed")

    base = {"machine": platform.node(), "cpus": os.cpu_count(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": commit(), "size": a.size,
            **placement(a.server_cpus, a.client_cpus)}
    work = tempfile.mkdtemp(prefix="vsl-bench-", dir="/tmp")
    img = os.path.join(a.dir, f"vessel-bench-{os.getpid()}.raw")
    procs = []
    try:
        with open(img, "wb") as f:
            f.truncate(1)
        prefill(img, a.size)

        # job -> (block size, queue depth)
        shapes = {"randread": ("4k", 32), "randwrite": ("4k", 32), "write": ("128k", 8),
                  "read": ("128k", 8)}

        def opts(rw):
            bs, qd = shapes[rw]
            return [f"--rw={rw}", f"--bs={bs}", f"--iodepth={qd}", f"--size={a.size}",
                    "--randrepeat=0"]

        def emit(target, rw, job, server_pid=None, cpu=None):
            bs, qd = shapes[rw]
            line = dict(base, benchmark=f"nbd-{rw}-{bs}-qd{qd}", target=target, bs=bs,
                        iodepth=qd, **summarize(job, rw))
            if cpu is not None and line["ios"]:
                line["server_cpu_us_per_io"] = round(cpu / line["ios"] * 1e6, 2)
            line["loadavg_1m"] = round(os.getloadavg()[0], 2)
            print(json.dumps(line), flush=True)
            return line

        jobs = a.jobs.split(",")
        for rw in jobs:
            if rw not in shapes:
                sys.exit(f"unknown job {rw} ({', '.join(shapes)})")
        if a.qcow2_only:
            jobs = []
        # blockd: file bdev with O_DIRECT behind an NBD unix socket.
        env = dict(os.environ, VESSEL_RUNDIR=work)
        bd = subprocess.Popen(PIN["server"] + [os.path.join(a.build, "bin", "blockd"), "--no-pidfile",
                               "--log-file", os.path.join(work, "blockd.log"),
                               "--reactors", str(a.reactors)], env=env)
        procs.append(bd)
        wait_socket(os.path.join(work, "blockd.sock"), bd)
        ctl = [os.path.join(a.build, "bin", "blockctl"), "-s", os.path.join(work, "blockd.sock")]
        subprocess.run(ctl + ["bdev-create", "file", "disk", f"path={img}", "direct=true"],
                       check=True, capture_output=True)
        vsock = os.path.join(work, "vessel.nbd")
        subprocess.run(ctl + ["export-add", "disk", "nbd", f"socket={vsock}"], check=True,
                       capture_output=True)

        # qemu-storage-daemon on the same file.
        qsock = os.path.join(work, "qsd.nbd")
        qsd = subprocess.Popen(PIN["server"] + ["qemu-storage-daemon",
                                "--blockdev", f"driver=file,node-name=f,filename={img},"
                                              "cache.direct=on,aio=io_uring",
                                "--nbd-server", f"addr.type=unix,addr.path={qsock}",
                                "--export", "type=nbd,id=e,node-name=f,name=disk,writable=on"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(qsd)
        wait_socket(qsock, qsd)

        for rw in jobs:
            runs = {"local-io_uring": [], "blockd": [], "qemu-storage-daemon": []}
            for _ in range(max(a.repeat, 1)):
                # Interleaved: each round measures the ceiling and both servers
                # back to back, so that the ratios compare like with like.
                job = fio(["--ioengine=io_uring", "--direct=1", f"--filename={img}"] + opts(rw),
                          a.runtime)
                runs["local-io_uring"].append(emit("local-io_uring", rw, job))
                for target, proc, sock in (("blockd", bd, vsock),
                                           ("qemu-storage-daemon", qsd, qsock)):
                    c0 = cpu_seconds(proc.pid)
                    job = fio(["--ioengine=nbd", f"--uri=nbd+unix:///disk?socket={sock}"]
                              + opts(rw), a.runtime)
                    cpu = cpu_seconds(proc.pid) - c0
                    # fio's ramp time is not in total_ios: scale CPU to the measured part.
                    cpu *= a.runtime / (a.runtime + 1)
                    runs[target].append(emit(target, rw, job, proc.pid, cpu))
            if a.repeat > 1:
                emit_summary(base, f"nbd-{rw}-{shapes[rw][0]}-qd{shapes[rw][1]}", runs)
        qsd.send_signal(signal.SIGTERM)
        qsd.wait(10)

        if a.qcow2 or a.qcow2_only:
            subprocess.run(ctl + ["export-remove", "disk"], check=True, capture_output=True)
            qcow2_jobs(a, base, work, img, ctl, bd, procs)
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


def emit_summary(base, benchmark, runs):
    """Medians over the rounds, and the medians of the per-round ratios."""
    b, q, loc = runs["blockd"], runs["qemu-storage-daemon"], runs["local-io_uring"]

    def med(xs):
        xs = [x for x in xs if x is not None]
        return round(statistics.median(xs), 3) if xs else None

    line = dict(base, benchmark=benchmark, target="summary", runs=len(b),
                local_iops_median=med(x["iops"] for x in loc),
                local_cpu_us_median=med(x.get("client_cpu_us_per_io") for x in loc),
                blockd_iops_median=med(x["iops"] for x in b),
                qsd_iops_median=med(x["iops"] for x in q),
                blockd_cpu_us_median=med(x.get("server_cpu_us_per_io") for x in b),
                qsd_cpu_us_median=med(x.get("server_cpu_us_per_io") for x in q),
                blockd_vs_local_iops=[round(x["iops"] / y["iops"], 2) for x, y in zip(b, loc)
                                      if y["iops"]],
                blockd_vs_qsd_iops=[round(x["iops"] / y["iops"], 2) for x, y in zip(b, q)
                                    if y["iops"]],
                cpu_ratios=[round(x["server_cpu_us_per_io"] / y["server_cpu_us_per_io"], 2)
                            for x, y in zip(b, q) if y.get("server_cpu_us_per_io")],
                loadavg_1m=round(os.getloadavg()[0], 2))
    for k in ("blockd_vs_local_iops", "blockd_vs_qsd_iops", "cpu_ratios"):
        line[k + "_median"] = med(line[k])
    print(json.dumps(line), flush=True)


def qcow2_jobs(a, base, work, raw, ctl, bd, procs):
    """Fresh (allocating) and fully allocated (overwriting) qcow2 images."""
    def make(kind, tag):
        path = os.path.join(a.dir, f"vessel-bench-{os.getpid()}-{tag}.qcow2")
        if kind == "fresh":
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, a.size], check=True)
        else:
            subprocess.run(["qemu-img", "convert", "-O", "qcow2", "-f", "raw", raw, path],
                           check=True, timeout=600)
        return path

    def run_job(target, proc, sock, kind, rw):
        c0 = cpu_seconds(proc.pid)
        job = fio(["--ioengine=nbd", f"--uri=nbd+unix:///disk?socket={sock}", f"--rw={rw}",
                   "--bs=4k", "--iodepth=32", f"--size={a.size}", "--randrepeat=0"], a.runtime)
        cpu = (cpu_seconds(proc.pid) - c0) * a.runtime / (a.runtime + 1)
        line = dict(base, benchmark=f"nbd-qcow2-{kind}-{rw}-4k-qd32", target=target, bs="4k",
                    iodepth=32, **summarize(job, rw))
        if line["ios"]:
            line["server_cpu_us_per_io"] = round(cpu / line["ios"] * 1e6, 2)
        print(json.dumps(line), flush=True)

    n = 0
    for kind, rws in (("fresh", ["randwrite"]), ("allocated", ["randwrite", "randread"])):
        for rw in rws:
            # blockd
            n += 1
            path = make(kind, f"v{n}")
            try:
                name = f"q{n}"
                vsock = os.path.join(work, f"{name}.nbd")
                subprocess.run(ctl + ["bdev-create", "qcow2", name, f"path={path}", "direct=true"],
                               check=True, capture_output=True)
                subprocess.run(ctl + ["export-add", name, "nbd", f"socket={vsock}",
                                      "name=disk"], check=True, capture_output=True)
                run_job("blockd", bd, vsock, kind, rw)
                subprocess.run(ctl + ["export-remove", "disk"], check=True, capture_output=True)
                subprocess.run(ctl + ["bdev-delete", name], check=True, capture_output=True)
            finally:
                os.unlink(path)
            # qemu-storage-daemon
            path = make(kind, f"q{n}")
            qsock = os.path.join(work, f"qsd{n}.nbd")
            qsd = subprocess.Popen(PIN["server"] + ["qemu-storage-daemon",
                                    "--blockdev", f"driver=file,node-name=f,filename={path},"
                                                  "cache.direct=on,aio=io_uring",
                                    "--blockdev", "driver=qcow2,node-name=q,file=f",
                                    "--nbd-server", f"addr.type=unix,addr.path={qsock}",
                                    "--export", "type=nbd,id=e,node-name=q,name=disk,writable=on"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(qsd)
            try:
                wait_socket(qsock, qsd)
                run_job("qemu-storage-daemon", qsd, qsock, kind, rw)
            finally:
                qsd.send_signal(signal.SIGTERM)
                qsd.wait(10)
                os.unlink(path)


if __name__ == "__main__":
    main()
