"""RAID0 and RAID1 sets in blockd, checked through NBD exports with qemu-io,
fio and nbdcopy, and by reading the member files directly (as mdadm's tests
compare members): striping layout, a member failed in the middle of a fio
verify run, replacement and rebuild, power cut through the error bdev, a
killed daemon, stale and corrupt members, and bad input that must leave every
member untouched."""
import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

import vessel
from vessel import run
from test_blockdev_nbd import RawNbd, CMD_WRITE, CMD_FLUSH, CMD_READ

MB = 1 << 20
DATA_OFFSET = MB


def need(*tools):
    for t in tools:
        if not vessel.have(t):
            pytest.skip(f"{t} is not installed")


def uri(sock, name):
    return f"nbd+unix:///{name}?socket={sock}"


def qemu_io(target, *cmds, timeout=60):
    args = ["qemu-io", "-f", "raw", target]
    for c in cmds:
        args += ["-c", c]
    r = run(args, timeout=timeout)
    assert r.returncode == 0 and "failed" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r


def files(d, rundir, names, size=32 * MB, error=False):
    """File bdevs (and error bdevs e<name> on them when asked) of `size`."""
    paths = {}
    for n in names:
        p = os.path.join(rundir, n + ".img")
        with open(p, "wb") as f:
            f.truncate(size)
        d.rpc("bdev-create", {"type": "file", "name": n, "path": p})
        if error:
            d.rpc("bdev-create", {"type": "error", "name": "e" + n, "base": n})
        paths[n] = p
    return paths


def status(d, name):
    return d.rpc("raid-status", {"name": name})[0]


def wait_idle(d, name, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = status(d, name)
        if not st["rebuild"]["running"]:
            return st
        time.sleep(0.05)
    raise AssertionError(f"{name} still rebuilding: {st}")


def export(d, rundir, bdev):
    sock = os.path.join(rundir, bdev + ".nbd")
    d.rpc("export-add", {"bdev": bdev, "type": "nbd", "socket": sock})
    return sock


def read_at(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def digest(path, off=DATA_OFFSET, length=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(off)
        left = length
        while left is None or left > 0:
            chunk = f.read(MB if left is None else min(MB, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


def sha(paths):
    return {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths}


# --------------------------------------------------------------------- RAID0

def test_raid0_roundtrip_and_member_layout(blockd, rundir):
    need("qemu-img")
    strip = 64 * 1024
    paths = files(blockd, rundir, ["a", "b", "c"])
    st = blockd.rpc("raid-create", {"name": "r0", "level": 0, "strip_size": "64K",
                                    "members": ["a", "b", "c"]})
    assert st["raid_level"] == 0 and st["strip_size"] == strip
    assert st["size"] == 3 * (32 * MB - DATA_OFFSET)
    for m in ("a", "b", "c"):
        assert blockd.rpc("bdev-list", {"name": m})[0]["claimed_by"] == "r0"
    sock = export(blockd, rundir, "r0")
    src = os.path.join(rundir, "src.raw")
    data = os.urandom(8 * MB)
    with open(src, "wb") as f:
        f.write(data)
    r = run(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, uri(sock, "r0")],
            timeout=120)
    assert r.returncode == 0, r.stderr
    r = run(["qemu-img", "compare", "-f", "raw", "-F", "raw", src, uri(sock, "r0")], timeout=120)
    assert "Images are identical" in r.stdout or r.returncode == 0, r.stdout + r.stderr
    blockd.rpc("export-remove", {"name": "r0"})
    # The members hold strip k of the set on member k % 3, row k // 3.
    for k in range(len(data) // strip):
        member = paths["abc"[k % 3]]
        got = read_at(member, DATA_OFFSET + (k // 3) * strip, strip)
        assert got == data[k * strip:(k + 1) * strip], f"strip {k}"
    # Superblocks: magic at 0 or 4 KiB on every member.
    for p in paths.values():
        head = read_at(p, 0, 8192)
        assert head[:4] == b"VRAI" or head[4096:4100] == b"VRAI"


def test_raid0_fio_verify_and_missing_member(start_blockd, rundir):
    need("fio")
    d = start_blockd(args=["--reactors", "2"])
    files(d, rundir, ["a", "b"])
    d.rpc("raid-create", {"name": "r0", "level": 0, "members": ["a", "b"]})
    sock = export(d, rundir, "r0")
    r = run(["fio", "--name=v", "--ioengine=nbd", f"--uri={uri(sock, 'r0')}", "--rw=randwrite",
             "--bs=4k", "--bsrange=4k-256k", "--iodepth=16", "--size=24M", "--verify=crc32c",
             "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0",
             "--output-format=json"], timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]["error"] == 0
    d.rpc("export-remove", {"name": "r0"})
    d.rpc("raid-stop", {"name": "r0"})
    d.rpc("bdev-delete", {"name": "b"})
    with pytest.raises(vessel.RpcError) as e:
        d.rpc("raid-create", {"name": "r0", "level": 0, "members": ["a", "a2"]})
    assert "no bdev 'a2'" in e.value.message
    files(d, rundir, ["c"])
    with pytest.raises(vessel.RpcError) as e:
        d.rpc("raid-create", {"name": "r0", "level": 0, "members": ["a", "c"]})
    assert "no superblock" in e.value.message or "missing" in e.value.message, e.value.message
    # ...and with the one member left, it refuses to start: a member is missing.
    d.rpc("bdev-delete", {"name": "c"})
    files(d, rundir, ["c2"])
    with pytest.raises(vessel.RpcError) as e:
        d.rpc("raid-create", {"name": "r0", "level": 0, "members": ["a", "c2"]})
    assert e.value.message


# --------------------------------------------------------------------- RAID1

def test_raid1_member_fails_mid_fio_verify_then_rebuild(start_blockd, rundir):
    need("fio")
    d = start_blockd(args=["--reactors", "2"])
    paths = files(d, rundir, ["m0", "m1", "m2"], error=True)
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["em0", "em1"]})
    wait_idle(d, "r1")
    sock = export(d, rundir, "r1")
    fio = subprocess.Popen(
        ["fio", "--name=v", "--ioengine=nbd", f"--uri={uri(sock, 'r1')}", "--rw=randwrite",
         "--bs=4k", "--iodepth=16", "--size=24M", "--numjobs=1", "--rate=6m",
         "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0",
         "--fsync=32", "--output-format=json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert fio.poll() is None, "fio finished before the failure"
    d.rpc("error-inject", {"name": "em1", "fail_nth": 1, "fail_count": 1 << 30, "io": "any"})
    out, err = fio.communicate(timeout=120)
    assert fio.returncode == 0, out[-3000:] + err
    job = json.loads(out[out.index("{"):])["jobs"][0]
    assert job["error"] == 0 and job["read"]["io_bytes"] > 0
    st = status(d, "r1")
    assert st["raid_state"] == "degraded"
    states = {m["name"]: m["state"] for m in st["members"]}
    assert states == {"em0": "active", "em1": "failed"}
    assert st["raid_counters"]["member_failures"] == 1
    assert st["raid_counters"]["degraded_writes"] > 0
    assert "em1 (slot 1) active -> failed (write error" in d.output()
    # Replace it: remove the failed member, add a fresh one, rebuild.
    r = d.ctl("raid-remove", "r1", "em1")
    assert r.returncode == 0, r.stderr
    r = d.ctl("raid-add", "r1", "em2")
    assert r.returncode == 0, r.stderr
    st = wait_idle(d, "r1")
    assert st["raid_state"] == "online"
    assert st["rebuild"]["rebuilt_bytes"] == 31 * MB
    r = d.ctl("raid-status", "r1")
    assert "online" in r.stdout and "em2" in r.stdout, r.stdout
    # Data still verifies through the set, and the members are byte-identical.
    r = run(["fio", "--name=v", "--ioengine=nbd", f"--uri={uri(sock, 'r1')}", "--rw=randwrite",
             "--bs=4k", "--size=24M", "--verify=crc32c", "--verify_only=1",
             "--verify_state_save=0", "--output-format=json"], timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    d.rpc("export-remove", {"name": "r1"})
    d.rpc("raid-stop", {"name": "r1"})
    assert digest(paths["m0"]) == digest(paths["m2"])
    assert digest(paths["m0"]) != digest(paths["m1"])     # the failed one missed writes


def test_raid1_power_cut_resyncs_dirty_regions_only(blockd, rundir):
    need("nbdcopy")
    files(blockd, rundir, ["m0", "m1"], error=True)
    blockd.rpc("raid-create", {"name": "r1", "level": 1, "members": ["em0", "em1"],
                               "region_size": "1M", "assume_clean": True})
    st = status(blockd, "r1")
    assert st["bitmap"]["regions"] == 31 and st["bitmap"]["dirty"] == 0
    # m1's disk has a volatile cache; m0 writes through.
    blockd.rpc("error-inject", {"name": "em1", "power_cut": "arm"})
    sock = export(blockd, rundir, "r1")
    c = RawNbd(sock)
    c.go("r1")
    c.request(CMD_WRITE, 3 * MB, 65536, cookie=1, payload=b"\xa1" * 65536)
    assert c.simple_reply(1)[0] == 0
    c.request(CMD_FLUSH, 0, 0, cookie=2)
    assert c.simple_reply(2)[0] == 0
    c.request(CMD_WRITE, 10 * MB, 65536, cookie=3, payload=b"\xa2" * 65536)
    assert c.simple_reply(3)[0] == 0
    c.close()
    assert status(blockd, "r1")["bitmap"]["dirty"] == 2
    # Power cut: m1 loses the unflushed write of region 10; m0 has it.
    blockd.rpc("error-inject", {"name": "em1", "power_cut": "cut"})
    blockd.rpc("export-remove", {"name": "r1"})
    blockd.rpc("raid-stop", {"name": "r1"})
    # Restart the set on the post-crash members.
    blockd.rpc("raid-create", {"name": "r1", "level": 1, "members": ["em0", "em1"]})
    st = wait_idle(blockd, "r1")
    assert st["rebuild"]["resynced_bytes"] == 2 * MB, st["rebuild"]
    assert st["rebuild"]["rebuilt_bytes"] == 0
    assert "2 dirty bitmap regions to resync" in blockd.output()
    sock = export(blockd, rundir, "r1")
    qemu_io(uri(sock, "r1"), "read -P 0xa1 3M 64k", "read -P 0xa2 10M 64k",
            "read -P 0 0 3M", "read -P 0 11M 1M")
    blockd.rpc("export-remove", {"name": "r1"})
    blockd.rpc("raid-stop", {"name": "r1"})
    # The members agree everywhere in the data area (read through the bdevs:
    # em1's post-crash state lives in its power-cut shadow).
    outs = []
    for m in ("em0", "em1"):
        s = export(blockd, rundir, m)
        out = os.path.join(rundir, m + ".out")
        r = run(["nbdcopy", uri(s, m), out], timeout=60)
        assert r.returncode == 0, r.stderr
        outs.append(out)
    assert digest(outs[0]) == digest(outs[1])


def test_raid1_killed_daemon_resyncs_only_dirty(start_blockd, rundir):
    need("fio")
    d = start_blockd()
    paths = files(d, rundir, ["m0", "m1"], size=64 * MB)
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["m0", "m1"],
                          "region_size": "1M", "assume_clean": True})
    sock = export(d, rundir, "r1")
    cfg = os.path.join(rundir, "blockd.json")
    assert d.ctl("save-config", cfg).returncode == 0
    # Writes confined to 8 MiB of a 63 MiB set, then the daemon dies mid-run.
    fio = subprocess.Popen(
        ["fio", "--name=w", "--ioengine=nbd", f"--uri={uri(sock, 'r1')}", "--rw=randwrite",
         "--bs=4k", "--iodepth=8", "--offset=16M", "--size=8M", "--time_based",
         "--runtime=30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    fio.kill()
    fio.wait()
    d2 = start_blockd(args=["-c", cfg])
    st = wait_idle(d2, "r1")
    resynced = st["rebuild"]["resynced_bytes"]
    assert 0 < resynced <= 8 * MB, st["rebuild"]
    assert "dirty bitmap regions to resync" in d2.output()
    d2.rpc("export-remove", {"name": "r1"})
    d2.rpc("raid-stop", {"name": "r1"})
    assert digest(paths["m0"]) == digest(paths["m1"])


def test_stale_member_rebuilt_and_corrupt_member_ignored(start_blockd, rundir):
    need("qemu-io")
    d = start_blockd()
    paths = files(d, rundir, ["m0", "m1", "m2"])
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["m0", "m1", "m2"]})
    wait_idle(d, "r1")
    sock = export(d, rundir, "r1")
    qemu_io(uri(sock, "r1"), "write -P 0x31 0 1M")
    d.rpc("raid-fail", {"name": "r1", "member": "m2"})
    qemu_io(uri(sock, "r1"), "write -P 0x32 0 1M")         # m2 misses this
    cfg = os.path.join(rundir, "blockd.json")
    assert d.ctl("save-config", cfg).returncode == 0
    d.stop()
    assert read_at(paths["m2"], DATA_OFFSET, 4) == b"\x31" * 4
    # m1's superblocks: magic kept, contents damaged (both copies).
    with open(paths["m1"], "r+b") as f:
        for off in (0, 4096):
            f.seek(off + 200)
            f.write(b"\xee" * 16)
    d2 = start_blockd(args=["-c", cfg])
    st = wait_idle(d2, "r1")
    log = d2.output()
    assert "ignoring member m1: superblock CRC mismatch" in log
    assert "member m2 is stale" in log
    assert [m["name"] for m in st["ignored_members"]] == ["m1"]
    states = {m["name"]: m["state"] for m in st["members"]}
    assert states["m0"] == "active" and states["m2"] == "active"
    assert st["rebuild"]["rebuilt_bytes"] == 31 * MB
    assert d2.rpc("bdev-list", {"name": "m1"})[0]["claimed_by"] is None
    qemu_io(uri(sock, "r1"), "read -P 0x32 0 1M")
    d2.rpc("export-remove", {"name": "r1"})
    d2.rpc("raid-stop", {"name": "r1"})
    assert digest(paths["m0"]) == digest(paths["m2"])


def test_bad_input_is_refused_and_nothing_written(blockd, rundir):
    paths = files(blockd, rundir, ["a", "b", "c"])
    big = os.path.join(rundir, "big.img")
    with open(big, "wb") as f:
        f.truncate(64 * MB)
    blockd.rpc("bdev-create", {"type": "file", "name": "big", "path": big})
    paths["big"] = big
    before = sha(paths.values())

    def refused(params, words):
        with pytest.raises(vessel.RpcError) as e:
            blockd.rpc("raid-create", params)
        assert words in e.value.message, e.value.message
        assert sha(paths.values()) == before

    refused({"name": "x", "level": 1, "members": ["a", "big"]}, "differ in size")
    refused({"name": "x", "level": 1, "members": ["a", "a"]}, "listed twice")
    refused({"name": "x", "level": 0, "members": ["a", "b"], "strip_size": 0}, "strip_size")
    refused({"name": "x", "level": 0, "members": ["a", "b"], "strip_size": 3000}, "strip_size")
    refused({"name": "x", "level": 0, "members": ["a", "b"], "strip_size": "1G"}, "strip_size")
    refused({"name": "x", "level": 2, "members": ["a", "b"]}, "level")
    refused({"name": "x", "level": 1, "members": ["a", "b"], "strip_size": "64K"}, "RAID0 only")
    refused({"name": "x", "level": 1, "members": ["a", "nope"]}, "no bdev 'nope'")
    with pytest.raises(vessel.RpcError):
        blockd.rpc("raid-create", {"name": "x", "level": 1, "members": ["a"]})
    # A member of another set.
    blockd.rpc("raid-create", {"name": "s1", "level": 1, "members": ["a", "b"],
                               "assume_clean": True})
    blockd.rpc("raid-stop", {"name": "s1"})
    before = sha(paths.values())
    refused({"name": "s2", "level": 1, "members": ["c", "a"]}, "belong")
    # A corrupt superblock (bad CRC) on every would-be member: refused.
    head = bytearray(read_at(paths["a"], 0, 8192))
    head[200] ^= 1
    head[4096 + 200] ^= 1
    with open(paths["c"], "r+b") as f:
        f.write(bytes(head))
    with open(paths["b"], "r+b") as f:
        f.write(b"\x00" * 8192)
    before = sha(paths.values())
    refused({"name": "s3", "level": 1, "members": ["c", "b"]}, "CRC")
    # A claimed member.
    blockd.rpc("bdev-create", {"type": "error", "name": "eb", "base": "b"})
    refused({"name": "s4", "level": 1, "members": ["b", "big"]}, "claimed by eb")
    assert blockd.alive()


def test_blockctl_and_config_replay(start_blockd, rundir):
    d = start_blockd()
    files(d, rundir, ["a", "b"])
    r = d.ctl("raid-create", "r0", "level=0", "members=a,b", "strip_size=256K")
    assert r.returncode == 0 and "RAID0 online" in r.stdout and "strip 256K" in r.stdout, \
        r.stdout + r.stderr
    r = d.ctl("raid-create", "r9", "level=0", "members=a,zz")
    assert r.returncode == 1 and "claimed by r0" in r.stderr, r.stderr
    # The mdadm-like form: options, then NAME MEMBER...; bad options are usage errors.
    files(d, rundir, ["c", "e"])
    r = d.ctl("raid-create", "--level", "1", "--region-size", "1M", "--assume-clean",
              "r1", "c", "e")
    assert r.returncode == 0 and "RAID1" in r.stdout, r.stdout + r.stderr
    st = d.rpc("raid-status", {"name": "r1"})[0]
    assert st["raid_level"] == 1 and [m["name"] for m in st["members"]] == ["c", "e"], st
    for bad, words in ((["--levl", "1", "x", "c"], "unknown option '--levl'"),
                       (["x", "--level"], "--level needs a value"),
                       (["--level", "1", "x", "c", "members=e"], "not both")):
        r = d.ctl("raid-create", *bad)
        assert r.returncode == 2 and words in r.stderr, (bad, r.stderr)
    assert d.ctl("raid-stop", "r1").returncode == 0
    for n in ("c", "e"):
        d.rpc("bdev-delete", {"name": n})
    r = d.ctl("--json", "raid-status")
    assert json.loads(r.stdout)[0]["name"] == "r0"
    r = d.ctl("raid-fail", "r0", "a")
    assert r.returncode == 1
    r = d.ctl("bdev-list")
    assert "raid0" in r.stdout
    cfg = os.path.join(rundir, "blockd.json")
    assert d.ctl("save-config", cfg).returncode == 0
    calls = json.load(open(cfg))
    methods = [c["method"] for c in calls]
    assert methods == ["bdev-create", "bdev-create", "raid-create"]
    assert calls[2]["params"]["members"] == ["a", "b"]
    assert calls[2]["params"]["strip_size"] == 256 * 1024
    d.stop()
    d2 = start_blockd(args=["-c", cfg])
    st = d2.rpc("raid-status", {"name": "r0"})[0]
    assert st["raid_state"] == "online" and st["strip_size"] == 256 * 1024
    assert "RAID0 assembled" in d2.output()
    r = d2.ctl("raid-stop", "r0")
    assert r.returncode == 0, r.stderr
    assert d2.rpc("raid-status") == []


def test_raid1_scrub_reports_and_repairs(blockd, rundir):
    need("qemu-io")
    paths = files(blockd, rundir, ["m0", "m1"])
    blockd.rpc("raid-create", {"name": "r1", "level": 1, "members": ["m0", "m1"],
                               "region_size": "1M", "assume_clean": True})
    sock = export(blockd, rundir, "r1")
    qemu_io(uri(sock, "r1"), "write -P 0x42 0 8M")
    with open(paths["m1"], "r+b") as f:          # silent corruption on m1
        f.seek(DATA_OFFSET + 5 * MB + 4096)
        f.write(b"\x99" * 4096)
    r = blockd.ctl("raid-scrub", "r1")
    assert r.returncode == 0, r.stderr
    st = wait_idle(blockd, "r1")
    assert st["scrub"]["mismatched_regions"] == [5], st["scrub"]
    assert st["scrub"]["mismatch_bytes"] == 4096
    assert "scrub found 1 mismatching regions" in blockd.output()
    r = blockd.ctl("raid-scrub", "r1", "repair=true")
    assert r.returncode == 0, r.stderr
    st = wait_idle(blockd, "r1")
    assert st["scrub"]["repaired_bytes"] > 0
    blockd.rpc("export-remove", {"name": "r1"})
    blockd.rpc("raid-stop", {"name": "r1"})
    assert digest(paths["m0"]) == digest(paths["m1"])


def test_raid_out_of_io_contexts(start_blockd, rundir):
    """With 24 I/O contexts a QD32 fio run keeps every layer (NBD, RAID,
    error, file) out of contexts: requests wait and retry, none fails."""
    need("fio")
    d = start_blockd(args=["--io-contexts", "24"])
    files(d, rundir, ["m0", "m1", "m2", "m3"], error=True)
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["em0", "em1"],
                          "assume_clean": True, "region_size": "1M"})
    d.rpc("raid-create", {"name": "r0", "level": 0, "members": ["em2", "em3"],
                          "strip_size": "4K"})
    for name in ("r1", "r0"):
        sock = export(d, rundir, name)
        r = run(["fio", "--name=v", "--ioengine=nbd", f"--uri={uri(sock, name)}",
                 "--rw=randrw", "--bs=4k", "--bsrange=4k-64k", "--iodepth=32", "--size=16M",
                 "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
                 "--verify_state_save=0", "--output-format=json"], timeout=180)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr
        assert json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]["error"] == 0
        assert d.rpc("bdev-stats", {"name": name})[0]["counters"]["errors"] == 0
    assert status(d, "r1")["raid_state"] == "online"
    assert "-> failed" not in d.output()       # out of contexts is never a member error


def test_raid1_rebuild_after_earlier_io_runs_at_full_depth(start_blockd, rundir):
    """Requests the set served before a rebuild began are not foreground I/O
    of that rebuild: with nothing running during it, every chunk is copied at
    full depth (no foreground yields), and the new member matches."""
    need("qemu-io")
    d = start_blockd()
    paths = files(d, rundir, ["m0", "m1", "m2"])
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["m0", "m1"],
                          "assume_clean": True})
    sock = export(d, rundir, "r1")
    qemu_io(uri(sock, "r1"), "write -P 0x5a 0 1M", "read -P 0x5a 0 1M")
    d.rpc("export-remove", {"name": "r1"})
    d.rpc("raid-fail", {"name": "r1", "member": "m1"})
    d.rpc("raid-remove", {"name": "r1", "member": "m1"})
    d.rpc("raid-add", {"name": "r1", "member": "m2"})
    st = wait_idle(d, "r1")
    assert st["raid_state"] == "online", st
    assert st["rebuild"]["rebuilt_bytes"] == 31 * MB, st["rebuild"]
    assert st["rebuild"]["foreground_yields"] == 0, st["rebuild"]
    d.rpc("raid-stop", {"name": "r1"})
    assert digest(paths["m0"]) == digest(paths["m2"])


def test_raid1_rebuild_under_io_from_two_reactors(start_blockd, rundir):
    """Two fio connections (one per reactor) write and verify while a
    rate-limited rebuild copies under them: writes park on the rebuild window
    and on bitmap updates made by the other reactor, and still all verify; the
    members are identical at the end."""
    need("fio")
    d = start_blockd(args=["--reactors", "2"])
    paths = files(d, rundir, ["m0", "m1", "m2"], size=48 * MB)
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["m0", "m1"],
                          "assume_clean": True, "region_size": "2M",
                          "rebuild_rate": "12M"})
    sock = export(d, rundir, "r1")
    d.rpc("raid-fail", {"name": "r1", "member": "m1"})
    d.rpc("raid-remove", {"name": "r1", "member": "m1"})
    d.rpc("raid-add", {"name": "r1", "member": "m2"})
    r = run(["fio", "--name=v", "--ioengine=nbd", f"--uri={uri(sock, 'r1')}", "--rw=randwrite",
             "--bs=4k", "--bsrange=4k-128k", "--iodepth=16", "--size=20M", "--numjobs=2",
             "--offset_increment=22M", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
             "--verify_state_save=0", "--output-format=json"], timeout=180)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    for job in json.loads(r.stdout[r.stdout.index("{"):])["jobs"]:
        assert job["error"] == 0
    st = status(d, "r1")
    assert st["rebuild"]["running"], "the rebuild ended before the I/O"
    # Chunks were copied one at a time while fio ran (foreground first).
    assert st["rebuild"]["foreground_yields"] > 0, st["rebuild"]
    d.rpc("export-remove", {"name": "r1"})
    st = wait_idle(d, "r1", timeout=60)
    assert st["raid_state"] == "online" and st["rebuild"]["rebuilt_bytes"] == 47 * MB
    d.rpc("raid-stop", {"name": "r1"})
    assert digest(paths["m0"]) == digest(paths["m2"])


# ------------------------------------------------------------- QEMU guest

GUEST_SCRIPT = r"""
set -e
vessel-load-fs
mke2fs /dev/vda >/dev/null
mkdir -p /mnt
mount -t ext2 /dev/vda /mnt
: >/tmp/sums
i=0
while [ $i -lt 24 ]; do
    dd if=/dev/urandom of=/tmp/f bs=64k count=8 2>/dev/null
    cp /tmp/f /mnt/f$i
    sync
    echo "$(sha256sum </tmp/f | cut -d' ' -f1)  /mnt/f$i" >>/tmp/sums
    echo "WROTE $i"
    [ $i -lt 4 ] || sleep 0.2
    i=$((i + 1))
done
# Read everything back from the disk, not the page cache, then again after a
# remount.
echo 3 >/proc/sys/vm/drop_caches
sha256sum -c /tmp/sums | grep -c ': OK$'
umount /mnt
mount -t ext2 /dev/vda /mnt
sha256sum -c -s /tmp/sums && echo VERIFIED-AFTER-REMOUNT
umount /mnt
if dmesg | grep -iE 'I/O error|EXT[24]-fs error|blk_update_request'; then
    echo GUEST-SAW-ERRORS
    exit 1
fi
"""


def test_raid1_qcow2_guest_member_fails_then_rebuild(start_blockd, rundir):
    """A QEMU guest puts ext2 on a qcow2 image that lives on a RAID1 set
    (NBD export, QEMU's nbd driver) and writes and checks files while
    `blockctl raid-fail` takes a member out in the middle; the guest sees no
    error, every checksum matches, and after raid-add and the rebuild the
    members are byte-identical in their data areas."""
    import sys
    sys.path.insert(0, os.path.join(vessel.REPO, "tests", "guest"))
    import guest
    need("qemu-img")
    if guest.qemu_path() is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    build = os.environ.get("VESSEL_GUEST_BUILD") or os.path.join(vessel.REPO, "build")
    try:
        paths_g = guest.build(build)
    except guest.GuestUnavailable as e:
        pytest.skip(f"no test guest: {e}")
    d = start_blockd()
    paths = files(d, rundir, ["m0", "m1", "m2"], size=64 * MB)
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["m0", "m1"],
                          "assume_clean": True, "region_size": "1M"})
    # A qcow2 image on the set: qemu-img formats it through the set's export.
    sock = export(d, rundir, "r1")
    r = run(["qemu-img", "create", "-f", "qcow2", uri(sock, "r1"), "48M"], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    d.rpc("export-remove", {"name": "r1"})
    d.rpc("bdev-create", {"type": "qcow2", "name": "vm0", "base": "r1"})
    vsock = export(d, rundir, "vm0")
    drive = f"file=nbd+unix:///vm0?socket={vsock},format=raw,if=virtio,cache=none"
    with guest.Guest(script=GUEST_SCRIPT, extra_qemu_args=["-drive", drive], timeout=240,
                     paths=paths_g, workdir=os.path.join(rundir, "guest")) as g:
        assert g.wait_for(r"WROTE 4\b", timeout=180), g.console()[-3000:]
        r = d.ctl("raid-fail", "r1", "m1")
        assert r.returncode == 0, r.stderr
        res = g.wait()
    assert res.ok, res.describe()
    out = res.script_output()
    assert "24" in out.split() and "VERIFIED-AFTER-REMOUNT" in out, out[-3000:]
    assert "GUEST-SAW-ERRORS" not in out
    st = status(d, "r1")
    assert st["raid_state"] == "degraded"
    assert st["raid_counters"]["degraded_writes"] > 0, "no guest write after the failure"
    assert {m["name"]: m["state"] for m in st["members"]} == {"m0": "active", "m1": "failed"}
    # Replace the failed member while the image stays open; rebuild.
    assert d.ctl("raid-remove", "r1", "m1").returncode == 0
    r = d.ctl("raid-add", "r1", "m2")
    assert r.returncode == 0, r.stderr
    st = wait_idle(d, "r1")
    assert st["raid_state"] == "online" and st["rebuild"]["rebuilt_bytes"] == 63 * MB
    d.rpc("export-remove", {"name": "vm0"})
    d.rpc("bdev-delete", {"name": "vm0"})
    d.rpc("raid-stop", {"name": "r1"})
    assert digest(paths["m0"]) == digest(paths["m2"])
    assert digest(paths["m0"]) != digest(paths["m1"])     # m1 missed the guest's writes


# ------------------------------------------- checkpoints, spares, re-add

def wait_for(cond, timeout=30, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_raid1_rebuild_resumes_from_checkpoint_after_kill(start_blockd, rundir):
    """A rate-limited rebuild checkpoints its position in the superblock; the
    daemon is killed in the middle; after the restart the rebuild resumes at
    the checkpoint (copies only the rest) and the members end up identical."""
    need("qemu-io")
    d = start_blockd()
    paths = files(d, rundir, ["m0", "m1", "m2"])
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["m0", "m1"],
                          "assume_clean": True, "region_size": "1M", "rebuild_rate": "6M"})
    sock = export(d, rundir, "r1")
    qemu_io(uri(sock, "r1"), "write -P 0x5a 0 31M")
    # Clean bitmap first: regions dirty at a crash are copied again below the
    # checkpoint, and this test wants to see what the checkpoint saves.
    wait_for(lambda: status(d, "r1")["bitmap"]["dirty"] == 0, what="a clean bitmap")
    d.rpc("raid-fail", {"name": "r1", "member": "m1"})
    d.rpc("raid-remove", {"name": "r1", "member": "m1"})
    d.rpc("raid-add", {"name": "r1", "member": "m2"})
    cfg = os.path.join(rundir, "blockd.json")
    assert d.ctl("save-config", cfg).returncode == 0
    ck = wait_for(lambda: status(d, "r1")["rebuild"]["checkpoint"] >= 6 * MB and
                  status(d, "r1")["rebuild"]["checkpoint"], what="a checkpoint")
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    # The superblock on m2 says "rebuilding" with the checkpoint (format v2).
    head = read_at(paths["m2"], 0, 8192)
    ckpts = [int.from_bytes(head[o + 192:o + 200], "big") for o in (0, 4096)
             if head[o:o + 4] == b"VRAI"]
    assert max(ckpts) >= ck, (ckpts, ck)
    calls = json.load(open(cfg))
    for c in calls:                                      # resume at full speed
        c["params"].pop("rebuild_rate", None)
    json.dump(calls, open(cfg, "w"))
    d2 = start_blockd(args=["-c", cfg])
    st = wait_idle(d2, "r1")
    log = d2.output()
    assert "rebuild resumes at" in log, log[-3000:]
    resumed = max(ckpts)
    assert st["rebuild"]["rebuilt_bytes"] == 31 * MB - resumed, (st["rebuild"], resumed)
    assert {m["name"]: m["state"] for m in st["members"]} == {"m0": "active", "m2": "active"}
    assert st["rebuild"]["checkpoint"] == 0
    qemu_io(uri(sock, "r1"), "read -P 0x5a 0 31M")           # the replayed export
    d2.rpc("export-remove", {"name": "r1"})
    d2.rpc("raid-stop", {"name": "r1"})
    assert digest(paths["m0"]) == digest(paths["m2"])


def test_raid1_spare_promoted_on_member_failure(start_blockd, rundir):
    """raid-add --spare keeps a hot spare (it survives a restart as a spare);
    a write error fails a member and the spare is promoted and rebuilt at
    once, with nobody calling raid-add."""
    need("qemu-io")
    d = start_blockd()
    paths = files(d, rundir, ["m0", "m1", "m2"], size=16 * MB, error=True)
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["em0", "em1"],
                          "assume_clean": True, "region_size": "1M"})
    r = d.ctl("raid-add", "r1", "em2", "--spare")
    assert r.returncode == 0, r.stderr
    st = status(d, "r1")
    assert st["raid_state"] == "online" and st["width"] == 2
    assert [m["state"] for m in st["members"]] == ["active", "active", "spare"]
    assert not st["rebuild"]["running"]
    cfg = os.path.join(rundir, "blockd.json")
    assert d.ctl("save-config", cfg).returncode == 0
    d.stop()
    d = start_blockd(args=["-c", cfg])
    st = status(d, "r1")
    assert [m["state"] for m in st["members"]] == ["active", "active", "spare"], st
    assert st["raid_state"] == "online"
    sock = export(d, rundir, "r1")
    qemu_io(uri(sock, "r1"), "write -P 0x61 0 4M")
    d.rpc("error-inject", {"name": "em1", "fail_nth": 1, "fail_count": 1 << 30, "io": "write"})
    qemu_io(uri(sock, "r1"), "write -P 0x62 1M 2M")
    st = wait_idle(d, "r1")
    assert {m["name"]: m["state"] for m in st["members"]} == \
        {"em0": "active", "em1": "failed", "em2": "active"}, st
    assert st["raid_state"] == "online"
    assert st["rebuild"]["rebuilt_bytes"] == 15 * MB
    assert "em2 (slot 2) spare -> rebuilding (spare promoted" in d.output()
    qemu_io(uri(sock, "r1"), "read -P 0x61 0 1M", "read -P 0x62 1M 2M", "read -P 0x61 3M 1M")
    d.rpc("export-remove", {"name": "r1"})
    d.rpc("raid-stop", {"name": "r1"})
    assert digest(paths["m0"]) == digest(paths["m2"])
    # Bad input: a spare on RAID0, `spare` on other calls.
    files(d, rundir, ["z0", "z1", "z2"], size=16 * MB)
    d.rpc("raid-create", {"name": "r0", "level": 0, "members": ["z0", "z1"]})
    with pytest.raises(vessel.RpcError) as e:
        d.rpc("raid-add", {"name": "r0", "member": "z2", "spare": True})
    assert "RAID1" in e.value.message
    with pytest.raises(vessel.RpcError) as e:
        d.rpc("raid-fail", {"name": "r0", "member": "z0", "spare": True})
    assert "spare" in e.value.message


def test_raid1_stale_member_readded_is_rebuilt_not_read(start_blockd, rundir):
    """A member failed, removed and added back (raid-add) is stale: it is
    rebuilt from the active member, and reads never come from it meanwhile."""
    need("qemu-io")
    d = start_blockd()
    paths = files(d, rundir, ["m0", "m1"], size=16 * MB)
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["m0", "m1"],
                          "assume_clean": True, "region_size": "1M", "rebuild_rate": "4M"})
    sock = export(d, rundir, "r1")
    qemu_io(uri(sock, "r1"), "write -P 0x31 0 15M")
    d.rpc("raid-fail", {"name": "r1", "member": "m1"})
    qemu_io(uri(sock, "r1"), "write -P 0x32 0 15M")         # m1 misses this
    d.rpc("raid-remove", {"name": "r1", "member": "m1"})
    assert read_at(paths["m1"], DATA_OFFSET, 4) == b"\x31" * 4
    r = d.ctl("raid-add", "r1", "m1")
    assert r.returncode == 0, r.stderr
    assert "m1 was a member" in d.output() and "rebuilding, not read" in d.output()
    # While it is rebuilt (4 MB/s: about 4 s), every read sees the new data.
    assert status(d, "r1")["rebuild"]["running"]
    qemu_io(uri(sock, "r1"), "read -P 0x32 0 15M")
    assert status(d, "r1")["rebuild"]["running"], "rebuild ended before the reads"
    st = wait_idle(d, "r1")
    assert st["raid_state"] == "online" and st["rebuild"]["rebuilt_bytes"] == 15 * MB
    d.rpc("export-remove", {"name": "r1"})
    d.rpc("raid-stop", {"name": "r1"})
    assert digest(paths["m0"]) == digest(paths["m1"])


def test_raid0_missing_member_refuses_to_start(blockd, rundir):
    paths = files(blockd, rundir, ["a", "b", "c"], size=16 * MB)
    blockd.rpc("raid-create", {"name": "r0", "level": 0, "members": ["a", "b", "c"]})
    blockd.rpc("raid-stop", {"name": "r0"})
    before = sha(paths.values())
    with pytest.raises(vessel.RpcError) as e:
        blockd.rpc("raid-create", {"name": "r0", "level": 0, "members": ["a", "b"]})
    assert "the member of slot 2 is missing; refusing to start" in e.value.message, \
        e.value.message
    assert sha(paths.values()) == before
    for m in ("a", "b"):
        assert blockd.rpc("bdev-list", {"name": m})[0]["claimed_by"] is None
    # All three assemble again.
    st = blockd.rpc("raid-create", {"name": "r0", "level": 0, "members": ["c", "a", "b"]})
    assert st["raid_state"] == "online"
