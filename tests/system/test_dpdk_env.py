"""vessel-dpdk-env: hugepages reserved, hugetlbfs mounted, and only dead Vessel
processes' DPDK files removed — never another application's, never a live one's."""
import os
import subprocess

import pytest

import vessel


def hugetlbfs_mount():
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "hugetlbfs":
                return parts[1]
    return None


def dead_pid():
    """A pid that is not running now (pid_max is far above what is in use)."""
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


@pytest.fixture
def tool(need_root):
    path = vessel.binary("vessel-dpdk-env")
    if not os.path.exists(path):
        pytest.skip(f"vessel-dpdk-env is not built in {vessel.BUILD}")
    return path


def test_reserves_and_mounts(tool):
    p = subprocess.run([tool], capture_output=True, text=True, check=True)
    with open("/proc/sys/vm/nr_hugepages") as f:
        assert int(f.read()) >= 512, p.stdout + p.stderr
    assert hugetlbfs_mount() is not None


def test_cleans_only_dead_vessel_files(tool):
    subprocess.run([tool], check=True, capture_output=True)
    mnt = hugetlbfs_mount()
    dead = dead_pid()
    live = os.getpid()
    files = {
        "dead": os.path.join(mnt, f"vessel-vswitchd-{dead}map_0"),
        "live": os.path.join(mnt, f"vessel-vswitchd-{live}map_0"),
        "other": os.path.join(mnt, f"rtemap_{dead}"),
        "foreign-prefix": os.path.join(mnt, f"myapp-{dead}map_0"),
    }
    dirs = {
        "dead": f"/var/run/dpdk/vessel-blockd-{dead}",
        "live": f"/var/run/dpdk/vessel-blockd-{live}",
        "other": f"/var/run/dpdk/other-app-{dead}",
    }
    try:
        for path in files.values():
            # hugetlbfs files are created empty; no page is used until mapped.
            open(path, "w").close()
        for d in dirs.values():
            os.makedirs(d, exist_ok=True)
            open(os.path.join(d, "config"), "w").close()
        p = subprocess.run([tool, "--clean-only"], capture_output=True, text=True, check=True)
        assert "removed 2 " in p.stdout, p.stdout
        assert not os.path.exists(files["dead"])
        assert not os.path.exists(dirs["dead"])
        for key in ("live", "other", "foreign-prefix"):
            assert os.path.exists(files[key]), key
        for key in ("live", "other"):
            assert os.path.exists(dirs[key]), key
    finally:
        for path in files.values():
            if os.path.exists(path):
                os.unlink(path)
        for d in dirs.values():
            subprocess.run(["rm", "-rf", d])


def test_usage_errors(tool):
    p = subprocess.run([tool, "--pages"], capture_output=True, text=True)
    assert p.returncode == 2
    p = subprocess.run([tool, "--pages", "x"], capture_output=True, text=True)
    assert p.returncode == 2 and "number" in p.stderr
    p = subprocess.run([tool, "--bogus"], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown option" in p.stderr
