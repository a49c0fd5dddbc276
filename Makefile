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
	@echo "The same session as a DAW exports it, the product's headline form:"
	$(VENV)/bin/nbd examples/build/session/example.aaf --tempo-map examples/build/session/song.mid -o examples/build/out_aaf
	@echo
	@echo "Demo outputs:"
	@echo "  folder form: examples/build/out/  -> report.html, stems/, edit.aaf, edl/, hits.mid, edits.json"
	@echo "  AAF form:    examples/build/out_aaf/  -> report.html, stems/ (one per AAF track), edit.aaf, edl/, hits.mid, edits.json"
	@echo "  open examples/build/out/report.html in a browser to see the edit"

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) examples/build
