# The two commands of the README:
#   make lab   set up .venv and open your copy of the quickstart notebook (in .lab/) in JupyterLab
#   make test  set up .venv and run the whole test suite (what .ci/run calls)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup lab test lint screenshot clean

setup: $(STAMP)

# torch==2.13.0 first: on machines with a local CPU wheel it keeps pip from pulling the CUDA build;
# pyproject.toml keeps a normal range for everyone else.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

# JupyterLab saves a notebook as you work, so it opens your own copy in .lab/ (ignored by git), never the tutorial
# in notebooks/: the copy is made once and kept with your changes (delete .lab/ for a fresh one).
# (root, as in containers, needs --allow-root; nobody else gets it)
LAB := .lab
lab: setup
	mkdir -p $(LAB)
	test -e $(LAB)/01_quickstart.ipynb || cp notebooks/01_quickstart.ipynb $(LAB)/
	$(BIN)/jupyter trust $(LAB)/01_quickstart.ipynb
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB)/01_quickstart.ipynb

test: setup
	$(BIN)/python -m pytest

# refresh the README's pictures of the Workbench (JupyterLab, Notebook 7, Voila) in docs/; needs /usr/bin/chromium
screenshot: setup
	MUSEWIDGETS_SCREENSHOT_DIR=$(CURDIR)/docs $(BIN)/python -m pytest -p no:cacheprovider tests/test_browser.py

lint: setup
	$(BIN)/ruff check musewidgets tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
