#!/usr/bin/env bash
# vessel-demo — the Vessel appliance end to end on this machine (make demo).
#   configs/demo/vessel-demo.sh [BUILD_DIR]     KEEP=1: leave it running
#
# Starts vswitchd and blockd, builds storage (a RAID1 of two sparse files, a
# volume group on it, a thin pool and three thin volumes), and three guests
# under QEMU managed by vmm: A and B on tenant VLAN 100, C on VLAN 200. Shows
# that A and B reach each other and C reaches neither, that each guest's disk
# keeps what it wrote across a reboot, the switch's counters and the volumes'
# usage, then tears everything down (unless KEEP=1).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-build}
build=$(cd "$build" && pwd)
bin="$build/bin"
keep=${KEEP:-0}
py=/usr/bin/python3
export VESSEL_RUNDIR=${VESSEL_RUNDIR:-$(mktemp -d /tmp/vessel-demo-XXXXXX)}
export VESSEL_VMM_DEFS="$VESSEL_RUNDIR/vm-definitions"
run=$VESSEL_RUNDIR
t_start=$(date +%s)

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
step() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
ok()   { printf '\033[1;32m  ✔ %s\033[0m\n' "$*"; }
fail() { printf '\033[1;31m  ✘ %s\033[0m\n' "$*"; exit 1; }
vmm()  { "$bin/vmm" "$@"; }
vsctl() { "$bin/vswitchctl" "$@"; }
bctl() { "$bin/blockctl" "$@"; }

cleanup() {
  local rc=$?
  [ "$keep" = 1 ] && [ $rc -eq 0 ] && return 0
  for vm in a b c; do vmm stop --force "$vm" >/dev/null 2>&1 || true; done
  for d in vswitchd blockd; do
    pid=$(cat "$run/$d.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    echo "demo: failed; logs kept in $run" >&2
  fi
}
trap cleanup EXIT

wait_sock() {
  for _ in $(seq 400); do [ -S "$1" ] && return 0; sleep 0.05; done
  fail "$1 did not appear"
}

# wait_console VM REGEX [TIMEOUT] -> prints the first matching line
wait_console() {
  local vm=$1 re=$2 t=${3:-120} line
  for _ in $(seq $((t * 4))); do
    line=$(vmm console "$vm" | tr -d '\r' | grep -E -m1 "$re" || true)
    if [ -n "$line" ]; then echo "$line"; return 0; fi
    sleep 0.25
  done
  vmm console "$vm" | tail -20 >&2
  fail "guest $vm: no line matching '$re' within ${t}s"
}

step "1. Environment: hugepages for DPDK, stale files of dead Vessel processes"
if [ "$(id -u)" -ne 0 ]; then fail "the demo needs root (DPDK, hugepages)"; fi
show "$bin/vessel-dpdk-env"

step "2. Starting vswitchd (DPDK vSwitch) and blockd (block layer) in $run"
"$bin/vswitchd" --log-file "$run/vswitchd.log" &
"$bin/blockd" --log-file "$run/blockd.log" &
wait_sock "$run/vswitchd.sock"
wait_sock "$run/blockd.sock"
show vsctl version
show bctl version

step "3. The test guest: Debian's kernel + a busybox initramfs (built once, cached)"
show bash "$repo/tests/guest/build-guest.sh" "$build"
kernel="$build/guest/vmlinux"
[ -f "$kernel" ] || kernel="$build/guest/vmlinuz"
# Each guest runs configs/demo/guest.sh (appended to the initramfs as /test.sh).
(cd "$repo" && "$py" -c "
import sys; sys.path.insert(0, 'tests/guest'); import guest
guest.make_initrd_with_script('$build/guest/initramfs.cpio.gz', open('$here/guest.sh').read(), '$run/demo-initrd.img')")
ok "kernel $(cat "$build/guest/kernel-release"), initramfs with the demo script: $run/demo-initrd.img"

step "4. Storage: RAID1 of two sparse files -> volume group -> thin pool -> 3 thin volumes"
truncate -s 256M "$run/disk0.img" "$run/disk1.img"
show bctl bdev-create file d0 path="$run/disk0.img"
show bctl bdev-create file d1 path="$run/disk1.img"
# Both members are sparse (all zeroes), so they already agree: no initial resync.
show bctl raid-create r1 level=1 members=d0,d1 assume_clean=true >/dev/null
show bctl vgcreate vg0 r1 >/dev/null
if bctl lvcreate --thinpool pool -L 192M vg0 >/dev/null 2>&1; then
  echo "\$ blockctl lvcreate --thinpool pool -L 192M vg0"
  for vm in a b c; do show bctl lvcreate -V 64M --thin vg0/pool -n "$vm" >/dev/null; done
  thin="thin volumes in pool vg0/pool"
else
  echo "(this blockd has no thin pools: using linear LVs)"
  for vm in a b c; do show bctl lvcreate -L 32M -n "$vm" vg0 >/dev/null; done
  thin="linear LVs"
fi
show bctl lvs vg0

# Can blockd export a disk over vhost-user-blk (QEMU's vhost-user-blk-pci)?
disks=1
bctl bdev-create malloc probe0 size=1M >/dev/null
if bctl export-add probe0 vhost-user-blk socket="$run/probe0.sock" >/dev/null 2>&1; then
  bctl export-remove probe0 >/dev/null
else
  disks=0
  echo "(this blockd cannot export vhost-user-blk yet: the guests run without disks)"
fi
bctl bdev-delete probe0 >/dev/null

step "5. Three VMs: A and B on tenant VLAN 100, C on VLAN 200 (same IP subnet!)"
define_vm() { # NAME IP VLAN PING NOPING
  local name=$1 ip=$2 vlan=$3 ping=$4 noping=$5 disk_json="" cmd
  cmd="console=ttyS0 loglevel=4 vessel.ip=$ip/24"
  [ -n "$ping" ] && cmd+=" vessel.ping=$ping"
  [ -n "$noping" ] && cmd+=" vessel.noping=$noping"
  if [ "$disks" = 1 ]; then
    cmd+=" vessel.disk=/dev/vda"
    disk_json="{\"volume\": \"vg0/$name\"}"
  fi
  cat >"$run/$name.json" <<EOF
{
  "name": "$name", "vcpus": 1, "memory": "128M", "accel": "auto",
  "kernel": "$kernel", "initrd": "$run/demo-initrd.img",
  "cmdline": "$cmd",
  "nics": [{"port": "$name-eth0", "vlan": $vlan}],
  "disks": [$disk_json]
}
EOF
  show vmm define "$run/$name.json"
}
define_vm a 10.0.100.1 100 10.0.100.2 ""
define_vm b 10.0.100.2 100 10.0.100.1 ""
define_vm c 10.0.100.3 200 "" 10.0.100.1,10.0.100.2
echo; cat "$run/a.json"

step "6. Starting A and B (vmm creates their switch ports and disk exports)"
echo "(the first start probes KVM once: this machine's KVM cannot run a Linux guest, so vmm picks TCG)"
show vmm start a
show vmm start b
show vmm list
show vsctl show

step "7. A pings B (VLAN 100)"
wait_console a '^DEMO-PING 10.0.100.2 ' 150 | grep -q ' ok' && ok "A (10.0.100.1) -> B (10.0.100.2): reachable" || fail "A cannot reach B"
wait_console b '^DEMO-PING 10.0.100.1 ' 150 | grep -q ' ok' && ok "B (10.0.100.2) -> A (10.0.100.1): reachable" || fail "B cannot reach A"

step "8. C (VLAN 200) tries to reach A and B"
show vmm start c
for peer in 10.0.100.1 10.0.100.2; do
  line=$(wait_console c "^DEMO-NOPING $peer " 150)
  case "$line" in
    *unreachable) ok "C (10.0.100.3, VLAN 200) -> $peer: unreachable, as it must be" ;;
    *) fail "C reached $peer across VLANs: $line" ;;
  esac
done

if [ "$disks" = 1 ]; then
  step "9. Disks: each guest wrote a record to its volume; reboot and read it back"
  for vm in a b c; do
    echo "  $vm: $(wait_console "$vm" '^DEMO-DISK wrote' 120 | cut -d' ' -f2-)"
  done
  for vm in a b c; do show vmm reboot "$vm"; done
  for vm in a b c; do
    line=$(wait_console "$vm" '^DEMO-DISK read' 150)
    ok "$vm after reboot: ${line#DEMO-DISK }"
  done
  show vmm status a
else
  step "9. Disks: skipped (no vhost-user-blk export in this blockd)"
fi

step "10. Counters: switch ports, learned MACs, flow tables; volume usage"
vsctl -j dump-ports | "$py" -c '
import json, sys
print("  %-8s %5s %10s %10s %10s %8s" % ("port", "vlan", "rx_pkts", "tx_pkts", "flooded", "drops"))
for p in json.load(sys.stdin):
    print("  %-8s %5s %10d %10d %10d %8d" % (p["name"], p.get("tag", "-"), p["rx_packets"],
          p["tx_packets"], p["flood_packets"], p["drops_total"]))'
show vsctl fdb-show
show vsctl dump-tables | head -20 || true
show bctl lvs vg0
show bctl raid-status r1 | head -20 || true

elapsed=$(( $(date +%s) - t_start ))
if [ "$keep" = 1 ]; then
  step "Left running (KEEP=1), ${elapsed}s so far. Explore:"
  cat <<EOF
  export VESSEL_RUNDIR=$run VESSEL_VMM_DEFS=$VESSEL_VMM_DEFS
  $bin/vmm list                        # the three VMs
  $bin/vmm status a                    # state, uptime, QEMU pid, port counters, disk
  $bin/vmm console c --follow          # C's serial console (Ctrl-C to leave)
  $bin/vmm pause b; $bin/vmm resume b
  $bin/vswitchctl show                 # ports and VLANs;  dump-ports, fdb-show
  $bin/blockctl lvs vg0                # thin pool and volume usage; raid-status r1
Stop it all:
  for vm in a b c; do $bin/vmm stop --force \$vm; done
  $bin/vswitchctl shutdown; $bin/blockctl shutdown; rm -rf $run
EOF
  exit 0
fi

step "11. Teardown: stop the VMs (ports and exports released), stop the daemons"
for vm in a b c; do show vmm stop --force "$vm"; done
[ "$(vsctl -j dump-ports)" = "[ ]" ] || [ "$(vsctl -j dump-ports | tr -d ' \n')" = "[]" ] \
  && ok "no switch ports left" || fail "switch ports left behind"
[ "$(bctl -j export-list | tr -d ' \n')" = "[]" ] && ok "no disk exports left" || fail "exports left behind"
for vm in a b c; do vmm undefine "$vm" >/dev/null; done
show vsctl shutdown
show bctl shutdown
wait
rm -rf "$run"
bold ""
bold "demo: done in $(( $(date +%s) - t_start ))s"
