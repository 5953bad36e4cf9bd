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

.PHONY: demo test check rosetta notebooks bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
		'$(TORCH_SPEC)'
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m comparisons

# Every framework is installed here, so a skipped cross-framework test is a failure.
# JOBS pytest-xdist workers, each running whole test files (tests/conftest.py keeps the
# files that share a session run on one worker); JOBS=0 runs everything in this process.
JOBS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest --require-all-frameworks -n $(JOBS) --dist loadfile

check: $(STAMP)
	$(BIN)/python -m comparisons check

rosetta: $(STAMP)
	$(BIN)/python -m comparisons rosetta

# Each notebook run top to bottom in one kernel and stored with this run's outputs, so
# that what GitHub shows is what the current code prints (tests/learn/test_notebooks.py
# runs them again and compares).
notebooks: $(STAMP) ## run notebooks/*.ipynb top to bottom and store them with the outputs
	$(BIN)/python -m comparisons.rosetta.notebooks --write

bench: $(STAMP)
	$(BIN)/python -m comparisons bench

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) comparison-output .pytest_cache .hypothesis
