#!/usr/bin/env bash
# bench/vswitch/ovs.sh BUILD_DIR SECONDS FLOWS SCENARIO — the same scenario as
# run.sh, against OVS-DPDK (Debian's openvswitch-switch-dpdk), for the side by
# side figures issue 3 asks for. run.sh calls it when the package is installed
# (VSW_OVS=0 skips it); it prints one JSON line.
#
# Same generator (vsw_gen on virtio_user, the vhost-user servers, on the first
# CPU), same frames and flows; OVS's PMD on the second CPU (pmd-cpu-mask), its
# ports `dpdkvhostuserclient` on the generator's sockets, a `netdev` bridge.
# Scenarios: 1 (NORMAL, both ports access VLAN 10), 2 and 3 (fail-mode secure
# and the very rules run.sh gives Vessel, through `ovs-ofctl add-flows`), 4
# (access to trunk, NORMAL), 6 and 7 (VXLAN encap / decap with OVS's userspace
# tunnelling: br-int holds the tenant port and one vxlan port per remote VTEP,
# key 100; br-phy holds the underlay port, the VTEP address 192.168.0.1 on its
# LOCAL port and the MAC the generator sends to, static neighbours through
# tnl/arp/set; ovs-vswitchd then runs in a private network namespace so that
# address and its route stay out of the host's). Cycles per packet are OVS's own "avg processing
# cycles per packet" from dpif-netdev/pmd-stats-show: busy cycles / packets,
# the definition Vessel's pmd-stats follows. OVS runs from a private database
# and run directory and is stopped afterwards.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-5}
flows=${3:-1}
scenario=${4:-1}
repo=$(cd "$(dirname "$0")/../.." && pwd)
ovs_bin=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
case "$scenario" in
  1|2|3|4|6|7) ;;
  *) echo "ovs.sh: OVS-DPDK runs scenarios 1-4, 6 and 7, not '$scenario'" >&2; exit 2 ;;
esac
[ -x "$ovs_bin" ] || { echo "ovs.sh: $ovs_bin not installed (apt-get install openvswitch-switch-dpdk)" >&2; exit 2; }
out=$build/bench/vswitch
[ -x "$out/vsw_gen" ] || { echo "ovs.sh: build the generator first (run.sh does)" >&2; exit 2; }

rundir=$(mktemp -d /tmp/vessel-bench-ovs-XXXXXX)
export OVS_RUNDIR=$rundir OVS_LOGDIR=$rundir OVS_DBDIR=$rundir
db=unix:$rundir/db.sock
vsctl() { ovs-vsctl --db="$db" --timeout=30 "$@"; }
ns= nsexec=()
if [ "$scenario" = 6 ] || [ "$scenario" = 7 ]; then
  ns=vsbovs$$
  ip netns add "$ns"
  nsexec=(ip netns exec "$ns")
fi
cleanup() {
  for f in ovs-vswitchd.pid ovsdb-server.pid; do
    [ -f "$rundir/$f" ] && kill "$(cat "$rundir/$f")" 2>/dev/null || true
  done
  sleep 0.5
  [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
  [ -n "${VSW_KEEP:-}" ] || rm -rf "$rundir"
  rmdir "/var/run/dpdk/vessel-ovsgen-$$" 2>/dev/null || true
}
trap cleanup EXIT

ovsdb-tool create "$rundir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server "$rundir/conf.db" --remote="punix:$rundir/db.sock" --pidfile="$rundir/ovsdb-server.pid" \
  --log-file="$rundir/ovsdb-server.log" --unixctl="$rundir/ovsdb-server.ctl" --detach
vsctl --no-wait init
cpu0=$(taskset -pc $$ | sed 's/.*: //; s/[,-].*//')
cpus=$(taskset -pc $$ | sed 's/.*: //')
cpu1=$(/usr/bin/python3 -c '
import sys
cpus = []
for part in sys.argv[1].split(","):
    a, _, b = part.partition("-")
    cpus += range(int(a), int(b or a) + 1)
print(cpus[1] if len(cpus) > 1 else cpus[0])' "$cpus")
vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
  "other_config:dpdk-lcore-mask=$(printf '0x%x' $((1 << cpu0)))" \
  "other_config:pmd-cpu-mask=$(printf '0x%x' $((1 << cpu1)))" \
  "other_config:dpdk-extra=--in-memory --no-pci --no-telemetry"
"${nsexec[@]}" "$ovs_bin" "$db" --pidfile="$rundir/ovs-vswitchd.pid" --log-file="$rundir/ovs-vswitchd.log" \
  --unixctl="$rundir/ovs-vswitchd.ctl" --detach -vconsole:off
appctl() { ovs-appctl -t "$rundir/ovs-vswitchd.ctl" "$@"; }
vhost_port() {   # BRIDGE NAME: a vhost-user client port on the generator's socket
  vsctl add-port "$1" "$2" -- set Interface "$2" type=dpdkvhostuserclient \
    "options:vhost-server-path=$rundir/$2.sock"
}
tx=g0 rx=g1 vlan=-1 rx_vlan=-1 gen_vxlan=()
if [ -n "$ns" ]; then
  vsctl add-br br-int -- set bridge br-int datapath_type=netdev
  vsctl add-br br-phy -- set bridge br-phy datapath_type=netdev \
    other-config:hwaddr=02:00:00:ee:00:01
  vhost_port br-int t0
  vhost_port br-phy ul
  "${nsexec[@]}" ip addr add 192.168.0.1/16 dev br-phy
  "${nsexec[@]}" ip link set br-phy up
  for t in $(seq 0 $((flows - 1))); do
    ip="192.168.$(((10 + t) / 256)).$(((10 + t) % 256))"
    vsctl add-port br-int "vx$t" -- set Interface "vx$t" type=vxlan \
      "options:remote_ip=$ip" options:local_ip=192.168.0.1 options:key=100
    appctl tnl/arp/set br-phy "$ip" "$(printf '02:00:00:dd:%02x:%02x' $((t >> 8)) $((t & 255)))" >/dev/null
  done
  if [ "$scenario" = 6 ]; then tx=t0 rx=ul gen_vxlan=(--vxlan encap); else tx=ul rx=t0 gen_vxlan=(--vxlan decap); fi
  gen_vxlan+=(--vtep 192.168.0.1 --tunnels "$flows")
else
  vsctl add-br br0 -- set bridge br0 datapath_type=netdev
  vhost_port br0 g0
  vhost_port br0 g1
fi
case "$scenario" in
  1) vsctl set port g0 tag=10 -- set port g1 tag=10 ;;
  4) vsctl set port g0 tag=10 -- set port g1 trunks=10
     if [ "${VSW_DIR:-push}" = pop ]; then tx=g1 rx=g0 vlan=10; else rx_vlan=10; fi ;;
  2|3)
    g0=$(vsctl get Interface g0 ofport) g1=$(vsctl get Interface g1 ofport)
    total=$([ "$scenario" = 3 ] && echo 100000 || echo $((flows + 11)))
    # The rules run.sh gives Vessel, in the same order.
    /usr/bin/python3 "$repo/bench/vswitch/vsw_rules.py" "$g0" "$g1" "$flows" "$total" > "$rundir/flows.txt"
    vsctl set-fail-mode br0 secure
    ovs-ofctl del-flows br0
    t0=$(date +%s.%N)
    ovs-ofctl -O OpenFlow13 add-flows br0 "$rundir/flows.txt"
    t1=$(date +%s.%N)
    echo "$t0 $t1" > "$rundir/install_s" ;;
esac
appctl dpif-netdev/pmd-stats-clear >/dev/null
load=$(cut -d' ' -f1-3 /proc/loadavg)
gen=$("$out/vsw_gen" -l "$cpu0" --no-pci --in-memory --single-file-segments \
        --file-prefix "vessel-ovsgen-$$" --log-level=warning -- \
        --tx "$rundir/$tx.sock" --rx "$rundir/$rx.sock" --seconds "$seconds" --warmup 1 \
        --flows "$flows" --vlan "$vlan" --rx-vlan "$rx_vlan" --rate "${VSW_RATE:-0}" \
        --ready "$rundir/ready" --scenario "$scenario" "${gen_vxlan[@]}" | tail -1)
stats=$(appctl dpif-netdev/pmd-stats-show)
nflows=$(ovs-ofctl dump-aggregate "$([ -n "$ns" ] && echo br-int || echo br0)" | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p')
printf '%s' "$gen" | /usr/bin/python3 -c '
import json, re, sys
r = json.loads(sys.stdin.read())
stats, load, scenario, nflows = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
stats = stats[stats.find("pmd thread"):]        # not the main thread block
def num(label):
    m = re.search(re.escape(label) + r":\s*([0-9.]+)", stats)
    return float(m.group(1)) if m else 0.0
r.update(bench="ovs_dpdk", scenario=scenario, switch="ovs-dpdk " + sys.argv[5],
         pmd_cycles_per_packet=round(num("avg processing cycles per packet")),
         pmd_busy_pct=num("processing cycles") and round(100 * num("processing cycles") /
             max(1.0, num("idle cycles") + num("processing cycles")), 1),
         emc_hits=int(num("emc hits")), megaflow_hits=int(num("megaflow hits")),
         openflow_rules=int(nflows or 0), load_avg=load)
print(json.dumps(r))' "$stats" "$load" "$scenario" "$nflows" "$(ovs-vswitchd --version | head -1 | awk '{print $NF}')"
