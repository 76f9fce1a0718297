#!/usr/bin/python3
"""LVM benchmark: a linear LV against the file bdev under it (4K random read),
and thin LVs against a linear LV (4K random write: allocating, overwriting,
and on an origin right after a snapshot).

    /usr/bin/python3 bench/lvm/bench_lvm.py [--build build] [--size 256M] [--runtime 5]

One file bdev (O_DIRECT) becomes the only PV of a VG with one linear LV that
fills it. The LV is written end to end (1M sequential, so reads are real),
then read with fio's nbd engine (4K random, QD32); then the LV and VG are
removed (data stays) and the file bdev itself is exported and read over the
same byte range. Prints one JSON line per figure (machine, date, commit) and
the ratio LV / file (target: >= 0.95). Not part of `make test`.

Thin cases (same file PV, a new VG): a linear LV written over the same span
as a thin LV (64K chunks) half the size of its pool. "alloc" writes 4K once into every chunk of a fresh thin LV
(fio strided zones: each write allocates and zero-fills a chunk); "overwrite"
is 4K random writes QD32 after the LV was filled; "after_snapshot" is the same
job on the origin right after a snapshot (first writes copy their chunk).
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
from bench_raid import Rpc, commit, fio, MB  # noqa: E402

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--size", default="256M")
    ap.add_argument("--runtime", type=int, default=5)
    a = ap.parse_args()
    size = int(a.size[:-1]) * MB if a.size[-1] in "Mm" else int(a.size)
    base = {"bench": "lvm", "host": platform.node(), "commit": commit(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}

    def emit(**kw):
        print(json.dumps(dict(base, **kw)), flush=True)

    rundir = tempfile.mkdtemp(prefix="vessel-blvm-", dir="/tmp")
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
        path = os.path.join(rundir, "pv.img")
        with open(path, "wb") as f:
            f.truncate(size)
        rpc("bdev-create", {"type": "file", "name": "pv", "path": path, "direct": True})

        def export(name):
            s = os.path.join(rundir, name + ".nbd")
            rpc("export-add", {"bdev": name, "type": "nbd", "socket": s})
            return f"nbd+unix:///{name}?socket={s}"

        rpc("vg-create", {"name": "bv", "pvs": ["pv"]})
        vg = rpc("vg-list", {"name": "bv"})[0]
        lv_size = vg["free"]
        rpc("lv-create", {"vg": "bv", "name": "lin", "size": lv_size})
        uri = export("bv-lin")
        subprocess.run(["fio", "--name=fill", "--ioengine=nbd", f"--uri={uri}", "--rw=write",
                        "--bs=1M", "--iodepth=8", f"--size={lv_size}"], check=True,
                       capture_output=True, timeout=600)
        j = fio(uri, ["--rw=randread", "--bs=4k", "--iodepth=32"], a.runtime)
        lv_iops = j["read"]["iops"]
        emit(case="linear_lv", job="randread-4k-qd32", iops=round(lv_iops),
             mb_s=round(j["read"]["bw_bytes"] / MB, 1))
        rpc("export-remove", {"name": "bv-lin"})
        rpc("lv-remove", {"vg": "bv", "name": "lin"})
        rpc("vg-remove", {"name": "bv"})
        uri = export("pv")
        j = fio(uri, ["--rw=randread", "--bs=4k", "--iodepth=32", f"--offset={MB}",
                      f"--size={lv_size}"], a.runtime)
        file_iops = j["read"]["iops"]
        emit(case="file_bdev", job="randread-4k-qd32", iops=round(file_iops),
             mb_s=round(j["read"]["bw_bytes"] / MB, 1))
        emit(case="ratio", job="randread-4k-qd32", lv_over_file=round(lv_iops / file_iops, 3))
        rpc("export-remove", {"name": "pv"})
        thin_cases(rpc, export, emit, size, a.runtime)
    finally:
        d.terminate()
        d.wait(20)
        subprocess.run(["rm", "-rf", rundir])
    return 0


if __name__ == "__main__":
    sys.exit(main())
