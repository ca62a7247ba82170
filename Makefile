# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Pinned torch for these machines (taken from local disk); users elsewhere get any release >= the floor.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1

.PHONY: run test lint bench bench-gpu bench-queue bench-bot install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -c "import torch, torchvision" 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet $(TORCH_PINS) || \
	  $(BIN)/python -m pip install --quiet torch torchvision
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/nst-bot run

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m nst_engine.bench $(BENCH_ARGS)

# On a CUDA host: per-evaluation ms at 512/1024/2048 px in fp32 and bf16, the conv floor, and
# the standard preset's 512 px wall time (a few minutes); exits 2 where there is no CUDA.
bench-gpu: $(STAMP)
	$(BIN)/python -m nst_engine.bench_gpu $(BENCH_ARGS)

bench-queue: $(STAMP)
	$(BIN)/python -m bot.store.bench $(BENCH_ARGS)
	$(BIN)/python -m bot.executor.bench
	$(BIN)/python -m bot.store.purge_bench

bench-bot: $(STAMP)
	$(BIN)/python -m tests.bot.discord_bot.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
