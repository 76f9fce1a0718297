#!/usr/bin/env bash
# vessel-demo — runs the Vessel appliance end to end on this machine.
#   configs/demo/vessel-demo.sh [BUILD_DIR]      (make demo)
#
# Today: prepares DPDK's environment, starts vswitchd and blockd in a private
# run directory, shows both answering over JSON-RPC through their CLIs, serves
# a file bdev over NBD to qemu-io, qemu-img and nbdinfo, saves the
# configuration, and stops both cleanly. Each capability Vessel
# gains is added here.
set -euo pipefail
build=${1:-build}
bin=$(cd "$build/bin" && pwd)
export VESSEL_RUNDIR=${VESSEL_RUNDIR:-$(mktemp -d /tmp/vessel-demo-XXXXXX)}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
  for d in vswitchd blockd; do
    pid=$(cat "$VESSEL_RUNDIR/$d.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

wait_sock() {
  for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done
  echo "demo: $1 did not appear" >&2; return 1
}

step "Preparing DPDK (hugepages, stale files of dead Vessel processes)"
if [ "$(id -u)" -eq 0 ]; then show "$bin/vessel-dpdk-env"; else echo "(not root: vswitchd will use --no-huge)"; fi

step "Starting vswitchd and blockd (run directory $VESSEL_RUNDIR)"
"$bin/vswitchd" --log-file "$VESSEL_RUNDIR/vswitchd.log" &
"$bin/blockd" --log-file "$VESSEL_RUNDIR/blockd.log" &
wait_sock "$VESSEL_RUNDIR/vswitchd.sock"
wait_sock "$VESSEL_RUNDIR/blockd.sock"

step "Both daemons answer over JSON-RPC"
show "$bin/vswitchctl" version
show "$bin/blockctl" version
show "$bin/blockctl" methods

step "Storage: a RAM bdev and a file bdev on io_uring, exported over NBD"
truncate -s 64M "$VESSEL_RUNDIR/disk0.img"
show "$bin/blockctl" bdev-create malloc ram0 size=64M
show "$bin/blockctl" bdev-create file disk0 path="$VESSEL_RUNDIR/disk0.img"
show "$bin/blockctl" export-add disk0 nbd socket="$VESSEL_RUNDIR/disk0.nbd"
uri="nbd+unix:///disk0?socket=$VESSEL_RUNDIR/disk0.nbd"
show nbdinfo "$uri"
show qemu-io -f raw "$uri" -c 'write -P 0xab 0 1M' -c 'read -P 0xab 0 1M' -c 'write -z 1M 1M'
show qemu-img compare -f raw -F raw "$uri" "$VESSEL_RUNDIR/disk0.img"
show "$bin/blockctl" bdev-list
show "$bin/blockctl" stats disk0

step "Configuration is a replayable list of RPC calls"
show "$bin/vswitchctl" save-config "$VESSEL_RUNDIR/vswitchd.json"
show cat "$VESSEL_RUNDIR/vswitchd.json"
show "$bin/blockctl" save-config "$VESSEL_RUNDIR/blockd.json"
show cat "$VESSEL_RUNDIR/blockd.json"

step "Stopping cleanly (shutdown over RPC, SIGTERM)"
show "$bin/vswitchctl" shutdown
kill -TERM "$(cat "$VESSEL_RUNDIR/blockd.pid")"
wait
ls "$VESSEL_RUNDIR"/*.sock "$VESSEL_RUNDIR"/*.pid 2>/dev/null && { echo "demo: files left behind" >&2; exit 1; }
echo "sockets and pid files removed"

step "Daemon logs"
cat "$VESSEL_RUNDIR/vswitchd.log" "$VESSEL_RUNDIR/blockd.log"
rm -rf "$VESSEL_RUNDIR"
echo; echo "demo: done"
