#!/usr/bin/env bash
# bench/vswitch/run.sh [BUILD_DIR] [SECONDS] [FLOWS] [SCENARIO] — the scenarios
# of issue 3, 64-byte frames between two vhost-user ports:
#   1 (default): L2 learning (NORMAL), FLOWS source MACs, both ports on access
#      VLAN 10;
#   2: fail_mode=secure, FLOWS exact 5-tuple rules (one per generator flow:
#      UDP 10.0.0.1:1024+i -> 10.0.0.2:9) plus 10 wildcard rules of other
#      masks, each output to the receiving port (FLOWS defaults to 1000);
#   3: as 2 with 100,000 rules: the FLOWS the traffic uses among 99,989
#      exact 5-tuple rules, plus the 11 others;
#   4: access to trunk (NORMAL): the sender on access VLAN 10, the receiver a
#      trunk carrying VLAN 10, so every frame gets its tag pushed (VSW_DIR=pop:
#      the trunk sends tagged frames, the access port receives them popped);
#   5: flow installs per second while forwarding: scenario 2's rules and
#      traffic at VSW_RATE packets/s (default 1,000,000), and meanwhile
#      100,000 other flows installed (batches of 5,000, one commit each) and
#      deleted (bench/vswitch/vsw_flows.py churn); reports installs/s and the
#      traffic's loss;
#   6: VXLAN encap: a vhost-user tenant port (VNI 100) -> vxlan port ->
#      underlay (a `dpdk` port on net_vhost, driven by the generator's second
#      virtio_user device); FLOWS = remote VTEPs (tunnels, default 1), each
#      with a static neighbour and one tenant MAC learned behind it;
#   7: VXLAN decap: underlay -> tenant, VXLAN datagrams from FLOWS remote
#      VTEPs (default 1).
#   Scenarios 6 and 7 offer 64-byte inner frames (114 bytes on the underlay).
#
# Builds the generator (vsw_gen.c) into BUILD_DIR/bench/vswitch, starts
# vswitchd (PMD on the second CPU, pure polling) with two vhost-user ports in
# client mode, and runs the generator (virtio_user, the vhost-user servers) on
# the first CPU. Prints one JSON line: the generator's counts plus the PMD's
# processing cycles per packet (busy cycles / packets, as OVS's
# pmd-stats-show), the cache hit rates, the machine's load average, date and
# commit. VSW_RATE=PPS offers a fixed rate in any scenario (compare cycles per
# packet only at the same offered load); VSW_PERF=FILE records a cpu-clock
# profile of the PMD thread; VSW_KEEP=1 keeps the run directory (vswitchd.log)
# for a look afterwards. Needs root and hugepages. Not part of `make test`.
#
# OVS-DPDK: when Debian's openvswitch-switch-dpdk is installed, every scenario
# but 5 then runs against OVS-DPDK in the same invocation (bench/vswitch/ovs.sh: the
# same generator, frames, rules and CPUs) and the line carries its figures
# ("ovs_dpdk") and the ratios ("vessel_over_ovs"); VSW_OVS=0 skips it.
#
# Floor: scenarios 1-4 also run bench/vswitch/floor.sh (testpmd io forwarding
# between the same two vhost-user sockets: the two vhost copies and nothing
# else) and report "floor" and "own_cycles_per_packet" = cycles - floor, for
# Vessel and for OVS-DPDK: the part of the cost that is the switch's own, and
# the part that is less noisy on a shared machine. VSW_FLOOR=0 skips it.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-5}
scenario=${4:-1}
case "$scenario" in
  1|4|6|7) def_flows=1 ;;
  2|3|5) def_flows=1000 ;;
  *) echo "run.sh: SCENARIO must be 1-7, not '$scenario'" >&2; exit 2 ;;
esac
flows=${3:-$def_flows}   # distinct flows offered
rate=${VSW_RATE:-0}
[ "$scenario" = 5 ] && rate=${VSW_RATE:-1000000}
[ "$scenario" = 5 ] && [ "$seconds" -lt 12 ] && seconds=12
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
  [ -n "${VSW_KEEP:-}" ] || rm -rf "$rundir"
  # The generator's (empty) EAL runtime directory, named after this script.
  rmdir "/var/run/dpdk/vessel-vswgen-$$" 2>/dev/null || true
}
trap cleanup EXIT
"$build/bin/vswitchd" --log-file "$rundir/vswitchd.log" -v dpdk:warn &
for _ in $(seq 200); do [ -S "$rundir/vswitchd.sock" ] && break; sleep 0.05; done
ctl set-bridge pmd_sleep_max_us=0 >/dev/null
ofport() {
  ctl --json show | /usr/bin/python3 -c 'import json,sys; print([p["ofport"] for p in json.load(sys.stdin)["ports"] if p["name"]==sys.argv[1]][0])' "$1"
}
tx=g0 rx=g1 vlan=-1 rx_vlan=-1
gen_vxlan=()
install='{"flows": 0, "installs_per_s": 0}'
if [ "$scenario" = 6 ] || [ "$scenario" = 7 ]; then
  if [ "$flows" -lt 1 ] || [ "$flows" -gt 128 ]; then
    echo "run.sh: scenarios 6 and 7 take 1-128 tunnels (remote VTEPs per VNI), not $flows" >&2
    exit 2
  fi
  ctl add-port t0 type=vhost-user path="$rundir/t0.sock" vni=100 >/dev/null
  ctl add-port ul type=dpdk devargs="net_vhost_ul,iface=$rundir/ul.sock,queues=1,client=1" >/dev/null
  ctl add-port vx0 type=vxlan local_ip=192.168.0.1 underlay=ul >/dev/null
  # Remote t is 192.168.0.10+t (as the generator numbers them), outer MAC
  # 02:00:00:dd:t.
  for t in $(seq 0 $((flows - 1))); do
    ip="192.168.$(((10 + t) / 256)).$(((10 + t) % 256))"
    ctl vtep-add-remote 100 "$ip" >/dev/null
    ctl vtep-add-neighbor "$ip" "$(printf '02:00:00:dd:%02x:%02x' $((t >> 8)) $((t & 255)))" >/dev/null
  done
  if [ "$scenario" = 6 ]; then
    tx=t0 rx=ul
    gen_vxlan=(--vxlan encap)
  else
    tx=ul rx=t0
    gen_vxlan=(--vxlan decap)
  fi
  gen_vxlan+=(--vtep 192.168.0.1 --tunnels "$flows")
elif [ "$scenario" = 4 ]; then
  ctl add-port g0 type=vhost-user path="$rundir/g0.sock" tag=10 >/dev/null
  ctl add-port g1 type=vhost-user path="$rundir/g1.sock" trunks=10 >/dev/null
  if [ "${VSW_DIR:-push}" = pop ]; then
    tx=g1 rx=g0 vlan=10
  else
    rx_vlan=10
  fi
else
  ctl add-port g0 type=vhost-user path="$rundir/g0.sock" tag=10 >/dev/null
  ctl add-port g1 type=vhost-user path="$rundir/g1.sock" tag=10 >/dev/null
fi
if [ "$scenario" = 2 ] || [ "$scenario" = 3 ] || [ "$scenario" = 5 ]; then
  total=$([ "$scenario" = 3 ] && echo 100000 || echo $((flows + 11)))
  /usr/bin/python3 "$repo/bench/vswitch/vsw_rules.py" "$(ofport g0)" "$(ofport g1)" "$flows" "$total" \
    > "$rundir/flows.txt"
  ctl set-bridge fail_mode=secure >/dev/null
  install=$(/usr/bin/python3 "$repo/bench/vswitch/vsw_flows.py" "$rundir/vswitchd.sock" add \
              "$rundir/flows.txt" --pid "$(cat "$rundir/vswitchd.pid")")
fi
ctl pmd-stats clear=true >/dev/null
# VSW_PERF=FILE: sample the PMD thread (perf record -e cpu-clock: this VM has no
# hardware counters) while the generator runs; `perf report -i FILE` reads it.
if [ -n "${VSW_PERF:-}" ] && command -v perf >/dev/null; then
  pmd_tid=$(ps -L -o tid=,comm= -p "$(cat "$rundir/vswitchd.pid")" | awk '$2 ~ /worker/ {print $1; exit}')
  ( sleep 1.5; exec perf record -q -e cpu-clock -g -t "$pmd_tid" -o "$VSW_PERF" -- sleep "$((seconds > 2 ? seconds - 1 : 1))" ) >/dev/null 2>&1 &
fi
churn_out=$rundir/churn.json
if [ "$scenario" = 5 ]; then
  # Rules change under load: once the measured interval starts, install and
  # delete 100,000 flows the traffic does not match.
  ( for _ in $(seq 600); do [ -e "$rundir/ready" ] && break; sleep 0.05; done
    sleep 1
    /usr/bin/python3 "$repo/bench/vswitch/vsw_flows.py" "$rundir/vswitchd.sock" churn \
      --count 100000 --batch 5000 --pid "$(cat "$rundir/vswitchd.pid")" > "$churn_out" ) &
  churn_pid=$!
fi
load=$(cut -d' ' -f1-3 /proc/loadavg)
cpu0=$(taskset -pc $$ | sed 's/.*: //; s/[,-].*//')
gen=$("$out/vsw_gen" -l "$cpu0" --no-pci --in-memory --single-file-segments \
        --file-prefix "vessel-vswgen-$$" --log-level=warning -- \
        --tx "$rundir/$tx.sock" --rx "$rundir/$rx.sock" --seconds "$seconds" --warmup 1 \
        --flows "$flows" --vlan "$vlan" --rx-vlan "$rx_vlan" --rate "$rate" \
        --ready "$rundir/ready" --scenario "$scenario" "${gen_vxlan[@]}" | tail -1)
[ "$scenario" = 5 ] && wait "$churn_pid"
pmd=$(ctl --json pmd-stats)
ports=$(ctl --json dump-ports)
vtep='{}'
{ [ "$scenario" = 6 ] || [ "$scenario" = 7 ]; } && vtep=$(ctl --json vtep-show)
ovs=$([ -x /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk ] && echo installed || echo absent)
line=$(printf '%s' "$gen" | /usr/bin/python3 -c '
import json, sys, socket, time
r = json.loads(sys.stdin.read())
pmd = json.loads(sys.argv[1])
ports = json.loads(sys.argv[2])
scenario = int(sys.argv[4])
p = pmd[0] if pmd else {}
names = {1: "vswitch_l2", 2: "vswitch_flows", 3: "vswitch_flows_100k", 4: "vswitch_vlan_push_pop",
         5: "vswitch_flow_installs", 6: "vxlan_encap", 7: "vxlan_decap"}
r.update(bench=names[scenario], scenario=scenario,
         pmd_cycles_per_packet=p.get("cycles_per_packet", 0),
         pmd_busy_pct=round(p.get("busy_pct", 0), 1),
         pmd_cycles_per_packet_median=p.get("cycles_per_packet_median", 0),
         pmd_cycles_per_packet_p10=p.get("cycles_per_packet_p10", 0),
         packets_per_busy_iteration=round(p.get("packets_per_busy_iteration", 0), 1),
         stage_cycles_per_packet={k: round(v) for k, v in p.get("stage_cycles_per_packet", {}).items()},
         emc_hit_pct=round(p.get("emc_hit_pct", 0), 1),
         megaflow_hit_pct=round(p.get("megaflow_hit_pct", 0), 1),
         classifier_lookups=p.get("cls_lookups", 0),
         switch_drops=sum(q["drops_total"] for q in ports),
         switch_drops_by_reason={"%s.%s" % (q["name"], k): v for q in ports
                                 for k, v in q.get("drops", {}).items() if v},
         load_avg=sys.argv[3], machine=socket.gethostname(),
         date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), commit=sys.argv[5],
         ovs_dpdk=sys.argv[6])
if scenario == 4:
    r["direction"] = sys.argv[7]
if scenario in (2, 3, 5):
    r["rules"] = json.loads(sys.argv[8])["flows"]
    r["rules_install_per_s"] = json.loads(sys.argv[8])["installs_per_s"]
    r["rules_install_per_control_cpu_s"] = json.loads(sys.argv[8]).get("installs_per_cpu_s", 0)
if scenario == 5:
    c = json.loads(open(sys.argv[9]).read())
    r.update(churn_flows=c["flows"], installs_per_s=c["installs_per_s"],
             installs_per_control_cpu_s=c.get("installs_per_cpu_s", 0),
             install_seconds=c["seconds"], commits=c["commits"], deleted=c["deleted"],
             delete_seconds=c["delete_seconds"])
if scenario in (6, 7):
    # The VTEP counters count from the start (learning frames and warm-up
    # included): they show the traffic really went through the tunnels, and
    # through how many of them.
    v = json.loads(sys.argv[10])
    t = v["vteps"][0]
    d = "tx" if scenario == 6 else "rx"
    if scenario == 7:
        # Underlay bursts: decap parses as it goes, so parsing counts in
        # "pipeline" (decap, learning, bridge).
        r["stage_cycles_per_packet"].pop("parse", None)
    r.update(vtep_encap_packets=t["encap_packets"], vtep_decap_packets=t["decap_packets"],
             vtep_flood_copies=t["flood_copies"],
             vtep_drops={k: n for k, n in t["drops"].items() if n},
             remotes_used=sum(1 for q in v["remotes"] if q["remote"] != "other" and q[d + "_packets"]))
print(json.dumps(r))' "$pmd" "$ports" "$load" "$scenario" "$commit" "$ovs" "${VSW_DIR:-push}" \
  "$install" "$churn_out" "$vtep")
pid=$(cat "$rundir/vswitchd.pid")
kill "$pid" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
# The floor (bench/vswitch/floor.sh: testpmd forwarding between two vhost-user
# ports, the two copies and nothing else), once vswitchd has stopped polling,
# for the vhost-to-vhost scenarios: "own_cycles_per_packet" is Vessel's cycles
# minus the floor's, the switch's own work. VSW_FLOOR=0 skips it.
f=none o=none
if [ "${VSW_FLOOR:-1}" != 0 ] && command -v dpdk-testpmd >/dev/null && [ "$scenario" -le 4 ]; then
  f=$(bash "$repo/bench/vswitch/floor.sh" "$build" "$seconds" "$flows" 2>/dev/null | tail -1 || true)
fi
# OVS-DPDK side by side (bench/vswitch/ovs.sh): the same generator, frames,
# rules and CPUs; the ratios are Vessel / OVS.
if [ "$ovs" = installed ] && [ "${VSW_OVS:-1}" != 0 ] && [ "$scenario" != 5 ]; then
  o=$(bash "$repo/bench/vswitch/ovs.sh" "$build" "$seconds" "$flows" "$scenario" 2>/dev/null | tail -1 || true)
fi
line=$(/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])

def other(arg, script):
    """The JSON line of floor.sh or ovs.sh; None when it did not run."""
    if arg == "none":
        return None
    try:
        return json.loads(arg)
    except ValueError:
        return "failed (run bench/vswitch/%s alone to see why)" % script

f, o = other(sys.argv[2], "floor.sh"), other(sys.argv[3], "ovs.sh")
fc = f.get("pmd_cycles_per_packet") if isinstance(f, dict) else None
if f is not None:
    r["floor"] = f
    if fc:
        r["own_cycles_per_packet"] = r["pmd_cycles_per_packet"] - fc
if isinstance(o, dict):
    ratio = lambda a, b: round(a / b, 2) if b else None
    r["ovs_dpdk"] = {k: o.get(k) for k in ("switch", "rx_mpps", "loss_pct", "pmd_cycles_per_packet",
                                           "pmd_busy_pct", "load_avg")}
    r["vessel_over_ovs"] = {"rx_mpps": ratio(r["rx_mpps"], o.get("rx_mpps", 0)),
                            "pmd_cycles_per_packet": ratio(r["pmd_cycles_per_packet"],
                                                           o.get("pmd_cycles_per_packet", 0))}
    if fc and o.get("pmd_cycles_per_packet"):
        r["ovs_dpdk"]["own_cycles_per_packet"] = o["pmd_cycles_per_packet"] - fc
elif o is not None:
    r["ovs_dpdk"] = o
print(json.dumps(r))' "$line" "$f" "$o")
printf '%s\n' "$line"
