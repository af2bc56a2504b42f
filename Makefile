# make test / make demo create .venv when missing and install the project into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: test demo slow zoo-table clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,text]"
	touch $@

test: $(VENV)/.installed
	$(PY) -m pytest -q tests

slow: $(VENV)/.installed
	$(PY) -m pytest -q -m slow tests

demo: $(VENV)/.installed
	$(PY) -m kerastl demo

zoo-table: $(VENV)/.installed
	$(PY) -m kerastl list --markdown

clean:
	rm -rf runs .pytest_cache
