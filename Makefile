# odr — two commands: `make run` serves the seeded centre, `make test` runs the suite.
# Embedded default: SQLite + in-process channel layer + filesystem Celery broker (no services).
# Production path: set DATABASE_URL (PostgreSQL) and REDIS_URL (channels + Celery broker).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | md5sum | cut -c1-8)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install fonts browser run test lint bench bench-deps bench-quick graph clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

run: install fonts
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo --if-empty
	HOST=$(HOST) PORT=$(PORT) ./scripts/run.sh

# Debian packages: DejaVu fonts (Vietnamese glyphs in the case dossier PDF) and, for the browser
# tests, headless Chromium (Playwright never downloads a browser here).
fonts:
	@dpkg -s fonts-dejavu-core >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null)

browser: fonts
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

test: install browser
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run > /dev/null
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . || true

# wrk (Debian) is the HTTP load generator of the benchmarks.
bench-deps:
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)

bench: install bench-deps
	$(BIN)/python -m bench.run

bench-quick: install bench-deps
	$(BIN)/python -m bench.run --quick

graph: install
	$(BIN)/python manage.py graph_transitions cases.Case

clean:
	rm -rf var staticfiles
