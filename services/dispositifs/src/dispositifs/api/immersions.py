"""PMSMP conventions over HTTP: request (``Idempotency-Key``), list (cursor), read with the
timeline, complete the content, then one POST per step of the lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from dispositifs.api.deps import (
    Counsellor,
    CounsellorOrOps,
    Cursor,
    Limit,
    Runtime,
    settings_of,
)
from dispositifs.api.immersion_schemas import (
    AssessmentIn,
    ContentIn,
    ImmersionDetailOut,
    ImmersionIn,
    ImmersionOut,
    JustificationIn,
    RenewalIn,
    SignatureIn,
    content_of,
    detail_out,
    immersion_out,
)
from dispositifs.domain.immersion import ImmersionStatus
from dispositifs.domain.signing import SignatoryRole
from dispositifs.models import ImmersionConvention
from dispositifs.use_cases import Session, assessments, queries
from dispositifs.use_cases import immersions as use
from dispositifs.use_cases import signatures as signing
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page

router = APIRouter(prefix="/v1/immersions", tags=["immersions (PMSMP)"])


async def _step(
    runtime: Any, run: Callable[[Session], Awaitable[ImmersionConvention]]
) -> dict[str, Any]:
    async with runtime.database.transaction() as session:
        convention = await run(session)
        await session.flush()
        return immersion_out(convention)


@router.post(
    "",
    status_code=201,
    response_model=ImmersionOut,
    summary="Demander une convention d'immersion (PMSMP)",
    responses={422: {"description": "Règle non respectée : l'article est cité"}},
)
async def request_immersion(
    body: ImmersionIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Response:
    command = use.RequestImmersion(
        content=content_of(body),
        referral_id=body.referral_id,
        job_seeker_id=body.job_seeker_id,
        renewal_of=body.renewal_of,
        rome_code=body.rome_code,
    )

    async def create(session: Session) -> tuple[dict[str, Any], str]:
        convention = await use.request_immersion(session, principal, command, settings_of(runtime))
        return immersion_out(convention), f"/v1/immersions/{convention.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.post(
    "/{convention_id}/renewal",
    status_code=201,
    response_model=ImmersionOut,
    summary="Renouveler une convention (préremplie : même objet, mêmes objectifs ; justifiée)",
    responses={422: {"description": "Règle non respectée (D5135-3) : l'article est cité"}},
)
async def renew_immersion(
    convention_id: uuid.UUID,
    body: RenewalIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Response:
    command = use.RenewImmersion(
        convention_id, body.start_date, body.end_date, justification=body.justification
    )

    async def create(session: Session) -> tuple[dict[str, Any], str]:
        convention = await use.renew(session, principal, command, settings_of(runtime))
        return immersion_out(convention), f"/v1/immersions/{convention.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get("", response_model=Page[ImmersionOut], summary="Lister les conventions")
async def list_immersions(
    principal: CounsellorOrOps,
    runtime: Runtime,
    status: Annotated[ImmersionStatus | None, Query()] = None,
    referral_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    async with runtime.session() as session:
        found = await queries.list_immersions(
            session,
            principal,
            queries.PageRequest(limit, cursor),
            status=status,
            referral_id=referral_id,
        )
    return found.map(immersion_out)


@router.get(
    "/{convention_id}",
    response_model=ImmersionDetailOut,
    summary="Lire une convention et sa chronologie",
)
async def get_immersion(
    convention_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime
) -> dict[str, Any]:
    async with runtime.session() as session:
        convention = await queries.get_immersion(session, principal, convention_id)
    return detail_out(convention)


@router.patch(
    "/{convention_id}",
    response_model=ImmersionOut,
    summary="Compléter ou corriger le contenu d'une convention demandée",
)
async def update_immersion(
    convention_id: uuid.UUID, body: ContentIn, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.UpdateContent(convention_id, content_of(body))
    return await _step(
        runtime,
        lambda session: use.update_content(session, principal, command, settings_of(runtime)),
    )


@router.post(
    "/{convention_id}/ready",
    response_model=ImmersionOut,
    summary="Marquer prête à signer (contenu obligatoire complet, règles respectées)",
)
async def mark_ready(
    convention_id: uuid.UUID, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.MarkReady(convention_id)
    return await _step(
        runtime, lambda session: use.mark_ready(session, principal, command, settings_of(runtime))
    )


@router.post(
    "/{convention_id}/signatures",
    response_model=ImmersionOut,
    summary="Refusé : chaque partie signe par son propre lien (403)",
    responses={403: {"description": "Le conseiller ne signe pour personne"}},
)
async def sign(
    convention_id: uuid.UUID, body: SignatureIn, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.RecordSignature(convention_id, body.signatory)
    return await _step(runtime, lambda session: use.record_signature(session, principal, command))


@router.post(
    "/{convention_id}/signatories/{role}/resend",
    response_model=ImmersionOut,
    summary="Renvoyer son lien de signature à une partie (l'ancien lien ne sert plus)",
)
async def resend_link(
    convention_id: uuid.UUID, role: SignatoryRole, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = signing.ResendLink(convention_id, role)
    return await _step(
        runtime,
        lambda session: signing.resend_link(session, principal, command, settings_of(runtime)),
    )


@router.post(
    "/{convention_id}/assessment-request",
    response_model=ImmersionOut,
    summary="Envoyer au tuteur son lien de bilan (à partir du dernier jour)",
)
async def request_assessment(
    convention_id: uuid.UUID, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = assessments.RequestAssessment(convention_id, today=datetime.now(UTC).date())
    return await _step(
        runtime,
        lambda session: assessments.request_assessment(
            session, principal, command, settings_of(runtime)
        ),
    )


@router.post(
    "/{convention_id}/validate",
    response_model=ImmersionOut,
    summary="Valider la convention (conseiller du prescripteur)",
)
async def validate(
    convention_id: uuid.UUID, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.ValidateImmersion(convention_id)
    return await _step(
        runtime, lambda session: use.validate(session, principal, command, settings_of(runtime))
    )


@router.post("/{convention_id}/start", response_model=ImmersionOut, summary="Constater le début")
async def start(
    convention_id: uuid.UUID, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.StartImmersion(convention_id, today=datetime.now(UTC).date())
    return await _step(runtime, lambda session: use.start(session, principal, command))


@router.post(
    "/{convention_id}/complete",
    response_model=ImmersionOut,
    summary="Clore avec le bilan (objectifs atteints, embauche)",
)
async def complete(
    convention_id: uuid.UUID, body: AssessmentIn, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.CompleteImmersion(
        convention_id,
        objectives_reached=body.objectives_reached,
        hired=body.hired,
        assessment=body.assessment,
    )
    return await _step(
        runtime, lambda session: use.complete(session, principal, command, settings_of(runtime))
    )


def _ending(target: ImmersionStatus, summary: str) -> None:
    async def endpoint(
        convention_id: uuid.UUID, body: JustificationIn, principal: Counsellor, runtime: Runtime
    ) -> dict[str, Any]:
        command = use.EndImmersion(convention_id, target, body.justification)
        return await _step(
            runtime, lambda session: use.end(session, principal, command, settings_of(runtime))
        )

    endpoint.__name__ = f"{target.value}_immersion"
    verb = {"rejected": "reject", "cancelled": "cancel", "deprecated": "deprecate"}[target.value]
    router.post(f"/{{convention_id}}/{verb}", response_model=ImmersionOut, summary=summary)(
        endpoint
    )


_ending(ImmersionStatus.REJECTED, "Refuser la convention (justification obligatoire)")
_ending(ImmersionStatus.CANCELLED, "Annuler la convention (justification obligatoire)")
_ending(ImmersionStatus.DEPRECATED, "Rendre la convention obsolète (justification obligatoire)")
