# Two commands do all the set-up: `make demo` (the side-by-side comparison) and `make test`.
# Both create .venv and install every framework on first use (Python >= 3.10 and pip).
PY ?= python3
# torch comes in two builds. TORCH=cpu, the default where there is no `nvidia-smi`, installs
# PyTorch's CPU-only wheel from TORCH_INDEX, PyTorch's own CPU index, in place of your pip
# index (about 0.2 GB instead of about 5.5 GB of NVIDIA libraries and triton); TORCH=cuda
# installs the default build from your pip index. TORCH_SPEC pins a version (e.g.
# `make test TORCH_SPEC='torch==2.13.0'`); TORCH_INDEX= (empty) installs torch from your pip
# index, for a mirror that holds the build you want (CI's holds the CPU one: .ci/run).
# An index that cannot be reached fails after one retry of 15 s, not minutes; then, and
# when the build that arrived is not the one TORCH names (torch.version.cuda, checked after
# installing), the install stops with one line naming the way out, and .venv is not marked
# as installed.
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

# pip's options for torch: the chosen index instead of pip's own, and a quick failure
TORCH_PIP = $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX) --retries 1 --timeout 15)
ifneq ($(TORCH_INDEX),)
TORCH_UNREACHABLE = make: cannot install $(TORCH_SPEC) from $(TORCH_INDEX) (TORCH=$(TORCH)). \
Where that index cannot be reached, install from your pip index instead: make TORCH_INDEX= \
TORCH_SPEC='torch==VERSION' naming a $(TORCH) build it holds (the build that arrives is checked)
else
TORCH_UNREACHABLE = make: cannot install $(TORCH_SPEC) from your pip index (TORCH=$(TORCH)); \
pip says why above: TORCH_SPEC='torch==VERSION' names another version, TORCH_INDEX=URL an index
endif
export TORCH_UNREACHABLE

# The build that arrived, against TORCH: one line and exit status 1 when they differ.
define TORCH_CHECK
import sys
try:
    import torch
except Exception as err:
    sys.exit(f"make: torch was installed but does not import: {err}")
want, cuda, version = sys.argv[1], torch.version.cuda, torch.__version__
way_out = {
    "cpu": "TORCH_INDEX=https://download.pytorch.org/whl/cpu (the default), or TORCH_INDEX= "
    "TORCH_SPEC='torch==VERSION' naming a CPU build your pip index holds; or keep it: TORCH=cuda",
    "cuda": "TORCH_INDEX= (PyPI's Linux build), or TORCH_INDEX=<PyTorch's index for "
    "your CUDA version>; or keep it: TORCH=cpu",
}
if (cuda is None) != (want == "cpu"):
    got = "the CPU-only build" if cuda is None else f"a CUDA {cuda} build (about 5.5 GB)"
    sys.exit(
        f"make: TORCH={want}, but torch {version} arrived as {got}. "
        f"`make clean`, then install the {want} build: {way_out[want]}"
    )
endef
export TORCH_CHECK

.PHONY: demo test check rosetta notebooks bench lint clean help

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PIP) '$(TORCH_SPEC)' \
		|| { echo "$$TORCH_UNREACHABLE" >&2; exit 1; }
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	$(BIN)/python -c "$$TORCH_CHECK" $(TORCH)
	touch $(STAMP)

# `make` alone is the rule above: it sets up .venv (and says it is up to date once it is).
# `make help` lists the targets: each documented by the `## ` text on its own line.
help: ## list the targets and the install options
	@echo 'usage: make TARGET [TORCH=cpu|cuda] [TORCH_SPEC=...] [TORCH_INDEX=...] [JOBS=N]'
	@awk -F ':.*## ' '/^[a-z]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))
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

rosetta: $(STAMP) ## each concept of chapters 1-6 in NumPy | PyTorch | JAX
	$(BIN)/python -m comparisons rosetta

# Each notebook run top to bottom in one kernel and stored with this run's outputs, so
# that what GitHub shows is what the current code prints (tests/learn/test_notebooks.py
# runs them again and compares).
notebooks: $(STAMP) ## run notebooks/*.ipynb top to bottom and store them with the outputs
	$(BIN)/python -m comparisons.rosetta.notebooks --write

bench: $(STAMP) ## timings of every framework and mode (minutes; docs/speed.md)
	$(BIN)/python -m comparisons bench

lint: $(STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean: ## remove .venv, comparison-output/ and the test caches
	rm -rf $(VENV) comparison-output .pytest_cache .hypothesis
