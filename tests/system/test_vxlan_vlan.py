"""Trunk VLANs bound to VXLAN VNIs (set-port vlan_vni=VLAN:VNI,...), against
the Linux kernel's VXLAN devices, 802.1Q subinterfaces and tshark.

  ns H --veth-- up1 (trunk 100,200,300; vlan_vni=100:5000,200:6000)
     eth0.100 10.50.0.1 (VLAN 100 -> VNI 5000), eth0.200 10.60.0.1 (VLAN 200 -> VNI 6000);
     both subinterfaces carry eth0's MAC: one MAC in two VNIs
  ns H2 --veth-- up2 (plain trunk): eth0.100 10.50.0.3, VLAN 100 but no VNI;
     later eth0.300 10.50.0.5 with up2's VLAN 300 bound to VNI 5000 too
  ns A4 --veth-- a4 (access port vni=5000): 10.50.0.4
  vswitchd: ul (underlay) + vx0 (VTEP 192.168.77.1), remotes 192.168.77.2 for both VNIs
  ns "host B" --veth-- ul: eth0 192.168.77.2, kernel vxlan5000 10.50.0.2 and
     vxlan6000 10.60.0.2 (no 802.1Q anywhere on B: the inner frames are untagged)

802.1Q hosts. "eth0.100" is the kernel's VLAN subinterface (`ip link add link
eth0 name eth0.100 type vlan id 100`) where the kernel has one. Kernels built
without CONFIG_VLAN_8021Q (this project's test VM among them: "Unknown device
type") get the same interface as a TAP named eth0.100 and a small relay
process in the namespace that does what the 8021q driver would: frames from
eth0 tagged with the VLAN lose their tag and go to the TAP, frames from the
TAP get the tag and leave on eth0 (tags arrive in PACKET_AUXDATA, as the
kernel takes them out of the frame). The IP stack, ARP and ping are the
kernel's either way.

Needs root (namespaces, hugepages); the underlay capture needs tshark.
"""
import json
import shutil
import subprocess
import time

import pytest

import vessel
from test_vxlan import (VTEP_A, VTEP_B, Sniffer, af_packet, links, no_ipv6, ping,  # noqa: F401
                        switch, tag, vtep, vni_entry, wait_for)

pytestmark = [pytest.mark.root]


def ns_on_veth(netns, links, name, root_if):
    """A namespace whose eth0 is the peer of root_if (left in the root namespace)."""
    ns = netns(name)
    links.append(root_if)
    vessel.veth_pair(root_if, "q" + root_if[1:], ns)
    no_ipv6(dev=root_if)
    no_ipv6(ns)
    ns.exec("ip", "link", "set", "q" + root_if[1:], "name", "eth0")
    ns.exec("ip", "link", "set", "eth0", "up")
    return ns


# Runs inside a namespace: "relay IFACE VID...": eth0.VID TAPs <-> tagged IFACE.
RELAY = r'''
import fcntl, os, select, socket, struct, sys
SOL_PACKET, PACKET_AUXDATA = 263, 8
TP_STATUS_VLAN_VALID = 1 << 4
iface, vids = sys.argv[1], [int(v) for v in sys.argv[2:]]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
taps = {}
for vid in vids:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    # TUNSETIFF, IFF_TAP | IFF_NO_PI
    fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", f"{iface}.{vid}".encode(), 0x0002 | 0x1000))
    taps[fd] = vid
by_vid = {v: fd for fd, v in taps.items()}
print("READY", flush=True)
while True:
    r, _, _ = select.select([s] + list(taps), [], [])
    for fd in r:
        if fd is s:
            data, anc, _, addr = s.recvmsg(65535, socket.CMSG_SPACE(32))
            if addr[2] == socket.PACKET_OUTGOING or len(data) < 14:
                continue
            vid = None
            for level, typ, c in anc:
                if level == SOL_PACKET and typ == PACKET_AUXDATA and len(c) >= 20:
                    st, _, _, _, _, tci, _ = struct.unpack("IIIHHHH", c[:20])
                    if st & TP_STATUS_VLAN_VALID:
                        vid = tci & 0xfff
            if vid is None and data[12:14] == b"\x81\x00" and len(data) >= 18:
                vid = struct.unpack("!H", data[14:16])[0] & 0xfff
                data = data[:12] + data[16:]
            if vid in by_vid:
                os.write(by_vid[vid], data)
        else:
            data = os.read(fd, 65535)
            tag = struct.pack("!HH", 0x8100, taps[fd])
            s.send(data[:12] + tag + data[12:])
'''


class VlanHost:
    """802.1Q subinterfaces eth0.VID of a namespace's eth0 (kernel or relay)."""

    def __init__(self, ns, vids, mac):
        self.ns, self.relay = ns, None
        try:
            for vid in vids:
                ns.exec("ip", "link", "add", "link", "eth0", "name", f"eth0.{vid}", "type",
                        "vlan", "id", str(vid))
        except subprocess.CalledProcessError as e:
            if "Unknown device type" not in e.stderr:
                raise
            self.relay = subprocess.Popen(
                ["ip", "netns", "exec", ns.name, "/usr/bin/python3", "-c", RELAY, "eth0",
                 *map(str, vids)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = self.relay.stdout.readline()
            assert line.strip() == "READY", self.relay.stderr.read()
        for vid in vids:
            dev = f"eth0.{vid}"
            ns.exec("ip", "link", "set", dev, "address", mac)
            ns.exec("ip", "link", "set", dev, "mtu", "1450")
            ns.exec("ip", "link", "set", dev, "up")

    def close(self):
        if self.relay:
            self.relay.kill()
            self.relay.wait()


def mac_of(ns, dev="eth0"):
    return ns.exec("cat", f"/sys/class/net/{dev}/address").stdout.strip()


@pytest.fixture
def vlan_hosts():
    made = []
    yield made
    for v in made:
        v.close()


@pytest.fixture
def trunk_peer(switch, netns, links, vlan_hosts):
    t = tag()
    hb = ns_on_veth(netns, links, "vvb", f"vu{t}")
    hb.exec("ip", "addr", "add", f"{VTEP_B}/24", "dev", "eth0")
    for vni, ip in ((5000, "10.50.0.2/24"), (6000, "10.60.0.2/24")):
        dev = f"vxlan{vni}"
        hb.exec("ip", "link", "add", dev, "type", "vxlan", "id", str(vni), "local", VTEP_B,
                "remote", VTEP_A, "dstport", "4789", "dev", "eth0")
        hb.exec("ip", "addr", "add", ip, "dev", dev)
        hb.exec("ip", "link", "set", dev, "up")
    h = ns_on_veth(netns, links, "vvh", f"vk{t}")
    h.exec("ip", "link", "set", "eth0", "address", "02:00:00:00:0a:01")
    # Both subinterfaces have eth0's MAC (as the kernel's would): one MAC in two VNIs.
    vlan_hosts.append(VlanHost(h, (100, 200), "02:00:00:00:0a:01"))
    h.exec("ip", "addr", "add", "10.50.0.1/24", "dev", "eth0.100")
    h.exec("ip", "addr", "add", "10.60.0.1/24", "dev", "eth0.200")
    h2 = ns_on_veth(netns, links, "vvh2", f"vl{t}")
    h2.exec("ip", "link", "set", "eth0", "address", "02:00:00:00:0b:01")
    vlan_hosts.append(VlanHost(h2, (100, 300), "02:00:00:00:0b:01"))
    h2.exec("ip", "addr", "add", "10.50.0.3/24", "dev", "eth0.100")
    a4 = ns_on_veth(netns, links, "vva4", f"vm{t}")
    a4.exec("ip", "link", "set", "eth0", "mtu", "1450")
    a4.exec("ip", "addr", "add", "10.50.0.4/24", "dev", "eth0")

    switch.rpc("add-port", {"name": "ul", "type": "dpdk", "devargs": af_packet(f"vu{t}")})
    switch.rpc("add-port", {"name": "vx0", "type": "vxlan", "local_ip": VTEP_A,
                            "underlay": "ul"})
    switch.rpc("add-port", {"name": "up1", "type": "dpdk", "devargs": af_packet(f"vk{t}"),
                            "trunks": "100,200,300"})
    switch.rpc("add-port", {"name": "up2", "type": "dpdk", "devargs": af_packet(f"vl{t}")})
    switch.rpc("add-port", {"name": "a4", "type": "dpdk", "devargs": af_packet(f"vm{t}"),
                            "vni": 5000})
    # What an operator types.
    switch.ctl("set-port", "up1", "vlan_vni=100:5000,200:6000", check=True)
    for vni in (5000, 6000):
        switch.ctl("vtep-add-remote", str(vni), VTEP_B, check=True)
    return switch, hb, h, h2, a4


def diagnose(switch, *nss):
    """What a failed first ping needs to be understood (printed with the failure)."""
    keys = ("name", "rx_packets", "tx_packets", "drops", "vlan_vni_bindings")
    print(json.dumps([{k: p.get(k) for k in keys} for p in switch.rpc("dump-ports")]))
    print(json.dumps(switch.rpc("pmd-stats"))[:3000])
    print(json.dumps(vtep(switch)))
    for ns in nss:
        print(ns.name, ns.exec("ip", "-s", "link").stdout)


def binding(show, vni):
    (b,) = vni_entry(show, vni)["vlans"]
    return b


def test_trunk_vlan_vni_kernel_interop(trunk_peer, tmp_path):
    switch, hb, h, h2, a4 = trunk_peer
    tshark = shutil.which("tshark")
    pcap = tmp_path / "underlay.pcapng"
    cap = None
    if tshark:
        cap = subprocess.Popen(["ip", "netns", "exec", hb.name, tshark, "-i", "eth0", "-w",
                                str(pcap), "-q"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: pcap.exists() and pcap.stat().st_size > 0, 20, "tshark to start")
    h_mac = mac_of(h)
    try:
        # H2's plain VLAN 100 must see nothing of H's VLAN 100 (now VNI 5000),
        # not even the ARP broadcasts of the first ping.
        sniff_h2 = Sniffer(h2, seconds=3.0)
        try:
            ping(h, "10.50.0.2")              # VLAN 100 -> VNI 5000 -> kernel VTEP
        except AssertionError:
            diagnose(switch, hb, h)
            raise
        leaked = [f for f in sniff_h2.frames() if f.src == h_mac]
        assert not leaked, [f.summary() for f in leaked]
        ping(hb, "10.50.0.1")                 # and back: decap, tag 100 pushed
        ping(h, "10.60.0.2")                  # VLAN 200 -> VNI 6000
        ping(hb, "10.60.0.1")
        ping(h, "10.50.0.4")                  # VNI 5000's access port, switched locally
        ping(a4, "10.50.0.2")                 # access port -> VTEP, same segment
        # Isolation: the plain VLAN 100 reaches neither VNI 5000 nor H's VLAN 100.
        res = h2.exec("ping", "-c", "2", "-i", "0.3", "-W", "1", "10.50.0.1", check=False)
        assert res.returncode != 0, res.stdout
        res = h2.exec("ping", "-c", "2", "-i", "0.3", "-W", "1", "10.50.0.2", check=False)
        assert res.returncode != 0, res.stdout
        # A broadcast in VNI 6000 (ARP for an address nobody has) stays there:
        # the capture below finds it in VNI 6000 only.
        h.exec("ping", "-c", "1", "-W", "1", "10.60.0.77", check=False)
    finally:
        if cap:
            time.sleep(0.5)
            cap.terminate()
            cap.wait(timeout=20)

    # One MAC (H's eth0, inherited by both subinterfaces) in two VNIs, both on up1.
    fdb = switch.rpc("fdb-show")
    assert {f.get("vni") for f in fdb if f["mac"] == h_mac and f["port"] == "up1"} == \
        {5000, 6000}, fdb
    assert not any(f["mac"] == mac_of(h2) and f.get("vni") for f in fdb), fdb
    # The kernel learned H's MAC behind us on both VNIs.
    for vni in (5000, 6000):
        out = hb.exec("bridge", "fdb", "show", "dev", f"vxlan{vni}").stdout
        assert any(h_mac in line and f"dst {VTEP_A}" in line for line in out.splitlines()), out

    # Counters per binding: in vtep-show, dump-ports and the CLI.
    show = vtep(switch)
    for vni, vlan in ((5000, 100), (6000, 200)):
        b = binding(show, vni)
        assert b["port"] == "up1" and b["vlan"] == vlan, b
        assert b["rx_packets"] >= 6 and b["tx_packets"] >= 6, b
        assert b["rx_bytes"] >= 6 * 60 and b["tx_bytes"] >= 6 * 60, b
    assert vni_entry(show, 5000)["ports"] == ["a4"]
    (up1,) = switch.rpc("dump-ports", {"name": "up1"})
    assert up1["vlan_vni"] == "100:5000,200:6000"
    assert [(b["vlan"], b["vni"]) for b in up1["vlan_vni_bindings"]] == [(100, 5000),
                                                                         (200, 6000)]
    assert up1["drops"]["vlan"] == 0, up1
    text = switch.ctl("vtep-show", check=True).stdout
    assert "vlan 100 of up1: rx" in text and "vlan 200 of up1: rx" in text, text
    text = switch.ctl("dump-ports", "up1", check=True).stdout
    assert "vlan 100 -> vni 5000: rx" in text, text
    assert "vlan_vni: 100:5000,200:6000" in switch.ctl("show", check=True).stdout

    # A second trunk binds another VLAN (300) to VNI 5000: a flood in the VNI
    # now leaves up1 tagged 100, up2 tagged 300, a4 untagged and vx0 encapsulated.
    h2.exec("ip", "addr", "del", "10.50.0.3/24", "dev", "eth0.100")
    h2.exec("ip", "addr", "add", "10.50.0.5/24", "dev", "eth0.300")
    switch.ctl("vtep-bind-vlan", "up2", "300", "5000", check=True)
    ping(h, "10.50.0.5")                      # VLAN 100 of up1 -> VLAN 300 of up2
    ping(hb, "10.50.0.5")                     # kernel VTEP -> VLAN 300 of up2
    ping(a4, "10.50.0.5")
    vl = {b["port"]: b for b in vni_entry(vtep(switch), 5000)["vlans"]}
    assert vl["up2"]["vlan"] == 300 and vl["up2"]["rx_packets"] >= 9, vl

    if not tshark:
        pytest.skip("tshark not installed: underlay capture not checked")
    res = vessel.run([tshark, "-r", str(pcap), "-o", "ip.check_checksum:TRUE", "-T", "fields",
                      "-E", "separator=|", "-E", "occurrence=l", "-e", "frame.protocols",
                      "-e", "vxlan.vni", "-e", "ip.src", "-e", "ip.dst", "-e", "arp.src.proto_ipv4",
                      "-e", "arp.dst.proto_ipv4"])
    assert res.returncode == 0, res.stderr
    rows = [r.split("|") for r in res.stdout.splitlines() if r]
    vx = [r for r in rows if ":vxlan:" in r[0]]
    seen = set()
    for protos, vni, src, dst, asrc, adst in vx:
        # Inner frames are untagged IPv4 or ARP, never 802.1Q.
        inner = protos.split(":vxlan:", 1)[1]
        assert "vlan" not in inner and inner.startswith("eth:ethertype:"), protos
        assert vni in ("5000", "6000"), vni
        net = "10.50.0." if vni == "5000" else "10.60.0."
        addrs = [a for a in ((src, dst) if ":ip:" in inner else (asrc, adst)) if a]
        assert addrs and all(a.startswith(net) for a in addrs), (vni, protos, addrs)
        assert "10.50.0.3" not in addrs                # the plain VLAN 100 never crossed
        seen.add(vni)
        if "10.60.0.77" in addrs:
            seen.add("broadcast")
    assert seen == {"5000", "6000", "broadcast"}, res.stdout
    assert len(vx) >= 24, res.stdout
    res = vessel.run([tshark, "-r", str(pcap), "-Y", "_ws.malformed || _ws.expert.severity "
                      ">= 6291456"])
    assert res.returncode == 0 and res.stdout.strip() == "", res.stdout + res.stderr


def cli_err(switch, *args):
    res = switch.ctl(*args)
    assert res.returncode != 0, f"{args} accepted: {res.stdout}"
    return res.stderr


def test_trunk_vlan_vni_bad_input_and_save_config(trunk_peer, tmp_path):
    switch, hb, h, h2, a4 = trunk_peer
    cases = [
        ("vlan_vni=100:5000,100:6000", ["'100:6000'", "VLAN 100 is already bound to VNI 5000"]),
        ("vlan_vni=100:5000,200:5000", ["'200:5000'", "VNI 5000 is already bound to VLAN 100"]),
        ("vlan_vni=100:5000,400:7000", ["'400:7000'", "VLAN 400 is not in the port's trunks"]),
        ("vlan_vni=0:5000", ["'0:5000'", "VLAN '0'"]),
        ("vlan_vni=4096:5000", ["'4096:5000'", "VLAN '4096'"]),
        ("vlan_vni=100:0", ["'100:0'", "VNI '0'"]),
        ("vlan_vni=100:16777216", ["'100:16777216'", "VNI '16777216'"]),
        ("vlan_vni=100:x5", ["'100:x5'", "VNI 'x5'"]),
        ("vlan_vni=100-5000", ["'100-5000'", "not VLAN:VNI"]),
        ("vlan_vni=100:5000,", ["ends with ','"]),
        ("vlan_vni=100:5000,,200:6000", ["empty entry"]),
        ("vlan_vni=100", ["'vlan_vni' must be a string of VLAN:VNI"]),
        ("tag=10 trunks=", ["vlan_vni", "access port"]),
        ("trunks=200,300", ["'100:5000'", "VLAN 100 is not in the port's trunks", "vlan_vni="]),
    ]
    for arg, words in cases:
        err = cli_err(switch, "set-port", "up1", *arg.split())
        for w in words:
            assert w in err, (arg, err)
    assert "access port" in cli_err(switch, "set-port", "a4", "vlan_vni=100:5000")
    assert "vxlan port" in cli_err(switch, "set-port", "vx0", "vlan_vni=100:5000")
    assert "already bound to VNI 5000" in cli_err(switch, "vtep-bind-vlan", "up1", "100", "7000")
    assert "VNI 6000 is already bound to VLAN 200" in cli_err(switch, "vtep-bind-vlan", "up1",
                                                              "300", "6000")
    assert "not bound" in cli_err(switch, "vtep-unbind-vlan", "up1", "300")
    assert "vlan 5000 is not 1-4095" in cli_err(switch, "vtep-bind-vlan", "up1", "5000", "1")
    assert "'x' is not a VNI" in cli_err(switch, "vtep-bind-vlan", "up1", "300", "x")
    # Nothing changed, and the switch still forwards.
    (up1,) = switch.rpc("dump-ports", {"name": "up1"})
    assert up1["vlan_vni"] == "100:5000,200:6000" and up1["trunks"] == "100,200,300"
    ping(h, "10.50.0.2")

    # Incremental binding (vtep-ctl bind-ls style) is the same list, one changed.
    switch.ctl("vtep-bind-vlan", "up1", "300", "7000", check=True)
    assert switch.rpc("dump-ports", {"name": "up1"})[0]["vlan_vni"] == \
        "100:5000,200:6000,300:7000"
    switch.ctl("vtep-unbind-vlan", "up1", "300", check=True)

    cfg = tmp_path / "vsw.json"
    switch.rpc("save-config", {"path": str(cfg)})
    calls = json.loads(cfg.read_text())
    calls = calls["calls"] if isinstance(calls, dict) else calls
    (p,) = [c["params"] for c in calls if c.get("method") == "add-port" and
            c["params"]["name"] == "up1"]
    assert p["vlan_vni"] == "100:5000,200:6000" and p["trunks"] == "100,200,300", p

    switch.stop()
    d2 = vessel.Daemon("vswitchd", switch.rundir, args=["-c", str(cfg)])
    d2.sock = switch.sock
    d2.start()
    try:
        ping(h, "10.60.0.2")
        ping(hb, "10.50.0.1")
        show = vtep(d2)
        assert binding(show, 5000)["rx_packets"] >= 1
        assert binding(show, 6000)["tx_packets"] >= 1
        # Unbinding makes VLAN 100 a plain VLAN of up1 again: H reaches H2.
        d2.ctl("set-port", "up1", "vlan_vni=200:6000", check=True)
        assert vni_entry(vtep(d2), 5000)["vlans"] == []
        ping(h, "10.50.0.3")
    finally:
        d2.stop()
