"""vmm: VMs under QEMU (TCG) with NICs on a real vswitchd and disks exported by
a real blockd, driven through the `vmm` CLI exactly as an operator would.

- a small version of the demo: guests A and B on VLAN 100 ping each other, C on
  VLAN 200 reaches neither; with blockd's vhost-user-blk exports, each guest
  writes a record to its LVM volume, reboots and reads it back;
- lifecycle: pause/resume, a graceful stop the guest ignores (timeout,
  VM still running) then stop --force; QEMU killed from outside (crashed, with
  its signal, ports and exports released); the supervisor killed (a new vmm
  still finds the VM through QMP and can stop it);
- bad definitions refused with the field named, nothing started or leaked.

Guests are the test guest (tests/guest) with configs/demo/guest.sh appended as
/test.sh. Needs root (vswitchd's DPDK environment) and qemu-system-x86_64.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vessel

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "guest"))
import guest  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.slow]

GUEST_BUILD = Path(os.environ.get("VESSEL_GUEST_BUILD") or REPO / "build")
GUEST_SCRIPT = REPO / "configs" / "demo" / "guest.sh"


@pytest.fixture(scope="module")
def guest_paths():
    if guest.qemu_path() is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    try:
        return guest.build(GUEST_BUILD)
    except guest.GuestUnavailable as e:
        pytest.skip(f"the guest kernel package cannot be downloaded: {e}")


class Vmm:
    """The vmm CLI on a private state and definitions directory."""

    def __init__(self, rundir, tmp, paths):
        self.rundir = rundir
        self.defs = os.path.join(tmp, "defs")
        self.state = os.path.join(rundir, "vmm")
        self.tmp = tmp
        self.paths = paths
        self.env = dict(os.environ, VESSEL_RUNDIR=rundir, VESSEL_VMM_DEFS=self.defs)
        self.initrd = os.path.join(tmp, "demo-initrd.img")
        guest.make_initrd_with_script(paths.initrd, GUEST_SCRIPT.read_text(), self.initrd)

    def run(self, *args, timeout=150, check=False):
        r = subprocess.run([vessel.binary("vmm")] + list(args), env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"vmm {' '.join(args)}: rc={r.returncode}\n{r.stderr}"
        return r

    def json(self, *args):
        r = self.run("--json", *args, check=True)
        return json.loads(r.stdout)

    def definition(self, name, cmdline="", nics=(), disks=(), memory=128, **extra):
        d = {"name": name, "memory": memory, "accel": "tcg",
             "kernel": str(self.paths.vmlinux or self.paths.kernel), "initrd": self.initrd,
             "cmdline": "console=ttyS0 loglevel=4 " + cmdline,
             "nics": list(nics), "disks": list(disks)}
        d.update(extra)
        return d

    def define(self, d, check=True):
        name = d.get("name", "x") if isinstance(d, dict) else "raw"
        path = os.path.join(self.tmp, f"{name}.json")
        with open(path, "w") as f:
            json.dump(d, f) if isinstance(d, dict) else f.write(d)
        return self.run("define", path, check=check)

    def console(self, name):
        return self.run("console", name, check=True).stdout

    def wait_console(self, name, pattern, timeout=90, count=1):
        end = time.monotonic() + timeout
        while True:
            text = self.console(name)
            found = re.findall(pattern, text, re.M)
            if len(found) >= count:
                return found
            st = self.json("status", name)
            assert st["state"] in ("running", "paused", "starting"), \
                f"{name} is {st['state']}: {st.get('reason')}\n{text[-3000:]}"
            assert time.monotonic() < end, f"{name}: no {pattern!r} in {timeout}s:\n{text[-3000:]}"
            time.sleep(0.5)

    def status(self, name):
        return self.json("status", name)

    def kill_leftovers(self):
        """Whatever a failed test left running: by PID, from the state files."""
        if not os.path.isdir(self.state):
            return
        for name in os.listdir(self.state):
            try:
                with open(os.path.join(self.state, name, "state.json")) as f:
                    st = json.load(f)
            except (OSError, ValueError):
                continue
            for key in ("supervisor_pid", "qemu_pid"):
                pid = st.get(key) or 0
                if pid > 0 and _cmdline_is(pid, ("vmm", "qemu-system-x86_64")):
                    os.kill(pid, signal.SIGKILL)


def _cmdline_is(pid, names):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            first = f.read().split(b"\0")[0].decode()
    except OSError:
        return False
    return os.path.basename(first) in names


@pytest.fixture
def vmm(rundir, tmp_path, guest_paths):
    if not os.path.exists(vessel.binary("vmm")):
        pytest.skip("vmm is not built")
    v = Vmm(rundir, str(tmp_path), guest_paths)
    yield v
    v.kill_leftovers()


def ports(sw):
    return {p["name"]: p for p in sw.rpc("dump-ports")}


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def wait_until(cond, timeout, what, diag=None):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, \
            f"timed out waiting for {what}" + (f": {diag()}" if diag else "")
        time.sleep(0.2)


def vhost_blk_supported(blockd):
    """blockd's export-add knows vhost-user-blk (the vblk work) or not."""
    blockd.rpc("bdev-create", {"type": "malloc", "name": "probe0", "size": "1M"})
    try:
        blockd.rpc("export-add", {"bdev": "probe0", "type": "vhost-user-blk", "name": "probe0",
                                  "socket": os.path.join(blockd.rundir, "probe0.sock")})
    except vessel.RpcError:
        return False
    finally:
        try:
            blockd.rpc("export-remove", {"name": "probe0"})
        except vessel.RpcError:
            pass
        blockd.rpc("bdev-delete", {"name": "probe0"})
    return True


# ---------------------------------------------------------------------------

def test_demo_vlans_and_disks(vmm, vswitchd, blockd):
    """A and B (VLAN 100) ping each other, C (VLAN 200) reaches neither; each
    guest writes a record to its volume, reboots and reads it back; then every
    port and export is released."""
    disks = vhost_blk_supported(blockd)
    if disks:
        blockd.rpc("bdev-create", {"type": "malloc", "name": "pool0", "size": "64M"})
        blockd.rpc("pv-create", {"bdev": "pool0"})
        blockd.rpc("vg-create", {"name": "vgt", "pvs": ["pool0"]})
        for n in "abc":
            blockd.rpc("lv-create", {"vg": "vgt", "name": n, "size": "8M"})
    specs = {"a": (1, 100, "10.0.100.2", ""), "b": (2, 100, "10.0.100.1", ""),
             "c": (3, 200, "", "10.0.100.1,10.0.100.2")}
    for n, (ip, vlan, ping, noping) in specs.items():
        cmd = f"vessel.ip=10.0.100.{ip}/24"
        cmd += f" vessel.ping={ping}" if ping else ""
        cmd += f" vessel.noping={noping}" if noping else ""
        cmd += " vessel.disk=/dev/vda" if disks else ""
        vmm.define(vmm.definition(n, cmd, nics=[{"port": f"{n}-eth0", "vlan": vlan}],
                                  disks=[{"volume": f"vgt/{n}"}] if disks else []))
    t0 = time.monotonic()
    for n in "ab":
        vmm.run("start", n, check=True)
    assert set(ports(vswitchd)) == {"a-eth0", "b-eth0"}
    assert ports(vswitchd)["a-eth0"]["tag"] == 100
    vmm.wait_console("a", r"^DEMO-PING 10.0.100.2 ok")
    vmm.wait_console("b", r"^DEMO-PING 10.0.100.1 ok")
    # C starts once A and B answer each other, so its failures are isolation.
    vmm.run("start", "c", check=True)
    assert ports(vswitchd)["c-eth0"]["tag"] == 200
    found = vmm.wait_console("c", r"^DEMO-NOPING (\S+) (\S+)", count=2)
    assert sorted(found) == [("10.0.100.1", "unreachable"), ("10.0.100.2", "unreachable")]
    p = ports(vswitchd)
    assert p["a-eth0"]["rx_packets"] > 0 and p["b-eth0"]["tx_packets"] > 0
    assert p["c-eth0"]["rx_packets"] > 0   # C's ARP requests reached the switch...
    # ...and went nowhere: nothing from C was ever delivered to A or B.
    listing = vmm.run("list", check=True).stdout
    assert re.search(r"^a\s+running", listing, re.M) and re.search(r"^c\s+running", listing, re.M)

    if disks:
        for n in "abc":
            vmm.wait_console(n, r"^DEMO-DISK wrote VESSEL-RECORD")
            vmm.run("reboot", n, check=True)
        for n in "abc":
            vmm.wait_console(n, r"^VESSEL-GUEST-READY", count=2)
            found = vmm.wait_console(n, r"^DEMO-DISK read (VESSEL-RECORD.*10\.0\.100\.\d.*)$")
            assert f"10.0.100.{specs[n][0]}/24" in found[0]
            assert vmm.status(n)["reboots"] == 1
        exports = {e["name"] for e in blockd.rpc("export-list")}
        assert exports == {"vmm.a.d0", "vmm.b.d0", "vmm.c.d0"}
    for n in "abc":
        r = vmm.run("stop", n, "--force", check=True)
        assert "stopped" in r.stdout
    assert ports(vswitchd) == {}
    if disks:
        assert blockd.rpc("export-list") == []
    assert time.monotonic() - t0 < 170


def free_hugepages():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Free:"):
                return int(line.split()[1])
    return 0


def test_lifecycle_pause_resume_stop(vmm, vswitchd):
    # Guest RAM from hugepages when enough are free (other tests use them too).
    huge = {"memory_backend": "hugepages"} if free_hugepages() >= 192 else {}
    vmm.define(vmm.definition("life", "vessel.ip=10.0.9.1/24",
                              nics=[{"port": "life0", "vlan": 9,
                                     "mac": "52:54:00:aa:00:01"}], **huge))
    r = vmm.run("start", "life", check=True)
    assert "started life" in r.stdout
    st = vmm.status("life")
    assert st["state"] == "running" and alive(st["qemu_pid"])
    assert st["definition"]["memory_backend"] == huge.get("memory_backend", "memfd")
    assert vmm.run("start", "life").returncode == 1          # already running
    vmm.wait_console("life", r"^DEMO-READY")

    assert vmm.json("pause", "life")["state"] == "paused"
    st = vmm.status("life")
    assert st["state"] == "paused" and st["qmp_status"] == "paused"
    before = vmm.console("life")
    time.sleep(1)
    assert vmm.console("life") == before
    assert vmm.json("resume", "life")["state"] == "running"
    assert vmm.status("life")["qmp_status"] == "running"

    # (reboot: test_demo_vlans_and_disks reboots three guests.)

    # The test guest has no ACPI daemon: a graceful stop times out and the
    # VM keeps running (a hung guest), then --force stops it.
    r = vmm.run("stop", "life", "--timeout", "2")
    assert r.returncode == 1 and "did not power off" in r.stderr
    st = vmm.status("life")
    assert st["state"] == "running" and alive(st["qemu_pid"])
    assert "life0" in ports(vswitchd)
    r = vmm.run("--json", "stop", "--force", "life", check=True)
    st = json.loads(r.stdout)
    assert st["state"] == "stopped" and "--force" in st["reason"] and st["released"]
    assert not alive(st["qemu_pid"])
    assert ports(vswitchd) == {}
    assert vmm.run("stop", "life").returncode == 1           # not running
    # A guest that powers off by itself is "stopped", not "crashed".
    d = vmm.definition("life", "", nics=[{"port": "life0"}])
    d["initrd"] = str(vmm.paths.initrd)                      # no /test.sh: powers off
    vmm.define(d)
    vmm.run("start", "life", check=True)
    wait_until(lambda: vmm.status("life")["state"] == "stopped", 60, "guest power-off",
               diag=lambda: (vmm.status("life"), vmm.console("life")[-2000:]))
    assert vmm.status("life")["reason"] == "the guest powered off"
    assert ports(vswitchd) == {}
    vmm.run("undefine", "life", check=True)
    assert vmm.run("status", "life").returncode == 1


def test_crash_and_lost_supervisor(vmm, vswitchd, blockd):
    disks = vhost_blk_supported(blockd)
    if disks:
        blockd.rpc("bdev-create", {"type": "malloc", "name": "cr0", "size": "8M"})
    # accel auto: the first start probes KVM (with a timeout) and remembers.
    vmm.define(vmm.definition("cr", "", nics=[{"port": "cr0", "vlan": 5}], accel="auto",
                              disks=[{"bdev": "cr0", "readonly": True}] if disks else []))
    vmm.run("start", "cr", check=True)
    vmm.wait_console("cr", r"^DEMO-READY")
    st = vmm.status("cr")
    with open(os.path.join(vmm.state, "accel.json")) as f:
        probed = json.load(f)
    assert st["accel"] == probed["accel"] and "probed now" in st["accel_reason"]
    qemu, sup = st["qemu_pid"], st["supervisor_pid"]

    # The supervisor dies: a new vmm finds the VM through QEMU's QMP socket.
    os.kill(sup, signal.SIGKILL)
    wait_until(lambda: not alive(sup), 10, "supervisor exit")
    st = vmm.status("cr")
    assert st["state"] == "unsupervised" and st["supervisor"] == "dead"
    assert st["qmp_status"] == "running" and alive(qemu)
    assert re.search(r"^cr\s+unsupervised\s+%d" % qemu, vmm.run("list").stdout, re.M)
    r = vmm.run("pause", "cr", check=True)
    assert vmm.status("cr")["qmp_status"] == "paused"
    vmm.run("resume", "cr", check=True)
    r = vmm.run("stop", "--force", "cr", check=True)
    assert "stopped" in r.stdout
    wait_until(lambda: not alive(qemu), 10, "QEMU exit")
    assert ports(vswitchd) == {}
    if disks:
        assert blockd.rpc("export-list") == []

    # QEMU killed from outside: crashed, with the signal, everything released.
    vmm.run("start", "cr", check=True)
    st = vmm.status("cr")
    qemu = st["qemu_pid"]
    assert st["accel"] == probed["accel"] and "remembered" in st["accel_reason"]
    assert "cr0" in ports(vswitchd)
    if disks:
        assert [e["name"] for e in blockd.rpc("export-list")] == ["vmm.cr.d0"]
    os.kill(qemu, signal.SIGKILL)
    wait_until(lambda: vmm.status("cr")["state"] == "crashed", 20, "crash report")
    st = vmm.status("cr")
    assert st["exit_signal"] == 9 and "SIGKILL" in st["reason"] and st["released"]
    assert ports(vswitchd) == {}
    if disks:
        assert blockd.rpc("export-list") == []
    assert re.search(r"^cr\s+crashed", vmm.run("list").stdout, re.M)
    # And it starts again.
    vmm.run("start", "cr", check=True)
    vmm.run("stop", "--force", "cr", check=True)


BAD = [
    ({"bogus": 1}, "bogus: unknown key"),
    ({"nics": [{"port": "p1", "colour": "red"}]}, "nics[0].colour: unknown key"),
    ({"kernel": "/nonexistent/vmlinuz"}, "kernel: /nonexistent/vmlinuz: No such file"),
    ({"nics": [{"port": "p1", "mac": "52:54:00:00:00:01"},
               {"port": "p2", "mac": "52:54:00:00:00:01"}]},
     "nics[1].mac: 52:54:00:00:00:01 is already used by nics[0]"),
    ({"memory": "1T"}, "memory: 1048576M is more than the host's"),
    ({"nics": [{"port": "p1", "vlan": 5000}]}, "nics[0].vlan: must be 1..4094"),
    ({"memory": "1.5M"}, "memory: must be a whole number of MiB"),
    ({"disks": [{"volume": "vg-0/lv"}]}, "disks[0].volume"),
]


@pytest.mark.parametrize("patch,message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_definition_refused(vmm, patch, message):
    d = vmm.definition("bad")
    d.update(patch)
    r = vmm.define(d, check=False)
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(vmm.defs, "bad.json"))


def test_bad_json_refused(vmm):
    r = vmm.define('{"name": "bad", "memory": 128,', check=False)
    assert r.returncode == 1 and "not valid JSON" in r.stderr


def test_start_refused_nothing_leaks(vmm, vswitchd, blockd):
    """A NIC whose port cannot be created, a disk whose volume does not exist,
    no switch at all: start fails naming the field, and leaves no QEMU, no
    port, no export behind."""
    vswitchd.rpc("add-port", {"name": "taken0", "type": "vhost-user",
                              "path": os.path.join(vswitchd.rundir, "taken0.sock")})
    vmm.define(vmm.definition("bad", "", nics=[{"port": "ok0"}, {"port": "taken0"}]))
    r = vmm.run("start", "bad")
    assert r.returncode == 1 and "nics[1].port: cannot create switch port 'taken0'" in r.stderr
    assert set(ports(vswitchd)) == {"taken0"}                # ok0 was rolled back
    assert vmm.status("bad")["state"] == "stopped"

    disks = [{"volume": "vgx/missing"}]
    if vhost_blk_supported(blockd):
        blockd.rpc("bdev-create", {"type": "malloc", "name": "d0", "size": "4M"})
        disks.insert(0, {"bdev": "d0"})                      # exported, then rolled back
    vmm.define(vmm.definition("bad", "", nics=[{"port": "ok0"}], disks=disks))
    r = vmm.run("start", "bad")
    assert r.returncode == 1, r.stderr
    assert f"disks[{len(disks) - 1}].volume: no bdev 'vgx-missing'" in r.stderr, r.stderr
    assert set(ports(vswitchd)) == {"taken0"}
    assert blockd.rpc("export-list") == []

    # A VF on a device without SR-IOV (a veth; this machine has no SR-IOV NIC).
    veth = f"vsl-vf{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p"],
                   check=True)
    try:
        vmm.define(vmm.definition("bad", "", nics=[{"port": "ok0"}],
                                  vfs=[{"pf": veth, "vf": "any", "vlan": 10}]))
        r = vmm.run("start", "bad")
        assert r.returncode == 1 and f"vfs[0]: no SR-IOV support on {veth}" in r.stderr, r.stderr
        assert set(ports(vswitchd)) == {"taken0"}
        r = vmm.run("vf-list", veth)
        assert r.returncode == 1 and f"no SR-IOV support on {veth}" in r.stderr
    finally:
        subprocess.run(["ip", "link", "delete", veth], capture_output=True)

    vmm.define(vmm.definition("bad", "", nics=[{"port": "ok0"}]))
    r = vmm.run("--vswitchd-socket", "/nonexistent/vs.sock", "start", "bad")
    assert r.returncode == 1 and "nics[0].port" in r.stderr and "cannot reach vswitchd" in r.stderr
    assert not [p for p in os.listdir("/proc") if p.isdigit() and vmm.state in _cmdline(p)]


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""
