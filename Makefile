# Two commands do all the set-up: `make demo` (the side-by-side comparison) and `make test`.
# Both create .venv and install every framework on first use (Python >= 3.10 and pip).
PY ?= python3
# torch comes in two builds. TORCH=cpu, the default where there is no `nvidia-smi`, installs
# PyTorch's CPU-only wheel from TORCH_INDEX (about 0.2 GB instead of about 5.5 GB of NVIDIA
# libraries and triton); TORCH=cuda installs the default build from PyPI. TORCH_SPEC pins a
# version (e.g. `make test TORCH_SPEC='torch==2.13.0'`); TORCH_INDEX= (empty) adds no index.
TORCH ?= $(if $(shell command -v nvidia-smi 2>/dev/null),cuda,cpu)
ifeq ($(TORCH),cpu)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
else ifeq ($(TORCH),cuda)
TORCH_INDEX ?=
else
$(error TORCH must be cpu or cuda, got '$(TORCH)')
endif
TORCH_SPEC ?= torch
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test check rosetta bench lint clean help

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
		'$(TORCH_SPEC)'
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

# `make` alone is the rule above: it sets up .venv (and says it is up to date once it is).
# `make help` lists the targets: each documented by the `## ` text on its own line.
help: ## list the targets and the install options
	@echo 'usage: make TARGET [TORCH=cpu|cuda] [TORCH_SPEC=...] [TORCH_INDEX=...] [JOBS=N]'
	@awk -F ':.*## ' '/^[a-z]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))
	@echo 'The first target run creates .venv and installs every framework; see docs/cli.md.'

demo: $(STAMP) ## the book's run in NumPy, PyTorch and JAX side by side -> comparison-output/
	$(BIN)/python -m comparisons

# Every framework is installed here, so a skipped cross-framework test is a failure.
# JOBS pytest-xdist workers, each running whole test files (tests/conftest.py keeps the
# files that share a session run on one worker); JOBS=0 runs everything in this process.
JOBS ?= 2
test: $(STAMP) ## the whole test suite; a skipped cross-framework test fails (JOBS=2 workers)
	$(BIN)/python -m pytest --require-all-frameworks -n $(JOBS) --dist loadfile

check: $(STAMP) ## quick pass/fail parity check of every framework; exit 1 on a mismatch
	$(BIN)/python -m comparisons check

rosetta: $(STAMP) ## each concept of chapter 1 in NumPy | PyTorch | JAX
	$(BIN)/python -m comparisons rosetta

bench: $(STAMP) ## timings of every framework and mode (minutes; docs/speed.md)
	$(BIN)/python -m comparisons bench

lint: $(STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean: ## remove .venv, comparison-output/ and the test caches
	rm -rf $(VENV) comparison-output .pytest_cache .hypothesis
