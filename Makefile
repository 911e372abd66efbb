# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch: on machines with a local wheel, pip takes it from disk in seconds; on a
# GPU box set TORCH_SPEC= (empty) or e.g. TORCH_SPEC='torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126'
# (unquoted below on purpose: the words reach pip as separate arguments).
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow bench lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH_SPEC),$(BIN)/python -m pip install --quiet $(TORCH_SPEC))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH ./scripts/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=10

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_decode.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_precision.py
	$(BIN)/python benchmarks/bench_fresh.py
	$(BIN)/python benchmarks/bench_mmap.py
	$(BIN)/python benchmarks/bench_flops.py
	$(BIN)/python benchmarks/bench_ray_train.py
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python benchmarks/bench_multinode.py

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache
