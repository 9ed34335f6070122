# tests/lab: real kernels under QEMU for DRBD, LVM and LIO (docs/lab.md).
# Included by the top-level Makefile.
LAB_SRC := tests/lab

DEPS_HOOKS += lab-deps
CHECK_HOOKS += lab-check

.PHONY: lab-deps lab-check lab-shell

# Fetch and cache a Debian kernel and build the DRBD 9 module for it (outside
# the repo, /var/cache/drbdd-lab; LAB_DRBD9_SRC names the DRBD 9 source).
# Every lab suite runs on DRBD 9 (LAB_DRBD=9, the default) unless it says
# otherwise; lab-drbd84-check keeps stock kernels' DRBD 8.4 proven.
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
	@LAB_DRBD=9 tests/lab/test-agent.sh
	@LAB_DRBD=9 LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-plan.sh
	@LAB_DRBD=9 DEMO_NO_BUILD=1 tests/lab/demo.sh
CHECK_HOOKS += lab-agent-check

# DRBD 9 behaviour: tie-breakers, quorum, diskless clients, toggle-disk, ...
.PHONY: lab-drbd9-check lab-drbd84-check
lab-drbd9-check: lab-deps all
	@LAB_DRBD=9 LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-drbd9.sh
CHECK_HOOKS += lab-drbd9-check

# The 8.4 lane (Debian's own module): what differs on stock kernels, with at
# most two hosts per resource: create, replicate, grow, power-off (agent
# lifecycle and poweroff) and the 8.4 diskless attach with its crash points.
lab-drbd84-check: lab-deps all
	@LAB_DRBD=8.4 LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-agent.sh lifecycle poweroff
	@LAB_DRBD=8.4 LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-crash-attach.sh
CHECK_HOOKS += lab-drbd84-check

# Node agent figures on real kernels (not part of make check: it takes long).
lab-bench-agent: lab-deps all
	@LAB_BUILD=$(abspath $(BUILD)) tests/lab/bench-agent.sh
BENCH_HOOKS += lab-bench-agent

# Snapshots, restore, clone, revert, WaitReady and iSCSI export through drbdd on real kernels.
lab-snapshots-check: lab-deps all
	@LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-snapshots.sh
CHECK_HOOKS += lab-snapshots-check

# show-commands vs the commands the agent ran (DRBDD_EXEC_LOG), thick and
# thin, one VM: 52 s with its boot, so make check runs it in lab-agent-check.
.PHONY: lab-plan-check
lab-plan-check: lab-deps all
	@LAB_DRBD=9 LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-plan.sh

# Four VMs: an attached tie-breaker under I/O when a third diskful replica
# comes (docs/nova.md); in make check-extended.
.PHONY: lab-attached-tb-check
lab-attached-tb-check: lab-deps all
	@LAB_DRBD=9 LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-attached-tiebreaker.sh
CHECK_EXTENDED_HOOKS += lab-attached-tb-check
