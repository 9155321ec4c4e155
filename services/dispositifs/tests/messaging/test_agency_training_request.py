"""An agency's training request (POEI, issue 12), checked and republished by the referral
service, opens a training request in the dispositifs service on the real broker and store: a
pathway proposal on the referral (trigger ``training_requested``), once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from dispositifs.consumers import referral_event_handlers
from dispositifs.models import PLATFORM, PathwayProposal
from dispositifs.settings import DispositifsSettings
from shared.contracts.agency_requests import ReferralTrainingRequested
from shared.contracts.referral import ReferralSent
from shared.contracts.vocabulary import TrainingKind
from shared.db.database import Database
from shared.testing_kafka import eventually, publish, read_topic, running_consumer

AGENCY = "agc-interim-nord-lille"


async def test_a_training_request_opens_one_proposal_on_the_referral(
    settings: DispositifsSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> None:
    topic = unique("referral.events")
    sent = ReferralSent(
        referral_id=uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id=AGENCY,
        network_id="interim-nord",
        rome_code="H2913",
        departement="59",
        counsellor_id="conseillere.leroy",
        structure_code="59350",
        sent_at=datetime.now(UTC),
    )
    request = ReferralTrainingRequested(
        referral_id=sent.referral_id,
        agency_id=AGENCY,
        network_id="interim-nord",
        counsellor_id=sent.counsellor_id,
        structure_code=sent.structure_code,
        job_seeker_id=sent.job_seeker_id,
        rome_code="H2913",
        kind=TrainingKind.POEI,
        hours=280,
        requested_at=datetime.now(UTC),
    )
    unknown = request.model_copy(update={"referral_id": uuid.uuid4()})
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=referral_event_handlers(settings),
        topic=topic,
        group=unique("dispositifs"),
    ):
        await publish(kafka_bootstrap, topic, sent)
        await publish(kafka_bootstrap, topic, request)
        await publish(kafka_bootstrap, topic, request)  # asked twice: one open proposal
        await publish(kafka_bootstrap, topic, unknown)
        (letter,) = await read_topic(kafka_bootstrap, topic + ".dlq", 1)

        async def proposals() -> list[PathwayProposal]:
            async with database.sessionmaker() as session:
                return list(await session.scalars(select(PathwayProposal)))

        found = await eventually(proposals)
    assert dict(letter.headers)["dlq_error"] == f"unknown referral {unknown.referral_id}".encode()
    assert len(found) == 1
    (proposal,) = found
    assert (proposal.referral_id, proposal.trigger, proposal.status) == (
        sent.referral_id,
        "training_requested",
        "proposed",
    )
