# tests/dist: installation checks (docs/install.md). Included by the
# top-level Makefile.
#   make install-check   make install/uninstall into a staging root (~5 s)
#   make deb-check       make deb, lintian, and the packages installed in a
#                        lab VM running drbdd from its unit's command line
.PHONY: install-check deb-check
CHECK_HOOKS += install-check deb-check

install-check: install-build
	@BUILD=$(BUILD) bash tests/dist/test-install.sh

# Two lines so that "make -n" builds no packages and boots no VM.
deb-check: lab-deps
	@$(MAKE) --no-print-directory deb
	@BUILD=$(BUILD) LAB_BUILD=$(abspath $(BUILD)) bash tests/dist/test-deb.sh
