#!/bin/sh
# guest.sh — what each demo guest runs (appended to the test guest's initramfs
# as /test.sh; tests/guest/init runs it after loading the virtio drivers).
# Used by configs/demo/vessel-demo.sh and tests/system/test_vmm.py.
#
# Parameters come from the kernel command line (vmm's "cmdline"):
#   vessel.ip=10.0.100.1/24        address of eth0
#   vessel.ping=IP[,IP...]         peers that must answer (retried up to 60 s)
#   vessel.noping=IP[,IP...]       peers that must NOT answer (tried for 10 s)
#   vessel.disk=/dev/vda           a disk to write a record to, or read it back
#                                  from after a reboot
# Output lines the host looks for (one per fact, machine-readable):
#   DEMO-PING <ip> ok|FAIL  DEMO-NOPING <ip> unreachable|REACHED
#   DEMO-DISK wrote <text>  DEMO-DISK read <text>  DEMO-READY
# The guest then stays up (the host stops it with vmm stop).

arg() { # NAME -> value of vessel.NAME= on the kernel command line
    for w in $(cat /proc/cmdline); do
        case "$w" in "vessel.$1="*) echo "${w#*=}"; return;; esac
    done
}

ip_addr=$(arg ip)
if [ -n "$ip_addr" ]; then
    ip addr add "$ip_addr" dev eth0 && ip link set eth0 up
    echo "DEMO-IP eth0 $ip_addr $(cat /sys/class/net/eth0/address)"
fi

disk=$(arg disk)
if [ -n "$disk" ]; then
    if [ ! -b "$disk" ]; then
        echo "DEMO-DISK missing $disk"
    else
        # One 512-byte record at the start of the disk: a raw "file" that
        # needs no file system driver in the guest.
        rec=$(dd if="$disk" bs=512 count=1 2>/dev/null | tr -d '\000' | head -n 1)
        case "$rec" in
        VESSEL-RECORD*)
            echo "DEMO-DISK read $rec"
            ;;
        *)
            rec="VESSEL-RECORD from $(hostname)-$ip_addr boot-id $(cat /proc/sys/kernel/random/boot_id)"
            printf '%s\n' "$rec" | dd of="$disk" bs=512 count=1 conv=sync,fsync 2>/dev/null
            sync
            echo "DEMO-DISK wrote $rec"
            ;;
        esac
    fi
fi

for peer in $(arg ping | tr ',' ' '); do
    ok=FAIL
    i=0
    while [ $i -lt 60 ]; do
        if ping -c 1 -W 1 "$peer" >/dev/null 2>&1; then ok=ok; break; fi
        i=$((i + 1))
    done
    echo "DEMO-PING $peer $ok"
done
for peer in $(arg noping | tr ',' ' '); do
    res=unreachable
    i=0
    while [ $i -lt 10 ]; do
        if ping -c 1 -W 1 "$peer" >/dev/null 2>&1; then res=REACHED; break; fi
        i=$((i + 1))
    done
    echo "DEMO-NOPING $peer $res"
done
echo "DEMO-READY"
while :; do sleep 3600; done
