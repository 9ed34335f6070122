# tests/fuzz: one fuzz target per parser of untrusted input, tests/fuzz/fuzz-NAME.c,
# with its corpus in tests/fuzz/corpus/NAME/. Included by the top-level Makefile.
#   make fuzz-replay          replays every corpus with a plain build (part of make check,
#                             and again under ASan/UBSan as fuzz-replay-san)
#   make fuzz-run FUZZ=etcd-reply [FUZZ_SECONDS=60]
#                             real fuzzing with clang's libFuzzer + ASan/UBSan; new
#                             inputs land in $(BUILD)/fuzz/new-NAME/ (copy the good ones)
#
# D-Bus, live (tests/fuzz/drbdd-fuzz.c, driven by tests/fuzz/fuzz-live.sh): the real drbdd
# (--agent=no, so nothing touches this machine's disks) on a private dbus-daemon gets a
# stream of mutated calls to every method it exports (found by introspection): valid
# calls with hostile names, huge sizes, bad option keys and values, multibyte characters
# straddling length limits, noncharacters such as U+FFFF, empty strings, wrong signatures,
# unknown methods and objects. Every reply must arrive within 5 s and be a method return
# or a typed org.drbd.drbdd1.Error.* (not ...Error.Failed) or a standard error for a call
# that does not fit (InvalidArgs, UnknownMethod/Object/Interface/Property); drbdd must stay
# alive. At the end the store must pass PRAGMA integrity_check, drbdd must stop cleanly
# and, restarted, list what it had.
#   make fuzz-live [DURATION=60] [SEED=N]
#                             prints the seed (SEED= repeats the same stream of calls) and
#                             a summary: calls, replies by error name, findings. Each
#                             finding (a few per kind) is saved as a corpus file in
#                             $(BUILD)/fuzz/dbus-findings-SEED/; copy it to
#                             tests/fuzz/corpus/dbus/ once understood. Fails on findings.
#   tests/fuzz/corpus/dbus/   one call per file (method, signature, args as drbdd-call
#                             takes them; see drbdd-fuzz.c), replayed in make check by
#                             tests/integration/test-fuzz-dbus.sh. "known-defect" marks a
#                             case that fails today: replayed as XFAIL, and a failure once
#                             it passes (then drop the mark); FUZZ_STRICT=1 fails on them.
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz-%.c,%,$(FUZZ_SRC))
FUZZ_BINS  := $(patsubst %,$(BUILD)/fuzz/fuzz-%,$(FUZZ_NAMES))
FUZZ_SECONDS ?= 60

CHECK_HOOKS += fuzz-replay fuzz-replay-san
.SECONDARY: $(patsubst %,$(BUILD)/obj/tests/fuzz/fuzz-%.o,$(FUZZ_NAMES))

.PHONY: fuzz-replay fuzz-replay-san fuzz-run fuzz-live

$(BUILD)/fuzz/fuzz-%: $(call obj,tests/fuzz/fuzz-%.c) $(CORE_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-replay: $(FUZZ_BINS)
	@for n in $(FUZZ_NAMES); do \
		$(BUILD)/fuzz/fuzz-$$n tests/fuzz/corpus/$$n || { echo "FAIL fuzz-replay $$n"; exit 1; }; \
	done

fuzz-replay-san:
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 fuzz-replay

# libFuzzer needs clang; the parsers and what they use are compiled in directly.
FUZZ_LIBFUZZER_SRC := $(wildcard lib/*.c drbdd/store/*.c)
$(BUILD)/fuzz/libfuzzer-%: tests/fuzz/fuzz-%.c $(FUZZ_LIBFUZZER_SRC)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -D_GNU_SOURCE -DFUZZ_LIBFUZZER -I. -Ilib $(PKG_CFLAGS) \
		-fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lpthread -lm

fuzz-run: $(BUILD)/fuzz/libfuzzer-$(FUZZ)
	@test -n "$(FUZZ)" || { echo "usage: make fuzz-run FUZZ=<name>"; exit 2; }
	@mkdir -p $(BUILD)/fuzz/new-$(FUZZ)
	$(BUILD)/fuzz/libfuzzer-$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		$(BUILD)/fuzz/new-$(FUZZ) tests/fuzz/corpus/$(FUZZ)

# ---- D-Bus, live ---------------------------------------------------------------------
# The option table gives valid DRBD option values, hence the core library.
$(BUILD)/drbdd-fuzz: $(call obj,tests/fuzz/drbdd-fuzz.c) $(CORE_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

all: $(BUILD)/drbdd-fuzz
integration: $(BUILD)/drbdd-fuzz

DURATION ?= 60
SEED ?=
fuzz-live: $(BUILD)/drbdd $(BUILD)/drbdctl $(BUILD)/drbdd-fuzz
	@BUILD=$(BUILD) DURATION=$(DURATION) SEED=$(SEED) bash tests/fuzz/fuzz-live.sh
