# Two entry points for a fresh machine with Python 3.11+: `make demo` and `make test`.
# Each creates .venv and installs the project into it first (re-done only when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint lint-sql bench docs chromium java clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/loyalty demo

# Browser tests need Debian's Chromium; install it when missing (never a browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The Spark engine (`--engine spark`, tests/test_spark_*.py): its Python packages as the `spark` extra (pyspark
# ships Spark's own jars) and Java 17+, Debian's headless JRE when `java` is missing.
SPARK_STAMP := $(VENV)/.spark-installed
$(SPARK_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(SPARK_STAMP)

java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing Debian's openjdk-17-jre-headless for the Spark engine"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

lint: $(STAMP) lint-sql
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The dbt SQL's layout and capitalisation (sqlfluff, configured in pyproject.toml); `$(BIN)/sqlfluff fix
# loyalty/dbt_project` mends most of what it reports.
lint-sql: $(STAMP)
	$(BIN)/sqlfluff lint --processes 2 loyalty/dbt_project

test: $(STAMP) $(SPARK_STAMP) java chromium lint
	$(BIN)/python -m pytest

test-fast: $(STAMP) $(SPARK_STAMP) java
	$(BIN)/python -m pytest -m "not browser and not slow"

# The issues' sizes: a 10M-event warehouse (~4M webhook deliveries), 50,000 small files, a 5 GB landing, and the
# same warehouse built on Spark (a local session and a standalone cluster of two workers).
# About 65 minutes on 2 cores the first time (26 of them generating the world, which is then cached), plus Spark's.
BENCH_ARGS ?= --scale 4.2 --repeat 1 --small-files 50000 --large-landing-gb 5 --spark

bench: $(STAMP) $(SPARK_STAMP) java
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

docs: $(STAMP)
	$(BIN)/loyalty build --docs

clean:
	rm -rf $(VENV) data target logs test-artifacts .pytest_cache
