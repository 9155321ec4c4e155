"""Agency networks (ops): onboarding provisions the network's feed and response topics; the audit
log shows the answers that were refused, forged ones first of all."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from referral.api.dependencies import Ops, Runtime, create_idempotently
from referral.models import Network, RefusedResponse
from referral.networks import register_network, topics_of
from shared.contracts.topics import NETWORK_ID_PATTERN
from shared.http.idempotency import IdempotencyKey
from shared.http.pagination import Page, decode_cursor, encode_cursor
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["networks"])


class NetworkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=NETWORK_ID_PATTERN, examples=["interim-nord"])
    name: str = Field(min_length=1, max_length=200, examples=["Intérim Nord"])


class NetworkOut(BaseModel):
    id: str
    name: str
    onboarded_at: datetime
    feed_topic: str
    responses_topic: str
    topics_provisioned: bool | None = Field(
        default=None,
        description="False when the broker could not be reached: the topics are created at the "
        "service's next start.",
    )


class RefusedResponseOut(BaseModel):
    id: int
    event_id: str | None
    event_type: str | None
    topic: str
    partition: int
    offset: int
    network_id: str | None
    agency_id: str | None
    referral_id: str | None
    kind: str
    reason: str
    error: str
    recorded_at: datetime


def _out(network: Network, provisioned: bool | None = None) -> dict[str, Any]:
    feed, responses, _ = topics_of(network.id)
    return NetworkOut(
        id=network.id,
        name=network.name,
        onboarded_at=network.onboarded_at,
        feed_topic=feed.name,
        responses_topic=responses.name,
        topics_provisioned=provisioned,
    ).model_dump(mode="json")


async def provision_network_topics(runtime: ServiceRuntime, network_id: str) -> bool:
    """Create the network's topics now; False if the broker is unreachable (retried at start)."""
    if not runtime.settings.kafka_enabled:
        return False
    try:
        await runtime.provision(topics_of(network_id))
        return True
    except Exception as exc:
        log.warning("network topics not provisioned", network=network_id, error=str(exc))
        return False


@router.post(
    "/networks",
    status_code=201,
    response_model=NetworkOut,
    summary="Intégrer un réseau d'agences (ops) : crée ses sujets de flux et de réponses",
)
async def onboard_network(
    body: NetworkIn, principal: Ops, idempotency_key: IdempotencyKey, runtime: Runtime
) -> Any:
    async def create(session: Any) -> tuple[dict[str, Any], str]:
        network, created = await register_network(session, body.id, body.name)
        if not created:
            raise ProblemError(
                409, "Conflit", f"Le réseau {body.id} est déjà intégré.", problem="network-exists"
            )
        return _out(network), f"/v1/networks/{network.id}"

    response = await create_idempotently(
        runtime, principal, idempotency_key, body.model_dump(mode="json"), create
    )
    await provision_network_topics(runtime, body.id)
    return response


@router.get("/networks", response_model=list[NetworkOut], summary="Réseaux intégrés (ops)")
async def list_networks(_principal: Ops, runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.session() as session:
        networks = (await session.scalars(select(Network).order_by(Network.id))).all()
    return [_out(network) for network in networks]


@router.get(
    "/networks/{network_id}/refused-responses",
    response_model=Page[RefusedResponseOut],
    summary="Réponses refusées d'un réseau (journal d'audit, ops)",
)
async def refused_responses(
    network_id: str,
    _principal: Ops,
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    query = (
        select(RefusedResponse)
        .where(RefusedResponse.network_id == network_id)
        .order_by(RefusedResponse.id.desc())
    )
    if cursor:
        (last_id,) = decode_cursor(cursor, size=1)
        query = query.where(RefusedResponse.id < int(last_id))
    async with runtime.session() as session:
        rows = list((await session.scalars(query.limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].id])
    return {
        "items": [RefusedResponseOut.model_validate(r, from_attributes=True) for r in rows],
        "next_cursor": next_cursor,
    }
