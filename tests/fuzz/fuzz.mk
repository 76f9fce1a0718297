# Per-target component lists for fuzz targets (see the Makefile), e.g.
# FUZZ_COMPS_fuzz_nbd_request := blockdev common
FUZZ_COMPS_fuzz_nbd_request := blockdev common
FUZZ_COMPS_fuzz_packet := vswitch vxlan sdn-agent common
FUZZ_COMPS_fuzz_openflow := sdn-agent common
FUZZ_COMPS_fuzz_raid_sb := raid blockdev common
FUZZ_COMPS_fuzz_qcow2 := blockdev common
FUZZ_COMPS_fuzz_flow_parse := vswitch vxlan sdn-agent common
FUZZ_COMPS_fuzz_lvm_meta := lvm blockdev common
FUZZ_COMPS_fuzz_vmm_vf_nl := vmm common
FUZZ_COMPS_fuzz_lvm_thin := lvm blockdev common
FUZZ_COMPS_fuzz_virtio_blk := blockdev common
FUZZ_COMPS_fuzz_group_parse := vswitch vxlan sdn-agent common
FUZZ_COMPS_fuzz_vxlan_decap := vxlan common
FUZZ_COMPS_fuzz_vmm_def := vmm common
FUZZ_COMPS_fuzz_vlan_vni := vswitch vxlan sdn-agent common
