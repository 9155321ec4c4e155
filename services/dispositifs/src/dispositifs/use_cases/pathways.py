"""The skills-gap pathway: propose a scheme for a referral (the agency declined it for lacking
skills, or training was asked for), then the counsellor accepts or dismisses the proposal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.access import may_link_referral, sees
from dispositifs.domain.immersion import Actor
from dispositifs.domain.pathway import (
    PROPOSAL_LIFECYCLE,
    ProposalStatus,
    ProposalTrigger,
    check_decision,
    propose_scheme,
)
from dispositifs.models import KnownReferral, PathwayProposal, PoecSession, TrainingEnrolment
from shared.auth.tokens import Principal
from shared.contracts.agency_requests import ReferralTrainingRequested
from shared.contracts.dispositifs import EnrolmentStatus
from shared.domain.errors import NotFound, RulesBroken, Violation, raise_if_any
from shared.messaging.consumer import PermanentError
from shared.referentials import region_of


async def open_poec_session_for(
    session: AsyncSession, rome_code: str, departement: str | None
) -> uuid.UUID | None:
    """A POEC session for this métier not started yet and with a seat left (same région first)."""
    today = datetime.now(UTC).date()
    taken = (
        select(func.count())
        .where(
            TrainingEnrolment.poec_session_id == PoecSession.id,
            TrainingEnrolment.status != EnrolmentStatus.ABANDONED.value,
        )
        .scalar_subquery()
    )
    candidates = (
        await session.scalars(
            select(PoecSession)
            .where(
                PoecSession.rome_code == rome_code,
                PoecSession.start_date >= today,
                taken < PoecSession.capacity,
            )
            .order_by(PoecSession.start_date, PoecSession.id)
        )
    ).all()
    region = region_of(departement)
    for poec in candidates:
        if region is not None and poec.region_code == region:
            return poec.id
    return candidates[0].id if candidates else None


async def propose_for_referral(
    session: AsyncSession, known: KnownReferral, trigger: ProposalTrigger
) -> PathwayProposal:
    """One open proposal per referral: asking again returns it."""
    existing = await session.scalar(
        select(PathwayProposal).where(
            PathwayProposal.referral_id == known.referral_id,
            PathwayProposal.status == ProposalStatus.PROPOSED.value,
        )
    )
    if existing is not None:
        return existing
    proposal = propose_scheme(
        offer_id=str(known.offer_id) if known.offer_id else None,
        open_poec_session_id=await open_poec_session_for(
            session, known.rome_code, known.departement
        ),
    )
    row = PathwayProposal(
        id=uuid.uuid4(),
        referral_id=known.referral_id,
        job_seeker_id=known.job_seeker_id,
        structure_code=known.structure_code,
        trigger=trigger.value,
        scheme=proposal.scheme.value,
        rule=proposal.rule,
        reason=proposal.reason,
        poec_session_id=proposal.poec_session_id,
        status=PROPOSAL_LIFECYCLE.check("propose", None, Actor.SYSTEM).target.value,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class AskForProposal:
    """Training was asked for this referral."""

    referral_id: uuid.UUID


async def ask_for_proposal(
    session: AsyncSession, principal: Principal, command: AskForProposal
) -> PathwayProposal:
    known = await session.get(KnownReferral, command.referral_id)
    if not may_link_referral(principal, known):
        raise RulesBroken(
            [Violation("pathway.referral", "referral_id", "orientation inconnue ici")]
        )
    assert known is not None
    return await propose_for_referral(session, known, ProposalTrigger.TRAINING_REQUESTED)


async def receive_agency_training_request(
    session: AsyncSession, data: ReferralTrainingRequested
) -> PathwayProposal:
    """An agency asked for a training (POEI) before hiring (checked by the referral service):
    the training request opens as a proposal on the referral, which the counsellor accepts
    (then enrols) or dismisses. A referral not known here yet is retried, then dead-lettered."""
    known = await session.get(KnownReferral, data.referral_id)
    if known is None:
        raise PermanentError(f"unknown referral {data.referral_id}")
    return await propose_for_referral(session, known, ProposalTrigger.TRAINING_REQUESTED)


@dataclass(frozen=True)
class DecideProposal:
    """Accept the proposal, or dismiss it (``comment``: the reason, required then)."""

    proposal_id: uuid.UUID
    accept: bool
    comment: str | None = None


async def decide(
    session: AsyncSession, principal: Principal, command: DecideProposal
) -> PathwayProposal:
    proposal = await session.get(PathwayProposal, command.proposal_id, with_for_update=True)
    if proposal is None or not sees(principal, proposal.structure_code):
        raise NotFound(f"Proposition {command.proposal_id} introuvable.")
    accept, comment = command.accept, command.comment
    current = ProposalStatus(proposal.status)
    raise_if_any(check_decision(current, accept=accept, comment=comment))
    step = PROPOSAL_LIFECYCLE.check(
        "accept" if accept else "dismiss", current, Actor.COUNSELLOR, justification=comment
    )
    proposal.status = step.target.value
    proposal.decided_by = principal.subject
    proposal.decided_at = datetime.now(UTC)
    proposal.comment = comment
    return proposal
