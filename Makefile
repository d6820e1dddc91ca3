# vmmcsim — plain GNU Makefile.  Objects go to build/, with -MMD -MP
# dependency files.  `make SANITIZER=address` builds with ASan+UBSan into
# build-asan/ so sanitized and plain objects never mix.
#
#   make          build build/vmmcsim and the test runner
#   make run      set up missing packages, build, run the reference experiment
#   make test     unit + conformance + scenario tests (the CI command)
#   make bench    fidelity and speed benchmarks, CSV under build/bench/
#   make check-deps  enforce the layering of DESIGN.md

SANITIZER ?=
ifeq ($(SANITIZER),)
BUILD ?= build
SANFLAGS :=
else
BUILD ?= build-$(SANITIZER)
ifeq ($(SANITIZER),address)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
SANFLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
endif
endif

CC ?= cc
OPT ?= -O2
CFLAGS := -std=c11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
          -Wmissing-prototypes -Wformat=2 -D_DEFAULT_SOURCE -I. $(SANFLAGS) $(EXTRA_CFLAGS)
DEPFLAGS = -MMD -MP
LDLIBS := -lsimgrid -lm
TEST_LDLIBS := -lcunit

UTIL_SRC := $(wildcard util/*.c)
SIM_SRC := $(wildcard sim/*.c)
NICM_SRC := $(wildcard nicmodel/*.c)
VMMC_SRC := $(wildcard vmmc/*.c)
LIBS_SRC := $(wildcard libs/*/*.c)
WL_SRC := $(wildcard workloads/*.c)
CORE_SRC := $(UTIL_SRC) $(SIM_SRC) $(NICM_SRC) $(VMMC_SRC) $(LIBS_SRC) $(WL_SRC)
CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/*.c tests/*/*.c)

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
CLI_LIB_OBJ := $(filter-out $(BUILD)/cli/main.o,$(CLI_OBJ))
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

.PHONY: all run test bench check-deps clean deps format mutants
all: $(BUILD)/vmmcsim $(BUILD)/vmmcsim-tests

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/libvmmcsim.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/vmmcsim: $(CLI_OBJ) $(BUILD)/libvmmcsim.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/vmmcsim-tests: $(TEST_OBJ) $(CLI_LIB_OBJ) $(BUILD)/libvmmcsim.a
	$(CC) $(CFLAGS) $^ -o $@ $(TEST_LDLIBS) $(LDLIBS)

# Installs missing Debian packages (as root) or says which command to run.
deps:
	@sh scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/vmmcsim run pingpong
	$(BUILD)/vmmcsim run bandwidth

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check-deps
	$(BUILD)/vmmcsim-tests

bench: deps
	@$(MAKE) --no-print-directory all
	sh bench/run.sh $(BUILD)

check-deps:
	@sh scripts/check-deps.sh

# Planted protocol bugs (tests/mutants/) must each be caught by a sweep.
mutants: deps
	sh scripts/mutants.sh

format:
	clang-format -i $(CORE_SRC) $(CLI_SRC) $(TEST_SRC) $(wildcard */*.h tests/*/*.h)

clean:
	rm -rf build build-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
