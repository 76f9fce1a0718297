#!/usr/bin/python3
"""LVM benchmark: a linear LV against the file bdev under it (4K random read),
and thin LVs against a linear LV (4K random write: allocating, overwriting,
and on an origin right after a snapshot).

    /usr/bin/python3 bench/lvm/bench_lvm.py [--build build] [--size 256M] [--runtime 5]
        [--rounds 5] [--dir /dev/shm] [--linear-only]

One file bdev (O_DIRECT) becomes the only PV of a VG with one linear LV that
fills it; a second file bdev on the same file, unclaimed, reads the same
bytes (the LV's extents start at 1 MiB). The LV is written end to end (1M
sequential, so reads are real), the file is written back and dropped from the
page cache, then both are read with fio's nbd engine (4K random, QD32, the
same seed, the same export type and byte range), alternating LV/file and
file/LV for --rounds rounds so both see the same load. Each run prints IOPS
and blockd's CPU time per I/O (user + system, from /proc); the "ratio" line
has the median of the per-round LV/file ratios (target: >= 0.95) and the
load average. Then --rounds runs of both at once (one fio, a job each, so
every moment of outside load hits both alike): their median ratio is
"lv_over_file_concurrent", the steadier figure on a shared machine. --dir /dev/shm puts the PV file in memory (tmpfs takes
O_DIRECT): the disk, shared with whatever else runs, drops out and the
software path is what is compared. Not part of `make test`.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "raid"))
from bench_raid import Rpc, commit, fio, settle, MB  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def thin_cases(rpc, export, emit, size, runtime):
    rpc("vg-create", {"name": "bt", "pvs": ["pv"]})
    vg = rpc("vg-list", {"name": "bt"})[0]
    ext = vg["extent_size"]
    each = (vg["free"] - ext) // 2 // ext * ext      # one extent for the pool metadata
    rpc("lv-create", {"vg": "bt", "name": "lin", "size": each})
    rpc("lv-create", {"vg": "bt", "name": "pool", "size": each, "type": "thin-pool",
                      "chunk_size": 65536})
    # Half the pool: the copies after the snapshot need room.
    half = each // 2 // ext * ext
    rpc("lv-create", {"vg": "bt", "name": "thin", "thin_pool": "pool", "virtual_size": half})
    job = ["--rw=randwrite", "--bs=4k", "--iodepth=32"]
    lin = export("bt-lin")
    j = fio(lin, job + [f"--size={half}"], runtime)
    lin_iops = j["write"]["iops"]
    emit(case="linear_lv", job="randwrite-4k-qd32", iops=round(lin_iops),
         mb_s=round(j["write"]["bw_bytes"] / MB, 1))
    thin = export("bt-thin")
    # Allocating: one 4K write at the start of every 64K chunk.
    cmd = ["fio", "--name=alloc", "--ioengine=nbd", f"--uri={thin}", "--output-format=json",
           "--rw=write", "--bs=4k", "--iodepth=32", "--zonemode=strided", "--zonesize=4k",
           "--zoneskip=60k", f"--size={half}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    j = json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]
    emit(case="thin_alloc", job="write-4k-qd32-one-per-64k-chunk",
         iops=round(j["write"]["iops"]), writes=j["write"]["total_ios"],
         thin_over_linear=round(j["write"]["iops"] / lin_iops, 3))
    subprocess.run(["fio", "--name=fill", "--ioengine=nbd", f"--uri={thin}", "--rw=write",
                    "--bs=1M", "--iodepth=8", f"--size={half}"], check=True,
                   capture_output=True, timeout=600)
    j = fio(thin, job, runtime)
    ow = j["write"]["iops"]
    emit(case="thin_overwrite", job="randwrite-4k-qd32", iops=round(ow),
         mb_s=round(j["write"]["bw_bytes"] / MB, 1), thin_over_linear=round(ow / lin_iops, 3))
    rpc("lv-create", {"vg": "bt", "name": "snap", "origin": "thin"})
    j = fio(thin, job, runtime)
    emit(case="thin_origin_after_snapshot", job="randwrite-4k-qd32",
         iops=round(j["write"]["iops"]), over_overwrite=round(j["write"]["iops"] / ow, 3))
    pool = [l for l in rpc("lv-list", {"vg": "bt"}) if l["lv"] == "pool"][0]
    emit(case="thin_pool_state", data_percent=round(pool["data_percent"], 1),
         metadata_percent=round(pool["metadata_percent"], 2))


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--size", default="256M")
    ap.add_argument("--runtime", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5,
                    help="linear case: LV and file runs, alternating, this many times each")
    ap.add_argument("--linear-only", action="store_true")
    ap.add_argument("--dir", help="where the PV file lives (default: the run directory under "
                    "/tmp; /dev/shm takes the disk out and leaves the software path)")
    a = ap.parse_args()
    size = int(a.size[:-1]) * MB if a.size[-1] in "Mm" else int(a.size)
    base = {"bench": "lvm", "host": platform.node(), "commit": commit(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}

    def emit(**kw):
        print(json.dumps(dict(base, **kw)), flush=True)

    rundir = tempfile.mkdtemp(prefix="vessel-blvm-", dir="/tmp")
    path = os.path.join(a.dir or rundir, f"vessel-blvm-{os.getpid()}-pv.img")
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
        with open(path, "wb") as f:
            f.truncate(size)
        rpc("bdev-create", {"type": "file", "name": "pv", "path": path, "direct": True})

        def export(name):
            s = os.path.join(rundir, name + ".nbd")
            rpc("export-add", {"bdev": name, "type": "nbd", "socket": s})
            return f"nbd+unix:///{name}?socket={s}"

        # A second file bdev on the same file, unclaimed: the same bytes the
        # LV maps (its extents start at 1 MiB), through the same export type,
        # measured in alternation with the LV so both see the same load.
        rpc("bdev-create", {"type": "file", "name": "raw", "path": path, "direct": True})
        rpc("vg-create", {"name": "bv", "pvs": ["pv"]})
        vg = rpc("vg-list", {"name": "bv"})[0]
        lv_size = vg["free"]
        rpc("lv-create", {"vg": "bv", "name": "lin", "size": lv_size})
        lv_uri = export("bv-lin")
        raw_uri = export("raw")
        subprocess.run(["fio", "--name=fill", "--ioengine=nbd", f"--uri={lv_uri}", "--rw=write",
                        "--bs=1M", "--iodepth=8", f"--size={lv_size}"], check=True,
                       capture_output=True, timeout=600)
        settle(path)
        job = ["--rw=randread", "--bs=4k", "--iodepth=32", "--randseed=1"]
        runs = {"linear_lv": (lv_uri, job + [f"--size={lv_size}"]),
                "file_bdev": (raw_uri, job + [f"--offset={MB}", f"--size={lv_size}"])}
        res = {k: [] for k in runs}
        for r in range(a.rounds):
            order = list(runs) if r % 2 == 0 else list(runs)[::-1]
            for case in order:
                uri, args = runs[case]
                cpu0 = cpu_seconds(d.pid)
                j = fio(uri, args, a.runtime)
                cpu = cpu_seconds(d.pid) - cpu0
                ios = j["read"]["total_ios"]
                res[case].append((j["read"]["iops"], cpu / ios * 1e6 if ios else 0))
                emit(case=case, round=r, job="randread-4k-qd32", iops=round(j["read"]["iops"]),
                     blockd_cpu_us_per_io=round(res[case][-1][1], 2),
                     loadavg=round(os.getloadavg()[0], 2))

        # Both at once, one fio process with a job each: every instant of
        # load hits both, so the ratio of one run is already a fair pair.
        conc = []
        for r in range(a.rounds):
            cmd = ["fio", "--output-format=json", "--time_based", f"--runtime={a.runtime}",
                   "--ramp_time=1", "--ioengine=nbd"]
            for case in ("linear_lv", "file_bdev"):
                uri, args = runs[case]
                cmd += [f"--name={case}", f"--uri={uri}"] + args
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=a.runtime + 120,
                                 check=True).stdout
            jobs = json.loads(out[out.index("{"):])["jobs"]
            li, fi = jobs[0]["read"]["iops"], jobs[1]["read"]["iops"]
            conc.append(li / fi)
            emit(case="concurrent", round=r, job="randread-4k-qd32-each",
                 lv_iops=round(li), file_iops=round(fi), lv_over_file=round(li / fi, 3),
                 loadavg=round(os.getloadavg()[0], 2))

        def med(v):
            v = sorted(v)
            return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2

        lv_iops, file_iops = (med([x[0] for x in res[k]]) for k in ("linear_lv", "file_bdev"))
        # Each round's two runs are back to back: their ratio sees one load.
        ratios = [l[0] / f[0] for l, f in zip(res["linear_lv"], res["file_bdev"])]
        emit(case="ratio", job="randread-4k-qd32", rounds=a.rounds, pv_dir=os.path.dirname(path),
             lv_iops_median=round(lv_iops), file_iops_median=round(file_iops),
             lv_over_file=round(med(ratios), 3),
             lv_over_file_per_round=[round(x, 3) for x in ratios],
             lv_over_file_concurrent=round(med(conc), 3),
             lv_cpu_us_per_io_median=round(med([x[1] for x in res["linear_lv"]]), 2),
             file_cpu_us_per_io_median=round(med([x[1] for x in res["file_bdev"]]), 2),
             loadavg=round(os.getloadavg()[0], 2))
        rpc("export-remove", {"name": "bv-lin"})
        rpc("export-remove", {"name": "raw"})
        rpc("lv-remove", {"vg": "bv", "name": "lin"})
        rpc("vg-remove", {"name": "bv"})
        rpc("bdev-delete", {"name": "raw"})
        if a.linear_only:
            return 0
        thin_cases(rpc, export, emit, size, a.runtime)
    finally:
        d.terminate()
        d.wait(20)
        subprocess.run(["rm", "-rf", rundir])
        if a.dir:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
