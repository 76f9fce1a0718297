"""LVM under real front ends.

- A QEMU TCG guest on a thin LV exported over vhost-user-blk: it makes an ext2
  filesystem and writes files; a snapshot of the LV goes (read-only) to a
  second guest while the first boots again and rewrites, appends to, deletes
  and adds files. The second guest sees exactly the files as of the snapshot
  (md5 of each), the first its new data; the pool grows by exactly the chunks
  the divergent writes needed (counted by comparing the two LVs chunk by
  chunk over NBD).
- fio verify over NBD on a linear and a thin LV while a third LV (linear or
  thin, in turn) is created, extended and removed again and again; then
  blockd restarts from its saved config: the VG shows the two LVs with their
  sizes and free space, and their contents hash the same as before.

Run: /usr/bin/python3 tests/run_tests.py --build build --only system -k lvm_guest
"""
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vessel
from vessel import run

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "guest"))
import guest  # noqa: E402

BUILD_DIR = Path(os.environ.get("VESSEL_GUEST_BUILD") or REPO / "build")
BOOT_TIMEOUT = 150   # the machine is shared: TCG boots may be slow
MB = 1 << 20
CHUNK = 64 * 1024


def need(*tools):
    for t in tools:
        if not vessel.have(t):
            pytest.skip(f"{t} is not installed")


def ctl(d, *args):
    r = d.ctl(*args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def ctlj(d, *args):
    return json.loads(ctl(d, "-j", *args).stdout)


def lvs(d, vg):
    return {lv["lv"]: lv for lv in ctlj(d, "lvs", vg)}


def export_info(d, name):
    for e in d.rpc("export-list"):
        if e["name"] == name:
            return e
    raise AssertionError(f"no export {name}")


def nbd_export(d, rundir, bdev):
    sock = os.path.join(rundir, bdev + ".nbd")
    d.rpc("export-add", {"bdev": bdev, "type": "nbd", "socket": sock})
    return f"nbd+unix:///{bdev}?socket={sock}"


def nbd_image(uri, out):
    """The whole export copied to a file (qemu-img reads it over NBD)."""
    r = run(["qemu-img", "convert", "-f", "raw", "-O", "raw", uri, out], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(out, "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------
# 1. Guests on a thin LV and on its snapshot

@pytest.fixture(scope="module")
def guest_paths():
    if guest.qemu_path() is None:
        pytest.skip(f"{guest.QEMU} is not installed")
    need("qemu-img")
    try:
        return guest.build(BUILD_DIR)
    except guest.GuestUnavailable as e:
        pytest.skip(f"the guest kernel package cannot be downloaded: {e}")


def vub_export(d, rundir, bdev, **kw):
    sock = os.path.join(rundir, f"{bdev}.vhost")
    # The first one starts DPDK's EAL: slow under load and sanitizers.
    d.rpc("export-add", dict({"bdev": bdev, "type": "vhost-user-blk", "socket": sock}, **kw),
          timeout=60)
    return sock


def guest_on(paths, tmp_path, tag, sock, script):
    return guest.Guest(script=script, timeout=BOOT_TIMEOUT, accel="tcg", paths=paths,
                       workdir=tmp_path / tag, extra_qemu_args=guest.vhost_user_blk_args(sock),
                       shared_memory=True)


def boot(paths, tmp_path, tag, sock, script):
    with guest_on(paths, tmp_path, tag, sock, script) as g:
        res = g.wait()
    assert res.ok, res.describe()
    return res.script_output()


def unexport(d, name):
    """export-remove once QEMU has gone (rte_vhost notices it soon after)."""
    deadline = time.monotonic() + 15
    while export_info(d, name)["connections"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert export_info(d, name)["connections"] == 0
    d.rpc("export-remove", {"name": name})


# Every script ends by listing the files with their md5, read back after a
# remount with the page cache dropped, so the sums come from the disk.
LIST = r"""
umount /mnt
echo 3 > /proc/sys/vm/drop_caches
mount -t ext2 -o ro /dev/vda /mnt
for f in $(ls /mnt/d); do echo "SUM $f $(md5sum < /mnt/d/$f | cut -d' ' -f1)"; done
echo "FILES $(ls /mnt/d | wc -l)"
umount /mnt
"""

MKFS = r"""
set -e
vessel-load-fs
echo "SIZE $(cat /sys/block/vda/size)"
mke2fs -q -b 4096 /dev/vda
mkdir -p /mnt
mount -t ext2 -o noatime /dev/vda /mnt
mkdir /mnt/d
i=0
while [ $i -lt 8 ]; do
    dd if=/dev/urandom of=/mnt/d/f$i bs=64k count=$((4 + i)) 2>/dev/null
    i=$((i+1))
done
echo "small file written before the snapshot" > /mnt/d/note
sync
""" + LIST

# After the snapshot: a rewrite in place, an append, two deletes, a new file.
# The expected contents are built in RAM first (EXPECT lines).
CHANGE = r"""
set -e
vessel-load-fs
mkdir -p /mnt /tmp
mount -t ext2 -o noatime /dev/vda /mnt
dd if=/dev/urandom of=/tmp/patch bs=4k count=3 2>/dev/null
dd if=/dev/urandom of=/tmp/tail bs=64k count=4 2>/dev/null
dd if=/dev/urandom of=/tmp/new bs=64k count=10 2>/dev/null
cp /mnt/d/f0 /tmp/f0
dd if=/tmp/patch of=/tmp/f0 bs=4k seek=5 conv=notrunc 2>/dev/null
cat /mnt/d/f1 /tmp/tail > /tmp/f1
echo "EXPECT f0 $(md5sum < /tmp/f0 | cut -d' ' -f1)"
echo "EXPECT f1 $(md5sum < /tmp/f1 | cut -d' ' -f1)"
echo "EXPECT new $(md5sum < /tmp/new | cut -d' ' -f1)"
dd if=/tmp/patch of=/mnt/d/f0 bs=4k seek=5 conv=notrunc 2>/dev/null
cat /tmp/tail >> /mnt/d/f1
rm /mnt/d/f2 /mnt/d/note
cat /tmp/new > /mnt/d/new
sync
""" + LIST

READ = r"""
set -e
vessel-load-fs
echo "RO $(cat /sys/block/vda/ro)"
mkdir -p /mnt
mount -t ext2 -o ro /dev/vda /mnt
""" + LIST


def sums(out):
    files = {}
    for line in out.splitlines():
        if line.startswith("SUM "):
            _, name, md5 = line.split()
            files[name] = md5
    count = [int(line.split()[1]) for line in out.splitlines() if line.startswith("FILES ")]
    assert count == [len(files)], out
    return files


def test_guests_on_thin_lv_and_snapshot(guest_paths, start_blockd, rundir, tmp_path):
    d = start_blockd()
    pv = os.path.join(rundir, "pv.img")
    with open(pv, "wb") as f:
        f.truncate(128 * MB)
    d.rpc("bdev-create", {"type": "file", "name": "pv", "path": pv})
    ctl(d, "vgcreate", "-s", "1M", "vgg", "pv")
    ctl(d, "lvcreate", "--thinpool", "pool", "-L", "64M", "--chunksize", "64K", "vgg")
    # Over-committed: 96M virtual on a 64M pool.
    ctl(d, "lvcreate", "-V", "96M", "--thin", "vgg/pool", "-n", "root")

    sock = vub_export(d, rundir, "vgg-root")
    out = boot(guest_paths, tmp_path, "mkfs", sock, MKFS)
    assert f"SIZE {96 * MB // 512}" in out, out
    before = sums(out)
    assert sorted(before) == [f"f{i}" for i in range(8)] + ["note"], out
    st = export_info(d, "vgg-root")["stats"]
    assert st["write"] > 0 and st["flush"] > 0 and st["errors"] == 0, st
    unexport(d, "vgg-root")

    ctl(d, "lvcreate", "-s", "vgg/root", "-n", "snap")
    lv = lvs(d, "vgg")
    used0 = lv["pool"]["used_chunks"]
    mapped0 = lv["root"]["mapped_chunks"]
    assert lv["snap"]["origin"] == "root" and lv["snap"]["mapped_chunks"] == mapped0, lv
    assert 0 < used0 == mapped0, lv          # all shared, nothing copied yet

    # The first guest again, on the origin, and at the same time a second
    # guest on the snapshot (read-only export): the first one's writes copy
    # shared chunks while the second reads them.
    s_root = vub_export(d, rundir, "vgg-root")
    s_snap = vub_export(d, rundir, "vgg-snap", readonly=True)
    with guest_on(guest_paths, tmp_path, "change", s_root, CHANGE) as g1, \
            guest_on(guest_paths, tmp_path, "snap", s_snap, READ) as g2:
        r1, r2 = g1.wait(), g2.wait()
    assert r1.ok, r1.describe()
    assert r2.ok, r2.describe()
    after = sums(r1.script_output())
    assert sorted(after) == ["f0", "f1", "f3", "f4", "f5", "f6", "f7", "new"], after
    expect = dict(before)
    del expect["f2"], expect["note"]
    for line in r1.script_output().splitlines():
        if line.startswith("EXPECT "):
            _, name, md5 = line.split()
            expect[name] = md5
    assert after == expect, (after, expect)
    assert after["f0"] != before["f0"] and after["f1"] != before["f1"], (before, after)
    out = r2.script_output()
    assert "RO 1" in out, out
    assert sums(out) == before, out
    assert export_info(d, "vgg-snap")["stats"]["write"] == 0
    unexport(d, "vgg-root")
    unexport(d, "vgg-snap")

    # Pool usage: every chunk where the LVs now differ needed a chunk of its
    # own (a copy of a shared chunk or a fresh one); nothing else was copied.
    lv = lvs(d, "vgg")
    assert lv["snap"]["mapped_chunks"] == mapped0, lv
    grown = lv["pool"]["used_chunks"] - used0
    origin = nbd_image(nbd_export(d, rundir, "vgg-root"), os.path.join(rundir, "root.raw"))
    snap = nbd_image(nbd_export(d, rundir, "vgg-snap"), os.path.join(rundir, "snap.raw"))
    assert len(origin) == len(snap) == 96 * MB
    differ = sum(1 for off in range(0, len(origin), CHUNK)
                 if origin[off:off + CHUNK] != snap[off:off + CHUNK])
    assert grown == differ, (grown, differ, lv)
    # The appended and new data alone are 14 x 64K: divergence is real, and
    # far below a full copy of what the snapshot shares.
    assert 14 <= differ < used0 // 2, (differ, used0)
    assert lv["pool"]["enospc_errors"] == 0
    # Of those, the origin's newly mapped chunks were fresh allocations; the
    # rest were copies, whose old chunk only the snapshot holds now: removing
    # the snapshot frees exactly those (the rewrite of f0 made at least one).
    fresh = lv["root"]["mapped_chunks"] - mapped0
    copied = grown - fresh
    assert fresh >= 0 and copied >= 1, (grown, fresh, lv)
    d.rpc("export-remove", {"name": "vgg-root"})
    d.rpc("export-remove", {"name": "vgg-snap"})
    ctl(d, "lvremove", "vgg/snap")
    assert lvs(d, "vgg")["pool"]["used_chunks"] == lv["pool"]["used_chunks"] - copied
    assert d.stop() == 0


# ---------------------------------------------------------------------------
# 2. fio verify on two LVs while a third comes and goes

def churn_io(uri, *cmds):
    args = ["qemu-io", "-f", "raw", uri]
    for c in cmds:
        args += ["-c", c]
    r = run(args, timeout=60)
    assert r.returncode == 0 and "failed" not in r.stdout + r.stderr, r.stdout + r.stderr


def fio_job(uri, size, offset="0"):
    return subprocess.Popen(
        ["fio", "--name=v", "--ioengine=nbd", f"--uri={uri}", "--rw=randwrite",
         f"--offset={offset}",
         "--bs=4k", "--bsrange=4k-64k", "--iodepth=8", f"--size={size}",
         "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0",
         "--loops=8", "--output-format=json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def fio_result(p):
    out, err = p.communicate(timeout=240)
    assert p.returncode == 0, out[-3000:] + err
    job = json.loads(out[out.index("{"):])["jobs"][0]
    assert job["error"] == 0, job
    return job


def test_fio_verify_during_lv_churn_and_restart(start_blockd, rundir):
    need("fio", "qemu-img", "qemu-io")
    d = start_blockd(args=["--reactors", "2"])
    for n in ("a", "b"):
        p = os.path.join(rundir, n + ".img")
        with open(p, "wb") as f:
            f.truncate(64 * MB)
        d.rpc("bdev-create", {"type": "file", "name": n, "path": p})
    vg = ctlj(d, "vgcreate", "-s", "1M", "vc", "a", "b")
    total = vg["free"]
    # lin spans both PVs, and fio on it crosses the segment boundary.
    ctl(d, "lvcreate", "-L", "72M", "-n", "lin", "vc")
    ctl(d, "lvcreate", "--thinpool", "pool", "-L", "32M", "--chunksize", "64K", "vc")
    ctl(d, "lvcreate", "-V", "48M", "--thin", "vc/pool", "-n", "thin")
    free0 = ctlj(d, "vgs", "vc")[0]["free"]
    ulin = nbd_export(d, rundir, "vc-lin")
    uthin = nbd_export(d, rundir, "vc-thin")
    jobs = [fio_job(ulin, "16M", offset="56M"), fio_job(uthin, "16M", offset="8M")]
    # A third LV, linear or thin in turn, created, extended (while in use by
    # nothing) and removed, as long as both fio jobs run.
    rounds = overlapped = 0
    try:
        while all(j.poll() is None for j in jobs) or rounds < 2:
            overlapped += all(j.poll() is None for j in jobs)
            thin = rounds % 2 == 1
            if thin:
                ctl(d, "lvcreate", "-V", "8M", "--thin", "vc/pool", "-n", "churn")
            else:
                ctl(d, "lvcreate", "-L", "4M", "-n", "churn", "vc")
            ctl(d, "lvextend", "-L", "+4M", "vc/churn")
            size = lvs(d, "vc")["churn"]["size"]
            assert size == (12 if thin else 8) * MB, size
            # Its extents or chunks are its own: a pattern over all of it
            # (fio would see it if they overlapped lin's or thin's).
            pat = 0x30 + rounds % 64
            churn_io(nbd_export(d, rundir, "vc-churn"), f"read -P 0 0 {size}",
                     f"write -P {pat} 0 {size}", f"read -P {pat} 0 {size}")
            d.rpc("export-remove", {"name": "vc-churn"})
            ctl(d, "lvremove", "vc/churn")
            rounds += 1
    finally:
        results = [fio_result(j) for j in jobs]
    # Whole rounds ran under both jobs (each loop writes then verifies 16M).
    assert overlapped >= 2, (rounds, overlapped)
    for r in results:
        assert r["write"]["io_bytes"] >= 128 * MB and r["read"]["io_bytes"] >= 128 * MB, r
    assert ctlj(d, "vgs", "vc")[0]["free"] == free0
    assert set(lvs(d, "vc")) == {"lin", "thin", "pool", "pool_tdata", "pool_tmeta"}
    hashes = {u: hashlib.sha256(nbd_image(u, os.path.join(rundir, "x.raw"))).hexdigest()
              for u in (ulin, uthin)}
    used = lvs(d, "vc")["pool"]["used_chunks"]

    cfg = os.path.join(rundir, "blockd.json")
    ctl(d, "save-config", cfg)
    assert d.stop() == 0
    d2 = start_blockd(args=["-c", cfg, "--reactors", "2"])
    lv = lvs(d2, "vc")
    assert set(lv) == {"lin", "thin", "pool", "pool_tdata", "pool_tmeta"}, lv
    assert lv["lin"]["size"] == 72 * MB and lv["thin"]["size"] == 48 * MB, lv
    assert lv["pool"]["size"] == 32 * MB and lv["pool"]["used_chunks"] == used, lv
    vg = ctlj(d2, "vgs", "vc")[0]
    assert vg["free"] == free0 and vg["free"] <= total - 104 * MB, vg
    for u, h in hashes.items():
        assert hashlib.sha256(nbd_image(u, os.path.join(rundir, "x.raw"))).hexdigest() == h, u
    assert d2.stop() == 0
