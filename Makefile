# Front door over the CMake presets. `make run` and `make test` are the two commands a
# fresh Debian 12 machine needs; both install missing packages when run as root.
PKGS := cmake make gcc pkg-config libfyaml-dev libsqlite3-dev
JOBS ?= 2
ULTRASIM := build/release/ultrasim

.PHONY: all deps build run test test-asan test-release bench install fuzz fuzz-merge clean format

all: build

deps:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$$missing; \
	  else \
	    echo "missing packages; run:"; \
	    echo "  sudo apt-get install -y --no-install-recommends$$missing"; exit 1; \
	  fi; \
	fi

build: deps
	@echo "building ultrasim (release preset; log in build/release-build.log)..."
	@mkdir -p build
	@cmake --preset release >build/release-build.log 2>&1 && \
	  cmake --build --preset release -j $(JOBS) --target ultrasim >>build/release-build.log 2>&1 \
	  || { cat build/release-build.log; exit 1; }

# The story of the default job: Trn3 against GB300 from 8K to 1M chips, the knee, why MFU
# falls past it, and an HTML report (build/report.html).
run: build
	@$(ULTRASIM) scale examples/frontier.yaml --systems trn3-ultraserver,gb300-nvl72 \
	  --chips 8K..1M --report build/report.html

test: test-asan test-release

test-asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

test-release: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)
	ctest --preset release -j $(JOBS)

bench: build
	cmake --build --preset release -j $(JOBS) --target bench

install: build
	cmake --build --preset release -j $(JOBS)
	cmake --install build/release --prefix $${PREFIX:-/usr/local}

# FUZZ_SECONDS bounds each fuzzer's run (CI uses a short one).
FUZZ_SECONDS ?= 60
fuzz: deps
	@command -v clang >/dev/null || { echo "fuzzing needs clang: apt-get install -y --no-install-recommends clang"; exit 1; }
	cmake --preset fuzz -DUS_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build --preset fuzz -j $(JOBS) --target fuzzers
	ctest --preset fuzz -L fuzz

# Folds the inputs `make fuzz` found that add coverage into fuzz/corpus (commit them).
fuzz-merge:
	@for f in build/fuzz/fuzz_*; do \
	  [ -x "$$f" ] || continue; n=$$(basename $$f); \
	  mkdir -p fuzz/corpus/$$n; \
	  $$f -merge=1 fuzz/corpus/$$n build/fuzz/fuzz-corpus/$$n; \
	done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
