"""vswitchd with real guests: QEMU (TCG) running the test guest (tests/guest),
each with a virtio-net NIC on a vhost-user socket that QEMU serves
(`server=on,wait=off`) and a vswitchd port connects to as the client.

- VLAN isolation: A and B on access VLAN 100 ping each other (ICMP, ARP,
  broadcast ARP); C on VLAN 200, with an address in the same subnet, receives
  none of it. Proved from C's side (its eth0 rx counters stay at 0: C is alone
  on VLAN 200, so nothing it sends can be answered) and from the switch's (C's
  port never transmits, and captures on C's port hold only C's own frames while
  a capture on A's port sees A's traffic).
- Restart: while A pings B in a loop that prints each result on its console,
  vswitchd is killed with SIGKILL and started again from its saved config; the
  ping resumes within 5 s of the new vswitchd's ports being up (the answer is
  one sent after the guest saw its link go down and up again: QEMU noticed the
  switch go and come back), and neither guest restarted.

Guests are started with tests/guest/guest.py (QEMU 7.2 does not run a guest with
a vhost-user NIC until a back end connects, so QEMU is started first, without
blocking, and the port added after). Needs root (vswitchd's DPDK environment)
and qemu-system-x86_64.
"""
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "guest"))
import guest  # noqa: E402

from scapy.all import ARP, ICMP, Ether, rdpcap  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.slow]

GUEST_BUILD = Path(os.environ.get("VESSEL_GUEST_BUILD") or REPO / "build")
BOOT_TIMEOUT = 120          # QEMU start to a script's first line, under load

MAC = {"a": "52:54:00:64:00:0a", "b": "52:54:00:64:00:0b", "c": "52:54:00:c8:00:0c"}
IP = {"a": "10.0.100.1", "b": "10.0.100.2", "c": "10.0.100.3"}

# Every guest script starts with this: address on eth0, link up.
SETUP = r'''
ip addr add {ip}/24 dev eth0 && ip link set eth0 up || {{ echo "SETUP-FAILED"; exit 1; }}
echo "UP $(cat /sys/class/net/eth0/address)"
'''


@pytest.fixture(scope="module")
def guest_paths():
    if guest.qemu_path() is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    try:
        return guest.build(GUEST_BUILD)
    except guest.GuestUnavailable as e:
        pytest.skip(f"the guest kernel package cannot be downloaded: {e}")


@pytest.fixture
def guests(guest_paths, vswitchd, rundir, tmp_path):
    """start(name, vlan, script): QEMU with a NIC on <rundir>/<name>.sock, then the
    vswitchd port <name> (vhost-user client, access VLAN `vlan`). QEMU is
    killed at the end."""
    started = []

    def start(name, vlan, script, switch=vswitchd):
        sock = os.path.join(rundir, f"{name}.sock")
        g = guest.Guest(paths=guest_paths, script=SETUP.format(ip=IP[name]) + script,
                        extra_qemu_args=guest.vhost_user_net_args(sock, mac=MAC[name]),
                        shared_memory=True, memory_mb=128, timeout=600,
                        workdir=tmp_path / name)
        started.append(g)
        g.start()
        g.sock = sock
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):       # QEMU listens before it starts the guest
            assert g.running(), f"QEMU for {name} exited:\n{g.wait().describe()}"
            assert time.monotonic() < deadline, f"QEMU for {name} created no {sock}"
            time.sleep(0.05)
        switch.rpc("add-port", {"name": name, "type": "vhost-user", "path": sock, "tag": vlan})
        return g

    yield start
    for g in started:
        g.kill()


def expect(g, pattern, timeout=BOOT_TIMEOUT, after=0):
    """The first match of `pattern` in the console from offset `after` on."""
    rx = re.compile(pattern, re.M)
    end = time.monotonic() + timeout
    while True:
        m = rx.search(g.console(), after)
        if m:
            return m
        assert g.running(), f"guest exited before {pattern!r}:\n{g.wait().describe()}"
        assert time.monotonic() < end, \
            f"no {pattern!r} within {timeout} s:\n{g.console()[-3000:]}"
        time.sleep(0.05)


def ports(sw):
    return {p["name"]: p for p in sw.rpc("dump-ports")}


def wait_links_up(sw, names, timeout):
    end = time.monotonic() + timeout
    while True:
        try:
            p = ports(sw)
            if all(p.get(n, {}).get("link") == "up" for n in names):
                return p
        except OSError:
            pass
        assert time.monotonic() < end, f"ports {names} not up within {timeout} s: {p}"
        time.sleep(0.05)


class CaptureChain:
    """Back-to-back `capture` calls on one port (each `duration` s, into its own
    pcapng file) from a thread until stop(); a capture answers only when it
    ends, and the gaps between two are one RPC round trip."""

    def __init__(self, sw, port, dirpath, duration=2):
        self.sw, self.port, self.dir, self.duration = sw, port, dirpath, duration
        self.files, self.results, self.errors = [], [], []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        i = 0
        while not self._stop.is_set():
            path = os.path.join(self.dir, f"cap-{self.port}-{i}.pcapng")
            i += 1
            try:
                r = self.sw.rpc("capture", {"port": self.port, "path": path, "count": 100000,
                                            "duration": self.duration},
                                timeout=self.duration + 30)
            except Exception as e:      # noqa: BLE001 — reported by stop()
                self.errors.append(repr(e))
                return
            self.files.append(path)
            self.results.append(r)

    def stop(self):
        self._stop.set()
        self._t.join(self.duration + 40)
        assert not self._t.is_alive(), "capture thread did not end"
        assert not self.errors, self.errors
        frames = []
        for path in self.files:
            if os.path.getsize(path) > 0:
                frames += list(rdpcap(path))
        return frames


def test_vlan_isolation_between_guests(guests, vswitchd, tmp_path):
    # C: VLAN 200, alone there, an address in A and B's subnet (it would answer
    # their ARP if any reached it). It sends only what its kernel sends on link
    # up (IPv6 DAD/MLD/RS), which nobody on VLAN 200 answers: its rx stays 0.
    c = guests("c", 200, r'''
s=/sys/class/net/eth0/statistics
while :; do
    echo "C-STATS rx=$(cat $s/rx_packets) rxb=$(cat $s/rx_bytes) tx=$(cat $s/tx_packets)"
    sleep 1
done
''')
    expect(c, r"^C-STATS ")
    # Watch C's port before A and B exist; A's port is the positive control.
    chain = CaptureChain(vswitchd, "c", str(tmp_path))
    a = guests("a", 100, f'''
i=0; ok=0
while [ $i -lt 120 ]; do
    if ping -c 1 -W 1 {IP["b"]} >/dev/null 2>&1; then ok=1; break; fi
    i=$((i + 1))
done
echo "A-FIRST-PING $ok"
sleep 2                                  # the host starts a capture on A's port
ping -c 5 -i 0.2 -W 3 {IP["b"]} | grep "packets transmitted"
arping -c 3 -w 5 -I eth0 {IP["b"]} | tail -n 1
arping -U -c 2 -I eth0 {IP["a"]} >/dev/null 2>&1
ping -c 2 -W 1 {IP["c"]} | grep "packets transmitted" | sed 's/^/A-TO-C /'
echo "A-DONE"
while :; do sleep 3600; done
''')
    b = guests("b", 100, f'''
while ! ping -c 1 -W 1 {IP["a"]} >/dev/null 2>&1; do :; done
echo "B-PING-OK"
while :; do sleep 3600; done
''')
    assert expect(a, r"^A-FIRST-PING (\d)").group(1) == "1", a.console()[-2000:]
    a_chain = CaptureChain(vswitchd, "a", str(tmp_path))   # the positive control
    expect(b, r"^B-PING-OK")
    out = a.console()[max(0, expect(a, r"^A-DONE", timeout=60).start() - 2000):]
    assert re.search(r"^5 packets transmitted, 5 packets received", a.console(), re.M), out
    assert re.search(r"Received [1-9]\d* response", a.console()), out     # arping
    assert re.search(r"^A-TO-C 2 packets transmitted, 0 packets received", a.console(), re.M), out
    a_frames = a_chain.stop()

    # A fresh C-STATS line, printed after A finished: C received nothing at all.
    done_at = len(c.console())
    m = expect(c, r"^C-STATS rx=(\d+) rxb=(\d+) tx=(\d+)", timeout=30, after=done_at)
    frames = chain.stop()
    assert (int(m.group(1)), int(m.group(2))) == (0, 0), c.console()[-2000:]

    p = ports(vswitchd)
    assert p["c"]["tag"] == 200 and p["a"]["tag"] == 100
    assert p["c"]["tx_packets"] == 0, p["c"]            # the switch never sent C a frame
    for n in "ab":
        assert p[n]["rx_packets"] >= 8 and p[n]["tx_packets"] >= 8, p[n]

    # Captures on C's port: only C's own frames; on A's port: A's ARP and ICMP.
    assert all(f[Ether].src == MAC["c"] for f in frames), \
        [f.summary() for f in frames if f[Ether].src != MAC["c"]]
    assert not [f for f in frames if ARP in f and f[ARP].psrc in (IP["a"], IP["b"])]
    assert any(f[Ether].src == MAC["a"] and f[Ether].dst == "ff:ff:ff:ff:ff:ff" and ARP in f
               and f[ARP].pdst == IP["c"] for f in a_frames), [f.summary() for f in a_frames]
    assert any(ICMP in f and f[Ether].src in (MAC["a"], MAC["b"]) for f in a_frames)


def test_guests_ping_survives_switch_restart(guests, vswitchd, start_vswitchd, rundir):
    """SIGKILL vswitchd while A pings B; start it again from its saved config:
    the ping resumes within 5 s of the new switch's ports being up, the guests
    keep running (same QEMU, booted once)."""
    a = guests("a", 100, f'''
n=0
while :; do
    n=$((n + 1))
    if ping -c 1 -W 1 {IP["b"]} >/dev/null 2>&1; then r=ok; else r=lost; fi
    echo "PING $n $r cc=$(cat /sys/class/net/eth0/carrier_changes) t=$(cut -d' ' -f1 /proc/uptime)"
    usleep 200000
done
''')
    b = guests("b", 100, "while :; do sleep 3600; done\n")
    expect(b, r"^UP ")
    # Three answers in a row: the path works before the restart.
    ok3 = r"^PING \d+ ok cc=\d+ t=\S+\nPING \d+ ok cc=\d+ t=\S+\nPING \d+ ok cc=(\d+) t=\S+$"
    cc0 = int(expect(a, ok3).group(1))
    cfg = os.path.join(rundir, "saved.json")
    vswitchd.rpc("save-config", {"path": cfg})
    qemu_pids = (a.proc.pid, b.proc.pid)

    old_pid = vswitchd.pid
    t_kill = time.monotonic()
    vswitchd.kill()                                   # SIGKILL
    killed_at = len(a.console())
    shutil.rmtree(f"/var/run/dpdk/vessel-vswitchd-{old_pid}", ignore_errors=True)
    d2 = start_vswitchd(args=["-c", cfg], timeout=60)
    wait_links_up(d2, ["a", "b"], timeout=60)
    up_at = len(a.console())
    t_up = time.monotonic()
    m = expect(a, r"^PING (\d+) ok cc=(\d+) t=([\d.]+)$", timeout=30, after=up_at)
    resumed = time.monotonic() - t_up
    before = re.findall(r"^PING \d+ ok cc=\d+ t=([\d.]+)$", a.console()[:killed_at], re.M)
    print(f"ping resumed {resumed:.2f} s after the restarted vswitchd's ports were up, "
          f"{time.monotonic() - t_kill:.2f} s after the SIGKILL; in the guest, "
          f"{float(m.group(3)) - float(before[-1]):.2f} s between the last answer before "
          f"and the first after")
    # The guest saw its link go down (QEMU, the socket server, noticed the
    # switch die) and come back up: this answer crossed the new switch.
    assert int(m.group(2)) >= cc0 + 2, a.console()[killed_at:]
    assert resumed < 5, a.console()[killed_at:]
    # And it stays up: the next three pings answer too.
    expect(a, ok3, timeout=30, after=m.start())
    assert (a.proc.pid, b.proc.pid) == qemu_pids and a.running() and b.running()
    for g in (a, b):
        assert g.console().count("VESSEL-GUEST-READY") == 1
    p = ports(d2)
    assert p["a"]["tag"] == 100 and p["a"]["rx_packets"] > 0 and p["b"]["tx_packets"] > 0
