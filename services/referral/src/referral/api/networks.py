"""Agency networks (ops): onboarding provisions the network's feed and response topics; the audit
log shows the answers that were refused, forged ones first of all."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from referral.adapters.network_topics import provision_network_topics, topics_of
from referral.api.deps import Ops, Runtime
from referral.models import Network
from referral.use_cases import queries
from referral.use_cases.networks import OnboardNetwork
from referral.use_cases.networks import onboard_network as onboard
from shared.contracts.topics import NETWORK_ID_PATTERN
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page

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


@router.post(
    "/networks",
    status_code=201,
    response_model=NetworkOut,
    summary="Intégrer un réseau d'agences (ops) : crée ses sujets de flux et de réponses",
)
async def onboard_network(
    body: NetworkIn,
    principal: Ops,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Any:
    async def create(session: Any) -> tuple[dict[str, Any], str]:
        network = await onboard(session, OnboardNetwork(body.id, body.name), principal)
        return _out(network), f"/v1/networks/{network.id}"

    response = await create_idempotently(runtime, principal, idempotency_key, request, body, create)
    await provision_network_topics(runtime, body.id)
    return response


@router.get("/networks", response_model=list[NetworkOut], summary="Réseaux intégrés (ops)")
async def list_networks(_principal: Ops, runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.session() as session:
        networks = await queries.list_networks(session)
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
    async with runtime.session() as session:
        page = await queries.refused_responses(session, network_id, cursor=cursor, limit=limit)
    return page.map(lambda r: RefusedResponseOut.model_validate(r, from_attributes=True))
