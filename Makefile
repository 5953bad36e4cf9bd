# Two commands do all the set-up: `make demo` (the side-by-side comparison) and `make test`.
# Both create .venv and install every framework on first use (Python >= 3.10 and pip).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test check rosetta bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m comparisons

# Every framework is installed here, so a skipped cross-framework test is a failure.
test: $(STAMP)
	$(BIN)/python -m pytest --require-all-frameworks

check: $(STAMP)
	$(BIN)/python -m comparisons check

rosetta: $(STAMP)
	$(BIN)/python -m comparisons rosetta

bench: $(STAMP)
	$(BIN)/python -m comparisons bench

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) comparison-output .pytest_cache .hypothesis
