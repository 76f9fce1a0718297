"""VXLAN (RFC 7348) with real peers: the Linux kernel's VXLAN device, a second
vswitchd, tshark, and hand-made bad frames.

Topologies (every namespace and interface name carries a random tag and is
removed at the end):

  kernel interop   tenant ns T1 --veth-- vswitchd [t1 vni=100, vx0 on underlay ul]
                   ul --veth-- ns "host B": eth0 192.168.77.2, vxlan100 (kernel),
                   br0 { vxlan100, vb } --veth-- tenant ns T2
  two switches     vswitchd A and vswitchd B, each in its own namespace (a host),
                   underlays joined by one veth pair, tenants' namespaces in
                   VNIs 100, 200 (same MAC and IP on both) and 300
  bad input        vswitchd with a VTEP on a TAP underlay, fed crafted frames
                   (scapy) from a raw socket on the TAP's kernel side

Needs root (namespaces, hugepages) and, for the captures, tshark; skips
elsewhere.
"""
import json
import shutil
import subprocess
import time
import uuid

import pytest

import vessel

from scapy.all import ARP, Ether, ICMP, IP, UDP, Raw, raw  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402

pytestmark = [pytest.mark.root]

BCAST = "ff:ff:ff:ff:ff:ff"
VTEP_A = "192.168.77.1"
VTEP_B = "192.168.77.2"

# Runs inside a namespace: "send IFACE HEX..." or "sniff IFACE SECONDS".
NS_SCRIPT = r'''
import json, socket, sys, time, select
mode, iface = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
if mode == "send":
    for h in sys.argv[3:]:
        s.send(bytes.fromhex(h))
    sys.exit(0)
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
    data, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    out.append(data.hex())
print(json.dumps(out), flush=True)
'''


def tag():
    return uuid.uuid4().hex[:5]


def sh(*cmd):
    subprocess.run(list(cmd), check=True, capture_output=True, text=True)


def no_ipv6(ns=None, dev=None):
    key = f"net.ipv6.conf.{dev}.disable_ipv6=1" if dev else "net.ipv6.conf.all.disable_ipv6=1"
    if ns:
        ns.exec("sysctl", "-qw", key)
        ns.exec("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
    else:
        sh("sysctl", "-qw", key)


class Sniffer:
    """Captures what arrives on iface (in namespace ns, or the root one)."""

    def __init__(self, ns, seconds=2.0, iface="eth0"):
        pre = ["ip", "netns", "exec", ns.name] if ns else []
        self.proc = subprocess.Popen(
            pre + ["/usr/bin/python3", "-c", NS_SCRIPT, "sniff", iface, str(seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "READY", self.proc.stderr.read()

    def frames(self):
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return [Ether(bytes.fromhex(h)) for h in json.loads(out)]


def ns_send(ns, *frames, iface="eth0"):
    assert ns is not None or iface != "eth0", "root namespace: name the interface"
    args = ["/usr/bin/python3", "-c", NS_SCRIPT, "send", iface, *[raw(f).hex() for f in frames]]
    if ns:
        ns.exec(*args)
    else:
        sh(*args)


def tenant(netns, name, root_if, mac, ip, mtu=None):
    """A namespace whose eth0 is the peer of root_if (left in the root namespace)."""
    ns = netns(name)
    peer = "q" + root_if[1:]
    vessel.veth_pair(root_if, peer, ns)
    no_ipv6(dev=root_if)
    no_ipv6(ns)
    ns.exec("ip", "link", "set", peer, "name", "eth0")
    ns.exec("ip", "link", "set", "eth0", "address", mac)
    if mtu:
        sh("ip", "link", "set", root_if, "mtu", str(mtu))
        ns.exec("ip", "link", "set", "eth0", "mtu", str(mtu))
    ns.exec("ip", "link", "set", "eth0", "up")
    if ip:
        ns.exec("ip", "addr", "add", ip, "dev", "eth0")
    return ns


def af_packet(iface):
    return f"net_af_packet_{iface},iface={iface}"


def ping(ns, dst, tries=10):
    """Pings until one round succeeds (the first may wait for ARP on both layers)."""
    res = None
    for _ in range(tries):
        res = ns.exec("ping", "-c", "3", "-i", "0.2", "-W", "1", dst, check=False, timeout=30)
        if res.returncode == 0 and " 0% packet loss" in res.stdout:
            return res.stdout
        time.sleep(0.3)
    raise AssertionError(f"ping {dst} failed:\n{res.stdout}{res.stderr}")


def wait_for(fn, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def vtep(sw):
    return sw.rpc("vtep-show")


def vni_entry(show, vni):
    (e,) = [v for v in show["vnis"] if v["vni"] == vni]
    return e


@pytest.fixture
def switch(start_vswitchd):
    d = start_vswitchd()
    d.rpc("set-bridge", {"pmd_sleep_max_us": 200})
    return d


@pytest.fixture
def links():
    made = []
    yield made
    for name in made:
        vessel.link_delete(name)


# --------------------------------------------------------------- kernel peer

@pytest.fixture
def kernel_peer(switch, netns, links):
    """vswitchd's tenant t1 (VNI 100) and a kernel VTEP 'host B' with tenant T2."""
    t = tag()
    ul, t1if = f"vu{t}", f"vt{t}"
    links += [ul, t1if]
    hb = netns("vxb")
    vessel.veth_pair(ul, "q" + ul[1:], hb)
    no_ipv6(dev=ul)
    no_ipv6(hb)
    hb.exec("ip", "link", "set", "q" + ul[1:], "name", "eth0")
    hb.exec("ip", "link", "set", "eth0", "up")
    hb.exec("ip", "addr", "add", f"{VTEP_B}/24", "dev", "eth0")
    hb.exec("ip", "link", "add", "vxlan100", "type", "vxlan", "id", "100", "local", VTEP_B,
            "remote", VTEP_A, "dstport", "4789", "dev", "eth0")
    hb.exec("ip", "link", "add", "br0", "type", "bridge")
    hb.exec("ip", "link", "set", "vxlan100", "master", "br0")
    t2 = netns("vxt2")
    hb.exec("ip", "link", "add", "vb", "type", "veth", "peer", "name", "eth0", "netns", t2.name)
    no_ipv6(t2)
    t2.exec("ip", "link", "set", "eth0", "address", "02:00:00:00:02:02")
    t2.exec("ip", "link", "set", "eth0", "mtu", "1450")
    t2.exec("ip", "addr", "add", "10.100.0.2/24", "dev", "eth0")
    t2.exec("ip", "link", "set", "eth0", "up")
    hb.exec("ip", "link", "set", "vb", "master", "br0")
    for dev in ("vxlan100", "vb", "br0"):
        hb.exec("ip", "link", "set", dev, "up")

    # The underlay keeps MTU 1500 (net_af_packet receives at most 1518-byte
    # frames), so tenants get 1450, as the kernel's VXLAN device does.
    t1 = tenant(netns, "vxt1", t1if, "02:00:00:00:01:01", "10.100.0.1/24", mtu=1450)
    switch.rpc("add-port", {"name": "ul", "type": "dpdk", "devargs": af_packet(ul)})
    switch.rpc("add-port", {"name": "t1", "type": "dpdk", "devargs": af_packet(t1if),
                            "vni": 100})
    switch.rpc("add-port", {"name": "vx0", "type": "vxlan", "local_ip": VTEP_A,
                            "underlay": "ul"})
    switch.rpc("vtep-add-remote", {"vni": 100, "remote": VTEP_B})
    return switch, hb, t1, t2, ul


def test_kernel_vxlan_interop(kernel_peer, tmp_path):
    switch, hb, t1, t2, ul = kernel_peer
    tshark = shutil.which("tshark")
    pcap = tmp_path / "underlay.pcapng"
    cap = None
    if tshark:
        # On host B's end of the underlay: DPDK's af_packet sends with
        # PACKET_QDISC_BYPASS, which packet taps on its own side do not see.
        cap = subprocess.Popen(["ip", "netns", "exec", hb.name, tshark, "-i", "eth0", "-w",
                                str(pcap), "-q"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: pcap.exists() and pcap.stat().st_size > 0, 20, "tshark to start")
    try:
        out = ping(t1, "10.100.0.2")          # T1 -> behind the kernel VTEP
        assert "ttl=64" in out
        ping(t2, "10.100.0.1")                # and back
    finally:
        if cap:
            time.sleep(0.5)
            cap.terminate()
            cap.wait(timeout=20)

    # ARP crossed the tunnel: each tenant resolved the other's MAC.
    assert "02:00:00:00:02:02" in t1.exec("ip", "neigh", "show", "10.100.0.2").stdout
    assert "02:00:00:00:01:01" in t2.exec("ip", "neigh", "show", "10.100.0.1").stdout

    # Learned on both sides: the kernel's VXLAN FDB points T1's MAC at us ...
    fdb_b = hb.exec("bridge", "fdb", "show", "dev", "vxlan100").stdout
    assert any("02:00:00:00:01:01" in line and f"dst {VTEP_A}" in line
               for line in fdb_b.splitlines()), fdb_b
    # ... and ours points T2's MAC at the kernel VTEP, in VNI 100's FDB.
    show = vtep(switch)
    e = vni_entry(show, 100)
    assert {"mac": "02:00:00:00:02:02", "port": "vx0", "remote": VTEP_B} in [
        {k: m[k] for k in ("mac", "port", "remote") if k in m} for m in e["macs"]], e
    assert any(m["mac"] == "02:00:00:00:01:01" and m["port"] == "t1" for m in e["macs"]), e
    fdb = switch.rpc("fdb-show")
    assert any(f["mac"] == "02:00:00:00:02:02" and f.get("vni") == 100 and
               f.get("remote") == VTEP_B for f in fdb), fdb
    assert e["rx_packets"] >= 6 and e["tx_packets"] >= 6, e
    assert e["ports"] == ["t1"] and e["remotes"] == [VTEP_B]
    (rem,) = [r for r in show["remotes"] if r["remote"] == VTEP_B]
    assert rem["rx_packets"] >= 6 and rem["tx_packets"] >= 6 and rem["vnis"] == [100]
    (nb,) = [n for n in show["neighbors"] if n["ip"] == VTEP_B]
    assert nb["state"] == "reachable"
    assert nb["mac"] == hb.exec("cat", "/sys/class/net/eth0/address").stdout.strip()
    (vt,) = show["vteps"]
    assert vt["arp_replies"] >= 1 or vt["arp_requests"] >= 1
    assert vt["tenant_mtu"] == 1450 and vt["underlay_mtu"] == 1500

    # The CLI shows the same.
    text = switch.ctl("vtep-show", check=True).stdout
    assert "VNI 100" in text and f"via {VTEP_B}" in text and f"neighbor {VTEP_B}" in text

    if not tshark:
        pytest.skip("tshark not installed: underlay capture not checked")
    prefs = ["-o", "ip.check_checksum:TRUE"]
    res = vessel.run([tshark, "-r", str(pcap), *prefs, "-T", "fields", "-E", "separator=|",
                      "-e", "frame.protocols", "-e", "ip.src", "-e", "ip.flags.df",
                      "-e", "ip.ttl", "-e", "ip.checksum.status", "-e", "udp.dstport",
                      "-e", "udp.checksum", "-e", "vxlan.vni", "-e", "udp.srcport"])
    assert res.returncode == 0, res.stderr
    rows = [r.split("|") for r in res.stdout.splitlines() if r]
    vx = [r for r in rows if ":vxlan:" in r[0]]
    assert len(vx) >= 12, res.stdout
    for r in rows:
        protos = r[0]
        assert protos in ("eth:ethertype:arp",) or protos.startswith(
            "eth:ethertype:ip:udp:vxlan:eth:ethertype:"), f"not VXLAN or ARP: {r}"
    ours = [r for r in vx if r[1].split(",")[0] == VTEP_A]
    assert len(ours) >= 6
    for r in ours:
        _, src, df, ttl, ck, dport, udpck, vni, sport = r
        assert df.split(",")[0] in ("1", "True"), r
        assert ttl.split(",")[0] == "64", r
        assert ck.split(",")[0] == "1", r      # checksum good
        assert dport.split(",")[0] == "4789" and vni == "100", r
        assert int(udpck.split(",")[0], 16) == 0, r
        assert 49152 <= int(sport.split(",")[0]) <= 65535, r
    res = vessel.run([tshark, "-r", str(pcap), *prefs, "-Y", "_ws.malformed || _ws.expert"
                      ".severity >= 6291456"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"malformed or warned frames:\n{res.stdout}"


def test_kernel_vxlan_mtu_and_save_config(kernel_peer, tmp_path):
    switch, hb, t1, t2, ul = kernel_peer
    ping(t1, "10.100.0.2")
    # Full-size tenant packets (1450-byte IP in a 1500-byte underlay) pass ...
    ping_big = t1.exec("ping", "-c", "2", "-M", "do", "-s", "1422", "-W", "2", "10.100.0.2",
                       check=False)
    assert ping_big.returncode == 0, ping_big.stdout
    # ... one byte more is dropped and counted, never truncated.
    t1.exec("ip", "link", "set", "eth0", "mtu", "1500")
    before = vtep(switch)["vteps"][0]["drops"]["mtu"]
    ping_big = t1.exec("ping", "-c", "2", "-M", "do", "-s", "1423", "-W", "1", "10.100.0.2",
                       check=False)
    assert ping_big.returncode != 0
    assert vtep(switch)["vteps"][0]["drops"]["mtu"] == before + 2
    ping(t1, "10.100.0.2")                    # smaller frames still pass

    switch.rpc("vtep-add-neighbor", {"ip": "192.168.77.9", "mac": "02:aa:bb:cc:dd:09"})
    cfg = tmp_path / "vsw.json"
    switch.rpc("save-config", {"path": str(cfg)})
    calls = json.loads(cfg.read_text())
    calls = calls["calls"] if isinstance(calls, dict) else calls
    text = json.dumps(calls)
    assert '"vtep-add-remote"' in text and VTEP_B in text
    assert '"vtep-add-neighbor"' in text and "02:aa:bb:cc:dd:09" in text
    vx = [c for c in calls if c.get("method") == "add-port" and
          c["params"].get("type") == "vxlan"]
    assert vx and vx[0]["params"]["local_ip"] == VTEP_A and vx[0]["params"]["underlay"] == "ul"
    t1p = [c for c in calls if c.get("method") == "add-port" and c["params"]["name"] == "t1"]
    assert t1p[0]["params"]["vni"] == 100 and "tag" not in t1p[0]["params"]

    # The underlay cannot go while the vxlan port uses it; bad options name the field.
    with pytest.raises(vessel.RpcError, match="underlay"):
        switch.rpc("del-port", {"name": "ul"})
    with pytest.raises(vessel.RpcError, match="local_ip"):
        switch.rpc("add-port", {"name": "vx1", "type": "vxlan", "local_ip": "300.1.1.1",
                                "underlay": "t1"})
    with pytest.raises(vessel.RpcError, match="underlay"):
        switch.rpc("add-port", {"name": "vx1", "type": "vxlan", "local_ip": "10.0.0.1",
                                "underlay": "ul"})
    with pytest.raises(vessel.RpcError, match="vni"):
        switch.rpc("set-port", {"name": "t1", "vni": 99999999})

    # Replay into a fresh vswitchd rebuilds the VTEP (the veths are the same).
    switch.stop()
    d2 = vessel.Daemon("vswitchd", switch.rundir, args=["-c", str(cfg)])
    d2.sock = switch.sock
    d2.start()
    try:
        show = vtep(d2)
        assert show["vteps"][0]["local_ip"] == VTEP_A
        assert vni_entry(show, 100)["remotes"] == [VTEP_B]
        assert any(n["ip"] == "192.168.77.9" and n["state"] == "static"
                   for n in show["neighbors"])
        ping(t1, "10.100.0.2")
    finally:
        d2.stop()


# --------------------------------------------------------------- two switches

class NsDaemon(vessel.Daemon):
    """A vswitchd started inside a network namespace: a host of its own."""

    def __init__(self, ns, rundir):
        super().__init__("vswitchd", rundir)
        self.ns = ns

    def cmdline(self):
        return ["ip", "netns", "exec", self.ns.name] + super().cmdline()


def test_two_vswitchd_three_tenants(dpdk_env, netns):
    """Hosts A and B: a vswitchd each, in its own namespace, underlays joined
    by a veth; tenants' namespaces hang off each host by veths."""
    host_a, host_b = netns("hosta"), netns("hostb")
    for h in (host_a, host_b):
        no_ipv6(h)
    sh("ip", "link", "add", "ul", "netns", host_a.name, "type", "veth", "peer", "name", "ul",
       "netns", host_b.name)
    for h in (host_a, host_b):
        h.exec("ip", "link", "set", "ul", "up")
    daemons, rundirs = [], []
    try:
        for h in (host_a, host_b):
            rundirs.append(vessel.short_tmpdir())
            daemons.append(NsDaemon(h, rundirs[-1]).start())
        _two_switches(*daemons, host_a, host_b, netns)
    finally:
        for d in daemons:
            d.stop()
        for r in rundirs:
            shutil.rmtree(r, ignore_errors=True)


def _two_switches(a, b, host_a, host_b, netns):
    for sw in (a, b):
        sw.rpc("set-bridge", {"pmd_sleep_max_us": 200})
        sw.rpc("add-port", {"name": "ul", "type": "dpdk", "devargs": af_packet("ul")})
    a.rpc("add-port", {"name": "vx0", "type": "vxlan", "local_ip": VTEP_A, "underlay": "ul"})
    b.rpc("add-port", {"name": "vx0", "type": "vxlan", "local_ip": VTEP_B, "underlay": "ul"})

    same_mac = "02:00:00:00:aa:01"
    ends = {}
    for sw, host, name, vni, mac, ip in (
            (a, host_a, "a100", 100, same_mac, "10.1.0.1/24"),
            (a, host_a, "a200", 200, same_mac, "10.1.0.1/24"),  # same MAC and IP, other tenant
            (b, host_b, "b100", 100, "02:00:00:00:bb:01", "10.1.0.2/24"),
            (b, host_b, "b200", 200, "02:00:00:00:bb:02", "10.1.0.2/24"),
            (b, host_b, "b300", 300, "02:00:00:00:bb:03", "10.1.0.3/24")):
        ns = netns(name)
        no_ipv6(ns)
        sh("ip", "link", "add", name, "netns", host.name, "type", "veth", "peer", "name", "eth0",
           "netns", ns.name)
        host.exec("ip", "link", "set", name, "up")
        ns.exec("ip", "link", "set", "eth0", "address", mac)
        ns.exec("ip", "link", "set", "eth0", "mtu", "1450")
        ns.exec("ip", "link", "set", "eth0", "up")
        ns.exec("ip", "addr", "add", ip, "dev", "eth0")
        ends[name] = ns
        sw.rpc("add-port", {"name": name, "type": "dpdk", "devargs": af_packet(name),
                            "vni": vni})
    for vni in (100, 200):
        a.rpc("vtep-add-remote", {"vni": vni, "remote": VTEP_B})
    for vni in (100, 200, 300):
        b.rpc("vtep-add-remote", {"vni": vni, "remote": VTEP_A})

    ping(ends["a100"], "10.1.0.2")
    ping(ends["b200"], "10.1.0.1")
    ping(ends["a200"], "10.1.0.2")

    # Each tenant reached its own peer: the MAC each resolved is its VNI's.
    assert "02:00:00:00:bb:01" in ends["a100"].exec("ip", "neigh", "show", "10.1.0.2").stdout
    assert "02:00:00:00:bb:02" in ends["a200"].exec("ip", "neigh", "show", "10.1.0.2").stdout
    # The same MAC, learned twice on B: once per VNI, each behind VTEP A.
    fdb_b = [(f.get("vni"), f["mac"], f["port"], f.get("remote")) for f in b.rpc("fdb-show")]
    assert (100, same_mac, "vx0", VTEP_A) in fdb_b, fdb_b
    assert (200, same_mac, "vx0", VTEP_A) in fdb_b, fdb_b
    fdb_a = [(f.get("vni"), f["mac"], f["port"]) for f in a.rpc("fdb-show")]
    assert (100, same_mac, "a100") in fdb_a and (200, same_mac, "a200") in fdb_a, fdb_a

    # Broadcasts stay in their VNI: b100 sees a100's, b200 and b300 never do.
    probe = Ether(src=same_mac, dst=BCAST) / IP(src="10.1.0.1", dst="10.1.0.255") / UDP(
        sport=7, dport=9) / Raw(b"vni-100-only")
    # Long windows: the four sniffers start one after the other.
    sniffers = {n: Sniffer(ends[n], 6.0) for n in ("b100", "b200", "b300", "a200")}
    ns_send(ends["a100"], probe, probe)
    got = {n: [f for f in s.frames() if b"vni-100-only" in raw(f)] for n, s in sniffers.items()}
    assert len(got["b100"]) == 2, got
    assert got["b200"] == [] and got["b300"] == [] and got["a200"] == [], got

    # VNI 300 exists only on B: A drops it as an unknown VNI and counts it.
    ns_send(ends["b300"], Ether(src="02:00:00:00:bb:03", dst=BCAST) / IP(
        src="10.1.0.3", dst="10.1.0.255") / UDP(sport=7, dport=9) / Raw(b"x"))
    wait_for(lambda: vtep(a)["vteps"][0]["drops"]["unknown_vni"] >= 1, 10, "unknown_vni on A")
    for n in ("a100", "a200"):
        assert vni_entry(vtep(a), int(n[1:]))["rx_packets"] >= 3


# --------------------------------------------------------------- bad input

def test_bad_underlay_input_dropped_by_reason(switch, netns, links):
    # The underlay is a TAP (net_tap) fed from a raw socket on its kernel side:
    # net_af_packet cannot be used here, because DPDK opens its sockets with
    # PACKET_FANOUT_FLAG_DEFRAG and the kernel would hold IP fragments back
    # for reassembly instead of delivering them.
    t = tag()
    ul, t1if = f"vx{t}", f"vt{t}"
    links += [t1if]
    t1 = tenant(netns, "vxt1", t1if, "02:00:00:00:01:01", None)
    switch.rpc("add-port", {"name": "ul", "type": "dpdk", "devargs": f"net_tap_{ul},iface={ul}"})
    no_ipv6(dev=ul)
    sh("ip", "link", "set", ul, "up")
    hb = None
    switch.rpc("add-port", {"name": "t1", "type": "dpdk", "devargs": af_packet(t1if),
                            "vni": 100})
    switch.rpc("add-port", {"name": "vx0", "type": "vxlan", "local_ip": VTEP_A,
                            "underlay": "ul"})
    mine = (switch.rpc("dump-ports", {"name": "ul"})[0]["mac"]).lower()

    inner = Ether(src="02:00:00:00:0c:0c", dst=BCAST) / IP(src="10.100.0.9",
                                                            dst="10.100.0.255") / UDP() / Raw(
        b"tenant")
    base = Ether(src="02:00:00:00:0b:0b", dst=mine) / IP(src=VTEP_B, dst=VTEP_A, flags="DF")

    def vx(vni=100, flags=0x08, dport=4789):
        return base / UDP(sport=50000, dport=dport) / VXLAN(flags=flags, vni=vni) / inner

    good = vx()
    cut_udp = raw(good)[:14 + 20 + 4]
    cut_udp = Ether(cut_udp[:14]) / Raw(cut_udp[14:])    # IPv4 total length beyond the frame
    reserved = bytearray(raw(good))
    reserved[14 + 20 + 8 + 1] = 0x01                    # a reserved bit after the flags
    short_vx = base / UDP(sport=50000, dport=4789) / Raw(b"\x08\x00\x00")
    cases = {
        "truncated": [Ether(src="02:00:00:00:0b:0b", dst=mine, type=0x0800) / Raw(b"\x45\x00"),
                      short_vx],
        "ip_header": [cut_udp],
        "udp_port": [vx(dport=4790)],
        "i_flag": [vx(flags=0x00)],
        "reserved": [Ether(bytes(reserved)), vx(flags=0x0c)],
        "unknown_vni": [vx(vni=999)],
        "fragment": [base.copy() / Raw(b"x")],       # set below
        "udp_length": [base / UDP(sport=50000, dport=4789, len=400) / VXLAN(vni=100) / inner],
        "dst_ip": [Ether(src="02:00:00:00:0b:0b", dst=mine) / IP(src=VTEP_B, dst="192.168.77.50")
                   / UDP(dport=4789) / VXLAN(vni=100) / inner],
        "not_udp": [base / ICMP()],
    }
    frag = Ether(src="02:00:00:00:0b:0b", dst=mine) / IP(src=VTEP_B, dst=VTEP_A, flags="MF",
                                                         proto=17) / raw(
        UDP(sport=50000, dport=4789) / VXLAN(vni=100) / inner)
    frag2 = Ether(src="02:00:00:00:0b:0b", dst=mine) / IP(src=VTEP_B, dst=VTEP_A, frag=100,
                                                          proto=17) / Raw(b"rest")
    cases["fragment"] = [frag, frag2]

    t1_tx = switch.rpc("dump-ports", {"name": "t1"})[0]["tx_packets"]
    for reason, frames in cases.items():
        before = vtep(switch)["vteps"][0]["drops"]
        ns_send(hb, *frames, iface=ul)
        try:
            wait_for(lambda: vtep(switch)["vteps"][0]["drops"][reason] - before[reason] ==
                     len(frames), 10, f"drops.{reason} += {len(frames)}")
        except AssertionError:
            after = vtep(switch)["vteps"][0]["drops"]
            raise AssertionError(f"{reason}: {before} -> {after}")
        after = vtep(switch)["vteps"][0]["drops"]
        # (not_ip: the kernel's own IPv6/LLDP chatter on the TAP may land there.)
        others = {k: after[k] - before[k] for k in after
                  if k not in (reason, "not_ip") and after[k] != before[k]}
        assert others == {}, f"{reason}: other counters moved: {others}"
    # Nothing bad reached the tenant; a good frame does.
    assert switch.rpc("dump-ports", {"name": "t1"})[0]["tx_packets"] == t1_tx
    sniff = Sniffer(t1, 3.0)
    ns_send(hb, good, iface=ul)
    seen = [f for f in sniff.frames() if b"tenant" in raw(f)]
    assert len(seen) == 1 and seen[0].src == "02:00:00:00:0c:0c", seen
    show = vtep(switch)
    assert show["vteps"][0]["decap_packets"] == 1
    # The VTEP answers ARP for its address, on the underlay (asked up to three
    # times, 3 s apart: on a loaded machine an answer may come late, so a
    # window may also see the answer to the previous request).
    req = Ether(src="02:00:00:00:0b:0b", dst=BCAST) / ARP(
        op=1, hwsrc="02:00:00:00:0b:0b", psrc=VTEP_B, pdst=VTEP_A)
    replies = []
    for _ in range(3):
        s = Sniffer(hb, 3.0, iface=ul)
        ns_send(hb, req, iface=ul)
        replies = [f for f in s.frames() if ARP in f and f[ARP].op == 2]
        if replies:
            break
    assert replies, vtep(switch)["vteps"][0]
    r = replies[-1][ARP]
    assert r.psrc == VTEP_A and r.hwsrc == mine and r.pdst == VTEP_B
    assert r.hwdst == "02:00:00:00:0b:0b" and replies[0].dst == "02:00:00:00:0b:0b"
    assert vtep(switch)["vteps"][0]["arp_replies"] >= 1
    # ... and learnt the asker as an underlay neighbour.
    assert {"ip": VTEP_B, "mac": "02:00:00:00:0b:0b", "state": "reachable"} in vtep(
        switch)["neighbors"]


def test_kernel_vxlan_openflow_tunnel_id(kernel_peer):
    """OpenFlow sees the VXLAN port as a port and the VNI as tunnel_id."""
    switch, hb, t1, t2, ul = kernel_peer
    ports = {p["name"]: p["ofport"] for p in switch.rpc("show")["ports"]}
    t1p, vxp = ports["t1"], ports["vx0"]
    switch.rpc("set-bridge", {"fail_mode": "secure"})
    switch.rpc("add-flows", {"flows": [
        f"priority=10,in_port={t1p},actions=set_field:100->tunnel_id,output:{vxp}",
        f"priority=10,in_port={vxp},tun_id=100,actions=output:{t1p}",
    ]})
    ping(t1, "10.100.0.2")
    ping(t2, "10.100.0.1")
    flows = switch.rpc("dump-flows", {"match": f"in_port={vxp}"})
    assert flows and flows[0]["n_packets"] >= 6, flows
    # Steer T1's traffic into VNI 101 instead: the kernel VTEP (VNI 100 only)
    # never sees it as its tenant's, and nothing comes back.
    switch.rpc("mod-flows", {"flow": f"in_port={t1p},actions=set_field:101->tunnel_id,"
                                     f"output:{vxp}", "strict": False})
    switch.rpc("vtep-add-remote", {"vni": 101, "remote": VTEP_B})
    t1.exec("ip", "neigh", "flush", "dev", "eth0")
    res = t1.exec("ping", "-c", "2", "-W", "1", "10.100.0.2", check=False)
    assert res.returncode != 0
    assert vni_entry(vtep(switch), 101)["tx_packets"] >= 2


# ------------------------------------------------- encap cache under changes

SENDER_SCRIPT = r'''
import socket, sys, time
iface, secs, uni, bc = sys.argv[1], float(sys.argv[2]), bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
end = time.monotonic() + secs
while time.monotonic() < end:
    for _ in range(8):          # runs of one flow: the bulk encap path
        s.send(uni)
    s.send(bc)                  # head-end replication
    time.sleep(0.004)
'''


def test_encap_cache_follows_neighbour_and_remote_changes(switch, netns, links):
    """The PMD's encap cache (outer headers per remote and VNI) never sends
    with stale state: while a tenant streams unicast (to a MAC learned behind
    remote B) and broadcast frames, the underlay sees each change take effect
    — a static neighbour's new MAC, a remote added and removed (with its
    counters), a neighbour deleted (ARP asked) and learned, then moved, by
    ARP."""
    t = tag()
    ul, t1if = f"vx{t}", f"vt{t}"
    links += [t1if]
    vtep_c = "192.168.77.3"
    mac_b1, mac_b2, mac_c, mac_c4, mac_c5 = ("02:00:00:00:b1:01", "02:00:00:00:b2:02",
                                             "02:00:00:00:c3:03", "02:00:00:00:c4:04",
                                             "02:00:00:00:c5:05")
    x = "02:00:00:00:0e:0e"               # a tenant behind remote B
    t1 = tenant(netns, "vxt1", t1if, "02:00:00:00:01:01", None)
    switch.rpc("add-port", {"name": "ul", "type": "dpdk", "devargs": f"net_tap_{ul},iface={ul}"})
    no_ipv6(dev=ul)
    sh("ip", "link", "set", ul, "up")
    switch.rpc("add-port", {"name": "t1", "type": "dpdk", "devargs": af_packet(t1if),
                            "vni": 100})
    switch.rpc("add-port", {"name": "vx0", "type": "vxlan", "local_ip": VTEP_A,
                            "underlay": "ul"})
    mine = (switch.rpc("dump-ports", {"name": "ul"})[0]["mac"]).lower()
    switch.rpc("vtep-add-remote", {"vni": 100, "remote": VTEP_B})
    switch.rpc("vtep-add-neighbor", {"ip": VTEP_B, "mac": mac_b1})

    # Teach x behind B: one datagram from B.
    learn = (Ether(src=mac_b1, dst=mine) / IP(src=VTEP_B, dst=VTEP_A, flags="DF") /
             UDP(sport=50000, dport=4789) / VXLAN(flags=0x08, vni=100) /
             Ether(src=x, dst="02:00:00:00:01:01") / IP(src="10.100.0.14", dst="10.100.0.1") /
             UDP() / Raw(b"hello"))

    def learned():
        ns_send(None, learn, iface=ul)        # (again: the TAP may not be up yet)
        time.sleep(0.2)
        return any(m["mac"] == x and m.get("remote") == VTEP_B
                   for m in vni_entry(vtep(switch), 100)["macs"])
    try:
        wait_for(learned, 10, "x learned behind B")
    except AssertionError:
        raise AssertionError(json.dumps(vtep(switch)))

    uni = Ether(src="02:00:00:00:01:01", dst=x) / IP(src="10.100.0.1", dst="10.100.0.14") / \
        UDP(sport=1000, dport=9) / Raw(b"unicast")
    bc = Ether(src="02:00:00:00:01:01", dst=BCAST) / IP(src="10.100.0.1",
                                                         dst="10.100.0.255") / \
        UDP(sport=1000, dport=9) / Raw(b"broadcast")
    sender = subprocess.Popen(["ip", "netns", "exec", t1.name, "/usr/bin/python3", "-c",
                               SENDER_SCRIPT, "eth0", "120", raw(uni).hex(), raw(bc).hex()],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def window(secs=1.0):
        """(outer dst MAC, outer dst IP, kind) of the VXLAN frames seen, and the
        ARP requests (target IPs), in a fresh window."""
        out, arps = [], []
        for f in Sniffer(None, secs, iface=ul).frames():
            if ARP in f and f[ARP].op == 1:
                arps.append(f[ARP].pdst)
            elif VXLAN in f:
                kind = b"unicast" if b"unicast" in raw(f) else b"broadcast" if \
                    b"broadcast" in raw(f) else None
                if kind:
                    assert f[VXLAN].vni == 100 and f[IP].src == VTEP_A and f.src == mine
                    out.append((f.dst, f[IP].dst, kind.decode()))
        return out, arps

    def settles(expect, what, timeout=15.0):
        """Waits for a window whose frames are exactly the set `expect` (and
        some of each)."""
        last = None

        def ok():
            nonlocal last
            last = window()
            return last[0] and set(last[0]) == expect
        try:
            wait_for(ok, timeout, what)
        except AssertionError:
            raise AssertionError(f"{what}: saw {set(last[0]) if last else None}, want {expect}")
        return last

    def remote_cnt(name):
        for r in vtep(switch)["remotes"]:
            if r["remote"] == name:
                return r["tx_packets"]
        return None

    try:
        settles({(mac_b1, VTEP_B, "unicast"), (mac_b1, VTEP_B, "broadcast")}, "to B via b1")
        # A static neighbour's MAC changes: every later frame carries the new one.
        switch.rpc("vtep-add-neighbor", {"ip": VTEP_B, "mac": mac_b2})
        settles({(mac_b2, VTEP_B, "unicast"), (mac_b2, VTEP_B, "broadcast")}, "to B via b2")
        # A second remote joins the VNI: broadcasts to both.
        switch.rpc("vtep-add-neighbor", {"ip": vtep_c, "mac": mac_c})
        switch.rpc("vtep-add-remote", {"vni": 100, "remote": vtep_c})
        settles({(mac_b2, VTEP_B, "unicast"), (mac_b2, VTEP_B, "broadcast"),
                 (mac_c, vtep_c, "broadcast")}, "broadcast to B and C")
        c0 = remote_cnt(vtep_c)
        wait_for(lambda: remote_cnt(vtep_c) > c0, 10, "C's tx counter moves")
        # B leaves the VNI: broadcasts to C only; the unicast still follows
        # the FDB to B, now counted as "other" (B's counter slot is gone).
        other0 = remote_cnt("other")
        switch.rpc("vtep-del-remote", {"vni": 100, "remote": VTEP_B})
        settles({(mac_b2, VTEP_B, "unicast"), (mac_c, vtep_c, "broadcast")}, "B removed")
        assert remote_cnt(VTEP_B) is None
        wait_for(lambda: remote_cnt("other") > other0, 10, "unicast to B counted as other")
        # C's neighbour goes: its frames wait for ARP, which the VTEP asks.
        switch.rpc("vtep-del-neighbor", {"ip": vtep_c})
        wait_for(lambda: vtep_c in window()[1], 15, "an ARP request for C")
        held0 = vtep(switch)["vteps"][0]["neigh_held"]
        wait_for(lambda: vtep(switch)["vteps"][0]["neigh_held"] > held0, 10, "frames held")
        # C answers (learned by ARP), then moves to another MAC (ARP again).
        for mac in (mac_c4, mac_c5):
            reply = Ether(src=mac, dst=mine) / ARP(op=2, hwsrc=mac, psrc=vtep_c,
                                                   hwdst=mine, pdst=VTEP_A)
            ns_send(None, reply, iface=ul)
            settles({(mac_b2, VTEP_B, "unicast"), (mac, vtep_c, "broadcast")},
                    f"C via {mac} (ARP)")
        assert sender.poll() is None, sender.stderr.read()
    finally:
        sender.kill()
        sender.wait()
