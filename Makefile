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

# Start the daemon in the foreground with the bundled rules, recording every
# decision in an audit log in the build directory (RUN_AUDIT), so that
# `filterctl audit report` has something to show from the first run.
RUN_AUDIT ?= $(CURDIR)/$(BUILD)/audit.log
run: build
	@echo "make run: audit log (every decision): $(RUN_AUDIT)"
	@echo "make run: report: ./$(BUILD)/filterctl audit report $(RUN_AUDIT) --html $(BUILD)/report.html"
	./$(BUILD)/filterd --foreground --rules rules --audit $(RUN_AUDIT) --audit-level all $(RUN_ARGS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same tests built with AddressSanitizer + UndefinedBehaviorSanitizer.
# Criterion runs each test in a child whose leak report would not fail the
# test, and the daemons the integration tests start are children too: every
# sanitizer report goes to a file under $(BUILD_ASAN)/sanitizer/, and any
# such file fails the run.
test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DFILTERD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	rm -rf $(BUILD_ASAN)/sanitizer && mkdir -p $(BUILD_ASAN)/sanitizer
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:log_path=$(CURDIR)/$(BUILD_ASAN)/sanitizer/report \
	  UBSAN_OPTIONS=print_stacktrace=1:log_path=$(CURDIR)/$(BUILD_ASAN)/sanitizer/report \
	  ctest --output-on-failure -j $(JOBS)
	@if ls $(BUILD_ASAN)/sanitizer/report* >/dev/null 2>&1; then \
	  cat $(BUILD_ASAN)/sanitizer/report*; echo "sanitizer reports above"; exit 1; fi

check: build
	./$(BUILD)/filterd --check --rules rules

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)

# Benchmarks: an optimised build of their own, tables on stdout, JSON in bench/results/.
# fd_bench: the hot path in process; bench/run.sh: the daemon end to end over its socket
# (fd_loadgen). See bench/README.md. bench-quick takes about 1 minute after the build.
BUILD_BENCH ?= build-bench
.PHONY: bench bench-quick bench-build
bench-build: deps
	cmake -S . -B $(BUILD_BENCH) -DCMAKE_BUILD_TYPE=Release -DFILTERD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD_BENCH) -j $(JOBS)

bench: bench-build
	mkdir -p bench/results
	./$(BUILD_BENCH)/fd_bench --rules rules --json bench/results/hotpath.json
	./bench/run.sh $(BUILD_BENCH)

bench-quick: bench-build
	mkdir -p bench/results
	./$(BUILD_BENCH)/fd_bench --quick --rules rules --json bench/results/hotpath-quick.json
	./bench/run.sh --quick $(BUILD_BENCH)

# `filterctl audit report` over AUDIT_RECORDS generated records (10 files, 8 of them .gz):
# time and peak RSS against `audit stats` in the same run; the example report goes to
# bench/results/audit-report.html. About 1 GB of temporary files, removed afterwards.
AUDIT_RECORDS ?= 10000000
.PHONY: bench-audit
bench-audit: deps
	cmake -S . -B $(BUILD_BENCH) -DCMAKE_BUILD_TYPE=Release -DFILTERD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD_BENCH) -j $(JOBS) --target filterctl fd_auditbench
	mkdir -p bench/results
	./$(BUILD_BENCH)/fd_auditbench --filterctl $(BUILD_BENCH)/filterctl --records $(AUDIT_RECORDS) \
	  --rules rules --html bench/results/audit-report.html --json bench/results/audit-report.json

# libFuzzer harnesses (tests/fuzz): clang, the engine built with
# -fsanitize=fuzzer-no-link,address,undefined. Each harness runs for
# FUZZ_SECONDS on one core, from its seeds (tests/fuzz/corpus/NAME) plus
# what earlier runs found ($(BUILD_FUZZ)/corpus/NAME); any crash, leak,
# UB report, timeout or failed check stops it with a non-zero exit and
# leaves the input in $(BUILD_FUZZ)/artifacts/. The fuzzer's progress goes
# to $(BUILD_FUZZ)/NAME.log; only its final figures (or a failure's last
# lines) are printed. Dictionaries:
# tests/fuzz/NAME.dict. For a full leak stack through PCRE2/Hyperscan (no
# frame pointers), rerun the artifact with ASAN_OPTIONS=fast_unwind_on_malloc=0.
BUILD_FUZZ     ?= build-fuzz
FUZZ_SECONDS   ?= 60
FUZZ_HARNESSES ?= fuzz_rules fuzz_scan fuzz_stream fuzz_audit_verify fuzz_proto fuzz_http fuzz_httpd fuzz_form
FUZZ_ARGS      ?=
# A rule directory (e.g. rules) for fuzz_scan/fuzz_stream instead of their fixed set.
FUZZ_RULES     ?=
.PHONY: fuzz fuzz-build
fuzz-build: deps
	cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DFILTERD_FUZZ=ON -DFILTERD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target $(FUZZ_HARNESSES)

fuzz: fuzz-build
	@set -e; for h in $(FUZZ_HARNESSES); do \
	  mkdir -p $(BUILD_FUZZ)/corpus/$$h $(BUILD_FUZZ)/artifacts; \
	  echo "== $$h ($(FUZZ_SECONDS) s)"; \
	  dict=; [ ! -f tests/fuzz/$$h.dict ] || dict=-dict=tests/fuzz/$$h.dict; \
	  if ! FILTERD_FUZZ_RULES=$(FUZZ_RULES) ASAN_OPTIONS=detect_leaks=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ./$(BUILD_FUZZ)/tests/fuzz/$$h -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 \
	    -max_len=4128 -print_final_stats=1 -artifact_prefix=$(BUILD_FUZZ)/artifacts/$$h- $$dict $(FUZZ_ARGS) \
	    $(BUILD_FUZZ)/corpus/$$h tests/fuzz/corpus/$$h > $(BUILD_FUZZ)/$$h.log 2>&1; then \
	    tail -n 80 $(BUILD_FUZZ)/$$h.log; echo "$$h failed (log: $(BUILD_FUZZ)/$$h.log)"; exit 1; fi; \
	  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' $(BUILD_FUZZ)/$$h.log; \
	done

# clang-format (.clang-format at the top): `make format` rewrites, `make format-check`
# fails on any file that differs (CI runs it). Fuzz seed corpora are data, not code.
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' | grep -v '^tests/fuzz/corpus/')
.PHONY: format format-check
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES)
