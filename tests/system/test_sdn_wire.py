"""The OpenFlow agent on the wire, with a raw Python client: every class of
malformed input gets the error the specification names and the connection
stays up (closed only when the framing is lost), BARRIER ordering, and a
flood of 1,000,000 FLOW_MODs that cannot grow memory past the table limit.

The agent runs in test_ofa_host (see test_sdn_ofctl.py)."""
import socket
import struct
import threading
import time

import pytest

from test_sdn_ofctl import HOST, OfaHost  # noqa: F401  (HOST: skip condition)
import os

import vessel

pytestmark = pytest.mark.skipif(not os.path.exists(HOST), reason="test_ofa_host is not built")

OFPT_HELLO, OFPT_ERROR, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 1, 2, 3
OFPT_FEATURES_REQUEST, OFPT_FLOW_MOD, OFPT_GROUP_MOD = 5, 14, 15
OFPT_BARRIER_REQUEST, OFPT_BARRIER_REPLY = 20, 21
OFPET_HELLO_FAILED, OFPET_BAD_REQUEST, OFPET_BAD_ACTION = 0, 1, 2
OFPET_BAD_INSTRUCTION, OFPET_BAD_MATCH, OFPET_FLOW_MOD_FAILED, OFPET_GROUP_MOD_FAILED = 3, 4, 5, 6


def msg(mtype, body=b"", xid=1, version=4):
    return struct.pack("!BBHI", version, mtype, 8 + len(body), xid) + body


def oxm(field, value, mask=None):
    data = value + (mask or b"")
    return struct.pack("!HBB", 0x8000, (field << 1) | (1 if mask else 0), len(data)) + data


ETH_IP = oxm(5, b"\x08\x00")


def match(*tlvs):
    body = b"".join(tlvs)
    m = struct.pack("!HH", 1, 4 + len(body)) + body
    return m + b"\0" * (-len(m) % 8)


def apply_actions(*acts):
    body = b"".join(acts)
    return struct.pack("!HH4x", 4, 8 + len(body)) + body


def output(port):
    return struct.pack("!HHIH6x", 0, 16, port, 0xffff)


def flow_mod(m=None, insts=b"", xid=1, priority=100, table=0, command=0, cookie=0):
    fixed = struct.pack("!QQBBHHHIIIH2x", cookie, 0, table, command, 0, 0, priority,
                        0xffffffff, 0xffffffff, 0xffffffff, 0)
    return msg(OFPT_FLOW_MOD, fixed + (m if m is not None else match()) + insts, xid)


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.send(msg(OFPT_HELLO, struct.pack("!HHI", 1, 8, 1 << 4)))
        assert self.recv()[1] == OFPT_HELLO

    def send(self, data):
        self.sock.sendall(data)

    def recv(self):
        """One message as (version, type, xid, body), or None at EOF."""
        while True:
            if len(self.buf) >= 8:
                ln = struct.unpack("!H", self.buf[2:4])[0]
                if len(self.buf) >= ln:
                    m, self.buf = self.buf[:ln], self.buf[ln:]
                    return m[0], m[1], struct.unpack("!I", m[4:8])[0], m[8:]
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def expect(self, mtype):
        while True:
            m = self.recv()
            assert m is not None, f"connection closed while waiting for type {mtype}"
            if m[1] == mtype:
                return m

    def expect_error(self, etype, code):
        _, _, xid, body = self.expect(OFPT_ERROR)
        got = struct.unpack("!HH", body[:4])
        assert got == (etype, code), f"error {got}, want {(etype, code)}"
        return xid, body[4:]

    def alive(self):
        self.send(msg(OFPT_ECHO_REQUEST, b"alive", xid=0xeeee))
        _, _, xid, body = self.expect(OFPT_ECHO_REPLY)
        return xid == 0xeeee and body == b"alive"

    def close(self):
        self.sock.close()


@pytest.fixture
def host():
    h = OfaHost("--serve", "0")
    yield h
    h.stop()


@pytest.fixture
def client(host):
    c = Client(host.port)
    yield c
    c.close()


BAD_INPUT = [
    # (name, message bytes, expected (type, code))
    ("unknown type", msg(99), (OFPET_BAD_REQUEST, 1)),
    ("bad version", msg(OFPT_FEATURES_REQUEST, version=3), (OFPET_BAD_REQUEST, 0)),
    ("length larger than a fixed message", msg(OFPT_FEATURES_REQUEST, b"\0" * 8), (OFPET_BAD_REQUEST, 6)),
    ("flow_mod shorter than its fixed part", msg(OFPT_FLOW_MOD, b"\0" * 20), (OFPET_BAD_REQUEST, 6)),
    ("match length beyond the message",
     flow_mod(struct.pack("!HH", 1, 200) + ETH_IP), (OFPET_BAD_REQUEST, 6)),
    ("OXM TLV overflowing the match",
     flow_mod(match(ETH_IP, struct.pack("!HBB", 0x8000, 11 << 1, 40) + b"\x0a\0\0\x01")),
     (OFPET_BAD_MATCH, 1)),
    ("duplicate OXM field",
     flow_mod(match(ETH_IP, oxm(11, b"\x0a\0\0\x01"), oxm(11, b"\x0a\0\0\x02"))), (OFPET_BAD_MATCH, 10)),
    ("missing prerequisite", flow_mod(match(oxm(11, b"\x0a\0\0\x01"))), (OFPET_BAD_MATCH, 9)),
    ("mask on an unmaskable field", flow_mod(match(oxm(5, b"\x08\x00", b"\xff\xff"))), (OFPET_BAD_MATCH, 8)),
    ("unknown OXM field", flow_mod(match(oxm(45, b"\0\0\0\0"))), (OFPET_BAD_MATCH, 6)),
    ("action with a bad length",
     flow_mod(match(ETH_IP), apply_actions(struct.pack("!HH4x", 0, 8))), (OFPET_BAD_ACTION, 1)),
    ("action longer than its list",
     flow_mod(match(ETH_IP), struct.pack("!HH4x", 4, 16) + struct.pack("!HHIH6x", 0, 32, 1, 0)),
     (OFPET_BAD_ACTION, 1)),
    ("unknown action", flow_mod(match(ETH_IP), apply_actions(struct.pack("!HH4x", 77, 8))),
     (OFPET_BAD_ACTION, 0)),
    ("output to port 0", flow_mod(match(ETH_IP), apply_actions(output(0))), (OFPET_BAD_ACTION, 4)),
    ("instructions in the wrong order",
     flow_mod(match(ETH_IP), struct.pack("!HHB3x", 1, 8, 2) + apply_actions(output(1))),
     (OFPET_BAD_ACTION, 11)),
    ("instruction with a bad length",
     flow_mod(match(ETH_IP), struct.pack("!HHB3x", 1, 12, 2)), (OFPET_BAD_INSTRUCTION, 7)),
    ("goto to an earlier table",
     flow_mod(match(ETH_IP), struct.pack("!HHB3x", 1, 8, 1), table=2), (OFPET_BAD_INSTRUCTION, 2)),
    ("bad flow_mod command", flow_mod(command=9), (OFPET_FLOW_MOD_FAILED, 6)),
    ("group that sends to itself",
     msg(OFPT_GROUP_MOD, struct.pack("!HBxI", 0, 0, 5) + struct.pack("!HHII4x", 24, 0, 0xffffffff,
                                                                      0xffffffff)
         + struct.pack("!HHI", 22, 8, 5)), (OFPET_GROUP_MOD_FAILED, 7)),
    ("table beyond the datapath's 4 tables",
     flow_mod(match(ETH_IP), table=9), (OFPET_FLOW_MOD_FAILED, 2)),
]


@pytest.mark.parametrize("name,data,want", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_answered_and_connection_survives(host, client, name, data, want):
    data = data[:4] + struct.pack("!I", 0x5150) + data[8:]
    client.send(data)
    xid, echoed = client.expect_error(*want)
    assert xid == 0x5150
    assert echoed == data[:64]  # the first 64 bytes of the offending message
    assert client.alive()
    # The flow table is unchanged.
    assert host.stats()["flows"] == 0


def test_lost_framing_closes_only_that_connection(host, client):
    other = Client(host.port)
    try:
        client.send(struct.pack("!BBHI", 4, OFPT_ECHO_REQUEST, 5, 1))
        assert client.recv() is None
        assert other.alive()
    finally:
        other.close()


def test_hello_without_13_fails_and_closes(host):
    s = socket.create_connection(("127.0.0.1", host.port), timeout=10)
    try:
        s.sendall(struct.pack("!BBHI", 1, OFPT_HELLO, 8, 1))
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        # Our HELLO, then ERROR HELLO_FAILED/INCOMPATIBLE, then EOF.
        assert data[1] == OFPT_HELLO
        err = data[struct.unpack("!H", data[2:4])[0]:]
        assert err[1] == OFPT_ERROR and struct.unpack("!HH", err[8:12]) == (OFPET_HELLO_FAILED, 0)
    finally:
        s.close()


def test_barrier_reply_follows_every_earlier_flow_mod(host, client):
    n = 1000
    batch = b"".join(flow_mod(match(ETH_IP, oxm(12, struct.pack("!I", 0x0a000000 + i))), xid=i + 1,
                              insts=apply_actions(output(1))) for i in range(n))
    client.send(batch + msg(OFPT_BARRIER_REQUEST, xid=0xbbbb))
    _, _, xid, _ = client.expect(OFPT_BARRIER_REPLY)
    assert xid == 0xbbbb
    st = host.stats()
    assert st["flows"] == n and st["barriers"] == 1


@pytest.mark.slow
def test_million_flow_mods_cannot_grow_memory(tmp_path):
    limit = 100
    h = OfaHost("--serve", "0", "--max-flows", str(limit), "--quiet")
    try:
        c = Client(h.port)
        errors = []

        def reader():
            while True:
                m = c.recv()
                if m is None:
                    return
                if m[1] == OFPT_ERROR:
                    errors.append(struct.unpack("!HH", m[3][:4]))
                elif m[1] == OFPT_BARRIER_REPLY:
                    return

        t = threading.Thread(target=reader)
        t.start()
        n = 1_000_000
        insts = apply_actions(output(1))
        tmpl = flow_mod(match(ETH_IP, oxm(12, b"\0\0\0\0")), insts=insts)
        off = tmpl.index(b"\x80\x00\x18\x04") + 4  # ipv4_dst value
        t0 = time.monotonic()
        chunk = []
        for i in range(n):
            chunk.append(tmpl[:off] + struct.pack("!I", i) + tmpl[off + 4:])
            if len(chunk) == 10000:
                c.send(b"".join(chunk))
                chunk = []
        c.send(b"".join(chunk) + msg(OFPT_BARRIER_REQUEST, xid=7))
        t.join(timeout=300)
        elapsed = time.monotonic() - t0
        assert not t.is_alive()
        st = h.stats()
        assert st["flows"] == limit
        assert st["flow_mods"] == n
        assert len(errors) == n - limit
        assert set(errors) == {(OFPET_FLOW_MOD_FAILED, 1)}  # OFPFMFC_TABLE_FULL
        peak_mb = h.rss_peak_kb() / 1024
        print(f"{n} flow_mods in {elapsed:.1f} s ({n / elapsed:.0f}/s), peak RSS {peak_mb:.1f} MiB")
        # ASan's quarantine (256 MiB) and shadow memory dwarf the agent's own.
        sanitized = vessel.SANITIZED or os.path.basename(vessel.BUILD) == "asan"
        assert peak_mb < (512 if sanitized else 64)
        c.close()
    finally:
        h.stop()
