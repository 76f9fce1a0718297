"""vhost-user-blk exports seen by a real front end: QEMU's vhost-user-blk-pci
in the TCG test guest. The guest makes a filesystem (busybox mke2fs) on a qcow2
image exported by blockd, writes files and powers off; a second boot reads them
back through a read-only export; qemu-img check finds the image clean. blockd
killed under a running guest and started again: QEMU reconnects and the
guest's I/O carries on. Without a VM, bench/blockdev/vub_bench drives two
queues, sends malformed requests, and keeps writes in flight while blockd is
killed: the restarted blockd replays them from the inflight area.

Run: /usr/bin/python3 tests/run_tests.py --build build --only system -k vhost_blk
"""
import json
import os
import signal
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
BOOT_TIMEOUT = 120   # the machine is shared: TCG boots may be slow
MB = 1 << 20


@pytest.fixture(scope="module")
def guest_paths():
    if guest.qemu_path() is None:
        pytest.skip(f"{guest.QEMU} is not installed")
    if not vessel.have("qemu-img"):
        pytest.skip("qemu-img is not installed")
    try:
        return guest.build(BUILD_DIR)
    except guest.GuestUnavailable as e:
        pytest.skip(f"the guest kernel package cannot be downloaded: {e}")


def export_vub(d, rundir, bdev, **kw):
    sock = os.path.join(rundir, f"{bdev}.vhost")
    params = {"bdev": bdev, "type": "vhost-user-blk", "socket": sock}
    params.update(kw)
    d.rpc("export-add", params)
    return sock


def export_info(d, name):
    for e in d.rpc("export-list"):
        if e["name"] == name:
            return e
    raise AssertionError(f"no export {name}")


def boot(paths, tmp_path, tag, sock, script, num_queues=1):
    args = guest.vhost_user_blk_args(sock, num_queues=num_queues)
    return guest.boot(script=script, timeout=BOOT_TIMEOUT, accel="tcg", paths=paths,
                      workdir=tmp_path / tag, extra_qemu_args=args, shared_memory=True)


MKFS_SCRIPT = r"""
set -e
vessel-load-fs
echo "SIZE $(cat /sys/block/vda/size) RO $(cat /sys/block/vda/ro)"
echo "SERIAL $(cat /sys/block/vda/serial 2>/dev/null || echo none)"
echo "QUEUES $(ls /sys/block/vda/mq | wc -l)"
mke2fs -q -b 4096 /dev/vda
mkdir -p /mnt
mount -t ext2 /dev/vda /mnt
mkdir /mnt/dir
dd if=/dev/urandom of=/mnt/dir/big bs=64k count=48 2>/dev/null
i=0
while [ $i -lt 20 ]; do echo "file $i $(date)" > /mnt/dir/f$i; i=$((i+1)); done
sync
echo "SUM $(cat /mnt/dir/big /mnt/dir/f* | md5sum)"
umount /mnt
"""

# The second boot sees the disk read-only (VIRTIO_BLK_F_RO): writes fail.
READ_SCRIPT = r"""
set -e
vessel-load-fs
echo "RO $(cat /sys/block/vda/ro)"
mkdir -p /mnt
mount -t ext2 -o ro /dev/vda /mnt
ls /mnt/dir | wc -l | sed 's/^/COUNT /'
echo "SUM $(cat /mnt/dir/big /mnt/dir/f* | md5sum)"
umount /mnt
if dd if=/dev/zero of=/dev/vda bs=4k count=1 oflag=direct 2>/dev/null; then
    echo WRITE-ACCEPTED
else
    echo WRITE-REFUSED
fi
"""


def line_value(text, key):
    for line in text.splitlines():
        if line.startswith(key + " "):
            return line[len(key) + 1:].strip()
    raise AssertionError(f"no '{key}' line in:\n{text}")


def test_guest_filesystem_on_qcow2(guest_paths, start_blockd, rundir, tmp_path):
    img = os.path.join(rundir, "disk.qcow2")
    r = run(["qemu-img", "create", "-f", "qcow2", img, "64M"])
    assert r.returncode == 0, r.stderr
    d = start_blockd()
    d.rpc("bdev-create", {"type": "qcow2", "name": "disk", "path": img})
    # One vCPU: Linux sets up min(num-queues, vCPUs) queues, and rte_vhost
    # starts a device only when every queue QEMU announced is set up.
    sock = export_vub(d, rundir, "disk", num_queues=1)

    res = boot(guest_paths, tmp_path, "boot1", sock, MKFS_SCRIPT)
    out = res.script_output()
    assert res.ok, res.describe() + "\n" + d.output()[-3000:]
    assert line_value(out, "SIZE") == f"{64 * MB // 512} RO 0", out
    assert line_value(out, "SERIAL") == "disk", out
    written = line_value(out, "SUM")

    st = export_info(d, "disk")
    assert st["broken_queues"] == 0, st
    assert st["stats"]["write"] > 0 and st["stats"]["read"] > 0, st
    assert st["stats"]["flush"] > 0, st
    assert st["stats"]["errors"] == 0, st
    deadline = time.monotonic() + 10       # rte_vhost sees QEMU go soon after
    while export_info(d, "disk")["connections"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert export_info(d, "disk")["connections"] == 0

    # Read back through a read-only export of the same bdev.
    d.rpc("export-remove", {"name": "disk"})
    sock = export_vub(d, rundir, "disk", readonly=True)
    res = boot(guest_paths, tmp_path, "boot2", sock, READ_SCRIPT)
    out = res.script_output()
    assert res.ok, res.describe()
    assert line_value(out, "RO") == "1", out
    assert line_value(out, "COUNT") == "21", out
    assert line_value(out, "SUM") == written, out
    assert "WRITE-REFUSED" in out, out
    assert export_info(d, "disk")["stats"]["write"] == 0

    # save-config replays the export.
    cfg = os.path.join(rundir, "blockd.json")
    d.rpc("save-config", {"path": cfg})
    with open(cfg) as f:
        saved = json.load(f)
    if isinstance(saved, dict):
        saved = saved.get("calls", [])
    calls = [c for c in saved if c["method"] == "export-add"]
    assert calls and calls[0]["params"]["type"] == "vhost-user-blk", calls
    assert calls[0]["params"]["num_queues"] == 1, calls
    assert calls[0]["params"]["readonly"] is True, calls

    deadline = time.monotonic() + 10       # as above: QEMU's disconnect first
    while export_info(d, "disk")["connections"] and time.monotonic() < deadline:
        time.sleep(0.05)
    d.rpc("export-remove", {"name": "disk"})
    assert not os.path.exists(sock)
    d.rpc("bdev-delete", {"name": "disk"})
    assert d.stop() == 0
    r = run(["qemu-img", "check", "-f", "qcow2", img])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No errors" in r.stdout, r.stdout


RESTART_SCRIPT = r"""
set -e
dd if=/dev/urandom of=/tmp/a bs=64k count=16 2>/dev/null
dd if=/tmp/a of=/dev/vda bs=64k oflag=direct 2>/dev/null
echo "PHASE1 $(md5sum </tmp/a)"
# Wait for the host's go-ahead in sector 8192, reading it through the export
# without a pause: blockd is killed with reads in flight, which the new blockd
# submits again from QEMU's inflight area; the reads issued while no blockd
# runs wait in the virtqueue for the new one.
n=0
while [ $n -lt 100000 ]; do
    if dd if=/dev/vda bs=512 skip=8192 count=1 iflag=direct 2>/dev/null | grep -q GO-AHEAD; then
        break
    fi
    n=$((n+1))
done
echo "WAITED $n"
echo "PHASE2 $(dd if=/dev/vda bs=64k count=16 iflag=direct 2>/dev/null | md5sum)"
dd if=/dev/urandom of=/tmp/b bs=64k count=8 2>/dev/null
dd if=/tmp/b of=/dev/vda bs=64k seek=32 oflag=direct 2>/dev/null
echo "PHASE3 $(md5sum </tmp/b) $(dd if=/dev/vda bs=64k skip=32 count=8 iflag=direct 2>/dev/null | md5sum)"
"""


def test_blockd_killed_guest_reconnects(guest_paths, start_blockd, rundir, tmp_path):
    raw = os.path.join(rundir, "disk.raw")
    with open(raw, "wb") as f:
        f.truncate(32 * MB)
    d = start_blockd()
    d.rpc("bdev-create", {"type": "file", "name": "f0", "path": raw})
    sock = export_vub(d, rundir, "f0")
    cfg = os.path.join(rundir, "blockd.json")
    d.rpc("save-config", {"path": cfg})

    args = guest.vhost_user_blk_args(sock)
    with guest.Guest(script=RESTART_SCRIPT, timeout=BOOT_TIMEOUT, accel="tcg",
                     paths=guest_paths, workdir=tmp_path / "restart",
                     extra_qemu_args=args, shared_memory=True) as g:
        m = g.wait_for(r"PHASE1 (\S+)", timeout=BOOT_TIMEOUT)
        assert m, g.console() + d.output()[-3000:]
        first = m.group(1)
        # The guest now reads sector 8192 in a loop: kill blockd under it.
        time.sleep(1)
        d.kill()
        time.sleep(0.5)
        d2 = start_blockd(args=["-c", cfg])
        with open(raw, "r+b") as f:
            f.seek(8192 * 512)
            f.write(b"GO-AHEAD".ljust(512, b"\0"))
        res = g.wait()
    out = res.script_output()
    assert res.ok, res.describe() + "\n" + d2.output()[-4000:]
    assert line_value(out, "PHASE2") == f"{first}  -", out
    p3 = line_value(out, "PHASE3").split()
    assert p3[0] == p3[2], out
    e = export_info(d2, "f0")
    assert e["stats"]["read"] > 0 and e["broken_queues"] == 0, e


# ---------------------------------------------------------------------------
# Without a VM: bench/blockdev/vub_bench speaks vhost-user itself.

def vub_bench(*args, timeout=60):
    binary = os.path.join(vessel.BUILD, "bench", "vub_bench")
    assert os.access(binary, os.X_OK), f"{binary} is missing (make unit-bins builds it)"
    return run([binary] + [str(a) for a in args], timeout=timeout)


def test_multiqueue_front_end_verify(start_blockd, rundir):
    """Two queues on two reactors: a pattern written through both reads back."""
    d = start_blockd(args=["--reactors", "2"])
    d.rpc("bdev-create", {"type": "malloc", "name": "m0", "size": 64 * MB})
    sock = export_vub(d, rundir, "m0", num_queues=2)
    r = vub_bench("--socket", sock, "--rw", "randwrite", "--qd", 16, "--queues", 2,
                  "--runtime", 1, "--verify", "--pid", d.pid)
    assert r.returncode == 0, r.stdout + r.stderr + d.output()[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["ios"] > 0 and res["errors"] == 0, res
    st = export_info(d, "m0")["stats"]
    # The verify pass reads 32 blocks; the timed pass writes.
    assert st["read"] >= 32 and st["write"] >= res["ios"], st
    # The config space says two queues: the front end will not use three.
    r = vub_bench("--socket", sock, "--rw", "randread", "--qd", 4, "--queues", 3,
                  "--runtime", 1)
    assert r.returncode != 0 and "offers 2 queues" in r.stderr, r.stderr


def test_malformed_requests_from_front_end(start_blockd, rundir):
    """A buffer outside the shared memory or a descriptor loop stops the queue
    (never a crash or an access outside guest memory); a sector past the end
    gets VIRTIO_BLK_S_IOERR; the next front end is served normally."""
    d = start_blockd()
    d.rpc("bdev-create", {"type": "malloc", "name": "m0", "size": 16 * MB})
    sock = export_vub(d, rundir, "m0")

    # A completion is expected: wait for it as long as a loaded machine needs.
    out = json.loads(vub_bench("--socket", sock, "--bad", "range", "--wait", 30).stdout)
    assert out["completed"] and out["status"] == 1, out          # VIRTIO_BLK_S_IOERR
    assert export_info(d, "m0")["stats"]["errors"] == 1

    for kind, n in (("addr", 1), ("loop", 2)):
        out = json.loads(vub_bench("--socket", sock, "--bad", kind).stdout)
        assert not out["completed"], out
        deadline = time.monotonic() + 10
        while export_info(d, "m0")["broken_queues"] < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert export_info(d, "m0")["broken_queues"] == n
    assert "queue stopped" in d.output()

    r = vub_bench("--socket", sock, "--rw", "randwrite", "--qd", 8, "--runtime", 1, "--verify")
    assert r.returncode == 0, r.stdout + r.stderr
    d.rpc("export-remove", {"name": "m0"})
    assert d.stop() == 0


def test_blockd_killed_inflight_requests_replayed(start_blockd, rundir):
    """Inflight tracking without a VM: vub_bench negotiates INFLIGHT_SHMFD and
    keeps 32 writes in flight to an O_DIRECT file; blockd is SIGKILLed under
    it and started again from its saved config; the front end reconnects with
    the same inflight area. Every request outstanding at the kill completes
    exactly once (the new blockd submits the old one's again), none is lost,
    and every block then reads back as its last write. The front end's guest
    memory is pinned by the reactors (pinned_queues) and unpinned when it goes."""
    import subprocess
    binary = os.path.join(vessel.BUILD, "bench", "vub_bench")
    assert os.access(binary, os.X_OK), f"{binary} is missing (make unit-bins builds it)"
    raw = os.path.join(rundir, "replay.raw")
    with open(raw, "wb") as f:
        f.truncate(64 * MB)
    d = start_blockd()
    d.rpc("bdev-create", {"type": "file", "name": "f0", "path": raw, "direct": True})
    sock = export_vub(d, rundir, "f0")
    cfg = os.path.join(rundir, "blockd-replay.json")
    d.rpc("save-config", {"path": cfg})

    resubmitted = 0
    for attempt in range(3):
        fe = subprocess.Popen([binary, "--socket", sock, "--replay", "--qd", "32",
                               "--wait", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
        try:
            line = fe.stdout.readline()
            assert '"running"' in line, line + fe.stderr.read() + d.output()[-2000:]
            e = export_info(d, "f0")
            assert e["pinned_queues"] == 1 and e["pin_memory"], e
            d.kill()
            d = start_blockd(args=["-c", cfg])
            out, err = fe.communicate(timeout=120)
        finally:
            if fe.poll() is None:
                fe.kill()
                fe.wait()
        assert fe.returncode == 0, out + err + d.output()[-3000:]
        res = json.loads(out.strip().splitlines()[-1])
        assert res["outstanding"] == res["completed_after"] and res["duplicates"] == 0, res
        assert res["verify_errors"] == 0 and res["blocks_verified"] > 0, res
        e = export_info(d, "f0")
        # Requests the old blockd had not fetched yet are fetched, not replayed.
        resubmitted = e["stats"]["resubmitted"]
        assert resubmitted <= res["outstanding"], (e, res)
        assert e["broken_queues"] == 0, e
        if resubmitted:
            break
        # Nothing was inside blockd at the kill (possible only on a very
        # fast disk): the replay path was not exercised, try again.
        d.kill()
        d = start_blockd(args=["-c", cfg])
    assert resubmitted > 0, "blockd never had a request in flight when killed"
    assert "inflight requests submitted again" in d.output()
    deadline = time.monotonic() + 10
    while export_info(d, "f0")["pinned_queues"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert export_info(d, "f0")["pinned_queues"] == 0
