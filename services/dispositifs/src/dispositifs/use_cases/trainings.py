"""POEI and POEC: open a POEC session (a branch's training action), enrol a job seeker in a POEI
or a POEC, record the completion and the outcome."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.access import may_register_referral, sees
from dispositifs.domain.immersion import Actor
from dispositifs.domain.training import (
    ENROLMENT_LIFECYCLE,
    ExpectedContract,
    PoeiMode,
    TrainingLimits,
    check_mission_after_poec,
    check_outcome,
    check_poec_contract,
    check_poec_session,
    check_poei_contract,
    check_poei_hours,
    check_poei_offer,
    outcome_action,
    targeted_public,
)
from dispositifs.models import (
    OUTBOX,
    KnownReferral,
    PoecSession,
    TrainingEnrolment,
    TrainingMission,
)
from dispositifs.settings import DispositifsSettings
from shared.auth.tokens import Principal
from shared.contracts.dispositifs import EnrolmentStatus, TrainingCompleted, TrainingEnrolled
from shared.contracts.vocabulary import ContractType, TrainingKind
from shared.domain.errors import NotFound, Violation, raise_if_any
from shared.referentials import region_of


@dataclass(frozen=True)
class NewPoecSession:
    title: str
    opco: str
    branch: str
    temporary_work: bool
    rome_code: str
    departement: str
    start_date: date
    end_date: date
    total_hours: int
    company_hours: int
    capacity: int


async def open_poec_session(
    session: AsyncSession,
    counsellor: Principal,
    command: NewPoecSession,
    settings: DispositifsSettings,
) -> PoecSession:
    found = check_poec_session(
        total_hours=command.total_hours,
        company_hours=command.company_hours,
        temporary_work=command.temporary_work,
        opco=command.opco,
        limits=settings.training_limits(),
    )
    if command.end_date < command.start_date:
        found.append(Violation("poec.dates", "end_date", "la date de fin précède la date de début"))
    raise_if_any(found)
    poec = PoecSession(
        id=uuid.uuid4(),
        **{k: getattr(command, k) for k in command.__dataclass_fields__},
        region_code=region_of(command.departement),
        structure_code=counsellor.organisation,
        counsellor_id=counsellor.subject,
        created_at=datetime.now(UTC),
    )
    session.add(poec)
    await session.flush()
    return poec


@dataclass(frozen=True)
class NewEnrolment:
    kind: TrainingKind
    job_seeker_id: uuid.UUID | None
    referral_id: uuid.UUID | None
    departement: str | None
    # POEI
    start_date: date | None = None
    end_date: date | None = None
    hours: int | None = None
    mode: PoeiMode | None = None
    brsa: bool = False
    birth_date: date | None = None
    offer_id: str | None = None
    employer_name: str | None = None
    employer_siret: str | None = None
    expected_contract: ExpectedContract | None = None
    # POEC
    poec_session_id: uuid.UUID | None = None


async def enrol(
    session: AsyncSession,
    counsellor: Principal,
    command: NewEnrolment,
    settings: DispositifsSettings,
) -> TrainingEnrolment:
    limits = settings.training_limits()
    job_seeker_id, departement = command.job_seeker_id, command.departement
    referral_publics: list[str] = []
    if command.referral_id is not None:
        known = await session.get(KnownReferral, command.referral_id)
        if not may_register_referral(counsellor, known):
            raise_if_any(
                [Violation("training.referral", "referral_id", "orientation inconnue ici")]
            )
        assert known is not None
        job_seeker_id = known.job_seeker_id
        departement = departement or known.departement
        referral_publics = list(known.priority_publics or [])
    if job_seeker_id is None:
        raise_if_any(
            [
                Violation(
                    "training.job_seeker",
                    "job_seeker_id",
                    "la POEI/POEC concerne un demandeur d'emploi inscrit : identifiant requis",
                )
            ]
        )
    enrolled = ENROLMENT_LIFECYCLE.check("enrol", None, Actor.COUNSELLOR)
    enrolment = TrainingEnrolment(
        id=uuid.uuid4(),
        kind=command.kind.value,
        status=enrolled.target.value,
        referral_id=command.referral_id,
        job_seeker_id=job_seeker_id,
        structure_code=counsellor.organisation,
        counsellor_id=counsellor.subject,
        departement=departement,
        created_at=datetime.now(UTC),
    )
    if command.kind is TrainingKind.POEI:
        await _poei_terms(enrolment, command, limits, referral_publics)
    else:
        await _poec_terms(session, enrolment, command)
    enrolment.region_code = region_of(enrolment.departement)
    session.add(enrolment)
    await session.flush()
    await OUTBOX.stage(
        session,
        TrainingEnrolled(
            enrolment_id=enrolment.id,
            kind=command.kind,
            referral_id=enrolment.referral_id,
            job_seeker_id=enrolment.job_seeker_id,
            occurred_at=enrolment.created_at,
            hours=enrolment.hours,
            start_date=enrolment.start_date,
            end_date=enrolment.end_date,
        ),
        subject=f"trainings/{enrolment.id}",
        occurred_at=enrolment.created_at,
    )
    return enrolment


async def _poei_terms(
    enrolment: TrainingEnrolment,
    command: NewEnrolment,
    limits: TrainingLimits,
    referral_publics: list[str],
) -> None:
    assert command.start_date
    assert command.end_date
    assert command.hours is not None
    assert command.mode is not None
    assert command.expected_contract is not None
    public = targeted_public(
        brsa=command.brsa,
        birth_date=command.birth_date,
        start=command.start_date,
        limits=limits,
        referral_publics=referral_publics,
    )
    found = [
        *check_poei_offer(command.offer_id, command.employer_siret),
        *check_poei_hours(command.hours, command.mode, public, limits),
        *check_poei_contract(command.expected_contract, limits),
    ]
    if command.end_date < command.start_date:
        found.append(Violation("poei.dates", "end_date", "la date de fin précède la date de début"))
    raise_if_any(found)
    contract = command.expected_contract
    enrolment.start_date = command.start_date
    enrolment.end_date = command.end_date
    enrolment.hours = command.hours
    enrolment.poei_mode = command.mode.value
    enrolment.targeted_public = public.value if public else None
    enrolment.offer_id = command.offer_id
    enrolment.employer_name = command.employer_name
    enrolment.employer_siret = command.employer_siret
    enrolment.expected_contract_type = contract.type.value
    enrolment.expected_contract_months = contract.duration_months
    enrolment.expected_missions_total_months = contract.missions_total_months


async def _poec_terms(
    session: AsyncSession, enrolment: TrainingEnrolment, command: NewEnrolment
) -> None:
    poec = (
        await session.get(PoecSession, command.poec_session_id) if command.poec_session_id else None
    )
    if poec is None:
        raise_if_any([Violation("poec.session", "poec_session_id", "session POEC introuvable")])
    assert poec is not None
    found = []
    enrolled = await session.scalar(
        select(func.count()).where(
            TrainingEnrolment.poec_session_id == poec.id,
            TrainingEnrolment.status != EnrolmentStatus.ABANDONED.value,
        )
    )
    if int(enrolled or 0) >= poec.capacity:
        found.append(
            Violation("poec.capacity", "poec_session_id", f"session complète ({poec.capacity})")
        )
    already = await session.scalar(
        select(TrainingEnrolment.id).where(
            TrainingEnrolment.poec_session_id == poec.id,
            TrainingEnrolment.job_seeker_id == enrolment.job_seeker_id,
        )
    )
    if already is not None:
        found.append(Violation("poec.session", "poec_session_id", "déjà inscrit à cette session"))
    raise_if_any(found)
    enrolment.poec_session_id = poec.id
    enrolment.start_date = poec.start_date
    enrolment.end_date = poec.end_date
    enrolment.hours = poec.total_hours
    enrolment.departement = enrolment.departement or poec.departement


@dataclass(frozen=True)
class CompleteEnrolment:
    """The end of the training (``completed``: followed to the end, else abandoned) and its
    outcome."""

    enrolment_id: uuid.UUID
    completed: bool
    hired: bool
    contract_type: ContractType | None = None
    contract_months: int | None = None


async def complete_enrolment(
    session: AsyncSession,
    principal: Principal,
    command: CompleteEnrolment,
    settings: DispositifsSettings,
) -> TrainingEnrolment:
    enrolment = await session.get(TrainingEnrolment, command.enrolment_id, with_for_update=True)
    if enrolment is None or not sees(principal, enrolment.structure_code):
        raise NotFound(f"Inscription {command.enrolment_id} introuvable.")
    completed, hired = command.completed, command.hired
    contract_type, contract_months = command.contract_type, command.contract_months
    current = EnrolmentStatus(enrolment.status)
    found = check_outcome(current, completed=completed, hired=hired, contract_type=contract_type)
    poec = (
        await session.get(PoecSession, enrolment.poec_session_id)
        if enrolment.poec_session_id
        else None
    )
    temporary_work = bool(poec and poec.temporary_work)
    if not found and hired and enrolment.kind == TrainingKind.POEC.value:
        # L6326-3: the contract after a POEC is checked when it is recorded.
        found = check_poec_contract(
            contract_type,
            contract_months,
            temporary_work=temporary_work,
            limits=settings.training_limits(),
        )
    raise_if_any(found)
    step = ENROLMENT_LIFECYCLE.check(outcome_action(completed), current, Actor.COUNSELLOR)
    at = datetime.now(UTC)
    enrolment.status = step.target.value
    enrolment.completed_at = at
    enrolment.hired = hired
    enrolment.contract_type = contract_type.value if contract_type else None
    enrolment.contract_months = contract_months
    # A temporary-work POEC followed to the end: missions are to be given (L6326-3), followed up.
    enrolment.missions_expected = (
        enrolment.kind == TrainingKind.POEC.value and temporary_work and completed
    ) or None
    await OUTBOX.stage(
        session,
        TrainingCompleted(
            enrolment_id=enrolment.id,
            kind=TrainingKind(enrolment.kind),
            referral_id=enrolment.referral_id,
            job_seeker_id=enrolment.job_seeker_id,
            occurred_at=at,
            completed=completed,
            hired=hired,
            contract_type=contract_type,
            contract_months=contract_months,
        ),
        subject=f"trainings/{enrolment.id}",
        occurred_at=at,
    )
    return enrolment


@dataclass(frozen=True)
class RecordMission:
    """A contrat de mission given after a temporary-work POEC (L6326-3's follow-up)."""

    enrolment_id: uuid.UUID
    start_date: date
    end_date: date


async def record_mission(
    session: AsyncSession,
    principal: Principal,
    command: RecordMission,
) -> TrainingEnrolment:
    enrolment = await session.get(TrainingEnrolment, command.enrolment_id, with_for_update=True)
    if enrolment is None or not sees(principal, enrolment.structure_code):
        raise NotFound(f"Inscription {command.enrolment_id} introuvable.")
    raise_if_any(
        check_mission_after_poec(
            expected=enrolment.missions_expected,
            poec_end=enrolment.end_date,
            start=command.start_date,
            end=command.end_date,
        )
    )
    session.add(
        TrainingMission(
            id=uuid.uuid4(),
            enrolment_id=enrolment.id,
            start_date=command.start_date,
            end_date=command.end_date,
            recorded_by=principal.subject,
            recorded_at=datetime.now(UTC),
        )
    )
    enrolment.missions_given = (enrolment.missions_given or 0) + 1
    if enrolment.first_mission_on is None or command.start_date < enrolment.first_mission_on:
        enrolment.first_mission_on = command.start_date
    return enrolment
