"""Build and boot the Vessel test guest under QEMU (for system tests).

Standard library only; runs under Debian's /usr/bin/python3.

The guest is Debian's kernel plus a busybox initramfs built by build-guest.sh
(cached under BUILD_DIR/guest/). A test hands it a shell script; the script is
appended to the initramfs as a second cpio archive (/test.sh), the guest runs it
with its output on the serial console and powers off. The console shows:

    VESSEL-GUEST-READY          drivers loaded, lo up, about to run the script
    ...script output...
    VESSEL-GUEST-DONE rc=N      N = the script's exit status

Typical use:

    import guest
    r = guest.boot(build_dir, script="echo hi; exit 0")
    assert r.ok and "hi" in r.console

    # a NIC on a vhost-user port (QEMU listens, the switch connects) and a disk
    # exported over vhost-user-blk need shared guest memory:
    args = guest.vhost_user_net_args(sock1, mac="52:54:00:00:00:01")
    args += guest.vhost_user_blk_args(sock2)
    with guest.Guest(build_dir, script=..., extra_qemu_args=args,
                     shared_memory=True) as g:
        g.wait_for("VESSEL-GUEST-READY", timeout=60)
        ...                                   # talk to the guest from the host
        r = g.wait()

Command line (for humans): python3 guest.py build [BUILD_DIR]
                           python3 guest.py boot [BUILD_DIR] [--script FILE] [--cmd CMD]
"""

from __future__ import annotations

import atexit
import ctypes
import gzip
import io
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BUILD_SCRIPT = HERE / "build-guest.sh"

READY_MARKER = "VESSEL-GUEST-READY"
DONE_MARKER = "VESSEL-GUEST-DONE"
# Anchored to a whole line so the kernel's echo of its command line (which may
# contain vessel.cmd=...) never matches.
_DONE_RE = re.compile(r"^VESSEL-GUEST-DONE rc=(\d+)[ \t]*$", re.M)
_READY_RE = re.compile(r"^VESSEL-GUEST-READY[ \t]*$", re.M)

QEMU = "qemu-system-x86_64"

# build-guest.sh exits with this status when the kernel package cannot be had.
_EXIT_UNAVAILABLE = 3


class GuestError(RuntimeError):
    """Building or starting the guest failed."""


class GuestUnavailable(GuestError):
    """The guest cannot be built on this machine (no QEMU, no kernel package).
    Tests turn this into a skip; every other GuestError is a failure."""


def default_build_dir() -> Path:
    """$VESSEL_BUILD, else <repo>/build."""
    return Path(os.environ.get("VESSEL_BUILD") or REPO / "build")


def qemu_path() -> str | None:
    return shutil.which(QEMU)


# --------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------

@dataclass
class GuestPaths:
    dir: Path
    kernel: Path                  # vmlinuz (bzImage), as Debian ships it
    initrd: Path
    kernel_release: str
    modules: list[str]            # in load order
    vmlinux: Path | None = None   # the uncompressed ELF, if extracted (PVH boot)


def build(build_dir: str | os.PathLike | None = None, timeout: float = 1200) -> GuestPaths:
    """Run build-guest.sh (cached: a no-op taking a few tens of ms when nothing
    changed) and return the paths of the kernel and the base initramfs."""
    build_dir = Path(build_dir) if build_dir else default_build_dir()
    try:
        p = subprocess.run(["bash", str(BUILD_SCRIPT), str(build_dir)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise GuestError(f"build-guest.sh did not finish within {timeout} s") from e
    if p.returncode == _EXIT_UNAVAILABLE:
        raise GuestUnavailable(p.stderr.strip())
    if p.returncode != 0:
        raise GuestError(f"build-guest.sh failed (exit {p.returncode}):\n{p.stderr.strip()}")
    d = build_dir.resolve() / "guest"
    return GuestPaths(
        dir=d,
        kernel=d / "vmlinuz",
        initrd=d / "initramfs.cpio.gz",
        kernel_release=(d / "kernel-release").read_text().strip(),
        modules=(d / "modules.txt").read_text().split(),
        vmlinux=(d / "vmlinux") if (d / "vmlinux").is_file() else None,
    )


def extract_vmlinux(vmlinuz: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the ELF kernel embedded in a bzImage to `out` (what the kernel's
    scripts/extract-vmlinux does): find the XZ or gzip stream after the setup
    code and decompress it. QEMU boots such an ELF through its PVH entry note
    without running the in-guest decompressor, which under TCG is most of the
    boot time."""
    import lzma
    import zlib
    data = Path(vmlinuz).read_bytes()
    for magic, make in ((b"\xfd7zXZ\x00", lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ)),
                        (b"\x1f\x8b\x08", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS))):
        pos = data.find(magic)
        while pos >= 0:
            try:
                elf = make().decompress(data[pos:])
            except (lzma.LZMAError, zlib.error):
                elf = b""
            if elf[:4] == b"\x7fELF":
                tmp = Path(str(out) + ".tmp")
                tmp.write_bytes(elf)
                os.replace(tmp, out)
                return Path(out)
            pos = data.find(magic, pos + 1)
    raise GuestError(f"no XZ or gzip compressed ELF kernel found in {vmlinuz}")


# --------------------------------------------------------------------------
# cpio "newc" archives (the initramfs format; see the kernel's
# Documentation/driver-api/early-userspace/buffer-format.rst)
# --------------------------------------------------------------------------

def _pad4(n: int) -> int:
    return (4 - n % 4) % 4


class CpioWriter:
    """Writes a newc archive: owner root, mtime 0, so output is reproducible."""

    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._ino = 0

    def _entry(self, name: str, mode: int, data: bytes = b"", nlink: int = 1,
               rdev: tuple[int, int] = (0, 0)) -> None:
        self._ino += 1
        nameb = name.encode() + b"\0"
        fields = (self._ino, mode, 0, 0, nlink, 0, len(data), 0, 0,
                  rdev[0], rdev[1], len(nameb), 0)
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._buf.write(hdr + nameb + b"\0" * _pad4(len(hdr) + len(nameb)))
        self._buf.write(data + b"\0" * _pad4(len(data)))

    def dir(self, name: str, perm: int = 0o755) -> None:
        self._entry(name, stat.S_IFDIR | perm, nlink=2)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int, perm: int = 0o600) -> None:
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, nlink=1)
        data = self._buf.getvalue()
        return data + b"\0" * _pad4(len(data))


def cpio_from_dir(root: str | os.PathLike) -> bytes:
    """A newc archive of everything under root (names relative to it, sorted)."""
    root = Path(root)
    w = CpioWriter()
    paths = sorted(p for p in root.rglob("*"))
    for p in paths:
        rel = p.relative_to(root).as_posix()
        st = p.lstat()
        perm = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            w.symlink(rel, os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            w.dir(rel, perm)
        elif stat.S_ISREG(st.st_mode):
            w.file(rel, p.read_bytes(), perm)
        elif stat.S_ISCHR(st.st_mode):
            w.chardev(rel, os.major(st.st_rdev), os.minor(st.st_rdev), perm)
        else:
            raise GuestError(f"cannot put {p} in a cpio archive")
    return w.finish()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def make_initrd_with_script(base_initrd: str | os.PathLike, script_text: str | bytes,
                            out_path: str | os.PathLike) -> Path:
    """Write out_path = base_initrd followed by a gzipped newc archive holding
    /test.sh. Linux unpacks concatenated (separately compressed) archives in
    order, so /test.sh lands in the same rootfs as the base image."""
    if isinstance(script_text, str):
        script_text = script_text.encode()
    w = CpioWriter()
    w.file("test.sh", script_text, 0o755)
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".tmp")
    with open(base_initrd, "rb") as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
        dst.write(_gzip(w.finish()))
    os.replace(tmp, out_path)
    return out_path


# --------------------------------------------------------------------------
# QEMU argument helpers for later tests
# --------------------------------------------------------------------------

def shared_memory_args(memory_mb: int = 256, hugepages: str | None = None) -> list[str]:
    """Guest RAM as a shared memfd (or a hugetlbfs file under `hugepages`), as
    vhost-user back ends need to map it. memory_mb must equal QEMU's -m."""
    if hugepages:
        obj = (f"memory-backend-file,id=mem,size={memory_mb}M,"
               f"mem-path={hugepages},share=on,prealloc=on")
    else:
        obj = f"memory-backend-memfd,id=mem,size={memory_mb}M,share=on"
    return ["-object", obj, "-numa", "node,memdev=mem"]


def vhost_user_net_args(socket_path: str | os.PathLike, mac: str | None = None,
                        id: str = "net0", server: bool = True, queues: int = 1) -> list[str]:
    """A virtio-net NIC on a vhost-user socket. server=True: QEMU listens and
    the switch connects as the client, so the guest survives a switch restart
    (DESIGN.md). vectors=0 because QEMU 7.2 under TCG crashes in
    msix_set_vector_notifiers with vhost-user + MSI-X. Needs shared_memory.
    Note: QEMU 7.2 does not start the guest until a back end has connected to
    a vhost-user netdev, even with wait=off, so start the guest (Guest.start(),
    which does not block) and then add the port to the switch."""
    chardev = f"socket,id=chr-{id},path={socket_path}"
    chardev += ",server=on,wait=off" if server else ",reconnect=1"
    netdev = f"vhost-user,id={id},chardev=chr-{id}"
    dev = f"virtio-net-pci,netdev={id},vectors=0"
    if queues > 1:
        netdev += f",queues={queues}"
        dev += ",mq=on"
    if mac:
        dev += f",mac={mac}"
    return ["-chardev", chardev, "-netdev", netdev, "-device", dev]


def vhost_user_blk_args(socket_path: str | os.PathLike, id: str = "blk0",
                        num_queues: int = 1, reconnect: bool = True,
                        vectors: int | None = None) -> list[str]:
    """A virtio-blk disk served by a vhost-user-blk back end (QEMU is the
    client and connects at start, so the back end must be listening;
    reconnect=1 retries every second if the back end restarts). Needs
    shared_memory. Checked under TCG against qemu-storage-daemon's
    vhost-user-blk export, with and without vectors=0."""
    chardev = f"socket,id=chr-{id},path={socket_path}"
    if reconnect:
        chardev += ",reconnect=1"
    dev = f"vhost-user-blk-pci,id={id},chardev=chr-{id},num-queues={num_queues}"
    if vectors is not None:
        dev += f",vectors={vectors}"
    return ["-chardev", chardev, "-device", dev]


def virtio_blk_args(image: str | os.PathLike, id: str = "d0", fmt: str = "raw",
                    cache: str = "none") -> list[str]:
    """A plain QEMU virtio-blk disk backed by an image file (appears as /dev/vda
    for the first one). cache=none: the guest's flushed writes are in the file
    when QEMU exits."""
    return ["-drive", f"file={image},if=none,id={id},format={fmt},cache={cache}",
            "-device", f"virtio-blk-pci,drive={id}"]


# --------------------------------------------------------------------------
# Booting
# --------------------------------------------------------------------------

@dataclass
class GuestResult:
    console: str                 # everything the guest printed on ttyS0
    ready: bool                  # VESSEL-GUEST-READY seen
    done: bool                   # VESSEL-GUEST-DONE seen
    rc: int | None               # the script's exit status (None if not done)
    elapsed: float               # seconds from QEMU start to its exit (or kill)
    ready_after: float | None    # seconds from QEMU start to READY
    timed_out: bool              # killed because `timeout` passed
    qemu_returncode: int | None
    qemu_log: str                # QEMU's own stdout/stderr
    workdir: Path
    command: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.done and self.rc == 0

    def script_output(self) -> str:
        """The lines between the READY and DONE markers."""
        start = self.console.find(READY_MARKER)
        if start < 0:
            return ""
        text = self.console[start + len(READY_MARKER):]
        m = _DONE_RE.search(text)
        return (text[:m.start()] if m else text).strip("\n")

    def describe(self) -> str:
        """For assertion messages: status, QEMU's log, the console's tail."""
        tail = "\n".join(self.console.splitlines()[-60:])
        return (f"done={self.done} rc={self.rc} timed_out={self.timed_out} "
                f"elapsed={self.elapsed:.1f}s qemu_rc={self.qemu_returncode}\n"
                f"command: {' '.join(self.command)}\n"
                f"--- qemu log ---\n{self.qemu_log.strip()}\n"
                f"--- console (tail) ---\n{tail}")


_live: set["Guest"] = set()


@atexit.register
def _kill_leftovers() -> None:
    for g in list(_live):
        g.kill()


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test process dies (even by
    # SIGKILL), the kernel sends QEMU SIGKILL, so no guest outlives its test.
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except Exception:
        pass


class Guest:
    """One QEMU process running the test guest. Use as a context manager (QEMU
    is always killed on exit), or call start()/wait()/kill()."""

    def __init__(self, build_dir: str | os.PathLike | None = None, script: str | bytes | None = None,
                 extra_qemu_args: tuple | list = (), timeout: float = 60, accel: str = "tcg",
                 memory_mb: int = 256, cmd: str | None = None, append: str = "",
                 workdir: str | os.PathLike | None = None, smp: int = 1,
                 shared_memory: bool = False, verbose_kernel: bool = False,
                 kernel: str = "auto", paths: GuestPaths | None = None) -> None:
        self.paths = paths or build(build_dir)
        # kernel="auto": the extracted vmlinux (PVH boot, ~3 s under TCG) when
        # there is one, else vmlinuz (~6.5 s). "vmlinuz"/"vmlinux" force one.
        if kernel == "vmlinuz" or (kernel == "auto" and self.paths.vmlinux is None):
            self.kernel_image = self.paths.kernel
        elif self.paths.vmlinux is not None:
            self.kernel_image = self.paths.vmlinux
        else:
            raise GuestError("no vmlinux was extracted for this kernel")
        self.script = script
        self.extra_qemu_args = [str(a) for a in extra_qemu_args]
        self.timeout = timeout
        self.accel = accel
        self.memory_mb = memory_mb
        self.cmd = cmd
        self.append = append
        self.smp = smp
        self.shared_memory = shared_memory
        self.verbose_kernel = verbose_kernel
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="vessel-guest-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.console_path = self.workdir / "console.log"
        self.qemu_log_path = self.workdir / "qemu.log"
        self.proc: subprocess.Popen | None = None
        self.command: list[str] = []
        self._t0 = 0.0
        self._ready_after: float | None = None
        self._timed_out = False

    # -- command line -------------------------------------------------------
    def kernel_cmdline(self) -> str:
        # panic=-1 + -no-reboot: a kernel panic ends QEMU at once instead of
        # hanging until the timeout. quiet/loglevel keep the console for the
        # test's output (and serial output is slow under TCG).
        # verbose_kernel shows the kernel's boot messages; /init still lowers
        # the console log level before the script runs (a script can raise it:
        # echo 8 >/proc/sys/kernel/printk).
        parts = ["console=ttyS0", "panic=-1"]
        if not self.verbose_kernel:
            parts.append("loglevel=4")
        if self.cmd:
            if '"' in self.cmd:
                raise GuestError("vessel.cmd cannot contain a double quote; use a script")
            parts.append(f'vessel.cmd="{self.cmd}"')
        if self.append:
            parts.append(self.append)
        return " ".join(parts)

    def qemu_command(self, initrd: Path) -> list[str]:
        qemu = qemu_path()
        if not qemu:
            raise GuestUnavailable(f"{QEMU} is not installed (apt-get install qemu-system-x86)")
        cmd = [qemu]
        for acc in self.accel.split(":"):      # "kvm:tcg" = try KVM, fall back to TCG
            cmd += ["-accel", acc]
        cmd += ["-m", f"{self.memory_mb}M", "-smp", str(self.smp), "-nodefaults", "-nographic", "-no-reboot",
               "-serial", f"file:{self.console_path}",
               "-kernel", str(self.kernel_image), "-initrd", str(initrd),
               "-append", self.kernel_cmdline()]
        if self.accel == "kvm":
            cmd += ["-cpu", "host"]
        if self.shared_memory:
            cmd += shared_memory_args(self.memory_mb)
        return cmd + self.extra_qemu_args

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> "Guest":
        if self.script is not None:
            (self.workdir / "test.sh").write_bytes(
                self.script.encode() if isinstance(self.script, str) else self.script)
            initrd = make_initrd_with_script(self.paths.initrd, self.script,
                                             self.workdir / "initrd.img")
        else:
            initrd = self.paths.initrd
        self.command = self.qemu_command(initrd)
        self.console_path.write_bytes(b"")
        log = open(self.qemu_log_path, "wb")
        self._t0 = time.monotonic()
        try:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        finally:
            log.close()
        _live.add(self)
        return self

    def console(self) -> str:
        try:
            data = self.console_path.read_bytes()
        except FileNotFoundError:
            return ""
        return data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _deadline(self, timeout: float | None) -> float:
        # No wait goes past the guest's overall timeout.
        end = self._t0 + self.timeout
        if timeout is not None:
            end = min(end, time.monotonic() + timeout)
        return end

    def wait_for(self, pattern: str, timeout: float | None = None) -> re.Match | None:
        """Poll the console for a regex (re.M); None if QEMU exits or the time
        runs out first. Use this to act on the host while the guest runs."""
        rx = re.compile(pattern, re.M)
        end = self._deadline(timeout)
        while True:
            text = self.console()
            self._note_ready(text)
            m = rx.search(text)
            if m or not self.running() or time.monotonic() >= end:
                return m
            time.sleep(0.05)

    def _note_ready(self, text: str) -> None:
        if self._ready_after is None and _READY_RE.search(text):
            self._ready_after = time.monotonic() - self._t0

    def wait(self) -> GuestResult:
        """Wait until QEMU exits (the guest powers off after the script) or the
        timeout passes (QEMU is then killed), and collect the result."""
        assert self.proc is not None, "start() first"
        end = self._deadline(None)
        while self.proc.poll() is None:
            self._note_ready(self.console())
            if time.monotonic() >= end:
                self._timed_out = True
                break
            time.sleep(0.05)
        self.kill()
        elapsed = time.monotonic() - self._t0
        text = self.console()
        self._note_ready(text)
        m = None
        for m in _DONE_RE.finditer(text):
            pass
        try:
            qlog = self.qemu_log_path.read_text(errors="replace")
        except FileNotFoundError:
            qlog = ""
        return GuestResult(console=text, ready=self._ready_after is not None, done=m is not None,
                           rc=int(m.group(1)) if m else None, elapsed=elapsed,
                           ready_after=self._ready_after, timed_out=self._timed_out,
                           qemu_returncode=self.proc.returncode, qemu_log=qlog,
                           workdir=self.workdir, command=self.command)

    def kill(self) -> None:
        """Stop QEMU now (SIGTERM, then SIGKILL) and reap it."""
        _live.discard(self)
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def __enter__(self) -> "Guest":
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def boot(build_dir: str | os.PathLike | None = None, script: str | bytes | None = None,
         extra_qemu_args: tuple | list = (), timeout: float = 60, accel: str = "tcg",
         memory_mb: int = 256, **kwargs) -> GuestResult:
    """Build (cached), boot the guest, run `script` in it and return the result.
    QEMU is killed if it is still running after `timeout` seconds.
    kwargs go to Guest: cmd, append, workdir, smp, shared_memory, verbose_kernel,
    kernel ("auto", "vmlinux", "vmlinuz"), paths."""
    with Guest(build_dir, script=script, extra_qemu_args=extra_qemu_args, timeout=timeout,
               accel=accel, memory_mb=memory_mb, **kwargs) as g:
        return g.wait()


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def _main(argv: list[str]) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    b = sub.add_parser("build", help="build the guest (cached)")
    b.add_argument("build_dir", nargs="?")
    r = sub.add_parser("boot", help="boot the guest, print its console")
    r.add_argument("build_dir", nargs="?")
    r.add_argument("--script", help="shell script file to run in the guest")
    r.add_argument("--cmd", help="short command (vessel.cmd=...)")
    r.add_argument("--timeout", type=float, default=60)
    r.add_argument("--accel", default="tcg")
    r.add_argument("--kernel", default="auto", choices=("auto", "vmlinux", "vmlinuz"))
    c = sub.add_parser("mkcpio", help="gzipped newc archive of a directory (used by build-guest.sh)")
    c.add_argument("root")
    c.add_argument("out")
    x = sub.add_parser("extract-vmlinux", help="ELF kernel out of a bzImage (used by build-guest.sh)")
    x.add_argument("vmlinuz")
    x.add_argument("out")
    # Everything after "--" goes to QEMU untouched.
    qemu_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    r.epilog = "Arguments after -- are passed to QEMU."
    a = ap.parse_args(argv)
    try:
        if a.what == "mkcpio":
            Path(a.out).write_bytes(_gzip(cpio_from_dir(a.root)))
            return 0
        if a.what == "extract-vmlinux":
            extract_vmlinux(a.vmlinuz, a.out)
            return 0
        if a.what == "build":
            p = build(a.build_dir)
            print(f"kernel {p.kernel} ({p.kernel_release})\ninitrd {p.initrd}\n"
                  f"modules {' '.join(p.modules)}")
            return 0
        script = Path(a.script).read_text() if a.script else None
        res = boot(a.build_dir, script=script, cmd=a.cmd, timeout=a.timeout,
                   accel=a.accel, kernel=a.kernel, extra_qemu_args=qemu_args)
        sys.stdout.write(res.console)
        print(f"\n[guest.py] done={res.done} rc={res.rc} ready_after={res.ready_after} "
              f"elapsed={res.elapsed:.2f}s timed_out={res.timed_out} workdir={res.workdir}",
              file=sys.stderr)
        if res.qemu_log.strip():
            print(f"[guest.py] qemu: {res.qemu_log.strip()}", file=sys.stderr)
        return res.rc if res.done else 124
    except GuestError as e:
        print(f"guest.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
