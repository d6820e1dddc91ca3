# vmmcsim — plain GNU Makefile.  Objects go to build/, with -MMD -MP
# dependency files.  `make SANITIZER=address` builds with ASan+UBSan into
# build-asan/ so sanitized and plain objects never mix.
#
#   make          build build/vmmcsim and the test runner
#   make run      set up missing packages, build, run the reference experiment
#   make test     unit + conformance + scenario tests (the CI command)
#   make bench    fidelity and speed benchmarks, CSV under build/bench/
#   make check-deps  enforce the layering of DESIGN.md
#   make test-slurm  a sweep through a private single-node Slurm (root)
#   make fuzz     libFuzzer harnesses (fuzz/), FUZZ_S seconds each, into
#                 build-fuzz/ (clang, ASan+UBSan)

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
CWARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
         -Wformat=2
# libtirpc (libs/rpc): its headers as system headers.
TIRPC_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags libtirpc 2>/dev/null || echo -I/usr/include/tirpc))
TIRPC_LIBS := $(shell pkg-config --libs libtirpc 2>/dev/null || echo -ltirpc)
# -fPIC: the core is also a shared library (build/libvmmcsim.so), which
# vmmcsim and the programs vmmcsim-cc builds link against.
CFLAGS := -std=c11 $(OPT) -g $(CWARN) -D_DEFAULT_SOURCE -I. -fPIC \
          -fno-semantic-interposition $(SANFLAGS) $(EXTRA_CFLAGS) \
          $(TIRPC_CFLAGS)
DEPFLAGS = -MMD -MP
# -lev -lpthread: the emulated backend (emu/).
LDLIBS := -lsimgrid -lev -lpthread -lm $(TIRPC_LIBS)
TEST_LDLIBS := -lcunit

UTIL_SRC := $(wildcard util/*.c hw/*.c)
SIM_SRC := $(wildcard sim/*.c)
NICM_SRC := $(wildcard nicmodel/*.c)
VMMC_SRC := $(wildcard vmmc/*.c)
LIBS_SRC := $(wildcard libs/*/*.c)
WL_SRC := $(wildcard workloads/*.c)
EMU_SRC := $(wildcard emu/*.c)
CORE_SRC := $(UTIL_SRC) $(SIM_SRC) $(NICM_SRC) $(VMMC_SRC) $(LIBS_SRC) $(WL_SRC) \
            $(EMU_SRC)
CLI_SRC := $(wildcard cli/*.c)
# The fuzz harnesses are also linked into the test runner, which replays
# tests/fuzz-regress/ through them (tests/fuzz/).
FUZZ_SRC := $(wildcard fuzz/*.c)
TEST_SRC := $(wildcard tests/*.c tests/*/*.c) $(FUZZ_SRC)

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
CLI_LIB_OBJ := $(filter-out $(BUILD)/cli/main.o,$(CLI_OBJ))
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

.PHONY: all run test bench check-deps clean deps format mutants fuzz fuzz-build sweep-10k plots
all: $(BUILD)/vmmcsim $(BUILD)/vmmcsim-tests $(BUILD)/vmmcsim-cc

# Objects depend on the Makefile too: a change of flags rebuilds them.
$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/libvmmcsim.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Everything but main(), shared: one copy of the simulator in the process
# whether vmmcsim or a program it loads (vmmcsim exec) calls it.
$(BUILD)/libvmmcsim.so: $(CORE_OBJ) $(CLI_LIB_OBJ)
	$(CC) $(CFLAGS) -shared -Wl,-soname,libvmmcsim.so -Wl,-Bsymbolic-functions \
	    $^ -o $@ $(LDLIBS)

# main() and the re-execution that turns off address randomisation only:
# the simulator is opened with dlopen after it (cli/main.c), so that it is
# loaded once a run.  libtirpc is loaded at start-up all the same: the
# sanitizers intercept its xdr functions and look the real ones up when
# the process starts, and would call NULL if it came later.
$(BUILD)/vmmcsim: $(BUILD)/cli/main.o $(BUILD)/util/layout.o $(BUILD)/libvmmcsim.so
	$(CC) $(CFLAGS) $(BUILD)/cli/main.o $(BUILD)/util/layout.o -o $@ -ldl \
	    -Wl,--no-as-needed $(TIRPC_LIBS)

# The compiler wrapper: builds a C program into what vmmcsim exec runs.
$(BUILD)/vmmcsim-cc: scripts/vmmcsim-cc.in $(BUILD)/libvmmcsim.so
	sed -e "s|@ROOT@|$(CURDIR)|g" -e "s|@BUILD@|$(CURDIR)/$(BUILD)|g" \
	    -e "s|@CC@|$(CC)|g" -e "s|@TIRPC_CFLAGS@|$(TIRPC_CFLAGS)|g" \
	    -e "s|@TIRPC_LIBS@|$(TIRPC_LIBS)|g" $< > $@
	chmod +x $@

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

# The benchmarks run a build with the invariant checks compiled out
# (util/inv.h), in its own folder; the CSV goes to $(BUILD)/bench/.
bench: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)-bench \
	    EXTRA_CFLAGS="$(EXTRA_CFLAGS) -DVS_NO_INVARIANTS" $(BUILD)-bench/vmmcsim \
	    $(BUILD)-bench/bench/refloop
	BENCH_OUT=$(BUILD)/bench sh bench/run.sh $(BUILD)-bench

# The reference event loop of the speed table (bench/refloop.c, docs/speed.md):
# plain C, no SimGrid, the same optimisation as the simulator.
$(BUILD)/bench/refloop: bench/refloop.c Makefile
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) -g $(CWARN) $< -o $@ -lm

# Latency and bandwidth curves per profile, as PNG (gnuplot-nox).
plots:
	@sh scripts/deps.sh --plots
	@$(MAKE) --no-print-directory $(BUILD)/vmmcsim
	sh scripts/plots.sh $(BUILD)

# The issue's sweep target: 10,000 seeds of the faulty 8-node all-to-all
# (the reliability scenario), with every invariant checked.
SWEEP_SEEDS ?= 1-10000
sweep-10k: deps
	@$(MAKE) --no-print-directory $(BUILD)/vmmcsim
	sh scripts/sweep-10k.sh $(BUILD) $(SWEEP_SEEDS)

check-deps:
	@sh scripts/check-deps.sh

# Planted protocol bugs (tests/mutants/) must each be caught by a sweep.
mutants: deps
	sh scripts/mutants.sh

# A sweep's round trip through a real single-node Slurm (needs root; installs
# slurmctld slurmd slurm-client munge).  Not part of `make test`.
.PHONY: test-slurm
test-slurm: deps
	MAKE="$(MAKE)" bash scripts/test-slurm.sh

# ---- make fuzz: one libFuzzer harness per parser of outside input ----
# Clang with ASan+UBSan; objects in build-fuzz/, never mixed with build/.
# scripts/fuzz.sh runs each harness FUZZ_S seconds and prints what it did.
FUZZ_S ?= 60
FUZZ_BUILD := build-fuzz
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=c11 -O1 -g $(CWARN) -D_DEFAULT_SOURCE -I. -DVS_LIBFUZZER \
               $(TIRPC_CFLAGS) \
               -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(CORE_SRC) \
                $(filter-out cli/main.c,$(CLI_SRC)) fuzz/common.c)
FUZZ_BIN := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(FUZZ_BIN): $(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz:
	@sh scripts/deps.sh --fuzz
	@$(MAKE) --no-print-directory fuzz-build
	sh scripts/fuzz.sh $(FUZZ_S) $(FUZZ_NAMES)

format:
	clang-format -i $(CORE_SRC) $(CLI_SRC) $(TEST_SRC) $(wildcard */*.h tests/*/*.h)

clean:
	rm -rf build build-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
ifneq ($(filter fuzz fuzz-build build-fuzz/%,$(MAKECMDGOALS)),)
-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
endif
