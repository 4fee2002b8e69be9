# One task runner for people and CI. `make run` needs only the runtime dependencies
# (it must work on a Raspberry Pi); `make test` adds the dev extra and a browser, and runs
# the suite on every core (pytest-xdist; a test module stays on one worker, with its browser).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint bench browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/eegd run $(ARGS)

browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; \
	elif [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	else \
		echo "The browser tests need Debian's chromium. Install it with:"; \
		echo "    sudo apt-get install chromium"; \
		exit 1; \
	fi

# pytest's plugins are named here, not found through their entry points: pytest then rewrites
# the asserts of each plugin's own module only, not of every module of its package (91 modules
# of hypothesis, xdist and others, in every worker: about 1.4 s of CPU each).
NAMED_PLUGINS := -p pytest_asyncio.plugin -p xdist.plugin -p pytest_timeout -p _hypothesis_pytestplugin

test: $(VENV)/.dev browser
	PYTHONASYNCIODEBUG=1 PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/pytest $(NAMED_PLUGINS) -n auto --dist loadfile

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(VENV)/.dev
	$(BIN)/pip install --quiet -e '.[dev,lsl]'
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/ads1299.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
