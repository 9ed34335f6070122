# tests/devstack: the devstack plugin (devstack/) with devstack's functions
# replaced by recorders, and bashate on every file (~2 s). Included by the
# top-level Makefile.
.PHONY: devstack-check
CHECK_HOOKS += devstack-check

devstack-check:
	@BUILD=$(BUILD) bash tests/devstack/test-plugin.sh
