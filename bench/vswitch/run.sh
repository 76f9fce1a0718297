#!/usr/bin/env bash
# bench/vswitch/run.sh [BUILD_DIR] [SECONDS] [FLOWS] — scenario 1 of issue 3: L2
# learning between two vhost-user ports, 64-byte frames.
#
# Builds the generator (vsw_gen.c) into BUILD_DIR/bench/vswitch, starts
# vswitchd (PMD on the second CPU, pure polling) with two vhost-user ports in
# client mode on access VLAN 10, and runs the generator (virtio_user, the
# vhost-user servers) on the first CPU. Prints one JSON line: the generator's
# counts plus the PMD's processing cycles per packet (busy cycles / packets, as
# OVS's pmd-stats-show) and the machine, date and commit. Needs root and
# hugepages. Not part of `make test`.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-5}
flows=${3:-1}           # distinct source MACs (FDB entries) offered
repo=$(cd "$(dirname "$0")/../.." && pwd)
commit=${VESSEL_COMMIT:-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)}
out=$build/bench/vswitch
mkdir -p "$out"
cc -O2 -g -Wall -Wextra -Werror $(pkg-config --cflags libdpdk) -o "$out/vsw_gen" \
  "$repo/bench/vswitch/vsw_gen.c" $(pkg-config --libs libdpdk)

"$build/bin/vessel-dpdk-env" >/dev/null
rundir=$(mktemp -d /tmp/vessel-bench-vsw-XXXXXX)
export VESSEL_RUNDIR=$rundir
ctl() { "$build/bin/vswitchctl" "$@"; }
cleanup() {
  [ -f "$rundir/vswitchd.pid" ] && kill "$(cat "$rundir/vswitchd.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$rundir"
  # The generator's (empty) EAL runtime directory, named after this script.
  rmdir "/var/run/dpdk/vessel-vswgen-$$" 2>/dev/null || true
}
trap cleanup EXIT
"$build/bin/vswitchd" --log-file "$rundir/vswitchd.log" -v dpdk:warn &
for _ in $(seq 200); do [ -S "$rundir/vswitchd.sock" ] && break; sleep 0.05; done
ctl set-bridge pmd_sleep_max_us=0 >/dev/null
ctl add-port g0 type=vhost-user path="$rundir/g0.sock" tag=10 >/dev/null
ctl add-port g1 type=vhost-user path="$rundir/g1.sock" tag=10 >/dev/null
ctl pmd-stats clear=true >/dev/null
cpu0=$(taskset -pc $$ | sed 's/.*: //; s/[,-].*//')
gen=$("$out/vsw_gen" -l "$cpu0" --no-pci --in-memory --single-file-segments \
        --file-prefix "vessel-vswgen-$$" --log-level=warning -- \
        --tx "$rundir/g0.sock" --rx "$rundir/g1.sock" --seconds "$seconds" --warmup 1 --flows "$flows" | tail -1)
pmd=$(ctl --json pmd-stats)
cpp=$(printf '%s' "$pmd" | /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin); print(p[0]["cycles_per_packet"] if p else 0)')
busy=$(printf '%s' "$pmd" | /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin); print(round(p[0]["busy_pct"],1) if p else 0)')
drops=$(ctl --json dump-ports | /usr/bin/python3 -c 'import json,sys; print(sum(p["drops_total"] for p in json.load(sys.stdin)))')
printf '%s' "$gen" | /usr/bin/python3 -c '
import json, sys, socket, time
r = json.loads(sys.stdin.read())
r.update(pmd_cycles_per_packet=int(sys.argv[1]), pmd_busy_pct=float(sys.argv[2]),
         switch_drops=int(sys.argv[3]), machine=socket.gethostname(),
         date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), commit=sys.argv[4])
print(json.dumps(r))' "$cpp" "$busy" "$drops" "$commit"
