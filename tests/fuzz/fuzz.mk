# Per-target component lists for fuzz targets (see the Makefile), e.g.
# FUZZ_COMPS_fuzz_nbd_request := blockdev common
FUZZ_COMPS_fuzz_nbd_request := blockdev common
FUZZ_COMPS_fuzz_packet := vswitch common
FUZZ_COMPS_fuzz_openflow := sdn-agent common
