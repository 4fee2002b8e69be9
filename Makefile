# One task runner for people and CI. `make run` needs only the runtime dependencies
# (it must work on a Raspberry Pi); `make test` adds the dev extra and a browser, and runs
# the suite on two workers per core (pytest-xdist; a test module stays on one worker, and a
# worker's browser tests share one browser).

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

# Two workers per core: a worker spends about half its time waiting (on a browser, a
# subprocess daemon, a real-time deadline), and another worker's tests fill that time.
WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))

# Bytecode is cached even where the environment turns it off (PYTHONDONTWRITEBYTECODE): each
# worker and each daemon the tests start would otherwise compile eegd and rewrite and compile
# every test module again, about 4 s of CPU per worker.
test: $(VENV)/.dev browser
	PYTHONDONTWRITEBYTECODE= PYTHONASYNCIODEBUG=1 PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 \
		$(BIN)/pytest $(NAMED_PLUGINS) -n $(WORKERS) --dist loadfile

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
