# Two entry points: `make demo` runs the platform on its embedded default, `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test install browsers lint serve bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/zhixiang demo

# Browser tests drive Debian's chromium (never a downloaded browser); CI runs as root on a clean machine.
browsers:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk)

test: install browsers
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --durations=15

serve: install
	$(BIN)/zhixiang serve

bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/rules_bench.py

clean:
	rm -rf var .pytest_cache
