"""Agency networks (enseignes) and their isolation.

A network is onboarded by ops or with its first agency (its topics:
:mod:`referral.adapters.network_topics`). On top of the broker's ACLs, the referral service
applies an answer only if it came on the topic of the network the referral was addressed to,
naming one of that network's agencies (:mod:`referral.use_cases.agency_answers`); anything else is
dead-lettered, recorded in ``refused_responses`` and counted (:func:`record_refused_response`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain.errors import NetworkExists
from referral.models import Network, RefusedResponse
from shared.auth.tokens import Principal
from shared.contracts.topics import NETWORK_ID_PATTERN, network_of_responses_topic
from shared.db.database import Database
from shared.domain.errors import FieldIssue, Forbidden, InvalidInput
from shared.messaging.consumer import DeadLetterNotice
from shared.privacy import screen_error_text

REFUSED_RESPONSES = Counter(
    "coop_agency_responses_refused_total",
    "Agency answers not applied, by network and kind (forbidden: another network's referral or "
    "agency).",
    ["network", "kind"],
)

#: Kind of refusal, set by the use case in ``PermanentError.details["kind"]``.
FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class OnboardNetwork:
    id: str
    name: str


async def register_network(
    session: AsyncSession, network_id: str, name: str | None = None
) -> tuple[Network, bool]:
    """The network, created if new (returns it and whether it was created)."""
    if not re.match(NETWORK_ID_PATTERN, network_id):
        raise InvalidInput(
            f"Identifiant de réseau {network_id!r} invalide (minuscules, chiffres, tirets).",
            errors=[FieldIssue("network_id", f"doit respecter {NETWORK_ID_PATTERN}")],
        )
    network = await session.get(Network, network_id)
    if network is not None:
        if name and network.name != name:
            network.name = name
        return network, False
    network = Network(id=network_id, name=name or network_id, onboarded_at=datetime.now(UTC))
    session.add(network)
    await session.flush()
    return network, True


async def onboard_network(
    session: AsyncSession, command: OnboardNetwork, principal: Principal
) -> Network:
    """Ops onboard a network; a network already known is a conflict."""
    if not access.may_manage_directory(principal):
        raise Forbidden("Seuls les ops intègrent un réseau d'agences.")
    network, created = await register_network(session, command.id, command.name)
    if not created:
        raise NetworkExists(f"Le réseau {command.id} est déjà intégré.")
    return network


async def record_refused_response(notice: DeadLetterNotice, database: Database) -> None:
    """Dead-letter hook of the agency-responses consumer: audit and count every refused answer."""
    network_id = network_of_responses_topic(notice.topic)
    kind = str(notice.details.get("kind") or _kind_of(notice.reason))
    # One audit row per record: a redelivery (its offset commit lost) is neither audited nor
    # counted twice.
    async with database.transaction() as session:
        already = await session.scalar(
            select(RefusedResponse.id).where(
                RefusedResponse.topic == notice.topic,
                RefusedResponse.partition == notice.partition,
                RefusedResponse.offset == notice.offset,
            )
        )
    if already is not None:
        return
    # Counted first: the refusal happened even if the audit write below fails.
    REFUSED_RESPONSES.labels(network_id or "(none)", kind).inc()
    try:
        async with database.transaction() as session:
            session.add(
                RefusedResponse(
                    event_id=_bounded(notice.event_id, 64),
                    event_type=_bounded(notice.event_type, 200),
                    topic=notice.topic,
                    partition=notice.partition,
                    offset=notice.offset,
                    network_id=network_id,
                    agency_id=_bounded(_text(notice.details.get("agency_id")), 64),
                    referral_id=_bounded(
                        _text(notice.details.get("referral_id"))
                        or (notice.key.decode(errors="replace") if notice.key else None),
                        64,
                    ),
                    kind=kind[:32],
                    reason=notice.reason[:64],
                    # The dead letter's reason, written for the partner in French: never SQL
                    # nor values.
                    error=screen_error_text(partner_error(notice.reason, notice.error)),
                    recorded_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        return  # audited meanwhile by a redelivery handled concurrently: once is enough


#: What the partner reads for the refusals the shared consumer words in English (the envelope
#: and the contract registry speak for every service): the French sentence, then its detail.
_FRENCH_PREFIXES = {
    "unreadable_envelope": "Enregistrement illisible (en-têtes CloudEvents ce_* et"
    " content-type: application/json attendus, valeur JSON) : corrigez-le puis renvoyez-le.",
    "unknown_event_type": "Type d'événement inconnu du contrat (docs/asyncapi.yaml) : vérifiez"
    " ce_type et sa version.",
}


def partner_error(reason: str, error: str) -> str:
    """The refusal as the refused-answers audit keeps it: in French for the partner's staff
    (the refusals of the referral service are French already; the envelope's and the registry's,
    shared by every service, get a French sentence before their detail)."""
    prefix = _FRENCH_PREFIXES.get(reason)
    return f"{prefix} Détail : {error}" if prefix else error


def _bounded(value: str | None, length: int) -> str | None:
    """A partner-chosen value cut to its column (an event id of 300 characters is audited)."""
    return None if value is None else value[:length]


def _kind_of(reason: str) -> str:
    return {"rejected": "not_allowed", "invalid_data": "invalid"}.get(reason, "other")


def _text(value: object) -> str | None:
    return None if value is None else str(value)
