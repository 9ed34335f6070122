# kmod/: module loading, DRBD version probe, events2 parser (docs/kmod.md).
# Included by the top-level Makefile; kmod/*.c already go into libdrbdd-core.a.

KMOD_PROBE := $(BUILD)/drbdd-kmod-probe

all: $(KMOD_PROBE)

$(KMOD_PROBE): $(call obj,kmod/drbdd-kmod-probe.c) $(CORE_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

CHECK_HOOKS += lab-kmod-check
.PHONY: lab-kmod-check

# Real kernels: the probe loads drbd in a VM, reports its version, and parses a
# live events2 stream of a 2-node resource (tests/lab/test-kmod.sh, ~1.5 min).
# (Two lines so that "make -n" does not boot VMs.)
lab-kmod-check: lab-deps
	@$(MAKE) --no-print-directory $(KMOD_PROBE)
	@LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-kmod.sh

# tests/fuzz/fuzz.mk builds tests/fuzz/fuzz-events2.c (corpus replay in make
# check). Its libFuzzer build compiles sources in directly: add ours.
$(BUILD)/fuzz/libfuzzer-events2: kmod/events2.c kmod/drbd-version.c kmod/drbd-dialect.c
