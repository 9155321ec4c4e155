"""``coop-agency``: play an agency network's ERP.

    coop-agency --network interim-nord follow
    coop-agency --network interim-nord accept --referral <id> --agency agc-interim-nord-lille
    coop-agency --network interim-nord decline --referral <id> --agency … --reason lacking_skills
    coop-agency --network interim-nord answer immersion --referral <id> --agency … \\
        --set objet=confirm_project --set start_date=2026-12-07 --set end_date=2026-12-18 \\
        --set weekly_hours=35 --set host_name="Soudure Lilloise" --set host_siret=73282932000074
    coop-agency --network interim-nord training --referral <id> --agency … --set hours=280
    coop-agency --network interim-nord scenario scenario.yaml

A scenario file is a list of steps: ``{wait_for_referral: {timeout: 60}}`` remembers the next
referral received (``referral_id`` or ``rome_code`` narrow it down);
``{answer: accept, with: {...}}`` answers it (``referral_id`` and ``agency_id`` default to the
remembered referral's); ``{sleep: 1.5}`` waits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agency_client.client import ANSWERS, AgencyClient, CandidateStore, Connection, describe


def _connection(args: argparse.Namespace) -> Connection:
    return Connection(
        bootstrap_servers=args.bootstrap,
        network_id=args.network,
        sasl_username=args.sasl_username,
        sasl_password=os.environ.get("COOP_AGENCY_SASL_PASSWORD") if args.sasl_username else None,
        sasl_mechanism=os.environ.get("COOP_AGENCY_SASL_MECHANISM", "SCRAM-SHA-512"),
        ssl_cafile=os.environ.get("COOP_AGENCY_SSL_CAFILE") or None,
    )


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {"referral_id": args.referral, "agency_id": args.agency}
    for name in (
        "comment",
        "reason",
        "interview_at",
        "location",
        "contract_type",
        "start_date",
        "expected_start_date",
        "expected_end_date",
        "end_date",
        "weekly_hours",
    ):
        value = getattr(args, name, None)
        if value is not None:
            fields[name] = value
    for item in getattr(args, "set", None) or []:
        key, _, value = item.partition("=")
        fields[key] = value
    return fields


async def _follow(args: argparse.Namespace) -> None:
    client = AgencyClient(_connection(args))
    store = CandidateStore()
    async for item in client.follow(group=args.group, from_beginning=not args.latest):
        print(describe(item.event), flush=True)
        for referral_id in store.apply(item.event):
            print(f"  données du candidat de {referral_id} supprimées", flush=True)


async def _answer(args: argparse.Namespace, kind: str) -> None:
    async with AgencyClient(_connection(args)) as client:
        event = await client.answer(kind, _fields(args))
    print(f"sent {event.type} id={event.id} on {client.responses_topic}")


async def _scenario(args: argparse.Namespace, steps: list[dict[str, Any]]) -> None:
    remembered: dict[str, Any] = {}
    async with AgencyClient(_connection(args)) as client:
        for number, step in enumerate(steps, start=1):
            if "wait_for_referral" in step:
                options = step["wait_for_referral"] or {}
                event = await client.wait_for_referral(
                    float(options.get("timeout", 60)),
                    group=args.group,
                    rome_code=options.get("rome_code"),
                    referral_id=options.get("referral_id"),
                )
                remembered = {
                    "referral_id": event.data["referral_id"],
                    "agency_id": event.data["agency_id"],
                }
                print(f"step {number}: {describe(event)}", flush=True)
            elif "answer" in step:
                fields = {**remembered, **(step.get("with") or {})}
                event = await client.answer(step["answer"], fields)
                print(f"step {number}: sent {event.type} for {fields['referral_id']}", flush=True)
            elif "sleep" in step:
                await asyncio.sleep(float(step["sleep"]))
            else:
                raise SystemExit(f"step {number}: unknown step {step!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="coop-agency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--network", required=True, help="your network id (enseigne)")
    parser.add_argument(
        "--sasl-username", help="SCRAM user (password in COOP_AGENCY_SASL_PASSWORD)"
    )
    parser.add_argument("--group", help="consumer group (default agency.<network>.erp)")
    sub = parser.add_subparsers(dest="command", required=True)
    follow = sub.add_parser("follow", help="print referrals and updates as they arrive")
    follow.add_argument("--latest", action="store_true", help="only what arrives from now on")
    scenario = sub.add_parser("scenario", help="play a scenario file")
    scenario.add_argument("file")
    for kind, model in ANSWERS.items():
        answer = sub.add_parser(kind, help=(model.__doc__ or "").strip().splitlines()[0])
        answer.add_argument("--referral", required=True)
        answer.add_argument("--agency", required=True)
        answer.add_argument("--comment")
        answer.add_argument(
            "--set", action="append", metavar="FIELD=VALUE", help="any other field of the answer"
        )
        if kind == "decline":
            answer.add_argument("--reason", required=True, help="coded reason, e.g. lacking_skills")
        if kind == "interview":
            answer.add_argument("--interview-at", dest="interview_at", required=True)
            answer.add_argument("--location")
        if kind == "accept":
            answer.add_argument("--start-date", dest="expected_start_date")
        if kind == "placement-start":
            answer.add_argument("--contract", dest="contract_type", required=True)
            answer.add_argument("--start-date", dest="start_date", required=True)
            answer.add_argument("--end-date", dest="expected_end_date")
            answer.add_argument("--weekly-hours", dest="weekly_hours")
        if kind == "placement-end":
            answer.add_argument("--end-date", dest="end_date", required=True)
            answer.add_argument("--reason")
    args = parser.parse_args(argv)
    try:
        if args.command == "follow":
            asyncio.run(_follow(args))
        elif args.command == "scenario":
            asyncio.run(_scenario(args, yaml.safe_load(Path(args.file).read_text())))
        else:
            asyncio.run(_answer(args, args.command))
    except ValidationError as exc:
        print(f"invalid answer: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
