"""JSON-RPC robustness: a real blockd fed bad, odd and abusive input over its
unix socket with raw Python sockets (the C client is not involved).

Every test checks the exact JSON-RPC error code and id, and that the daemon
keeps serving everyone else: a fresh client's `version` call still works
afterwards, and the daemon is alive (and exits 0 on SIGTERM) at teardown.
blockd is used because it starts instantly (no DPDK); the server code under
test (common/vsl_rpc_server.c) is the same in every daemon.
"""
import json
import os
import resource
import socket
import time

import pytest

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

MAX_MSG = 1 << 20          # VSL_RPC_MAX_MSG
MAX_CLIENTS = 1024         # VSL_RPC_MAX_CLIENTS


def req(id=1, method="version", params=None, notification=False, **extra):
    """One request as bytes (no trailing separator)."""
    r = {"jsonrpc": "2.0", "method": method}
    if not notification:
        r["id"] = id
    if params is not None:
        r["params"] = params
    r.update(extra)
    return json.dumps(r, separators=(",", ":")).encode()


class Closed(AssertionError):
    """The daemon hung up (EOF or reset) where an answer was expected."""


class Raw:
    """A raw client: bytes out, newline-terminated JSON lines in."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        # With a timeout the socket is non-blocking, and a unix socket whose
        # listen backlog is full answers EAGAIN instead of waiting: a daemon
        # accepting slowly (a loaded machine) is not an error, so retry.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(path)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.timeout = timeout
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, timeout):
        """Reads once; returns False on EOF or reset."""
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            return False
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def recv(self, timeout=None):
        """The next response, parsed. Fails on EOF or timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no response within {timeout or self.timeout}s "
                                     f"(partial: {self.buf[:200]!r})")
            try:
                if not self._fill(left):
                    raise Closed(f"daemon closed the connection instead of answering "
                                 f"(partial: {self.buf[:200]!r})")
            except socket.timeout:
                continue
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def expect_eof(self, timeout=3.0):
        """The daemon hangs up with no further response."""
        deadline = time.monotonic() + timeout
        while True:
            assert b"\n" not in self.buf, f"unexpected response: {self.buf[:300]!r}"
            left = deadline - time.monotonic()
            assert left > 0, "daemon did not close the connection"
            try:
                if not self._fill(left):
                    break
            except socket.timeout:
                continue
        assert self.buf == b"", f"trailing bytes before EOF: {self.buf[:300]!r}"

    def expect_silence(self, wait=0.3):
        """Nothing arrives within `wait` seconds (and the connection stays open)."""
        try:
            alive = self._fill(wait)
        except socket.timeout:
            alive = True
        assert self.buf == b"", f"unexpected response: {self.buf[:300]!r}"
        assert alive, "daemon closed the connection"

    def call(self, id=1, method="version", params=None):
        self.send(req(id, method, params) + b"\n")
        return self.recv()


def assert_error(resp, code, id):
    assert resp.get("jsonrpc") == "2.0", resp
    assert "id" in resp and resp["id"] == id and type(resp["id"]) is type(id), resp
    assert "result" not in resp, resp
    assert isinstance(resp.get("error"), dict), resp
    assert resp["error"].get("code") == code, resp
    assert isinstance(resp["error"].get("message"), str) and resp["error"]["message"], resp


def assert_version(resp, id, pid):
    assert resp.get("jsonrpc") == "2.0", resp
    assert "id" in resp and resp["id"] == id and type(resp["id"]) is type(id), resp
    assert "error" not in resp, resp
    assert resp["result"]["program"] == "blockd", resp
    assert resp["result"]["pid"] == pid, resp


def assert_serving(d):
    """Another, fresh client is answered: the daemon did not hang or die."""
    assert d.alive(), f"blockd died:\n{d.output()[-3000:]}"
    t0 = time.monotonic()
    with Raw(d.sock, timeout=5) as c:
        assert_version(c.call(id=777), 777, d.pid)
    assert time.monotonic() - t0 < 2.0, "the daemon answers, but slowly"


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def n_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def base_fds(d):
    """fds blockd holds with no client, measured once per daemon. Daemon.start()
    probes the socket with a client of its own: wait until the daemon has seen
    it go (two equal counts in a row)."""
    if not hasattr(d, "_base_fds"):
        prev = None
        for _ in range(100):
            n = n_fds(d.pid)
            if n == prev:
                break
            prev = n
            time.sleep(0.05)
        d._base_fds = n
    return d._base_fds


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(pred, timeout=3.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


@pytest.fixture
def bd(blockd):
    """blockd that must survive the test and then exit 0 on SIGTERM."""
    yield blockd
    assert blockd.alive(), f"blockd died during the test:\n{blockd.output()[-3000:]}"
    assert blockd.stop() == 0, blockd.output()[-3000:]


# ------------------------------------------------------------------ parse errors

@pytest.mark.parametrize("data", [
    b"{bad",
    b'{"jsonrpc":"2.0",,"id":1}',
    b"[1,]",
    b'{"jsonrpc":"2.0","id":1,"method":"version"}}',   # the stray '}' is the error
    b"\xff\xfe\xfd",                                   # not UTF-8
    b'{"jsonrpc":"2.0","id":"\xc3\x28","method":"version"}',
    b"[" * 100 + b"]" * 100,                           # deeper than the parser allows
    b"{'jsonrpc':'2.0'}",
], ids=["brace", "double-comma", "trailing-comma", "stray-brace", "not-utf8",
        "bad-utf8-in-string", "too-deep", "single-quotes"])
def test_malformed_json_is_parse_error_then_close(bd, data):
    with Raw(bd.sock) as c:
        c.send(data)
        resp = c.recv()
        if data.endswith(b"}}") and data.startswith(b'{"jsonrpc'):
            # The complete request before the stray brace is answered first.
            assert_version(resp, 1, bd.pid)
            resp = c.recv()
        assert_error(resp, PARSE_ERROR, None)
        c.expect_eof()
    assert_serving(bd)


def test_parse_error_drops_pipelined_requests(bd):
    """After -32700 the stream cannot be resynchronised: nothing after it runs."""
    with Raw(bd.sock) as c:
        c.send(b"{bad}\n" + req(5) + b"\n")
        assert_error(c.recv(), PARSE_ERROR, None)
        c.expect_eof()
    assert_serving(bd)


# ------------------------------------------------------------- invalid requests

NOT_REQUESTS = [
    ("number", b"5\n", None),
    ("string", b'"version"\n', None),
    ("true", b"true\n", None),
    ("null", b"null\n", None),
    ("no-method", b'{"jsonrpc":"2.0","id":1}', 1),
    ("jsonrpc-1.0", req(2, jsonrpc="1.0"), 2),
    ("jsonrpc-number", req(3, jsonrpc=2.0), 3),
    ("no-jsonrpc", b'{"id":4,"method":"version"}', 4),
    ("method-number", req(5, method=5), 5),
    ("method-null", req(6, method=None), 6),
    ("params-string", req(7, params="x"), 7),
    ("params-number", req(8, params=1), 8),
    ("params-null", b'{"jsonrpc":"2.0","id":9,"method":"version","params":null}', 9),
    ("id-object", req({"a": 1}), None),
    ("id-array", req([1]), None),
    ("id-bool", req(True), None),
    ("string-id", req("s1", method=7), "s1"),
]


@pytest.mark.parametrize("data,id", [(d, i) for _, d, i in NOT_REQUESTS],
                         ids=[n for n, _, _ in NOT_REQUESTS])
def test_not_a_request_is_invalid_request(bd, data, id):
    with Raw(bd.sock) as c:
        c.send(data)
        assert_error(c.recv(), INVALID_REQUEST, id)
        # Valid JSON keeps the connection in step: it stays usable.
        assert_version(c.call(id=100), 100, bd.pid)
    assert_serving(bd)


def test_empty_batch_is_invalid_request(bd):
    with Raw(bd.sock) as c:
        c.send(b"[]")
        resp = c.recv()
        assert isinstance(resp, dict), f"empty batch must be answered by one object: {resp}"
        assert_error(resp, INVALID_REQUEST, None)
        assert_version(c.call(id=2), 2, bd.pid)
    assert_serving(bd)


def test_batch_with_notification_and_unknown_method(bd):
    batch = b"[" + b",".join([
        req(1),
        req(method="version", notification=True),
        req("three", method="no-such-method"),
    ]) + b"]"
    with Raw(bd.sock) as c:
        c.send(batch + b"\n")
        resp = c.recv()
        assert isinstance(resp, list), resp
        assert len(resp) == 2, f"want 2 responses (the notification gets none): {resp}"
        by_id = {r["id"]: r for r in resp}
        assert set(by_id) == {1, "three"}, resp
        assert_version(by_id[1], 1, bd.pid)
        assert_error(by_id["three"], METHOD_NOT_FOUND, "three")
        assert_version(c.call(id=4), 4, bd.pid)
    assert_serving(bd)


def test_batch_of_invalid_entries(bd):
    """Each bad member gets its own -32600 inside the array."""
    with Raw(bd.sock) as c:
        c.send(b'[1, "x", ' + req(3) + b', {"jsonrpc":"2.0","id":4}]')
        resp = c.recv()
        assert isinstance(resp, list) and len(resp) == 4, resp
        assert_error(resp[0], INVALID_REQUEST, None)
        assert_error(resp[1], INVALID_REQUEST, None)
        assert_version(resp[2], 3, bd.pid)
        assert_error(resp[3], INVALID_REQUEST, 4)
    assert_serving(bd)


def test_batch_of_notifications_gets_no_response(bd):
    batch = b"[" + b",".join([req(notification=True),
                              req(method="nosuch", notification=True)]) + b"]"
    with Raw(bd.sock) as c:
        c.send(batch)
        c.send(req(9) + b"\n")
        assert_version(c.recv(), 9, bd.pid)
        c.expect_silence()
    assert_serving(bd)


# ---------------------------------------------------------------- notifications

@pytest.mark.parametrize("note", [
    req(method="version", notification=True),
    req(method="no-such-method", notification=True),
    req(method="save-config", params={"path": 5}, notification=True),
    req(method="version", params={"bogus": 1}, notification=True),
], ids=["ok", "unknown-method", "bad-params", "unknown-param"])
def test_notification_gets_no_response(bd, note):
    with Raw(bd.sock) as c:
        # Separate sends, then one send: either way the first response on the
        # connection must be the one for the following call.
        c.send(note)
        time.sleep(0.05)
        c.send(b"\n" + req(42) + b"\n")
        assert_version(c.recv(), 42, bd.pid)
        c.send(note + req(43))
        assert_version(c.recv(), 43, bd.pid)
        c.expect_silence()
    assert_serving(bd)


def test_null_id_is_answered_with_null(bd):
    with Raw(bd.sock) as c:
        c.send(b'{"jsonrpc":"2.0","id":null,"method":"version"}')
        assert_version(c.recv(), None, bd.pid)
        c.send(b'{"jsonrpc":"2.0","id":null,"method":"no-such-method"}')
        assert_error(c.recv(), METHOD_NOT_FOUND, None)
    assert_serving(bd)


@pytest.mark.parametrize("id", [0, -1, 2**53, "", "x" * 300, "ünïcode"],
                         ids=["zero", "negative", "big", "empty-string", "long-string",
                              "unicode"])
def test_id_is_echoed_exactly(bd, id):
    with Raw(bd.sock) as c:
        assert_version(c.call(id=id), id, bd.pid)
    assert_serving(bd)


# ---------------------------------------------------------- methods and params

def test_unknown_method(bd):
    with Raw(bd.sock) as c:
        resp = c.call(id=1, method="no-such-method")
        assert_error(resp, METHOD_NOT_FOUND, 1)
        assert "no-such-method" in resp["error"]["message"]
        # Near misses of real names are not methods either.
        for i, m in enumerate(["Version", "version ", "", "rpc.", "save-config/"], 2):
            assert_error(c.call(id=i, method=m), METHOD_NOT_FOUND, i)
    assert_serving(bd)


@pytest.mark.parametrize("method", ["version\u0000junk", "shutdown\u0000junk"],
                         ids=["version-nul", "shutdown-nul"])
def test_method_name_with_nul_is_not_truncated(blockd, method):
    """"shutdown\\u0000junk" is not the method "shutdown": a name is compared
    whole, not up to an embedded NUL. (Plain `blockd` fixture: when this
    fails the daemon may well be gone, which is reported here, once.)"""
    bd = blockd
    with Raw(bd.sock) as c:
        data = req(1, method=method)
        assert b"\\u0000" in data
        c.send(data)
        resp = c.recv()
        assert resp.get("error", {}).get("code") in (METHOD_NOT_FOUND, INVALID_REQUEST), \
            f"{method!r} was dispatched: {resp}"
    assert_serving(bd)


@pytest.mark.parametrize("id", [10**20, -10**20], ids=["huge", "huge-negative"])
def test_id_out_of_64bit_range_is_echoed_or_refused(bd, id):
    """An id the server cannot represent must not come back as a different
    number (the client could not match the answer): echo it or refuse it."""
    with Raw(bd.sock) as c:
        resp = c.call(id=id)
        if "error" in resp:
            assert_error(resp, INVALID_REQUEST, None)
        else:
            assert resp.get("id") == id, f"id {id} came back as {resp.get('id')}"
    assert_serving(bd)


@pytest.mark.parametrize("method,params", [
    ("save-config", {"path": 5}),
    ("save-config", {"path": None}),
    ("save-config", {"path": ["/nonexistent-vessel-dir/x.json"]}),
    ("save-config", {"bogus": 1}),
    ("save-config", {"path": "/nonexistent-vessel-dir/x.json", "bogus": 1}),
    ("save-config", {"path": "relative/config.json"}),
    ("save-config", {"path": ""}),
    ("save-config", ["/nonexistent-vessel-dir/x.json"]),
    ("version", {"bogus": 1}),
    ("version", [1]),
    ("shutdown", {"now": True}),
    ("rpc.methods", {"x": 1}),
], ids=["path-number", "path-null", "path-array", "unknown", "unknown-with-path", "relative",
        "empty-path", "positional", "version-unknown", "version-positional",
        "shutdown-unknown", "rpc.methods-unknown"])
def test_invalid_params(bd, rundir, method, params):
    before = set(os.listdir(rundir))
    with Raw(bd.sock) as c:
        resp = c.call(id=11, method=method, params=params)
        assert_error(resp, INVALID_PARAMS, 11)
    assert set(os.listdir(rundir)) == before, "an invalid call left a file behind"
    assert not os.path.exists("relative"), "save-config wrote a relative path"
    assert_serving(bd)   # in particular: `shutdown` with bad params did not stop it


def test_save_config_valid_path(bd, rundir):
    """The positive case of the -32602 tests above, so they cannot pass vacuously."""
    path = os.path.join(rundir, "saved.json")
    with Raw(bd.sock) as c:
        resp = c.call(id=1, method="save-config", params={"path": path})
    assert "error" not in resp, resp
    assert resp["result"]["path"] == path
    with open(path) as f:
        assert isinstance(json.load(f), list)
    assert_serving(bd)


# --------------------------------------------------- truncation and size limits

@pytest.mark.parametrize("half", [
    req(1)[:20],
    b'{"jsonrpc":"2.0","id":1,"method":"ver',
    b"[" + req(1) + b",",
    b'"unterminated string',
    b"   \n",
], ids=["half-object", "half-string", "half-batch", "open-string", "whitespace"])
def test_truncated_message_then_close(bd, half):
    base = base_fds(bd)
    with Raw(bd.sock) as c:
        c.send(half)
        c.sock.shutdown(socket.SHUT_WR)
        c.expect_eof()        # nothing to answer: no response, just EOF
    c2 = Raw(bd.sock)
    c2.send(half)
    c2.close()                # abrupt close with the half message pending
    assert_serving(bd)
    assert wait_for(lambda: n_fds(bd.pid) == base), "connection fds leaked"




def test_large_request_under_limit_is_parsed(bd):
    """900 KiB is under VSL_RPC_MAX_MSG: parsed and answered (version has no
    `blob` parameter, hence -32602, which proves the whole request was read)."""
    with Raw(bd.sock, timeout=10) as c:
        c.send(req(1, params={"blob": "a" * (MAX_MSG - (124 << 10))}) + b"\n")
        assert_error(c.recv(), INVALID_PARAMS, 1)
        assert_version(c.call(id=2), 2, bd.pid)
    assert_serving(bd)


@pytest.mark.parametrize("shape", ["string-param", "whitespace", "many-members"])
def test_10mib_request_is_refused(bd, shape):
    size = 10 * MAX_MSG
    if shape == "string-param":
        data = req(1, params={"x": "a" * size})
    elif shape == "whitespace":
        data = b"{" + b" " * size + b"}"
    else:
        members = b",".join(b'"k%d":%d' % (i, i) for i in range(size // 16))
        data = b'{"jsonrpc":"2.0","id":1,"method":"version","params":{' + members + b"}}"
    base = base_fds(bd)
    rss0 = vm_rss_kib(bd.pid)
    c = Raw(bd.sock, timeout=10)
    try:
        c.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    # Either the -32600 answer and then EOF, or just a dropped connection; a
    # connection left open without an answer fails (recv times out).
    try:
        assert_error(c.recv(timeout=5), INVALID_REQUEST, None)
        c.expect_eof()
    except Closed:
        pass
    c.close()
    assert_serving(bd)
    rss1 = vm_rss_kib(bd.pid)
    assert rss1 - rss0 < 64 << 10, f"RSS grew by {(rss1 - rss0) >> 10} MiB"
    assert wait_for(lambda: n_fds(bd.pid) == base), "connection fd leaked"


def test_oversized_requests_do_not_accumulate(bd):
    """Five refused 4 MiB requests in a row: memory stays bounded."""
    rss0 = vm_rss_kib(bd.pid)
    for _ in range(5):
        c = Raw(bd.sock, timeout=10)
        try:
            c.send(req(1, params={"x": "b" * (4 << 20)}))
        except (BrokenPipeError, ConnectionResetError):
            pass
        c.close()
    assert_serving(bd)
    assert vm_rss_kib(bd.pid) - rss0 < 32 << 10


# ----------------------------------------------------------- slow and idle clients

def test_idle_client_does_not_block_others(bd):
    idle = Raw(bd.sock)                    # connects, never sends
    partial = Raw(bd.sock)
    partial.send(req(1)[:10])              # starts a request, never finishes it
    try:
        t0 = time.monotonic()
        for i in range(50):
            with Raw(bd.sock, timeout=2) as c:
                assert_version(c.call(id=i), i, bd.pid)
        assert time.monotonic() - t0 < 5.0
        # Held open all along, and still in good standing.
        assert_version(idle.call(id=5), 5, bd.pid)
        partial.send(req(1)[10:] + b"\n")
        assert_version(partial.recv(), 1, bd.pid)
    finally:
        idle.close()
        partial.close()
    assert_serving(bd)


def test_200_clients_at_once(bd):
    base = base_fds(bd)
    clients = [Raw(bd.sock, timeout=5) for _ in range(200)]
    try:
        assert wait_for(lambda: n_fds(bd.pid) == base + 200), \
            f"{n_fds(bd.pid) - base} of 200 connections accepted"
        for i, c in enumerate(clients):
            c.send(req(1000 + i) + b"\n")
        for i, c in enumerate(clients):
            assert_version(c.recv(), 1000 + i, bd.pid)
        # And a second round, in reverse order, on the same connections.
        for i, c in reversed(list(enumerate(clients))):
            c.send(req(f"r{i}") + b"\n")
        for i, c in enumerate(clients):
            assert_version(c.recv(), f"r{i}", bd.pid)
    finally:
        for c in clients:
            c.close()
    assert wait_for(lambda: n_fds(bd.pid) == base), \
        f"{n_fds(bd.pid) - base} connection fd(s) still open after every client left"
    assert_serving(bd)


def test_client_limit_refuses_politely(bd):
    """Past VSL_RPC_MAX_CLIENTS a new client gets -32603 and EOF; the others
    are untouched and a slot frees when one leaves."""
    base = base_fds(bd)
    need = MAX_CLIENTS + base + 64
    if resource.prlimit(bd.pid, resource.RLIMIT_NOFILE)[0] < need:
        pytest.skip("blockd's fd limit is below VSL_RPC_MAX_CLIENTS (see test_fd_exhaustion)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"this process may open only {hard} fds")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    clients = [Raw(bd.sock, timeout=5) for _ in range(MAX_CLIENTS)]
    try:
        assert wait_for(lambda: n_fds(bd.pid) == base + MAX_CLIENTS, timeout=5)
        with Raw(bd.sock) as extra:
            assert_error(extra.recv(), INTERNAL_ERROR, None)
            extra.expect_eof()
        assert_version(clients[0].call(id=1), 1, bd.pid)
        assert_version(clients[-1].call(id=2), 2, bd.pid)
        clients.pop().close()
        assert wait_for(lambda: n_fds(bd.pid) == base + MAX_CLIENTS - 1)
        assert_serving(bd)
    finally:
        for c in clients:
            c.close()
    assert wait_for(lambda: n_fds(bd.pid) == base)


def test_fd_exhaustion_does_not_spin(bd):
    """When accept() fails with EMFILE the pending connection stays in the
    backlog and the listening socket stays readable: the daemon must not spin
    on it at 100% CPU, and must serve new clients once fds free up. (Clients
    that waited meanwhile may be served or refused, but not left hanging.)"""
    hard = resource.prlimit(bd.pid, resource.RLIMIT_NOFILE)[1]
    base = base_fds(bd)
    try:
        resource.prlimit(bd.pid, resource.RLIMIT_NOFILE, (base + 16, hard))
    except (PermissionError, OSError) as e:
        pytest.skip(f"cannot lower blockd's fd limit: {e}")
    clients = [Raw(bd.sock, timeout=5) for _ in range(40)]   # more than 16
    try:
        time.sleep(0.2)
        cpu0 = cpu_seconds(bd.pid)
        time.sleep(1.0)
        busy = cpu_seconds(bd.pid) - cpu0
        assert busy < 0.3, f"blockd burnt {busy:.2f}s of CPU in 1s with fds exhausted"
    finally:
        for c in clients[:30]:
            c.close()
    for i, c in enumerate(clients[30:]):
        try:
            resp = c.call(id=i)
        except (Closed, BrokenPipeError, ConnectionResetError):
            resp = None
        if resp is not None and "error" in resp:
            assert_error(resp, INTERNAL_ERROR, None)      # refused, like "too many clients"
        elif resp is not None:
            assert_version(resp, i, bd.pid)
        c.close()
    assert_serving(bd)


def test_client_that_never_reads_does_not_block_others(bd):
    """A client pipelines 3000 requests and does not read: its answers (more
    than a socket buffer) queue in the daemon while others are served; when it
    finally reads, every answer is there, complete and in order."""
    n = 3000
    hog = Raw(bd.sock, timeout=10)
    try:
        hog.send(b"".join(req(i, method="rpc.methods") + b"\n" for i in range(n)))
        t0 = time.monotonic()
        for i in range(20):
            with Raw(bd.sock, timeout=2) as c:
                assert_version(c.call(id=i), i, bd.pid)
        assert time.monotonic() - t0 < 5.0
        for i in range(n):
            resp = hog.recv()
            assert resp.get("id") == i, f"answer {i} out of order: {str(resp)[:200]}"
            assert isinstance(resp.get("result"), list), str(resp)[:200]
    finally:
        hog.close()
    assert_serving(bd)


def test_client_that_never_reads_then_leaves(bd):
    base = base_fds(bd)
    hog = Raw(bd.sock)
    hog.send(b"".join(req(i, method="rpc.methods") + b"\n" for i in range(3000)))
    assert_serving(bd)
    hog.close()
    assert wait_for(lambda: n_fds(bd.pid) == base), "the hog's connection was never closed"
    assert_serving(bd)


def test_half_close_still_gets_every_answer(bd):
    """A client may send its requests and shut down its write side (nc -N,
    socat, `... | nc -U`): every request received is still answered before the
    daemon hangs up, even when the answers exceed the socket buffer."""
    n = 10000
    with Raw(bd.sock, timeout=10) as c:
        c.send(b"".join(req(i, method="rpc.methods") for i in range(n)))
        c.sock.shutdown(socket.SHUT_WR)
        got = 0
        while True:
            try:
                resp = c.recv()
            except Closed:
                break
            assert resp.get("id") == got, str(resp)[:200]
            got += 1
        assert got == n, f"only {got} of {n} answers before the daemon hung up"
    assert_serving(bd)


# -------------------------------------------------------------------- framing

def _answers_in_order(c, ids, pid):
    for i in ids:
        assert_version(c.recv(), i, pid)


@pytest.mark.parametrize("sep", [b"", b"\n", b"\r\n", b" \t ", b"\n\n\n"],
                         ids=["none", "newline", "crlf", "blanks", "blank-lines"])
def test_back_to_back_in_one_send(bd, sep):
    ids = list(range(1, 51))
    with Raw(bd.sock) as c:
        c.send(sep.join(req(i) for i in ids) + sep)
        _answers_in_order(c, ids, bd.pid)
        c.expect_silence(0.1)
    assert_serving(bd)


def test_one_byte_at_a_time(bd):
    ids = [1, "two", 3, None, 5]
    stream = req(1) + req("two") + b"\n" + req(3) + b" " + \
        b'{"jsonrpc":"2.0","id":null,"method":"version"}' + b"\r\n" + req(5)
    with Raw(bd.sock) as c:
        for i in range(len(stream)):
            c.send(stream[i:i + 1])
            if i % 8 == 0:
                time.sleep(0.001)   # make sure the daemon sees separate reads
        _answers_in_order(c, ids, bd.pid)
    assert_serving(bd)


def test_every_split_point(bd):
    """A request split in two at every byte offset, the second part carrying
    the start of the next request."""
    r1, r2 = req(1), req(2)
    with Raw(bd.sock) as c:
        for k in range(1, len(r1)):
            c.send(r1[:k])
            time.sleep(0.002)
            c.send(r1[k:] + r2[:k])
            time.sleep(0.002)
            c.send(r2[k:])
            _answers_in_order(c, [1, 2], bd.pid)
    assert_serving(bd)


@pytest.mark.parametrize("scalar", [b"5", b"-1.5e3", b"null", b"true", b"false"])
def test_scalar_ending_a_segment_does_not_eat_the_next_request(bd, scalar):
    """A top-level number or literal is only complete once the next byte is
    seen; when that byte starts the next read, the request it begins must still
    be parsed (not discarded with the rest of the read)."""
    with Raw(bd.sock) as c:
        c.send(scalar)
        time.sleep(0.1)
        c.send(req(2) + b"\n")
        assert_error(c.recv(), INVALID_REQUEST, None)
        assert_version(c.recv(timeout=2), 2, bd.pid)
    assert_serving(bd)
