# tests/tools/storage.mk: drbdd-storage-tool (every storage operation on the
# command line) and the lab test of the storage layer on real LVM and loop
# devices (tests/lab/test-storage.sh). Included by the top-level Makefile.
.PHONY: storage-tool lab-storage-check

all: $(BUILD)/drbdd-storage-tool
storage-tool: $(BUILD)/drbdd-storage-tool

$(BUILD)/drbdd-storage-tool: $(call obj,tests/tools/storage-tool.c) $(CORE_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

CHECK_HOOKS += lab-storage-check

# Boots one VM (~2-3 min in all). LAB_KEEP=1 keeps the run dir.
# (Two lines so that "make -n" does not boot VMs: a line with $(MAKE) runs.)
lab-storage-check: lab-deps
	@$(MAKE) --no-print-directory $(BUILD)/drbdd-storage-tool
	@LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-storage.sh $(STORAGE_TESTS)
