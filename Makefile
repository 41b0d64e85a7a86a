# vidgate: `make run` starts the server, `make test` checks the format, the lint and the types,
# then runs the whole suite with the `local` extra installed (`make lint` for the first three alone).
# `make run PORT=8001 HOST=0.0.0.0` serves elsewhere; `make test PYTEST_ARGS="tests/unit -q"` runs a part.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the `local` extra (torch, diffusers...): `make test` adds it, `make run` never does
LOCAL_STAMP := $(VENV)/.installed-local
# the CPU build of torch this machine keeps on disk; an open range would download a CUDA build
TORCH  ?= torch==2.13.0
# set on the command line only: a PORT or HOST in the environment (many platforms export one) is not used
HOST   = 127.0.0.1
PORT   = 8000

.PHONY: install run lint test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# first the pinned torch (so the extra's range installs nothing more), then the extra
$(LOCAL_STAMP): $(STAMP)
	$(BIN)/pip install --quiet '$(TORCH)'
	$(BIN)/pip install --quiet -e '.[dev,local]'
	touch $(LOCAL_STAMP)

run: $(STAMP)
	$(BIN)/vidgate serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: lint $(LOCAL_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/render.py

clean:
	rm -rf $(VENV) .vidgate .pytest_cache .mypy_cache .ruff_cache
