"""vswitchd's OpenFlow tables with real peers: af_packet ports on veths into
namespaces, frames crafted with scapy (the helpers of test_vswitch_l2.py).

Each match field family and each action, priorities, goto-table with
write-metadata, counters in dump-flows, idle and hard timeouts, fail-mode
secure vs standalone, a rule change taking effect on the next packet (EMC
invalidation), and thousands of flows installed while traffic flows.

Needs root (namespaces, hugepages); skips elsewhere.
"""
import json
import os
import subprocess
import time

import pytest

import vessel
import test_vswitch_l2 as l2
from test_vswitch_l2 import hosts, switch  # noqa: F401  (fixtures)

from scapy.all import (ARP, Dot1Q, Ether, ICMP, IP, IPv6, TCP, UDP, Raw,  # noqa: E402
                       raw)

pytestmark = [pytest.mark.root]

BCAST = l2.BCAST


def add(sw, *flows):
    if len(flows) == 1:
        return sw.rpc("add-flow", {"flow": flows[0]})
    return sw.rpc("add-flows", {"flows": list(flows)})


def dump(sw, match=None):
    return sw.rpc("dump-flows", {"match": match} if match else {})


def got_from(sniffer, src):
    return l2.frames_from(sniffer.frames(), src)


def three(hosts):  # noqa: F811
    return hosts("a"), hosts("b"), hosts("c")


def udp_frame(src, dst="02:00:00:00:99:99", **kw):
    return Ether(src=src, dst=dst) / IP(src="10.0.0.1", dst="10.0.0.2", ttl=64) / UDP(
        sport=1000, dport=2000) / Raw(b"payload")


# ------------------------------------------------------------------ basics

def test_in_port_output_and_counters(switch, hosts):  # noqa: F811
    a, b, c = three(hosts)
    switch.rpc("set-bridge", {"fail_mode": "secure"})
    add(switch, "table=0,priority=100,in_port=1,actions=output:2")
    sb, sc = b.sniff(), c.sniff()
    a.send(*[udp_frame(a.mac) for _ in range(3)])
    assert len(got_from(sb, a.mac)) == 3
    assert got_from(sc, a.mac) == []
    (f,) = dump(switch)
    assert f["n_packets"] == 3 and f["n_bytes"] == 3 * len(raw(udp_frame(a.mac)))
    assert f["match"] == "priority=100,in_port=1" and f["actions"] == "output:2"
    r = switch.ctl("dump-flows")
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert line.startswith("cookie=0x0, duration="), line
    assert "table=0, n_packets=3, n_bytes=" in line
    assert line.endswith("priority=100,in_port=1 actions=output:2"), line
    tables = {t["table"]: t for t in switch.rpc("dump-tables")}
    assert tables[0]["active"] == 1 and tables[0]["matches"] >= 3


def test_fail_mode_secure_vs_standalone(switch, hosts):  # noqa: F811
    a, b, _ = three(hosts)
    # No flows, standalone: the learning bridge (the L2 tests cover it).
    sb = b.sniff()
    a.send(l2.bcast(a.mac))
    assert len(got_from(sb, a.mac)) == 1
    # Secure without flows: nothing forwards, drops counted as table misses.
    switch.rpc("set-bridge", {"fail_mode": "secure"})
    assert switch.rpc("show")["bridge"]["fail_mode"] == "secure"
    before = l2.port_stats(switch, "a")["drops"]["table_miss"]
    sb = b.sniff(1.0)
    a.send(l2.bcast(a.mac))
    assert got_from(sb, a.mac) == []
    assert l2.port_stats(switch, "a")["drops"]["table_miss"] == before + 1
    # Secure with a flow that does not match: still dropped.
    add(switch, "priority=10,in_port=3,actions=NORMAL")
    sb = b.sniff(1.0)
    a.send(l2.bcast(a.mac))
    assert got_from(sb, a.mac) == []
    # Standalone with the same flow: a miss goes to NORMAL.
    switch.rpc("set-bridge", {"fail_mode": "standalone"})
    sb = b.sniff()
    a.send(l2.bcast(a.mac))
    assert len(got_from(sb, a.mac)) == 1
    with pytest.raises(vessel.RpcError, match="bad value 'open' for fail_mode"):
        switch.rpc("set-bridge", {"fail_mode": "open"})


def test_priorities_and_normal(switch, hosts):  # noqa: F811
    a, b, c = three(hosts)
    switch.rpc("set-bridge", {"fail_mode": "secure"})
    add(switch, "priority=10,in_port=1,actions=NORMAL",
        "priority=20,in_port=1,udp,tp_dst=2000,actions=output:3")
    sb, sc = b.sniff(), c.sniff()
    a.send(udp_frame(a.mac, dst=BCAST))
    a.send(Ether(src=a.mac, dst=BCAST) / IP() / TCP(dport=2000))
    assert [f.haslayer(TCP) for f in got_from(sb, a.mac)] == [True]   # flooded by NORMAL
    assert [f.haslayer(UDP) for f in got_from(sc, a.mac)] == [True, False]


# ---------------------------------------------------------- match families

MATCHES = [
    # (flow match, frame that matches, frame that does not); a sends, b receives.
    ("dl_src=02:00:00:00:01:01/ff:ff:ff:ff:ff:00",
     lambda s: Ether(src=s, dst=BCAST) / Raw(b"x" * 50),
     lambda s: Ether(src="02:00:00:00:02:01", dst=BCAST) / Raw(b"x" * 50)),
    ("dl_dst=02:00:00:00:99:01", lambda s: Ether(src=s, dst="02:00:00:00:99:01") / Raw(b"x" * 50),
     lambda s: Ether(src=s, dst="02:00:00:00:99:02") / Raw(b"x" * 50)),
    ("dl_type=0x88b5", lambda s: Ether(src=s, dst=BCAST, type=0x88b5) / Raw(b"x" * 50),
     lambda s: Ether(src=s, dst=BCAST, type=0x88b6) / Raw(b"x" * 50)),
    ("dl_vlan=10", lambda s: Ether(src=s, dst=BCAST) / Dot1Q(vlan=10) / IP() / UDP(),
     lambda s: Ether(src=s, dst=BCAST) / Dot1Q(vlan=11) / IP() / UDP()),
    ("dl_vlan_pcp=5", lambda s: Ether(src=s, dst=BCAST) / Dot1Q(vlan=7, prio=5) / IP() / UDP(),
     lambda s: Ether(src=s, dst=BCAST) / Dot1Q(vlan=7, prio=4) / IP() / UDP()),
    ("ip,nw_src=10.1.0.0/16", lambda s: Ether(src=s, dst=BCAST) / IP(src="10.1.2.3") / UDP(),
     lambda s: Ether(src=s, dst=BCAST) / IP(src="10.2.2.3") / UDP()),
    ("ip,nw_dst=10.0.0.9", lambda s: Ether(src=s, dst=BCAST) / IP(dst="10.0.0.9") / UDP(),
     lambda s: Ether(src=s, dst=BCAST) / IP(dst="10.0.0.8") / UDP()),
    ("ip,ip_dscp=46", lambda s: Ether(src=s, dst=BCAST) / IP(tos=46 << 2) / UDP(),
     lambda s: Ether(src=s, dst=BCAST) / IP(tos=0) / UDP()),
    ("ip,nw_proto=47", lambda s: Ether(src=s, dst=BCAST) / IP(proto=47) / Raw(b"x" * 30),
     lambda s: Ether(src=s, dst=BCAST) / IP(proto=46) / Raw(b"x" * 30)),
    ("tcp,tp_src=1234,tp_dst=80", lambda s: Ether(src=s, dst=BCAST) / IP() / TCP(sport=1234, dport=80),
     lambda s: Ether(src=s, dst=BCAST) / IP() / TCP(sport=1234, dport=81)),
    ("udp,udp_dst=53", lambda s: Ether(src=s, dst=BCAST) / IP() / UDP(dport=53),
     lambda s: Ether(src=s, dst=BCAST) / IP() / TCP(dport=53)),
    ("icmp,icmp_type=8,icmp_code=0", lambda s: Ether(src=s, dst=BCAST) / IP() / ICMP(type=8),
     lambda s: Ether(src=s, dst=BCAST) / IP() / ICMP(type=0)),
    ("arp,arp_op=1,arp_tpa=10.0.0.0/24,arp_spa=10.0.0.1",
     lambda s: Ether(src=s, dst=BCAST) / ARP(op=1, psrc="10.0.0.1", pdst="10.0.0.77", hwsrc=s),
     lambda s: Ether(src=s, dst=BCAST) / ARP(op=2, psrc="10.0.0.1", pdst="10.0.0.77", hwsrc=s)),
    ("arp,arp_sha=02:00:00:00:01:01",
     lambda s: Ether(src=s, dst=BCAST) / ARP(hwsrc="02:00:00:00:01:01"),
     lambda s: Ether(src=s, dst=BCAST) / ARP(hwsrc="02:00:00:00:01:02")),
    ("ipv6,ipv6_dst=2001:db8::/64", lambda s: Ether(src=s, dst=BCAST) / IPv6(dst="2001:db8::5") / UDP(),
     lambda s: Ether(src=s, dst=BCAST) / IPv6(dst="2001:db9::5") / UDP()),
    ("icmp6,icmpv6_type=128",
     lambda s: Ether(src=s, dst=BCAST) / IPv6(dst="2001:db8::5", nh=58) / Raw(b"\x80\x00\x00\x00abcd"),
     lambda s: Ether(src=s, dst=BCAST) / IPv6(dst="2001:db8::5", nh=58) / Raw(b"\x81\x00\x00\x00abcd")),
]


@pytest.mark.parametrize("match,yes,no", MATCHES, ids=[m[0] for m in MATCHES])
def test_match_field(switch, hosts, match, yes, no):  # noqa: F811
    a, b = hosts("a"), hosts("b")
    switch.rpc("set-bridge", {"fail_mode": "secure"})
    add(switch, f"priority=100,in_port=1,{match},actions=output:2")
    src = a.mac
    sb = b.sniff()
    a.send(yes(src), no(src))
    got = [f for f in sb.frames() if f.src in (src, "02:00:00:00:02:01")]
    assert len(got) == 1, [g.summary() for g in got]
    assert raw(got[0]) == raw(yes(src)).ljust(len(raw(got[0])), b"\0")[:len(raw(got[0]))]
    (f,) = dump(switch)
    assert f["n_packets"] == 1


# ------------------------------------------------------------------ actions

def test_vlan_strip_and_push(switch, hosts):  # noqa: F811
    a, b = hosts("a"), hosts("b")
    switch.rpc("set-bridge", {"fail_mode": "secure"})
    add(switch, "table=0,priority=100,in_port=1,dl_vlan=10,actions=strip_vlan,output:2",
        "priority=100,in_port=2,actions=mod_vlan_vid:20,output:1",
        "priority=90,in_port=1,actions=push_vlan:0x8100,set_field:4126->vlan_vid,"
        "set_field:3->vlan_pcp,output:2")
    sb = b.sniff()
    a.send(Ether(src=a.mac, dst=BCAST) / Dot1Q(vlan=10) / IP() / UDP())
    a.send(Ether(src=a.mac, dst=BCAST) / IP() / UDP(dport=7))
    got = got_from(sb, a.mac)
    assert len(got) == 2
    assert Dot1Q not in got[0] and got[0].haslayer(UDP)
    assert got[1][Dot1Q].vlan == 30 and got[1][Dot1Q].prio == 3 and got[1][UDP].dport == 7
    sa = a.sniff()
    b.send(Ether(src=b.mac, dst=BCAST) / IP() / UDP())
    got = got_from(sa, b.mac)
    assert len(got) == 1 and got[0][Dot1Q].vlan == 20


def checksums_ok(pkt):
    fixed = pkt.copy()
    for layer in (IP, TCP, UDP, ICMP):
        if fixed.haslayer(layer):
            del fixed[layer].chksum
            if layer is IP:
                pass
    fixed = Ether(raw(fixed))
    for layer in (IP, TCP, UDP, ICMP):
        if pkt.haslayer(layer) and pkt[layer].chksum != fixed[layer].chksum:
            return False
    return True


def test_set_field_and_dec_ttl(switch, hosts):  # noqa: F811
    a, b = hosts("a"), hosts("b")
    switch.rpc("set-bridge", {"fail_mode": "secure"})
    add(switch,
        "priority=100,in_port=1,tcp,actions=mod_dl_dst:02:00:00:00:00:bb,mod_nw_src:192.168.7.7,"
        "mod_tp_dst:8080,dec_ttl,output:2",
        "priority=100,in_port=1,udp,actions=set_field:10.9.9.9->ipv4_dst,"
        "set_field:5353->udp_src,mod_nw_tos:184,output:2",
        "priority=100,in_port=1,icmp,actions=set_field:0->icmp_type,output:2",
        "priority=100,in_port=1,ipv6,actions=set_field:2001:db8::99->ipv6_src,output:2",
        "priority=90,in_port=1,ip,actions=dec_ttl,output:2")
    sb = b.sniff()
    a.send(Ether(src=a.mac, dst=BCAST) / IP(src="10.0.0.1", dst="10.0.0.2", ttl=9) /
           TCP(sport=5, dport=80) / Raw(b"data"))
    a.send(Ether(src=a.mac, dst=BCAST) / IP(src="10.0.0.1", dst="10.0.0.2") /
           UDP(sport=5, dport=53) / Raw(b"data"))
    a.send(Ether(src=a.mac, dst=BCAST) / IP(src="10.0.0.1", dst="10.0.0.2") /
           ICMP(type=8, id=0x1234) / Raw(b"ping"))
    a.send(Ether(src=a.mac, dst=BCAST) / IPv6(src="2001:db8::1", dst="2001:db8::2") /
           UDP(sport=1, dport=2) / Raw(b"v6"))
    a.send(Ether(src=a.mac, dst=BCAST) / IP(ttl=1, proto=47) / Raw(b"x" * 30))   # TTL expires
    got = got_from(sb, a.mac)
    assert len(got) == 4, [g.summary() for g in got]
    tcp, udp, icmp, v6 = got
    assert tcp.dst == "02:00:00:00:00:bb" and tcp[IP].src == "192.168.7.7"
    assert tcp[TCP].dport == 8080 and tcp[IP].ttl == 8
    assert udp[IP].dst == "10.9.9.9" and udp[UDP].sport == 5353 and udp[IP].tos == 184
    assert icmp[ICMP].type == 0
    assert v6[IPv6].src == "2001:db8::99"
    for p in (tcp, udp, icmp):
        assert checksums_ok(p), p.show(dump=True)
    fixed = v6.copy()
    del fixed[UDP].chksum
    assert Ether(raw(fixed))[UDP].chksum == v6[UDP].chksum
    stats = switch.rpc("pmd-stats")
    assert sum(p["ttl_expired"] for p in stats) == 1


def test_output_all_in_port_and_controller(switch, hosts):  # noqa: F811
    a, b, c = three(hosts)
    switch.rpc("set-bridge", {"fail_mode": "secure"})
    add(switch, "priority=100,in_port=1,udp,actions=ALL",
        "priority=100,in_port=1,tcp,actions=IN_PORT,CONTROLLER:128,LOCAL,group:1")
    sa, sb, sc = a.sniff(), b.sniff(), c.sniff()
    a.send(udp_frame(a.mac))
    a.send(Ether(src=a.mac, dst=BCAST) / IP() / TCP())
    assert [f.haslayer(UDP) for f in got_from(sb, a.mac)] == [True]
    assert [f.haslayer(UDP) for f in got_from(sc, a.mac)] == [True]
    assert [f.haslayer(TCP) for f in got_from(sa, a.mac)] == [True]    # hairpin by IN_PORT
    st = switch.rpc("pmd-stats")
    assert sum(p["to_controller"] for p in st) == 1
    assert sum(p["to_local"] for p in st) == 1
    assert sum(p["to_group"] for p in st) == 1


def test_goto_table_and_metadata(switch, hosts):  # noqa: F811
    a, b, c = three(hosts)
    switch.rpc("set-bridge", {"fail_mode": "secure"})
    add(switch, "table=0,priority=10,in_port=1,udp,actions=write_metadata:0x5/0xff,goto_table:1",
        "table=0,priority=10,in_port=1,tcp,actions=write_metadata:0x6,goto_table:1",
        "table=1,priority=10,metadata=0x5/0xff,actions=output:3",
        "table=1,priority=5,actions=write_actions(output:2)")
    sb, sc = b.sniff(), c.sniff()
    a.send(udp_frame(a.mac))
    a.send(Ether(src=a.mac, dst=BCAST) / IP() / TCP())
    assert [f.haslayer(UDP) for f in got_from(sc, a.mac)] == [True]
    assert [f.haslayer(TCP) for f in got_from(sb, a.mac)] == [True]
    tables = {t["table"]: t for t in switch.rpc("dump-tables")}
    assert tables[0]["lookups"] == 2 and tables[1]["matches"] == 2
    assert {f["table"] for f in dump(switch, "table=1")} == {1}


# ----------------------------------------------------- changes and timeouts

def test_rule_change_applies_to_the_next_packet(switch, hosts):  # noqa: F811
    """The EMC caches the first answer; a mod-flows bumps the rule-set version
    so the very next packet takes the new path."""
    a, b, c = three(hosts)
    switch.rpc("set-bridge", {"fail_mode": "secure"})
    add(switch, "priority=100,in_port=1,actions=output:2")
    sb = b.sniff()
    a.send(*[udp_frame(a.mac) for _ in range(5)])
    assert len(got_from(sb, a.mac)) == 5
    assert switch.rpc("mod-flows", {"flow": "in_port=1,actions=output:3"})["flows"] == 1
    sb, sc = b.sniff(), c.sniff()
    a.send(udp_frame(a.mac))
    assert got_from(sb, a.mac) == [] and len(got_from(sc, a.mac)) == 1
    (f,) = dump(switch)
    assert f["n_packets"] == 6 and f["actions"] == "output:3"     # counters survive modify
    st = switch.rpc("pmd-stats")
    assert sum(p["emc_hits"] for p in st) >= 4
    # Delete: strict needs the priority; non-strict by a covering match.
    assert switch.rpc("del-flows", {"match": "in_port=1", "strict": True})["flows"] == 0
    assert switch.rpc("del-flows", {"match": "priority=100,in_port=1", "strict": True})["flows"] == 1
    sc = c.sniff(1.0)
    a.send(udp_frame(a.mac))
    assert got_from(sc, a.mac) == []


def test_idle_and_hard_timeouts(switch, hosts):  # noqa: F811
    a, _ = hosts("a"), hosts("b")
    add(switch, "priority=10,in_port=1,hard_timeout=2,actions=output:2",
        "priority=10,in_port=2,idle_timeout=2,actions=output:1",
        "priority=10,in_port=3,idle_timeout=3,actions=output:1")
    assert len(dump(switch)) == 3
    # Keep the in_port=1 flow busy: hard timeout expires it anyway.
    for _ in range(5):
        a.send(udp_frame(a.mac))
        time.sleep(0.5)
    left = {f["match"] for f in dump(switch)}
    assert "priority=10,in_port=1" not in left
    assert "priority=10,in_port=2" not in left          # idle for 2.5 s
    deadline = time.monotonic() + 5
    while dump(switch) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert dump(switch) == []


def test_thousands_of_flows_while_forwarding(switch, hosts):  # noqa: F811
    a = hosts("a", ip="10.0.5.1")
    hosts("b", ip="10.0.5.2")
    # Standalone: ARP and ICMP miss and take NORMAL while rules churn.
    ping = subprocess.Popen(["ip", "netns", "exec", a.ns.name] + l2.PING +
                            ["-c", "25", "-i", "0.1", "-W", "1", "10.0.5.2"],
                            stdout=subprocess.PIPE, text=True)
    flows = [f"table=0,priority=200,in_port=1,tcp,nw_dst=10.1.{i >> 8}.{i & 255},tp_dst=80,"
             "actions=output:2" for i in range(3000)]
    r = switch.rpc("add-flows", {"flows": flows}, timeout=60)
    assert r["total"] == 3000
    for i in range(200):
        switch.rpc("add-flow", {"flow": f"table=1,priority=5,udp,tp_dst={i + 1},actions=drop"})
    out, _ = ping.communicate(timeout=60)
    assert ping.returncode == 0 and " 0% packet loss" in out, out
    assert len(dump(switch, "table=1")) == 200
    assert switch.rpc("del-flows", {"match": "table=0,tcp"})["flows"] == 3000
    assert switch.rpc("show")["bridge"]["flows"] == 200


# -------------------------------------------------------------- CLI and input

def test_ctl_flow_commands_and_errors(switch, hosts, rundir):  # noqa: F811
    hosts("a")
    r = switch.ctl("add-flow", "table=0,priority=100,in_port=1,dl_vlan=10,actions=strip_vlan,output:2")
    assert r.returncode == 0, r.stderr
    path = os.path.join(rundir, "flows.txt")
    with open(path, "w") as f:
        f.write("# comment\n\ncookie=0x10,priority=5,ip,nw_dst=10.0.0.0/8,actions=NORMAL\n"
                "table=2,cookie=0x20,tcp,tp_dst=22,actions=drop\n")
    r = switch.ctl("add-flows", path)
    assert r.returncode == 0, r.stderr
    r = switch.ctl("dump-flows")
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3, r.stdout
    assert any("cookie=0x10" in ln and "priority=5,ip,nw_dst=10.0.0.0/8 actions=NORMAL" in ln
               for ln in lines)
    assert any(ln.endswith("priority=100,in_port=1,dl_vlan=10 actions=strip_vlan,output:2")
               for ln in lines)
    r = switch.ctl("dump-flows", "table=2")
    assert r.stdout.count("\n") == 1 and "tcp,tp_dst=22 actions=drop" in r.stdout
    r = switch.ctl("dump-tables")
    assert r.returncode == 0 and "0: active=2" in r.stdout
    for bad, msg in [("nw_scr=1.2.3.4,actions=drop", "unknown field 'nw_scr'"),
                     ("dl_vlan=300x,actions=drop", "bad value '300x' for dl_vlan"),
                     ("in_port=1,actions=outptu:2", "unknown action 'outptu:2'"),
                     ("tp_dst=80,actions=drop", "requires tcp, udp or sctp")]:
        r = switch.ctl("add-flow", bad)
        assert r.returncode != 0 and msg in r.stderr, (bad, r.stderr)
    r = switch.ctl("mod-flows", "cookie=0x20/0xff,actions=output:1")
    assert r.returncode == 0, r.stderr
    assert "actions=output:1" in switch.ctl("dump-flows", "table=2").stdout
    r = switch.ctl("del-flows", "cookie=0x10/0xff")
    assert r.returncode == 0
    assert len(switch.ctl("dump-flows").stdout.strip().splitlines()) == 2
    r = switch.ctl("del-flows", "priority=100,in_port=1", "strict=true")
    assert r.returncode == 0 and len(switch.ctl("dump-flows").stdout.strip().splitlines()) == 2
    r = switch.ctl("del-flows", "priority=100,in_port=1,dl_vlan=10", "strict=true")
    assert r.returncode == 0
    assert len(switch.ctl("dump-flows").stdout.strip().splitlines()) == 1
    # save-config writes the flows back as one add-flows call.
    cfg = os.path.join(rundir, "saved.json")
    assert switch.ctl("save-config", cfg).returncode == 0
    with open(cfg) as f:
        text = f.read()
    assert "add-flows" in text and "tp_dst=22" in text
    assert "fail_mode" in text


def test_rpc_bad_input(switch):  # noqa: F811
    for params in [{"flows": "x"}, {"flows": [1]}, {}]:
        with pytest.raises(vessel.RpcError):
            switch.rpc("add-flows", params)
    with pytest.raises(vessel.RpcError, match="flow 2: unknown field 'bogus'"):
        switch.rpc("add-flows", {"flows": ["actions=drop", "bogus=1,actions=drop"]})
    assert len(dump(switch)) == 1          # the good one before the error stays
    with pytest.raises(vessel.RpcError, match="missing 'flow'"):
        switch.rpc("add-flow", {})
    with pytest.raises(vessel.RpcError, match="unexpected 'actions='"):
        switch.rpc("del-flows", {"match": "actions=drop"})
    long = "in_port=1," * 1000 + "actions=drop"
    with pytest.raises(vessel.RpcError):
        switch.rpc("add-flow", {"flow": long})
    assert json.dumps(switch.rpc("dump-tables"))


def test_save_config_replays_flows(start_vswitchd, rundir):
    d = start_vswitchd()
    d.rpc("set-bridge", {"fail_mode": "secure"})
    d.rpc("add-flows", {"flows": [
        "table=0,cookie=0x7,idle_timeout=100,priority=9,tcp,nw_src=10.0.0.0/8,tp_dst=22,"
        "actions=write_metadata:0x1/0xf,goto_table:4",
        "table=4,metadata=0x1/0xf,actions=mod_vlan_vid:7,NORMAL"]})
    cfg = os.path.join(rundir, "cfg.json")
    d.rpc("save-config", {"path": cfg})
    before = [f["flow"] for f in d.rpc("dump-flows")]
    d.stop()
    d2 = start_vswitchd(args=["-c", cfg])
    assert [f["flow"] for f in d2.rpc("dump-flows")] == before
    assert d2.rpc("show")["bridge"]["fail_mode"] == "secure"
