# Two commands: `make run` and `make test`. Each sets itself up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# pytest-xdist workers: the integration tests mostly wait (a broker's group join, a relay's
# poll), so four side by side on two cores take a quarter of the time of one
TEST_WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal

.PHONY: run test lint typecheck unit integration e2e bench schemas lock clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cachexia up

test: $(STAMP) lint typecheck
	$(PYTEST)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(PYTEST) tests/unit

integration: $(STAMP)
	$(PYTEST) tests/integration

e2e: $(STAMP)
	$(PYTEST) tests/e2e

schemas: $(STAMP)
	$(BIN)/python -m shared.contracts.export schemas

bench: $(STAMP)
	PYTHONPATH=. $(BIN)/python bench/stream_service.py
	PYTHONPATH=. $(BIN)/python bench/ingest_mllp.py
	PYTHONPATH=. $(BIN)/python bench/fuzz_inputs.py
	PYTHONPATH=. $(BIN)/python bench/crash_test.py
	PYTHONPATH=. $(BIN)/python bench/redaction_cost.py

# Re-pin the full dependency set after changing pyproject.toml.
lock:
	$(BIN)/python -m pip install --quiet ".[dev]"
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^lena-ccs-platform' > requirements.lock

# Never under a running embedded PostgreSQL (one left running by a killed `cachexia up`
# would go on writing into a deleted folder, and hold its port against the next `make run`).
clean:
	@pid=$$(head -n 1 .data/postgres/postmaster.pid 2>/dev/null); \
	if [ -n "$$pid" ] && ps -p "$$pid" >/dev/null 2>&1; then \
	    echo "the embedded PostgreSQL still runs on .data/postgres (pid $$pid): stop the" \
	         "platform (Ctrl-C), or a server left running with: kill -INT $$pid"; \
	    exit 1; \
	fi
	rm -rf .data
