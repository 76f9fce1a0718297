#!/usr/bin/env bash
# bench/sdn-agent/run.sh [BUILD_DIR] [N...] — OpenFlow flow-mod throughput end
# to end: vswitchd listens on ptcp:0 (127.0.0.1), flowmod_bench.py sends N
# FLOW_MOD ADDs (distinct exact UDP/IPv4 matches) and a BARRIER on one
# connection; flows/s = N / (first byte sent -> BARRIER_REPLY), i.e. until every
# PMD forwards with every rule. One JSON line per N (default 10000 100000),
# with the machine, date, commit and the load average at the start.
# Needs the DPDK environment vswitchd needs (vessel-dpdk-env). Not part of
# `make test`.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
shift || true
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10000 100000)
repo=$(cd "$(dirname "$0")/../.." && pwd)
commit=${VESSEL_COMMIT:-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)}

"$build/bin/vessel-dpdk-env" >/dev/null
rundir=$(mktemp -d /tmp/vessel-bench-ofa-XXXXXX)
export VESSEL_RUNDIR=$rundir
ctl() { "$build/bin/vswitchctl" "$@"; }
cleanup() {
  [ -f "$rundir/vswitchd.pid" ] && kill "$(cat "$rundir/vswitchd.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$rundir"
}
trap cleanup EXIT
"$build/bin/vswitchd" --log-file "$rundir/vswitchd.log" -- --file-prefix "vessel-bench-ofa-$$" &
for _ in $(seq 100); do ctl version >/dev/null 2>&1 && break; sleep 0.1; done
ctl set-bridge pmd_sleep_max_us=200 >/dev/null
port=$(ctl --json set-controller ptcp:0 | /usr/bin/python3 -c \
  'import json,sys; print([c["port"] for c in json.load(sys.stdin)["controllers"]][0])')
load=$(cut -d' ' -f1 /proc/loadavg)
for n in "${sizes[@]}"; do
  ctl del-flows >/dev/null
  VESSEL_COMMIT=$commit /usr/bin/python3 "$repo/bench/sdn-agent/flowmod_bench.py" \
    "127.0.0.1:$port" "$n" --load "$load"
  # Every flow is in the table the PMDs use (not just acknowledged).
  have=$(ctl --json show | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["bridge"]["flows"])')
  [ "$have" = "$n" ] || { echo "bench: $have flows installed, expected $n" >&2; exit 1; }
done
