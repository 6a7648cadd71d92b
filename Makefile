# Quick start: `make demo` grades the sample class, `make test` runs the whole suite.
# Both create .venv (with python3) the first time.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.installed

.PHONY: demo test exercises

$(READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(READY)

demo: $(READY)
	$(PY) -m autograder grade examples/class --out out/demo
	@echo "feedback: out/demo/feedback/ (.md, .html); class report: out/demo/report/report.html"

test: $(READY)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy autograder
	$(PY) -m pytest -q

# Regenerate the student files in exercises/ from solutions/ (a test fails if they drift).
exercises: $(READY)
	$(PY) -m autograder release --out out/release --student-dir exercises
