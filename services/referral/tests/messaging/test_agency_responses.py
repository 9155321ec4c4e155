"""Agency answers over the real broker: applied when allowed and republished on
``referral.events``; dead-lettered with the reason and never half-applied when not."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from referral.consumers import agency_response_handlers
from referral.models import PLATFORM, Referral, ReferralTransition
from referral.settings import ReferralSettings
from referral.use_cases.job_seekers import JobSeekerInput
from referral.use_cases.referrals import (
    SendReferral,
    WithdrawReferral,
    send_referral,
    withdraw_referral,
)
from shared.auth.tokens import Principal, Role
from shared.contracts import agency as a
from shared.contracts.vocabulary import ContractType, DeclineReason, ImmersionObjet
from shared.db.database import Database
from shared.envelope import CloudEvent
from shared.messaging.consumer import EventConsumer
from shared.testing_kafka import eventually, publish, read_topic, running_consumer

from ..answers import accepted, answer, declined, interview, placed

COUNSELLOR = Principal("conseiller.dupont", Role.COUNSELLOR, ft_structure="75101")
AGENCY = "agc-interim-nord-lille"


@pytest.fixture
async def database(referral_settings: ReferralSettings) -> AsyncIterator[Database]:
    db = Database(referral_settings.database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def consumer(
    referral_settings: ReferralSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> AsyncIterator[EventConsumer]:
    settings = referral_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        # The test's own topic stands for interim-nord's response topic (network isolation over
        # real topic names is tested in test_network_isolation.py and end to end).
        registry=agency_response_handlers(network_of=lambda _topic: "interim-nord"),
        topic=unique("agency.responses"),
        group=unique("referral"),
    ) as running:
        yield running


async def _referral(database: Database, ft_identifier: str = "1234567A") -> uuid.UUID:
    async with database.transaction() as session:
        referral = await send_referral(
            session,
            SendReferral(
                job_seeker=JobSeekerInput(ft_identifier, "Camille", "Martin", None, None),
                agency_id=AGENCY,
                rome_code="H2913",
                message="Profil motivé.",
            ),
            COUNSELLOR,
        )
        return referral.id


async def _status(database: Database, referral_id: uuid.UUID) -> str:
    async with database.sessionmaker() as session:
        return (await session.get(Referral, referral_id)).status  # type: ignore[union-attr]


async def _transitions(database: Database, referral_id: uuid.UUID) -> int:
    async with database.sessionmaker() as session:
        query = select(func.count()).where(ReferralTransition.referral_id == referral_id)
        return int(await session.scalar(query) or 0)


async def _outbox(
    database: Database, topic: str = "referral.events"
) -> list[tuple[str, dict[str, object]]]:
    outbox = PLATFORM.outbox
    async with database.sessionmaker() as session:
        rows = await session.execute(
            select(outbox).where(outbox.c.topic == topic).order_by(outbox.c.id)
        )
        return [(row.event_type, row.data) for row in rows]


def _now() -> datetime:
    return datetime.now(UTC)


def _immersion(referral_id: uuid.UUID, agency: str = AGENCY) -> a.ImmersionRequested:
    return a.ImmersionRequested(
        referral_id=referral_id,
        agency_id=agency,
        occurred_at=_now(),
        objet=ImmersionObjet.START_RECRUITMENT,
        start_date=date(2026, 3, 2),
        end_date=date(2026, 3, 13),
        weekly_hours=35,
        host_name="Chaudronnerie du Nord",
        host_siret="73282932000074",
        tutor_name="M. Lefebvre",
    )


async def test_the_whole_journey_of_answers_moves_the_referral_and_is_republished(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    referral_id = await _referral(database)
    topic = consumer.topics[0]
    start = date(2026, 3, 16)
    for response in (
        a.ReferralAcknowledged(referral_id=referral_id, agency_id=AGENCY, occurred_at=_now()),
        accepted(referral_id, _now()),
        _immersion(referral_id),
        interview(referral_id, _now()),
        placed(referral_id, _now(), ContractType.MISSION, start, start + timedelta(days=200)),
        a.PlacementEnded(
            referral_id=referral_id,
            agency_id=AGENCY,
            occurred_at=_now(),
            end_date=start + timedelta(days=200),
            reason="Fin de mission",
        ),
    ):
        await publish(kafka_bootstrap, topic, response)

    async def closed() -> bool:
        return await _status(database, referral_id) == "closed"

    await eventually(closed)
    assert await _transitions(database, referral_id) == 7
    events = await _outbox(database)
    assert [t for t, _ in events] == [
        "coop.referral.sent.v1",
        "coop.referral.status_changed.v1",
        "coop.referral.status_changed.v1",
        "coop.referral.immersion_requested.v1",
        "coop.referral.status_changed.v1",
        "coop.referral.status_changed.v1",
        "coop.referral.closed.v1",
    ]
    changes = [(d["from_status"], d["to_status"]) for t, d in events if "status_changed" in t]
    assert changes == [
        ("sent", "acknowledged"),
        ("acknowledged", "accepted"),
        ("accepted", "interview_scheduled"),
        ("interview_scheduled", "placed"),
    ]
    placement = events[5][1]
    assert (placement["contract_type"], placement["placement_start_date"]) == (
        "mission",
        "2026-03-16",
    )
    immersion = events[3][1]
    assert immersion["host_siret"] == "73282932000074"
    assert immersion["rome_code"] == "H2913"
    assert immersion["agency_id"] == AGENCY
    assert events[6][1]["placement_end_date"] == "2026-10-02"
    async with database.sessionmaker() as session:
        referral = await session.get(Referral, referral_id)
    assert referral is not None
    assert referral.placement_contract_type == "mission"
    assert referral.finished_at is not None


async def test_answers_not_allowed_from_the_current_state_are_dead_lettered_with_the_reason(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    topic = consumer.topics[0]
    now = _now()
    sent = await _referral(database, "3100001A")
    was_declined = await _referral(database, "3100002A")
    await answer(database, declined(was_declined, now, DeclineReason.NOT_ELIGIBLE))
    was_placed = await _referral(database, "3100003A")
    await answer(database, accepted(was_placed, now))
    await answer(database, placed(was_placed, now, ContractType.CDI, date(2026, 3, 1)))
    was_withdrawn = await _referral(database, "3100004A")
    async with database.transaction() as session:
        await withdraw_referral(session, WithdrawReferral(was_withdrawn, "Erreur"), COUNSELLOR)

    ended = a.PlacementEnded(
        referral_id=sent, agency_id=AGENCY, occurred_at=now, end_date=date(2026, 4, 1)
    )
    refused = [
        (
            accepted(was_declined, now),
            "« Candidature acceptée par l'agence » (accept) impossible : l'orientation est"
            " « Déclinée » (declined).",
        ),
        (
            placed(sent, now, ContractType.CDI, date(2026, 3, 1)),
            "« Prise de poste » (start_placement) impossible : l'orientation est « Envoyée »"
            " (sent).",
        ),
        (
            ended,
            "« Fin de contrat » (end_placement) impossible : l'orientation est « Envoyée » (sent).",
        ),
        (
            declined(was_placed, now, DeclineReason.OTHER),
            "« Orientation déclinée par l'agence » (decline) impossible : l'orientation est"
            " « En poste » (placed).",
        ),
        (
            _immersion(was_placed),
            "« Immersion (PMSMP) demandée par l'agence » (request_immersion) impossible :"
            " l'orientation est « En poste » (placed).",
        ),
        (
            interview(was_withdrawn, now),
            "« Entretien d'embauche programmé » (schedule_interview) impossible : l'orientation"
            " est « Retirée » (withdrawn).",
        ),
        (
            a.ReferralAcknowledged(referral_id=was_withdrawn, agency_id=AGENCY, occurred_at=now),
            "« Orientation prise en compte par l'agence » (acknowledge) impossible :"
            " l'orientation est « Retirée » (withdrawn).",
        ),
        (
            _immersion(sent, agency="agc-travail-plus-lyon"),
            "L'agence agc-travail-plus-lyon n'appartient pas au réseau interim-nord : vérifiez"
            " l'agency_id (identifiant de l'annuaire de la plateforme).",
        ),
        (
            _immersion(sent, agency="agc-interim-nord-arras"),
            f"L'orientation {sent} n'est pas adressée à l'agence agc-interim-nord-arras (elle"
            " l'est à agc-interim-nord-lille, par exemple après un transfert) : répondez avec"
            " l'agency_id de l'agence destinataire.",
        ),
    ]
    before = {r: await _transitions(database, r) for r in (sent, was_declined, was_placed)}
    outbox_before = len(await _outbox(database))
    published = {}
    for response, reason in refused:
        published[await publish(kafka_bootstrap, topic, response)] = reason

    letters = await read_topic(kafka_bootstrap, topic + ".dlq", len(refused))
    for letter in letters:
        headers = dict(letter.headers)
        assert headers["dlq_reason"] == b"rejected"
        # In French, saying what to do (issue 12): the state, then what the partner can do.
        assert headers["dlq_error"].decode().startswith(published[headers["ce_id"].decode()])
    # Never half-applied: no state, log or outbox change.
    assert {r: await _transitions(database, r) for r in before} == before
    assert len(await _outbox(database)) == outbox_before
    assert await _status(database, sent) == "sent"
    assert await _status(database, was_placed) == "placed"


async def test_answer_from_another_agency_or_about_an_unknown_referral_is_refused(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    referral_id = await _referral(database)
    topic = consumer.topics[0]
    unknown = uuid.uuid4()
    await publish(
        kafka_bootstrap,
        topic,
        a.ReferralAccepted(
            referral_id=referral_id, agency_id="agc-travail-plus-lyon", occurred_at=_now()
        ),
    )
    await publish(
        kafka_bootstrap,
        topic,
        a.ReferralAccepted(referral_id=unknown, agency_id=AGENCY, occurred_at=_now()),
    )
    letters = await read_topic(kafka_bootstrap, topic + ".dlq", 2)
    errors = sorted(dict(letter.headers)["dlq_error"].decode() for letter in letters)
    assert errors == sorted(
        [
            "L'agence agc-travail-plus-lyon n'appartient pas au réseau interim-nord : vérifiez"
            " l'agency_id (identifiant de l'annuaire de la plateforme).",
            f"Orientation {unknown} inconnue : vérifiez le referral_id (celui de l'événement"
            " coop.agency.referral_received.v1 reçu sur votre flux).",
        ]
    )
    assert await _status(database, referral_id) == "sent"
    assert await _transitions(database, referral_id) == 1


async def test_a_decline_without_a_known_reason_code_is_dead_lettered_as_invalid(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    referral_id = await _referral(database)
    event = CloudEvent(
        type=a.ReferralDeclined.event_type,
        source="/agencies/interim-nord",
        data={
            "referral_id": str(referral_id),
            "agency_id": AGENCY,
            "occurred_at": _now().isoformat(),
            "reason": "bad_mood",
        },
    )
    value, headers = event.to_kafka()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            consumer.topics[0], value=value, key=str(referral_id).encode(), headers=headers
        )
    finally:
        await producer.stop()
    letters = await read_topic(kafka_bootstrap, consumer.topics[0] + ".dlq", 1)
    assert dict(letters[0].headers)["dlq_reason"] == b"invalid_data"
    assert b"reason" in dict(letters[0].headers)["dlq_error"]
    assert await _status(database, referral_id) == "sent"
