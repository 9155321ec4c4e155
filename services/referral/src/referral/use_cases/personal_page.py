"""The job seeker's own page (issue 11, item 7): a signed link, given once the job seeker
consented to be contacted, shows who holds their data, each referral and immersion with its status,
and lets them withdraw a consent. The link carries the job seeker's id and an expiry, signed with
HMAC-SHA256: no account, no personal data in the URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain import ConsentScope, ReferralStatus
from referral.models import (
    Agency,
    Consent,
    ErasureRequest,
    JobSeeker,
    Referral,
    ReferralSchemeEvent,
)
from referral.use_cases.common import not_found
from referral.use_cases.consents import withdraw
from shared.auth.tokens import Principal
from shared.domain.errors import Forbidden, InvalidInput


@dataclass(frozen=True, slots=True)
class IssueLink:
    job_seeker_id: uuid.UUID
    secret: str
    now: datetime
    valid_for: timedelta


def _sign(payload: str, secret: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]


def make_token(job_seeker_id: uuid.UUID, expires: datetime, secret: str) -> str:
    payload = f"{job_seeker_id.hex}.{int(expires.timestamp())}"
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{body}.{_sign(payload, secret)}"


def read_token(token: str, secret: str, now: datetime) -> uuid.UUID:
    """The job seeker of a valid, unexpired link; otherwise ``Forbidden`` (French message)."""
    refused = Forbidden("Ce lien n'est pas valide ou a expiré : demandez-en un nouveau.")
    try:
        body, signature = token.split(".")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        ident, expires = payload.split(".")
        job_seeker_id = uuid.UUID(hex=ident)
    except ValueError:
        raise refused from None
    if not hmac.compare_digest(signature, _sign(payload, secret)):
        raise refused
    if int(expires) < now.timestamp():
        raise refused
    return job_seeker_id


async def issue_link(session: AsyncSession, command: IssueLink, counsellor: Principal) -> str:
    job_seeker = await session.get(JobSeeker, command.job_seeker_id)
    if job_seeker is None or not access.may_record_consent(counsellor, job_seeker):
        raise not_found(f"Demandeur d'emploi {command.job_seeker_id}")
    contact = await session.scalar(
        select(Consent.id).where(
            Consent.job_seeker_id == job_seeker.id,
            Consent.scope == ConsentScope.CONTACT.value,
            Consent.withdrawn_at.is_(None),
        )
    )
    if contact is None:
        raise InvalidInput(
            "Le demandeur d'emploi n'a pas consenti à être contacté : recueillez d'abord ce"
            " consentement (scope « contact »)."
        )
    return make_token(job_seeker.id, command.now + command.valid_for, command.secret)


async def _owner(session: AsyncSession, token: str, secret: str, now: datetime) -> JobSeeker:
    job_seeker = await session.get(JobSeeker, read_token(token, secret, now))
    erased = (
        await session.scalar(
            select(ErasureRequest.id).where(ErasureRequest.job_seeker_id == job_seeker.id)
        )
        if job_seeker is not None
        else None
    )
    if job_seeker is None or erased is not None:
        raise Forbidden("Ce lien n'est pas valide ou a expiré : demandez-en un nouveau.")
    return job_seeker


async def personal_view(
    session: AsyncSession, token: str, secret: str, now: datetime
) -> dict[str, Any]:
    job_seeker = await _owner(session, token, secret, now)
    referrals = list(
        await session.scalars(
            select(Referral)
            .where(Referral.job_seeker_id == job_seeker.id)
            .order_by(Referral.created_at.desc())
        )
    )
    agencies = {
        a.id: a
        for a in await session.scalars(
            select(Agency).where(Agency.id.in_({r.agency_id for r in referrals}))
        )
    }
    schemes: dict[uuid.UUID, list[str]] = {}
    for event in await session.scalars(
        select(ReferralSchemeEvent)
        .where(ReferralSchemeEvent.referral_id.in_([r.id for r in referrals]))
        .order_by(ReferralSchemeEvent.occurred_at)
    ):
        schemes.setdefault(event.referral_id, []).append(event.label)
    consents = list(
        await session.scalars(
            select(Consent)
            .where(Consent.job_seeker_id == job_seeker.id, Consent.withdrawn_at.is_(None))
            .order_by(Consent.granted_at)
        )
    )
    holders = ["France Travail (service des orientations de la plateforme)"]
    holders += sorted(
        {
            agencies[r.agency_id].name
            for r in referrals
            if r.identity_shared and r.agency_id in agencies
        }
    )
    if schemes:
        holders.append("Service des dispositifs (immersions, MRS, formations)")
    return {
        "first_name": job_seeker.first_name,
        "holders": holders,
        "referrals": [
            {
                "agency": agencies[r.agency_id].name if r.agency_id in agencies else r.agency_id,
                "status": ReferralStatus(r.status).label,
                "sent_on": r.created_at.strftime("%d/%m/%Y"),
                "identity_shared": r.identity_shared,
                "rqth_shared": r.rqth_shared,
                "schemes": schemes.get(r.id, []),
            }
            for r in referrals
        ],
        "consents": [
            {
                "id": c.id,
                "label": ConsentScope(c.scope).label,
                "agency": agencies[c.agency_id].name
                if c.agency_id in agencies
                else (c.agency_id or "la plateforme"),
            }
            for c in consents
        ],
    }


async def withdraw_by_job_seeker(
    session: AsyncSession, token: str, consent_id: uuid.UUID, secret: str, now: datetime
) -> None:
    job_seeker = await _owner(session, token, secret, now)
    consent = await session.get(Consent, consent_id, with_for_update=True)
    if consent is None or consent.job_seeker_id != job_seeker.id:
        raise not_found(f"Consentement {consent_id}")
    await withdraw(session, consent, f"job_seeker:{job_seeker.id}")
