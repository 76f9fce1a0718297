"""LVM volume groups and logical volumes in blockd, driven through blockctl
with LVM's command names and checked through NBD exports with qemu-io and
fio: linear and striped LVs, lvextend while fio runs, metadata surviving a
restart (config replay), zeroes on a reused extent, a missing PV reported by
name, and bad input refused with nothing written (PV bytes compared)."""
import hashlib
import json
import os
import subprocess
import time

import pytest

import vessel
from vessel import run

MB = 1 << 20


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


def files(d, rundir, names, size=64 * MB):
    paths = {}
    for n in names:
        p = os.path.join(rundir, n + ".img")
        with open(p, "wb") as f:
            f.truncate(size)
        d.rpc("bdev-create", {"type": "file", "name": n, "path": p})
        paths[n] = p
    return paths


def ctl(d, *args):
    r = d.ctl(*args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def ctlj(d, *args):
    return json.loads(ctl(d, "-j", *args).stdout)


def export(d, rundir, bdev):
    sock = os.path.join(rundir, bdev + ".nbd")
    d.rpc("export-add", {"bdev": bdev, "type": "nbd", "socket": sock})
    return sock


def digest(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def fio_verify(sock, name, size, extra=(), timeout=120):
    r = run(["fio", "--name=v", "--ioengine=nbd", f"--uri={uri(sock, name)}", "--rw=randwrite",
             "--bs=4k", "--bsrange=4k-256k", "--iodepth=16", f"--size={size}",
             "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0",
             "--output-format=json", *extra], timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]["error"] == 0


def test_lvm_cli_linear_striped_nbd(start_blockd, rundir):
    need("qemu-io", "fio")
    d = start_blockd(args=["--reactors", "2"])
    files(d, rundir, ["a", "b"])
    ctl(d, "pvcreate", "a")
    pvs = ctlj(d, "pvs")
    assert [p["pv"] for p in pvs] == ["a"] and pvs[0]["vg"] == ""
    vg = ctlj(d, "vgcreate", "-s", "1M", "vg0", "a", "b")
    assert vg["pv_count"] == 2 and vg["extent_size"] == MB and vg["free"] == 126 * MB
    st = ctlj(d, "lvcreate", "-i", "2", "-I", "64K", "-L", "32M", "-n", "st", "vg0")
    assert st["stripes"] == 2 and st["stripe_size"] == 65536
    lin = ctlj(d, "lvcreate", "-L", "80M", "-n", "lin", "vg0")
    assert lin["bdev"] == "vg0-lin" and lin["size"] == 80 * MB and lin["segments"] == 2
    lvs = ctlj(d, "lvs")
    assert sorted(l["lv"] for l in lvs) == ["lin", "st"]
    human = ctl(d, "lvs").stdout
    assert "lin" in human and "vg0-st" in human
    s1 = export(d, rundir, "vg0-lin")
    # A pattern across the segment boundary (47 extents on a).
    qemu_io(uri(s1, "vg0-lin"), "write -P 0x5a 46M 2M", "read -P 0x5a 46M 2M",
            "read -P 0 0 1M")
    s2 = export(d, rundir, "vg0-st")
    fio_verify(s2, "vg0-st", "32M")
    fio_verify(s1, "vg0-lin", "16M", extra=("--offset=40M",))
    vgs = ctlj(d, "vgs")
    assert vgs[0]["lv_count"] == 2 and vgs[0]["free"] == 14 * MB
    # Removing an exported LV is refused; after export-remove it works.
    r = d.ctl("lvremove", "vg0/st")
    assert r.returncode == 1 and "open" in r.stderr
    d.rpc("export-remove", {"name": "vg0-st"})
    ctl(d, "lvremove", "vg0/st")
    assert d.ctl("vgremove", "vg0").returncode == 1


def test_lvextend_online_and_restart(start_blockd, rundir):
    need("qemu-io", "fio")
    d = start_blockd(args=["--reactors", "2"])
    paths = files(d, rundir, ["a", "b"])
    ctl(d, "vgcreate", "-s", "1M", "vg1", "a", "b")
    ctl(d, "lvcreate", "-L", "24M", "-n", "data", "vg1")
    ctl(d, "lvcreate", "-L", "8M", "-n", "small", "vg1")
    sock = export(d, rundir, "vg1-data")
    fio = subprocess.Popen(
        ["fio", "--name=v", "--ioengine=nbd", f"--uri={uri(sock, 'vg1-data')}",
         "--rw=randwrite", "--bs=4k", "--iodepth=8", "--size=24M", "--verify=crc32c",
         "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0", "--loops=20"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.5)
    ctl(d, "lvextend", "-L", "+16M", "vg1/data")      # online, while fio runs
    ctl(d, "lvextend", "-L", "48M", "vg1/data")
    assert fio.poll() is None, "fio finished before the extend"
    out, _ = fio.communicate(timeout=180)
    assert fio.returncode == 0, out[-3000:]
    lv = [l for l in ctlj(d, "lvs", "vg1") if l["lv"] == "data"][0]
    assert lv["size"] == 48 * MB and lv["segments"] >= 2
    # New clients see the new size; the new extents read zeroes.
    d.rpc("export-remove", {"name": "vg1-data"})
    sock = export(d, rundir, "vg1-data")
    qemu_io(uri(sock, "vg1-data"), "read -P 0 40M 8M", "write -P 0x77 47M 1M")
    r = d.ctl("lvreduce", "-L", "40M", "vg1/data")
    assert r.returncode != 0
    d.rpc("export-remove", {"name": "vg1-data"})
    r = d.ctl("lvreduce", "-L", "40M", "vg1/data")
    assert r.returncode == 1 and "--force" in r.stderr
    ctl(d, "lvreduce", "--force", "-L", "44M", "vg1/data")
    ctl(d, "lvrename", "vg1/small", "tiny")
    sock = export(d, rundir, "vg1-tiny")
    qemu_io(uri(sock, "vg1-tiny"), "write -P 0x42 0 1M")
    cfg = os.path.join(rundir, "blockd.json")
    ctl(d, "save-config", cfg)
    with open(cfg) as f:
        calls = [c["method"] for c in json.load(f)]
    assert calls.index("vg-activate") > max(i for i, m in enumerate(calls) if m == "bdev-create")
    assert calls.index("vg-activate") < calls.index("export-add")
    d.stop()
    d2 = start_blockd(args=["-c", cfg])
    lvs = {l["lv"]: l for l in ctlj(d2, "lvs")}
    assert lvs["data"]["size"] == 44 * MB and "tiny" in lvs and "small" not in lvs
    qemu_io(uri(sock, "vg1-tiny"), "read -P 0x42 0 1M")
    vg = ctlj(d2, "vgs", "vg1")[0]
    assert vg["seq"] >= 7
    d2.rpc("export-remove", {"name": "vg1-tiny"})
    d2.stop()
    # Missing PV: named; partial activation keeps LVs that avoid it.
    d3 = start_blockd()
    d3.rpc("bdev-create", {"type": "file", "name": "a", "path": paths["a"]})
    r = d3.ctl("vgactivate", "vg1", "a")
    assert r.returncode == 1 and "missing PV b" in r.stderr, r.stderr
    ctl(d3, "vgactivate", "--partial", "vg1", "a")
    vg = ctlj(d3, "vgs", "vg1")[0]
    assert vg["partial"]
    pvs = {p["pv"]: p for p in ctlj(d3, "pvs")}
    assert pvs["b"]["missing"]
    r = d3.ctl("lvcreate", "-L", "1M", "-n", "x", "vg1")
    assert r.returncode == 1 and "partial" in r.stderr


def test_reused_extents_read_zeroes(start_blockd, rundir):
    need("qemu-io")
    d = start_blockd()
    files(d, rundir, ["a"])
    ctl(d, "vgcreate", "vz", "a")
    ctl(d, "lvcreate", "-L", "16M", "-n", "t1", "vz")
    sock = export(d, rundir, "vz-t1")
    qemu_io(uri(sock, "vz-t1"), "write -P 0xee 0 16M")
    d.rpc("export-remove", {"name": "vz-t1"})
    ctl(d, "lvremove", "vz/t1")
    ctl(d, "lvcreate", "-L", "16M", "-n", "t2", "vz")
    sock = export(d, rundir, "vz-t2")
    qemu_io(uri(sock, "vz-t2"), "read -P 0 0 16M")


def test_bad_input_writes_nothing(start_blockd, rundir):
    d = start_blockd()
    paths = files(d, rundir, ["a", "b", "c"], size=16 * MB)
    ctl(d, "vgcreate", "-s", "1M", "vb", "a", "b")
    ctl(d, "lvcreate", "-L", "4M", "-n", "ok", "vb")
    before = digest(paths.values())
    bad = [
        ["lvcreate", "-L", "4M", "-n", "a/b", "vb"],
        ["lvcreate", "-L", "4M", "-n", "a\x01b", "vb"],
        ["lvcreate", "-L", "0", "-n", "z", "vb"],
        ["lvcreate", "-L", "9223372036854775808", "-n", "z", "vb"],
        ["lvcreate", "-L", "1T", "-n", "z", "vb"],
        ["lvcreate", "-L", "4M", "-n", "ok", "vb"],
        ["lvcreate", "-L", "4x", "-n", "z", "vb"],
        ["lvcreate", "-i", "3", "-L", "4M", "-n", "z", "vb"],
        ["lvcreate", "-i", "2", "-I", "3K", "-L", "4M", "-n", "z", "vb"],
        ["lvcreate", "-L", "4M", "-n", "z", "nosuchvg"],
        ["lvcreate", "--bogus", "-L", "4M", "-n", "z", "vb"],
        ["vgcreate", "v-x", "c"],
        ["vgcreate", "vx", "a"],
        ["vgcreate", "-s", "3M", "vx", "c"],
        ["vgcreate", "vx", "c", "c"],
        ["vgcreate", "vx", "nosuch"],
        ["vgreduce", "vb", "a"],
        ["vgremove", "vb"],
        ["lvrename", "vb/ok", "x/y/z"],
        ["lvextend", "-L", "-1M", "vb/ok"],
        ["lvremove", "vb"],
        ["pvcreate", "a"],
    ]
    for args in bad:
        r = d.ctl(*args)
        assert r.returncode in (1, 2), (args, r.stdout, r.stderr)
        assert r.stderr.strip(), args
    # An exported bdev is not taken over.
    export(d, rundir, "c")
    for args in (["pvcreate", "c"], ["vgcreate", "vx", "c"], ["vgextend", "vb", "c"]):
        r = d.ctl(*args)
        assert r.returncode == 1 and "open" in r.stderr, (args, r.stderr)
    d.rpc("export-remove", {"name": "c"})
    assert digest(paths.values()) == before
    # A corrupt metadata area (valid CRC is impossible to forge from here:
    # damage both slots) is refused at activation by message, nothing written.
    cfg = os.path.join(rundir, "blockd.json")
    ctl(d, "save-config", cfg)
    d.stop()
    with open(paths["a"], "r+b") as f:
        for off in (256 * 1024, 512 * 1024):
            f.seek(off + 200)
            f.write(b"\xee" * 16)
    with open(paths["b"], "r+b") as f:
        for off in (256 * 1024, 512 * 1024):
            f.seek(off + 200)
            f.write(b"\xee" * 16)
    before = digest(paths.values())
    d2 = start_blockd()
    for n in ("a", "b"):
        d2.rpc("bdev-create", {"type": "file", "name": n, "path": paths[n]})
    r = d2.ctl("vgactivate", "vb", "a", "b")
    assert r.returncode == 1 and "no valid metadata" in r.stderr, r.stderr
    assert "CRC mismatch" in d2.output()
    d2.stop()
    assert digest(paths.values()) == before


def test_vgextend_vgreduce_restart(start_blockd, rundir):
    need("qemu-io")
    d = start_blockd()
    files(d, rundir, ["a"], size=16 * MB)
    ctl(d, "vgcreate", "-s", "1M", "ve", "a")
    files(d, rundir, ["c", "x"], size=16 * MB)     # created after the VG
    vg = ctlj(d, "vgextend", "ve", "c")
    assert vg["pv_count"] == 2 and vg["free"] == 30 * MB
    ctl(d, "lvcreate", "-L", "20M", "-n", "wide", "ve")     # spans a and c
    ctl(d, "vgextend", "ve", "x")
    ctl(d, "vgreduce", "ve", "x")
    assert [p["vg"] for p in ctlj(d, "pvs") if p["pv"] == "x"] == [""]
    sock = export(d, rundir, "ve-wide")
    qemu_io(uri(sock, "ve-wide"), "write -P 0x11 14M 2M")
    cfg = os.path.join(rundir, "blockd.json")
    ctl(d, "save-config", cfg)
    d.stop()
    d2 = start_blockd(args=["-c", cfg])
    qemu_io(uri(sock, "ve-wide"), "read -P 0x11 14M 2M")
    assert ctlj(d2, "vgs", "ve")[0]["pvs"] == ["a", "c"]
    d2.stop()


def lv_by_name(d, vg):
    return {l["lv"]: l for l in ctlj(d, "lvs", vg)}


def test_thin_pool_snapshot_nbd_restart(start_blockd, rundir):
    """A thin pool with two over-committed thin LVs and a snapshot, over NBD:
    qemu-io patterns show isolation both ways, fio verify on a thin LV, and
    after a restart from the saved config everything reads back."""
    need("qemu-io", "fio")
    d = start_blockd(args=["--reactors", "2"])
    files(d, rundir, ["a", "b"])
    ctl(d, "vgcreate", "-s", "1M", "vt", "a", "b")
    # 64M: room for the worst case of the busy snapshots below (each may copy
    # fio's whole 8M region) on a fast machine.
    pool = ctlj(d, "lvcreate", "--thinpool", "pool", "-L", "64M", "--chunksize", "64K", "vt")
    assert pool["type"] == "thin-pool" and pool["chunk_size"] == 65536
    assert pool["data_percent"] == 0
    t1 = ctlj(d, "lvcreate", "-V", "96M", "--thin", "vt/pool", "-n", "t1")
    assert t1["bdev"] == "vt-t1" and t1["size"] == 96 * MB and t1["pool"] == "pool"
    ctl(d, "lvcreate", "-V", "96M", "-T", "vt/pool", "-n", "t2")
    s1 = export(d, rundir, "vt-t1")
    s2 = export(d, rundir, "vt-t2")
    qemu_io(uri(s1, "vt-t1"), "write -P 0x11 0 4M", "write -P 0x12 90M 100k", "flush")
    qemu_io(uri(s2, "vt-t2"), "write -P 0x22 1M 1M", "read -P 0 0 1M", "read -P 0x22 1M 1M",
            "read -P 0 2M 8M", "flush")
    qemu_io(uri(s1, "vt-t1"), "read -P 0x11 0 4M", "read -P 0 4M 1M", "read -P 0x12 90M 100k")
    snap = ctlj(d, "lvcreate", "-s", "vt/t1", "-n", "snap")
    assert snap["origin"] == "t1" and snap["size"] == 96 * MB
    ss = export(d, rundir, "vt-snap")
    # Writes to the origin do not reach the snapshot, and the other way.
    qemu_io(uri(s1, "vt-t1"), "write -P 0x33 0 512k", "write -P 0x34 3M 4k", "flush")
    qemu_io(uri(ss, "vt-snap"), "read -P 0x11 0 4M", "write -P 0x44 2M 64k",
            "write -P 0x45 50M 4k", "flush")
    qemu_io(uri(s1, "vt-t1"), "read -P 0x33 0 512k", "read -P 0x11 512k 1536k",
            "read -P 0x11 2M 64k", "read -P 0x34 3M 4k", "read -P 0 50M 4k")
    qemu_io(uri(ss, "vt-snap"), "read -P 0x44 2M 64k", "read -P 0x11 3M 4k",
            "read -P 0x45 50M 4k")
    fio_verify(s2, "vt-t2", "16M", extra=("--offset=16M",))
    # Snapshots taken and removed while fio writes and verifies: writes to
    # the origin wait for each snapshot, none is lost or torn. The region is
    # small enough for the pool to hold a copy of it per snapshot (349 chunks
    # used before, 64 for the region, 3 x 64 copies: < 768); with 8M a fast
    # fio filled the 48M pool and got ENOSPC.
    fio = subprocess.Popen(
        ["fio", "--name=v", "--ioengine=nbd", f"--uri={uri(s2, 'vt-t2')}", "--rw=randwrite",
         "--bs=4k", "--bsrange=4k-16k", "--iodepth=16", "--size=4M", "--offset=40M",
         "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0",
         "--loops=80"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for i in range(3):
        time.sleep(0.3)
        ctl(d, "lvcreate", "-s", "vt/t2", "-n", f"busy{i}")
    assert fio.poll() is None, "fio finished before the snapshots"
    for i in range(3):
        ctl(d, "lvremove", f"vt/busy{i}")
    out, _ = fio.communicate(timeout=180)
    assert fio.returncode == 0, out[-3000:]
    qemu_io(uri(s2, "vt-t2"), "flush")
    lvs = lv_by_name(d, "vt")
    assert lvs["pool"]["data_percent"] > 0 and lvs["pool"]["metadata_percent"] > 0
    vgp = ctlj(d, "vgs", "vt")[0]["thin_pools"]
    assert vgp[0]["lv"] == "pool" and vgp[0]["data_percent"] == lvs["pool"]["data_percent"]
    assert lvs["pool_tdata"]["hidden"] and lvs["pool_tmeta"]["hidden"]
    assert lvs["t1"]["origin"] is None and lvs["snap"]["origin"] == "t1"
    assert 0 < lvs["t2"]["data_percent"] < 100
    human = ctl(d, "lvs", "vt").stdout
    assert "thin-pool" in human and "[pool_tdata]" in human
    used = lvs["pool"]["used_chunks"]
    cfg = os.path.join(rundir, "blockd.json")
    ctl(d, "save-config", cfg)
    d.stop()
    d2 = start_blockd(args=["-c", cfg, "--reactors", "2"])
    lvs = lv_by_name(d2, "vt")
    assert lvs["pool"]["used_chunks"] == used and lvs["snap"]["origin"] == "t1"
    qemu_io(uri(s1, "vt-t1"), "read -P 0x33 0 512k", "read -P 0x11 2M 64k",
            "read -P 0x34 3M 4k", "read -P 0x12 90M 100k")
    qemu_io(uri(ss, "vt-snap"), "read -P 0x11 0 2M", "read -P 0x44 2M 64k",
            "read -P 0x45 50M 4k")
    qemu_io(uri(s2, "vt-t2"), "read -P 0x22 1M 1M", "read -P 0 0 1M")
    # lvremove frees what only the snapshot held; the pool goes last.
    d2.rpc("export-remove", {"name": "vt-snap"})
    ctl(d2, "lvremove", "vt/snap")
    assert lv_by_name(d2, "vt")["pool"]["used_chunks"] < used
    r = d2.ctl("lvremove", "vt/pool")
    assert r.returncode == 1 and "t1" in r.stderr
    qemu_io(uri(s1, "vt-t1"), "read -P 0x33 0 512k", "read -P 0x11 2M 64k")


def test_thin_pool_full_enospc(start_blockd, rundir):
    """An over-committed pool fills: the writer needing a new chunk gets
    ENOSPC (qemu-io reports it), what was written before still reads back,
    and after lvextend of the pool the write succeeds."""
    need("qemu-io")
    d = start_blockd()
    files(d, rundir, ["a"])
    ctl(d, "vgcreate", "-s", "1M", "vf", "a")
    ctl(d, "lvcreate", "--thinpool", "pool", "-L", "8M", "vf")
    ctl(d, "lvcreate", "-V", "32M", "--thin", "vf/pool", "-n", "t")
    sock = export(d, rundir, "vf-t")
    qemu_io(uri(sock, "vf-t"), "write -P 0x55 0 6M", "flush")
    r = run(["qemu-io", "-f", "raw", uri(sock, "vf-t"), "-c", "write -P 0x66 6M 4M"],
            timeout=60)
    out = r.stdout + r.stderr
    assert "No space left on device" in out, out
    pool = lv_by_name(d, "vf")["pool"]
    assert pool["data_percent"] == 100 and pool["low_water"] and pool["enospc_errors"] > 0
    assert "low-water" in d.output()
    qemu_io(uri(sock, "vf-t"), "read -P 0x55 0 6M", "read -P 0x66 6M 2M")
    # Discard returns chunks to the pool: the next write gets them (the pool
    # commits the free first), and they read as zeroes elsewhere.
    qemu_io(uri(sock, "vf-t"), "discard 4M 2M", "write -P 0x88 12M 1M", "read -P 0x88 12M 1M",
            "read -P 0 4M 2M", "read -P 0 13M 1M", "read -P 0x55 0 4M")
    ctl(d, "lvextend", "-L", "+4M", "vf/pool")
    assert lv_by_name(d, "vf")["pool"]["data_percent"] < 100
    qemu_io(uri(sock, "vf-t"), "write -P 0x77 8M 2M", "read -P 0x77 8M 2M",
            "read -P 0x55 0 4M", "read -P 0x88 12M 1M")
    # Bad thin input is refused.
    for args in (["lvcreate", "--thinpool", "p2", "-L", "4M", "--chunksize", "48K", "vf"],
                 ["lvcreate", "--thinpool", "p2", "-L", "4M", "--chunksize", "32K", "vf"],
                 ["lvcreate", "-V", "1M", "--thin", "vf/nosuch", "-n", "x"],
                 ["lvcreate", "-V", "1M", "--thin", "vf/t", "-n", "x"],
                 ["lvcreate", "-s", "vf/pool", "-n", "x"],
                 ["lvcreate", "-V", "0", "--thin", "vf/pool", "-n", "x"],
                 ["lvremove", "vf/pool_tmeta"],
                 ["lvreduce", "--force", "-L", "1M", "vf/t"]):
        r = d.ctl(*args)
        assert r.returncode in (1, 2) and r.stderr.strip(), (args, r.stdout, r.stderr)
    for params, why in (({"type": "thin", "size": MB}, "thin_pool"),
                        ({"type": "snapshot"}, "origin"),
                        ({"size": MB, "chunk_size": 65536}, "thin pools"),
                        ({"thin_pool": "pool", "origin": "t"}, "not both"),
                        ({"type": "bogus", "size": MB}, "type")):
        with pytest.raises(vessel.RpcError) as e:
            d.rpc("lv-create", dict({"vg": "vf", "name": "x"}, **params))
        assert why in str(e.value), (params, str(e.value))
    assert "x" not in lv_by_name(d, "vf")


def test_pv_vg_lv_on_raid1_during_initial_resync(start_blockd, rundir):
    """pvcreate/vgcreate/lvcreate on a RAID1 set while its initial resync
    runs: the rebuild holds only an internal reference on the set, which is
    no claim, so LVM may claim it. The LV's data reads back once the resync
    is done, both members hold the same bytes, and the claimed set can no
    longer be exported by itself."""
    need("qemu-io")
    d = start_blockd()
    paths = files(d, rundir, ["m0", "m1"], size=24 * MB)
    with open(paths["m0"], "r+b") as f:          # members differ: real resync work
        f.write(b"\xee" * (24 * MB))
    d.rpc("raid-create", {"name": "r1", "level": 1, "members": ["m0", "m1"],
                          "region_size": "1M", "rebuild_rate": "2M"})

    def resyncing():
        return d.rpc("raid-status", {"name": "r1"})[0]["rebuild"]["running"]

    assert resyncing()
    ctl(d, "pvcreate", "r1")
    vg = ctlj(d, "vgcreate", "-s", "1M", "vgr", "r1")
    assert vg["pv_count"] == 1
    lv = ctlj(d, "lvcreate", "-L", "8M", "-n", "lv", "vgr")
    assert lv["bdev"] == "vgr-lv"
    sock = export(d, rundir, "vgr-lv")
    qemu_io(uri(sock, "vgr-lv"), "write -P 0x3c 0 8M")
    assert resyncing(), "the resync ended before LVM was set up: nothing was tested"
    info = d.rpc("bdev-list", {"name": "r1"})[0]
    assert info["claimed_by"] == "lvm:vgr" and info["users"] == 0 and info["refs"] >= 2, info
    r = d.ctl("export-add", "r1", "nbd", f"socket={os.path.join(rundir, 'r1.nbd')}")
    assert r.returncode != 0 and "claimed by lvm:vgr" in r.stderr, r.stdout + r.stderr
    end = time.monotonic() + 60
    while resyncing():
        assert time.monotonic() < end, "resync did not finish"
        time.sleep(0.1)
    qemu_io(uri(sock, "vgr-lv"), "read -P 0x3c 0 8M")
    d.rpc("export-remove", {"name": "vgr-lv"})
    ctl(d, "lvremove", "vgr/lv")
    size = d.rpc("raid-status", {"name": "r1"})[0]["size"]
    d.stop()
    with open(paths["m0"], "rb") as a, open(paths["m1"], "rb") as b:
        a.seek(MB)                                # the RAID data area
        b.seek(MB)
        assert a.read(size) == b.read(size), "members differ after the resync"


def test_thin_commit_writes_changes_only_and_clean_stop(start_blockd, rundir):
    """A thin pool commit writes the mappings that changed, not the whole
    mapping: one allocating write and a flush cost one 4 KiB metadata write
    (counted on the metadata LV's own bdev counters) with hundreds of chunks
    mapped. A clean stop (SIGTERM) commits writes that were never flushed
    and marks the log: the restart reports a clean pool and the data reads
    back."""
    need("qemu-io", "fio")
    d = start_blockd()
    files(d, rundir, ["a"])
    ctl(d, "vgcreate", "-s", "1M", "vc", "a")
    ctl(d, "lvcreate", "--thinpool", "pool", "-L", "32M", "vc")
    ctl(d, "lvcreate", "-V", "64M", "--thin", "vc/pool", "-n", "t")
    s = export(d, rundir, "vc-t")
    qemu_io(uri(s, "vc-t"), "write -P 0x21 0 16M", "flush")        # 256 chunks

    def meta_writes():
        c = d.rpc("bdev-stats", {"name": "vc-pool_tmeta"})[0]["counters"]
        return c["write"], c["bytes_written"]

    before = meta_writes()
    qemu_io(uri(s, "vc-t"), "write -P 0x22 32M 4k", "flush")
    after = meta_writes()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 4096), (before, after)
    pool = lv_by_name(d, "vc")["pool"]
    assert pool["mappings"] == 257 and pool["last_commit_blocks"] == 1, pool
    assert pool["log_records"] >= 2, pool
    # Unflushed writes (fio's nbd engine sends no flush), then SIGTERM.
    r = run(["fio", "--name=w", "--ioengine=nbd", f"--uri={uri(s, 'vc-t')}", "--rw=write",
             "--bs=64k", "--size=2M", "--offset=40M", "--buffer_pattern=0x5a"], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = os.path.join(rundir, "blockd.json")
    ctl(d, "save-config", cfg)
    assert d.stop() == 0
    assert "changed after its last commit" not in d.output()
    d2 = start_blockd(args=["-c", cfg])
    pool = lv_by_name(d2, "vc")["pool"]
    assert pool["clean_at_open"] and pool["mappings"] == 257 + 32, pool
    assert "stopped cleanly" in d2.output() and "not stopped cleanly" not in d2.output()
    qemu_io(uri(s, "vc-t"), "read -P 0x5a 40M 2M", "read -P 0x22 32M 4k",
            "read -P 0x21 0 16M", "read -P 0 42M 64k")


def test_clean_stop_keeps_every_acknowledged_write(start_blockd, rundir):
    """SIGTERM while an NBD client keeps allocating writes in flight: blockd
    stops reading requests and answers those in flight before the thin pool's
    final commit, so every write it acknowledged — flushed or not — reads
    back after the restart (an acknowledgement after the last commit would
    be a lost write)."""
    import socket
    import struct
    import threading
    from test_blockdev_nbd import CMD_WRITE, REPLY_MAGIC, RawNbd
    need("qemu-io")
    d = start_blockd()
    files(d, rundir, ["a"])
    ctl(d, "vgcreate", "-s", "1M", "vk", "a")
    ctl(d, "lvcreate", "--thinpool", "pool", "-L", "48M", "vk")
    ctl(d, "lvcreate", "-V", "64M", "--thin", "vk/pool", "-n", "t")
    s = export(d, rundir, "vk-t")
    cfg = os.path.join(rundir, "blockd.json")
    ctl(d, "save-config", cfg)
    c = RawNbd(s)
    c.go("vk-t")
    chunk = lv_by_name(d, "vk")["pool"]["chunk_size"]
    blocks = min(64 * MB // chunk, 4096)
    acked, failed, started = [], [], threading.Event()

    def writer():
        # Eight writes in flight, each to its own chunk (every one allocates).
        sent, inflight = 0, {}
        try:
            while sent < blocks or inflight:
                while sent < blocks and len(inflight) < 8:
                    data = struct.pack(">I", sent + 1) * 1024
                    c.request(CMD_WRITE, sent * chunk, 4096, cookie=sent + 1, payload=data)
                    inflight[sent + 1] = sent
                    sent += 1
                magic, err, ck = struct.unpack(">IIQ", c.recv(16))
                assert magic == REPLY_MAGIC
                (acked if err == 0 else failed).append(inflight.pop(ck))
                if len(acked) == 32:
                    started.set()
        except (ConnectionError, OSError, socket.timeout):
            pass
        finally:
            started.set()

    t = threading.Thread(target=writer)
    t.start()
    assert started.wait(30)
    assert d.stop() == 0
    t.join(30)
    assert not t.is_alive()
    c.close()
    assert len(acked) >= 32 and not failed, (len(acked), failed[:5])
    d2 = start_blockd(args=["-c", cfg])
    assert lv_by_name(d2, "vk")["pool"]["clean_at_open"]
    s2 = os.path.join(rundir, "vk-t.nbd")
    c2 = RawNbd(s2)
    c2.go("vk-t")
    for i, blk in enumerate(sorted(acked)):
        c2.request(0, blk * chunk, 4096, cookie=i + 1)
        err, data = c2.simple_reply(i + 1, 4096)
        assert err == 0 and data == struct.pack(">I", blk + 1) * 1024, \
            f"acknowledged write to chunk {blk} lost ({len(acked)} acknowledged)"
    c2.close()
