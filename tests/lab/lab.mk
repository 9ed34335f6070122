# tests/lab: real kernels under QEMU for DRBD, LVM and LIO (docs/lab.md).
# Included by the top-level Makefile.
LAB_SRC := tests/lab

DEPS_HOOKS += lab-deps
CHECK_HOOKS += lab-check

.PHONY: lab-deps lab-check lab-shell

# Fetch and cache a Debian kernel (outside the repo, /var/cache/drbdd-lab).
lab-deps:
	@./tools/install-deps $(LAB_SRC)/packages.txt
	@$(LAB_SRC)/lab deps

# Smoke tests; builds drbdd/drbdctl first. A failed build is not hidden:
# the drbdd test then fails instead of running a stale binary.
# LAB_TESTS="drbd thin" runs a subset; LAB_KEEP=1 keeps the run dir.
# (Two lines so that "make -n" does not boot VMs: a line with $(MAKE) runs.)
lab-check: lab-deps
	@mkdir -p $(BUILD); rm -f $(BUILD)/.lab-build-failed; \
	$(MAKE) --no-print-directory all || { echo "lab-check: 'make all' failed" >&2; touch $(BUILD)/.lab-build-failed; }
	@LAB_BUILD_FAILED=$$(test -e $(BUILD)/.lab-build-failed && echo 1) \
	LAB_BUILD=$(abspath $(BUILD)) $(LAB_SRC)/smoke.sh $(LAB_TESTS)

# Interactive root shell in a lab VM; LAB_VMS=2 boots more (vm1 gets the shell).
lab-shell: lab-deps
	@LAB_BUILD=$(abspath $(BUILD)) $(LAB_SRC)/lab shell $(or $(LAB_VMS),1)

# make demo: the product's main job on this machine (see README.md).
.PHONY: demo lab-agent-check
demo: lab-deps all
	@DEMO_NO_BUILD=1 tests/lab/demo.sh

lab-agent-check: lab-deps all
	@tests/lab/test-agent.sh
	@tests/lab/test-crash-attach.sh
	@DEMO_NO_BUILD=1 tests/lab/demo.sh
CHECK_HOOKS += lab-agent-check

# Node agent figures on real kernels (not part of make check: it takes long).
lab-bench-agent: lab-deps all
	@LAB_BUILD=$(abspath $(BUILD)) tests/lab/bench-agent.sh
BENCH_HOOKS += lab-bench-agent

# Snapshots, restore, clone, revert, WaitReady and iSCSI export through drbdd on real kernels.
lab-snapshots-check: lab-deps all
	@LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-snapshots.sh
CHECK_HOOKS += lab-snapshots-check
