# Per-target component lists for fuzz targets (see the Makefile), e.g.
# FUZZ_COMPS_fuzz_nbd_request := blockdev common
FUZZ_COMPS_fuzz_nbd_request := blockdev common
FUZZ_COMPS_fuzz_packet := vswitch common
FUZZ_COMPS_fuzz_openflow := sdn-agent common
FUZZ_COMPS_fuzz_raid_sb := raid blockdev common
FUZZ_COMPS_fuzz_qcow2 := blockdev common
FUZZ_COMPS_fuzz_flow_parse := vswitch common
FUZZ_COMPS_fuzz_lvm_meta := lvm blockdev common
FUZZ_COMPS_fuzz_vmm_def := vmm common
FUZZ_COMPS_fuzz_lvm_thin := lvm blockdev common
FUZZ_COMPS_fuzz_vmm_vf_nl := vmm common
