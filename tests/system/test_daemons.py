"""The daemon and CLI contract every Vessel daemon shares (vsl_daemon.h, vsl_cli.h):
start and stop, pid file and socket ownership, config replay, save-config, the
CLIs' exit codes and the daemons' own options, SIGHUP.

Tests that apply to every daemon run for blockd and vswitchd (vswitchd needs
root for its hugepages: those cases skip elsewhere). For vswitchd, a clean stop
also means no DPDK runtime directory or hugepage file named after its pid
remains.
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest

import vessel

CTL = {"blockd": "blockctl", "vswitchd": "vswitchctl"}
BUILTIN_METHODS = {"rpc.methods", "version", "save-config", "shutdown"}


# --------------------------------------------------------------------- helpers

def need_binary(name):
    path = vessel.binary(name)
    if not os.access(path, os.X_OK):
        pytest.skip(f"{name} is not built in {vessel.BIN}")
    return path


def need_daemon(name):
    """Skips unless the daemon (and, for vswitchd, the hugepage helper that the
    dpdk_env fixture runs) is built: checked before that fixture runs it."""
    need_binary(name)
    if name == "vswitchd":
        need_binary("vessel-dpdk-env")


def ctl(name, *args, env=None, cwd=None, timeout=30):
    """Runs blockctl/vswitchctl for daemon `name` (no -s added)."""
    prog = need_binary(CTL[name])
    return subprocess.run([prog] + list(args), capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=cwd)


def daemon_cmd(name, *args, rundir, timeout=15):
    """Runs a daemon binary that is expected to exit by itself."""
    prog = need_binary(name)
    env = dict(os.environ, VESSEL_RUNDIR=rundir)
    return subprocess.run([prog] + list(args), capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL)


def dpdk_leftovers(name, pid):
    """Files the EAL of daemon `name` with `pid` could leave behind."""
    if name != "vswitchd":
        return []
    prefix = f"vessel-vswitchd-{pid}"
    found = [d for d in (f"/var/run/dpdk/{prefix}", f"/run/user/{os.getuid()}/dpdk/{prefix}")
             if os.path.exists(d)]
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[2] == "hugetlbfs"]
    for m in mounts:
        found += glob.glob(os.path.join(m, prefix + "*"))
    return found


def remove_dpdk_leftovers(name, pid):
    for p in dpdk_leftovers(name, pid):
        if os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except OSError:
                pass


def wait_for(pred, timeout=5.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def daemon_version(name, rundir):
    """The version string the daemon binary reports for itself (-V)."""
    r = daemon_cmd(name, "--version", rundir=rundir)
    assert r.returncode == 0, r.stderr
    m = re.match(rf"{name} \(Vessel\) (\S+)$", r.stdout.strip())
    assert m, r.stdout
    return m.group(1)


def assert_stopped_clean(d, pid=None):
    pid = pid or d.pid
    assert not os.path.exists(d.sock), f"{d.sock} left behind"
    assert not os.path.exists(d.pidfile), f"{d.pidfile} left behind"
    left = dpdk_leftovers(d.name, pid)
    assert not left, f"DPDK files left behind: {left}"


# -------------------------------------------------------------------- fixtures

@pytest.fixture(params=sorted(CTL))
def name(request):
    return request.param


@pytest.fixture
def start(name, request):
    """start(args=(), extra=(), expect_fail=False) for the daemon under test,
    in the test's run directory (conftest's start_blockd / start_vswitchd)."""
    need_daemon(name)
    return request.getfixturevalue("start_" + name)


@pytest.fixture
def make(name, rundir, request):
    """make(args=(), extra=(), sock=None, own_rundir=False) -> an unstarted
    vessel.Daemon of the daemon under test, for the cases the conftest factory
    does not cover: a socket elsewhere, a second instance in a run directory of
    its own, a start that must fail (d.start(expect_fail=True)). Everything is
    stopped and removed at teardown."""
    need_daemon(name)
    if name == "vswitchd":
        request.getfixturevalue("dpdk_env")
    made = []

    def make_(args=(), extra=(), sock=None, own_rundir=False):
        need_binary(name)
        d = vessel.Daemon(name, vessel.short_tmpdir("vessel-2nd-") if own_rundir else rundir,
                          args=args, extra=extra)
        d.own_rundir = own_rundir
        if sock:
            d.sock = sock
        made.append(d)
        return d

    yield make_
    for d in made:
        if d.proc is not None:
            if d.proc.poll() is None:
                d.stop()
            remove_dpdk_leftovers(d.name, d.proc.pid)
        if d.own_rundir:
            shutil.rmtree(d.rundir, ignore_errors=True)


def fail_start(d, timeout=60):
    """Starts a daemon that must fail; returns its exit status."""
    return d.start(expect_fail=True, timeout=timeout)


# ------------------------------------------------------------ version, methods

def test_version_human_and_json(start, name, rundir):
    d = start()
    want = daemon_version(name, rundir)
    r = d.ctl("version")
    assert r.returncode == 0, r.stderr
    assert re.search(rf"^program\s+{name}$", r.stdout, re.M), r.stdout
    assert re.search(rf"^version\s+{re.escape(want)}$", r.stdout, re.M), r.stdout
    assert re.search(rf"^pid\s+{d.pid}$", r.stdout, re.M), r.stdout
    for flag in ("--json", "-j"):
        r = d.ctl(flag, "version")
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        assert info["program"] == name
        assert info["version"] == want
        assert info["pid"] == d.pid
        assert isinstance(info["uptime_ms"], int) and info["uptime_ms"] >= 0


def test_methods_lists_the_builtins(start, name):
    d = start()
    r = d.ctl("methods")
    assert r.returncode == 0, r.stderr
    listed = {line.split()[0] for line in r.stdout.splitlines() if line.strip()}
    assert BUILTIN_METHODS <= listed, r.stdout
    r = d.ctl("--json", "methods")
    assert r.returncode == 0, r.stderr
    methods = json.loads(r.stdout)
    names = [m["name"] for m in methods]
    assert BUILTIN_METHODS <= set(names)
    assert names == sorted(names), "rpc.methods is documented to be in name order"
    assert len(names) == len(set(names))
    assert all(isinstance(m["help"], str) and m["help"] for m in methods), methods


# ------------------------------------------------------------------- stopping

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(start, sig):
    d = start()
    assert stat.S_ISSOCK(os.lstat(d.sock).st_mode)
    assert stat.S_IMODE(os.lstat(d.sock).st_mode) == 0o660
    assert read(d.pidfile).strip() == str(d.pid)
    idle = socket.socket(socket.AF_UNIX)      # a connected client must not hold it up
    idle.connect(d.sock)
    try:
        d.proc.send_signal(sig)
        assert d.proc.wait(15) == 0, d.output()[-3000:]
    finally:
        idle.close()
    assert_stopped_clean(d)
    assert "stopped" in read(d.log)
    d.check_sanitizer()


def test_shutdown_command(start, name):
    d = start()
    r = d.ctl("shutdown")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", "`true` results print nothing"
    assert d.proc.wait(15) == 0, d.output()[-3000:]
    assert_stopped_clean(d)
    assert "shutdown requested" in read(d.log)
    d.check_sanitizer()
    # The daemon is gone: the next command cannot connect.
    r = d.ctl("version")
    assert r.returncode == 1 and "cannot connect" in r.stderr


# -------------------------------------------------------- single instance

def test_second_daemon_same_pidfile_refuses(start, make, name):
    d = start()
    d2 = make(args=["-p", d.pidfile], own_rundir=True)
    assert fail_start(d2) == 1
    out = d2.output()
    assert "already running" in out, out
    assert str(d.pid) in out, "the message should name the running daemon's pid"
    # The first daemon is untouched: pid file, socket, service.
    assert read(d.pidfile).strip() == str(d.pid)
    assert d.rpc("version")["pid"] == d.pid
    assert not os.path.exists(d2.sock), "the refused daemon created a socket"
    assert not dpdk_leftovers(name, d2.pid)


def test_second_daemon_same_socket_refuses(start, make, name):
    d = start()
    d2 = make(args=["-s", d.sock], own_rundir=True)
    assert fail_start(d2) == 1
    out = d2.output()
    assert "another daemon" in out, out
    assert d.sock in out, "the message should name the socket"
    assert stat.S_ISSOCK(os.lstat(d.sock).st_mode), "the first daemon's socket was removed"
    assert d.rpc("version")["pid"] == d.pid
    assert not os.path.exists(d2.pidfile), "the refused daemon left its pid file"
    assert not dpdk_leftovers(name, d2.pid)
    assert read(d.pidfile).strip() == str(d.pid)


def test_stale_socket_and_pidfile_after_sigkill(start, name):
    d = start()
    dead = d.pid
    try:
        d.proc.kill()
        d.proc.wait(10)
        assert os.path.exists(d.sock) and os.path.exists(d.pidfile), \
            "SIGKILL cannot clean up: this test needs the stale files"
        d2 = start()
        assert d2.pid != dead
        assert d2.rpc("version")["pid"] == d2.pid
        assert read(d2.pidfile).strip() == str(d2.pid)
        assert stat.S_ISSOCK(os.lstat(d2.sock).st_mode)
        assert d2.stop() == 0
        assert_stopped_clean(d2)
    finally:
        remove_dpdk_leftovers(name, dead)


def test_pidfile_of_unrelated_pid_is_taken_over(start, rundir, name):
    """A pid file nobody holds the lock on is stale, whatever pid it names."""
    with open(os.path.join(rundir, f"{name}.pid"), "w") as f:
        f.write("1\n")
    d = start()
    assert read(d.pidfile).strip() == str(d.pid)


def test_regular_file_at_socket_path_is_not_clobbered(make, name):
    d = make()
    with open(d.sock, "w") as f:
        f.write("precious\n")
    assert fail_start(d) == 1
    assert read(d.sock) == "precious\n", "the daemon replaced a file that is not a socket"
    assert d.sock in d.output()
    assert not os.path.exists(d.pidfile)
    assert not dpdk_leftovers(name, d.pid)


def test_socket_directory_created_and_no_pidfile(make, rundir):
    sock = os.path.join(rundir, "sub", "x.sock")
    d = make(args=["-s", sock, "--no-pidfile"], sock=sock)
    d.start()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(os.path.dirname(sock)).st_mode) == 0o755 & ~umask
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    assert not os.path.exists(d.pidfile)
    assert d.rpc("version")["pid"] == d.pid
    assert d.stop() == 0
    assert not os.path.exists(sock)


# -------------------------------------------------------------- config replay

def test_config_empty_list(start, rundir):
    cfg = os.path.join(rundir, "empty.json")
    with open(cfg, "w") as f:
        f.write("[]\n")
    d = start(args=["-c", cfg])
    assert d.rpc("version")["pid"] == d.pid
    assert f"replayed 0 call(s) from {cfg}" in read(d.log)


def test_config_of_builtin_calls(start, rundir):
    cfg = os.path.join(rundir, "calls.json")
    with open(cfg, "w") as f:
        json.dump([{"method": "version"}, {"method": "rpc.methods", "params": {}},
                   {"method": "save-config"}], f)
    d = start(args=["-c", cfg])
    assert f"replayed 3 call(s) from {cfg}" in read(d.log)


BAD_CONFIGS = [
    # (id, contents, what the log line must say after "config FILE: ")
    ("not-json", "this is not json\n", None),
    ("object", '{"method": "version"}\n', "must be a JSON array"),
    ("string", '"[]"\n', "must be a JSON array"),
    ("no-method", '[{"method": "version"}, {"params": {}}]\n', "call 2"),
    ("method-not-string", '[{"method": 5}]\n', "call 1"),
    ("call-not-object", '[{"method": "version"}, {"method": "version"}, 7]\n', "call 3"),
    ("unknown-method", '[{"method": "version"}, {"method": "no-such-method"}]\n',
     "call 2 (no-such-method)"),
    ("bad-params", '[{"method": "save-config", "params": {"path": 5}}]\n',
     "call 1 (save-config)"),
    ("params-not-object", '[{"method": "version", "params": 5}]\n', "call 1 (version)"),
    ("trailing-garbage", '[] ]\n', None),
]


@pytest.mark.parametrize("contents,expect", [(c, e) for _, c, e in BAD_CONFIGS],
                         ids=[i for i, _, _ in BAD_CONFIGS])
def test_config_bad_file_exits_1(make, rundir, name, contents, expect):
    cfg = os.path.join(rundir, "bad.json")
    with open(cfg, "w") as f:
        f.write(contents)
    d = make(args=["-c", cfg])
    rc = fail_start(d)
    log = d.output()
    assert rc == 1, log
    lines = [ln for ln in log.splitlines() if f"config {cfg}: " in ln]
    assert lines, f"no log line names the file:\n{log}"
    if expect:
        assert expect in lines[0], lines[0]
    assert "|ERR|" in lines[0], lines[0]
    assert "ready" not in log
    assert_stopped_clean(d)


@pytest.mark.parametrize("contents", ["", "   \n", '[{"method": "version"}', "null\n"],
                         ids=["empty", "blank", "truncated", "null"])
def test_config_empty_or_truncated_file_says_why(make, rundir, contents):
    """An empty, truncated or null config is refused with a readable reason,
    not json-c's internal state names ("continue", "success")."""
    cfg = os.path.join(rundir, "bad.json")
    with open(cfg, "w") as f:
        f.write(contents)
    d = make(args=["-c", cfg])
    rc = fail_start(d)
    log = d.output()
    assert rc == 1, log
    lines = [ln for ln in log.splitlines() if f"config {cfg}: " in ln]
    assert lines, log
    reason = lines[0].split(f"config {cfg}: ", 1)[1].strip()
    assert reason not in ("continue", "success"), f"unhelpful reason: {lines[0]}"


def test_config_missing_file(make, rundir):
    cfg = os.path.join(rundir, "nope.json")
    d = make(args=["-c", cfg])
    rc = fail_start(d)
    log = d.output()
    assert rc == 1
    assert f"config {cfg}: No such file or directory" in log, log


def test_save_config_roundtrip(start, name, rundir, tmp_path):
    d = start()
    # Without FILE: the list on stdout.
    r = d.ctl("save-config")
    assert r.returncode == 0, r.stderr
    printed = json.loads(r.stdout)
    assert isinstance(printed, list)
    # With an absolute FILE.
    path = os.path.join(rundir, "saved.json")
    r = d.ctl("save-config", path)
    assert r.returncode == 0, r.stderr
    with open(path) as f:
        saved = json.load(f)
    assert saved == printed
    # With a relative FILE: relative to the CLI's directory, not the daemon's.
    r = ctl(name, "-s", d.sock, "save-config", "rel.json", cwd=str(tmp_path), env=d.env)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "rel.json").read_text()) == printed
    assert d.stop() == 0
    # A restarted daemon accepts what was saved.
    d2 = start(args=["-c", path])
    assert f"replayed {len(saved)} call(s) from {path}" in read(d2.log)
    assert d2.rpc("version")["pid"] == d2.pid


def test_save_config_unwritable_path(start, rundir):
    d = start()
    r = d.ctl("save-config", os.path.join(rundir, "no", "such", "dir.json"))
    assert r.returncode == 1
    assert "No such file or directory" in r.stderr, r.stderr


# ---------------------------------------------------------------- CLI contract

@pytest.mark.parametrize("args,code,stream,text", [
    ([], 2, "stderr", "Usage:"),
    (["frobnicate"], 2, "stderr", "unknown command"),
    (["--frob", "version"], 2, "stderr", "unknown option"),
    (["-x", "version"], 2, "stderr", "unknown option"),
    (["save-config", "--frob"], 2, "stderr", "unknown option"),
    (["save-config", "a", "b"], 2, "stderr", "wrong number of arguments"),
    (["version", "extra"], 2, "stderr", "wrong number of arguments"),
    (["shutdown", "now"], 2, "stderr", "wrong number of arguments"),
    (["call"], 2, "stderr", "wrong number of arguments"),
    (["call", "version", "{}", "extra"], 2, "stderr", "wrong number of arguments"),
    (["-t", "0", "version"], 2, "stderr", "--timeout"),
    (["-t", "soon", "version"], 2, "stderr", "--timeout"),
    (["-s"], 2, "stderr", "needs an argument"),
    (["call", "version", "{bad"], 2, "stderr", "PARAMS-JSON"),
    (["call", "version", "5"], 2, "stderr", "PARAMS-JSON"),
    (["--help"], 0, "stdout", "Usage:"),
    (["-h"], 0, "stdout", "Usage:"),
    (["version", "--help"], 0, "stdout", "Usage:"),
    (["--version"], 0, "stdout", "(Vessel)"),
], ids=["no-command", "unknown-command", "unknown-option", "unknown-short-option",
        "option-after-command", "save-config-2-args", "version-1-arg", "shutdown-1-arg",
        "call-no-method", "call-3-args", "timeout-0", "timeout-word", "socket-no-arg",
        "call-bad-json", "call-scalar-json", "help", "h", "command-help", "version-flag"])
def test_cli_usage_exit_codes(name, rundir, args, code, stream, text):
    """Usage errors exit 2 without contacting any daemon (none is running here:
    a CLI that tried would exit 1 'cannot connect' instead)."""
    env = dict(os.environ, VESSEL_RUNDIR=rundir)
    r = ctl(name, *args, env=env)
    assert r.returncode == code, f"rc {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert text in getattr(r, stream), f"{stream} lacks {text!r}:\n{getattr(r, stream)}"
    if code == 0:
        assert r.stderr == ""
    else:
        assert "cannot connect" not in r.stderr
    if args in (["--help"], ["-h"], []):
        out = r.stdout if code == 0 else r.stderr
        for cmd in ("version", "methods", "save-config", "shutdown", "call"):
            assert re.search(rf"^\s+{cmd}\s", out, re.M), f"usage does not list {cmd}"


def test_cli_daemon_errors_exit_1(start, name):
    d = start()
    r = d.ctl("call", "no-such-method")
    assert r.returncode == 1
    assert re.search(rf"^{CTL[name]}: .*no-such-method", r.stderr, re.M), r.stderr
    r = d.ctl("--json", "call", "no-such-method")
    assert r.returncode == 1
    assert json.loads(r.stdout)["error"]["code"] == -32601
    r = d.ctl("call", "save-config", '{"path": 5}')
    assert r.returncode == 1 and "path" in r.stderr, r.stderr
    # The well-formed variants of the same commands succeed.
    r = d.ctl("call", "version", "{}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["pid"] == d.pid
    r = d.ctl("call", "version")
    assert r.returncode == 0 and json.loads(r.stdout)["pid"] == d.pid


def test_cli_bad_params_json_with_live_daemon_exits_2(start):
    d = start()
    r = d.ctl("call", "version", "{bad")
    assert r.returncode == 2, r.stderr
    assert d.alive()


def test_cli_no_daemon_exits_1(name, rundir):
    sock = os.path.join(rundir, "missing.sock")
    r = ctl(name, "-s", sock, "version")
    assert r.returncode == 1
    assert "cannot connect" in r.stderr and sock in r.stderr, r.stderr
    assert r.stdout == ""
    # The default socket comes from $VESSEL_RUNDIR.
    r = ctl(name, "version", env=dict(os.environ, VESSEL_RUNDIR=rundir))
    assert r.returncode == 1
    assert os.path.join(rundir, f"{name}.sock") in r.stderr, r.stderr


def test_cli_daemon_that_never_answers_times_out(name, rundir):
    """A socket that accepts connections but never answers: -t bounds the wait."""
    sock_path = os.path.join(rundir, "mute.sock")
    mute = socket.socket(socket.AF_UNIX)
    mute.bind(sock_path)
    mute.listen(4)
    try:
        t0 = time.monotonic()
        r = ctl(name, "-s", sock_path, "-t", "1", "version", timeout=20)
        took = time.monotonic() - t0
    finally:
        mute.close()
    assert r.returncode == 1, r.stderr
    assert "did not answer" in r.stderr, r.stderr
    assert took < 5, f"-t 1 took {took:.1f}s"


# ----------------------------------------------------------- daemon options

@pytest.mark.parametrize("args,code,stream,text", [
    (["--help"], 0, "stdout", "Usage:"),
    (["-h"], 0, "stdout", "--log-level"),
    (["--version"], 0, "stdout", "(Vessel)"),
    (["--frob"], 2, "stderr", "unknown option"),
    (["-x"], 2, "stderr", "unknown option"),
    (["--log-level", "bogus"], 2, "stderr", "invalid log level"),
    (["--log-level", "rpc:bogus"], 2, "stderr", "invalid log level"),
    (["--log-level"], 2, "stderr", "needs an argument"),
    (["-s"], 2, "stderr", "needs an argument"),
    (["stray"], 2, "stderr", "unexpected argument"),
], ids=["help", "h", "version", "unknown-long", "unknown-short", "log-level-bogus",
        "log-level-module-bogus", "log-level-no-arg", "socket-no-arg", "positional"])
def test_daemon_option_exit_codes(name, rundir, args, code, stream, text):
    r = daemon_cmd(name, *args, rundir=rundir)
    assert r.returncode == code, f"rc {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert text in getattr(r, stream), getattr(r, stream)
    if code == 2:
        assert "--help" in r.stderr, "a usage error should point at --help"
    assert os.listdir(rundir) == [], "an option error must not create files"


def test_vswitchd_help_mentions_eal():
    need_binary("vswitchd")
    r = subprocess.run([vessel.binary("vswitchd"), "--help"], capture_output=True, text=True,
                       timeout=15)
    assert r.returncode == 0 and "EAL" in r.stdout


def test_log_level_per_module(start):
    """--log-level LEVEL,MODULE:LEVEL: the default first, then overrides."""
    d = start(args=["--log-level", "warn,daemon:info"])
    assert d.rpc("version")["pid"] == d.pid
    log = read(d.log)
    assert "|daemon|INFO|" in log and "ready" in log, log      # daemon at info
    assert "listening on" not in log, log                       # rpc at warn


def test_log_level_dbg_accepted(start):
    d = start(args=["-v", "dbg"])
    assert d.rpc("version")["pid"] == d.pid
    assert "listening on" in read(d.log)


def test_log_file_receives_the_log(start, name):
    d = start()
    log = read(d.log)
    assert re.search(rf"\|{name}\|daemon\|INFO\|{name} \S+ ready \(pid {d.pid}\)", log), log
    assert f"listening on {d.sock}" in log
    stderr = read(d.log + ".stderr")
    assert "ready" not in stderr, "log lines went to stderr despite --log-file"
    assert d.stop() == 0
    assert f"{name} stopped" in read(d.log)


@pytest.mark.parametrize("extra,why", [
    (["--bogus-eal-flag"], "Invalid argument"),
    (["-l", "999"], "Invalid argument"),
    (["-m", "100000"], "Cannot allocate memory"),        # fails after the runtime dir exists
    (["--vdev", "net_no_such_driver0"], "No such device"),
], ids=["unknown-flag", "bad-core", "too-much-memory", "bad-vdev"])
def test_vswitchd_eal_failure(request, rundir, extra, why):
    """A bad EAL argument: exit 1, one clear ERR line, and nothing left behind
    (socket, pid file, DPDK runtime directory named after the pid)."""
    need_daemon("vswitchd")
    request.getfixturevalue("dpdk_env")
    d = vessel.Daemon("vswitchd", rundir, extra=extra)
    try:
        rc = fail_start(d)
        log = d.output()
        assert rc == 1, log
        assert re.search(r"\|vswitchd\|ERR\|DPDK EAL initialisation failed: " + why, log), log
        assert not os.path.exists(d.sock)
        assert not os.path.exists(d.pidfile)
        left = dpdk_leftovers("vswitchd", d.pid)
        assert not left, f"left behind after a failed EAL start: {left}"
    finally:
        remove_dpdk_leftovers("vswitchd", d.pid)


# ---------------------------------------------------------------------- SIGHUP

def test_sighup_reopens_log_file(start, name):
    d = start()
    moved = d.log + ".1"
    os.rename(d.log, moved)
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: os.path.exists(d.log)), "SIGHUP did not create a new log file"
    assert "SIGHUP: reopening log file" in read(moved)
    # Something that logs (WARN) after the reopen lands in the new file.
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(d.sock)
        s.sendall(b"{bad")
        s.settimeout(5)
        assert b'"code":-32700' in s.recv(4096)
    assert wait_for(lambda: "malformed JSON" in read(d.log)), read(d.log)
    assert "malformed JSON" not in read(moved)
    assert d.rpc("version")["pid"] == d.pid
    # Twice in a row is fine too.
    d.proc.send_signal(signal.SIGHUP)
    d.proc.send_signal(signal.SIGHUP)
    assert d.rpc("version")["pid"] == d.pid
    assert d.stop() == 0
    assert f"{name} stopped" in read(d.log)
