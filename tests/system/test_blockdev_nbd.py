"""blockd bdevs behind NBD exports, checked with real peers: qemu-io, qemu-img,
nbdinfo, fio's nbd engine, and a raw Python client for malformed traffic.
Also blockctl, error injection, export removal and config replay."""
import json
import os
import socket
import struct
import time

import pytest

import vessel
from vessel import run

NBD_OPT_GO = 7
NBD_OPT_LIST = 3
NBD_REP_ACK = 1
NBD_REP_SERVER = 2
NBD_REP_INFO = 3
NBD_REP_ERR_UNSUP = 0x80000001
NBD_REP_ERR_UNKNOWN = 0x80000006
IHAVEOPT = 0x49484156454F5054
REP_MAGIC = 0x3E889045565A9
REQ_MAGIC = 0x25609513
REPLY_MAGIC = 0x67446698
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM = 0, 1, 2, 3, 4
EPERM, EIO, EINVAL, ENOSPC = 1, 5, 22, 28


def need(*tools):
    for t in tools:
        if not vessel.have(t):
            pytest.skip(f"{t} is not installed")


def uri(sock, name):
    return f"nbd+unix:///{name}?socket={sock}"


def qemu_io(target, *cmds, image_opts=False, timeout=60):
    args = ["qemu-io"]
    args += ["--image-opts", target] if image_opts else ["-f", "raw", target]
    for c in cmds:
        args += ["-c", c]
    return run(args, timeout=timeout)


def make_graph(d, rundir, size="64M", name="m0", export=None):
    d.rpc("bdev-create", {"type": "malloc", "name": name, "size": size})
    sock = os.path.join(rundir, f"{export or name}.nbd")
    d.rpc("export-add", {"bdev": name, "type": "nbd", "socket": sock, "name": export or name})
    return sock


def test_qemu_io_patterns(blockd, rundir):
    need("qemu-io")
    sock = make_graph(blockd, rundir)
    r = qemu_io(uri(sock, "m0"),
                "write -P 0xab 4k 64k", "read -P 0xab 4k 64k", "read -P 0 0 4k",
                # unaligned offsets and lengths: qemu aligns them to the
                # advertised 512-byte minimum with read-modify-write
                "write -P 0x11 1000 3000", "read -P 0x11 1000 3000", "read -P 0 0 1000",
                "read -P 0 4000 96", "read -P 0xab 4096 100", "write -P 0x22 70001 12345", "read -P 0x22 70001 12345",
                "discard 4k 8k", "read -P 0 4k 8k", "read -P 0xab 12k 56k",
                "write -z 16k 16k", "read -P 0 16k 16k", "read -P 0xab 32k 36k",
                "flush", "write -P 0x33 -f 1M 4k", "read -P 0x33 1M 4k",
                # the last byte of the device
                "write -P 0x44 67108352 512", "read -P 0x44 67108352 512")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Pattern verification failed" not in r.stdout + r.stderr
    assert r.stdout.count("read ") >= 12
    st = blockd.rpc("bdev-stats", {"name": "m0"})[0]
    assert st["counters"]["read"] > 0 and st["counters"]["write"] > 0
    assert st["counters"]["discard"] >= 1 and st["counters"]["write_zeroes"] >= 1
    assert st["latency_us"]["p50"] > 0


def test_image_opts_and_multiple_connections(blockd, rundir):
    need("qemu-io")
    sock = make_graph(blockd, rundir, export="disk")
    opts = f"driver=nbd,server.type=unix,server.path={sock},export=disk"
    assert qemu_io(opts, "write -P 0x5c 0 1M", image_opts=True).returncode == 0
    # several clients at once on one export
    procs = [vessel.subprocess.Popen(["qemu-io", "-f", "raw", uri(sock, "disk"), "-c",
                                      f"read -P 0x5c 0 1M", "-c", f"write -P {i + 1} {(i + 2)}M 1M"],
                                     stdout=vessel.subprocess.PIPE, stderr=vessel.subprocess.STDOUT,
                                     text=True) for i in range(4)]
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0 and "failed" not in out, out
    r = qemu_io(uri(sock, "disk"), *[f"read -P {i + 1} {i + 2}M 1M" for i in range(4)])
    assert r.returncode == 0 and "failed" not in r.stdout, r.stdout


def test_nbdinfo_shows_export(blockd, rundir):
    need("nbdinfo")
    sock = make_graph(blockd, rundir, size="48M", export="info0")
    r = run(["nbdinfo", "--json", uri(sock, "info0")], timeout=30)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    exp = info["exports"][0]
    assert exp["export-name"] == "info0"
    assert exp["export-size"] == 48 << 20
    assert exp["block_size_minimum"] == 512
    assert exp["can_flush"] and exp["can_trim"] and exp["can_zero"] and exp["can_multi_conn"]
    # NBD_OPT_LIST through nbdinfo --list sees every export on the socket
    blockd.rpc("bdev-create", {"type": "null", "name": "n1", "size": "1G"})
    blockd.rpc("export-add", {"bdev": "n1", "socket": sock, "name": "other", "readonly": True})
    r = run(["nbdinfo", "--list", "--json", f"nbd+unix://?socket={sock}"], timeout=30)
    assert r.returncode == 0, r.stderr
    names = sorted(e["export-name"] for e in json.loads(r.stdout)["exports"])
    assert names == ["info0", "other"]
    r = run(["nbdinfo", "--json", uri(sock, "other")], timeout=30)
    assert json.loads(r.stdout)["exports"][0]["is_read_only"] is True


def test_qemu_img_convert_roundtrip(blockd, rundir):
    need("qemu-img", "qemu-io")
    src = os.path.join(rundir, "src.raw")
    dst_back = os.path.join(rundir, "disk.raw")
    out = os.path.join(rundir, "out.raw")
    size = 32 << 20
    with open(src, "wb") as f:
        for i in range(size // (1 << 20)):
            # mixed content: data, zero holes, repeated blocks
            f.write(os.urandom(1 << 20) if i % 3 else b"\0" * (1 << 20))
    with open(dst_back, "wb") as f:
        f.truncate(size)
    blockd.rpc("bdev-create", {"type": "file", "name": "f0", "path": dst_back})
    sock = os.path.join(rundir, "f0.nbd")
    blockd.rpc("export-add", {"bdev": "f0", "socket": sock})
    r = run(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, uri(sock, "f0")],
            timeout=120)
    assert r.returncode == 0, r.stderr
    r = run(["qemu-img", "compare", "-f", "raw", "-F", "raw", src, uri(sock, "f0")], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["qemu-img", "convert", "-f", "raw", "-O", "raw", uri(sock, "f0"), out], timeout=120)
    assert r.returncode == 0, r.stderr
    r = run(["qemu-img", "compare", "-f", "raw", "-F", "raw", src, out], timeout=60)
    assert r.returncode == 0, r.stdout
    # and the backing file itself holds the data
    assert run(["cmp", src, dst_back]).returncode == 0


def test_fio_nbd_verify(start_blockd, rundir):
    need("fio")
    d = start_blockd(args=["--reactors", "2"])
    assert d.rpc("version")["reactors"] == 2
    backing = os.path.join(rundir, "fio.raw")
    with open(backing, "wb") as f:
        f.truncate(64 << 20)
    d.rpc("bdev-create", {"type": "file", "name": "f0", "path": backing, "direct": True})
    sock = os.path.join(rundir, "fio.nbd")
    d.rpc("export-add", {"bdev": "f0", "socket": sock})
    r = run(["fio", "--name=v", "--ioengine=nbd", f"--uri={uri(sock, 'f0')}", "--rw=randwrite",
             "--bs=4k", "--iodepth=16", "--size=16M", "--numjobs=2", "--offset_increment=24M",
             "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--fsync=64",
             "--verify_state_save=0",
             "--runtime=4", "--output-format=json"], timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    res = json.loads(r.stdout[r.stdout.index("{"):])
    for job in res["jobs"]:
        assert job["error"] == 0
        assert job["write"]["io_bytes"] > 0 and job["read"]["io_bytes"] > 0
    st = d.rpc("bdev-stats", {"name": "f0"})[0]["counters"]
    assert st["flush"] > 0 and st["errors"] == 0


def test_error_bdev_surfaces_and_daemon_survives(blockd, rundir):
    need("qemu-io")
    blockd.rpc("bdev-create", {"type": "malloc", "name": "base", "size": "16M"})
    blockd.rpc("bdev-create", {"type": "error", "name": "err", "base": "base"})
    sock = os.path.join(rundir, "err.nbd")
    blockd.rpc("export-add", {"bdev": "err", "socket": sock})
    assert qemu_io(uri(sock, "err"), "write -P 0x7 0 64k").returncode == 0

    r = blockd.ctl("error-inject", "err", "fail_nth=1", "io=read")
    assert r.returncode == 0, r.stderr
    r = qemu_io(uri(sock, "err"), "read -P 0x7 0 4k")
    assert "Input/output error" in r.stdout + r.stderr, r.stdout + r.stderr
    # one failure only: the next read works
    r = qemu_io(uri(sock, "err"), "read -P 0x7 0 4k")
    assert r.returncode == 0 and "failed" not in r.stdout, r.stdout + r.stderr

    blockd.rpc("error-inject", {"name": "err", "range_start": 64, "range_blocks": 8,
                                "range_io": "write", "error": "ENOSPC"})
    r = qemu_io(uri(sock, "err"), "write -P 1 32k 4k")
    assert "No space left on device" in r.stdout + r.stderr, r.stdout + r.stderr
    assert qemu_io(uri(sock, "err"), "write -P 1 40k 4k").returncode == 0
    info = blockd.rpc("bdev-list", {"name": "err"})[0]
    assert info["errors_injected"] == 2 and info["base"] == "base"
    assert blockd.rpc("bdev-list", {"name": "base"})[0]["claimed_by"] == "err"

    # power cut through NBD: unflushed writes disappear. A raw client, because
    # qemu-io flushes when it closes the image.
    blockd.rpc("error-inject", {"name": "err", "clear": True, "power_cut": "arm"})
    c = RawNbd(sock)
    c.go("err")
    c.request(CMD_WRITE, 0, 4096, cookie=1, payload=b"\xa1" * 4096)
    c.request(CMD_FLUSH, 0, 0, cookie=2)
    c.request(CMD_WRITE, 0, 4096, cookie=3, payload=b"\xa2" * 4096)
    c.request(CMD_WRITE, 8192, 4096, cookie=4, payload=b"\xa3" * 4096)
    for ck in (1, 2, 3, 4):
        assert c.simple_reply(ck)[0] == 0
    c.request(CMD_READ, 0, 4096, cookie=5)
    assert c.simple_reply(5, 4096) == (0, b"\xa2" * 4096)
    blockd.rpc("error-inject", {"name": "err", "power_cut": "cut"})
    c.request(CMD_READ, 0, 4096, cookie=6)
    assert c.simple_reply(6, 4096) == (0, b"\xa1" * 4096)
    c.request(CMD_READ, 8192, 4096, cookie=7)
    assert c.simple_reply(7, 4096) == (0, b"\x07" * 4096)
    c.close()
    pc = blockd.rpc("bdev-list", {"name": "err"})[0]["power_cut"]
    assert pc["armed"] and pc["cuts"] == 1 and pc["dropped_versions"] == 16
    assert blockd.alive()
    assert blockd.rpc("version")["program"] == "blockd"


# ---------------------------------------------------------------- raw client

class RawNbd:
    """A deliberately minimal NBD client for sending what real clients won't."""

    def __init__(self, sock_path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(sock_path)
        hello = self.recv(18)
        assert hello[:16] == b"NBDMAGICIHAVEOPT"
        assert struct.unpack(">H", hello[16:])[0] & 3 == 3
        self.s.sendall(struct.pack(">I", 3))  # fixed newstyle, no zeroes

    def recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by server")
            buf += chunk
        return buf

    def option(self, opt, data=b""):
        self.s.sendall(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)

    def reply(self):
        magic, opt, typ, ln = struct.unpack(">QIII", self.recv(20))
        assert magic == REP_MAGIC
        return opt, typ, self.recv(ln)

    def go(self, name):
        nb = name.encode()
        self.option(NBD_OPT_GO, struct.pack(">I", len(nb)) + nb + struct.pack(">H", 0))
        size = None
        while True:
            _, typ, data = self.reply()
            if typ == NBD_REP_INFO and struct.unpack(">H", data[:2])[0] == 0:
                size = struct.unpack(">Q", data[2:10])[0]
            if typ == NBD_REP_ACK:
                return size
            assert typ == NBD_REP_INFO, hex(typ)

    def request(self, cmd, offset, length, cookie=1, flags=0, magic=REQ_MAGIC, payload=b""):
        self.s.sendall(struct.pack(">IHHQQI", magic, flags, cmd, cookie, offset, length) + payload)

    def simple_reply(self, cookie, data_len=0):
        magic, err, ck = struct.unpack(">IIQ", self.recv(16))
        assert magic == REPLY_MAGIC and ck == cookie
        return err, (self.recv(data_len) if data_len and not err else b"")

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return True

    def close(self):
        self.s.close()


def test_malformed_nbd_traffic(blockd, rundir):
    sock = make_graph(blockd, rundir, size="1M")
    size = 1 << 20

    c = RawNbd(sock)
    c.option(0x4242, b"junk")
    assert c.reply()[1] == NBD_REP_ERR_UNSUP
    c.option(NBD_OPT_GO, struct.pack(">I", 4) + b"nope" + struct.pack(">H", 0))
    assert c.reply()[1] == NBD_REP_ERR_UNKNOWN
    c.option(NBD_OPT_LIST)
    assert c.reply()[1:] == (NBD_REP_SERVER, struct.pack(">I", 2) + b"m0")
    assert c.reply()[1] == NBD_REP_ACK
    assert c.go("m0") == size

    c.request(CMD_READ, size - 512, 1024, cookie=10)          # past the end
    assert c.simple_reply(10)[0] == EINVAL
    c.request(CMD_READ, 0, 64 << 20, cookie=11)               # oversize
    assert c.simple_reply(11)[0] == EINVAL
    c.request(CMD_READ, 100, 512, cookie=12)                  # misaligned
    assert c.simple_reply(12)[0] == EINVAL
    c.request(CMD_WRITE, size, 512, cookie=13, payload=b"x" * 512)   # write past end
    assert c.simple_reply(13)[0] == ENOSPC
    c.request(CMD_WRITE, 0, 512, cookie=14, flags=0x400, payload=b"y" * 512)  # bad flag
    assert c.simple_reply(14)[0] == EINVAL
    c.request(77, 0, 512, cookie=15)                          # unknown command
    assert c.simple_reply(15)[0] == EINVAL
    c.request(CMD_TRIM, size - 512, 4096, cookie=16)
    assert c.simple_reply(16)[0] == EINVAL
    # the connection survived all of that
    c.request(CMD_WRITE, 4096, 512, cookie=20, payload=b"z" * 512)
    assert c.simple_reply(20)[0] == 0
    c.request(CMD_READ, 4096, 512, cookie=21)
    assert c.simple_reply(21, 512) == (0, b"z" * 512)
    # pipelined requests, answered (in any order) each once
    for ck in range(100, 132):
        c.request(CMD_READ, 0, 4096, cookie=ck)
    seen = set()
    for _ in range(32):
        magic, err, ck = struct.unpack(">IIQ", c.recv(16))
        assert magic == REPLY_MAGIC and err == 0
        c.recv(4096)
        seen.add(ck)
    assert seen == set(range(100, 132))
    c.request(CMD_FLUSH, 0, 0, cookie=30)
    assert c.simple_reply(30)[0] == 0
    # a bad magic cannot be resynchronised: the server hangs up
    c.request(CMD_READ, 0, 512, cookie=31, magic=0xdeadbeef)
    assert c.closed()
    c.close()

    # bad option magic in the handshake: closed
    c = RawNbd(sock)
    c.s.sendall(b"\x00" * 16)
    assert c.closed()
    c.close()
    # client flags without fixed newstyle: closed
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock)
    s.recv(18)
    s.sendall(struct.pack(">I", 0))
    assert s.recv(100) == b""
    s.close()
    # a client that disconnects mid-payload
    c = RawNbd(sock)
    c.go("m0")
    c.request(CMD_WRITE, 0, 65536, cookie=1, payload=b"q" * 1000)
    c.close()
    # a clean disconnect
    c = RawNbd(sock)
    c.go("m0")
    c.request(CMD_DISC, 0, 0)
    assert c.closed()
    c.close()

    assert blockd.alive()
    c = RawNbd(sock)
    c.go("m0")
    c.request(CMD_READ, 4096, 512, cookie=5)
    assert c.simple_reply(5, 512) == (0, b"z" * 512)
    c.close()
    st = blockd.rpc("export-list")[0]["stats"]
    assert st["errors"] == 7, st
    assert st["read"] == 34 and st["write"] == 1 and st["flush"] == 1, st
    assert st["bytes_written"] == 512 and st["bytes_read"] == 32 * 4096 + 2 * 512, st


def test_readonly_export_refuses_writes(blockd, rundir):
    blockd.rpc("bdev-create", {"type": "malloc", "name": "m0", "size": "1M"})
    sock = os.path.join(rundir, "ro.nbd")
    blockd.rpc("export-add", {"bdev": "m0", "socket": sock, "readonly": True})
    c = RawNbd(sock)
    c.go("m0")
    c.request(CMD_WRITE, 0, 512, cookie=1, payload=b"a" * 512)
    assert c.simple_reply(1)[0] == EPERM
    c.request(CMD_TRIM, 0, 512, cookie=2)
    assert c.simple_reply(2)[0] == EPERM
    c.request(CMD_READ, 0, 512, cookie=3)
    assert c.simple_reply(3, 512) == (0, b"\0" * 512)
    c.close()


def test_tcp_loopback_only(blockd, rundir):
    need("qemu-io")
    blockd.rpc("bdev-create", {"type": "malloc", "name": "m0", "size": "8M"})
    with pytest.raises(vessel.RpcError) as e:
        blockd.rpc("export-add", {"bdev": "m0", "tcp": "0.0.0.0:0"})
    assert "loopback" in e.value.message
    with pytest.raises(vessel.RpcError):
        blockd.rpc("export-add", {"bdev": "m0", "tcp": "127.0.0.1:0", "socket": "/tmp/x"})
    ex = blockd.rpc("export-add", {"bdev": "m0", "tcp": "127.0.0.1:0", "name": "t0"})
    port = int(ex["tcp"].rsplit(":", 1)[1])
    assert port > 0
    r = qemu_io(f"nbd://127.0.0.1:{port}/t0", "write -P 0x66 0 128k", "read -P 0x66 0 128k")
    assert r.returncode == 0 and "failed" not in r.stdout, r.stdout + r.stderr
    if socket.has_ipv6:
        try:
            ex6 = blockd.rpc("export-add", {"bdev": "m0", "tcp": "[::1]:0", "name": "t6"})
        except vessel.RpcError:
            ex6 = None      # no IPv6 loopback on this host
        if ex6:
            port6 = int(ex6["tcp"].rsplit(":", 1)[1])
            r = qemu_io(f"nbd://[::1]:{port6}/t6", "read -P 0x66 0 128k")
            assert r.returncode == 0 and "failed" not in r.stdout, r.stdout + r.stderr
    r = blockd.ctl("export-list")
    assert r.returncode == 0 and "tcp:127.0.0.1:" in r.stdout, r.stdout


def test_export_remove_closes_connections(blockd, rundir):
    sock = make_graph(blockd, rundir, size="1M")
    c = RawNbd(sock)
    c.go("m0")
    c.request(CMD_READ, 0, 512, cookie=1)
    assert c.simple_reply(1, 512)[0] == 0
    assert blockd.rpc("export-list")[0]["connections"] == 1
    with pytest.raises(vessel.RpcError):
        blockd.rpc("bdev-delete", {"name": "m0"})    # in use by the export
    assert blockd.rpc("export-remove", {"name": "m0"}) is True
    assert c.closed()
    c.close()
    assert blockd.rpc("export-list") == []
    assert not os.path.exists(sock)
    assert blockd.rpc("bdev-delete", {"name": "m0"}) is True
    with pytest.raises(vessel.RpcError):
        blockd.rpc("export-remove", {"name": "m0"})


def test_blockctl_commands(blockd, rundir):
    r = blockd.ctl("bdev-create", "malloc", "m0", "size=32M", "block_size=4096")
    assert r.returncode == 0 and r.stdout.strip() == "m0", r.stderr
    assert blockd.ctl("bdev-create", "error", "e0", "base=m0").returncode == 0
    r = blockd.ctl("bdev-create", "malloc", "m0", "size=1M")
    assert r.returncode == 1 and "exists" in r.stderr
    r = blockd.ctl("bdev-create", "malloc", "x", "path=/tmp")
    assert r.returncode == 1 and "does not apply" in r.stderr
    r = blockd.ctl("bdev-create", "bogus", "x")
    assert r.returncode == 1
    r = blockd.ctl("bdev-list")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "TYPE", "SIZE"]
    assert any(l.split()[:5] == ["m0", "malloc", "32M", "4096", "-"] for l in lines), r.stdout
    assert any(l.split()[:5] == ["e0", "error", "32M", "4096", "m0"] for l in lines), r.stdout
    r = blockd.ctl("--json", "bdev-list", "m0")
    assert json.loads(r.stdout)[0]["claimed_by"] == "e0"
    sock = os.path.join(rundir, "c.nbd")
    r = blockd.ctl("export-add", "e0", "nbd", f"socket={sock}", "name=disk")
    assert r.returncode == 0 and "export disk" in r.stdout, r.stdout + r.stderr
    r = blockd.ctl("export-add", "e0", "iscsi", f"socket={sock}")
    assert r.returncode == 2
    r = blockd.ctl("export-list")
    assert "disk" in r.stdout and f"unix:{sock}" in r.stdout
    r = blockd.ctl("error-inject", "e0", "fail_nth=2", "io=write")
    assert r.returncode == 0 and json.loads(r.stdout)["fail_pending"] is True
    r = blockd.ctl("error-inject", "e0", "io=sideways")
    assert r.returncode == 1
    r = blockd.ctl("stats")
    assert r.returncode == 0 and r.stdout.split()[:3] == ["NAME", "READS", "WRITES"]
    r = blockd.ctl("--json", "stats", "e0")
    assert json.loads(r.stdout)[0]["name"] == "e0"
    assert blockd.ctl("bdev-delete", "m0").returncode == 1
    assert blockd.ctl("export-remove", "disk").returncode == 0
    assert blockd.ctl("bdev-delete", "e0").returncode == 0
    assert blockd.ctl("bdev-delete", "m0").returncode == 0
    assert blockd.ctl("bdev-delete", "m0").returncode == 1
    assert blockd.ctl("bdev-delete").returncode == 2


def test_config_replay_rebuilds_graph(start_blockd, rundir):
    need("qemu-io")
    d = start_blockd()
    backing = os.path.join(rundir, "cfg.raw")
    with open(backing, "wb") as f:
        f.truncate(16 << 20)
    d.rpc("bdev-create", {"type": "file", "name": "f0", "path": backing})
    d.rpc("bdev-create", {"type": "error", "name": "e0", "base": "f0"})
    d.rpc("bdev-create", {"type": "null", "name": "n0", "size": "1G", "block_size": 4096})
    sock = os.path.join(rundir, "cfg.nbd")
    d.rpc("export-add", {"bdev": "e0", "socket": sock, "name": "disk"})
    d.rpc("export-add", {"bdev": "n0", "socket": sock, "name": "zero", "readonly": True})
    assert qemu_io(uri(sock, "disk"), "write -P 0x3d 1M 1M", "flush").returncode == 0
    cfg = os.path.join(rundir, "blockd.json")
    assert d.ctl("save-config", cfg).returncode == 0
    before = {b["name"]: (b["type"], b["size"], b["block_size"], b["base"], b["claimed_by"])
              for b in d.rpc("bdev-list")}
    exports = sorted((e["name"], e["bdev"], e.get("socket"), e["readonly"])
                     for e in d.rpc("export-list"))
    d.stop()
    assert not os.path.exists(sock)

    d2 = start_blockd(args=["-c", cfg])
    after = {b["name"]: (b["type"], b["size"], b["block_size"], b["base"], b["claimed_by"])
             for b in d2.rpc("bdev-list")}
    assert after == before
    assert sorted((e["name"], e["bdev"], e.get("socket"), e["readonly"])
                  for e in d2.rpc("export-list")) == exports
    r = qemu_io(uri(sock, "disk"), "read -P 0x3d 1M 1M")
    assert r.returncode == 0 and "failed" not in r.stdout, r.stdout + r.stderr


def test_sigterm_during_io_is_clean(start_blockd, rundir):
    """Stopping blockd with clients mid-I/O: exit 0, nothing leaked (ASan/LSan
    builds check the log), socket files gone; a stalled handshake does not
    block other clients meanwhile."""
    need("fio")
    d = start_blockd(args=["--reactors", "2"])
    backing = os.path.join(rundir, "term.raw")
    with open(backing, "wb") as f:
        f.truncate(32 << 20)
    d.rpc("bdev-create", {"type": "file", "name": "f0", "path": backing})
    d.rpc("bdev-create", {"type": "error", "name": "e0", "base": "f0"})
    d.rpc("error-inject", {"name": "e0", "power_cut": "arm"})
    sock = os.path.join(rundir, "term.nbd")
    d.rpc("export-add", {"bdev": "e0", "socket": sock})
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.connect(sock)          # never answers the greeting
    fio = vessel.subprocess.Popen(
        ["fio", "--name=t", "--ioengine=nbd", f"--uri={uri(sock, 'e0')}", "--rw=randrw",
         "--bs=64k", "--iodepth=32", "--numjobs=2", "--size=16M", "--time_based",
         "--runtime=30"], stdout=vessel.subprocess.DEVNULL, stderr=vessel.subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if sum(e["connections"] for e in d.rpc("export-list")) >= 2:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        assert d.rpc("bdev-stats", {"name": "e0"})[0]["counters"]["write"] > 0
        assert d.stop() == 0
    finally:
        fio.kill()
        fio.wait()
        stalled.close()
    assert not os.path.exists(sock)
    assert not os.path.exists(d.sock)


def test_random_garbage_clients(blockd, rundir):
    """Random bytes in the handshake and in transmission (after a valid GO),
    with valid headers carrying random fields: blockd answers or hangs up,
    never crashes, and keeps serving well-behaved clients."""
    import random
    rnd = random.Random(6)
    sock = make_graph(blockd, rundir, size="1M")
    for i in range(60):
        try:
            c = RawNbd(sock)
            if i % 2:
                c.go("m0")
                blob = b""
                for _ in range(rnd.randint(1, 20)):
                    if rnd.random() < 0.7:
                        cmd = rnd.choice([0, 1, 2, 3, 4, 5, 6, 7, rnd.randint(0, 65535)])
                        ln = rnd.choice([0, 1, 512, 4096, 1 << 20, 33 << 20, rnd.getrandbits(32)])
                        off = rnd.choice([0, 512, (1 << 20) - 512, 1 << 20, rnd.getrandbits(64)])
                        blob += struct.pack(">IHHQQI", REQ_MAGIC, rnd.getrandbits(16), cmd,
                                            rnd.getrandbits(64), off, ln)
                        if cmd == CMD_WRITE and ln <= 8192:
                            blob += os.urandom(ln)
                    else:
                        blob += os.urandom(rnd.randint(1, 64))
                c.s.sendall(blob)
            else:
                c.s.sendall(os.urandom(rnd.randint(1, 300)))
            c.s.settimeout(0.05)
            try:
                while c.s.recv(65536):
                    pass
            except (socket.timeout, ConnectionResetError):
                pass
            c.close()
        except (ConnectionError, BrokenPipeError, AssertionError, socket.timeout):
            pass
    assert blockd.alive()
    c = RawNbd(sock)
    c.go("m0")
    c.request(CMD_READ, 0, 512, cookie=9)
    assert c.simple_reply(9, 512)[0] == 0
    c.close()


def test_out_of_io_contexts_retries(start_blockd, rundir):
    """With 3 I/O contexts per reactor and an error bdev stacked on malloc (2
    contexts per request), fio at QD32 runs into -ENOMEM all the time: the
    export must park and retry those requests, never fail them."""
    need("fio")
    d = start_blockd(args=["--io-contexts", "3"])
    d.rpc("bdev-create", {"type": "malloc", "name": "m0", "size": "32M"})
    d.rpc("bdev-create", {"type": "error", "name": "e0", "base": "m0"})
    sock = os.path.join(rundir, "nomem.nbd")
    d.rpc("export-add", {"bdev": "e0", "socket": sock})
    r = run(["fio", "--name=v", "--ioengine=nbd", f"--uri={uri(sock, 'e0')}", "--rw=randrw",
             "--bs=4k", "--iodepth=32", "--size=8M", "--verify=crc32c", "--do_verify=1",
             "--verify_fatal=1", "--verify_state_save=0", "--output-format=json"], timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    job = json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]
    assert job["error"] == 0 and job["write"]["io_bytes"] > 0
    st = d.rpc("export-list")[0]["stats"]
    assert st["errors"] == 0 and st["write"] > 0
    assert d.rpc("bdev-stats", {"name": "e0"})[0]["counters"]["errors"] == 0


def test_structured_replies_raw(blockd, rundir):
    """With NBD_OPT_STRUCTURED_REPLY a READ is answered with one OFFSET_DATA
    chunk (or an ERROR chunk), never a simple reply; other commands keep
    simple replies."""
    sock = make_graph(blockd, rundir, size="1M")
    c = RawNbd(sock)
    c.option(8)
    assert c.reply()[1] == NBD_REP_ACK
    c.option(8)
    assert c.reply()[1] == 0x80000003          # NBD_REP_ERR_INVALID: already on
    c.go("m0")
    c.request(CMD_WRITE, 512, 512, cookie=1, payload=b"s" * 512)
    assert c.simple_reply(1)[0] == 0
    c.request(CMD_READ, 512, 512, cookie=2)
    magic, flags, typ, ck, ln = struct.unpack(">IHHQI", c.recv(20))
    assert (magic, flags, typ, ck, ln) == (0x668E33EF, 1, 1, 2, 8 + 512)
    off = struct.unpack(">Q", c.recv(8))[0]
    assert off == 512 and c.recv(512) == b"s" * 512
    c.request(CMD_READ, 1 << 20, 512, cookie=3)    # past the end
    magic, flags, typ, ck, ln = struct.unpack(">IHHQI", c.recv(20))
    assert (magic, flags, typ, ck, ln) == (0x668E33EF, 1, 0x8001, 3, 6)
    err, mlen = struct.unpack(">IH", c.recv(6))
    assert err == EINVAL and mlen == 0
    c.request(CMD_FLUSH, 0, 0, cookie=4)
    assert c.simple_reply(4)[0] == 0
    c.close()
    need("nbdinfo")
    r = run(["nbdinfo", uri(sock, "m0")], timeout=30)
    assert "structured" in r.stdout, r.stdout
