# policyd: the two set-up commands.
#   make run    install missing Debian packages, build, run policyd in the
#               foreground on 127.0.0.1:10023 (CONFIG=FILE for another policy)
#   make test   install the test packages too, build (normal with the tests,
#               ASan+UBSan, fuzz), run every suite
#   make fuzz   only the fuzzers (FUZZ_SECONDS=N each, default 30)
#   make bench  policyd against a do-nothing responder, as ratios
#   make install  binaries, manuals, policy (kept if there), systemd unit
#               into $(DESTDIR)$(PREFIX) (default /usr/local); the policy
#               goes to $(DESTDIR)/etc/policyd
# The real build is CMake; this file only wraps it.

CONFIG ?= etc/policyd.yaml
BUILD  ?= build
ASAN   ?= build-asan
FUZZ   ?= build-fuzz
FUZZ_SECONDS ?= 30
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local

# Debian 12 packages. Running needs only the first list: the second is
# for the tests, and among it is Debian's postgrey, whose package starts
# postgrey on 127.0.0.1:10023, the port make run listens on (and gross,
# which make bench compares too).
RUN_PACKAGES := build-essential cmake pkg-config \
	libuv1-dev libldns-dev libdb5.3-dev libyaml-dev libpsl-dev publicsuffix
TEST_PACKAGES := python3 python3-yaml python3-spf libcmocka-dev strace \
	db5.3-util postgrey gross postfix swaks clang libclang-rt-14-dev

.PHONY: all deps deps-test build build-tests build-asan build-fuzz fuzz \
	run test check clean install print-packages bench

all: build

# print-packages - the two lists, for people and the packaging test
print-packages:
	@echo "run: $(RUN_PACKAGES)"
	@echo "test: $(TEST_PACKAGES)"

# deps, deps-test - install what is missing of the run (and test)
# packages: as root with apt-get, else print the line
define install_missing
	@missing=""; \
	for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		    grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			echo "postfix postfix/main_mailer_type select No configuration" | \
			    debconf-set-selections 2>/dev/null; \
			apt-get update -q && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			    --no-install-recommends $$missing </dev/null || exit 1; \
		else \
			echo "missing Debian packages; as root run:"; \
			echo "  apt-get install -y --no-install-recommends$$missing"; \
			exit 1; \
		fi; \
	fi
endef

deps:
	$(call install_missing,$(RUN_PACKAGES))

deps-test: deps
	$(call install_missing,$(TEST_PACKAGES))

# The normal tree builds without the tests (make run needs neither
# cmocka nor python); make test turns them on in the same tree.
$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DPOLICYD_TESTS=OFF

$(ASAN)/CMakeCache.txt:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DPOLICYD_SANITIZE=ON

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-tests: deps-test $(BUILD)/CMakeCache.txt
	cmake -B $(BUILD) -DPOLICYD_TESTS=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps-test $(ASAN)/CMakeCache.txt
	cmake --build $(ASAN) -j $(JOBS)

$(FUZZ)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Debug -DPOLICYD_FUZZ=ON

build-fuzz: deps-test $(FUZZ)/CMakeCache.txt
	cmake -B $(FUZZ) -DFUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build $(FUZZ) -j $(JOBS)

# fuzz - the protocol and YAML parsers under libFuzzer, FUZZ_SECONDS each
fuzz: build-fuzz
	cd $(FUZZ) && ctest --output-on-failure -j $(JOBS)

run: build
	mkdir -p $(BUILD)/state
	exec $(BUILD)/policyd/policyd -f -c $(CONFIG) --state-dir $(BUILD)/state

test: build-tests build-asan build-fuzz
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN) && ctest --output-on-failure -j $(JOBS)
	cd $(FUZZ) && ctest --output-on-failure -j $(JOBS)

check: test

# bench - policyd against the do-nothing responder dunnod in one run:
# each path's requests per second and p99 as ratios (t/bench/compare.sh;
# BENCH_RUNS runs each, the median; BENCH_CONNS connections)
BENCH_RUNS ?= 3
BENCH_CONNS ?= 1 16 256 4096
bench: build-tests
	t/bench/compare.sh $(BUILD) $(BENCH_RUNS) $(BENCH_CONNS)

install: build
	cmake -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	    -DPOLICYD_UNITDIR=$(PREFIX)/lib/systemd/system \
	    -DPOLICYD_LIBDIR_SYSTEMD=$(PREFIX)/lib >/dev/null
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		echo "next: systemd-sysusers; systemd-tmpfiles --create;" \
		     "systemctl daemon-reload; systemctl enable --now policyd"; \
	fi

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
