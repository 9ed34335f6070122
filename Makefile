# Top-level build for drbdd: replicated block storage for OpenStack on DRBD.
#
# Layout: every C component drops .c files into its folder; the rules below
# pick them up by wildcard, so adding a module never means editing this file.
#   lib/*.c              shared helpers (no D-Bus, no DRBD knowledge)
#   kmod/*.c             kernel module / DRBD version probe
#   drbdd/<sub>/*.c      daemon subsystems (store, model, drbd, service, bus)
#   drbdd/client/*.c     D-Bus client library (drbdctl, cinder extension)
#   drbdd/drbdd.c        daemon main()
#   drbdd/drbdctl/*.c    the CLI
#   tests/unit/test-*.c  one cmocka binary per file, linked with everything

CC       ?= cc
BUILD    ?= build
SAN      ?=
PKGS     := libsystemd sqlite3 jansson libcurl libkmod libmicrohttpd
CFLAGS_BASE := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wshadow -Wformat=2 -Wmissing-prototypes -fno-strict-aliasing \
	-D_GNU_SOURCE -I. -Ilib -MMD -MP
ifneq ($(SAN),)
CFLAGS_BASE += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(CFLAGS_BASE) $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread -lm

LIB_SRC    := $(wildcard lib/*.c)
KMOD_SRC   := $(filter-out kmod/drbdd-kmod-probe.c,$(wildcard kmod/*.c))
CORE_SRC   := $(wildcard drbdd/store/*.c drbdd/model/*.c drbdd/drbd/*.c \
		drbdd/service/*.c drbdd/bus/*.c drbdd/agent/*.c drbdd/storage/*.c drbdd/plan/*.c drbdd/cluster/*.c \
		drbdd/metrics/*.c)
CLIENT_SRC := $(wildcard drbdd/client/*.c)
CTL_SRC    := $(wildcard drbdd/drbdctl/*.c)
UNIT_SRC   := $(wildcard tests/unit/test-*.c)
BENCH_SRC  := $(wildcard tests/bench/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

CORE_A   := $(BUILD)/libdrbdd-core.a
CLIENT_A := $(BUILD)/libdrbdd-client.a
BINS     := $(BUILD)/drbdd $(BUILD)/drbdctl $(BUILD)/drbdd-call $(BUILD)/drbdd-waiters $(BUILD)/bench-create \
            $(BUILD)/bench-agent-pass
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all deps check check-extended check-package-lists check-layers unit integration bench clean check-san format-diff
.SECONDARY:
all: $(BINS)

V ?= 0
Q := $(if $(filter 1,$(V)),,@)

$(BUILD)/obj/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -fPIC -c -o $@ $<

$(CORE_A): $(call obj,$(LIB_SRC) $(KMOD_SRC) $(CORE_SRC))
	@rm -f $@; ar rcs $@ $^

$(CLIENT_A): $(call obj,$(LIB_SRC) $(CLIENT_SRC) drbdd/bus/bus-json.c drbdd/bus/bus-error.c drbdd/model/size.c drbdd/model/names.c)
	@rm -f $@; ar rcs $@ $^

# The agent exports over iSCSI (drbdd/agent/agent-export.c): the LIO library
# (iscsi-export/iscsi-export.mk) links in; grouped, since each archive uses the other.
$(BUILD)/drbdd: $(call obj,drbdd/drbdd.c) $(CORE_A) $(BUILD)/libdrbdd-iscsi.a
	$(CC) $(LDFLAGS) -o $@ $(call obj,drbdd/drbdd.c) -Wl,--start-group $(CORE_A) $(BUILD)/libdrbdd-iscsi.a -Wl,--end-group $(LDLIBS)

$(BUILD)/drbdctl: $(call obj,$(CTL_SRC)) $(CLIENT_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/drbdd-call: $(call obj,tests/tools/drbdd-call.c) $(CLIENT_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/drbdd-waiters: $(call obj,tests/tools/drbdd-waiters.c)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench-create: $(call obj,tests/bench/bench-create.c) $(CLIENT_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The agent's pass with recorded commands (links the core, as drbdd does).
$(BUILD)/bench-agent-pass: $(call obj,tests/bench/bench-agent-pass.c) $(CORE_A) $(BUILD)/libdrbdd-iscsi.a
	$(CC) $(LDFLAGS) -o $@ $(call obj,tests/bench/bench-agent-pass.c) -Wl,--start-group $(CORE_A) $(BUILD)/libdrbdd-iscsi.a -Wl,--end-group $(LDLIBS)

$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(CORE_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# ---- dependencies ---------------------------------------------------------
# Debian packages each part needs, one list per part: every packages.txt in
# the tree, at any depth (build trees and .git excluded). A CI-side check
# (tools/check-package-lists, run by make check) fails if one is missed.
PACKAGE_LISTS := $(sort $(patsubst ./%,%,$(shell find . \( -name .git -o -name 'build*' \) -prune -o -name packages.txt -print)))
DEPS_HOOKS :=
# NO_DEPS=1: the caller provides them (debian/rules: Build-Depends).
$(BUILD)/.deps-ok: $(PACKAGE_LISTS)
	@$(if $(NO_DEPS),true,$(MAKE) --no-print-directory deps)
	@mkdir -p $(BUILD) && touch $@

deps:
	@./tools/install-deps $(PACKAGE_LISTS)
	@for h in $(DEPS_HOOKS); do $(MAKE) --no-print-directory $$h || exit 1; done

# ---- tests ----------------------------------------------------------------
check-package-lists:
	@./tools/check-package-lists

# Layer rules and the core's symbol prefixes (docs/architecture.md).
check-layers: $(CORE_A) $(call obj,$(wildcard drbdd/bus/*.c))
	@BUILD=$(BUILD) ./tools/check-layers

unit: $(UNIT_BINS)
	@./tools/run-unit $(UNIT_BINS)

integration: $(BINS)
	@BUILD=$(BUILD) ./tests/integration/run-all

check-san:
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 unit integration

# Every suite runs even when an earlier one failed; the summary names the
# failures and the exit status is non-zero if there was any.
check: all
	@failed=""; start=$$(date +%s); \
	for t in check-package-lists check-layers unit integration check-san $(CHECK_HOOKS); do \
		t0=$$(date +%s); echo "=== make $$t"; \
		if $(MAKE) --no-print-directory $$t; then r=ok; else r=FAILED; failed="$$failed $$t"; fi; \
		echo "=== make $$t: $$r in $$(( $$(date +%s) - t0 ))s"; \
	done; \
	echo "=== make check: $$(( $$(date +%s) - start ))s, failed:$${failed:- none}"; \
	[ -z "$$failed" ]

# Scenarios too long for make check's time budget (CHECK_EXTENDED_HOOKS):
# run before resolving the issue that added them; same summary as check.
check-extended: all
	@failed=""; start=$$(date +%s); \
	for t in $(CHECK_EXTENDED_HOOKS); do \
		t0=$$(date +%s); echo "=== make $$t"; \
		if $(MAKE) --no-print-directory $$t; then r=ok; else r=FAILED; failed="$$failed $$t"; fi; \
		echo "=== make $$t: $$r in $$(( $$(date +%s) - t0 ))s"; \
	done; \
	echo "=== make check-extended: $$(( $$(date +%s) - start ))s, failed:$${failed:- none}"; \
	[ -z "$$failed" ]

bench: $(BINS)
	@BUILD=$(BUILD) ./tests/bench/run-all
	@for t in $(BENCH_HOOKS); do $(MAKE) --no-print-directory $$t || exit 1; done

# Formatting is advisory (.clang-format); this shows what clang-format would change.
format-diff:
	@for f in $$(git ls-files '*.c' '*.h'); do clang-format --style=file "$$f" | diff -u "$$f" - ; done | head -200

clean:
	rm -rf build build-san

CHECK_HOOKS :=
CHECK_EXTENDED_HOOKS :=
BENCH_HOOKS :=
-include $(wildcard */*.mk tests/*/*.mk)
-include $(shell find $(BUILD) -path $(BUILD)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
