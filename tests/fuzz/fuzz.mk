# tests/fuzz: one fuzz target per parser of untrusted input, tests/fuzz/fuzz-NAME.c,
# with its corpus in tests/fuzz/corpus/NAME/. Included by the top-level Makefile.
#   make fuzz-replay          replays every corpus with a plain build (part of make check,
#                             and again under ASan/UBSan as fuzz-replay-san)
#   make fuzz-run FUZZ=etcd-reply [FUZZ_SECONDS=60]
#                             real fuzzing with clang's libFuzzer + ASan/UBSan; new
#                             inputs land in $(BUILD)/fuzz/new-NAME/ (copy the good ones)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz-%.c,%,$(FUZZ_SRC))
FUZZ_BINS  := $(patsubst %,$(BUILD)/fuzz/fuzz-%,$(FUZZ_NAMES))
FUZZ_SECONDS ?= 60

CHECK_HOOKS += fuzz-replay fuzz-replay-san
.SECONDARY: $(patsubst %,$(BUILD)/obj/tests/fuzz/fuzz-%.o,$(FUZZ_NAMES))

.PHONY: fuzz-replay fuzz-replay-san fuzz-run

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
