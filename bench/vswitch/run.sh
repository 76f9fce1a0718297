#!/usr/bin/env bash
# bench/vswitch/run.sh [BUILD_DIR] [SECONDS] [FLOWS] [SCENARIO] — scenarios of
# issue 3, 64-byte frames between two vhost-user ports:
#   1 (default): L2 learning (NORMAL), FLOWS source MACs;
#   2: fail_mode=secure, FLOWS exact 5-tuple rules (one per generator flow:
#      UDP 10.0.0.1:1024+i -> 10.0.0.2:9) plus 10 wildcard rules of other
#      masks, each output to the receiving port (FLOWS defaults to 1000).
#   3: VXLAN encap: vhost-user tenant port (VNI 100) -> vxlan port -> underlay
#      (a `dpdk` port on net_vhost), FLOWS = remote VTEPs (tunnels, default 1),
#      each with a static neighbour and one learned tenant MAC;
#   4: VXLAN decap: underlay -> tenant, VXLAN datagrams from FLOWS remote VTEPs.
#   Scenarios 3 and 4 offer 64-byte inner frames (114 bytes on the underlay).
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
scenario=${4:-1}
flows=${3:-$([ "$scenario" = 2 ] && echo 1000 || echo 1)}   # distinct flows offered
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
gen_args=(--tx "$rundir/g0.sock" --rx "$rundir/g1.sock" --flows "$flows")
if [ "$scenario" = 3 ] || [ "$scenario" = 4 ]; then
  ctl add-port t0 type=vhost-user path="$rundir/t0.sock" vni=100 >/dev/null
  ctl add-port ul type=dpdk devargs="net_vhost_ul,iface=$rundir/ul.sock,queues=1,client=1" >/dev/null
  ctl add-port vx0 type=vxlan local_ip=192.168.0.1 underlay=ul >/dev/null
  for t in $(seq 0 $((flows - 1))); do
    ip="192.168.$(((10 + t) / 256)).$(((10 + t) % 256))"
    ctl vtep-add-remote 100 "$ip" >/dev/null
    ctl vtep-add-neighbor "$ip" "$(printf '02:00:00:dd:%02x:%02x' $((t >> 8)) $((t & 255)))" >/dev/null
  done
  if [ "$scenario" = 3 ]; then
    gen_args=(--tx "$rundir/t0.sock" --rx "$rundir/ul.sock" --vxlan encap)
  else
    gen_args=(--tx "$rundir/ul.sock" --rx "$rundir/t0.sock" --vxlan decap)
  fi
  gen_args+=(--vtep 192.168.0.1 --tunnels "$flows" --flows "$flows")
else
  ctl add-port g0 type=vhost-user path="$rundir/g0.sock" tag=10 >/dev/null
  ctl add-port g1 type=vhost-user path="$rundir/g1.sock" tag=10 >/dev/null
fi
if [ "$scenario" = 2 ]; then
  g0=$(ctl --json show | /usr/bin/python3 -c 'import json,sys; print([p["ofport"] for p in json.load(sys.stdin)["ports"] if p["name"]=="g0"][0])')
  g1=$(ctl --json show | /usr/bin/python3 -c 'import json,sys; print([p["ofport"] for p in json.load(sys.stdin)["ports"] if p["name"]=="g1"][0])')
  {
    for i in $(seq 0 $((flows - 1))); do
      echo "priority=100,in_port=$g0,udp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=$((1024 + i)),tp_dst=9,actions=output:$g1"
    done
    for i in $(seq 0 9); do
      echo "priority=$((50 + i)),ip,nw_dst=10.$((i + 1)).0.0/$((8 + i)),actions=drop"
    done
    echo "priority=10,in_port=$g1,actions=output:$g0"
  } > "$rundir/flows.txt"
  ctl set-bridge fail_mode=secure >/dev/null
  ctl add-flows "$rundir/flows.txt" >/dev/null
fi
ctl pmd-stats clear=true >/dev/null
cpu0=$(taskset -pc $$ | sed 's/.*: //; s/[,-].*//')
gen=$("$out/vsw_gen" -l "$cpu0" --no-pci --in-memory --single-file-segments \
        --file-prefix "vessel-vswgen-$$" --log-level=warning -- \
        "${gen_args[@]}" --seconds "$seconds" --warmup 1 | tail -1)
pmd=$(ctl --json pmd-stats)
cpp=$(printf '%s' "$pmd" | /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin); print(p[0]["cycles_per_packet"] if p else 0)')
emc=$(printf '%s' "$pmd" | /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin); print(round(p[0].get("emc_hit_pct",0),1) if p else 0)')
busy=$(printf '%s' "$pmd" | /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin); print(round(p[0]["busy_pct"],1) if p else 0)')
drops=$(ctl --json dump-ports | /usr/bin/python3 -c 'import json,sys; print(sum(p["drops_total"] for p in json.load(sys.stdin)))')
printf '%s' "$gen" | /usr/bin/python3 -c '
import json, sys, socket, time
r = json.loads(sys.stdin.read())
r.update(pmd_cycles_per_packet=int(sys.argv[1]), pmd_busy_pct=float(sys.argv[2]),
         switch_drops=int(sys.argv[3]), machine=socket.gethostname(),
         date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), commit=sys.argv[4])
if sys.argv[5] == "2":
    r.update(bench="vswitch_flows", scenario=2, rules=r["flows"] + 11, emc_hit_pct=float(sys.argv[6]))
print(json.dumps(r))' "$cpp" "$busy" "$drops" "$commit" "$scenario" "$emc"
