"""The OpenFlow agent against Open vSwitch's own tools.

The agent runs in test_ofa_host (built with the unit tests), which hosts it on
an in-memory recording datapath and prints one JSON line per datapath call.
ovs-ofctl connects to its passive port (ptcp, 127.0.0.1); ovs-testcontroller
listens and the agent connects to it actively. Nothing here needs root.
"""
import json
import os
import queue
import re
import subprocess
import threading
import time

import pytest

import vessel

HOST = os.path.join(vessel.BUILD, "tests", "unit", "sdn-agent", "test_ofa_host")

pytestmark = [
    pytest.mark.skipif(not os.path.exists(HOST), reason="test_ofa_host is not built (make unit-bins)"),
    pytest.mark.skipif(not vessel.have("ovs-ofctl"), reason="ovs-ofctl is not installed"),
]


class OfaHost:
    """test_ofa_host in serving (or connecting) mode; stdout JSON lines are
    collected by a thread, stdin takes commands."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([HOST] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        first = self.next_line(timeout=10)
        assert first["event"] == "listening", first
        self.port = first["port"]
        self.target = f"tcp:127.0.0.1:{self.port}"

    def _read_out(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line:
                self.lines.put(json.loads(line))

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def next_line(self, timeout=10):
        return self.lines.get(timeout=timeout)

    def wait_for(self, pred, timeout=10):
        """Returns the first line satisfying pred (earlier ones are dropped)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for the host")
            try:
                line = self.next_line(timeout=left)
            except queue.Empty:
                raise AssertionError("timed out waiting for the host") from None
            if pred(line):
                return line

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                return out

    def command(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def stats(self):
        self.command("stats")
        return self.wait_for(lambda l: l.get("event") == "stats")

    def rss_peak_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        err = "".join(self.stderr)
        for marker in vessel.SANITIZER_MARKERS:
            assert marker not in err, f"sanitizer report from test_ofa_host:\n{err[-6000:]}"
        return err


@pytest.fixture
def host():
    h = OfaHost("--serve", "0")
    yield h
    h.stop()


def ofctl(host, *args, check=True, timeout=60):
    r = vessel.run(["ovs-ofctl", "-O", "OpenFlow13"] + [a.replace("@", host.target) for a in args],
                   timeout=timeout)
    if check:
        assert r.returncode == 0, f"ovs-ofctl {args}: {r.stderr}"
    return r


def flow_lines(dump):
    return [l.strip() for l in dump.splitlines() if "cookie=" in l]


def test_show_reports_features_ports_and_config(host):
    out = ofctl(host, "show", "@").stdout
    assert "dpid:0000000000000abc" in out
    assert "n_tables:4" in out
    for p in ("1(p1)", "2(p2)", "3(p3)"):
        assert p in out
    assert "miss_send_len=128" in out


def test_add_flow_fields_round_trip_through_dump(host):
    flows = [
        "table=0,priority=100,cookie=0x11,tcp,nw_src=10.1.0.0/16,nw_dst=192.168.1.7,tp_src=1024,"
        "tp_dst=80,actions=output:2",
        "table=0,priority=90,cookie=0x12,idle_timeout=30,hard_timeout=60,in_port=1,"
        "dl_src=00:11:22:33:44:55,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,"
        "actions=push_vlan:0x8100,set_field:4196->vlan_vid,output:3",
        "table=1,priority=80,cookie=0x13,udp6,ipv6_src=2001:db8::/32,tp_dst=4789,"
        "actions=write_actions(output:1),write_metadata:0x5/0xff,goto_table:2",
        "table=0,priority=70,cookie=0x14,arp,arp_spa=10.0.0.1,arp_op=1,actions=CONTROLLER:64",
        "table=2,priority=60,cookie=0x15,vlan_vid=0x1005/0x1fff,vlan_pcp=3,"
        "actions=pop_vlan,set_queue:2,output:in_port",
        "table=0,priority=50,cookie=0x16,mpls,mpls_label=5,mpls_tc=1,"
        "actions=pop_mpls:0x0800,output:1",
        "table=0,priority=40,cookie=0x17,icmp,icmp_type=8,icmp_code=0,nw_tos=32,"
        "actions=dec_ttl,clear_actions",
        "table=0,priority=30,cookie=0x18,tun_id=0x64,metadata=0x1/0x1,actions=drop",
    ]
    for f in flows:
        ofctl(host, "add-flow", "@", f)
    dump = flow_lines(ofctl(host, "dump-flows", "@").stdout)
    assert len(dump) == len(flows)
    by_cookie = {re.search(r"cookie=(0x[0-9a-f]+)", l).group(1): l for l in dump}
    expect = {
        "0x11": ["priority=100", "tcp", "nw_src=10.1.0.0/16", "nw_dst=192.168.1.7", "tp_src=1024",
                 "tp_dst=80", "actions=output:2"],
        "0x12": ["priority=90", "idle_timeout=30", "hard_timeout=60", "in_port=1",
                 "dl_src=00:11:22:33:44:55", "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
                 "actions=push_vlan:0x8100,set_field:4196->vlan_vid,output:3"],
        "0x13": ["table=1", "udp6", "ipv6_src=2001:db8::/32", "tp_dst=4789",
                 "write_actions(output:1)", "write_metadata:0x5/0xff", "goto_table:2"],
        "0x14": ["arp", "arp_spa=10.0.0.1", "arp_op=1", "CONTROLLER:64"],
        "0x15": ["table=2", "dl_vlan=5", "dl_vlan_pcp=3", "pop_vlan", "set_queue:2", "IN_PORT"],
        "0x16": ["mpls", "mpls_label=5", "mpls_tc=1", "pop_mpls:0x0800"],
        "0x17": ["icmp", "icmp_type=8", "icmp_code=0", "nw_tos=32", "dec_ttl", "clear_actions"],
        "0x18": ["tun_id=0x64", "metadata=0x1/0x1", "actions=drop"],
    }
    for cookie, parts in expect.items():
        line = by_cookie[cookie]
        for p in parts:
            assert p in line, f"{p!r} missing from {line!r}"
        assert "n_packets=0" in line and "n_bytes=0" in line
    # The host saw each flow_mod with the right table, priority and cookie.
    mods = [l for l in host.drain() if l.get("op") == "flow_mod"]
    assert [(m["table"], m["priority"], m["cookie"]) for m in mods] == [
        (0, 100, 0x11), (0, 90, 0x12), (1, 80, 0x13), (0, 70, 0x14), (2, 60, 0x15),
        (0, 50, 0x16), (0, 40, 0x17), (0, 30, 0x18)]


@pytest.mark.slow
def test_add_flows_10000_and_dump(host, tmp_path):
    path = tmp_path / "flows.txt"
    n = 10000
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"priority={100 + i % 7},ip,nw_dst=10.{i >> 16}.{(i >> 8) & 255}.{i & 255},"
                    f"actions=output:{1 + i % 3}\n")
    t0 = time.monotonic()
    ofctl(host, "add-flows", "@", str(path), timeout=120)
    elapsed = time.monotonic() - t0
    agg = ofctl(host, "dump-aggregate", "@").stdout
    assert f"flow_count={n}" in agg
    dump = ofctl(host, "dump-flows", "@").stdout
    assert len(flow_lines(dump)) == n
    # More than one reply message: REPLY_MORE splitting at 64 KiB.
    assert dump.count("OFPST_FLOW reply") > 1
    assert "nw_dst=10.0.39.15" in dump
    print(f"add-flows {n}: {elapsed:.2f} s")


def test_del_flows_strict_and_non_strict(host):
    for f in ("priority=10,ip,nw_dst=10.0.0.1,actions=output:1",
              "priority=20,ip,nw_dst=10.0.0.1,actions=output:2",
              "priority=10,ip,nw_dst=10.0.0.2,actions=output:3",
              "priority=10,arp,actions=output:1"):
        ofctl(host, "add-flow", "@", f)
    # Strict: priority and the exact match.
    ofctl(host, "--strict", "del-flows", "@", "priority=20,ip,nw_dst=10.0.0.1")
    dump = flow_lines(ofctl(host, "dump-flows", "@").stdout)
    assert len(dump) == 3 and not any("priority=20" in l for l in dump)
    # Strict with a wider match removes nothing.
    ofctl(host, "--strict", "del-flows", "@", "priority=10,ip")
    assert len(flow_lines(ofctl(host, "dump-flows", "@").stdout)) == 3
    # Non-strict: everything the match covers.
    ofctl(host, "del-flows", "@", "ip")
    dump = flow_lines(ofctl(host, "dump-flows", "@").stdout)
    assert len(dump) == 1 and "arp" in dump[0]
    # out_port filter.
    ofctl(host, "del-flows", "@", "out_port=2")
    assert len(flow_lines(ofctl(host, "dump-flows", "@").stdout)) == 1
    ofctl(host, "del-flows", "@", "out_port=1")
    assert flow_lines(ofctl(host, "dump-flows", "@").stdout) == []


def test_mod_flows_and_cookies(host):
    ofctl(host, "add-flow", "@", "cookie=0x1,priority=5,ip,actions=output:1")
    ofctl(host, "add-flow", "@", "cookie=0x2,priority=5,arp,actions=output:1")
    ofctl(host, "mod-flows", "@", "cookie=0x2/-1,actions=output:3")
    dump = {re.search(r"cookie=(0x[0-9a-f]+)", l).group(1): l
            for l in flow_lines(ofctl(host, "dump-flows", "@").stdout)}
    assert "actions=output:1" in dump["0x1"]
    assert "actions=output:3" in dump["0x2"]
    dump = flow_lines(ofctl(host, "dump-flows", "@", "cookie=0x1/-1").stdout)
    assert len(dump) == 1 and "cookie=0x1" in dump[0]


def test_tables_ports_and_features(host):
    tables = ofctl(host, "dump-tables", "@").stdout
    assert "table 0:" in tables and "active=0" in tables
    feats = ofctl(host, "dump-table-features", "@").stdout
    assert 'table 0 ("table0")' in feats
    assert "max_entries=100000" in feats
    assert "goto_table" in feats and "next tables: 1-3" in feats
    ports = ofctl(host, "dump-ports", "@").stdout
    assert "3 ports" in ports and "rx pkts=20" in ports
    one = ofctl(host, "dump-ports", "@", "2").stdout
    assert "port  2" in one
    desc = ofctl(host, "dump-ports-desc", "@").stdout
    assert "1(p1): addr:02:00:00:00:00:01" in desc
    r = ofctl(host, "dump-ports", "@", "9", check=False)
    assert "OFPBRC_BAD_PORT" in r.stdout + r.stderr  # ovs-ofctl prints it, exit 0


def test_groups_and_group_loop(host):
    ofctl(host, "add-group", "@", "group_id=1,type=all,bucket=output:1,bucket=output:2")
    ofctl(host, "add-group", "@",
          "group_id=2,type=select,bucket=weight:10,output:1,bucket=weight:20,output:2")
    ofctl(host, "add-group", "@", "group_id=3,type=indirect,bucket=group:1")
    ofctl(host, "add-group", "@",
          "group_id=4,type=fast_failover,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2")
    groups = ofctl(host, "dump-groups", "@").stdout
    assert "group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2" in groups
    assert "group_id=2,type=select,bucket=weight:10,actions=output:1" in groups
    assert "group_id=3,type=indirect,bucket=actions=group:1" in groups
    assert "group_id=4,type=ff,bucket=watch_port:1,actions=output:1" in groups
    feats = ofctl(host, "dump-group-features", "@").stdout
    assert "Types:  0xf" in feats
    # 1 -> 3 would close 3 -> 1: a loop, refused, and group 1 is unchanged.
    r = ofctl(host, "mod-group", "@", "group_id=1,type=all,bucket=group:3", check=False)
    assert r.returncode != 0 and "OFPGMFC_LOOP" in r.stderr
    r = ofctl(host, "add-group", "@", "group_id=1,type=all,bucket=output:3", check=False)
    assert "OFPGMFC_GROUP_EXISTS" in r.stderr
    assert "group_id=1,type=all,bucket=actions=output:1" in ofctl(host, "dump-groups", "@").stdout
    ofctl(host, "add-flow", "@", "ip,actions=group:2")
    ofctl(host, "del-groups", "@")
    assert "group_id" not in ofctl(host, "dump-groups", "@").stdout


def test_packet_out_and_monitor_sees_packet_in(host, tmp_path):
    mon = subprocess.Popen(["ovs-ofctl", "-O", "OpenFlow13", f"--unixctl={tmp_path}/mon.ctl",
                            "monitor", host.target, "65534"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        arp = ("ffffffffffff00112233445508060001080006040001001122334455"
               "c0a80001000000000000c0a80002")
        ofctl(host, "packet-out", "@", f"in_port=1 packet={arp} actions=output:2,controller")
        host.wait_for(lambda l: l.get("op") == "packet_out" and l["in_port"] == 1)
        # A packet-in raised by the datapath on its own.
        host.command(f"packet_in 3 {arp}")
        time.sleep(1.0)
    finally:
        mon.terminate()
        out = mon.communicate(timeout=10)[0]
    assert "OFPT_PACKET_IN" in out
    assert "in_port=1 (via action) data_len=42" in out
    assert "in_port=3 (via no_match) data_len=42" in out
    assert "arp_spa=192.168.0.1" in out


def test_port_status_reaches_monitor(host, tmp_path):
    mon = subprocess.Popen(["ovs-ofctl", "-O", "OpenFlow13", f"--unixctl={tmp_path}/mon.ctl",
                            "monitor", host.target],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        host.command("port_add 7")
        host.command("port_del 7")
        time.sleep(1.0)
    finally:
        mon.terminate()
        out = mon.communicate(timeout=10)[0]
    assert "OFPT_PORT_STATUS" in out and "ADD: 7(p7)" in out
    assert "DEL: 7(p7)" in out


def test_testcontroller_active_connection(tmp_path):
    if not vessel.have("ovs-testcontroller"):
        pytest.skip("ovs-testcontroller is not installed")
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    tc = subprocess.Popen(["ovs-testcontroller", "-O", "OpenFlow13", f"--unixctl={tmp_path}/tc.ctl",
                           f"ptcp:{port}:127.0.0.1"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    h = None
    try:
        time.sleep(0.3)
        h = OfaHost("--connect", f"tcp:127.0.0.1:{port}")
        # Handshake, features, then the controller's table-miss flow.
        miss = h.wait_for(lambda l: l.get("op") == "flow_mod")
        assert miss["priority"] == 0 and miss["match"] == ""
        assert "output:4294967293" in miss["insts"]  # OFPP_CONTROLLER
        assert h.stats()["active"] == 1
        # A broadcast from port 1, then the reply from port 2: the learning
        # switch floods the first and installs a flow for the second.
        h.command("packet_in 1 ffffffffffff00112233445508060001080006040001001122334455"
                  "00000000000000000000000000")
        po = h.wait_for(lambda l: l.get("op") == "packet_out")
        assert po["in_port"] == 1
        h.command("packet_in 2 00112233445500aabbccddee0806000108000604000200aabbccddee"
                  "00000000001122334455000000000000")
        learned = h.wait_for(lambda l: l.get("op") == "flow_mod")
        assert "in_port=2" in learned["match"] and "output:1" in learned["insts"]
    finally:
        if h:
            h.stop()
        tc.terminate()
        tc.wait(timeout=10)


def test_active_reconnects_after_controller_restart(tmp_path):
    if not vessel.have("ovs-testcontroller"):
        pytest.skip("ovs-testcontroller is not installed")
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()

    def start_tc(n):
        return subprocess.Popen(["ovs-testcontroller", "-O", "OpenFlow13",
                                 f"--unixctl={tmp_path}/tc{n}.ctl", f"ptcp:{port}:127.0.0.1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    h = OfaHost("--connect", f"tcp:127.0.0.1:{port}")
    tc = None
    try:
        # No controller yet: the agent backs off and retries (1, 2, 4 s...).
        time.sleep(1.5)
        tc = start_tc(1)
        h.wait_for(lambda l: l.get("op") == "flow_mod", timeout=15)
        tc.terminate()
        tc.wait(timeout=10)
        tc = start_tc(2)
        # Reconnects, and the new controller installs its table-miss flow.
        h.wait_for(lambda l: l.get("op") == "flow_mod", timeout=15)
    finally:
        h.stop()
        if tc:
            tc.terminate()
            tc.wait(timeout=10)


@pytest.mark.root
def test_tshark_decodes_session_cleanly(host, tmp_path):
    if not vessel.is_root():
        pytest.skip("capturing on lo needs root")
    if not vessel.have("tshark"):
        pytest.skip("tshark is not installed")
    import signal
    pcap = tmp_path / "of.pcapng"
    cap = subprocess.Popen(["tshark", "-i", "lo", "-f", f"tcp port {host.port}", "-w", str(pcap)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # dumpcap says "Capturing on 'Loopback: lo'" once it is ready.
        end = time.monotonic() + 15
        line = ""
        while "Capturing on" not in line and time.monotonic() < end:
            line = cap.stderr.readline()
        time.sleep(0.5)  # the line comes just before the capture really starts
        ofctl(host, "show", "@")
        ofctl(host, "add-flow", "@", "priority=100,ip,nw_dst=10.0.0.0/8,tcp,tp_dst=80,actions=output:2")
        ofctl(host, "add-flow", "@", "in_port=1,actions=push_vlan:0x8100,set_field:4196->vlan_vid,"
              "output:3,goto_table:2")
        ofctl(host, "dump-flows", "@")
        ofctl(host, "dump-table-features", "@")
        ofctl(host, "add-group", "@", "group_id=1,type=select,bucket=weight:10,output:1,"
              "bucket=weight:20,output:2")
        ofctl(host, "dump-groups", "@")
        ofctl(host, "dump-ports", "@")
        ofctl(host, "packet-out", "@", "in_port=1 packet=ffffffffffff001122334455080600010800060400"
              "01001122334455c0a80001000000000000c0a80002 actions=output:controller")
        ofctl(host, "del-flows", "@")
        time.sleep(1.0)
    finally:
        cap.send_signal(signal.SIGINT)
        cap.wait(timeout=15)
    decode = ["tshark", "-r", str(pcap), "-d", f"tcp.port=={host.port},openflow"]
    frames = vessel.run(decode + ["-Y", "openflow_v4"]).stdout.splitlines()
    assert len(frames) > 40
    # TCP's own analysis (a segment before the capture started) is not about
    # OpenFlow: only malformed frames and the OpenFlow dissector's expert items count.
    bad = vessel.run(decode + ["-Y", '_ws.malformed || (_ws.expert.severity >= "Warning" '
                               '&& !tcp.analysis.flags)']).stdout
    assert bad.strip() == "", bad
