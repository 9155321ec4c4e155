"""``python -m devstack up``: the whole platform on this machine, for ``make up``.

Starts the Kafka broker (KRaft, from the Maven-resolved jars), a local SMTP server that stores mails
under ``.data/mail/``, migrates each service's own SQLite store under ``.data/``, seeds demo data,
starts the three services, prints where to look, and stops everything cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from devstack.demo_contacts import register_demo_contacts
from devstack.mailbox import Mailbox
from devstack.services import SERVICES, ServiceProcess, run_cli, service_env
from localkafka import LocalKafka
from localkafka.broker import ensure_jars


def _database_url(name: str, data_dir: Path) -> str:
    override = os.environ.get(f"{name.upper()}_DATABASE_URL")
    return override or f"sqlite+aiosqlite:///{data_dir / (name + '.db')}"


def up(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    print("• Kafka: resolving jars (Maven, cached after the first time)…", flush=True)
    lib = ensure_jars()
    broker = LocalKafka(
        data_dir / "kafka", port=args.kafka_port, controller_port=args.kafka_port + 1
    )
    mailbox = Mailbox(port=args.smtp_port, directory=data_dir / "mail")
    processes: list[ServiceProcess] = []
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        print(f"• Kafka: starting broker on {broker.bootstrap_servers}…", flush=True)
        broker.start()
        mailbox.start()
        print(
            f"• mail: SMTP on {mailbox.host}:{mailbox.port}, mails in {mailbox.directory}",
            flush=True,
        )
        for name, port in SERVICES.items():
            extra = {"LOG_JSON": "true"}
            if name == "notifications":
                extra |= {"SMTP_HOST": mailbox.host, "SMTP_PORT": str(mailbox.port)}
            env = service_env(
                name,
                database_url=_database_url(name, data_dir),
                bootstrap_servers=broker.bootstrap_servers,
                extra=extra,
            )
            print(f"• {name}: {run_cli(name, 'migrate', env)}", flush=True)
            if name == "referral":
                print(f"• {name}: {run_cli(name, 'seed', env)}", flush=True)
            processes.append(ServiceProcess(name, port, env, data_dir / "logs" / f"{name}.log"))
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=90)
            print(f"• {process.name}: ready at {process.url}", flush=True)
            if process.name == "notifications":
                summary = register_demo_contacts(process.url, _token("ops"))
                print(f"• notifications: {summary}", flush=True)
        _print_welcome(broker.bootstrap_servers, lib, data_dir, processes, mailbox)
        while not stop.wait(1.0):
            for process in processes:
                if not process.running:
                    print(f"! {process.name} stopped unexpectedly; log tail:\n{process.log_tail()}")
                    stop.set()
        return 0
    finally:
        print("\n• stopping services…", flush=True)
        for process in reversed(processes):
            process.stop()
        print("• stopping Kafka…", flush=True)
        broker.stop()
        mailbox.stop()
        print("• stopped.", flush=True)


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
        "http://127.0.0.1:8003/v1/inbox",
        "",
        " Development tokens (12 h):",
        f"   counsellor (structure 75101): {counsellor}",
        f"   ops:                          {ops}",
        "",
        " Try it:",
        f'   export TOKEN="{counsellor}"',
        "   curl -s -X POST http://127.0.0.1:8001/v1/referrals \\",
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
    print("\n".join(lines), flush=True)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="coop-stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start the broker and the three services")
    up_parser.add_argument("--data-dir", default=".data")
    up_parser.add_argument("--kafka-port", type=int, default=9092)
    up_parser.add_argument("--smtp-port", type=int, default=1025)
    watch_parser = sub.add_parser("watch", help="print a topic's records with their headers")
    watch_parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    watch_parser.add_argument("--topic", default="referral.events")
    args = parser.parse_args(argv)
    sys.exit(up(args) if args.command == "up" else watch(args))


if __name__ == "__main__":
    main()
