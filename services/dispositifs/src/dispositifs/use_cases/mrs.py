"""MRS sessions: create a session, register candidates, evaluate them per habileté, record the
employer's hiring decision. ``mrs.evaluated`` is published at the evaluation and again when the
hiring decision is known."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.access import may_register_referral, sees
from dispositifs.data import mrs_habiletes
from dispositifs.domain.mrs import (
    CANDIDATE_LIFECYCLE,
    candidate_stage,
    check_capacity,
    check_decision_open,
    check_evaluation,
    check_evaluation_open,
    check_session_habiletes,
    overall_result,
)
from dispositifs.models import OUTBOX, KnownReferral, MrsCandidate, MrsSession
from dispositifs.settings import DispositifsSettings
from shared.auth.tokens import Principal
from shared.contracts.dispositifs import MrsEvaluated
from shared.contracts.vocabulary import ContractType
from shared.domain.errors import NotFound, Violation, raise_if_any
from shared.referentials import region_of


@dataclass(frozen=True)
class NewMrsSession:
    employer_name: str
    employer_siret: str
    rome_code: str
    habiletes: list[str]
    session_date: date
    capacity: int
    departement: str


@dataclass(frozen=True)
class RegisterCandidate:
    """A job seeker, or the job seeker of a referral, for a session."""

    session_id: uuid.UUID
    job_seeker_id: uuid.UUID | None = None
    referral_id: uuid.UUID | None = None


@dataclass(frozen=True)
class EvaluateCandidate:
    session_id: uuid.UUID
    candidate_id: uuid.UUID
    #: Habileté code → acquired.
    results: dict[str, bool]


@dataclass(frozen=True)
class DecideHiring:
    session_id: uuid.UUID
    candidate_id: uuid.UUID
    hired: bool


async def _load_session(
    session: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> MrsSession:
    mrs = await session.get(MrsSession, session_id)
    if mrs is None or not sees(principal, mrs.structure_code):
        raise NotFound(f"Session MRS {session_id} introuvable.")
    return mrs


async def _load_candidate(
    session: AsyncSession, principal: Principal, session_id: uuid.UUID, candidate_id: uuid.UUID
) -> tuple[MrsSession, MrsCandidate]:
    """The candidate of a session the caller sees."""
    mrs = await _load_session(session, principal, session_id)
    candidate = await session.get(MrsCandidate, candidate_id)
    if candidate is None or candidate.session_id != mrs.id:
        raise NotFound(f"Candidat {candidate_id} introuvable.")
    return mrs, candidate


async def create_session(
    session: AsyncSession,
    counsellor: Principal,
    command: NewMrsSession,
    settings: DispositifsSettings,
) -> MrsSession:
    from stdnum.fr import siret

    found = check_session_habiletes(command.habiletes, mrs_habiletes(settings.mrs_habiletes_file))
    if not siret.is_valid(command.employer_siret):
        found.append(Violation("mrs.employer", "employer.siret", "numéro SIRET invalide"))
    raise_if_any(found)
    mrs = MrsSession(
        id=uuid.uuid4(),
        employer_name=command.employer_name,
        employer_siret=command.employer_siret,
        rome_code=command.rome_code,
        habiletes=list(command.habiletes),
        session_date=command.session_date,
        capacity=command.capacity,
        departement=command.departement,
        region_code=region_of(command.departement),
        structure_code=counsellor.ft_structure,
        counsellor_id=counsellor.subject,
        created_at=datetime.now(UTC),
    )
    session.add(mrs)
    await session.flush()
    return mrs


async def register_candidate(
    session: AsyncSession, principal: Principal, command: RegisterCandidate
) -> MrsCandidate:
    mrs = await _load_session(session, principal, command.session_id)
    job_seeker_id, referral_id = command.job_seeker_id, command.referral_id
    if referral_id is not None:
        known = await session.get(KnownReferral, referral_id)
        if not may_register_referral(principal, known):
            raise_if_any([Violation("mrs.referral", "referral_id", "orientation inconnue ici")])
        assert known is not None
        job_seeker_id = known.job_seeker_id
    if job_seeker_id is None:
        raise_if_any(
            [
                Violation(
                    "mrs.candidate", "job_seeker_id", "demandeur d'emploi ou orientation requis"
                )
            ]
        )
    registered = await session.scalar(select(func.count()).where(MrsCandidate.session_id == mrs.id))
    raise_if_any(check_capacity(int(registered or 0), mrs.capacity))
    already = await session.scalar(
        select(MrsCandidate.id).where(
            MrsCandidate.session_id == mrs.id, MrsCandidate.job_seeker_id == job_seeker_id
        )
    )
    if already is not None:
        raise_if_any([Violation("mrs.candidate", "job_seeker_id", "déjà inscrit à cette session")])
    candidate = MrsCandidate(
        id=uuid.uuid4(),
        session_id=mrs.id,
        job_seeker_id=job_seeker_id,
        referral_id=referral_id,
        registered_at=datetime.now(UTC),
    )
    session.add(candidate)
    await session.flush()
    return candidate


def _evaluated(
    mrs: MrsSession, candidate: MrsCandidate, at: datetime, **extra: object
) -> MrsEvaluated:
    return MrsEvaluated(
        session_id=mrs.id,
        candidate_id=candidate.id,
        referral_id=candidate.referral_id,
        job_seeker_id=candidate.job_seeker_id,
        rome_code=mrs.rome_code,
        positive=bool(candidate.positive),
        hired=candidate.hired,
        occurred_at=at,
        **extra,  # type: ignore[arg-type]
    )


async def _publish(session: AsyncSession, mrs: MrsSession, data: MrsEvaluated) -> None:
    await OUTBOX.stage(
        session,
        data,
        subject=f"mrs/sessions/{mrs.id}/candidates/{data.candidate_id}",
        occurred_at=data.occurred_at,
    )


async def evaluate(
    session: AsyncSession,
    principal: Principal,
    command: EvaluateCandidate,
    settings: DispositifsSettings,
) -> MrsCandidate:
    mrs, candidate = await _load_candidate(
        session, principal, command.session_id, command.candidate_id
    )
    results = command.results
    positive = overall_result(results, min_share=settings.mrs_positive_min_share)
    stage = candidate_stage(candidate.positive, candidate.hired)
    raise_if_any(
        [*check_evaluation(results, mrs.habiletes), *check_evaluation_open(stage, positive)]
    )
    at = datetime.now(UTC)
    candidate.results = dict(results)
    candidate.positive = positive
    candidate.evaluated_at = at
    await _publish(session, mrs, _evaluated(mrs, candidate, at))
    return candidate


async def decide_hiring(
    session: AsyncSession,
    principal: Principal,
    command: DecideHiring,
    settings: DispositifsSettings,
) -> MrsCandidate:
    mrs, candidate = await _load_candidate(
        session, principal, command.session_id, command.candidate_id
    )
    hired = command.hired
    raise_if_any(check_decision_open(candidate_stage(candidate.positive, candidate.hired), hired))
    at = datetime.now(UTC)
    candidate.hired = hired
    candidate.decided_at = at
    await _publish(session, mrs, _evaluated(mrs, candidate, at))
    return candidate


async def hired_through_placement(
    session: AsyncSession,
    referral_id: uuid.UUID,
    *,
    placed_on: date,
    contract_type: ContractType | None,
    settings: DispositifsSettings,
) -> int:
    """A placement on the referral of a positively evaluated candidate: the employer hired them
    (the link from MRS to the placement)."""
    candidates = await session.scalars(
        select(MrsCandidate).where(
            MrsCandidate.referral_id == referral_id, MrsCandidate.positive.is_(True)
        )
    )
    count = 0
    for candidate in list(candidates):
        candidate.placed_on = placed_on
        candidate.placement_contract_type = contract_type.value if contract_type else None
        stage = candidate_stage(candidate.positive, candidate.hired)
        if CANDIDATE_LIFECYCLE.find("placed", stage) is not None:
            candidate.hired = True
            candidate.decided_at = datetime.now(UTC)
            mrs = await session.get(MrsSession, candidate.session_id)
            assert mrs is not None
            await _publish(
                session,
                mrs,
                _evaluated(
                    mrs,
                    candidate,
                    candidate.decided_at,
                    contract_type=contract_type,
                    placement_start_date=placed_on,
                ),
            )
        count += 1
    return count
