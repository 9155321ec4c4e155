"""What the referral service tells about PMSMP conventions: an agency's immersion request becomes
a convention request, or a rejected one answered with ``immersion.rejected`` (never dropped); a
referral withdrawn or expired makes its pending conventions obsolete. Driven by the consumers
(``consumers.py``): the caller is the agency of the event, or this service itself."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.domain.immersion import Actor, ImmersionStatus
from dispositifs.models import ImmersionConvention, KnownReferral
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases.immersion_common import (
    ImmersionRequest,
    Who,
    end_convention,
    event_fields,
    move,
    new_convention,
    now,
    open_convention,
    publish,
)
from shared.contracts.dispositifs import ImmersionRejected, RuleBroken
from shared.contracts.referral import ReferralImmersionRequested
from shared.domain.errors import RulesBroken
from shared.privacy import redact_text

#: Conventions a withdrawn or expired referral makes obsolete (not validated yet).
_PENDING = (
    ImmersionStatus.REQUESTED,
    ImmersionStatus.READY_TO_SIGN,
    ImmersionStatus.PARTIALLY_SIGNED,
    ImmersionStatus.SIGNED,
)


def _redacted(text: str | None, field: str) -> str | None:
    return None if text is None else redact_text(text, field)[0]


def _request_from_agency(
    data: ReferralImmersionRequested, known: KnownReferral | None
) -> ImmersionRequest:
    return ImmersionRequest(
        content={
            "objet": data.objet.value,
            "start_date": data.start_date,
            "end_date": data.end_date,
            "weekly_hours": data.weekly_hours,
            "host.name": data.host_name,
            "host.siret": data.host_siret,
            "host.address": data.host_address,
            "tutor.name": data.tutor_name,
            "tutor.function": data.tutor_function,
            "tutor.email": data.tutor_email,
            # Text from an agency's ERP: kept without what must not travel in it (issue 11).
            "objectives": _redacted(data.objectives, "objectives"),
            "tasks": _redacted(data.tasks, "tasks"),
            "departement": known.departement if known else None,
        },
        referral_id=data.referral_id,
        job_seeker_id=data.job_seeker_id,
        agency_id=data.agency_id,
        structure_code=data.structure_code,
        rome_code=data.rome_code,
    )


async def receive_agency_request(
    session: AsyncSession,
    data: ReferralImmersionRequested,
    settings: DispositifsSettings,
    *,
    event_id: str,
) -> ImmersionConvention | None:
    """An agency's immersion request (checked by the referral service): a convention request, or
    a rejected one with ``immersion.rejected`` saying which rule and article — never dropped.
    None when the same request is already known (re-sent under another event id)."""
    duplicate = await session.scalar(
        select(ImmersionConvention.id).where(
            ImmersionConvention.referral_id == data.referral_id,
            ImmersionConvention.host_siret == data.host_siret,
            ImmersionConvention.start_date == data.start_date,
            ImmersionConvention.end_date == data.end_date,
            ImmersionConvention.objet == data.objet.value,
            ImmersionConvention.origin == Actor.AGENCY.value,
        )
    )
    if duplicate is not None:
        return None
    known = await session.get(KnownReferral, data.referral_id)
    request = _request_from_agency(data, known)
    agency = Who(Actor.AGENCY, data.agency_id)
    try:
        # Nothing is added to the session before every rule has passed.
        return await open_convention(session, request, agency, settings, event_id=event_id)
    except RulesBroken as broken:
        return await _reject_request(session, request, broken, settings, event_id=event_id)


async def _reject_request(
    session: AsyncSession,
    request: ImmersionRequest,
    broken: RulesBroken,
    settings: DispositifsSettings,
    *,
    event_id: str,
) -> ImmersionConvention:
    at = now()
    convention = new_convention(request, Actor.AGENCY, at)
    convention.request_event_id = event_id
    reason = "; ".join(v.describe() for v in broken.violations)
    session.add(convention)
    await move(
        session,
        convention,
        ImmersionStatus.REJECTED,
        Who(Actor.SYSTEM, settings.service_name),
        justification=reason,
        event_id=event_id,
        at=at,
    )
    await session.flush()
    await publish(
        session,
        convention,
        ImmersionRejected(
            **event_fields(convention, at),
            reason=reason,
            article=", ".join(broken.articles) or None,
            violations=[
                RuleBroken(rule=v.rule, field=v.field, message=v.message, article=v.article)
                for v in broken.violations
            ],
        ),
    )
    return convention


async def deprecate_for_referral(
    session: AsyncSession,
    referral_id: uuid.UUID,
    justification: str,
    settings: DispositifsSettings,
    *,
    event_id: str,
) -> int:
    """The referral was withdrawn or expired: its conventions not yet validated are obsolete."""
    pending = await session.scalars(
        select(ImmersionConvention).where(
            ImmersionConvention.referral_id == referral_id,
            ImmersionConvention.status.in_([s.value for s in _PENDING]),
        )
    )
    count = 0
    for convention in list(pending):
        await end_convention(
            session,
            convention,
            ImmersionStatus.DEPRECATED,
            Who(Actor.SYSTEM, settings.service_name),
            settings,
            justification=justification,
            event_id=event_id,
        )
        count += 1
    return count
