# The two commands of the README. Both make .venv/ on their own from a Python >= 3.12.
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= experiments/cryo_checkpoint.toml
OUT ?= results/cryo_checkpoint
WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: run test bench env clean

$(VENV)/.installed: pyproject.toml
	@interp=$$(tools/find-python) || exit 1; \
	  echo "creating $(VENV) with $$interp"; \
	  "$$interp" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask,sensitivity,view,fast]'
	@touch $@

env: $(VENV)/.installed

run: env
	$(VENV)/bin/abscopal run $(CONFIG) --out $(OUT) --workers $(WORKERS) --force

test: env
	$(PY) -m pytest $(PYTEST_ARGS)

bench: env
	$(PY) experiments/benchmark.py

clean:
	rm -rf $(VENV) build *.egg-info
