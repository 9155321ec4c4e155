"""The dashboard and the alert rules of deploy/observability speak of metrics that exist.

The three services run as real processes (``python -m <service> serve``) against the session's
real broker, each on a fresh store; their ``/metrics`` pages are read after they are ready and
have served a few requests. Every expression of ``alerts.yaml`` and of the Grafana dashboard is
parsed as PromQL; every metric of ours it names must be on some service's ``/metrics`` page, with
the labels the expression filters or groups on, and every label value it matches exactly must be
one the metric's help text announces. Every alert has a runbook section in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import dispositifs
import notifications
import referral
from devstack.services import SERVICES, ServiceProcess, run_cli, service_env
from localkafka import free_port
from shared.auth.tokens import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.testing import migrated_database

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "observability" / "alerts.yaml"
DASHBOARD = ROOT / "deploy" / "observability" / "grafana" / "coop-platform.json"
OPERATIONS = ROOT / "docs" / "operations.md"
MIGRATIONS = {
    "referral": Path(referral.__file__).parent / "migrations",
    "dispositifs": Path(dispositifs.__file__).parent / "migrations",
    "notifications": Path(notifications.__file__).parent / "migrations",
}
#: Ours: what the services must expose. Anything else comes from the cluster and must be listed.
OUR_PREFIXES = ("coop_", "notifications_")
CLUSTER_METRICS = {
    # Prometheus itself, per scrape target.
    "up": {"namespace", "pod", "job", "instance"},
    # kube-state-metrics.
    "kube_deployment_status_replicas_available": {"namespace", "deployment"},
    "kube_deployment_spec_replicas": {"namespace", "deployment"},
}
#: Labels Prometheus adds to every scraped series (kubernetes_sd relabelling, docs/operations.md).
TARGET_LABELS = {"namespace", "pod", "job", "instance"}
#: Grafana's variables, replaced by values of the same kind before parsing.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__range": "6h",
    "$__interval": "1m",
    "$service": "referral",
    "$namespace": "coop-platform",
}
SEVERITIES = {"critical", "warning", "info"}


# -- the services' /metrics ------------------------------------------------------------------


@dataclass
class Family:
    name: str
    type: str
    help: str
    sample_names: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)


def _sample_names(name: str, kind: str) -> set[str]:
    """The series names a family of this type exposes, samples or not yet."""
    return {
        "counter": {f"{name}_total", f"{name}_created"},
        "gauge": {name},
        "histogram": {f"{name}_bucket", f"{name}_count", f"{name}_sum", f"{name}_created"},
        "summary": {name, f"{name}_count", f"{name}_sum", f"{name}_created"},
    }.get(kind, {name})


def declared_labels(series: str) -> set[str]:
    """The label names a metric is declared with, for a family that has no sample yet (a
    labelled metric shows only its HELP and TYPE lines until a first label set is used). Read
    from this process's registry, where importing the three apps declared the same metrics."""
    for app in SERVICES:
        importlib.import_module(f"{app}.app")  # declares the metrics of the app's modules
    collector = REGISTRY._names_to_collectors.get(series)
    return set(getattr(collector, "_labelnames", ()))


def parse_metrics(text: str) -> dict[str, Family]:
    """Series name → its family, from an exposition page."""
    by_series: dict[str, Family] = {}
    for parsed in text_string_to_metric_families(text):
        family = Family(parsed.name, parsed.type, parsed.documentation)
        family.sample_names = _sample_names(parsed.name, parsed.type)
        for sample in parsed.samples:
            family.sample_names.add(sample.name)
            family.labels |= set(sample.labels) - {"le", "quantile"}
        if not parsed.samples:
            for name in family.sample_names:
                family.labels |= declared_labels(name)
        for name in family.sample_names:
            by_series[name] = family
    return by_series


def samples(page: str, family_name: str) -> list[Any]:
    return [
        sample
        for family in text_string_to_metric_families(page)
        if family.name == family_name
        for sample in family.samples
    ]


def _referral_flowed(pages: dict[str, str]) -> bool:
    """The referral was published and both consuming services have handled it."""
    published = samples(pages["referral"], "coop_outbox_published")
    if not any(s.name.endswith("_total") and s.value >= 1 for s in published):
        return False
    for consumer in ("dispositifs", "notifications"):
        handled = samples(pages[consumer], "coop_events_consumed")
        lag = samples(pages[consumer], "coop_consumer_lag")
        if not any(s.labels.get("topic") == "referral.events" for s in handled):
            return False
        if not any(s.labels.get("topic") == "referral.events" for s in lag):
            return False
    return True


@pytest.fixture(scope="module")
def exposed(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """service → its /metrics page, once ready and after a few requests of each kind."""
    work = tmp_path_factory.mktemp("observability")
    processes: list[ServiceProcess] = []
    for name in SERVICES:
        url = asyncio.run(migrated_database(name, MIGRATIONS[name], work))
        env = service_env(
            name,
            database_url=url,
            bootstrap_servers=kafka_broker.bootstrap_servers,
            extra={"LOG_JSON": "true"},
        )
        if name == "referral":
            run_cli(name, "seed", env)  # the agency networks, whose response topics it reads
        processes.append(ServiceProcess(name, free_port(), env, work / f"{name}.log"))
    urls = {process.name: process.url for process in processes}
    pages: dict[str, str] = {}
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=180)
            with httpx.Client(base_url=process.url, timeout=10) as client:
                client.get("/health/live")
                client.get("/v1/no-such-route")  # a 404: an error series
        # One referral through the platform: published by referral's relay, consumed by the two
        # other services, so the consumption and publication series have samples too.
        counsellor = mint_token(
            key=DEVELOPMENT_JWT_SECRET,
            subject="observability-test",
            role=Role.COUNSELLOR,
            issuer="coop-platform-dev",
            audience="coop-platform",
            ft_structure="75101",
        )
        created = httpx.post(
            f"{urls['referral']}/v1/referrals",
            json={
                "job_seeker": {
                    "ft_identifier": "7654321B",
                    "first_name": "Camille",
                    "last_name": "Martin",
                },
                "agency_id": "agc-interim-nord-lille",
                "rome_code": "H2913",
                "message": "Profil motivé, soudure MIG validée.",
            },
            headers={"Authorization": f"Bearer {counsellor}", "Idempotency-Key": str(uuid4())},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 90
        while True:
            pages = {name: httpx.get(f"{u}/metrics", timeout=10).text for name, u in urls.items()}
            if _referral_flowed(pages) or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        for process in processes:
            process.stop()
    return pages


@pytest.fixture(scope="module")
def families(exposed: dict[str, str]) -> dict[str, Family]:
    merged: dict[str, Family] = {}
    for page in exposed.values():
        for series, family in parse_metrics(page).items():
            known = merged.setdefault(series, family)
            if known is not family:
                known.labels |= family.labels
                known.sample_names |= family.sample_names
    return merged


# -- the expressions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    where: str
    text: str


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())  # type: ignore[no-any-return]


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels") or []


def expressions() -> list[Expression]:
    found = [Expression(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]
    for panel in dashboard_panels():
        for target in panel.get("targets") or []:
            text = target["expr"]
            for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
                text = text.replace(variable, GRAFANA_VARIABLES[variable])
            found.append(Expression(f"panel {panel['title']!r} {target['refId']}", text))
    return found


@dataclass
class Uses:
    """What one expression asks of a metric: the labels it matches or groups on, and values."""

    labels: set[str] = field(default_factory=set)
    values: set[tuple[str, str]] = field(default_factory=set)


def uses(text: str) -> tuple[dict[str, Uses], set[str]]:
    """(metric → its matchers, labels grouped on by any aggregation) of a PromQL expression."""
    metrics: dict[str, Uses] = {}
    grouped: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            use = metrics.setdefault(node.name, Uses())
            for matcher in node.matchers.matchers:
                use.labels.add(matcher.name)
                if matcher.op == promql_parser.MatchOp.Equal:
                    use.values.add((matcher.name, matcher.value))
        elif (
            isinstance(node, promql_parser.AggregateExpr)
            and node.modifier is not None
            and node.modifier.type == promql_parser.AggModifierType.By
        ):
            grouped.update(node.modifier.labels)

    promql_parser.walk(promql_parser.parse(text), visit)
    return metrics, grouped - {"le"}


def test_every_expression_is_valid_promql() -> None:
    problems = []
    for expression in expressions():
        try:
            promql_parser.parse(expression.text)
        except ValueError as exc:
            problems.append(f"{expression.where}: {exc}")
    assert not problems, "\n".join(problems)


def test_every_metric_label_and_value_used_is_exposed(families: dict[str, Family]) -> None:
    problems = []
    ours_used: set[str] = set()
    for expression in expressions():
        metrics, grouped = uses(expression.text)
        available: set[str] = set()
        for name, use in metrics.items():
            if name in CLUSTER_METRICS:
                labels = CLUSTER_METRICS[name]
            elif name.startswith(OUR_PREFIXES):
                ours_used.add(name)
                family = families.get(name)
                if family is None:
                    problems.append(f"{expression.where}: {name} is on no service's /metrics")
                    continue
                labels = family.labels | TARGET_LABELS
                for label, value in use.values:
                    if label not in TARGET_LABELS and not re.search(
                        rf"\b{re.escape(value)}\b", family.help
                    ):
                        problems.append(
                            f"{expression.where}: {name}{{{label}={value!r}}}: the metric "
                            f"does not announce that value ({family.help!r})"
                        )
            else:
                problems.append(f"{expression.where}: {name} is neither ours nor listed")
                continue
            available |= labels
            unknown = use.labels - labels - {"__name__"}
            if unknown:
                problems.append(f"{expression.where}: {name} has no label {sorted(unknown)}")
        if grouped - available:
            problems.append(f"{expression.where}: groups on absent {sorted(grouped - available)}")
    assert not problems, "\n".join(problems)
    assert ours_used, "the dashboard and rules use none of the services' metrics"


def test_a_referral_shows_on_the_series_the_rules_watch(exposed: dict[str, str]) -> None:
    """Not only declared: once a referral went through, the relay counted its publication and
    both consumers report their lag and outcome per consumer, topic (and partition)."""
    assert _referral_flowed(exposed), "the referral did not reach both consuming services"
    for service in ("dispositifs", "notifications"):
        lag = [
            s
            for s in samples(exposed[service], "coop_consumer_lag")
            if s.labels["topic"] == "referral.events"
        ]
        assert all(s.labels["service"] == service for s in lag), lag
        assert {"consumer", "topic", "partition"} <= set(lag[0].labels), lag[0]
        handled = samples(exposed[service], "coop_events_consumed")
        assert {s.labels["outcome"] for s in handled} <= {
            "processed",
            "duplicate",
            "ignored",
            "dead_lettered",
        }, handled


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    anchors = set()
    for line in markdown.splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_every_alert_is_complete_and_has_a_runbook_section() -> None:
    anchors = _anchors(OPERATIONS.read_text())
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), "two alerts share a name"
    for rule in alert_rules():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "docs/operations.md", rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, f"docs/operations.md has no section {rule['alert']}"
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_the_dashboard_is_one_grafana_dashboard_on_a_chosen_prometheus() -> None:
    board = dashboard()
    assert board["uid"] == "coop-platform"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids)), "two panels share an id"
    for panel in dashboard_panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
    alerts_shown = {
        name
        for panel in dashboard_panels()
        for name in re.findall(r"Coop[A-Za-z]+", panel.get("description", ""))
    }
    assert alerts_shown <= {rule["alert"] for rule in alert_rules()}, alerts_shown
