# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# What is installed in $(VENV), one stamp per level, each re-installed when pyproject.toml
# changes: STAMP everything (engine + dev tools: test, lint, bench), ENGINE_STAMP the bot + the
# engine extra (torch; executor hosts), BOT_STAMP the bot, store, migrations and operator
# commands only (no torch).
STAMP        := $(VENV)/.installed
ENGINE_STAMP := $(VENV)/.installed-engine
BOT_STAMP    := $(VENV)/.installed-bot
# Pinned torch for these machines (taken from local disk); users elsewhere get any release >= the floor.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1

# Executors `make run` starts here: EXECUTORS from the command line or the environment, else the
# last numeric `EXECUTORS=` of .env, else 1 (the default `auto` starts at least one). Only where
# it is above 0 does `make run` install the engine; a bot-only host (EXECUTORS=0) never
# downloads torch.
ENV_EXECUTORS := $(shell sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?EXECUTORS[[:space:]]*=[[:space:]]*[\"']?(-?[0-9]+).*/\2/p" .env 2>/dev/null | tail -n 1)
RUN_EXECUTORS := $(or $(EXECUTORS),$(ENV_EXECUTORS),1)
RUN_STAMP     := $(if $(shell [ '$(RUN_EXECUTORS)' -le 0 ] 2>/dev/null && echo bot),$(BOT_STAMP),$(ENGINE_STAMP))

.PHONY: run test lint bench bench-gpu bench-queue bench-bot bench-chaos bench-web install install-engine install-bot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first: the pinned build from local disk where it is there, else any release.
define install-torch
	@$(BIN)/python -c "import torch, torchvision" 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet $(TORCH_PINS) || \
	  $(BIN)/python -m pip install --quiet torch torchvision
endef

$(STAMP): pyproject.toml | $(BIN)/python
	$(install-torch)
	$(BIN)/python -m pip install --quiet -e '.[engine,dev]'
	@touch $(STAMP) $(ENGINE_STAMP) $(BOT_STAMP)

$(ENGINE_STAMP): pyproject.toml | $(BIN)/python
	$(install-torch)
	$(BIN)/python -m pip install --quiet -e '.[engine]'
	@touch $(ENGINE_STAMP) $(BOT_STAMP)

$(BOT_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $(BOT_STAMP)

install: $(STAMP)
install-engine: $(ENGINE_STAMP)
install-bot: $(BOT_STAMP)

run: $(RUN_STAMP)
	$(BIN)/nst-bot run

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

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

# Gallery page p50/p99 over 10 000 stored jobs and the bot loop's lag under 50 web clients.
bench-web: $(STAMP)
	$(BIN)/python -m bot.webui.bench $(BENCH_ARGS)

# 200 jobs through bot and executor SIGKILLs and Discord 429/500/resets: deliveries, duplicates,
# lost, and p50/p99/max from finished to delivered (several minutes on 2 cores).
bench-chaos: $(STAMP)
	$(BIN)/python -m tests.bot.chaos_bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
