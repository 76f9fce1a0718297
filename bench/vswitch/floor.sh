#!/usr/bin/env bash
# bench/vswitch/floor.sh BUILD_DIR [SECONDS] [FLOWS] — the floor under every
# vhost-user switching figure: DPDK's testpmd in `io` forwarding mode (no
# parsing, no lookup, no learning: each burst received on one port is sent on
# the other) between two vhost-user ports (net_vhost, client mode) on the
# generator's sockets. It moves packets with the same two vhost copies a switch
# must make, so its cycles per packet are what no vhost-user switch can go
# under on this machine at this moment; run.sh subtracts it to show the
# switch's own work. Prints one JSON line.
#
# Same generator as run.sh (vsw_gen, the vhost-user servers, on the first CPU),
# testpmd's forwarding core on the second. Cycles per packet are testpmd's own
# `--record-core-cycles` figure: cycles of the forwarding calls that received
# packets / packets forwarded (the definition of Vessel's and OVS's pmd-stats).
# testpmd counts the generator's warm-up too; the rate is the generator's.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-5}
flows=${3:-1}
testpmd=$(command -v dpdk-testpmd || true)
[ -n "$testpmd" ] || { echo "floor.sh: dpdk-testpmd not found (apt-get install dpdk)" >&2; exit 2; }
out=$build/bench/vswitch
[ -x "$out/vsw_gen" ] || { echo "floor.sh: build the generator first (run.sh does)" >&2; exit 2; }
rundir=$(mktemp -d /tmp/vessel-bench-floor-XXXXXX)
tp_pid=
cleanup() {
  [ -n "$tp_pid" ] && kill "$tp_pid" 2>/dev/null || true
  [ -n "${VSW_KEEP:-}" ] || rm -rf "$rundir"
  rmdir "/var/run/dpdk/vessel-floorgen-$$" "/var/run/dpdk/vessel-floor-$$" 2>/dev/null || true
}
trap cleanup EXIT
cpu0=$(taskset -pc $$ | sed 's/.*: //; s/[,-].*//')
cpu1=$(taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' | sed 's/-.*//' | grep -vx "$cpu0" | head -1)
[ -n "$cpu1" ] || cpu1=$((cpu0 + 1))
# testpmd reads its commands from a FIFO: start forwarding, and at the end
# print the statistics (with the cycles) and quit.
mkfifo "$rundir/cmd"
"$testpmd" -l "$cpu0,$cpu1" --main-lcore "$cpu0" --in-memory --no-pci --file-prefix "vessel-floor-$$" \
  --log-level=warning \
  --vdev "net_vhost0,iface=$rundir/g0.sock,client=1,queues=1" \
  --vdev "net_vhost1,iface=$rundir/g1.sock,client=1,queues=1" \
  -- -i --forward-mode=io --nb-cores=1 --rxq=1 --txq=1 --burst=32 --record-core-cycles \
  < "$rundir/cmd" > "$rundir/testpmd.log" 2>&1 &
tp_pid=$!
exec 3> "$rundir/cmd"
echo "start" >&3
gen=$("$out/vsw_gen" -l "$cpu0" --no-pci --in-memory --single-file-segments \
        --file-prefix "vessel-floorgen-$$" --log-level=warning -- \
        --tx "$rundir/g0.sock" --rx "$rundir/g1.sock" --seconds "$seconds" --warmup 1 \
        --flows "$flows" --scenario 1 | tail -1)
echo "show fwd stats all" >&3
echo "stop" >&3
echo "quit" >&3
exec 3>&-
for _ in $(seq 100); do kill -0 "$tp_pid" 2>/dev/null || break; sleep 0.1; done
tp_pid=
printf '%s' "$gen" | /usr/bin/python3 -c '
import json, re, sys
r = json.loads(sys.stdin.read())
log = open(sys.argv[1]).read()
m = re.findall(r"CPU cycles/packet=([0-9.]+)", log)
print(json.dumps({"switch": "testpmd io (floor)", "rx_mpps": r["rx_mpps"], "loss_pct": r["loss_pct"],
                  "pmd_cycles_per_packet": round(float(m[-1])) if m else None}))' "$rundir/testpmd.log"
