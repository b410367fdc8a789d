# cmsim - the two commands, over CMake.
#
#   make run    install what is missing, build (Release), run the default batch
#   make test   install what is missing, build with warnings as errors, ctest
#
# Other targets: build, sanitize (ASan+UBSan build and ctest, then the threaded
# tests under TSan), fuzz (libFuzzer, FUZZ_SECONDS=60), bench, clean, deps.

SHELL       := /bin/bash
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
BUILD       ?= build
TEST_BUILD  ?= build-test
SAN_BUILD   ?= build-sanitize
TSAN_BUILD  ?= build-tsan
FUZZ_BUILD  ?= build-fuzz
FUZZ_SECONDS ?= 60
SCENARIO    ?= scenarios/central_asia.cfg
RUN_ARGS    ?=
CMAKE_FLAGS ?=

.PHONY: all run test build sanitize fuzz bench deps clean

all: build

deps:
	@bash tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMSIM_BUILD_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@scen="$(SCENARIO)"; [ -f "$$scen" ] || scen=scenarios/example.cfg; \
	echo "cmsim: running $$scen"; \
	./$(BUILD)/cmsim run "$$scen" --force $(RUN_ARGS)

# The MPI build (when Open MPI is installed) is tested against the plain one.
MPI_BUILD   ?= build-mpi

test: deps
	@if command -v mpicc >/dev/null 2>&1; then \
	  cmake -S . -B $(MPI_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMSIM_WERROR=ON -DCMSIM_WITH_MPI=ON -DCMSIM_BUILD_TESTS=OFF $(CMAKE_FLAGS) && \
	  cmake --build $(MPI_BUILD) -j $(JOBS); \
	else echo "cmsim: no mpicc: the MPI build and its test are skipped"; fi
	mpi=""; [ -x $(MPI_BUILD)/cmsim ] && mpi="$(CURDIR)/$(MPI_BUILD)/cmsim"; \
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMSIM_WERROR=ON -DCMSIM_BUILD_TESTS=ON \
	  -DCMSIM_MPI_BINARY="$$mpi" $(CMAKE_FLAGS)
	cmake --build $(TEST_BUILD) -j $(JOBS)
	cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)

sanitize: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Sanitize -DCMSIM_WERROR=ON -DCMSIM_BUILD_TESTS=ON $(CMAKE_FLAGS)
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)
	bash tests/hardening/tsan.sh $(TSAN_BUILD)

# libFuzzer over the configuration path (clang; docs/hardening.md).
fuzz: deps
	FUZZ_BUILD=$(FUZZ_BUILD) bash tests/fuzz/run.sh $(FUZZ_SECONDS)

bench: deps
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DCMSIM_BUILD_BENCH=ON -DCMSIM_BUILD_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build build-bench -j $(JOBS)
	@if [ -x bench/run.sh ]; then bash bench/run.sh build-bench; else echo "bench: no benchmarks yet"; fi

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(SAN_BUILD) $(MPI_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) build-bench
