"""docker-compose.yml and deploy/docker/ checked against the code they run, without Docker.

The compose file, the Dockerfile, the PostgreSQL init script and .dockerignore are parsed and held
against the services' real settings classes and command lines: a renamed setting, a port moved in
one place only, two services sharing a database or a broker address that only works on the host
fail here, not on the first ``docker compose up`` of someone who has Docker.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy.engine import URL, make_url

from devstack.services import SERVICES as DEVSTACK_PORTS
from dispositifs.settings import DispositifsSettings
from notifications.settings import NotificationsSettings
from referral.settings import ReferralSettings
from shared.messaging import ops_cli
from shared.messaging.kafka import environment_options
from shared.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
INIT_SQL = ROOT / "deploy" / "docker" / "postgres-init.sql"
#: What the postgres image runs: postgres-init.sql with the roles' passwords as psql variables.
INIT_SH = ROOT / "deploy" / "docker" / "postgres-init.sh"
#: Where the postgres container finds postgres-init.sql (outside the init directory: the image
#: would run it without the variables).
INIT_SQL_IN_CONTAINER = "/opt/coop/postgres-init.sql"
DOCKERIGNORE = ROOT / ".dockerignore"
MAKE_SECRETS = ROOT / "deploy" / "docker" / "make-secrets.sh"
KAFKA_START = ROOT / "deploy" / "docker" / "kafka-start.sh"
#: Where make-secrets.sh writes the env files, as docker-compose.yml names them.
SECRETS_DIR = ".data/compose"
KAFKA_ACCESS = "kafka-access"
SCRAM = "SCRAM-SHA-512"
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

SETTINGS: dict[str, type[ServiceSettings]] = {
    "referral": ReferralSettings,
    "dispositifs": DispositifsSettings,
    "notifications": NotificationsSettings,
}
KAFKA = "kafka"
POSTGRES = "postgres"
ONE_SHOT_COMMANDS = {"migrate", "seed"}
#: Inside a container the service must listen on every interface, or the published port is dead.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
INITDB_DIR = "/docker-entrypoint-initdb.d"


# -- the command lines, read from the real entry points ------------------------------------------


@dataclass(frozen=True)
class Cli:
    default_port: int
    has_seed: bool

    @property
    def subcommands(self) -> set[str]:
        return {"migrate", "serve"} | ({"seed"} if self.has_seed else set())


@cache
def cli(app: str) -> Cli:
    """What ``python -m <app>`` offers: the arguments its ``main`` gives ``run_service_cli``."""
    module = importlib.import_module(f"{app}.__main__")
    captured: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "run_service_cli", lambda **kwargs: captured.update(kwargs))
        module.main()
    assert "default_port" in captured, f"{app}.__main__.main no longer calls run_service_cli"
    return Cli(default_port=captured["default_port"], has_seed=captured.get("seed") is not None)


# -- docker-compose.yml ---------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict), f"{COMPOSE_FILE} is not a mapping"
    assert isinstance(document.get("services"), dict), f"{COMPOSE_FILE} has no services"
    return document


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]  # type: ignore[no-any-return]


def _env_value(value: Any) -> str | None:
    if value is None:
        return None  # "KEY" alone, or "KEY:" with no value: taken from the host
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def environment(spec: dict[str, Any]) -> dict[str, str | None]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {pair[0]: (pair[1] if len(pair) == 2 else None) for pair in pairs}
    return {key: _env_value(value) for key, value in env.items()}


def depends_on(spec: dict[str, Any]) -> dict[str, str]:
    """Dependency → condition (the list form means ``service_started``)."""
    deps = spec.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (value or {}).get("condition", "service_started") for name, value in deps.items()}


def env_files(spec: dict[str, Any]) -> list[str]:
    """The ``env_file`` entries of a service, as written (relative to the compose file)."""
    entries = spec.get("env_file") or []
    if isinstance(entries, (str, dict)):
        entries = [entries]
    return [str(e["path"] if isinstance(e, dict) else e) for e in entries]


@cache
def generated_secrets() -> tuple[dict[str, dict[str, str]], dict[str, int]]:
    """What ``deploy/docker/make-secrets.sh`` writes, run into a temporary directory: file name →
    variables, and file name → mode. Run twice: the second run must change nothing."""
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "COOP_COMPOSE_SECRETS_DIR": directory}
        runs = []
        for _ in range(2):
            result = subprocess.run(
                ["bash", str(MAKE_SECRETS)],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            files = {p.name: p.read_text() for p in Path(directory).iterdir() if p.is_file()}
            runs.append(files)
        assert runs[0] == runs[1], "make-secrets.sh is not idempotent: a second run changed files"
        modes = {
            p.name: stat.S_IMODE(p.stat().st_mode) for p in Path(directory).iterdir() if p.is_file()
        }
    parsed = {}
    for name, text in runs[0].items():
        variables = {}
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, sep, value = line.partition("=")
            assert sep, f"{name}: not KEY=VALUE: {line.split('=')[0]}"
            variables[key] = value
        parsed[name] = variables
    return parsed, modes


def env_file_variables(name: str, spec: dict[str, Any]) -> dict[str, str]:
    """The variables a service gets from its env files (all made by make-secrets.sh)."""
    files, _modes = generated_secrets()
    result: dict[str, str] = {}
    for entry in env_files(spec):
        path = PurePosixPath(entry.removeprefix("./"))
        assert str(path.parent) == SECRETS_DIR, (
            f"{name}: env_file {entry} is not one of make-secrets.sh's ({SECRETS_DIR}/)"
        )
        assert path.name in files, f"{name}: make-secrets.sh writes no {path.name}"
        result |= files[path.name]
    return result


def full_environment(name: str, spec: dict[str, Any]) -> dict[str, str | None]:
    """``environment`` and the env files: what the container's process sees."""
    env = environment(spec)
    from_files = env_file_variables(name, spec)
    both = sorted(set(env) & set(from_files))
    assert not both, f"{name}: {both} both in environment and in an env file"
    return {**env, **from_files}


@dataclass(frozen=True)
class Port:
    host_ip: str
    published: str
    target: str


def ports(spec: dict[str, Any]) -> list[Port]:
    result = []
    for entry in spec.get("ports") or []:
        if isinstance(entry, dict):
            result.append(
                Port(
                    str(entry.get("host_ip", "")),
                    str(entry.get("published", "")),
                    str(entry["target"]),
                )
            )
            continue
        parts = str(entry).split("/")[0].split(":")
        host_ip = parts[0] if len(parts) == 3 else ""
        published = parts[-2] if len(parts) >= 2 else ""
        result.append(Port(host_ip, published, parts[-1]))
    return result


def healthcheck_test(spec: dict[str, Any]) -> list[str]:
    check = spec.get("healthcheck") or {}
    if check.get("disable"):
        return []
    test = check.get("test") or []
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    if test in (["NONE"], []):
        return []
    return [str(part) for part in test]


def option(argv: list[str], name: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


# -- deploy/docker/Dockerfile ---------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


@cache
def dockerfile_stages(path: Path) -> dict[str, Stage]:
    """Stages by alias (or index), with their instructions, continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = [word for word in args.split() if not word.startswith("--platform")]
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            current = stages[alias] = Stage(alias, words[0])
        elif current is not None:
            current.instructions.append((keyword, args.strip()))
    return stages


def stage_chain(stages: dict[str, Stage], target: str) -> list[Stage]:
    """The target stage and the stages it is built on, base first."""
    chain = [stages[target]]
    while chain[0].base in stages:
        chain.insert(0, stages[chain[0].base])
    return chain


def instructions(stages: dict[str, Stage], target: str, keyword: str) -> list[str]:
    return [
        args
        for stage in stage_chain(stages, target)
        for kw, args in stage.instructions
        if kw == keyword
    ]


def exec_form(args: str) -> list[str]:
    if args.startswith("["):
        return [str(part) for part in json.loads(args)]
    return ["/bin/sh", "-c", args]


def build_of(spec: dict[str, Any]) -> tuple[Path, Path, str | None]:
    """(context, Dockerfile, target) of a service's ``build``."""
    build = spec["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
    return context, context / build.get("dockerfile", "Dockerfile"), build.get("target")


def last_stage(stages: dict[str, Stage]) -> str:
    return list(stages)[-1]


# -- the containers of our services ---------------------------------------------------------------


@dataclass(frozen=True)
class Container:
    name: str  # the compose service
    app: str  # referral | dispositifs | notifications
    subcommand: str  # migrate | seed | serve
    argv: tuple[str, ...]
    spec: dict[str, Any] = field(hash=False, compare=False)

    @property
    def prefix(self) -> str:
        return str(SETTINGS[self.app].model_config.get("env_prefix", ""))

    @property
    def env(self) -> dict[str, str | None]:
        return full_environment(self.name, self.spec)


def command(spec: dict[str, Any]) -> list[str]:
    """The command a built container runs: its ``command``, or its image's ``CMD``."""
    cmd = spec.get("command")
    if isinstance(cmd, str):
        return shlex.split(cmd)
    if cmd:
        return [str(part) for part in cmd]
    _context, dockerfile, target = build_of(spec)
    stages = dockerfile_stages(dockerfile)
    cmds = instructions(stages, target or last_stage(stages), "CMD")
    return exec_form(cmds[-1]) if cmds else []


def tool_steps() -> dict[str, list[str]]:
    """Services built from our Dockerfile that run an operator tool (``coop-ops …``), once."""
    return {
        name: command(spec)
        for name, spec in services().items()
        if "build" in spec and command(spec)[:1] == ["coop-ops"]
    }


def containers() -> list[Container]:
    """Every service built from our Dockerfile(s) but the tool steps: each must run
    ``python -m <app> <command>``."""
    result = []
    for name, spec in services().items():
        if "build" not in spec or name in tool_steps():
            continue
        argv = command(spec)
        assert argv[:2] == ["python", "-m"], f"{name}: runs {argv}, not `python -m <service>`"
        assert len(argv) >= 4, f"{name}: runs {argv}, expected `python -m <service> <command>`"
        assert argv[2] in SETTINGS, f"{name}: runs {argv[2]}, not one of {sorted(SETTINGS)}"
        result.append(Container(name, argv[2], argv[3], tuple(argv), spec))
    return result


def server(app: str) -> Container:
    found = [c for c in containers() if c.app == app and c.subcommand == "serve"]
    assert len(found) == 1, f"expected one container serving {app}, found {[c.name for c in found]}"
    return found[0]


def one_shots(app: str, subcommand: str) -> list[Container]:
    return [c for c in containers() if c.app == app and c.subcommand == subcommand]


def database_url(container: Container) -> URL:
    value = container.env.get(container.prefix + "DATABASE_URL")
    assert value, f"{container.name}: no {container.prefix}DATABASE_URL"
    return make_url(value)


def load_settings(container: Container, monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    """The service's settings as the container would build them from its environment."""
    for key in list(os.environ):
        if key.upper().startswith(container.prefix):
            monkeypatch.delenv(key)
    for key, value in container.env.items():
        assert value is not None, f"{container.name}: {key} would come from the host"
        monkeypatch.setenv(key, value)
    try:
        return SETTINGS[container.app]()  # type: ignore[call-arg]
    except ValidationError as exc:
        error = str(exc)
    pytest.fail(
        f"{container.name}: {SETTINGS[container.app].__name__} refuses its environment: {error}"
    )


# -- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("app", sorted(SETTINGS))
def test_each_service_is_served_by_the_compose_service_of_its_name(app: str) -> None:
    assert server(app).name == app


def test_every_container_runs_a_command_its_service_offers() -> None:
    problems = [
        f"{c.name}: `{c.subcommand}` is not a command of `python -m {c.app}` "
        f"({sorted(cli(c.app).subcommands)})"
        for c in containers()
        if c.subcommand not in cli(c.app).subcommands
    ]
    assert not problems, "\n".join(problems)


def test_every_environment_variable_is_a_field_of_the_service_settings() -> None:
    problems = []
    for c in containers():
        assert c.prefix, f"{SETTINGS[c.app].__name__} has no env_prefix"
        # c.env includes the env files, which must be make-secrets.sh's (env_file_variables).
        fields = set(SETTINGS[c.app].model_fields)
        for key, value in c.env.items():
            if not key.startswith(c.prefix):
                problems.append(f"{c.name}: {key} lacks the {c.prefix} prefix: {c.app} ignores it")
            elif key[len(c.prefix) :].lower() not in fields or key != key.upper():
                problems.append(f"{c.name}: {key} is not a field of {SETTINGS[c.app].__name__}")
            if value is None or "$" in value:
                problems.append(f"{c.name}: {key} depends on the host's environment")
    assert not problems, "\n".join(problems)


def test_containers_have_the_variables_they_need() -> None:
    problems = []
    for c in containers():
        needed = {"DATABASE_URL", "ENVIRONMENT"}
        if c.subcommand == "serve":
            needed.add("KAFKA_BOOTSTRAP_SERVERS")
            algorithm = c.env.get(c.prefix + "JWT_ALGORITHM") or "HS256"
            needed.add("JWT_PUBLIC_KEY" if algorithm.startswith("RS") else "JWT_SECRET")
        problems += [
            f"{c.name}: {c.prefix}{name} missing"
            for name in sorted(needed)
            if not c.env.get(c.prefix + name)
        ]
    assert not problems, "\n".join(problems)


def test_settings_load_from_the_container_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for c in containers():
        with monkeypatch.context() as patch:
            settings = load_settings(c, patch)
        assert settings.database_url == c.env[c.prefix + "DATABASE_URL"], c.name
        assert settings.environment == c.env[c.prefix + "ENVIRONMENT"], c.name
        if c.subcommand == "serve":
            bootstrap = c.env[c.prefix + "KAFKA_BOOTSTRAP_SERVERS"]
            assert settings.kafka_bootstrap_servers == bootstrap, c.name
            assert settings.kafka_enabled, f"{c.name}: Kafka disabled, the platform would be mute"
            password = settings.kafka_sasl_password
            assert password is not None, f"{c.name}: no Kafka password"
            assert password.get_secret_value() == c.env[c.prefix + "KAFKA_SASL_PASSWORD"]


def test_every_service_accepts_the_same_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """One token works on every service: same algorithm, key, issuer and audience."""
    seen = {}
    for app in SETTINGS:
        with monkeypatch.context() as patch:
            s = load_settings(server(app), patch)
        secret = s.jwt_secret.get_secret_value() if s.jwt_secret else None
        seen[app] = (s.jwt_algorithm, secret, s.jwt_public_key, s.jwt_issuer, s.jwt_audience)
    assert len(set(seen.values())) == 1, seen


def test_each_service_has_its_own_database_and_user() -> None:
    urls = {app: database_url(server(app)) for app in SETTINGS}
    superuser = environment(services()[POSTGRES]).get("POSTGRES_USER") or "postgres"
    for app, url in urls.items():
        assert url.drivername == "postgresql+asyncpg", f"{app}: {url.drivername}"
        assert url.host == POSTGRES, f"{app}: {url.host} is not the {POSTGRES} service"
        assert url.port in (None, 5432), f"{app}: port {url.port}"
        assert url.username, f"{app}: no user"
        assert url.password, f"{app}: no password"
        assert url.database, f"{app}: no database"
        assert url.username != superuser, f"{app} connects as the superuser"
    databases = [url.database for url in urls.values()]
    users = [url.username for url in urls.values()]
    assert len(set(databases)) == len(SETTINGS), f"databases shared: {databases}"
    assert len(set(users)) == len(SETTINGS), f"users shared: {users}"


def test_one_shot_steps_use_the_database_of_their_service() -> None:
    for c in containers():
        if c.subcommand in ONE_SHOT_COMMANDS:
            assert database_url(c) == database_url(server(c.app)), c.name


def _init_script_mount() -> Path:
    mounted = []
    for volume in services()[POSTGRES].get("volumes") or []:
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume.get("target", "")
        else:
            source, target = ([*str(volume).split(":"), ""])[:2]
        if target.startswith(INITDB_DIR) and source.startswith("."):
            mounted.append((COMPOSE_FILE.parent / source).resolve())
    assert len(mounted) == 1, f"expected one file mounted in {INITDB_DIR}, got {mounted}"
    return mounted[0]


def _init_script_variables() -> dict[str, str]:
    """psql variable → the container's variable it is set from, by postgres-init.sh, which must
    run INIT_SQL (as mounted in the container) with them."""
    script = INIT_SH.read_text()
    assert f"-f {INIT_SQL_IN_CONTAINER}" in script, "postgres-init.sh does not run the SQL"
    assert "ON_ERROR_STOP=1" in script, "a failed statement must fail the initialisation"
    return dict(re.findall(r'-v (\w+)="\$\{(\w+):\?[^}]*\}"', script))


def _init_script() -> tuple[dict[str, str], dict[str, str]]:
    """(login role → password, database → owner) created by the init script, each password the
    value postgres-init.sh gives its psql variable from the postgres container's environment."""
    variables = _init_script_variables()
    container_env = full_environment(POSTGRES, services()[POSTGRES])
    sql = re.sub(r"--[^\n]*", "", INIT_SQL.read_text())
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    roles: dict[str, str] = {}
    owners: dict[str, str] = {}
    for statement in statements:
        role = re.fullmatch(
            r"CREATE\s+(ROLE|USER)\s+(\w+)(.*?)PASSWORD\s+:'(\w+)'(.*)", statement, re.I | re.S
        )
        if role:
            options = (role.group(3) + role.group(5)).upper()
            login = role.group(1).upper() == "USER" or re.search(r"\bLOGIN\b", options)
            assert login, f"cannot log in: {statement}"
            assert "NOLOGIN" not in options, f"cannot log in: {statement}"
            variable = role.group(4)
            assert variable in variables, f"postgres-init.sh sets no {variable}"
            roles[role.group(2)] = str(container_env.get(variables[variable]))
        database = re.fullmatch(
            r"CREATE\s+DATABASE\s+(\w+)\s+(?:WITH\s+)?OWNER\s*=?\s*(\w+).*", statement, re.I | re.S
        )
        if database:
            owners[database.group(1)] = database.group(2)
    return roles, owners


def test_postgres_init_script_creates_exactly_the_databases_and_users_of_the_urls() -> None:
    assert services()[POSTGRES]["image"] == "postgres:16"
    assert _init_script_mount() == INIT_SH.resolve()
    assert os.access(INIT_SH, os.X_OK), "postgres-init.sh: the image runs it only if executable"
    mounts = [str(volume).split(":") for volume in services()[POSTGRES].get("volumes") or []]
    assert ["./deploy/docker/postgres-init.sql", INIT_SQL_IN_CONTAINER, "ro"] in mounts
    roles, owners = _init_script()
    urls = [database_url(server(app)) for app in SETTINGS]
    assert owners == {url.database: url.username for url in urls}
    assert roles == {url.username: url.password for url in urls}


def _kafka_listeners(value: str) -> dict[str, tuple[str, int]]:
    result = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        result[name] = (host.strip("[]"), int(port))
    return result


def test_bootstrap_servers_point_at_the_internal_kafka_listener(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kafka = services()[KAFKA]
    env = environment(kafka)
    internal = env.get("KAFKA_INTER_BROKER_LISTENER_NAME") or "PLAINTEXT"
    advertised = _kafka_listeners(env["KAFKA_ADVERTISED_LISTENERS"] or "")
    listening = _kafka_listeners(env["KAFKA_LISTENERS"] or "")
    protocols = dict(
        pair.split(":")
        for pair in (env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP") or "").split(",")
    )
    host, port = advertised[internal]
    assert host in {KAFKA, kafka.get("hostname")}, f"{internal} listener advertises {host}"
    assert listening[internal][1] == port, f"{internal} listens on {listening[internal]}"
    for c in containers():
        if c.subcommand != "serve":
            continue
        assert c.env[c.prefix + "KAFKA_BOOTSTRAP_SERVERS"] == f"{host}:{port}", c.name
        with monkeypatch.context() as patch:
            settings = load_settings(c, patch)
        assert protocols[internal] == settings.kafka_security_protocol, c.name
        assert depends_on(c.spec).get(KAFKA) == "service_healthy", c.name


def test_kafka_is_a_single_kraft_node_without_topic_auto_creation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kafka = services()[KAFKA]
    env = environment(kafka)
    assert kafka["image"] == "apache/kafka:4.1.1"
    assert (env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") or "").lower() == "false"
    assert set((env.get("KAFKA_PROCESS_ROLES") or "").split(",")) == {"broker", "controller"}
    assert env.get("CLUSTER_ID"), "KRaft needs a CLUSTER_ID to format its storage"
    voters = (env.get("KAFKA_CONTROLLER_QUORUM_VOTERS") or "").split(",")
    assert [voter.split("@")[0] for voter in voters] == [env.get("KAFKA_NODE_ID")]
    for internal_topic in (
        "OFFSETS_TOPIC",
        "TRANSACTION_STATE_LOG",
        "SHARE_COORDINATOR_STATE_TOPIC",
    ):
        assert env.get(f"KAFKA_{internal_topic}_REPLICATION_FACTOR") == "1", internal_topic
    for key, value in env.items():
        if key.endswith(("_REPLICATION_FACTOR", "_MIN_ISR", "_MIN_INSYNC_REPLICAS")):
            assert value == "1", f"{key}={value} on a single broker"
    for app in SETTINGS:
        with monkeypatch.context() as patch:
            settings = load_settings(server(app), patch)
        assert settings.kafka_topic_replication_factor == 1, f"{app} would create unusable topics"


def test_published_port_matches_the_serve_command_healthcheck_and_cli() -> None:
    for app in SETTINGS:
        c = server(app)
        port = option(list(c.argv), "--port") or str(cli(app).default_port)
        assert option(list(c.argv), "--host") == ALL_INTERFACES, f"{app}: unreachable from outside"
        assert ports(c.spec) == [Port("127.0.0.1", port, port)], f"{app}: {c.spec.get('ports')}"
        assert int(port) == cli(app).default_port == DEVSTACK_PORTS[app], app
        urls = [
            urlsplit(match)
            for part in healthcheck_test(c.spec)
            for match in re.findall(r"https?://[^\s'\"]+", part)
        ]
        assert [(u.hostname, u.port, u.path) for u in urls] == [
            ("127.0.0.1", int(port), "/health/ready")
        ], f"{app}: healthcheck {healthcheck_test(c.spec)}"


def test_every_published_port_is_bound_to_localhost() -> None:
    for name, spec in services().items():
        for port in ports(spec):
            assert port.host_ip == "127.0.0.1", f"{name} publishes {port} on every interface"


def test_every_long_running_service_has_a_healthcheck() -> None:
    one_shot = {c.name for c in containers() if c.subcommand in ONE_SHOT_COMMANDS}
    one_shot |= set(tool_steps())
    missing = [
        name
        for name in services()
        if name not in one_shot and not healthcheck_test(services()[name])
    ]
    assert not missing, f"no healthcheck: {missing}"
    for name in one_shot:
        assert str(services()[name].get("restart", "no")) == "no", f"{name} must run once"


def test_services_start_after_the_broker_database_and_their_migrations() -> None:
    for app in SETTINGS:
        deps = depends_on(server(app).spec)
        assert deps.get(POSTGRES) == "service_healthy", app
        assert deps.get(KAFKA) == "service_healthy", app
        migrate = one_shots(app, "migrate")
        assert len(migrate) == 1, f"{app}: expected one migrate step, got {migrate}"
        assert deps.get(migrate[0].name) == "service_completed_successfully", app
        assert depends_on(migrate[0].spec).get(POSTGRES) == "service_healthy", migrate[0].name
        if cli(app).has_seed:
            seed = one_shots(app, "seed")
            assert len(seed) == 1, f"{app} offers demo data: expected one seed step, got {seed}"
            assert deps.get(seed[0].name) == "service_completed_successfully", app
            assert depends_on(seed[0].spec).get(migrate[0].name) == "service_completed_successfully"
    assert cli("referral").has_seed, "python -m referral seed is gone"
    assert one_shots("referral", "seed"), "referral seeds demo data"


def test_every_dependency_condition_can_be_met() -> None:
    for name, spec in services().items():
        for dependency, condition in depends_on(spec).items():
            assert dependency in services(), f"{name} depends on unknown {dependency}"
            target = services()[dependency]
            if condition == "service_healthy":
                assert healthcheck_test(target), f"{name} waits for {dependency}'s health"
            elif condition == "service_completed_successfully":
                assert str(target.get("restart", "no")) == "no", f"{dependency} never completes"


def test_every_build_uses_an_existing_dockerfile_and_stage() -> None:
    builds = {name: build_of(spec) for name, spec in services().items() if "build" in spec}
    assert builds, "no service is built from this repository"
    for name, (context, dockerfile, target) in builds.items():
        assert context.is_dir(), f"{name}: no build context {context}"
        assert dockerfile.is_file(), f"{name}: no Dockerfile {dockerfile}"
        assert dockerfile.resolve().is_relative_to(context), f"{name}: Dockerfile outside context"
        stages = dockerfile_stages(dockerfile)
        assert target is None or target in stages, f"{name}: no stage {target} in {dockerfile}"


def test_each_image_installs_its_service_with_the_constraints_and_runs_unprivileged() -> None:
    for app in SETTINGS:
        c = server(app)
        context, dockerfile, target = build_of(c.spec)
        stages = dockerfile_stages(dockerfile)
        target = target or last_stage(stages)
        chain = stage_chain(stages, target)
        assert chain[0].base == "python:3.11-slim", f"{app}: based on {chain[0].base}"
        users = instructions(stages, target, "USER")
        assert users, f"{app}: no USER, runs as root"
        assert users[-1].split(":")[0] not in {"root", "0"}, f"{app} runs as root"
        copied = [
            source
            for args in instructions(stages, target, "COPY")
            if "--from" not in args
            for source in [word for word in args.split() if not word.startswith("--")][:-1]
        ]
        for source in copied:
            assert (context / source).exists(), f"{app}: COPY {source}: not in the build context"
        assert "shared" in copied, f"{app}: copies {copied}"
        assert f"services/{app}" in copied, f"{app}: copies {copied}"
        for install in [r for r in instructions(stages, target, "RUN") if "pip install" in r]:
            assert re.search(r"(-c|--constraint)[ =]\S*constraints\.txt", install), install
        port = cli(app).default_port
        cmds = instructions(stages, target, "CMD")
        assert cmds, f"{app}: image has no CMD"
        assert exec_form(cmds[-1]) == [
            "python",
            "-m",
            app,
            "serve",
            "--host",
            ALL_INTERFACES,
            "--port",
            str(port),
        ], f"{app}: image CMD {cmds}"


def _dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = str(PurePosixPath(line.lstrip("!").strip().lstrip("/")))
        regex = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                token, re.escape(token)
            )
        rules.append((negate, re.compile(regex)))
    return rules


def _ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for negate, regex in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_images_need_and_nothing_else() -> None:
    rules = _dockerignore_rules()
    needed = [ROOT / "constraints.txt"]
    for top in ("shared", *(f"services/{app}" for app in SETTINGS)):
        needed.append(ROOT / top / "pyproject.toml")
        needed += [
            p
            for p in (ROOT / top / "src").rglob("*")
            if p.is_file()
            and "__pycache__" not in p.parts
            and not any(x.endswith(".egg-info") for x in p.parts)
        ]
    dropped = [
        str(p.relative_to(ROOT)) for p in needed if _ignored(p.relative_to(ROOT).as_posix(), rules)
    ]
    assert not dropped, f".dockerignore drops files the images need: {dropped[:10]}"
    assert any(p.name == "0001_initial_schema.py" for p in needed), "migrations not found"
    for unwanted in (
        ".venv/bin/python",
        ".git/HEAD",
        ".data/referral.db",
        "shared/tests/test_x.py",
    ):
        assert _ignored(unwanted, rules), f".dockerignore lets {unwanted} into the build context"


# -- Kafka with authentication on (issue 15) ------------------------------------------------------


def _kafka_env() -> dict[str, str | None]:
    return full_environment(KAFKA, services()[KAFKA])


def _protocol_map(env: dict[str, str | None]) -> dict[str, str]:
    pairs = (env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP") or "").split(",")
    return dict(pair.strip().split(":", 1) for pair in pairs if pair.strip())


def test_the_broker_authenticates_every_client_and_denies_what_no_acl_allows() -> None:
    env = _kafka_env()
    protocols = _protocol_map(env)
    listening = _kafka_listeners(env["KAFKA_LISTENERS"] or "")
    advertised = _kafka_listeners(env["KAFKA_ADVERTISED_LISTENERS"] or "")
    controllers = set((env.get("KAFKA_CONTROLLER_LISTENER_NAMES") or "").split(","))
    assert set(protocols) == set(listening), f"{protocols} ≠ listeners {sorted(listening)}"
    assert controllers == {"CONTROLLER"}
    # Every listener a client can be given (advertised: the containers' and the host's) is SASL.
    assert set(advertised) == {"INTERNAL", "EXTERNAL"}, advertised
    for name in advertised:
        assert protocols[name] == "SASL_PLAINTEXT", f"{name}: {protocols[name]}"
    assert advertised["EXTERNAL"][0] == "127.0.0.1"
    assert env.get("KAFKA_INTER_BROKER_LISTENER_NAME") == "INTERNAL"
    assert env.get("KAFKA_SASL_ENABLED_MECHANISMS") == SCRAM
    assert env.get("KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL") == SCRAM
    assert env.get("KAFKA_AUTHORIZER_CLASS_NAME") == STANDARD_AUTHORIZER
    assert (env.get("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND") or "").lower() == "false"
    supers = set((env.get("KAFKA_SUPER_USERS") or "").split(";"))
    admin = env.get("COOP_KAFKA_ADMIN_USER")
    assert admin == "coop-admin"
    assert f"User:{admin}" in supers, supers
    assert supers <= {f"User:{admin}", "User:ANONYMOUS"}, f"unexpected super users {supers}"
    # An unauthenticated listener makes everyone who reaches it a super user (ANONYMOUS): only
    # the controller's, on the container's loopback, where only the broker itself connects.
    for name, protocol in protocols.items():
        if not protocol.startswith("SASL_"):
            assert name in controllers, f"{name} is {protocol}: clients would go unauthenticated"
            assert listening[name][0] == "127.0.0.1", f"{name} listens on {listening[name]}"
            assert "User:ANONYMOUS" in supers, "the broker could not reach its own controller"
    voters = (env.get("KAFKA_CONTROLLER_QUORUM_VOTERS") or "").split(",")
    for voter in voters:
        host, port = voter.split("@", 1)[1].rsplit(":", 1)
        assert (host, int(port)) == listening["CONTROLLER"], voter
    assert advertised["EXTERNAL"][1] == 29092
    assert ports(services()[KAFKA]) == [Port("127.0.0.1", "29092", "29092")]


def test_the_broker_formats_its_storage_with_the_admin_then_runs_the_image_start_up() -> None:
    kafka = services()[KAFKA]
    assert command(kafka) == ["bash", "/opt/coop/kafka-start.sh"]
    mounts = [str(volume).split(":") for volume in kafka.get("volumes") or []]
    assert ["./deploy/docker/kafka-start.sh", "/opt/coop/kafka-start.sh", "ro"] in mounts
    script = KAFKA_START.read_text()
    assert "--add-scram" in script
    assert "COOP_KAFKA_ADMIN_PASSWORD" in script
    assert "/etc/kafka/docker/run" in script, "the image's own start-up must follow"
    assert "--ignore-formatted" in script, "a second start must find its storage as it was"
    assert env_files(kafka) == [f"{SECRETS_DIR}/broker.env"]
    assert set(_kafka_env()) >= {"COOP_KAFKA_ADMIN_PASSWORD", "CLUSTER_ID"}
    # The healthcheck authenticates as the admin, with the client file the script writes.
    test = " ".join(healthcheck_test(kafka))
    assert "--bootstrap-server kafka:19092" in test
    assert "--command-config /tmp/coop-admin-client.properties" in test
    assert "/tmp/coop-admin-client.properties" in script


def test_each_service_connects_as_its_own_scram_user(monkeypatch: pytest.MonkeyPatch) -> None:
    passwords = {}
    for app in SETTINGS:
        c = server(app)
        with monkeypatch.context() as patch:
            settings = load_settings(c, patch)
        assert settings.kafka_security_protocol == "SASL_PLAINTEXT", app
        assert settings.kafka_sasl_mechanism == SCRAM, app
        assert settings.kafka_sasl_username == app, f"{app}: its ACLs are granted to User:{app}"
        assert settings.kafka_sasl_password is not None, app
        passwords[app] = settings.kafka_sasl_password.get_secret_value()
        assert env_files(c.spec) == [f"{SECRETS_DIR}/{app}.env"], app
        # Its env file holds its own variables only: no other service's password.
        own = env_file_variables(c.name, c.spec)
        assert all(key.startswith(c.prefix) for key in own), f"{app}: {sorted(own)}"
        if app == "referral":
            assert settings.kafka_provisioning_username == "coop-provisioner"
            assert settings.kafka_provisioning_password is not None
        else:
            assert settings.kafka_provisioning_username is None, f"{app} may not provision"
    assert len(set(passwords.values())) == len(SETTINGS), "two services share a password"
    for c in containers():
        if c.subcommand in ONE_SHOT_COMMANDS:
            # Its database URL only: it needs no Kafka password.
            assert env_files(c.spec) == [f"{SECRETS_DIR}/{c.app}-database.env"], c.name
            assert set(env_file_variables(c.name, c.spec)) == {c.prefix + "DATABASE_URL"}, c.name


def test_the_env_files_are_made_by_make_secrets_private_and_match_the_compose_file() -> None:
    files, modes = generated_secrets()
    referenced = {
        PurePosixPath(entry).name for spec in services().values() for entry in env_files(spec)
    }
    # Every file compose reads is written (else `docker compose up` stops: file not found);
    # passwords.env is the script's own store, read by nobody else.
    assert set(files) - referenced == {"passwords.env"}, sorted(files)
    assert referenced <= set(files)
    assert all(mode == 0o600 for mode in modes.values()), modes
    for name, variables in files.items():
        for key, value in variables.items():
            if key.endswith("DATABASE_URL"):
                value = make_url(value).password or ""
            assert re.fullmatch(r"[0-9a-f]{64}", value), f"{name}: {key} is not generated"
    store = files["passwords.env"]
    assert len(set(store.values())) == len(store), "two users share a password"
    # PostgreSQL: the superuser's password, and each service's user's, in its URLs and in what
    # postgres-init.sh gives the init script; one token secret for the three services.
    assert files["postgres.env"]["POSTGRES_PASSWORD"] == store["DB_SUPERUSER"]
    for app in SETTINGS:
        prefix = f"{app.upper()}_"
        url = make_url(files[f"{app}.env"][f"{prefix}DATABASE_URL"])
        assert files[f"{app}-database.env"] == {
            f"{prefix}DATABASE_URL": str(url.render_as_string(hide_password=False))
        }
        assert url.password == store[f"DB_{app.upper()}"], app
        assert files["postgres.env"][f"{url.username.upper()}_PASSWORD"] == url.password, app
        assert files[f"{app}.env"][f"{prefix}JWT_SECRET"] == store["JWT_SECRET"], app
    # The same password on both sides: what the broker is formatted with, what kafka-access
    # connects with and creates, what each service connects with.
    assert files["broker.env"] == {"COOP_KAFKA_ADMIN_PASSWORD": store["ADMIN"]}
    access = files["kafka-access.env"]
    assert access["KAFKA_SASL_PASSWORD"] == store["ADMIN"]
    for app in SETTINGS:
        key = f"{app.upper()}_KAFKA_SASL_PASSWORD"
        assert files[f"{app}.env"][key] == access[key] == store[app.upper()], app
    key = "REFERRAL_KAFKA_PROVISIONING_PASSWORD"
    assert files["referral.env"][key] == access[key] == store["PROVISIONER"]
    assert (ROOT / ".gitignore").read_text().count(".data/") >= 1, ".data/ must stay uncommitted"
    assert ".data" in DOCKERIGNORE.read_text(), ".data must stay out of the build context"


def test_kafka_access_creates_the_users_and_acls_before_the_services_start() -> None:
    assert list(tool_steps()) == [KAFKA_ACCESS]
    spec = services()[KAFKA_ACCESS]
    assert tool_steps()[KAFKA_ACCESS] == ["coop-ops", KAFKA_ACCESS]
    # A real subcommand of the coop-ops in the image (shared's console script).
    shared_scripts = (ROOT / "shared" / "pyproject.toml").read_text()
    assert 'coop-ops = "shared.messaging.ops_cli:main"' in shared_scripts
    with pytest.raises(SystemExit) as exit_info:
        ops_cli.main([KAFKA_ACCESS, "--help"])
    assert exit_info.value.code == 0
    _context, dockerfile, target = build_of(spec)
    assert target in SETTINGS, f"{KAFKA_ACCESS}: built from {target}"
    # The same image as a service: shared (and its console scripts) installed in it.
    assert "/build/shared" in " ".join(instructions(dockerfile_stages(dockerfile), target, "RUN"))
    assert str(spec.get("restart", "no")) == "no"
    assert depends_on(spec) == {KAFKA: "service_healthy"}
    assert env_files(spec) == [f"{SECRETS_DIR}/kafka-access.env"]
    env = full_environment(KAFKA_ACCESS, spec)
    assert all(value is not None for value in env.values())
    concrete = {key: str(value) for key, value in env.items()}
    # It connects as the broker's super user, on the internal listener…
    options = environment_options(concrete)
    kafka = _kafka_env()
    assert options["bootstrap_servers"] == "kafka:19092"
    assert options["security_protocol"] == _protocol_map(kafka)["INTERNAL"]
    assert options["sasl_mechanism"] == SCRAM
    assert options["sasl_plain_username"] == kafka["COOP_KAFKA_ADMIN_USER"]
    assert options["sasl_plain_password"] == kafka["COOP_KAFKA_ADMIN_PASSWORD"]
    # …and creates the users the services connect as, with the passwords they connect with.
    users, provisioner = ops_cli.platform_users_from_environment(concrete)
    assert set(users) == set(SETTINGS)
    for app in SETTINGS:
        served = server(app).env
        assert served[f"{app.upper()}_KAFKA_SASL_USERNAME"] == app
        assert users[app] == served[f"{app.upper()}_KAFKA_SASL_PASSWORD"], app
    assert provisioner is not None
    referral = server("referral").env
    assert provisioner.name == referral["REFERRAL_KAFKA_PROVISIONING_USERNAME"]
    assert provisioner.password == referral["REFERRAL_KAFKA_PROVISIONING_PASSWORD"]
    for app in SETTINGS:
        deps = depends_on(server(app).spec)
        assert deps.get(KAFKA_ACCESS) == "service_completed_successfully", app


def test_no_kafka_password_is_written_in_the_compose_file() -> None:
    text = COMPOSE_FILE.read_text()
    for spec in services().values():
        for key, value in environment(spec).items():
            if "KAFKA" in key and re.search("PASSWORD|JAAS|SECRET", key):
                pytest.fail(f"{key} is written in docker-compose.yml: it belongs in an env file")
            assert "ScramLoginModule" not in (value or ""), key
    assert "--add-scram" not in text
    assert "sasl.jaas.config" not in text.lower()


#: Variable names that hold a secret: their value is never written in docker-compose.yml.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|JAAS|PRIVATE|DATABASE_URL|TOKEN", re.I)


def test_no_password_or_secret_is_written_in_the_compose_file() -> None:
    """Every password (Kafka's, PostgreSQL's, each service's inside its database URL) and the
    token secret come from make-secrets.sh's env files, never from docker-compose.yml."""
    text = COMPOSE_FILE.read_text()
    for name, spec in services().items():
        for key, value in environment(spec).items():
            assert not SECRET_NAME.search(key), f"{name}: {key} is written in docker-compose.yml"
            assert not re.search(r"://[^/\s@]*:[^/\s@]*@", value or ""), f"{name}: {key}"
    assert not re.search(r"://[^/\s@]*:[^/\s@]*@", text), "a URL with a password in compose"
    assert "dev-password" not in text
    assert DEVELOPMENT_JWT_SECRET not in text, "the code's development secret in compose"
    assert not re.search(r"[0-9a-f]{32}", text), "something like a generated secret in compose"
    # The services do get them (from their env files): a database URL with a password, and a
    # token secret that is not the development one everyone knows.
    for c in containers():
        assert make_url(c.env[c.prefix + "DATABASE_URL"] or "").password, c.name
        if c.subcommand == "serve":
            secret = c.env.get(c.prefix + "JWT_SECRET")
            assert secret, c.name
            assert secret != DEVELOPMENT_JWT_SECRET, c.name
    postgres = full_environment(POSTGRES, services()[POSTGRES])
    assert postgres.get("POSTGRES_PASSWORD"), "the postgres image refuses to start without it"
    for variable in _init_script_variables().values():
        assert postgres.get(variable), f"postgres-init.sh needs {variable}"
