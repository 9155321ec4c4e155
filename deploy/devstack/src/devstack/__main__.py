"""``python -m devstack up``: the whole platform on this machine, for ``make up``.

Starts the Kafka broker (KRaft, from the Maven-resolved jars), a local SMTP server that stores mails
under ``.data/mail/``, migrates each service's own SQLite store under ``.data/``, seeds demo data,
starts the three services, prints where to look, and stops everything cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

from devstack.demo_contacts import register_demo_contacts
from devstack.lifetime import die_with_parent, say
from devstack.mailbox import Mailbox
from devstack.secure import SecureKafka
from devstack.services import SERVICES, ServiceProcess, run_cli, service_env
from localkafka import LocalKafka
from localkafka.broker import ensure_jars
from localkafka.cluster import REPLICATION_FACTOR, LocalKafkaCluster


def _database_url(name: str, data_dir: Path) -> str:
    override = os.environ.get(f"{name.upper()}_DATABASE_URL")
    return override or f"sqlite+aiosqlite:///{data_dir / (name + '.db')}"


class _Stopped(Exception):
    """Raised in the main thread by a stop signal that arrives while the platform is starting."""


#: Ctrl-C (SIGINT), ``kill`` (SIGTERM), the terminal closing (SIGHUP).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def up(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    ports = dict(SERVICES) | dict(args.service_port or [])
    processes: list[ServiceProcess] = []
    stop = threading.Event()
    phase = {"name": "starting"}

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()
        if phase["name"] == "starting":
            phase["name"] = "stopping"
            raise _Stopped(signal.Signals(signum).name)
        # running: the main loop sees the event; stopping: a second Ctrl-C must not cut the
        # cleanup short (the parent-death signal would still stop the services, less politely).

    for sig in STOP_SIGNALS:
        signal.signal(sig, _on_signal)
    broker: LocalKafka | LocalKafkaCluster | None = None
    mailbox: Mailbox | None = None
    try:
        if args.die_with_parent:
            die_with_parent(signal.SIGTERM)  # ``make`` killed outright: stop as for ``kill``
        say("• Kafka: resolving jars (Maven, cached after the first time)…")
        lib = ensure_jars()
        replication: dict[str, str] = {}
        secure: SecureKafka | None = None
        if args.secure and args.cluster:
            raise SystemExit("SECURE=1 runs one broker: leave CLUSTER=1 out")
        if args.secure:
            # SASL/SCRAM-SHA-512 over TLS (a CA made here), one principal per service, ACLs.
            secure = SecureKafka.prepare(data_dir / "kafka-secure")
            broker = secure.broker(port=args.kafka_port, controller_port=args.kafka_port + 1)
            say(
                f"• Kafka: starting a secured broker (SASL_SSL, SCRAM-SHA-512, ACLs) on "
                f"{broker.bootstrap_servers}; credentials in {secure.directory}/credentials.json"
            )
        elif args.cluster:
            # Three KRaft nodes, topics replicated three times with min.insync.replicas=2.
            broker = LocalKafkaCluster(data_dir / "kafka-cluster")
            replication = {"KAFKA_TOPIC_REPLICATION_FACTOR": str(REPLICATION_FACTOR)}
            say(f"• Kafka: starting a cluster of three brokers on {broker.bootstrap_servers}…")
        else:
            broker = LocalKafka(
                data_dir / "kafka", port=args.kafka_port, controller_port=args.kafka_port + 1
            )
            say(f"• Kafka: starting broker on {broker.bootstrap_servers}…")
        mailbox = Mailbox(port=args.smtp_port, directory=data_dir / "mail")
        broker.start()
        if secure is not None:
            secure.provision_sync(broker.bootstrap_servers)
            say("• Kafka: each service's SCRAM user and ACLs provisioned")
        mailbox.start()
        say(f"• mail: SMTP on {mailbox.host}:{mailbox.port}, mails in {mailbox.directory}")
        for name, port in ports.items():
            extra = {"LOG_JSON": "true", **replication}
            if secure is not None:
                extra |= secure.service_env(name)
            if name == "notifications":
                extra |= {"SMTP_HOST": mailbox.host, "SMTP_PORT": str(mailbox.port)}
            if name == "referral":  # demo referrals for the steering dashboard (issue 16)
                extra |= {"DEMO_STEERING_ACTIVITY": "true"}
            env = service_env(
                name,
                database_url=_database_url(name, data_dir),
                bootstrap_servers=broker.bootstrap_servers,
                extra=extra,
            )
            say(f"• {name}: {run_cli(name, 'migrate', env)}")
            if name == "referral":
                say(f"• {name}: {run_cli(name, 'seed', env)}")
            processes.append(ServiceProcess(name, port, env, data_dir / "logs" / f"{name}.log"))
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=90)
            say(f"• {process.name}: ready at {process.url}")
            if process.name == "notifications":
                summary = register_demo_contacts(process.url, _token("ops"))
                say(f"• notifications: {summary}")
        _print_welcome(broker.bootstrap_servers, lib, data_dir, processes, mailbox)
        phase["name"] = "running"
        if stop.is_set():
            return 0
        while not stop.wait(1.0):
            for process in processes:
                if not process.running:
                    say(f"! {process.name} stopped unexpectedly; log tail:\n{process.log_tail()}")
                    stop.set()
        return 0
    except _Stopped:
        return 0
    finally:
        phase["name"] = "stopping"
        _shutdown(processes, broker, mailbox)


def _shutdown(
    processes: list[ServiceProcess],
    broker: LocalKafka | LocalKafkaCluster | None,
    mailbox: Mailbox | None,
) -> None:
    """Stop everything, services first (they flush their outbox and leave their consumer groups
    while the broker is still there). Each step runs whatever happened to the one before; the
    output may be gone (``| tee`` killed by the same Ctrl-C): :func:`say` never raises."""
    say("\n• stopping services…")
    for process in reversed(processes):
        try:
            process.stop()
        except Exception as exc:  # the next ones must still be stopped
            say(f"! {process.name}: {exc!r}; killing it")
            with contextlib.suppress(Exception):
                process.kill()
    if broker is not None:
        say("• stopping Kafka…")
        try:
            broker.stop()
        except Exception as exc:
            say(f"! Kafka: {exc!r}")
    if mailbox is not None:
        with contextlib.suppress(Exception):
            mailbox.stop()
    say("• stopped.")


def _token(role: str, **claims: str) -> str:
    from shared.auth.tokens import Role, mint_token
    from shared.settings import DEVELOPMENT_JWT_SECRET

    return mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject=f"demo-{role}",
        role=Role(role),
        issuer="coop-platform-dev",
        audience="coop-platform",
        **claims,  # type: ignore[arg-type]
    )


def _print_welcome(
    bootstrap: str,
    lib: Path,
    data_dir: Path,
    processes: list[ServiceProcess],
    mailbox: Mailbox,
) -> None:
    from shared.auth.cli import main as _unused  # noqa: F401 - proves the CLI is installed
    from shared.auth.tokens import Role, mint_token
    from shared.settings import DEVELOPMENT_JWT_SECRET

    def token(role: Role, **claims: str) -> str:
        return mint_token(
            key=DEVELOPMENT_JWT_SECRET,
            subject=f"demo-{role.value}",
            role=role,
            issuer="coop-platform-dev",
            audience="coop-platform",
            **claims,  # type: ignore[arg-type]
        )

    counsellor = token(Role.COUNSELLOR, ft_structure="75101")
    ops = token(Role.OPS)
    steering = token(Role.STEERING)
    urls = {process.name: process.url for process in processes}
    lines = [
        "",
        "══════════════════════════════════════════════════════════════════════",
        " The platform is up. Ctrl-C stops everything.",
        "══════════════════════════════════════════════════════════════════════",
    ]
    for process in processes:
        lines.append(f" {process.name:<14} {process.url}   API docs: {process.url}/docs")
    lines += [
        f" Kafka          {bootstrap}",
        f" Logs           {data_dir / 'logs'}",
        f" Mail (SMTP)    {mailbox.host}:{mailbox.port}: every mail sent is kept in "
        f"{mailbox.directory}/*.eml",
        f"                (ls -t {mailbox.directory} | head; cat {mailbox.directory}/<file>.eml)",
        '                inbox: curl -s -H "Authorization: Bearer $TOKEN" '
        f"{urls.get('notifications', '')}/v1/inbox",
        "",
        " Development tokens (12 h):",
        f"   counsellor (structure 75101): {counsellor}",
        f"   ops:                          {ops}",
        f"   steering:                     {steering}",
        "",
        " Steering dashboard (comité de pilotage): ask for a link, open it in a browser:",
        f"   curl -s -X POST {urls.get('referral', '')}/v1/steering/dashboard-link "
        f'-H "Authorization: Bearer {steering}"',
        f"   then {urls.get('referral', '')}<url>",
        "",
        " Try it:",
        f'   export TOKEN="{counsellor}"',
        f"   curl -s -X POST {urls.get('referral', '')}/v1/referrals \\",
        '     -H "Authorization: Bearer $TOKEN" '
        '-H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" \\',
        '     -H \'Content-Type: application/json\' -d \'{"job_seeker": {"ft_identifier": '
        '"1234567A", "first_name": "Camille", "last_name": "Martin"}, '
        '"agency_id": "agc-interim-nord-lille", "rome_code": "H2913", '
        '"message": "Profil motivé, soudure MIG validée."}\'',
        "",
        " Watch the events with Kafka's own console consumer (shows the ce_* headers):",
        f"   make watch TOPIC=referral.events     (or: java -cp '{lib}/*' "
        "org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "
        f"{bootstrap} --topic referral.events --from-beginning --property print.headers=true)",
        "══════════════════════════════════════════════════════════════════════",
    ]
    say("\n".join(lines))


def watch(args: argparse.Namespace) -> int:
    lib = ensure_jars()
    command = [
        "java",
        "-cp",
        f"{lib}/*",
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server",
        args.bootstrap,
        "--topic",
        args.topic,
        "--from-beginning",
        "--property",
        "print.headers=true",
        "--property",
        "print.key=true",
    ]
    os.execvp("java", command)  # noqa: S606, S607 - replace this process: Ctrl-C goes straight to it
    return 0


def _service_port(text: str) -> tuple[str, int]:
    name, sep, port = text.partition("=")
    if not sep or name not in SERVICES or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=PORT with NAME in {sorted(SERVICES)}")
    return name, int(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="coop-stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start the broker and the three services")
    up_parser.add_argument("--data-dir", default=".data")
    up_parser.add_argument("--kafka-port", type=int, default=9092)
    up_parser.add_argument("--smtp-port", type=int, default=1025)
    up_parser.add_argument(
        "--cluster",
        action="store_true",
        help="three Kafka brokers (free ports) instead of one, topics replicated three times",
    )
    up_parser.add_argument(
        "--secure",
        action="store_true",
        help="the broker with SASL/SCRAM-SHA-512 over TLS and ACLs (one principal per service)",
    )
    up_parser.add_argument(
        "--die-with-parent",
        action="store_true",
        help="stop the stack when the process that started the launcher dies (make up)",
    )
    up_parser.add_argument(
        "--service-port",
        action="append",
        type=_service_port,
        metavar="NAME=PORT",
        help=f"HTTP port of one service (defaults: {SERVICES})",
    )
    watch_parser = sub.add_parser("watch", help="print a topic's records with their headers")
    watch_parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    watch_parser.add_argument("--topic", default="referral.events")
    args = parser.parse_args(argv)
    sys.exit(up(args) if args.command == "up" else watch(args))


if __name__ == "__main__":
    main()
