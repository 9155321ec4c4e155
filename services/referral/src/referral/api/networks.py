"""Agency networks (ops): onboarding provisions the network's feed and response topics; the audit
log shows the answers that were refused, forged ones first of all."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from referral.adapters.network_topics import provision_network_topics, topics_of
from referral.api.agencies import AgencyOut, agency_out
from referral.api.deps import Ops, Runtime
from referral.models import Network
from referral.use_cases import directory_import, directory_lines, queries
from referral.use_cases.networks import OnboardNetwork
from referral.use_cases.networks import onboard_network as onboard
from shared.auth.tokens import Principal, Role
from shared.contracts.topics import NETWORK_ID_PATTERN
from shared.http.body_limit import MIB
from shared.http.idempotency import REPLAY_HEADER, IdempotencyKey, create_idempotently
from shared.http.pagination import Page
from shared.http.security import require_roles
from shared.messaging.provisioning import provision_network_credentials

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1", tags=["networks"])

#: A network's own integration token (an agency token of that network) or ops.
NetworkOrOps = Annotated[Principal, Depends(require_roles(Role.AGENCY, Role.OPS))]


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
    kafka_credentials: KafkaCredentialsOut | None = Field(
        default=None,
        description="The network's SCRAM user and password on a secured broker, shown once (in "
        "the answer to the onboarding only, never stored by the platform): hand them to the "
        "network. Absent when credentials are left to ops.",
    )


class KafkaCredentialsOut(BaseModel):
    username: str
    password: str
    mechanism: str


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
    if response.status_code == 201 and REPLAY_HEADER not in response.headers:
        try:
            credentials = await provision_network_credentials(runtime.settings, body.id)
        except Exception as exc:  # the network exists: ops give it credentials with coop-ops
            log.warning("network credentials not provisioned", network=body.id, error=str(exc))
            credentials = None
        if credentials is not None:  # issue 15: handed once, not in the stored replay
            payload = json.loads(bytes(response.body))
            payload["kafka_credentials"] = KafkaCredentialsOut(
                username=credentials.username,
                password=credentials.password,
                mechanism=credentials.mechanism,
            ).model_dump()
            headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
            return JSONResponse(payload, status_code=201, headers=headers)
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


# -- a network's directory: bulk import, re-sync, contacts (issue 16, item 6) --------------------


class RejectedLineOut(BaseModel):
    line: int = Field(description="Numéro de ligne (CSV : l'en-tête est la ligne 1).")
    agency_id: str | None
    field: str
    reason: str = Field(description="La raison, en français.")


class ImportReportOut(BaseModel):
    network_id: str
    received: int
    created: int
    updated: int
    unchanged: int
    deactivated: int
    rejected: list[RejectedLineOut]


class ContactsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=20)
    contact_name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "Les agences du réseau : CSV (en-tête : "
        + ", ".join(directory_lines.COLUMNS)
        + " ; virgule ou point-virgule ; rome_codes séparés par des espaces) ou JSON (liste "
        'd\'objets de mêmes clés, ou {"agencies": [...]}).',
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}


@router.put(
    "/networks/{network_id}/agencies",
    response_model=ImportReportOut,
    summary="Importer ou resynchroniser les agences d'un réseau (CSV ou JSON)",
    openapi_extra=_IMPORT_BODY,
    # A network's whole directory (10,000+ lines, ~2 MB in CSV) in one request.
    max_body_size=32 * MIB,
)
async def import_agencies(
    network_id: Annotated[str, Path(pattern=NETWORK_ID_PATTERN)],
    principal: NetworkOrOps,
    request: Request,
    runtime: Runtime,
    deactivate_missing: Annotated[
        bool, Query(description="Resynchronisation complète : désactiver les agences absentes.")
    ] = False,
) -> Any:
    lines = directory_lines.parse_body(
        request.headers.get("content-type", ""), await request.body()
    )
    command = directory_import.ImportDirectory(network_id, lines, deactivate_missing)
    async with runtime.database.transaction() as session:
        report = await directory_import.import_directory(session, command, principal)
    await provision_network_topics(runtime, network_id)
    return ImportReportOut(
        network_id=report.network_id,
        received=report.received,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        deactivated=report.deactivated,
        rejected=[RejectedLineOut(**r) for r in directory_import.rejected_lines(report)],
    ).model_dump(mode="json")


@router.patch(
    "/networks/{network_id}/agencies/{agency_id}/contacts",
    response_model=AgencyOut,
    summary="Mettre à jour les contacts d'une agence du réseau",
)
async def update_agency_contacts(
    network_id: str, agency_id: str, body: ContactsPatch, principal: NetworkOrOps, runtime: Runtime
) -> Any:
    command = directory_import.UpdateContacts(
        network_id, agency_id, body.model_dump(exclude_unset=True)
    )
    async with runtime.database.transaction() as session:
        agency = await directory_import.update_contacts(session, command, principal)
        return agency_out(agency)
