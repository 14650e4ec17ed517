# Two entry points (see README): `make lab` and `make test`. Everything installs into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rft-installed

.PHONY: install system-deps lab test test-js lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# JupyterLab's jlpm (yarn) and jupyter-builder come from the venv; Node from the machine.
JLPM := PATH="$(CURDIR)/$(BIN):$$PATH" "$(CURDIR)/$(BIN)/jlpm"
LABEXT_BUILT := rft_jupyter/labextension/static/style.js
LABEXT_SOURCES := $(wildcard labextension/src/*.ts labextension/src/*.json labextension/style/* \
	labextension/schema/*) labextension/package.json labextension/yarn.lock

# Re-install when the project's metadata changes; WordNet (for METEOR) comes from a PyPI sdist.
# pip builds the labextension (hatch-jupyter-builder); `develop` then links the build output into
# the venv so that later rebuilds (below) reach JupyterLab without a reinstall.
LINKED_LABEXT := $(VENV)/share/jupyter/labextensions/rft-jupyter
$(STAMP): pyproject.toml | $(BIN)/python
	if [ -L $(LINKED_LABEXT) ]; then rm $(LINKED_LABEXT); fi  # pip must not write through it
	$(BIN)/python -m pip install --quiet -e '.[dev,lab,local]'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter-builder develop --overwrite . >/dev/null
	$(BIN)/rft-jupyter install-wordnet
	touch $(STAMP)

# Rebuild the labextension when its sources change.
$(LABEXT_BUILT): $(LABEXT_SOURCES) | $(STAMP)
	cd labextension && $(JLPM) install && $(JLPM) build:prod

install: $(STAMP) $(LABEXT_BUILT) system-deps

# Debian packages: bubblewrap isolates python graders; chromium runs the browser tests (never a
# downloaded browser). CI runs as root; elsewhere we only advise.
DEB_PACKAGES := bubblewrap chromium
system-deps:
	@missing=""; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "note: missing Debian packages:$$missing (sudo apt-get install$$missing)"; \
	  fi; \
	fi

# JupyterLab refuses to run as root unless told (CI and these machines run as root).
LAB_ARGS ?=
lab: install
	mkdir -p notebooks
	$(BIN)/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS) notebooks/

lint: install
	$(BIN)/ruff check .

# The labextension's unit tests read payloads the Python side makes now (tests/labext_payloads.py).
test-js: install
	$(BIN)/python tests/labext_payloads.py labextension/.payloads >/dev/null
	cd labextension && $(JLPM) test

# Browser tests run on their own: Playwright's sync API keeps an event loop in its process.
test: install lint test-js
	$(BIN)/python -m pytest -n 2 -q --ignore=tests/browser
	$(BIN)/python -m pytest -q tests/browser

bench: install
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis rft_jupyter/labextension \
		labextension/lib labextension/node_modules labextension/.payloads
