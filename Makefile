# Two entry points, both usable on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test setup clean

setup: $(STAMP)

# torch first and pinned: that exact CPU build is what the machines carry; a bare `torch` pulls a CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/make_example_session.py examples/build/session
	$(VENV)/bin/nbd examples/build/session --tempo-map examples/build/session/song.mid -o examples/build/out
	$(PY) examples/compare_with_truth.py examples/build/session examples/build/out
	@echo
	@echo "Demo outputs: stems in examples/build/out/stems/, edit plan in examples/build/out/edits.json"

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) examples/build
