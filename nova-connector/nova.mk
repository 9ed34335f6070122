# nova-connector: the compute-node helper drbd-nova-helper (docs/nova.md).
# Included by the top-level Makefile; links the drbdd client library and
# libvirt, kept out of libdrbdd-core.a.
NOVA_DIR      := nova-connector
NOVA_PKGS     := libvirt libxml-2.0
NOVA_BIN      := $(BUILD)/drbd-nova-helper
NOVA_TESTS    := $(patsubst $(NOVA_DIR)/tests/%.c,$(BUILD)/tests/nova/%,$(wildcard $(NOVA_DIR)/tests/test-*.c))

all: $(NOVA_BIN)
unit: nova-unit
# tests/integration/test-nova-helper.sh and test-docs.sh run it (check-san
# builds only what unit and integration need).
integration: $(NOVA_BIN)

$(BUILD)/obj/$(NOVA_DIR)/%.o: CFLAGS += $(shell pkg-config --cflags $(NOVA_PKGS) 2>/dev/null)

$(NOVA_BIN): $(call obj,$(NOVA_DIR)/drbd-nova-helper.c $(NOVA_DIR)/domain-disks.c) $(CLIENT_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(NOVA_PKGS))

$(BUILD)/tests/nova/%: $(call obj,$(NOVA_DIR)/tests/%.c $(NOVA_DIR)/domain-disks.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(NOVA_PKGS)) -lcmocka

.PHONY: nova-unit
nova-unit: $(NOVA_TESTS)
	@./tools/run-unit $(NOVA_TESTS)

# make install (dist/install.mk)
INSTALL_SBIN  += $(NOVA_BIN)
INSTALL_MAN8  += $(NOVA_DIR)/drbd-nova-helper.8
INSTALL_UNITS += $(NOVA_DIR)/drbd-nova-helper.service.in
