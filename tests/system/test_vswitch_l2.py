"""vswitchd as a VLAN-aware learning bridge, with real peers.

Each "host" is a network namespace whose eth0 is one end of a veth pair; the
other end stays in the root namespace and is a vswitchd `dpdk` port on
net_af_packet. Frames are crafted with scapy in the test process and sent and
received with raw AF_PACKET sockets inside the namespaces (a small script run
with `ip netns exec`, which starts much faster than scapy would there). The
receiving side reads PACKET_AUXDATA to put back the 802.1Q tag the kernel moves
out of the frame, so tests see tags exactly as they are on the wire.

Needs root (namespaces, hugepages); skips elsewhere. Traffic never leaves the
namespaces this test creates.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

import vessel

from scapy.all import ARP, Dot1Q, Ether, ICMP, IP, UDP, Raw, raw  # noqa: E402

pytestmark = [pytest.mark.root]

BCAST = "ff:ff:ff:ff:ff:ff"
PING = ["ping"] if shutil.which("ping") else ["busybox", "ping"]

# Runs inside a namespace: "send IFACE HEX..." or "sniff IFACE SECONDS".
NS_SCRIPT = r'''
import json, socket, struct, sys, time, select
ETH_P_ALL = 3
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
mode, iface = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.bind((iface, 0))
if mode == "send":
    for h in sys.argv[3:]:
        s.send(bytes.fromhex(h))
    sys.exit(0)
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
print("READY", flush=True)
end = time.monotonic() + float(sys.argv[3])
out = []
while True:
    left = end - time.monotonic()
    if left <= 0:
        break
    r, _, _ = select.select([s], [], [], left)
    if not r:
        continue
    data, anc, flags, addr = s.recvmsg(65535, socket.CMSG_SPACE(32))
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    for level, typ, cdata in anc:
        if level == SOL_PACKET and typ == PACKET_AUXDATA and len(cdata) >= 20:
            st, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", cdata[:20])
            if st & TP_STATUS_VLAN_VALID:
                tpid = tpid if st & TP_STATUS_VLAN_TPID_VALID else 0x8100
                data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
    out.append(data.hex())
print(json.dumps(out), flush=True)
'''


def ns_run(ns, *args, timeout=30):
    return ns.exec("/usr/bin/python3", "-c", NS_SCRIPT, *args, timeout=timeout)


class Sniffer:
    """Captures what arrives on a namespace's eth0 for `seconds`."""

    def __init__(self, ns, seconds=1.5, iface="eth0"):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, "/usr/bin/python3", "-c", NS_SCRIPT, "sniff",
             iface, str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "READY", self.proc.stderr.read()

    def frames(self):
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return [Ether(bytes.fromhex(h)) for h in json.loads(out)]


class Host:
    def __init__(self, ns, port, veth, mac, ip=None):
        self.ns, self.port, self.veth, self.mac, self.ip = ns, port, veth, mac, ip

    def send(self, *frames):
        ns_run(self.ns, "send", "eth0", *[raw(f).hex() for f in frames])

    def sniff(self, seconds=1.5):
        return Sniffer(self.ns, seconds)


@pytest.fixture
def switch(start_vswitchd):
    d = start_vswitchd()
    d.rpc("set-bridge", {"pmd_sleep_max_us": 200})
    return d


@pytest.fixture
def hosts(switch, netns):
    """Factory: hosts(name, **port_options) -> Host attached to the switch."""
    made = []
    counter = [0]

    def make(name, ip=None, **opts):
        counter[0] += 1
        ns = netns(name)
        veth = f"vs{counter[0]}{uuid.uuid4().hex[:6]}"
        mac = f"02:00:00:00:{counter[0]:02x}:01"
        peer = "p" + veth[1:]
        vessel.veth_pair(veth, peer, ns)
        made.append(veth)
        ns.exec("ip", "link", "set", peer, "name", "eth0")
        subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{veth}.disable_ipv6=1"], check=True)
        ns.exec("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        ns.exec("ip", "link", "set", "eth0", "address", mac)
        ns.exec("ip", "link", "set", "eth0", "up")
        if ip:
            ns.exec("ip", "addr", "add", f"{ip}/24", "dev", "eth0")
        params = {"name": name, "type": "dpdk", "devargs": f"net_af_packet_{veth},iface={veth}"}
        params.update(opts)
        switch.rpc("add-port", params)
        return Host(ns, name, veth, mac, ip)

    yield make
    for v in made:
        vessel.link_delete(v)


def port_stats(sw, name):
    (p,) = sw.rpc("dump-ports", {"name": name})
    return p


def fdb(sw, **flt):
    return {(e["mac"], e["vlan"]): e["port"] for e in sw.rpc("fdb-show", flt)}


def frames_from(frames, src):
    return [f for f in frames if f.src == src]


def bcast(src, payload=b"hello", **kw):
    return Ether(src=src, dst=BCAST) / IP(src="10.9.9.9", dst="10.9.9.255") / UDP(
        sport=1000, dport=2000) / Raw(payload)


# ------------------------------------------------------------------- learning

def test_learning_flooding_and_unicast(switch, hosts):
    a = hosts("a", tag=10)
    b = hosts("b", tag=10)
    c = hosts("c", tag=10)
    d = hosts("d", tag=20)

    sb, sc, sd = b.sniff(), c.sniff(), d.sniff()
    a.send(bcast(a.mac))
    assert len(frames_from(sb.frames(), a.mac)) == 1
    assert len(frames_from(sc.frames(), a.mac)) == 1
    assert frames_from(sd.frames(), a.mac) == []         # other VLAN: never flooded there
    assert fdb(switch)[(a.mac, 10)] == "a"

    # b answers a: a is known, so only a gets it.
    sa, sc = a.sniff(), c.sniff()
    b.send(Ether(src=b.mac, dst=a.mac) / IP(src="10.0.0.2", dst="10.0.0.1") / UDP() / Raw(b"x"))
    got = frames_from(sa.frames(), b.mac)
    assert len(got) == 1 and Dot1Q not in got[0]          # access port: untagged
    assert frames_from(sc.frames(), b.mac) == []
    assert fdb(switch)[(b.mac, 10)] == "b"

    # Unknown unicast floods within the VLAN only.
    sc, sd = c.sniff(), d.sniff()
    a.send(Ether(src=a.mac, dst="02:99:99:99:99:99") / IP() / UDP())
    assert len(frames_from(sc.frames(), a.mac)) == 1
    assert frames_from(sd.frames(), a.mac) == []

    st = port_stats(switch, "a")
    assert st["rx_packets"] >= 2 and st["tx_packets"] >= 1
    assert st["flood_packets"] >= 4
    assert switch.rpc("fdb-flush", {"port": "a"})["flushed"] >= 1
    assert (a.mac, 10) not in fdb(switch)


def test_mac_move(switch, hosts):
    a = hosts("a", tag=10)
    b = hosts("b", tag=10)
    roaming = "02:00:00:00:aa:aa"
    a.send(bcast(roaming))
    time.sleep(0.2)
    assert fdb(switch)[(roaming, 10)] == "a"
    b.send(bcast(roaming))
    time.sleep(0.2)
    assert fdb(switch)[(roaming, 10)] == "b"


# ----------------------------------------------------------------------- VLANs

def test_access_trunk_tagging(switch, hosts):
    a = hosts("a", tag=10)
    d = hosts("d", tag=20)
    t = hosts("t", trunks="10,20")

    st_, sd = t.sniff(), d.sniff()
    a.send(bcast(a.mac))
    got = frames_from(st_.frames(), a.mac)
    assert len(got) == 1 and got[0][Dot1Q].vlan == 10     # tag pushed toward the trunk
    assert frames_from(sd.frames(), a.mac) == []

    # Tagged VLAN 20 from the trunk reaches d untagged, never a.
    sa, sd = a.sniff(), d.sniff()
    t.send(Ether(src=t.mac, dst=BCAST) / Dot1Q(vlan=20, prio=3) / IP() / UDP())
    got = frames_from(sd.frames(), t.mac)
    assert len(got) == 1 and Dot1Q not in got[0]           # tag popped toward the access port
    assert frames_from(sa.frames(), t.mac) == []
    assert fdb(switch)[(t.mac, 20)] == "t"

    # A VLAN the trunk does not carry, and a tagged frame on an access port: dropped, counted.
    before_t = port_stats(switch, "t")["drops"]["vlan"]
    before_a = port_stats(switch, "a")["drops"]["vlan"]
    sa, sd = a.sniff(1.0), d.sniff(1.0)
    t.send(Ether(src=t.mac, dst=BCAST) / Dot1Q(vlan=30) / IP() / UDP())
    a.send(Ether(src=a.mac, dst=BCAST) / Dot1Q(vlan=20) / IP() / UDP())
    assert frames_from(sa.frames(), t.mac) == [] and frames_from(sd.frames(), a.mac) == []
    assert port_stats(switch, "t")["drops"]["vlan"] == before_t + 1
    assert port_stats(switch, "a")["drops"]["vlan"] == before_a + 1


def test_native_vlan_modes(switch, hosts):
    a = hosts("a", tag=10)
    t = hosts("t", trunks="20", native_vlan=10)          # native-untagged by default

    st_ = t.sniff()
    a.send(bcast(a.mac))
    got = frames_from(st_.frames(), a.mac)
    assert len(got) == 1 and Dot1Q not in got[0]

    sa = a.sniff()
    t.send(bcast(t.mac))                                   # untagged in = native VLAN 10
    assert len(frames_from(sa.frames(), t.mac)) == 1
    assert fdb(switch)[(t.mac, 10)] == "t"

    switch.rpc("set-port", {"name": "t", "vlan_mode": "native-tagged"})
    st_ = t.sniff()
    a.send(bcast(a.mac))
    got = frames_from(st_.frames(), a.mac)
    assert len(got) == 1 and got[0][Dot1Q].vlan == 10

    with pytest.raises(vessel.RpcError, match="native_vlan"):
        switch.rpc("set-port", {"name": "t", "vlan_mode": "native-untagged", "native_vlan": 0})


# ------------------------------------------------------------ ageing and limits

def test_ageing(switch, hosts):
    a = hosts("a", tag=10)
    hosts("b", tag=10)
    a.send(bcast(a.mac))
    time.sleep(0.3)
    assert (a.mac, 10) in fdb(switch)
    switch.rpc("set-bridge", {"ageing": 2})
    deadline = time.monotonic() + 6
    while (a.mac, 10) in fdb(switch) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (a.mac, 10) not in fdb(switch)


def test_mac_limit(switch, hosts):
    a = hosts("a", tag=10, mac_limit=2)
    b = hosts("b", tag=10)
    macs = [f"02:00:00:00:bb:{i:02x}" for i in range(5)]
    sb = b.sniff()
    a.send(*[bcast(m) for m in macs])
    got = {f.src for f in sb.frames()}
    learned = [m for (m, v), p in fdb(switch).items() if p == "a"]
    assert len(learned) == 2
    assert got == set(learned)
    assert port_stats(switch, "a")["drops"]["mac_limit"] == 3
    assert port_stats(switch, "a")["macs_learned"] == 2


# ------------------------------------------------------------- bad input, counters

def test_malformed_frames_counted(switch, hosts, rundir):
    """Frames the kernel would never deliver through a veth (runts, a cut VLAN
    tag) are replayed from a pcap file by a net_pcap port."""
    from scapy.all import wrpcap
    b = hosts("b", tag=10)
    src = "02:00:00:00:cc:01"
    frames = [
        Raw(bytes.fromhex("ffffffffffff0200")),                             # runt
        Raw(bytes.fromhex("ffffffffffff" + "0200000000cc" + "8100")),        # cut tag
        Ether(src=src, dst=BCAST, type=0x0800) / Raw(b"\x45\x00\x00"),    # cut IPv4
        Ether(src=src, dst=BCAST, type=0x0800) / Raw(bytes.fromhex(
            "4100001400000000400100000a0000010a000002")),                   # IHL 1
        Ether(src=src, dst=BCAST) / IP(proto=0) / Raw(b"\x00"),           # no L4 to parse
        Ether(src=src, dst=BCAST) / IP(proto=17) / Raw(b"\x00\x01"),       # cut UDP header
        Ether(src=src, dst=BCAST) / Dot1Q(vlan=0) / IP() / UDP(),            # priority tag: ok
        Ether(src="01:00:5e:00:00:01", dst=BCAST) / IP() / UDP(),            # multicast source
    ]
    pin = os.path.join(rundir, "in.pcap")
    wrpcap(pin, frames)
    sb = b.sniff(2.0)
    switch.rpc("add-port", {"name": "in", "type": "dpdk", "tag": 10,
                            "devargs": f"net_pcap_in,rx_pcap={pin},"
                                       f"tx_pcap={os.path.join(rundir, 'out.pcap')}"})
    got = frames_from(sb.frames(), src)
    st = port_stats(switch, "in")
    assert st["rx_packets"] == len(frames)
    assert st["drops"]["malformed"] == 2
    assert st["drops"]["src_mac"] == 1
    assert st["rx_l3_anomalies"] == 3  # cut IPv4, IHL 1, cut UDP
    assert len(got) == 5                                    # forwarded at L2
    assert all(Dot1Q not in f for f in got)


def test_bursts_of_one_flow(switch, rundir):
    """Frames with the same addresses arrive in full bursts from a net_pcap
    port: NORMAL decides the first of each run and repeats the decision for
    the rest (sw_bridge.c). Each frame must still be tagged with its own PCP,
    kept in order, refused by the MAC limit and counted."""
    from scapy.all import rdpcap, wrpcap
    far, near, extra = "02:00:00:00:dd:01", "02:00:00:00:cc:01", "02:00:00:00:cc:02"
    unknown = "02:00:00:00:ee:01"
    t_in, t_out = os.path.join(rundir, "t-in.pcap"), os.path.join(rundir, "t-out.pcap")
    wrpcap(t_in, [Ether(src=far, dst=BCAST) / Dot1Q(vlan=10) / IP() / UDP()])
    switch.rpc("add-port", {"name": "t", "type": "dpdk", "trunks": "10",
                            "devargs": f"net_pcap_t,rx_pcap={t_in},tx_pcap={t_out}"})
    deadline = time.monotonic() + 10
    while fdb(switch).get((far, 10)) != "t" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fdb(switch).get((far, 10)) == "t"

    def udp(src, dst, seq, prio=None):
        tag = Dot1Q(vlan=0, prio=prio) if prio is not None else None
        l3 = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5, dport=6) / Raw(seq.to_bytes(4, "big"))
        return Ether(src=src, dst=dst) / tag / l3 if tag else Ether(src=src, dst=dst) / l3

    frames = ([udp(near, far, i) for i in range(40)]                 # unicast run
              + [udp(near, unknown, 100 + i) for i in range(20)]     # flooded run
              + [udp(near, far, 200 + i, prio=5) for i in range(10)] # priority-tagged run
              + [udp(extra, far, 300 + i) for i in range(40)]        # beyond mac_limit
              + [udp(near, far, 400 + i) for i in range(3)])
    a_in, a_out = os.path.join(rundir, "a-in.pcap"), os.path.join(rundir, "a-out.pcap")
    wrpcap(a_in, frames)
    switch.rpc("add-port", {"name": "a", "type": "dpdk", "tag": 10, "mac_limit": 1,
                            "devargs": f"net_pcap_a,rx_pcap={a_in},tx_pcap={a_out}"})
    deadline = time.monotonic() + 10
    while port_stats(switch, "a")["rx_packets"] < len(frames) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    st = port_stats(switch, "a")
    assert st["rx_packets"] == len(frames)
    assert st["drops"]["mac_limit"] == 40
    assert st["flood_packets"] == 20
    assert port_stats(switch, "t")["tx_packets"] == 73
    switch.rpc("del-port", {"name": "t"})        # closes (and flushes) t's tx pcap
    got = rdpcap(t_out)
    assert [int.from_bytes(bytes(f[Raw])[:4], "big") for f in got] == (
        list(range(40)) + list(range(100, 120)) + list(range(200, 210)) + list(range(400, 403)))
    assert all(f[Dot1Q].vlan == 10 and f.src == near for f in got)
    assert [f[Dot1Q].prio for f in got] == [0] * 60 + [5] * 10 + [0] * 3
    assert all(Dot1Q not in f[Dot1Q].payload for f in got)   # the priority tag went


# --------------------------------------------------------- ping and isolation

def test_ping_isolated_from_other_vlan(switch, hosts):
    a = hosts("a", ip="10.0.0.1", tag=100)
    b = hosts("b", ip="10.0.0.2", tag=100)
    c = hosts("c", ip="10.0.0.3", tag=200)
    sc = c.sniff(4.0)
    r = a.ns.exec(*PING, "-c", "5", "-i", "0.2", "-W", "2", "10.0.0.2", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0% packet loss" in r.stdout
    seen = sc.frames()
    assert [f for f in seen if f.src in (a.mac, b.mac)] == [], seen
    r = c.ns.exec(*PING, "-c", "2", "-i", "0.2", "-w", "2", "10.0.0.1", check=False)
    assert r.returncode != 0
    assert port_stats(switch, "b")["tx_packets"] >= 5


def test_ports_added_and_removed_while_forwarding(switch, hosts):
    a = hosts("a", ip="10.0.1.1", tag=100)
    hosts("b", ip="10.0.1.2", tag=100)
    ping = subprocess.Popen(["ip", "netns", "exec", a.ns.name] + PING + ["-c", "20", "-i", "0.1",
                                                                   "-W", "1", "10.0.1.2"], stdout=subprocess.PIPE, text=True)
    for i in range(3):
        hosts(f"x{i}", tag=100 + i)
        switch.rpc("del-port", {"name": f"x{i}"})
    out, _ = ping.communicate(timeout=30)
    assert ping.returncode == 0 and " 0% packet loss" in out, out


# -------------------------------------------------------------- admin, capture

def test_admin_down_stops_forwarding(switch, hosts):
    a = hosts("a", tag=10)
    b = hosts("b", tag=10)
    switch.rpc("set-port", {"name": "b", "admin": "down"})
    sb = b.sniff(1.0)
    a.send(bcast(a.mac))
    assert frames_from(sb.frames(), a.mac) == []
    switch.rpc("set-port", {"name": "b", "admin": "up"})
    sb = b.sniff(1.0)
    a.send(bcast(a.mac))
    assert len(frames_from(sb.frames(), a.mac)) == 1


@pytest.mark.skipif(not vessel.have("tshark"), reason="needs tshark")
def test_capture_pcapng_reads_in_tshark(switch, hosts, rundir):
    a = hosts("a", tag=10)
    hosts("t", trunks="10")
    path = os.path.join(rundir, "cap.pcapng")
    ctl = subprocess.Popen([vessel.binary("vswitchctl"), "-s", switch.sock, "--json", "capture",
                            "t", path, "count=6", "duration=10"], stdout=subprocess.PIPE,
                           text=True, env=switch.env)
    time.sleep(0.5)
    for i in range(3):
        a.send(bcast(a.mac, payload=b"cap%d" % i))
    out, _ = ctl.communicate(timeout=30)
    res = json.loads(out)
    assert res["packets"] == 3 and res["lost"] == 0, res
    r = vessel.run(["tshark", "-r", path, "-T", "fields", "-e", "vlan.id", "-e", "eth.src"])
    assert r.returncode == 0, r.stderr
    assert "alformed" not in r.stdout + r.stderr
    lines = [ln.split("\t") for ln in r.stdout.strip().splitlines()]
    assert lines == [["10", a.mac]] * 3                     # as sent on the trunk: tagged


def test_ctl_tables_and_errors(switch, hosts):
    hosts("a", tag=10)
    r = switch.ctl("show")
    assert r.returncode == 0 and 'Port "a"' in r.stdout and "tag: 10" in r.stdout
    r = switch.ctl("dump-ports")
    assert r.returncode == 0 and "rx pkts=" in r.stdout
    r = switch.ctl("fdb-show")
    assert r.returncode == 0 and "MAC" in r.stdout
    r = switch.ctl("pmd-stats")
    assert r.returncode == 0 and "cycles per packet" in r.stdout and "a:0" in r.stdout
    r = switch.ctl("add-port", "a", "type=internal")
    assert r.returncode == 1 and "already exists" in r.stderr
    r = switch.ctl("add-port", "z", "type=dpdk", "devargs=net_af_packet_nope,iface=nonexistent0")
    assert r.returncode == 1 and "probe" in r.stderr
    r = switch.ctl("add-port", "z", "type=internal", "tag=10", "trunks=10")
    assert r.returncode == 1 and "trunks" in r.stderr
    r = switch.ctl("set-port", "a", "mtu=9000")
    assert r.returncode == 1 and "jumbo" in r.stderr
    r = switch.ctl("capture", "a", "/tmp/x.pcapng", "--count", "3")
    assert r.returncode == 2
    r = switch.ctl("del-port", "nope")
    assert r.returncode == 1
    for args, words in ((["tag=5000"], "tag 5000"), (["trunks=10-5"], "bad VLAN list"),
                        (["vlan_mode=hybrid"], "vlan_mode"), (["ofport=1"], "taken"),
                        (["ofport=5000"], "ofport 5000"), (["type=bogus"], "unknown port type"),
                        (["vlan_mode=trunk", "native_vlan=7"], "native_vlan needs"), (["mtu=20"], "mtu 20"),
                        (["admin=sideways"], "admin")):
        params = ["z", "type=internal"] + args if "type=bogus" not in args else ["z"] + args
        r = switch.ctl("add-port", *params)
        assert r.returncode == 1 and words in r.stderr, (args, r.stderr)
    assert [p["name"] for p in switch.rpc("show")["ports"]] == ["a"]


def test_save_config_rebuilds_ports(switch, hosts, start_vswitchd, rundir):
    hosts("a", tag=10, ofport=7)
    hosts("t", trunks="10,20-22", native_vlan=5, vlan_mode="native-tagged", mac_limit=9)
    switch.rpc("set-bridge", {"ageing": 77})
    saved = switch.rpc("save-config")
    cfg = os.path.join(rundir, "vswitchd.json")
    with open(cfg, "w") as f:
        json.dump(saved, f)
    before = switch.rpc("show")
    switch.stop()
    d2 = start_vswitchd(args=["-c", cfg])
    after = d2.rpc("show")
    keys = ("name", "type", "devargs", "ofport", "tag", "trunks", "native_vlan", "vlan_mode",
            "mac_limit")
    assert [{k: p.get(k) for k in keys} for p in after["ports"]] == \
        [{k: p.get(k) for k in keys} for p in before["ports"]]
    assert after["bridge"]["ageing"] == 77
    by_name = {p["name"]: p for p in after["ports"]}
    assert by_name["a"]["ofport"] == 7 and by_name["t"]["ofport"] == 1
    assert by_name["t"]["trunks"] == "10,20-22" and by_name["t"]["vlan_mode"] == "native-tagged"


def test_internal_port_is_a_tap(switch, hosts, netns):
    """An internal port is a TAP interface; moved into a namespace, its stack
    pings a host on the same access VLAN through the switch."""
    a = hosts("a", ip="10.0.2.1", tag=30)
    name = f"vsi{uuid.uuid4().hex[:6]}"
    switch.rpc("add-port", {"name": name, "type": "internal", "tag": 30})
    try:
        ns = netns("tap")
        subprocess.run(["ip", "link", "set", name, "netns", ns.name], check=True)
        ns.exec("ip", "addr", "add", "10.0.2.2/24", "dev", name)
        ns.exec("ip", "link", "set", name, "up")
        r = a.ns.exec(*PING, "-c", "3", "-i", "0.2", "-W", "2", "10.0.2.2", check=False)
        assert r.returncode == 0 and " 0% packet loss" in r.stdout, r.stdout + r.stderr
        assert port_stats(switch, name)["rx_packets"] >= 3
    finally:
        switch.rpc("del-port", {"name": name})


def test_mtu(switch, hosts, rundir):
    hosts("a", tag=10)
    # af_packet receives at most its frame size: a jumbo MTU is refused clearly.
    with pytest.raises(vessel.RpcError, match="MTU 9000.*net_af_packet receives at most"):
        switch.rpc("add-port", {"name": "j", "type": "dpdk", "mtu": 9000,
                                "devargs": "net_af_packet_j,iface=lo"})
    # vhost-user takes it: the port receives into the jumbo pool.
    p = switch.rpc("add-port", {"name": "vj", "type": "vhost-user", "mtu": 9000,
                                "path": os.path.join(rundir, "vj.sock")})
    assert p["mtu"] == 9000
    switch.rpc("set-port", {"name": "a", "mtu": 1400})
    (st,) = switch.rpc("dump-ports", {"name": "a"})
    assert st["mtu"] == 1400


def test_two_pmds_share_ports(start_vswitchd, netns):
    """Two PMDs (lcores 1 and 2 both on CPU 1, so this runs on 2 cores): rx
    queues are spread over both, af_packet ports have one tx queue that both
    PMDs share under its lock, and learning happens on both."""
    sw = start_vswitchd(extra=["--lcores", "0@0,1@1,2@1"])
    sw.rpc("set-bridge", {"pmd_sleep_max_us": 100})
    made = []
    try:
        hs = []
        for i, ip in enumerate(("10.0.3.1", "10.0.3.2", "10.0.3.3", "10.0.3.4")):
            ns = netns(f"m{i}")
            veth = f"vm{i}{uuid.uuid4().hex[:6]}"
            vessel.veth_pair(veth, "p" + veth[1:], ns)
            made.append(veth)
            subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{veth}.disable_ipv6=1"], check=True)
            ns.exec("ip", "link", "set", "p" + veth[1:], "name", "eth0")
            ns.exec("ip", "addr", "add", f"{ip}/24", "dev", "eth0")
            ns.exec("ip", "link", "set", "eth0", "up")
            sw.rpc("add-port", {"name": f"m{i}", "type": "dpdk", "tag": 40,
                                "devargs": f"net_af_packet_{veth},iface={veth}"})
            hs.append(ns)
        pmds = sw.rpc("pmd-stats")
        assert len(pmds) == 2
        assert sorted(q for p in pmds for q in p["rxqs"]) == ["m0:0", "m1:0", "m2:0", "m3:0"]
        assert all(len(p["rxqs"]) == 2 for p in pmds)
        procs = [subprocess.Popen(["ip", "netns", "exec", hs[i].name] + PING +
                                  ["-c", "10", "-i", "0.05", "-W", "2", f"10.0.3.{j}"],
                                  stdout=subprocess.PIPE, text=True)
                 for i, j in ((0, 2), (1, 3), (2, 4), (3, 1))]
        for p in procs:
            out, _ = p.communicate(timeout=30)
            assert p.returncode == 0 and " 0% packet loss" in out, out
        assert all(p["packets"] > 0 for p in sw.rpc("pmd-stats"))
        assert len([e for e in sw.rpc("fdb-show") if e["vlan"] == 40]) == 4
    finally:
        for v in made:
            vessel.link_delete(v)


def write_pcap(path, frames):
    """A classic pcap file (Ethernet) of raw frames, without scapy's per-frame cost."""
    import struct
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)))
            f.write(fr)


@pytest.mark.slow
def test_mac_flood_is_bounded(switch, hosts, rundir):
    """100,000 source MACs on one port: the FDB stops at its size, refusals are
    counted, and the other hosts keep talking."""
    a = hosts("a", ip="10.0.4.1", tag=50)
    hosts("b", ip="10.0.4.2", tag=50)
    n = 100000
    body = bytes.fromhex("0800") + bytes(46)
    frames = [bytes.fromhex("ffffffffffff") + b"\x02\x01" + i.to_bytes(4, "big") + body
              for i in range(n)]
    pin = os.path.join(rundir, "flood.pcap")
    write_pcap(pin, frames)
    switch.rpc("add-port", {"name": "flood", "type": "dpdk", "tag": 50,
                            "devargs": f"net_pcap_flood,rx_pcap={pin},"
                                       f"tx_pcap={os.path.join(rundir, 'flood-out.pcap')}"})
    deadline = time.monotonic() + 30
    while port_stats(switch, "flood")["rx_packets"] < n and time.monotonic() < deadline:
        time.sleep(0.2)
    assert port_stats(switch, "flood")["rx_packets"] == n
    br = switch.rpc("show")["bridge"]
    assert br["fdb_entries"] <= br["fdb_capacity"]
    assert br["fdb_entries"] + br["fdb_full"] >= n
    assert br["fdb_full"] > 0
    r = a.ns.exec(*PING, "-c", "3", "-i", "0.2", "-W", "2", "10.0.4.2", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    # (With the table full, a and b were not learned: their ping was flooded.
    # A per-port mac_limit is what keeps one port from doing that.)
    assert switch.rpc("fdb-flush", {"port": "flood"})["flushed"] > 60000
    assert [e for e in switch.rpc("fdb-show") if e["port"] == "flood"] == []
