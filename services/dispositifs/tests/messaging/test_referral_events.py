"""The dispositifs service's consumer of ``referral.events``, on the real broker and store:
referrals learnt once, agency immersion requests turned into conventions or answered with
``immersion.rejected`` (never dropped), placements closing the loop, pathway proposals."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from dispositifs.consumers import referral_event_handlers
from dispositifs.models import (
    PLATFORM,
    ImmersionConvention,
    KnownReferral,
    MrsCandidate,
    PathwayProposal,
)
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases import immersions, mrs
from shared.auth.tokens import Principal, Role
from shared.contracts.referral import (
    ReferralImmersionRequested,
    ReferralSent,
    ReferralStatusChanged,
    ReferralWithdrawn,
)
from shared.contracts.vocabulary import ContractType, DeclineReason, ImmersionObjet
from shared.db.database import Database
from shared.testing_kafka import eventually, publish, running_consumer

from ..service.parties import PARTIES_CONTENT, sign_all

TODAY = datetime.now(UTC).date()
AGENCY = "agc-interim-nord-lille"


@pytest.fixture
async def topic(
    settings: DispositifsSettings, database: Database, unique: Callable[[str], str]
) -> AsyncIterator[str]:
    """A topic of the test's own, consumed by the service's real handlers."""
    name = unique("referral.events")
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=referral_event_handlers(settings),
        topic=name,
        group=unique("dispositifs"),
    ):
        yield name


def _sent(**overrides: Any) -> ReferralSent:
    values: dict[str, Any] = {
        "referral_id": uuid.uuid4(),
        "job_seeker_id": uuid.uuid4(),
        "agency_id": AGENCY,
        "network_id": "interim-nord",
        "rome_code": "N1101",
        "departement": "59",
        "counsellor_id": "conseillere.leroy",
        "structure_code": "59350",
        "sent_at": datetime.now(UTC),
    }
    values.update(overrides)
    return ReferralSent(**values)


def _request(sent: ReferralSent, **overrides: Any) -> ReferralImmersionRequested:
    values: dict[str, Any] = {
        "referral_id": sent.referral_id,
        "agency_id": sent.agency_id,
        "network_id": sent.network_id,
        "counsellor_id": sent.counsellor_id,
        "structure_code": sent.structure_code,
        "job_seeker_id": sent.job_seeker_id,
        "rome_code": sent.rome_code,
        "objet": ImmersionObjet.START_RECRUITMENT,
        "start_date": TODAY + timedelta(days=7),
        "end_date": TODAY + timedelta(days=20),
        "weekly_hours": 35,
        "host_name": "Entrepôts du Nord",
        "host_siret": "73282932000074",
        "tutor_name": "Nadia Benali",
        "tutor_function": "Cheffe d'équipe",
        "objectives": "Vérifier l'aisance en préparation de commandes",
        "requested_at": datetime.now(UTC),
    }
    values.update(overrides)
    return ReferralImmersionRequested(**values)


def _status_changed(sent: ReferralSent, to_status: str, **overrides: Any) -> ReferralStatusChanged:
    values: dict[str, Any] = {
        "referral_id": sent.referral_id,
        "agency_id": sent.agency_id,
        "network_id": sent.network_id,
        "counsellor_id": sent.counsellor_id,
        "structure_code": sent.structure_code,
        "from_status": "accepted",
        "to_status": to_status,
        "action": "agency_answer",
        "occurred_at": datetime.now(UTC),
    }
    values.update(overrides)
    return ReferralStatusChanged(**values)


async def _processed(database: Database, count: int) -> None:
    async def probe() -> bool:
        async with database.sessionmaker() as session:
            done = await session.scalar(select(func.count()).select_from(PLATFORM.processed_events))
        return done == count

    await eventually(probe)


async def _conventions(database: Database, referral_id: uuid.UUID) -> list[ImmersionConvention]:
    async with database.sessionmaker() as session:
        rows = await session.scalars(
            select(ImmersionConvention)
            .where(ImmersionConvention.referral_id == referral_id)
            .order_by(ImmersionConvention.created_at)
        )
        return list(rows)


async def _outbox(database: Database) -> list[Any]:
    async with database.sessionmaker() as session:
        return list((await session.execute(select(PLATFORM.outbox).order_by("id"))).all())


async def test_referral_sent_is_recorded_once_even_when_published_twice(
    database: Database, kafka_bootstrap: str, topic: str
) -> None:
    sent = _sent(departement="69", agency_id="agc-travail-plus-lyon")
    # The same fact under two event ids (a producer re-sent it after a crash).
    await publish(kafka_bootstrap, topic, sent)
    await publish(kafka_bootstrap, topic, sent)
    await _processed(database, 2)
    async with database.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(KnownReferral))
        known = await session.get(KnownReferral, sent.referral_id)
    assert count == 1
    assert known is not None
    assert (known.agency_id, known.rome_code, known.departement, known.status) == (
        "agc-travail-plus-lyon",
        "N1101",
        "69",
        "sent",
    )


async def test_an_agency_immersion_request_becomes_a_convention_request_once(
    database: Database, kafka_bootstrap: str, topic: str
) -> None:
    sent = _sent()
    request = _request(sent)
    await publish(kafka_bootstrap, topic, sent)
    await publish(kafka_bootstrap, topic, request)
    await publish(kafka_bootstrap, topic, request)  # the agency sent it twice
    await _processed(database, 3)

    [convention] = await _conventions(database, sent.referral_id)
    assert (convention.status, convention.origin) == ("requested", "agency")
    assert convention.job_seeker_id == sent.job_seeker_id
    assert convention.region_code == "32"
    assert (convention.tutor_name, convention.weekly_hours) == ("Nadia Benali", 35)
    [event] = await _outbox(database)
    assert (event.event_type, event.key) == ("coop.immersion.requested.v1", str(convention.id))
    assert event.data["referral_id"] == str(sent.referral_id)
    assert event.data["agency_id"] == AGENCY


async def test_a_request_breaking_a_rule_is_answered_with_immersion_rejected_and_its_article(
    database: Database, kafka_bootstrap: str, topic: str
) -> None:
    sent = _sent()
    await publish(kafka_bootstrap, topic, sent)
    await publish(
        kafka_bootstrap,
        topic,
        _request(sent, weekly_hours=49, end_date=TODAY + timedelta(days=7 + 30)),
    )
    await _processed(database, 2)  # processed, not dead-lettered

    [convention] = await _conventions(database, sent.referral_id)
    assert convention.status == "rejected"
    assert "49 h" in (convention.justification or "")
    [event] = await _outbox(database)
    assert event.event_type == "coop.immersion.rejected.v1"
    data = event.data
    assert data["referral_id"] == str(sent.referral_id)
    assert data["agency_id"] == AGENCY
    # 30 calendar days is the national tool's rule, not the law's (D5135-3 allows 1 month).
    assert "règle de l'outil national immersion-facile" in data["article"]
    assert "L3121-20" in data["article"]
    assert {v["rule"] for v in data["violations"]} == {
        "pmsmp.duration.days",
        "pmsmp.weekly_hours",
    } | ({"pmsmp.duration.month"} if len(data["violations"]) == 3 else set())
    assert "31 jours" in data["reason"]


async def test_a_request_without_a_tutor_is_rejected_not_dropped(
    database: Database, kafka_bootstrap: str, topic: str
) -> None:
    sent = _sent()
    await publish(kafka_bootstrap, topic, sent)
    await publish(kafka_bootstrap, topic, _request(sent, tutor_name=None))
    await _processed(database, 2)
    [event] = await _outbox(database)
    assert event.event_type == "coop.immersion.rejected.v1"
    assert event.data["violations"][0]["field"] == "tutor.name"
    assert event.data["article"] == "Code du travail, art. D5135-2"


async def _completed_convention(
    database: Database, settings: DispositifsSettings, sent: ReferralSent
) -> uuid.UUID:
    """A convention of the referral, through its whole lifecycle, assessed "not hired"."""
    counsellor = Principal("conseillere.leroy", Role.COUNSELLOR, ft_structure=sent.structure_code)
    content = {
        "objet": "start_recruitment",
        # Dated in the past: it is completed on its last day (today).
        "start_date": TODAY - timedelta(days=9),
        "end_date": TODAY,
        "weekly_hours": 35,
        "schedule": "8h-16h",
        "place": "Lesquin",
        "objectives": "Préparation de commandes",
        "evaluation_method": "Grille du tuteur",
        "tasks": "Préparation, inventaire",
        "prescriber.kind": "france_travail",
        "prescriber.name": "France Travail Lille",
        "beneficiary.first_name": "Camille",
        "beneficiary.last_name": "Martin",
        "beneficiary.birth_date": date(1995, 4, 12),
        "beneficiary.professional_situation": "Demandeuse d'emploi",
        "host.name": "Entrepôts du Nord",
        "host.siret": "73282932000074",
        "host.address": "Lesquin",
        "host.legal_form": "SAS",
        "host.activity": "Logistique",
        "host.collective_agreement": "IDCC 16",
        "tutor.name": "Nadia Benali",
        "tutor.function": "Cheffe d'équipe",
        "support.structure": "France Travail Lille",
        "support.referent": "Mme Leroy",
        **PARTIES_CONTENT,
    }
    async with database.transaction() as session:
        convention = await immersions.request_immersion(
            session,
            counsellor,
            immersions.RequestImmersion(
                content=content,
                referral_id=sent.referral_id,
                job_seeker_id=sent.job_seeker_id,
            ),
            settings,
        )
        cid = convention.id
        await immersions.mark_ready(session, counsellor, immersions.MarkReady(cid), settings)
        await session.flush()
        await sign_all(session, settings, cid)
        await immersions.validate(session, counsellor, immersions.ValidateImmersion(cid), settings)
        await immersions.start(session, counsellor, immersions.StartImmersion(cid, today=TODAY))
        await immersions.complete(
            session,
            counsellor,
            immersions.CompleteImmersion(cid, objectives_reached=True, hired=False),
            settings,
        )
        return convention.id


async def test_a_placement_closes_the_loop_on_the_immersion_and_the_mrs_evaluation(
    database: Database, settings: DispositifsSettings, kafka_bootstrap: str, topic: str
) -> None:
    sent = _sent()
    await publish(kafka_bootstrap, topic, sent)
    await _processed(database, 1)
    convention_id = await _completed_convention(database, settings, sent)
    principal = Principal("conseillere.leroy", Role.COUNSELLOR, ft_structure="59350")
    async with database.transaction() as session:
        session_mrs = await mrs.create_session(
            session,
            principal,
            mrs.NewMrsSession(
                employer_name="Entrepôts du Nord",
                employer_siret="73282932000074",
                rome_code="N1101",
                habiletes=["travailler_en_equipe", "respecter_normes_consignes"],
                session_date=TODAY,
                capacity=10,
                departement="59",
            ),
            settings,
        )
        candidate = await mrs.register_candidate(
            session,
            principal,
            mrs.RegisterCandidate(session_mrs.id, job_seeker_id=None, referral_id=sent.referral_id),
        )
        await mrs.evaluate(
            session,
            principal,
            mrs.EvaluateCandidate(
                session_mrs.id,
                candidate.id,
                {"travailler_en_equipe": True, "respecter_normes_consignes": True},
            ),
            settings,
        )
        candidate_id = candidate.id

    placed_on = TODAY + timedelta(days=15)
    await publish(
        kafka_bootstrap,
        topic,
        _status_changed(
            sent,
            "placed",
            contract_type=ContractType.CDI_INTERIMAIRE,
            placement_start_date=placed_on,
        ),
    )
    await _processed(database, 2)
    async with database.sessionmaker() as session:
        convention = await session.get(ImmersionConvention, convention_id)
        candidate_row = await session.get(MrsCandidate, candidate_id)
        known = await session.get(KnownReferral, sent.referral_id)
    assert convention is not None
    assert candidate_row is not None
    assert known is not None
    assert (convention.placed_on, convention.placement_contract_type) == (
        placed_on,
        "cdi_interimaire",
    )
    assert candidate_row.hired is True
    assert (known.status, known.placed_on) == ("placed", placed_on)
    last = (await _outbox(database))[-1]
    assert last.event_type == "coop.mrs.evaluated.v1"
    assert (last.data["hired"], last.data["contract_type"]) == (True, "cdi_interimaire")
    assert last.data["referral_id"] == str(sent.referral_id)


async def test_a_referral_declined_for_lacking_skills_gets_a_pathway_proposal(
    database: Database, kafka_bootstrap: str, topic: str
) -> None:
    sent = _sent()
    await publish(kafka_bootstrap, topic, sent)
    await publish(
        kafka_bootstrap,
        topic,
        _status_changed(sent, "declined", decline_reason=DeclineReason.LACKING_SKILLS),
    )
    other = _sent()
    await publish(kafka_bootstrap, topic, other)
    await publish(
        kafka_bootstrap,
        topic,
        _status_changed(other, "declined", decline_reason=DeclineReason.NOT_MOBILE),
    )
    await _processed(database, 4)
    async with database.sessionmaker() as session:
        proposals = list(await session.scalars(select(PathwayProposal)))
    assert [(p.referral_id, p.scheme, p.status) for p in proposals] == [
        (sent.referral_id, "immersion", "proposed")
    ]
    assert proposals[0].rule == "pathway.immersion_confirm_project"


async def test_a_withdrawn_referral_makes_its_pending_conventions_obsolete(
    database: Database, kafka_bootstrap: str, topic: str
) -> None:
    sent = _sent()
    await publish(kafka_bootstrap, topic, sent)
    await publish(kafka_bootstrap, topic, _request(sent))
    await publish(
        kafka_bootstrap,
        topic,
        ReferralWithdrawn(
            referral_id=sent.referral_id,
            agency_id=sent.agency_id,
            network_id=sent.network_id,
            counsellor_id=sent.counsellor_id,
            structure_code=sent.structure_code,
            reason="Le candidat a trouvé un emploi",
            withdrawn_at=datetime.now(UTC),
        ),
    )
    await _processed(database, 3)
    [convention] = await _conventions(database, sent.referral_id)
    assert convention.status == "deprecated"
    assert "trouvé un emploi" in (convention.justification or "")
    events = [row.event_type for row in await _outbox(database)]
    assert events == ["coop.immersion.requested.v1", "coop.immersion.cancelled.v1"]
