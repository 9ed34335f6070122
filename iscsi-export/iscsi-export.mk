# iscsi-export: LIO iSCSI exports through configfs (docs/iscsi.md).
# Included by the top-level Makefile. The library is kept out of
# libdrbdd-core.a; binaries link it with the lib/ helper objects.
ISCSI_DIR       := iscsi-export
ISCSI_LIB_SRC   := $(ISCSI_DIR)/lio.c $(ISCSI_DIR)/lio-configfs.c $(ISCSI_DIR)/lio-names.c
ISCSI_A         := $(BUILD)/libdrbdd-iscsi.a
ISCSI_BINS      := $(BUILD)/drbdd-iscsi $(BUILD)/drbdd-iscsi-check
ISCSI_TEST_SRC  := $(wildcard $(ISCSI_DIR)/tests/test-*.c)
ISCSI_TESTS     := $(patsubst $(ISCSI_DIR)/tests/%.c,$(BUILD)/tests/iscsi/%,$(ISCSI_TEST_SRC))
ISCSI_FUZZ      := $(BUILD)/fuzz/fuzz-lio-names
ISCSI_HELPERS   := $(call obj,$(LIB_SRC))

all: $(ISCSI_A) $(ISCSI_BINS)
unit: iscsi-unit
CHECK_HOOKS += iscsi-check
BENCH_HOOKS += lab-bench-iscsi

.PHONY: iscsi iscsi-unit iscsi-check iscsi-fuzz lab-bench-iscsi
iscsi: $(ISCSI_A) $(ISCSI_BINS)

$(ISCSI_A): $(call obj,$(ISCSI_LIB_SRC))
	@rm -f $@; ar rcs $@ $^

$(BUILD)/drbdd-iscsi: $(call obj,$(ISCSI_DIR)/drbdd-iscsi.c) $(ISCSI_A) $(ISCSI_HELPERS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/drbdd-iscsi-check: $(call obj,$(ISCSI_DIR)/drbdd-iscsi-check.c) $(ISCSI_HELPERS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -liscsi

$(BUILD)/tests/iscsi/%: $(call obj,$(ISCSI_DIR)/tests/%.c) $(ISCSI_A) $(ISCSI_HELPERS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# The fuzz target replays its corpus in every unit run (a plain main());
# "make iscsi-fuzz" builds it with libFuzzer (clang) for real fuzzing.
$(ISCSI_FUZZ): $(call obj,$(ISCSI_DIR)/fuzz/fuzz-lio-names.c) $(ISCSI_A) $(ISCSI_HELPERS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

iscsi-unit: $(ISCSI_TESTS) $(ISCSI_FUZZ)
	@./tools/run-unit $(ISCSI_TESTS)
	@$(ISCSI_FUZZ) $(ISCSI_DIR)/fuzz/corpus/* >/dev/null && echo "PASS $(ISCSI_FUZZ) (corpus replay)"

iscsi-fuzz:
	@mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -DLIO_LIBFUZZER -D_GNU_SOURCE -I. -Ilib -Iiscsi-export \
		-o $(BUILD)/fuzz/fuzz-lio-names-libfuzzer $(ISCSI_DIR)/fuzz/fuzz-lio-names.c $(ISCSI_LIB_SRC) $(LIB_SRC) \
		$(PKG_LIBS) -lpthread -lm
	@mkdir -p $(BUILD)/fuzz/corpus-lio-names
	$(BUILD)/fuzz/fuzz-lio-names-libfuzzer -max_total_time=$(or $(FUZZ_SECONDS),60) \
		$(BUILD)/fuzz/corpus-lio-names $(ISCSI_DIR)/fuzz/corpus

# Real LIO in lab VMs (tests/lab); two lines so that "make -n" boots nothing.
iscsi-check: lab-deps
	@$(MAKE) --no-print-directory iscsi
	@LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-iscsi.sh

lab-bench-iscsi: lab-deps
	@$(MAKE) --no-print-directory iscsi
	@LAB_BUILD=$(abspath $(BUILD)) tests/lab/bench-iscsi.sh

# make install (dist/install.mk): the operator CLI needs root (configfs);
# the checker is an initiator-side tool for anyone.
INSTALL_SBIN += $(BUILD)/drbdd-iscsi
INSTALL_BIN  += $(BUILD)/drbdd-iscsi-check
INSTALL_MAN8 += $(ISCSI_DIR)/drbdd-iscsi.8
INSTALL_MAN1 += $(ISCSI_DIR)/drbdd-iscsi-check.1
