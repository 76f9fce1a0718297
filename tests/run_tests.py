#!/usr/bin/python3
"""Vessel's test runner: C unit tests (cmocka, TAP), system tests (pytest) and
short fuzz runs (libFuzzer), with one closing line "N passed, N failed[, N skipped]".

    tests/run_tests.py --build build [--sanitized] [--only unit,system,fuzz]
                       [--fuzz-seconds 15] [-k PYTEST_EXPR]

Exits 1 when anything failed. Run through `make test` (which builds first).
"""
import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAP_LINE = re.compile(r"^(not ok|ok) \d+(?: - (.*?))?(?: # (SKIP|TODO)\s*(.*))?$")


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def add(self, status, name):
        if status == "pass":
            self.passed += 1
        elif status == "skip":
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(name)
        print(f"{status.upper():5} {name}", flush=True)


def banner(text):
    print(f"\n==== {text} ====", flush=True)


def sanitizer_env(env):
    supp = os.path.join(REPO, "tests", "lsan.supp")
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:strict_string_checks=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    if os.path.exists(supp):
        env["LSAN_OPTIONS"] = f"suppressions={supp}:print_suppressions=0"
    env["VESSEL_SANITIZED"] = "1"


def run_unit(build, env, tally):
    banner("unit tests (cmocka)")
    bins = sorted(glob.glob(os.path.join(build, "tests", "unit", "*", "test_*")))
    bins = [b for b in bins if os.access(b, os.X_OK) and not b.endswith(".d")]
    if not bins:
        tally.add("fail", "unit: no unit test binaries built")
        return
    for binpath in bins:
        rel = os.path.relpath(binpath, os.path.join(build, "tests"))
        uenv = dict(env, CMOCKA_MESSAGE_OUTPUT="TAP")
        try:
            p = subprocess.run([binpath], capture_output=True, text=True, timeout=300, env=uenv,
                               cwd=REPO)
        except subprocess.TimeoutExpired:
            tally.add("fail", f"{rel}: timed out")
            continue
        seen_fail = 0
        seen = 0
        for line in p.stdout.splitlines():
            m = TAP_LINE.match(line.strip())
            if not m or line.startswith("# "):
                continue
            ok, name, directive, reason = m.groups()
            name = name or (reason or "?")
            seen += 1
            if directive == "SKIP":
                tally.add("skip", f"{rel}: {name}")
            elif ok == "ok":
                tally.add("pass", f"{rel}: {name}")
            else:
                seen_fail += 1
                tally.add("fail", f"{rel}: {name}")
        if p.returncode != 0 or seen_fail or not seen:
            sys.stdout.write(p.stdout[-4000:])
            sys.stdout.write(p.stderr[-4000:])
            if not seen_fail:
                tally.add("fail", f"{rel}: exited with {p.returncode}")
        elif "ERROR: AddressSanitizer" in p.stderr or "runtime error:" in p.stderr:
            sys.stdout.write(p.stderr[-4000:])
            tally.add("fail", f"{rel}: sanitizer report")


def run_system(build, env, tally, kexpr):
    banner("system tests (pytest)")
    results = os.path.join(build, "test-results")
    os.makedirs(results, exist_ok=True)
    xml_path = os.path.join(results, "system.xml")
    if os.path.exists(xml_path):
        os.unlink(xml_path)
    cmd = [sys.executable, "-m", "pytest", os.path.join(REPO, "tests", "system"), "-q", "-rs",
           "-p", "no:cacheprovider", f"--junitxml={xml_path}", "-o", "junit_family=xunit1"]
    if kexpr:
        cmd += ["-k", kexpr]
    p = subprocess.run(cmd, env=env, cwd=REPO)
    if p.returncode == 5:  # no tests collected
        tally.add("fail", "system: pytest collected no tests")
        return
    if not os.path.exists(xml_path):
        tally.add("fail", f"system: pytest exited with {p.returncode} and wrote no results")
        return
    root = ET.parse(xml_path).getroot()
    for case in root.iter("testcase"):
        name = f"system/{case.get('classname', '')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            tally.add("fail", name)
        elif case.find("skipped") is not None:
            tally.add("skip", name)
        else:
            tally.add("pass", name)
    if p.returncode not in (0, 1):
        tally.add("fail", f"system: pytest exited with {p.returncode}")


def run_fuzz(build, env, tally, seconds):
    banner(f"fuzz runs (libFuzzer, {seconds}s each)")
    bins = sorted(glob.glob(os.path.join(build, "fuzz", "fuzz_*")))
    bins = [b for b in bins if os.access(b, os.X_OK) and not b.endswith(".d")]
    if not bins:
        tally.add("fail", "fuzz: no fuzz targets built")
        return
    artifacts = os.path.join(build, "fuzz", "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    fenv = dict(env)
    fenv.setdefault("ASAN_OPTIONS", "detect_leaks=1")

    def one(binpath):
        name = os.path.basename(binpath)
        seeds = os.path.join(REPO, "tests", "fuzz", "corpus", name[len("fuzz_"):])
        work = tempfile.mkdtemp(prefix=f"vessel-{name}-")
        cmd = [binpath, f"-max_total_time={seconds}", "-timeout=10", "-rss_limit_mb=2048",
               "-print_final_stats=1", f"-artifact_prefix={artifacts}/{name}-", work]
        if os.path.isdir(seeds):
            cmd.append(seeds)
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, env=fenv,
                           timeout=seconds * 3 + 60)
        shutil.rmtree(work, ignore_errors=True)
        return name, p, time.monotonic() - t0

    # Each target is single-threaded: run as many at once as there are CPUs.
    jobs = max(1, min(len(bins), os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for name, p, dt in ex.map(one, bins):
            runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", p.stderr)
            if p.returncode != 0:
                sys.stdout.write(p.stderr[-6000:])
                tally.add("fail", f"fuzz/{name}: exit {p.returncode}")
            else:
                print(f"      {name}: {runs.group(1) if runs else '?'} inputs in "
                      f"{dt:.0f}s", flush=True)
                tally.add("pass", f"fuzz/{name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--sanitized", action="store_true")
    ap.add_argument("--only", default="unit,system,fuzz")
    ap.add_argument("--fuzz-seconds", type=int,
                    default=int(os.environ.get("VESSEL_FUZZ_SECONDS", "15")))
    ap.add_argument("-k", dest="kexpr", default=None)
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    env = dict(os.environ, VESSEL_BUILD=build, PYTHONDONTWRITEBYTECODE="1")
    if args.sanitized:
        sanitizer_env(env)
    if os.geteuid() == 0 and os.path.exists(os.path.join(build, "bin", "vessel-dpdk-env")):
        subprocess.run([os.path.join(build, "bin", "vessel-dpdk-env")], check=False)

    tally = Tally()
    only = set(args.only.split(","))
    t0 = time.monotonic()
    if "unit" in only:
        run_unit(build, env, tally)
    if "system" in only:
        run_system(build, env, tally, args.kexpr)
    if "fuzz" in only:
        run_fuzz(build, env, tally, args.fuzz_seconds)

    banner(f"summary ({time.monotonic() - t0:.0f}s, build {os.path.relpath(build, REPO)})")
    for f in tally.failures:
        print(f"FAILED {f}")
    line = f"{tally.passed} passed, {tally.failed} failed"
    if tally.skipped:
        line += f", {tally.skipped} skipped"
    print(line, flush=True)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
