# Cinder driver: the _drbdd C extension, its unit tests against a real drbdd,
# and the end-to-end check with real Cinder services (Debian packages).
PY3          := /usr/bin/python3
PY3_INCLUDES  = $(shell /usr/bin/python3-config --includes 2>/dev/null)
PY3_EXT       = $(shell /usr/bin/python3-config --extension-suffix 2>/dev/null)
CINDER_EXT    = $(BUILD)/python/_drbdd$(PY3_EXT)
CINDER_PYPATH = $(CURDIR)/cinder-backend:$(CURDIR)/$(BUILD)/python

.PHONY: cinder-ext cinder-unit openstack-check
# Not in sanitizer builds: an ASan-linked extension cannot load into python3.
ifeq ($(SAN),)
all: $(CINDER_EXT)
endif
cinder-ext: $(CINDER_EXT)

$(CINDER_EXT): cinder-backend/_drbdd.c $(CLIENT_A) | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wmissing-prototypes \
		-fno-strict-aliasing -D_GNU_SOURCE -I. -Ilib $(PY3_INCLUDES) $(shell pkg-config --cflags jansson libsystemd) \
		-shared -fPIC $(LDFLAGS) -o $@ cinder-backend/_drbdd.c $(CLIENT_A) \
		$(shell pkg-config --libs jansson libsystemd) -lpthread

cinder-unit: $(CINDER_EXT) $(BINS)
	@SRCDIR=$(CURDIR) BUILD=$(BUILD) PYTHONPATH=$(CINDER_PYPATH) $(PY3) cinder-backend/tests/run.py

openstack-check: $(CINDER_EXT) $(BINS)
	@SRCDIR=$(CURDIR) BUILD=$(BUILD) PYTHONPATH=$(CINDER_PYPATH) cinder-backend/tests/openstack-check.sh

CHECK_HOOKS += cinder-unit openstack-check

# The same flow with volumes provisioned in the lab (QEMU VMs with the lab's
# DRBD): drbdd on this host in controller-only role, joined to the lab's etcd.
# lab-nova-check adds a compute VM with libvirtd and drbd-nova-helper, and
# Nova's side (os-brick, Nova's libvirt volume driver, live migration,
# multiattach, online extend; docs/nova.md): ~15 min, in make check-extended.
.PHONY: lab-openstack-check lab-nova-check
lab-openstack-check: $(CINDER_EXT) $(BINS) lab-deps
	@SRCDIR=$(CURDIR) BUILD=$(BUILD) PYTHONPATH=$(CINDER_PYPATH) cinder-backend/tests/lab-openstack-check.sh

lab-nova-check: $(CINDER_EXT) $(BINS) lab-deps
	@LAB_NOVA=1 SRCDIR=$(CURDIR) BUILD=$(BUILD) PYTHONPATH=$(CINDER_PYPATH) cinder-backend/tests/lab-openstack-check.sh

CHECK_HOOKS += lab-openstack-check
CHECK_EXTENDED_HOOKS += lab-nova-check

# make install (dist/install.mk): the driver package and its extension.
INSTALL_PYTHON_PKGS += cinder-backend/drbd_cinder
INSTALL_PYTHON_MODS += $(CINDER_EXT)
