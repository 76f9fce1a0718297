"""tshark reads what vsl_pcapng writes.

The unit test binary test_vsl_pcapng writes a sample capture when
VSL_TEST_PCAPNG_OUT is set: 4 Ethernet/IPv4/UDP frames (valid IPv4 and UDP
checksums) on interface "vh0", then 1 ARP request on interface "dpdk0" (see
tests/unit/common/test_vsl_pcapng.c). This test decodes it with tshark, with
checksum validation on, and checks what a user would look at.

The build directory comes from $VESSEL_BUILD (default: build/ at the repo root).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VESSEL_BUILD", "build"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
WRITER = BUILD / "tests" / "unit" / "common" / "test_vsl_pcapng"

# What test_sample_capture writes, in order: (interface, ethertype).
EXPECTED = [("vh0", "0x0800")] * 4 + [("dpdk0", "0x0806")]

# Wireshark's checksum status values (proto_checksum_enum_e).
CHECKSUM_GOOD = "1"

TSHARK_PREFS = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]


def _tshark():
    path = shutil.which("tshark")
    if path is None:
        pytest.skip("tshark not installed (apt-get install tshark, or make deps)")
    return path


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


@pytest.fixture
def capture(tmp_path):
    tshark = _tshark()
    if not os.access(WRITER, os.X_OK):
        pytest.skip(f"{WRITER} not built (make unit-bins, or set VESSEL_BUILD)")
    out = tmp_path / "x.pcapng"
    env = dict(os.environ, VSL_TEST_PCAPNG_OUT=str(out), CMOCKA_MESSAGE_OUTPUT="TAP")
    res = _run([str(WRITER)], env=env, cwd=tmp_path)
    assert res.returncode == 0, f"{WRITER} failed:\n{res.stdout}\n{res.stderr}"
    assert out.is_file() and out.stat().st_size > 0, "no capture written"
    return tshark, out


def test_tshark_decodes_every_frame(capture):
    tshark, path = capture
    res = _run([tshark, "-r", str(path), *TSHARK_PREFS, "-T", "fields",
                "-E", "separator=|", "-E", "occurrence=f",
                "-e", "frame.interface_name", "-e", "eth.type",
                "-e", "ip.checksum.status", "-e", "udp.checksum.status",
                "-e", "arp.opcode", "-e", "frame.len", "-e", "frame.cap_len"])
    assert res.returncode == 0, res.stderr
    rows = [line.split("|") for line in res.stdout.splitlines() if line]
    assert len(rows) == len(EXPECTED), res.stdout

    for row, (ifname, ethertype) in zip(rows, EXPECTED):
        name, etype, ip_ck, udp_ck, arp_op, flen, caplen = row
        assert name == ifname
        assert etype == ethertype
        assert flen == caplen  # nothing truncated by the default snaplen
        if ethertype == "0x0800":
            assert ip_ck == CHECKSUM_GOOD, f"IPv4 checksum status {ip_ck!r}"
            assert udp_ck == CHECKSUM_GOOD, f"UDP checksum status {udp_ck!r}"
        else:
            assert arp_op == "1"  # request

    names = {name for name, *_ in rows}
    assert names == {"vh0", "dpdk0"}


def test_tshark_reports_nothing_malformed(capture):
    tshark, path = capture
    res = _run([tshark, "-r", str(path), *TSHARK_PREFS, "-Y", "_ws.malformed"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"malformed frames:\n{res.stdout}"

    res = _run([tshark, "-r", str(path), *TSHARK_PREFS, "-q", "-z", "expert"])
    assert res.returncode == 0, res.stderr
    for word in ("Malformed", "Bad checksum", "Error"):
        assert word not in res.stdout, f"tshark expert info:\n{res.stdout}"
    # tshark warns on stderr about a file cut short; a clean file has no such line.
    assert "cut short" not in res.stderr
    assert "appears to be damaged" not in res.stderr


def test_capinfos_sees_interfaces_and_ns_resolution(capture):
    _, path = capture
    capinfos = shutil.which("capinfos")
    if capinfos is None:
        pytest.skip("capinfos not installed (comes with tshark)")
    res = _run([capinfos, str(path)])
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Number of interfaces in file: 2" in out
    assert "Name = vh0" in out and "Name = dpdk0" in out
    assert "nanoseconds" in out
    assert re.search(rf"Number of packets:\s+{len(EXPECTED)}\b", out), out
    assert "Capture application: vessel test_vsl_pcapng" in out
