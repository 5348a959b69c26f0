# dicomguard: the README's two commands are `scripts/setup-debian.sh && make demo` and
# `scripts/setup-debian.sh && make test`. Every target builds what it needs first.
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 30
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

.PHONY: all setup build asan test unit-test integration-test asan-test fuzz-smoke fuzz demo bench bench-files-1m bench-deid bench-gateway bench-weblog soak-gateway install install-strip deb deb-test clean

all: build

setup:
	@scripts/setup-debian.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=g++ $(CMAKE_FLAGS)

build: setup $(BUILD)/build.ninja
	ninja -C $(BUILD) -j $(JOBS)

# clang with AddressSanitizer + UndefinedBehaviorSanitizer, and the libFuzzer targets.
$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_C_COMPILER=clang -DDG_SANITIZE=ON -DDG_FUZZ=ON $(CMAKE_FLAGS)

asan: setup $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD) -j $(JOBS)

unit-test: build
	cd $(BUILD) && ctest --output-on-failure -L unit -j $(JOBS)

integration-test: build
	cd $(BUILD) && ctest --output-on-failure -L integration

asan-test: asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(ASAN_BUILD)/unit_tests --gtest_brief=1

fuzz-smoke: asan
	FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) scripts/fuzz.sh $(ASAN_BUILD)

# The whole suite: unit and integration tests (g++ build), unit tests under ASan+UBSan (clang), fuzz smoke.
test: build asan
	cd $(BUILD) && ctest --output-on-failure -j 2
	$(MAKE) --no-print-directory asan-test fuzz-smoke

fuzz: asan
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(ASAN_BUILD)

demo: build
	$(BUILD)/dicomguard demo --out $(BUILD)/demo

bench: build
	bash bench/files/run.sh $(BUILD)/dicomguard
	bash bench/files/bigfile.sh $(BUILD)/dicomguard
	bash bench/files/hostile.sh $(BUILD)/dicomguard
	bash bench/scan/run.sh $(BUILD)/dicomguard
	bash bench/tls/run.sh $(BUILD)/dicomguard
	bash bench/deid/run.sh $(BUILD)/dicomguard
	bash bench/gateway/run.sh $(BUILD)/dicomguard

# dicomguard deid vs gdcmanon, a pydicom basic-profile script, PixelMed and cp -r (BENCH_2GB=1 adds a 2 GiB file).
# dicomguard files over 1,000,000 small files (tree cached in $${BENCH_DIR:-/tmp/dg-bench-1m}): files/s against
# the two-thread every-byte floor, and peak RSS (flat: the walk is streamed).
bench-files-1m: build
	bash bench/files/million.sh $(BUILD)/dicomguard

bench-deid: build
	bash bench/deid/run.sh $(BUILD)/dicomguard

# C-STORE of BENCH_GB (default 1) GiB: direct, through dicomguard gateway (TLS in, plain out), through stunnel,
# and through the gateway TLS in and out (legs 2 and 4 say "gateway: not built" without the gateway command).
bench-gateway: build
	bash bench/gateway/run.sh $(BUILD)/dicomguard

# dicomguard weblog on a 1 GiB access log vs grep -F (same keys) and a Python script (issue 14).
bench-weblog: build
	bash bench/weblog/run.sh $(BUILD)/dicomguard

# 500 associations held at once, 10,000 malformed PDU streams and a good C-ECHO client meanwhile, through
# dicomguard gateway to storescp; RSS watched, SIGTERM, the JSON log checked (SOAK_ASAN=build-asan/dicomguard: again
# under ASan).
soak-gateway: build
	/usr/bin/python3 bench/gateway/soak.py $(BUILD)/dicomguard

# The binary, man pages and bash/zsh completions under $(PREFIX) (DESTDIR honoured, for staging).
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

# The same with the binary stripped of its debug information (about 6 MB instead of 144 MB).
install-strip: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX) --strip

# The Debian package (stripped binary; Depends computed by dpkg-shlibdeps), in $(BUILD)/.
deb: build
	cd $(BUILD) && cpack -G DEB
	@echo "deb: $$(ls -t $(abspath $(BUILD))/dicomguard_*.deb | head -1)"

# Installs the package into a fresh debootstrap'd Debian 12 and runs dicomguard demo there. Downloads from the
# Debian mirror: not part of `make test`.
deb-test: deb
	scripts/deb-test.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
