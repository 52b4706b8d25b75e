# Thin wrapper around CMake: the two commands of the README, and a few helpers.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build run test test-asan check clean

all: build

deps:
	./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Start the daemon in the foreground with the bundled rules.
run: build
	./$(BUILD)/filterd --foreground --rules rules $(RUN_ARGS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same tests built with AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DFILTERD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

check: build
	./$(BUILD)/filterd --check --rules rules

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)

# Benchmarks: an optimised build of their own, a table on stdout, JSON in bench/results/.
BUILD_BENCH ?= build-bench
.PHONY: bench bench-quick bench-build
bench-build: deps
	cmake -S . -B $(BUILD_BENCH) -DCMAKE_BUILD_TYPE=Release -DFILTERD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD_BENCH) -j $(JOBS)

bench: bench-build
	mkdir -p bench/results
	./$(BUILD_BENCH)/fd_bench --rules rules --json bench/results/hotpath.json

bench-quick: bench-build
	mkdir -p bench/results
	./$(BUILD_BENCH)/fd_bench --quick --rules rules --json bench/results/hotpath-quick.json
