"""deploy/k8s rendered by the real Kustomize, validated against the Kubernetes schemas, offline.

Every overlay is built with the ``kustomize`` binary ``make kustomize`` installs (a Go module, in
the cache, ``$KUSTOMIZE``); every object it renders must validate, strictly (no unknown field),
against the JSON schemas ``kubernetes-validate`` ships, for the oldest and newest Kubernetes
versions we support. Then the objects are held against the code they run and against
docker-compose.yml: same commands, ports, probes and variable names, every variable a real
setting of its service, no secret value in the repository, network policies that open only what
each service needs.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from dispositifs.settings import DispositifsSettings
from notifications.settings import NotificationsSettings
from referral.settings import ReferralSettings
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir() if path.is_dir())
COMPOSE_FILE = ROOT / "docker-compose.yml"
KUSTOMIZE_VERSION = "v5.7.1"
#: The oldest Kubernetes the manifests support, and the newest whose schemas we have.
KUBERNETES_VERSIONS = ("1.30", "1.37")

SETTINGS: dict[str, type[ServiceSettings]] = {
    "referral": ReferralSettings,
    "dispositifs": DispositifsSettings,
    "notifications": NotificationsSettings,
}
PORTS = {"referral": 8001, "dispositifs": 8002, "notifications": 8003}
DATABASE_PORT = 5432
KAFKA_PORT = 9092
#: notifications only: the mail relay (submission, implicit TLS) and the agencies' webhooks.
OUTSIDE_PORTS = {"notifications": {587, 465, 443}}
#: compose runs with the development secret; Kubernetes never has one (RS256 and a public key).
DEVELOPMENT_ONLY = {"JWT_SECRET"}
SECRET_WORDS = ("PASSWORD", "SECRET", "DATABASE_URL", "PRIVATE")


def kustomize() -> str:
    path = os.environ.get("KUSTOMIZE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "coop-platform"
        / "tools"
        / f"kustomize-{KUSTOMIZE_VERSION}"
        / "kustomize"
    )
    if not os.access(path, os.X_OK):
        pytest.fail(f"no kustomize at {path}: run `make kustomize` (or `make test`, which does)")
    return path


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [kustomize(), "build", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kustomize build {overlay}:\n{result.stderr}"
    objects = tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)
    assert objects, f"{overlay} renders nothing"
    return objects


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(overlay) if o["kind"] == kind}


def one(overlay: str, kind: str, name: str) -> dict[str, Any]:
    found = objects(overlay, kind)
    assert name in found, f"{overlay}: no {kind} {name} (has {sorted(found)})"
    return found[name]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def all_containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from spec.get("initContainers") or []
    yield from spec["containers"]


def container(workload: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in pod_spec(workload)["containers"] if c["name"] == name]
    assert len(found) == 1, f"{workload['metadata']['name']}: no container {name}"
    return found[0]


def config_maps(overlay: str) -> dict[str, dict[str, str]]:
    return {name: o.get("data") or {} for name, o in objects(overlay, "ConfigMap").items()}


@dataclass(frozen=True)
class EnvVar:
    name: str
    source: str  # value | configmap | secret | configmap-key
    value: str | None


def environment(overlay: str, c: dict[str, Any]) -> dict[str, EnvVar]:
    """What a container gets: its ``envFrom`` ConfigMaps (rendered here) and its ``env``."""
    result: dict[str, EnvVar] = {}
    maps = config_maps(overlay)
    for source in c.get("envFrom") or []:
        assert "secretRef" not in source, f"{c['name']}: envFrom a Secret hides which keys it sets"
        name = source["configMapRef"]["name"]
        assert name in maps, f"{c['name']}: envFrom ConfigMap {name} is not rendered"
        for key, value in maps[name].items():
            result[key] = EnvVar(key, "configmap", value)
    for item in c.get("env") or []:
        if "value" in item:
            result[item["name"]] = EnvVar(item["name"], "value", str(item["value"]))
        elif "secretKeyRef" in item.get("valueFrom", {}):
            result[item["name"]] = EnvVar(item["name"], "secret", None)
        elif "configMapKeyRef" in item.get("valueFrom", {}):
            result[item["name"]] = EnvVar(item["name"], "configmap-key", None)
        else:
            pytest.fail(f"{c['name']}: unexpected env source {item}")
    return result


def setting_names(app: str) -> set[str]:
    prefix = str(SETTINGS[app].model_config.get("env_prefix", ""))
    return {prefix + field.upper() for field in SETTINGS[app].model_fields}


@cache
def compose_services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]  # type: ignore[no-any-return]


def compose_serving(app: str) -> dict[str, Any]:
    found = [
        spec
        for spec in compose_services().values()
        if (spec.get("command") or [])[:4] == ["python", "-m", app, "serve"]
    ]
    assert len(found) == 1, f"docker-compose.yml: expected one container serving {app}"
    return found[0]


def compose_one_shot(app: str, command: str) -> dict[str, Any]:
    found = [
        spec
        for spec in compose_services().values()
        if (spec.get("command") or []) == ["python", "-m", app, command]
    ]
    assert len(found) == 1, f"docker-compose.yml: expected one `{app} {command}` step"
    return found[0]


def compose_healthcheck_paths(spec: dict[str, Any]) -> list[tuple[int | None, str]]:
    test = " ".join(str(part) for part in spec["healthcheck"]["test"])
    return [(u.port, u.path) for u in map(urlsplit, re.findall(r"https?://[^\s'\"]+", test))]


overlays = pytest.mark.parametrize("overlay", OVERLAYS)
apps = pytest.mark.parametrize("app", list(SETTINGS))


def test_there_is_a_production_overlay() -> None:
    assert "production" in OVERLAYS


@overlays
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(
    overlay: str, version: str
) -> None:
    problems = []
    for obj in render(overlay):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
            problems.append(f"{obj['kind']} {obj['apiVersion']}: no schema in Kubernetes {version}")
    assert not problems, "\n".join(problems)


@overlays
def test_everything_lands_in_one_namespace(overlay: str) -> None:
    namespaces = objects(overlay, "Namespace")
    assert len(namespaces) == 1, sorted(namespaces)
    (namespace,) = namespaces
    labels = namespaces[namespace]["metadata"].get("labels") or {}
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"
    for obj in render(overlay):
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == namespace, obj["metadata"]["name"]


@overlays
def test_no_secret_value_in_the_repository(overlay: str) -> None:
    assert not objects(overlay, "Secret"), "Secrets are created by ops, never rendered from here"
    for name, data in config_maps(overlay).items():
        for key in data:
            assert not any(word in key.upper() for word in SECRET_WORDS), f"{name}: {key}"
    for obj in render(overlay):
        if obj["kind"] not in {"Deployment", "Job"}:
            continue
        for c in all_containers(pod_spec(obj)):
            for var in environment(overlay, c).values():
                if any(word in var.name for word in SECRET_WORDS):
                    assert var.source == "secret", f"{obj['metadata']['name']}: {var.name}"


@overlays
@apps
def test_deployment_runs_the_service_like_compose_with_probes_and_resources(
    overlay: str, app: str
) -> None:
    deployment = one(overlay, "Deployment", app)
    serving = compose_serving(app)
    c = container(deployment, app)
    assert c["command"] == serving["command"], f"{app}: {c['command']} ≠ compose"
    (port,) = c["ports"]
    assert port["containerPort"] == PORTS[app], app
    compose_port = serving["ports"][0].split(":")[-1]
    assert int(compose_port) == PORTS[app] == int(c["command"][c["command"].index("--port") + 1])
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["port"] in (port["name"], port["containerPort"]), probe
    assert compose_healthcheck_paths(serving) == [(PORTS[app], "/health/ready")]
    for each in all_containers(pod_spec(deployment)):
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(each["resources"].get(bound) or {}), (
                each["name"],
                bound,
            )
    assert deployment["spec"]["replicas"] >= 2, f"{app}: a single replica cannot be drained"
    # uvicorn shuts down gracefully within 20 s (shared.cli): the pod is given that and more.
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > 20


@overlays
@apps
def test_pods_wait_for_their_migration_job_which_needs_only_the_database(
    overlay: str, app: str
) -> None:
    prefix = app.upper() + "_"
    job = one(overlay, "Job", f"{app}-migrate")
    (migrate,) = pod_spec(job)["containers"]
    assert migrate["command"] == compose_one_shot(app, "migrate")["command"]
    assert set(environment(overlay, migrate)) == {prefix + "DATABASE_URL"}
    assert pod_spec(job)["restartPolicy"] == "Never"
    deployment = one(overlay, "Deployment", app)
    (wait,) = pod_spec(deployment)["initContainers"]
    assert wait["command"][:6] == ["python", "-m", app, "migrate", "--check", "--wait"]
    assert set(environment(overlay, wait)) == {prefix + "DATABASE_URL"}
    assert wait["image"] == migrate["image"] == container(deployment, app)["image"]
    assert ":" in wait["image"].rsplit("/", 1)[-1], f"{app}: the overlay must pin a tag"
    # Same database for the Job, the waiting init container and the service.
    refs = {
        str(item["valueFrom"]["secretKeyRef"])
        for c in (migrate, wait, container(deployment, app))
        for item in c["env"]
        if item["name"] == prefix + "DATABASE_URL"
    }
    assert len(refs) == 1, refs


@overlays
@apps
def test_variables_are_settings_of_the_service_and_cover_compose(overlay: str, app: str) -> None:
    env = environment(overlay, container(one(overlay, "Deployment", app), app))
    unknown = set(env) - setting_names(app)
    assert not unknown, f"{app}: not settings of {SETTINGS[app].__name__}: {sorted(unknown)}"
    prefix = app.upper() + "_"
    in_compose = set(compose_serving(app).get("environment") or {})
    expected = in_compose - {prefix + name for name in DEVELOPMENT_ONLY}
    assert expected <= set(env), f"{app}: set in compose, not in Kubernetes: {expected - set(env)}"
    assert not {prefix + name for name in DEVELOPMENT_ONLY} & set(env)


@overlays
@apps
def test_the_settings_load_from_the_pod_environment_in_production_mode(
    overlay: str, app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pod's environment, with placeholders where Kubernetes injects a Secret or the public
    key, builds the service's settings: production, RS256, replicated topics."""
    env = environment(overlay, container(one(overlay, "Deployment", app), app))
    for key in list(os.environ):
        if key.startswith(app.upper() + "_"):
            monkeypatch.delenv(key)
    for var in env.values():
        placeholder = "postgresql+asyncpg://u:p@db:5432/x" if "DATABASE_URL" in var.name else "x"
        monkeypatch.setenv(var.name, var.value if var.value is not None else placeholder)
    settings = SETTINGS[app]()
    assert settings.environment == "production"
    assert settings.jwt_algorithm == "RS256"
    assert settings.kafka_enabled
    assert settings.kafka_topic_replication_factor == 3
    if settings.kafka_sasl_mechanism:
        assert settings.kafka_sasl_username == app, "one Kafka user per service"
        assert env[app.upper() + "_KAFKA_SASL_PASSWORD"].source == "secret"


@overlays
@apps
def test_service_and_disruption_budget_select_the_serving_pods_only(overlay: str, app: str) -> None:
    deployment = one(overlay, "Deployment", app)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    job_labels = one(overlay, "Job", f"{app}-migrate")["spec"]["template"]["metadata"]["labels"]
    service = one(overlay, "Service", app)
    selector = service["spec"]["selector"]
    assert selector.items() <= labels.items()
    assert not selector.items() <= job_labels.items(), "the Service would route to the Job"
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] in ("http", PORTS[app])
    budget = one(overlay, "PodDisruptionBudget", app)["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget.get("maxUnavailable") == 1 or budget.get("minAvailable")
    assert deployment["spec"]["selector"]["matchLabels"] == selector


@overlays
def test_every_pod_runs_unprivileged(overlay: str) -> None:
    for obj in render(overlay):
        if obj["kind"] not in {"Deployment", "Job"}:
            continue
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        assert spec.get("automountServiceAccountToken") is False, obj["metadata"]["name"]
        for c in all_containers(spec):
            context = c["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, c["name"]
            assert context["readOnlyRootFilesystem"] is True, c["name"]
            assert context["capabilities"]["drop"] == ["ALL"], c["name"]


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"].get("matchLabels") or {}
    return selector.items() <= labels.items()


def _allowed_ports(rules: list[dict[str, Any]]) -> set[int | str]:
    return {port["port"] for rule in rules for port in rule.get("ports") or []}


@overlays
@apps
def test_network_policies_open_only_what_each_pod_needs(overlay: str, app: str) -> None:
    policies = objects(overlay, "NetworkPolicy")
    deny = [
        p
        for p in policies.values()
        if p["spec"]["podSelector"] == {}
        and "egress" not in p["spec"]
        and "ingress" not in p["spec"]
    ]
    assert deny, "no default deny"
    assert set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, "no default deny"
    dns_only = [
        p for p in policies.values() if p["spec"]["podSelector"] == {} and p["spec"].get("egress")
    ]
    assert all(_allowed_ports(p["spec"]["egress"]) == {53} for p in dns_only)
    assert all("ingress" not in p["spec"] for p in dns_only)

    for kind, expected_egress, expected_ingress in (
        ("Deployment", {DATABASE_PORT, KAFKA_PORT} | OUTSIDE_PORTS.get(app, set()), {"http"}),
        ("Job", {DATABASE_PORT}, set()),
    ):
        name = app if kind == "Deployment" else f"{app}-migrate"
        labels = one(overlay, kind, name)["spec"]["template"]["metadata"]["labels"]
        mine = [p for p in policies.values() if p["spec"]["podSelector"] and _selects(p, labels)]
        assert mine, f"{name}: no network policy of its own"
        egress = set().union(*(_allowed_ports(p["spec"].get("egress") or []) for p in mine))
        ingress = set().union(*(_allowed_ports(p["spec"].get("ingress") or []) for p in mine))
        assert egress == expected_egress, f"{name}: egress to {egress}"
        assert ingress == expected_ingress, f"{name}: ingress on {ingress}"
        for policy in mine:
            for rule in policy["spec"].get("egress") or []:
                for peer in rule.get("to") or []:
                    cidr = (peer.get("ipBlock") or {}).get("cidr")
                    if cidr == "0.0.0.0/0":
                        ports = _allowed_ports([rule])
                        assert ports <= OUTSIDE_PORTS.get(app, set()), f"{name}: {ports} open"
                        assert "10.0.0.0/8" in peer["ipBlock"].get("except", []), name
