# Every target installs what it needs into .venv first (CPU-only torch, then the project).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the labelled histories (sample_topics.json labels the demo sample; holdout.json is reported, never tuned on)
LABELLED := tests/fixtures/clustering/pairs.json tests/fixtures/clustering/ko.json tests/fixtures/clustering/en.json tests/fixtures/clustering/mixed.json tests/fixtures/clustering/holdout.json

.PHONY: install demo test lint typecheck bench quality soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install  ## build a knowledge graph from the bundled sample history, no servers
	HF_HUB_OFFLINE=1 $(BIN)/ai-worker demo --out out

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck  ## lint, type-check, then every test
	HF_HUB_OFFLINE=1 $(BIN)/pytest

quality: install  ## clusters (AMI, purity, count) and name hit rates on the labelled histories, per language
	HF_HUB_OFFLINE=1 $(BIN)/python bench/quality.py $(LABELLED)

bench: install  ## graph generation stage timings and peak memory at 1k, 2k and 10k conversations
	HF_HUB_OFFLINE=1 $(BIN)/python bench/graph_generation.py

soak: install  ## chaos soak: 1,000 tasks, two workers, SIGKILLs, SIGTERMs and injected faults
	HF_HUB_OFFLINE=1 $(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache
