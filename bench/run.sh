#!/usr/bin/env bash
# Runs Vessel's benchmarks and prints one JSON line per result on stdout.
#   bench/run.sh [BUILD_DIR]        (make bench)
# Benchmarks are never part of `make test`. Each line carries the date, the
# host and the commit (VESSEL_COMMIT).
set -euo pipefail
build=${1:-build}
repo=$(cd "$(dirname "$0")/.." && pwd)
export VESSEL_COMMIT=${VESSEL_COMMIT:-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)}

# CPU-only micro benchmarks.
[ -x "$build/bench/bench_crc32c" ] && "$build/bench/bench_crc32c"

# Control plane: JSON-RPC round trips against a real blockd.
rundir=$(mktemp -d /tmp/vessel-bench-XXXXXX)
trap 'kill $(cat "$rundir/blockd.pid" 2>/dev/null) 2>/dev/null || true; sleep 0.2; rm -rf "$rundir"' EXIT
VESSEL_RUNDIR=$rundir "$build/bin/blockd" --log-file "$rundir/blockd.log" &
for _ in $(seq 100); do [ -S "$rundir/blockd.sock" ] && break; sleep 0.05; done
"$build/bench/bench_rpc" "$rundir/blockd.sock" 20000

# Storage: fio over NBD against blockd and qemu-storage-daemon, and local io_uring.
if command -v fio >/dev/null && command -v qemu-storage-daemon >/dev/null; then
  /usr/bin/python3 "$repo/bench/blockdev/bench_nbd.py" --build "$build" --size 1G --runtime 10
fi

# vhost-user-blk: bench/blockdev/vub_bench as the front end, blockd vs qemu-storage-daemon.
if command -v fio >/dev/null && command -v qemu-storage-daemon >/dev/null && [ -x "$build/bench/vub_bench" ]; then
  /usr/bin/python3 "$repo/bench/blockdev/bench_vhost_blk.py" --build "$build" --size 1G --runtime 10
fi

# RAID: RAID0/RAID1 against one member alone, rebuild against the member's write rate.
if command -v fio >/dev/null; then
  /usr/bin/python3 "$repo/bench/raid/bench_raid.py" --build "$build" --size 256M --runtime 5
fi

# LVM: CPU per I/O of a linear LV against its base (process CPU time: steady under load).
[ -x "$build/bench/lvm_path_bench" ] && "$build/bench/lvm_path_bench" --base null 2>/dev/null
[ -x "$build/bench/lvm_path_bench" ] && "$build/bench/lvm_path_bench" --base file --dir /dev/shm 2>/dev/null

# LVM: a linear LV against the file bdev under it.
if command -v fio >/dev/null; then
  /usr/bin/python3 "$repo/bench/lvm/bench_lvm.py" --build "$build"
fi
