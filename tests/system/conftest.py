"""pytest fixtures shared by Vessel's system tests (see vessel.py)."""
import os
import shutil
import subprocess

import pytest

import vessel


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root (namespaces, hugepages, TAP)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture
def rundir():
    d = vessel.short_tmpdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def need_root():
    if not vessel.is_root():
        pytest.skip("needs root")


@pytest.fixture
def dpdk_env(need_root):
    """Hugepages reserved and stale Vessel hugepage files cleaned."""
    tool = vessel.binary("vessel-dpdk-env")
    if not os.path.exists(tool):
        pytest.skip(f"vessel-dpdk-env is not built in {vessel.BUILD}")
    subprocess.run([tool], check=True, capture_output=True)


def _daemon_factory(name, rundir):
    started = []

    def start(args=(), extra=(), env=None, **kw):
        if not os.path.exists(vessel.binary(name)):
            pytest.skip(f"{name} is not built in {vessel.BUILD}")
        d = vessel.Daemon(name, rundir, args=args, extra=extra, env=env)
        started.append(d)
        d.start(**kw)
        return d

    return start, started


@pytest.fixture
def start_blockd(rundir):
    start, started = _daemon_factory("blockd", rundir)
    yield start
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()


@pytest.fixture
def start_vswitchd(rundir, dpdk_env):
    start, started = _daemon_factory("vswitchd", rundir)
    yield start
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()


@pytest.fixture
def blockd(start_blockd):
    return start_blockd()


@pytest.fixture
def vswitchd(start_vswitchd):
    return start_vswitchd()


@pytest.fixture
def netns(need_root):
    """Factory for network namespaces; all are deleted at teardown."""
    made = []

    def make(tag="t"):
        ns = vessel.Netns(tag)
        made.append(ns)
        return ns

    yield make
    for ns in made:
        ns.delete()
