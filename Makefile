# One entry point for the common tasks. `make run` serves the demo; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
LOCALDB := scripts/localdb.sh

.PHONY: help run stop test lint bench bench-visits bench-observer bench-coverage bench-regions bench-bulk bench-tiles bench-region-tiles bench-soak bench-roads bench-ogc bench-report db

help:
	@echo "make run    serve the API with the Binzhou demo data on http://127.0.0.1:$(PORT)"
	@echo "make stop   stop the project-local PostgreSQL cluster"
	@echo "make test   run the test suite against a throwaway PostGIS database"
	@echo "make lint   ruff + mypy"
	@echo "make bench  nearest-site benchmark (national-scale register, wrk)"
	@echo "make bench-visits   POST /v1/visits beside nearest, then usage over a year of generated visits (wrk)"
	@echo "make bench-observer  what the request observer costs nearest, in instructions (valgrind; after make bench)"
	@echo "make bench-coverage  coverage and siting benchmark (Binzhou, Shandong)"
	@echo "make bench-regions   loading all of China's regions: time and database size"
	@echo "make bench-bulk      100,000-row CSV import benchmark"
	@echo "make bench-tiles     vector tiles and the map page on the national register (after make bench)"
	@echo "make bench-region-tiles  regions tiles at zooms 3-8 over all of China (loads it: 5 min, 1.7 GB)"
	@echo "make bench-soak      a minute of load per question: errors, p99, memory (after make bench)"
	@echo "make bench-roads     road networks: import, isochrones beside pgRouting, nearest by walking time"
	@echo "make bench-ogc       OGC items in a bbox, single items and tiles beside tipg (its own .venv-tipg)"
	@echo "make bench-report    the monthly report of a city (7 counties, 12 months), PDF and XLSX, against 3 s"

$(BIN)/yizhan: pyproject.toml
	@echo "[make] creating $(VENV) and installing the project"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -e '.[dev]'
	@touch $@

# Uses DATABASE_URL when set; otherwise the project-local cluster (.pgdata/, port 54329 or the next free one).
db: $(BIN)/yizhan
	@$(LOCALDB) install
	@if [ -z "$$DATABASE_URL" ]; then $(LOCALDB) start && $(LOCALDB) createdb yizhan; fi
	@echo "[make] migrating"
	@DATABASE_URL="$${DATABASE_URL:-$$($(LOCALDB) url yizhan)}" $(BIN)/yizhan db upgrade
	@echo "[make] loading the Binzhou demo data"
	@DATABASE_URL="$${DATABASE_URL:-$$($(LOCALDB) url yizhan)}" $(BIN)/yizhan seed

run: db
	@echo "[make] serving on http://127.0.0.1:$(PORT)  (docs: http://127.0.0.1:$(PORT)/docs)"
	@DATABASE_URL="$${DATABASE_URL:-$$($(LOCALDB) url yizhan)}" \
		$(BIN)/yizhan serve --port $(PORT)

stop:
	@$(LOCALDB) stop

# What the tests drive besides the database: GDAL (a real OGC API and MVT client), Debian's Chromium and a CJK font
# (the map page and the monthly report), poppler (the printed PDF, the report read back), prometheus (promtool checks
# /metrics), zbar (reads the door's QR codes back), Pango and HarfBuzz's subsetter (WeasyPrint lays the monthly report
# and the door posters out with them). Installed when missing and run as root, as PostGIS is.
TEST_PACKAGES := gdal-bin chromium fonts-noto-cjk poppler-utils prometheus zbar-tools libpango-1.0-0 libpangoft2-1.0-0 \
	libharfbuzz-subset0

# Tests create (and drop) their own database on the local cluster, or on TEST_DATABASE_ADMIN_URL's server.
test: $(BIN)/yizhan
	@$(LOCALDB) install
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -eq 0 ]; then echo "[make] installing" $$missing; apt-get update -q >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
		else echo "[make] missing:" $$missing "(sudo apt-get install" $$missing")"; fi; fi
	@if [ -z "$$TEST_DATABASE_ADMIN_URL" ]; then $(LOCALDB) start; fi
	@TEST_DATABASE_ADMIN_URL="$${TEST_DATABASE_ADMIN_URL:-$$($(LOCALDB) url postgres)}" $(BIN)/pytest

lint: $(BIN)/yizhan
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy app

bench: $(BIN)/yizhan
	@$(LOCALDB) install
	@command -v wrk >/dev/null || { echo "[make] installing wrk"; apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.nearest $(BENCH_ARGS)

bench-visits: $(BIN)/yizhan
	@$(LOCALDB) install
	@command -v wrk >/dev/null || { echo "[make] installing wrk"; apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.visits $(BENCH_ARGS)

bench-observer: $(BIN)/yizhan
	@command -v valgrind >/dev/null || { echo "[make] installing valgrind"; apt-get update -q >/dev/null && apt-get install -y -q valgrind >/dev/null; }
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.observer $(BENCH_ARGS)

bench-report: $(BIN)/yizhan
	@$(LOCALDB) install
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.report $(BENCH_ARGS)

bench-coverage: $(BIN)/yizhan
	@$(LOCALDB) install
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.coverage $(BENCH_ARGS)

bench-tiles: $(BIN)/yizhan
	@$(LOCALDB) install
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.tiles $(BENCH_ARGS)

bench-region-tiles: $(BIN)/yizhan
	@$(LOCALDB) install
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.region_tiles $(BENCH_ARGS)

bench-soak: $(BIN)/yizhan
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.soak $(BENCH_ARGS)

bench-regions: $(BIN)/yizhan
	@$(LOCALDB) install
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.regions $(BENCH_ARGS)

bench-bulk: $(BIN)/yizhan
	@$(LOCALDB) install
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.bulk $(BENCH_ARGS)

bench-roads: $(BIN)/yizhan
	@$(LOCALDB) install
	@command -v wrk >/dev/null || { echo "[make] installing wrk"; apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.roads $(BENCH_ARGS)

bench-ogc: $(BIN)/yizhan
	@$(LOCALDB) install
	@command -v wrk >/dev/null || { echo "[make] installing wrk"; apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
	@$(LOCALDB) start
	@BENCH_DATABASE_ADMIN_URL="$$($(LOCALDB) url postgres)" $(BIN)/python -m bench.ogc $(BENCH_ARGS)
