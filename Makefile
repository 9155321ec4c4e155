# The two commands: `make up` (run the platform) and `make test` (run the whole suite).
# Everything they need is installed on first use: a virtualenv in .venv, the pinned Python
# packages, and the Kafka jars (resolved by Maven into ~/.cache/coop-platform).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROJECTS := shared services/referral services/dispositifs services/notifications deploy/localkafka deploy/devstack tools/agency-client
PYPROJECTS := $(addsuffix /pyproject.toml,$(PROJECTS))
PYTEST_ARGS ?=
TOPIC ?= referral.events

.PHONY: up test install kafka browser lint format bench watch contracts clean help

help:
	@echo "make up      start Kafka and the three services with demo data (Ctrl-C stops all)"
	@echo "make test    run the whole test suite (unit, integration, end-to-end)"
	@echo "make lint    ruff check and format check"
	@echo "make bench   run the benchmarks and print figures"
	@echo "make watch   print the records of TOPIC (default referral.events) with headers"
	@echo "make contracts  regenerate docs/asyncapi.yaml from the event models"

install: $(STAMP)

$(STAMP): constraints.txt $(PYPROJECTS)
	@command -v java >/dev/null || { echo "java is required (Java 17+)"; exit 1; }
	@command -v mvn >/dev/null || { echo "mvn (Maven) is required to fetch Kafka"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt \
		$(foreach p,$(PROJECTS),-e $(p)) \
		pytest pytest-asyncio hypothesis ruff mypy PyYAML jsonschema playwright
	touch $(STAMP)

browser:
	bash deploy/browser/install-chromium.sh

kafka: $(STAMP)
	$(PY) -m localkafka fetch

up: install kafka
	$(PY) -m devstack up

test: install kafka browser
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src/shared

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install kafka
	$(PY) -m bench

contracts: install
	$(PY) -m shared.contracts.asyncapi > docs/asyncapi.yaml

watch: install kafka
	$(PY) -m devstack watch --topic $(TOPIC)

clean:
	rm -rf .data
