# Personvern — the two commands a fresh machine needs are `make demo` and `make test`.
# Every target creates or reuses .venv and installs what it needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_DIR ?= demo
# The demo's "now": its people, sign-ins and purchases are dated from it, so the README's
# tour prints the same on every machine (tests/project/test_readme_tour.py runs it).
DEMO_NOW ?= 2026-12-01T12:00:00+01:00
# uv never downloads an interpreter of its own: the machine's Python 3.11 is the one.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help demo test test-fast lint lock bench bench-quick docs system-deps postgres chromium wrk clean \
        install install-bench install-demo node ts-deps ts-build

help:
	@echo "make demo   - check the five example manifests and show the reports"
	@echo "make test   - install everything (from uv.lock) and run the whole test suite"
	@echo "make lint   - ruff, mypy --strict and the import-layer contracts"
	@echo "make lock   - re-resolve uv.lock after changing pyproject.toml; UPGRADE=1 takes new releases"
	@echo "make bench  - run every benchmark at full size (bench-quick: small sizes)"
	@echo "make docs   - regenerate docs/manifest.md and docs/rules.md from the code"

# uv itself, pinned by version and hash (tools/uv-requirements.txt), in its own venv.
$(UV): tools/uv-requirements.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --require-hashes -r tools/uv-requirements.txt
	@touch $(UV)

# Every install comes from uv.lock. `uv lock --check` first, so that a lock which no longer
# matches pyproject.toml is named as such (instead of quietly re-resolved); then
# `uv sync --locked` installs exactly what the lock says.
define SYNC
	@$(UV) lock --check --python $(PYTHON) || { \
	  echo >&2; \
	  echo "uv.lock does not match pyproject.toml." >&2; \
	  echo "If you changed the dependencies on purpose, run 'make lock' and commit uv.lock." >&2; \
	  exit 1; }
	@$(UV) sync --locked --python $(PYTHON) $(1)
endef

install: $(UV)
	$(call SYNC,--extra dev)

# The benchmarks also compare with presidio-analyzer (benchmarks/discover.py): the `bench`
# extra, never needed by the engine or its tests.
install-bench: $(UV)
	$(call SYNC,--extra dev --extra bench)

install-demo: $(UV)
	$(call SYNC,--extra demo --inexact)

# `make lock` after editing pyproject.toml; `make lock UPGRADE=1` takes every newest release.
lock: $(UV)
	$(UV) lock --python $(PYTHON) $(if $(UPGRADE),--upgrade)
	@echo "uv.lock re-resolved; review 'git diff uv.lock' and commit it on its own."

# PostgreSQL server binaries for the throwaway test cluster (tests start and remove it).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing PostgreSQL (needed by the storage tests)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; \
	fi

# Chromium for the browser tests (Playwright drives Debian's build; no browser download).
chromium:
	@if ! [ -x /usr/bin/chromium ]; then \
	  echo "installing Chromium (needed by the browser tests)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi

# Node.js and npm for the TypeScript client (clients/typescript): built and tested by `make test`.
node:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  echo "installing Node.js and npm (needed by the TypeScript client's tests)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; \
	fi

system-deps: postgres chromium node

# The TypeScript client's packages, exactly as package-lock.json pins them (`npm ci`).
TS := clients/typescript
$(TS)/node_modules/.package-lock.json: $(TS)/package-lock.json $(TS)/package.json
	cd $(TS) && npm ci --no-audit --no-fund
	@touch $@

ts-deps: node $(TS)/node_modules/.package-lock.json

# The client compiled (dist/), for the benchmark that times it (benchmarks/consent.py).
ts-build: ts-deps
	cd $(TS) && npm run build --silent

# Two workers (pytest-xdist), fewer on a one-core machine; each has its own PostgreSQL
# cluster, temporary directories and Chromium. `make test PYTEST_ARGS=` runs in one process.
PYTEST_ARGS ?= -n auto --maxprocesses=2

test: install system-deps ts-deps
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

docs: install
	$(BIN)/python -m personvern.manifest.reference > docs/manifest.md
	$(BIN)/python -m personvern.check.reference > docs/rules.md
	$(BIN)/python -m personvern.web.reference docs/api.md
	$(BIN)/python -m personvern.web.reference --openapi $(TS)/openapi.json

# wrk drives the HTTP benchmarks (benchmarks/consent.py, benchmarks/web.py).
wrk:
	@if ! command -v wrk >/dev/null 2>&1; then \
	  echo "installing wrk (needed by the HTTP benchmarks)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; \
	fi

# Every benchmark runs even when one fails; the failures are named at the end (exit 1).
define BENCH_ALL
	@failed=""; for b in benchmarks/[!_]*.py; do echo "== $$b"; \
	  $(BIN)/python $$b $(1) || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "benchmarks that failed:$$failed" >&2; exit 1; fi
endef

bench: install-bench system-deps wrk ts-build
	$(call BENCH_ALL,)

bench-quick: install-bench system-deps wrk ts-build
	$(call BENCH_ALL,--quick)

demo: install-demo
	$(BIN)/personvern demo init $(DEMO_DIR) --subjects 2000 --force --now $(DEMO_NOW)
	@for f in examples/*.yaml; do \
	  echo; echo "=== personvern check $$f"; \
	  $(BIN)/personvern check $$f; \
	  true; \
	done
	@echo
	@echo "The demo service is in $(DEMO_DIR)/. Put personvern on your PATH and point it at the demo:"
	@echo '  export PATH="$$PWD/$(BIN):$$PATH"'
	@echo "  export PERSONVERN_MANIFEST=$(DEMO_DIR)/personvern.yaml PERSONVERN_DATABASE_URL=sqlite:///$(DEMO_DIR)/personvern.db PERSONVERN_MASTER_KEY_FILE=$(DEMO_DIR)/master.key"
	@echo "Then try (the README's tour has more):"
	@echo "  personvern subject show ext:1500"
	@echo "  personvern consent give ext:5 newsletter --text 'Vil du ha nyhetsbrev?'"
	@echo "  personvern consent decide ext:5 newsletter"
	@echo "  personvern ledger verify"
	@echo
	@echo "The subject portal (sign-in links are printed in the server's terminal, not mailed):"
	@echo "  PERSONVERN_SMTP_HOST=console personvern serve --public-url http://127.0.0.1:8000"
	@echo "  then open http://127.0.0.1:8000/portal/sign-in and sign in as a demo parent:"
	@echo "  $$($(BIN)/python -c "import sqlite3; print(sqlite3.connect('$(DEMO_DIR)/service.db').execute('select email from users where role=\'parent\' order by id limit 1').fetchone()[0])")"
	@echo "  The cookie banner: <script src=\"http://127.0.0.1:8000/static/banner.js\" defer></script> (docs/banner.md)"
	@echo "The privacy owner's dashboard: add the first owner (asks for a password), then sign in at"
	@echo "  http://127.0.0.1:8000/dashboard/sign-in (docs/dashboard.md):"
	@echo "  personvern users add eier@leksehjelp.example.no --role owner"

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache $(TS)/node_modules $(TS)/dist
