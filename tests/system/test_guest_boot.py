"""The test guest itself: it builds, boots under TCG, loads the virtio drivers,
runs a script, reports the script's exit status, and drives a virtio-blk disk.

Every later test that boots a guest (vhost-user NICs and disks) relies on this
harness, so these tests make sure it can both pass and fail.

Run: /usr/bin/python3 -m pytest tests/system/test_guest_boot.py
Guest cache: $VESSEL_GUEST_BUILD, else <repo>/build (the guest is cached in <build>/guest/).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "guest"))
import guest  # noqa: E402

# The guest does not depend on the build variant: one cache serves build/ and build/asan/.
BUILD_DIR = Path(os.environ.get("VESSEL_GUEST_BUILD") or REPO / "build")
BOOT_TIMEOUT = 60  # seconds, QEMU is killed after this


@pytest.fixture(scope="module")
def guest_paths():
    if guest.qemu_path() is None:
        pytest.skip(f"{guest.QEMU} is not installed (apt-get install qemu-system-x86)")
    try:
        return guest.build(BUILD_DIR)
    except guest.GuestUnavailable as e:
        pytest.skip(f"the guest kernel package cannot be downloaded: {e}")


def boot(paths, tmp_path, script, **kwargs):
    return guest.boot(script=script, timeout=BOOT_TIMEOUT, accel="tcg", paths=paths,
                      workdir=tmp_path / "guest", **kwargs)


def test_guest_boots_and_loads_virtio_drivers(guest_paths, tmp_path):
    script = r"""
echo hello-from-vessel-guest
echo "--- /proc/modules"
cat /proc/modules
echo "--- drivers"
for d in virtio_net virtio_blk; do
    if [ -d /sys/bus/virtio/drivers/$d ]; then echo "driver-registered:$d"; fi
done
uname -r
"""
    r = boot(guest_paths, tmp_path, script)
    assert r.done and not r.timed_out, r.describe()
    print(f"guest boot under TCG: ready after {r.ready_after:.2f} s, "
          f"done after {r.elapsed:.2f} s, kernel {guest_paths.kernel_release}")
    assert r.rc == 0, r.describe()
    assert r.elapsed < 60, r.describe()
    out = r.script_output()
    assert "hello-from-vessel-guest" in out, r.describe()
    assert guest_paths.kernel_release in out, r.describe()
    # Every module the build put in the initramfs is loaded ...
    loaded = {line.split()[0] for line in out.split("--- /proc/modules")[1]
              .split("--- drivers")[0].strip().splitlines()}
    assert set(guest_paths.modules) <= loaded, r.describe()
    # ... and the two drivers the Vessel tests use are registered on the virtio bus.
    for d in ("virtio_net", "virtio_blk"):
        assert f"driver-registered:{d}" in out, r.describe()


def test_script_exit_status_is_reported(guest_paths, tmp_path):
    # The harness must be able to fail: a failing script gives its own status.
    r = boot(guest_paths, tmp_path, "echo about-to-fail\nexit 3\n")
    assert r.done, r.describe()
    assert r.rc == 3, r.describe()
    assert not r.ok
    assert "about-to-fail" in r.script_output()


def test_kernel_cmdline_command(guest_paths, tmp_path):
    # vessel.cmd=... runs without an appended script.
    r = boot(guest_paths, tmp_path, None, cmd="echo cmd-$((6*7)); exit 4")
    assert r.done, r.describe()
    assert r.rc == 4, r.describe()
    assert "cmd-42" in r.script_output(), r.describe()


def _pattern() -> bytes:
    # 128 lines of 32 bytes = one 4 KiB block; the guest script makes the same.
    return b"".join(b"vessel-blk-%020d\n" % i for i in range(128))


def test_virtio_blk_disk_write_read(guest_paths, tmp_path):
    disk = tmp_path / "disk.raw"
    size = 4 * 1024 * 1024
    if shutil.which("qemu-img"):
        subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(disk), str(size)], check=True)
    else:
        with open(disk, "wb") as f:
            f.truncate(size)
    offset_blocks = 3  # write at 12 KiB: checks the offset is honoured too
    script = f"""
set -e
ls /sys/block
test -b /dev/vda
echo "vda-sectors:$(cat /sys/block/vda/size)"
i=0
while [ $i -lt 128 ]; do printf 'vessel-blk-%020d\\n' $i; i=$((i+1)); done >/tmp/pattern
dd if=/tmp/pattern of=/dev/vda bs=4096 seek={offset_blocks} count=1 conv=fsync 2>/dev/null
# Read it back bypassing the page cache so the bytes come from the device.
dd if=/dev/vda of=/tmp/readback bs=4096 skip={offset_blocks} count=1 iflag=direct 2>/dev/null
cmp /tmp/pattern /tmp/readback
echo readback-ok
"""
    r = boot(guest_paths, tmp_path, script, extra_qemu_args=guest.virtio_blk_args(disk))
    assert r.done, r.describe()
    assert r.rc == 0, r.describe()
    out = r.script_output()
    assert f"vda-sectors:{size // 512}" in out, r.describe()
    assert "readback-ok" in out, r.describe()
    # The host sees exactly what the guest wrote, where it wrote it.
    data = disk.read_bytes()
    start = offset_blocks * 4096
    assert data[start:start + 4096] == _pattern()
    assert data[:start] == bytes(start)
    assert data[start + 4096:] == bytes(size - start - 4096)
