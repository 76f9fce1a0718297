#!/usr/bin/env python3
"""vsw_rules.py G0 G1 FLOWS TOTAL — the OpenFlow rules of scenarios 2, 3 and 5
(ovs-ofctl syntax, one per line on stdout), for Vessel (run.sh) and OVS-DPDK
(ovs.sh) alike: the generator's FLOWS flows first (UDP 10.0.0.1:1024+i ->
10.0.0.2:9, output to G1), then exact rules of the same mask no traffic hits,
up to TOTAL - 11, then 10 wildcard rules of other masks and the return path."""
import sys


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    g0, g1, flows, total = (int(a) for a in sys.argv[1:])
    for i in range(total - 11):
        dst, sport = (2, 1024 + i) if i < flows else (3 + i // 60000, 1024 + i % 60000)
        print(f"priority=100,in_port={g0},udp,nw_src=10.0.0.1,nw_dst=10.0.0.{dst},"
              f"tp_src={sport},tp_dst=9,actions=output:{g1}")
    for i in range(10):
        print(f"priority={50 + i},ip,nw_dst=10.{i + 1}.0.0/{8 + i},actions=drop")
    print(f"priority=10,in_port={g1},actions=output:{g0}")


if __name__ == "__main__":
    main()
