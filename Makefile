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
# Extra arguments of `python -m devstack up`, e.g. UP_ARGS="--data-dir /tmp/x --kafka-port 19092".
UP_ARGS ?=
TOPIC ?= referral.events
# Kustomize renders deploy/k8s/overlays/* in `make test`: a Go module, built once per version
# into the same cache as the Kafka jars.
KUSTOMIZE_VERSION := v5.7.1
TOOLS_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/coop-platform/tools
KUSTOMIZE := $(TOOLS_CACHE)/kustomize-$(KUSTOMIZE_VERSION)/kustomize
export KUSTOMIZE

.PHONY: up test test-deps test-cluster install kafka browser kustomize k8s lint format bench watch contracts clean help steering-assets

help:
	@echo "make up      start Kafka and the three services with demo data (Ctrl-C stops all)"
	@echo "             CLUSTER=1: three Kafka brokers, topics replicated three times"
	@echo "make test    run the whole test suite (unit, integration, end-to-end)"
	@echo "make test-cluster  a three-broker Kafka cluster losing a partition leader under load"
	@echo "make lint    ruff check and format check"
	@echo "make bench   run the benchmarks and print figures"
	@echo "make watch   print the records of TOPIC (default referral.events) with headers"
	@echo "make contracts  regenerate docs/asyncapi.yaml from the event models"
	@echo "make k8s     render the Kubernetes overlays (deploy/k8s) into .data/k8s/"
	@echo "make steering-assets  vendor Chart.js (npm ci) into the referral service's static folder"

install: $(STAMP)

$(STAMP): constraints.txt $(PYPROJECTS)
	@command -v java >/dev/null || { echo "java is required (Java 17+)"; exit 1; }
	@command -v mvn >/dev/null || { echo "mvn (Maven) is required to fetch Kafka"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt \
		$(foreach p,$(PROJECTS),-e $(p)) \
		pytest pytest-asyncio hypothesis schemathesis ruff mypy PyYAML jsonschema playwright \
		kubernetes-validate promql-parser "psycopg[binary]"
	touch $(STAMP)

browser:
	bash deploy/browser/install-chromium.sh

kafka: $(STAMP)
	$(PY) -m localkafka fetch

kustomize: $(KUSTOMIZE)

$(KUSTOMIZE):
	@command -v go >/dev/null || { echo "go is required to build kustomize (a Go module)"; exit 1; }
	mkdir -p $(@D)
	GOBIN=$(abspath $(@D)) GOFLAGS=-mod=mod go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	$@ version

k8s: kustomize
	mkdir -p .data/k8s
	for overlay in deploy/k8s/overlays/*/; do \
		$(KUSTOMIZE) build $$overlay > .data/k8s/$$(basename $$overlay).yaml || exit 1; \
		echo ".data/k8s/$$(basename $$overlay).yaml"; \
	done

# The steering dashboard's chart library (Chart.js from npm, pinned by its lockfile), copied into
# the referral service's static folder: served by the service itself, never from a CDN. `npm ci`
# reuses the npm cache (~/.npm), so a second run needs no network.
STEERING_FRONTEND := services/referral/frontend
STEERING_VENDOR := services/referral/src/referral/data/static/vendor
STEERING_JS := $(STEERING_VENDOR)/chart.umd.min.js

steering-assets: $(STEERING_JS)

$(STEERING_JS): $(STEERING_FRONTEND)/package.json $(STEERING_FRONTEND)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is required to vendor Chart.js (steering dashboard)"; exit 1; }
	cd $(STEERING_FRONTEND) && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts
	mkdir -p $(STEERING_VENDOR)
	cp $(STEERING_FRONTEND)/node_modules/chart.js/dist/chart.umd.min.js $@.tmp
	cp $(STEERING_FRONTEND)/node_modules/chart.js/LICENSE.md $(STEERING_VENDOR)/chart.js.LICENSE.md
	mv $@.tmp $@

up: install kafka steering-assets
	$(PY) -m devstack up --die-with-parent $(if $(CLUSTER),--cluster) $(if $(SECURE),--secure) $(UP_ARGS)

# What the suite needs installed (also run alone by .ci/run before its two passes run side by side).
test-deps: install kafka browser kustomize steering-assets

test: test-deps
	$(PY) -m pytest $(PYTEST_ARGS)

# Three JVMs: kept out of `make test`, run by .ci/run after the PostgreSQL suite.
test-cluster: install kafka
	$(PY) -m pytest -m cluster deploy/localkafka/cluster_tests $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src/shared services/referral/src/referral/domain \
		services/dispositifs/src/dispositifs/domain services/notifications/src/notifications/domain

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The project beside bare baselines (CPU per operation, ratios, RSS); STORE=postgres runs it on
# PostgreSQL (COOP_TEST_POSTGRES_URL, else a throwaway local cluster). `make profile`: py-spy flame
# graph and top list of the referral POST under load, in .data/profile/.
STORE ?= sqlite
.PHONY: profile
bench: install kafka
	STORE=$(STORE) $(PY) -m bench $(BENCH_ARGS)

profile: install kafka
	test -x $(VENV)/bin/py-spy || $(PY) -m pip install --quiet py-spy
	STORE=$(STORE) $(PY) -m bench.profile $(PROFILE_ARGS)

contracts: install
	$(PY) -m shared.contracts.asyncapi > docs/asyncapi.yaml

watch: install kafka
	$(PY) -m devstack watch --topic $(TOPIC)

clean:
	rm -rf .data
