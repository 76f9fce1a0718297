# Vessel — top-level GNU Makefile.
#
#   make            build libraries, daemons and CLIs into $(O) (default build/)
#   make deps       install every Debian package Vessel and its tests need
#   make test       deps + build + unit, system and fuzz tests; last line "N passed, N failed"
#   make asan       AddressSanitizer+UBSan build in build/asan, then the test suite on it
#   make fuzz       build the libFuzzer targets (clang) into $(O)/fuzz
#   make demo       deps + build + run the appliance demo (configs/demo/vessel-demo.sh)
#   make bench      run the benchmarks in bench/ (JSON lines on stdout)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
#
# Objects never land in the source tree: everything goes under $(O).

O        ?= build
SANITIZE ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
CLANG    ?= clang
PYTHON   ?= /usr/bin/python3
V        ?= 0

ifeq ($(V),0)
Q := @
else
Q :=
endif

# Component order matters for static linking: dependants before dependencies.
COMPONENTS := vswitch vxlan sdn-agent lvm raid blockdev vmm common
# Components whose sources include DPDK headers (sdn-agent stays DPDK-free: it
# speaks to the switch only through its datapath interface; blockdev uses
# rte_vhost for its vhost-user-blk exports).
DPDK_COMPONENTS := vswitch vxlan blockdev
# Components that link a DPDK component (their tests need DPDK's libraries).
DPDK_USERS := $(DPDK_COMPONENTS) raid lvm

# Programs: name -> main source and the component libraries it links.
PROGRAMS := vswitchd vswitchctl blockd blockctl $(if $(wildcard vmm/vmm.c),vmm)
vswitchd_MAIN   := vswitch/vswitchd.c
vswitchd_COMPS  := vswitch vxlan sdn-agent common
vswitchd_DPDK   := 1
vswitchctl_MAIN := vswitch/vswitchctl.c
vswitchctl_COMPS := common
blockd_MAIN     := blockdev/blockd.c
blockd_COMPS    := lvm raid blockdev common
blockd_DPDK     := 1
blockctl_MAIN   := blockdev/blockctl.c
blockctl_COMPS  := common
vmm_MAIN        := vmm/vmm.c
vmm_COMPS       := vmm common

PROGRAM_MAINS := $(foreach p,$(PROGRAMS),$($(p)_MAIN))

WARN    := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
           -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
BASE_CFLAGS := -std=gnu11 -O2 -g -fno-strict-aliasing -D_GNU_SOURCE $(WARN) \
           $(foreach c,$(COMPONENTS),-I$(c)/include) -MMD -MP
ifneq ($(SANITIZE),)
BASE_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
BASE_LDFLAGS += -fsanitize=address,undefined
endif

# Package flags are resolved once per build directory (after `make deps`).
-include $(O)/config.mk

CFLAGS   ?=
LDFLAGS  ?=
ALL_CFLAGS = $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(BASE_LDFLAGS) $(LDFLAGS)

# ---------------------------------------------------------------------------
# Libraries: every .c of a component except program mains.
lib_srcs = $(filter-out $(PROGRAM_MAINS),$(wildcard $(1)/*.c))
lib_objs = $(patsubst %.c,$(O)/%.o,$(call lib_srcs,$(1)))
LIBS := $(foreach c,$(COMPONENTS),$(if $(call lib_srcs,$(c)),$(O)/lib$(c).a))

.PHONY: all
all: $(O)/config.mk $(LIBS) $(addprefix $(O)/bin/,$(PROGRAMS)) $(O)/.scripts

$(O)/config.mk: Makefile
	@mkdir -p $(@D)
	@for p in libdpdk liburing libnl-3.0 libnl-route-3.0 json-c; do \
	  pkg-config --exists $$p || { echo "error: pkg-config cannot find $$p; run 'make deps' (as root)" >&2; exit 1; }; done
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags liburing libnl-3.0 libnl-route-3.0 json-c)"; \
	   echo "PKG_LIBS := $$(pkg-config --libs liburing libnl-3.0 libnl-route-3.0 json-c) -lpthread -lm"; \
	   echo "DPDK_CFLAGS := $$(pkg-config --cflags libdpdk)"; \
	   echo "DPDK_LIBS := $$(pkg-config --libs libdpdk) -lrte_net_vhost"; \
	   echo "CMOCKA_CFLAGS := $$(pkg-config --cflags cmocka 2>/dev/null)"; \
	   echo "CMOCKA_LIBS := $$(pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)"; } > $@.tmp && mv $@.tmp $@

$(foreach c,$(DPDK_COMPONENTS),$(eval $(O)/$(c)/%.o: EXTRA_CFLAGS = $$(DPDK_CFLAGS)))
$(foreach p,$(PROGRAMS),$(if $($(p)_DPDK),$(eval $(patsubst %.c,$(O)/%.o,$($(p)_MAIN)): EXTRA_CFLAGS = $$(DPDK_CFLAGS))))

$(O)/%.o: %.c $(O)/config.mk
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -c $< -o $@

define LIB_RULE
$(O)/lib$(1).a: $(call lib_objs,$(1))
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach c,$(COMPONENTS),$(if $(call lib_srcs,$(c)),$(eval $(call LIB_RULE,$(c)))))

comp_libs = $(foreach c,$(1),$(if $(call lib_srcs,$(c)),$(O)/lib$(c).a))

define PROG_RULE
$(O)/bin/$(1): $(patsubst %.c,$(O)/%.o,$($(1)_MAIN)) $(call comp_libs,$($(1)_COMPS))
	@mkdir -p $$(@D)
	@echo "  LD      $$@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $$@ $(patsubst %.c,$(O)/%.o,$($(1)_MAIN)) \
	  -Wl,--whole-archive $(call comp_libs,$($(1)_COMPS)) -Wl,--no-whole-archive \
	  $(if $($(1)_DPDK),$$(DPDK_LIBS)) $$(PKG_LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call PROG_RULE,$(p))))

# Helper scripts are copied beside the binaries so that tests use one tree.
SCRIPTS := $(wildcard common/scripts/vessel-*)
$(O)/.scripts: $(SCRIPTS)
	@mkdir -p $(O)/bin
	$(Q)cp $(SCRIPTS) $(O)/bin/ && touch $@

# ---------------------------------------------------------------------------
# Unit tests: tests/unit/<comp>/test_<file>.c -> $(O)/tests/unit/<comp>/test_<file>
UNIT_SRCS := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(patsubst %.c,$(O)/%,$(UNIT_SRCS))
unit_comp = $(word 3,$(subst /, ,$(1)))
# A unit test links its own component and everything that component may use.
unit_comps = $(if $(filter vswitch,$(1)),vswitch vxlan sdn-agent common,\
             $(if $(filter blockdev,$(1)),blockdev common,\
             $(if $(filter raid lvm,$(1)),$(1) blockdev common,$(filter-out common,$(1)) common)))

$(foreach c,$(DPDK_USERS),$(eval $(O)/tests/unit/$(c)/%: EXTRA_LIBS = $$(DPDK_LIBS)))
$(foreach c,$(DPDK_USERS),$(eval $(O)/tests/unit/$(c)/%: EXTRA_CFLAGS = $$(DPDK_CFLAGS)))

define UNIT_RULE
$(patsubst %.c,$(O)/%,$(1)): $(1) $(call comp_libs,$(call unit_comps,$(call unit_comp,$(1)))) $(O)/config.mk
	@mkdir -p $$(@D)
	@echo "  TEST-CC $$<"
	$(Q)$(CC) $$(ALL_CFLAGS) $$(CMOCKA_CFLAGS) $$(EXTRA_CFLAGS) -I$(call unit_comp,$(1)) -Itests/unit \
	  $(ALL_LDFLAGS) -o $$@ $$< $(call comp_libs,$(call unit_comps,$(call unit_comp,$(1)))) \
	  $$(EXTRA_LIBS) $$(PKG_LIBS) $$(CMOCKA_LIBS)
endef
$(foreach t,$(UNIT_SRCS),$(eval $(call UNIT_RULE,$(t))))

# vub_bench (bench/blockdev) doubles as the vhost-user-blk front end of the system tests.
.PHONY: unit-bins
unit-bins: all $(UNIT_BINS) $(O)/bench/vub_bench

# ---------------------------------------------------------------------------
# Fuzz targets (libFuzzer, clang): tests/fuzz/fuzz_<name>.c, linked with the
# clang-built sources of the components it names in FUZZ_COMPS_<name> (default common).
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRCS))
FUZZ_CFLAGS = -std=gnu11 -O1 -g -D_GNU_SOURCE -fsanitize=fuzzer-no-link,address,undefined \
	-fno-omit-frame-pointer $(foreach c,$(COMPONENTS),-I$(c)/include) $(PKG_CFLAGS) -MMD -MP

# Which components each fuzz target links (default: common). Targets that name a
# DPDK component are compiled with DPDK's flags and linked with its libraries.
FUZZ_COMPS_fuzz_rpc_request := common
-include tests/fuzz/fuzz.mk

$(O)/fuzz/obj/%.o: %.c $(O)/config.mk
	@mkdir -p $(@D)
	@echo "  FUZZ-CC $<"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_EXTRA_CFLAGS) -c $< -o $@

$(foreach c,$(DPDK_COMPONENTS),$(eval $(O)/fuzz/obj/$(c)/%.o: FUZZ_EXTRA_CFLAGS = $$(DPDK_CFLAGS)))

fuzz_comps = $(or $(FUZZ_COMPS_$(1)),common)
fuzz_objs = $(foreach c,$(call fuzz_comps,$(1)),$(patsubst %.c,$(O)/fuzz/obj/%.o,$(call lib_srcs,$(c))))
fuzz_dpdk = $(filter $(DPDK_COMPONENTS),$(call fuzz_comps,$(1)))

# A fuzz target, like a unit test, may use its components' internal headers.
define FUZZ_RULE
$(O)/fuzz/obj/tests/fuzz/$(1).o: FUZZ_EXTRA_CFLAGS = $(foreach c,$(call fuzz_comps,$(1)),-I$(c)) \
	$(if $(call fuzz_dpdk,$(1)),$$(DPDK_CFLAGS))
$(O)/fuzz/$(1): $(O)/fuzz/obj/tests/fuzz/$(1).o $(call fuzz_objs,$(1))
	@echo "  FUZZ-LD $$@"
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -o $$@ $$^ \
	  $(if $(call fuzz_dpdk,$(1)),$$(DPDK_LIBS)) $$(PKG_LIBS)
endef
$(foreach f,$(FUZZ_SRCS),$(eval $(call FUZZ_RULE,$(basename $(notdir $(f))))))

.PHONY: fuzz
fuzz: $(O)/config.mk $(FUZZ_BINS)

# ---------------------------------------------------------------------------
# Benchmarks: bench/bench_<name>.c -> $(O)/bench/bench_<name>, linked like common's
# unit tests. bench/run.sh runs them (and the script benchmarks) and prints JSON lines.
BENCH_SRCS := $(wildcard bench/bench_*.c)
BENCH_BINS := $(patsubst bench/%.c,$(O)/bench/%,$(BENCH_SRCS))
$(O)/bench/%: bench/%.c $(O)/libcommon.a $(O)/config.mk
	@mkdir -p $(@D)
	@echo "  BENCH   $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(O)/libcommon.a $(PKG_LIBS)

# The vhost-user-blk front end: standalone (speaks the protocol itself).
$(O)/bench/vub_bench: bench/blockdev/vub_bench.c $(O)/config.mk
	@mkdir -p $(@D)
	@echo "  BENCH   $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

# The LVM data-path micro benchmark drives a reactor itself, like a unit test.
$(O)/bench/lvm_path_bench: bench/lvm/lvm_path_bench.c $(call comp_libs,lvm blockdev common) $(O)/config.mk
	@mkdir -p $(@D)
	@echo "  BENCH   $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(call comp_libs,lvm blockdev common) $(PKG_LIBS)

.PHONY: bench-bins
bench-bins: all $(BENCH_BINS) $(O)/bench/vub_bench $(O)/bench/lvm_path_bench

# ---------------------------------------------------------------------------
.PHONY: deps test test-only asan demo bench install clean

deps:
	@bash common/scripts/vessel-deps

# `make test` = deps, build, then the whole suite on $(O).
test: deps
	$(Q)$(MAKE) --no-print-directory O=$(O) SANITIZE=$(SANITIZE) all unit-bins fuzz
	$(Q)$(MAKE) --no-print-directory O=$(O) SANITIZE=$(SANITIZE) test-only

test-only:
	$(Q)$(PYTHON) tests/run_tests.py --build $(O) $(if $(SANITIZE),--sanitized)

asan: deps
	$(Q)$(MAKE) --no-print-directory O=build/asan SANITIZE=1 all unit-bins fuzz
	$(Q)$(MAKE) --no-print-directory O=build/asan SANITIZE=1 test-only

demo: deps
	$(Q)$(MAKE) --no-print-directory O=$(O) all
	$(Q)KEEP=$(KEEP) bash configs/demo/vessel-demo.sh $(O)

bench: bench-bins
	$(Q)bash bench/run.sh $(O)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/libexec/vessel \
	  $(DESTDIR)$(PREFIX)/share/doc/vessel $(DESTDIR)$(PREFIX)/share/vessel/configs
	install -m 0755 $(O)/bin/vswitchctl $(O)/bin/blockctl $(if $(wildcard vmm/vmm.c),$(O)/bin/vmm) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(O)/bin/vswitchd $(O)/bin/blockd $(DESTDIR)$(PREFIX)/sbin/
	install -m 0755 $(SCRIPTS) $(DESTDIR)$(PREFIX)/libexec/vessel/
	install -m 0644 README.md $(wildcard docs/*.md) $(DESTDIR)$(PREFIX)/share/doc/vessel/
	cp -r configs/. $(DESTDIR)$(PREFIX)/share/vessel/configs/

clean:
	rm -rf build

-include $(shell find $(O) -name '*.d' 2>/dev/null)
